"""Pure evaluation: the images of one repository and a policy in, one decision per image out.

Nothing here reads a clock or talks to AWS: *now* is an argument, so a plan is a function of its
inputs and every sentence of the policy semantics can be pinned by a unit test.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from .policy import Policy, Rule, TagStatus

__all__ = ["Action", "Decision", "Image", "RepositoryPlan", "plan_repository"]


@dataclass(frozen=True, slots=True)
class Image:
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


@dataclass(frozen=True, slots=True)
class Decision:
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

    @property
    def bytes(self) -> int:
        return sum(decision.image.size for decision in self.delete)


def plan_repository(
    policy: Policy, repository: str, images: Iterable[Image], now: datetime
) -> RepositoryPlan:
    """Decide for every image of `repository` whether the policy deletes, keeps or defers it."""
    inventory = list(images)
    matched: dict[str, list[int]] = {}
    missed: dict[str, str] = {}
    for rule in policy.rules:
        if rule.repositories.matches(repository):
            _evaluate_rule(rule, inventory, now, matched, missed)

    candidates: list[Decision] = []
    keep: list[Decision] = []
    for image in inventory:
        protection = _protection(policy, image, now)
        rules = matched.get(image.digest)
        if protection is not None:
            keep.append(Decision(image, Action.KEEP, protection, tuple(rules or ())))
        elif rules:
            names = ", ".join(policy.rules[index].label for index in rules)
            candidates.append(Decision(image, Action.DELETE, f"matched {names}", tuple(rules)))
        else:
            keep.append(Decision(image, Action.KEEP, missed.get(image.digest, "no rule selects it")))

    candidates.sort(key=lambda decision: (decision.image.pushed_at, decision.image.digest))
    limit = policy.limits.max_deletions_per_repository
    deferred: list[Decision] = []
    if limit is not None and len(candidates) > limit:
        reason = f"limits.max_deletions_per_repository ({limit}) reached; left for a later run"
        deferred = [
            Decision(decision.image, Action.DEFER, reason, decision.rules) for decision in candidates[limit:]
        ]
        candidates = candidates[:limit]
    return RepositoryPlan(repository, now, tuple(candidates), tuple(keep), tuple(deferred))


def _evaluate_rule(
    rule: Rule,
    images: Sequence[Image],
    now: datetime,
    matched: dict[str, list[int]],
    missed: dict[str, str],
) -> None:
    """Record the images `rule` matches in `matched`, and why it spared the others in `missed`.

    Only the first rule that spares an image gives its reason, so a report names one cause.
    """
    selection = [image for image in images if _selects(rule, image)]
    latest: set[str] = set()
    if rule.keep_latest:
        ranked = sorted(selection, key=lambda image: image.digest)
        ranked.sort(key=lambda image: image.pushed_at, reverse=True)
        latest = {image.digest for image in ranked[: rule.keep_latest]}
    pushed_before = None if rule.older_than_days is None else now - timedelta(days=rule.older_than_days)
    used_before = None if rule.not_pulled_for_days is None else now - timedelta(days=rule.not_pulled_for_days)

    for image in selection:
        reason = None
        if pushed_before is not None and not image.pushed_at < pushed_before:
            reason = f"pushed {_age(now, image.pushed_at)} ago, not older than {rule.older_than_days} days"
        elif used_before is not None and not (image.last_pulled_at or image.pushed_at) < used_before:
            if image.last_pulled_at is None:
                reason = (
                    f"never pulled, pushed {_age(now, image.pushed_at)} ago, "
                    f"within {rule.not_pulled_for_days} days"
                )
            else:
                reason = (
                    f"pulled {_age(now, image.last_pulled_at)} ago, within {rule.not_pulled_for_days} days"
                )
        elif image.digest in latest:
            reason = f"among the latest {rule.keep_latest} of its selection"
        if reason is None:
            matched.setdefault(image.digest, []).append(rule.index)
        else:
            missed.setdefault(image.digest, f"{rule.label}: {reason}")


def _selects(rule: Rule, image: Image) -> bool:
    if rule.tag_status is TagStatus.TAGGED and not image.tags:
        return False
    if rule.tag_status is TagStatus.UNTAGGED and image.tags:
        return False
    return rule.tag_patterns is None or rule.tag_patterns.first_match(image.tags) is not None


def _protection(policy: Policy, image: Image, now: datetime) -> str | None:
    protect = policy.protect
    tag = protect.tag_patterns.first_match(image.tags)
    if tag is not None:
        pattern = protect.tag_patterns.pattern_for(tag)
        return f"protected: tag {tag!r} matches protect.tag_patterns {pattern!r}"
    younger = protect.younger_than_days
    if younger is not None and image.pushed_at >= now - timedelta(days=younger):
        age = _age(now, image.pushed_at)
        return f"protected: pushed {age} ago, within protect.younger_than_days ({younger})"
    return None


def _age(now: datetime, then: datetime) -> str:
    """A short human age: '3 days', '5 hours', '0 minutes'."""
    seconds = int((now - then).total_seconds())
    if seconds >= 86400:
        days = seconds // 86400
        return f"{days} day" if days == 1 else f"{days} days"
    if seconds >= 3600:
        hours = seconds // 3600
        return f"{hours} hour" if hours == 1 else f"{hours} hours"
    minutes = max(seconds, 0) // 60
    return f"{minutes} minute" if minutes == 1 else f"{minutes} minutes"
