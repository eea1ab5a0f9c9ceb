"""Pure evaluation: the images of one repository and a policy in, one decision per image out.

Nothing here reads a clock or talks to AWS: *now* is an argument, so a plan is a function of its
inputs and every sentence of the policy semantics can be pinned by a unit test.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cached_property, partial
from typing import NamedTuple

from .policy import Policy, Rule, TagStatus

__all__ = ["Action", "Decision", "Image", "RepositoryPlan", "plan_repository"]


class Image(NamedTuple):
    """One image of a repository as ECR describes it; times are timezone-aware."""

    digest: str
    tags: tuple[str, ...]
    pushed_at: datetime
    size: int = 0
    last_pulled_at: datetime | None = None
    media_type: str | None = None
    artifact_media_type: str | None = None
    subject_digest: str | None = None


class Action(StrEnum):
    DELETE = "delete"
    KEEP = "keep"
    DEFER = "deferred"


class Decision(NamedTuple):
    """What happens to one image, and the one reason why (the rule, protection or limit that decided)."""

    image: Image
    action: Action
    reason: str
    rules: tuple[int, ...] = ()


@dataclass(frozen=True)
class RepositoryPlan:
    """Every image of a repository appears exactly once, in `delete`, `keep` or `deferred`.

    `delete` and `deferred` are ordered oldest pushed first (ties by digest): the order deletion uses.
    """

    repository: str
    now: datetime
    delete: tuple[Decision, ...]
    keep: tuple[Decision, ...]
    deferred: tuple[Decision, ...]

    @property
    def images(self) -> int:
        return len(self.delete) + len(self.keep) + len(self.deferred)

    @cached_property
    def bytes(self) -> int:
        return sum(decision.image.size for decision in self.delete)


NO_RULE = "no rule selects it"

# NamedTuple construction through tuple.__new__ skips a Python-level __new__: plans build one
# Decision per image, and a registry can hold millions.
_decision = partial(tuple.__new__, Decision)


def plan_repository(
    policy: Policy, repository: str, images: Iterable[Image], now: datetime
) -> RepositoryPlan:
    """Decide for every image of `repository` whether the policy deletes, keeps or defers it."""
    inventory = images if isinstance(images, list) else list(images)
    protected = _protected(policy, inventory, now)
    matched: dict[str, list[int]] = {}
    missed: dict[str, str] = {}
    for rule in policy.rules:
        if rule.repositories.matches(repository):
            _evaluate_rule(rule, inventory, now, matched, missed)

    matched_reasons: dict[tuple[int, ...], str] = {}
    candidates: list[Decision] = []
    keep: list[Decision] = []
    for image in inventory:
        digest = image.digest
        rules = matched.get(digest)
        protection = protected.get(digest) if protected else None
        if protection is not None:
            keep.append(_decision((image, Action.KEEP, protection, tuple(rules or ()))))
        elif rules:
            key = tuple(rules)
            reason = matched_reasons.get(key)
            if reason is None:
                reason = "matched " + ", ".join(policy.rules[index].label for index in key)
                matched_reasons[key] = reason
            candidates.append(_decision((image, Action.DELETE, reason, key)))
        else:
            keep.append(_decision((image, Action.KEEP, missed.get(digest, NO_RULE), ())))

    candidates.sort(key=_oldest_first)
    limit = policy.limits.max_deletions_per_repository
    deferred: list[Decision] = []
    if limit is not None and len(candidates) > limit:
        reason = f"limits.max_deletions_per_repository ({limit}) reached; left for a later run"
        deferred = [
            Decision(decision.image, Action.DEFER, reason, decision.rules) for decision in candidates[limit:]
        ]
        candidates = candidates[:limit]
    return RepositoryPlan(repository, now, tuple(candidates), tuple(keep), tuple(deferred))


def _oldest_first(decision: Decision) -> tuple[datetime, str]:
    return decision.image.pushed_at, decision.image.digest


def _evaluate_rule(
    rule: Rule,
    images: list[Image],
    now: datetime,
    matched: dict[str, list[int]],
    missed: dict[str, str],
) -> None:
    """Record the images `rule` matches in `matched`, and why it spared the others in `missed`.

    Only the first rule that spares an image gives its reason, so a report names one cause.
    """
    selection = _selection(rule, images)
    latest: set[str] = set()
    if rule.keep_latest:
        ranked = sorted(selection, key=_digest)
        ranked.sort(key=_pushed_at, reverse=True)
        latest = {image.digest for image in ranked[: rule.keep_latest]}
    label = rule.label
    pushed_before = used_before = None
    too_young = pulled = pushed = ""
    if rule.older_than_days is not None:
        pushed_before = now - timedelta(days=rule.older_than_days)
        too_young = f"{label}: not older than {rule.older_than_days} days"
    if rule.not_pulled_for_days is not None:
        used_before = now - timedelta(days=rule.not_pulled_for_days)
        pulled = f"{label}: pulled within the last {rule.not_pulled_for_days} days"
        pushed = f"{label}: never pulled, and pushed within the last {rule.not_pulled_for_days} days"
    among_latest = f"{label}: among the latest {rule.keep_latest} of its selection"

    for image in selection:
        if pushed_before is not None and image.pushed_at >= pushed_before:
            reason = too_young
        elif used_before is not None and _last_used(image) >= used_before:
            reason = pushed if image.last_pulled_at is None else pulled
        elif latest and image.digest in latest:
            reason = among_latest
        else:
            rules = matched.get(image.digest)
            if rules is None:
                matched[image.digest] = [rule.index]
            else:
                rules.append(rule.index)
            continue
        if image.digest not in missed:
            missed[image.digest] = reason


def _last_used(image: Image) -> datetime:
    """The last recorded pull, or the push if never pulled (or if a pull is recorded before the push)."""
    pulled = image.last_pulled_at
    return pulled if pulled is not None and pulled > image.pushed_at else image.pushed_at


def _selection(rule: Rule, images: list[Image]) -> list[Image]:
    """The images a rule looks at: by tag status, then by tag patterns."""
    if rule.tag_status is TagStatus.TAGGED:
        selection = [image for image in images if image.tags]
    elif rule.tag_status is TagStatus.UNTAGGED:
        selection = [image for image in images if not image.tags]
    else:
        selection = images
    if rule.tag_patterns is not None:
        first_match = rule.tag_patterns.first_match
        selection = [image for image in selection if first_match(image.tags) is not None]
    return selection


def _digest(image: Image) -> str:
    return image.digest


def _pushed_at(image: Image) -> datetime:
    return image.pushed_at


def _protected(policy: Policy, images: list[Image], now: datetime) -> dict[str, str]:
    """The protected images of a repository, each with the protection that covers it."""
    protect = policy.protect
    protected: dict[str, str] = {}
    if protect.tag_patterns.patterns:
        first_match = protect.tag_patterns.first_match
        for image in images:
            if image.tags and (tag := first_match(image.tags)) is not None:
                pattern = protect.tag_patterns.pattern_for(tag)
                protected[image.digest] = f"protected: tag {tag!r} matches protect.tag_patterns {pattern!r}"
    if protect.younger_than_days is not None:
        since = now - timedelta(days=protect.younger_than_days)
        reason = f"protected: pushed within protect.younger_than_days ({protect.younger_than_days})"
        for image in images:
            if image.pushed_at >= since and image.digest not in protected:
                protected[image.digest] = reason
    return protected
