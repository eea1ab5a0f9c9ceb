"""Pure evaluation: the images of one repository and a policy in, one decision per image out.

Nothing here reads a clock or talks to AWS: *now* is an argument, so a plan is a function of its
inputs and every sentence of the policy semantics can be pinned by a unit test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cached_property, partial
from operator import itemgetter
from typing import Any, NamedTuple

from .policy import (
    VERSION_GROUP,
    ImageStatus,
    OrderBy,
    Policy,
    RegexSet,
    Rule,
    RuleAction,
    RuleOrder,
    TagStatus,
)
from .versions import VersionKey, parse_version

__all__ = ["Action", "Decision", "Image", "RepositoryPlan", "plan_repository", "rule_ranks", "rule_verdict"]


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
    status: str = "ACTIVE"
    archived_at: datetime | None = None


ACTIVE = "ACTIVE"
ARCHIVED = "ARCHIVED"
ACTIVATING = "ACTIVATING"
ARCHIVE_MINIMUM_DAYS = 90
"""ECR charges an archived image for at least this many days of archive storage."""


class Action(StrEnum):
    DELETE = "delete"
    ARCHIVE = "archive"
    UNTAG = "untag"
    KEEP = "keep"
    DEFER = "deferred"


class Decision(NamedTuple):
    """What happens to one image, and the one reason why (the rule, protection or limit that decided).
    `removed` holds the tags an untag removes."""

    image: Image
    action: Action
    reason: str
    rules: tuple[int, ...] = ()
    removed: tuple[str, ...] = ()


@dataclass(frozen=True)
class RepositoryPlan:
    """Every image of a repository appears exactly once, in `delete`, `archive`, `untag`, `keep` or
    `deferred`.

    `delete` and `archive` are in the order acting must use: referrers, then image indexes, then their
    children, then single images, each oldest pushed first (ties by digest). `error` is set when a
    guard refused the repository's deletions and archiving (they are then kept, with the reason).
    """

    repository: str
    now: datetime
    delete: tuple[Decision, ...]
    keep: tuple[Decision, ...]
    deferred: tuple[Decision, ...]
    error: str | None = None
    belongs_to: Mapping[str, Sequence[str]] = field(default_factory=dict)
    archive: tuple[Decision, ...] = ()
    untag: tuple[Decision, ...] = ()

    @property
    def images(self) -> int:
        return len(self.delete) + len(self.archive) + len(self.untag) + len(self.keep) + len(self.deferred)

    @property
    def acting(self) -> tuple[Decision, ...]:
        """What the plan does to images, in the order of doing it: delete, archive, untag."""
        return self.delete + self.archive + self.untag

    @cached_property
    def tags_removed(self) -> int:
        return sum(len(decision.removed) for decision in self.untag)

    @cached_property
    def bytes(self) -> int:
        """The bytes of the images to delete."""
        return sum(decision.image.size for decision in self.delete)

    @cached_property
    def archive_bytes(self) -> int:
        return sum(decision.image.size for decision in self.archive)


NO_RULE = "no rule selects it"
LAST_TAG = "kept: untag would remove its last tag"
RESTORING = "protected: being restored from the archive (ACTIVATING)"
INDEX_MEDIA_TYPES = frozenset(
    {
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    }
)
MANIFEST_MEDIA_TYPES = frozenset(
    {
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
    }
)
"""The manifest types of a single image (or an OCI artifact). An image ECR reports with a type that is
neither one of these nor an index is kept: the engine cannot tell what it holds or what it lists."""
UNKNOWN_INDEX = "<unread index>"

# NamedTuple construction through tuple.__new__ skips a Python-level __new__: plans build one
# Decision per image, and a registry can hold millions.
_decision = partial(tuple.__new__, Decision)
_ACTION = itemgetter(Decision._fields.index("action"))
_STATUS = itemgetter(Image._fields.index("status"))


def plan_repository(
    policy: Policy,
    repository: str,
    images: Iterable[Image],
    now: datetime,
    *,
    children: Mapping[str, Sequence[str]] | None = None,
    in_use: Mapping[str, str] | None = None,
    deletions_made: int = 0,
    region: str | None = None,
    held: Mapping[str, str] | None = None,
) -> RepositoryPlan:
    """Decide for every image of `repository` whether the policy deletes, keeps or defers it.

    `children` maps each image index (multi-arch image) to the digests its manifest lists; an index
    missing from it (or `children=None`) makes every non-index image a possible child, kept. Children
    and referrers (images with a `subject_digest`) are never judged by rules: they follow the images
    they belong to. `in_use` maps digests that run somewhere to the reason; they are protected.
    `held` maps digests kept for a reason of the run's (a replica whose source still holds it) to
    that reason; they are kept too. `deletions_made` earlier in the same run (by another invocation)
    count against `limits.max_deletions_per_repository`. A rule whose `regions` do not match `region`
    does not apply (every rule applies when `region` is None).
    """
    inventory = images if isinstance(images, list) else list(images)
    owners = _owners(inventory, children)
    top_level = [image for image in inventory if image.digest not in owners] if owners else inventory
    protected = _protected(policy, inventory, now, in_use or {})
    if held:
        protected = {**held, **protected}
    found = _Findings()
    applicable = [
        rule
        for rule in policy.rules
        if rule.repositories.matches(repository) and (region is None or rule.regions.matches(region))
    ]
    for rule in applicable:
        _evaluate_rule(rule, top_level, now, found)
    matched, missed = found.matched, found.missed
    if policy.rule_order is RuleOrder.PRIORITY:
        matched = _first_selecting_rule_decides(applicable, top_level, matched)

    chosen: list[tuple[datetime, str, Image, tuple[int, ...]]] = []
    keep: list[Decision] = []
    keep_action = Action.KEEP
    for image in top_level:
        digest = image.digest
        rules = matched.get(digest)
        protection = protected.get(digest) if protected else None
        if protection is not None:
            keep.append(_decision((image, keep_action, protection, rules or (), ())))
        elif rules:
            chosen.append((image.pushed_at, digest, image, rules))
        else:
            keep.append(_decision((image, keep_action, missed.get(digest, NO_RULE), (), ())))

    # Oldest pushed first, ties by digest: plain tuple order, compared without a key function.
    chosen.sort()
    actions = {rules: _action(policy, rules) for rules in {entry[3] for entry in chosen}}
    reasons = _Reasons(policy, found.details)
    acting: list[tuple[Image, Action, tuple[int, ...], tuple[str, ...]]]
    if Action.UNTAG not in actions.values():
        acting = [(image, actions[rules], rules, ()) for _, _, image, rules in chosen]
    else:
        acting = []
        for _, _, image, rules in chosen:
            action = actions[rules]
            removed: tuple[str, ...] = ()
            if action is Action.UNTAG:
                removed = _removed_tags(image, rules, policy, found.untagging)
                if len(removed) == len(image.tags):
                    keep.append(_decision((image, keep_action, LAST_TAG, rules, ())))
                    continue
            acting.append((image, action, rules, removed))
    limit = policy.limits.max_deletions_per_repository
    left = None if limit is None else max(0, limit - deletions_made)
    reason_of = reasons.of
    candidates = [
        _decision(
            (
                image,
                action,
                reason_of(image, rules)
                if image.status != ARCHIVED
                else _charged(reason_of(image, rules), image, now, action),
                rules,
                removed,
            )
        )
        for image, action, rules, removed in (acting if left is None else acting[:left])
    ]
    deferred: list[Decision] = []
    if left is not None and len(acting) > left:
        reason = f"limits.max_deletions_per_repository ({limit}) reached; left for a later run"
        deferred = [
            _decision((image, Action.DEFER, reason, rules, ())) for image, _, rules, _ in acting[left:]
        ]

    if owners:
        decided = {decision.image.digest: decision for decision in (*candidates, *keep, *deferred)}
        dependents = _Dependents({image.digest: image for image in inventory}, owners, protected, decided)
        for digest in owners:
            dependent = dependents.decide(digest)
            if dependent.action is Action.KEEP:
                keep.append(dependent)
            elif dependent.action is Action.DEFER:
                deferred.append(dependent)
            else:
                candidates.append(dependent)
        candidates.sort(key=_deletion_order(owners))

    error = _over_fraction(policy.limits.max_delete_fraction, candidates, len(inventory))
    if error is not None:
        keep += [_decision((d.image, Action.KEEP, error, d.rules, ())) for d in (*candidates, *deferred)]
        return RepositoryPlan(repository, now, (), tuple(keep), (), error, owners)
    delete: tuple[Decision, ...] = ()
    archive: tuple[Decision, ...] = ()
    untag: tuple[Decision, ...] = ()
    if set(map(_ACTION, candidates)) <= {Action.DELETE}:
        delete = tuple(candidates)
    else:
        delete = tuple(decision for decision in candidates if decision.action is Action.DELETE)
        archive = tuple(decision for decision in candidates if decision.action is Action.ARCHIVE)
        untag = tuple(decision for decision in candidates if decision.action is Action.UNTAG)
    return RepositoryPlan(repository, now, delete, tuple(keep), tuple(deferred), None, owners, archive, untag)


def _over_fraction(fraction: float | None, candidates: list[Decision], images: int) -> str | None:
    """Why `limits.max_delete_fraction` refuses the plan (untagging removes no image), or None."""
    if fraction is None or not images:
        return None
    removing = [decision for decision in candidates if decision.action is not Action.UNTAG]
    if len(removing) <= fraction * images:
        return None
    archiving = any(decision.action is Action.ARCHIVE for decision in removing)
    verb, done = ("delete or archive", "deleted or archived") if archiving else ("delete", "deleted")
    return (
        f"limits.max_delete_fraction ({fraction:g}): the plan would {verb} {len(removing)} of "
        f"{images} images; nothing is {done} in this repository"
    )


def _first_selecting_rule_decides(
    rules: Sequence[Rule], images: list[Image], matched: Mapping[str, tuple[int, ...]]
) -> dict[str, tuple[int, ...]]:
    """`rule_order: "priority"`, as ECR evaluates lifecycle rules: an image in the selection of a rule
    (its tag status, tag filters and storage status) is decided by the first such rule alone, matched
    or kept; later rules still count it in their `keep_latest` ranking (`matched` already holds what
    each rule found with every image of its selection counted). The first rule that spares an image
    is the one whose reason `missed` holds, as no earlier rule selected it."""
    claimed: dict[str, int] = {}
    for rule in rules:
        for image in _selection(rule, images):
            claimed.setdefault(image.digest, rule.index)
    return {
        digest: (claimed[digest],)
        for digest, indexes in matched.items()
        if digest in claimed and claimed[digest] in indexes
    }


def _action(policy: Policy, rules: tuple[int, ...]) -> Action:
    """Deleting wins over archiving, archiving over untagging, when rules of several kinds match."""
    kinds = {policy.rules[index].action for index in rules}
    if RuleAction.DELETE in kinds:
        return Action.DELETE
    if RuleAction.ARCHIVE in kinds:
        return Action.ARCHIVE
    return Action.UNTAG


def _removed_tags(
    image: Image, rules: tuple[int, ...], policy: Policy, untagging: Mapping[tuple[str, int], tuple[str, ...]]
) -> tuple[str, ...]:
    """The tags the untag rules among `rules` remove from `image`, in the image's order."""
    removed = {
        tag
        for index in rules
        if policy.rules[index].action is RuleAction.UNTAG
        for tag in untagging.get((image.digest, index), ())
    }
    return tuple(tag for tag in image.tags if tag in removed)


class _Reasons:
    """The reason of an image matched by `rules`: "matched rules[0], rules[2]", each rule followed by
    what ranked the image when the rule ranks by group or version (`details`)."""

    def __init__(self, policy: Policy, details: Mapping[tuple[str, int], str]) -> None:
        self.labels = [rule.label for rule in policy.rules]
        self.details = details
        self.plain: dict[tuple[int, ...], str] = {}

    def of(self, image: Image, rules: tuple[int, ...]) -> str:
        details = self.details
        if details:
            if len(rules) == 1:
                detail = details.get((image.digest, rules[0]))
                if detail is not None:
                    return f"matched {self.labels[rules[0]]}: {detail}"
            elif any((image.digest, index) in details for index in rules):
                labels = []
                for index in rules:
                    detail = details.get((image.digest, index))
                    label = self.labels[index]
                    labels.append(f"{label}: {detail}" if detail else label)
                return "matched " + ", ".join(labels)
        reason = self.plain.get(rules)
        if reason is None:
            reason = self.plain[rules] = "matched " + ", ".join(self.labels[i] for i in rules)
        return reason


def _charged(reason: str, image: Image, now: datetime, action: Action) -> str:
    """The reason for an archived image, and what deleting it less than 90 days after it was archived
    still costs."""
    if action is not Action.DELETE or image.archived_at is None:
        return reason
    days = (now - image.archived_at).days
    if days >= ARCHIVE_MINIMUM_DAYS:
        return reason
    return (
        f"{reason}; archived {days} days ago, so it is charged {ARCHIVE_MINIMUM_DAYS} days of archive "
        "storage all the same"
    )


def _owners(images: list[Image], children: Mapping[str, Sequence[str]] | None) -> dict[str, list[str]]:
    """For each image that belongs to another (a child of an index, a referrer), what it belongs to.

    The subject of a referrer may be missing from the repository; an index whose manifest was not
    read makes every non-index image a possible child of `UNKNOWN_INDEX`.
    """
    owners: dict[str, list[str]] = {}
    indexes = [image.digest for image in images if image.media_type in INDEX_MEDIA_TYPES]
    referrers = [image for image in images if image.subject_digest is not None]
    if not indexes and not referrers:
        return owners
    present = {image.digest for image in images} if indexes else set()
    unread = children is None or any(index not in children for index in indexes)
    for index in indexes:
        for child in (children or {}).get(index, ()):
            if child in present and child != index:
                owners.setdefault(child, []).append(index)
    for image in referrers:
        if image.subject_digest != image.digest:
            owners.setdefault(image.digest, []).append(str(image.subject_digest))
    if indexes and unread:
        for image in images:
            if image.media_type not in INDEX_MEDIA_TYPES and image.subject_digest is None:
                owners.setdefault(image.digest, []).append(UNKNOWN_INDEX)
    return owners


class _Dependents:
    """Decides the images that belong to others: kept while any owner is kept, deferred with a deferred
    owner, archived with an archived owner (unless archived already), deleted when every owner is
    deleted or gone. Their own protection always wins."""

    def __init__(
        self,
        images: Mapping[str, Image],
        owners: Mapping[str, list[str]],
        protected: Mapping[str, str],
        decided: dict[str, Decision],
    ) -> None:
        self.images = images
        self.owners = owners
        self.protected = protected
        self.decided = decided
        self.visiting: set[str] = set()

    def decide(self, digest: str) -> Decision:
        if digest in self.decided:
            return self.decided[digest]
        image = self.images[digest]
        protection = self.protected.get(digest)
        if protection is not None:
            decision = _decision((image, Action.KEEP, protection, (), ()))
        elif digest in self.visiting:
            decision = _decision(
                (image, Action.KEEP, "kept: it refers to itself through other images", (), ())
            )
        else:
            self.visiting.add(digest)
            fates: list[tuple[str, Action | None]] = []
            for owner in self.owners[digest]:
                if owner == UNKNOWN_INDEX:
                    fates.append((owner, Action.KEEP))
                elif owner not in self.images:
                    fates.append((owner, None))
                else:
                    fates.append((owner, self.decide(owner).action))
            self.visiting.discard(digest)
            relation = "referrer of" if image.subject_digest is not None else "child of"
            decision = _dependent_decision(image, relation, fates)
        self.decided[digest] = decision
        return decision


def _dependent_decision(image: Image, relation: str, fates: list[tuple[str, Action | None]]) -> Decision:
    for owner, action in fates:
        if owner == UNKNOWN_INDEX:
            reason = "may be a child of an image index whose manifest was not read"
            return _decision((image, Action.KEEP, reason, (), ()))
        if action is Action.KEEP or action is Action.UNTAG:
            return _decision((image, Action.KEEP, f"{relation} kept image {owner[:19]}", (), ()))
    for owner, action in fates:
        if action is Action.DEFER:
            return _decision((image, Action.DEFER, f"{relation} deferred image {owner[:19]}", (), ()))
    for owner, action in fates:
        if action is Action.ARCHIVE:
            if image.status != ACTIVE:
                return _decision(
                    (image, Action.KEEP, f"{relation} archived image {owner[:19]}; not active", ())
                )
            return _decision((image, Action.ARCHIVE, f"{relation} archived image {owner[:19]}", (), ()))
    owner, action = fates[0]
    if action is None:
        reason = f"orphaned referrer: its subject {owner[:19]} is gone"
    else:
        reason = f"{relation} deleted image {owner[:19]}"
    return _decision((image, Action.DELETE, reason, (), ()))


def _deletion_order(owners: Mapping[str, list[str]]) -> Callable[[Decision], tuple[int, datetime, str]]:
    """Referrers first, then indexes, then their children, then single images; oldest first in each."""

    def key(decision: Decision) -> tuple[int, datetime, str]:
        image = decision.image
        if image.subject_digest is not None:
            rank = 0
        elif image.media_type in INDEX_MEDIA_TYPES:
            rank = 1
        elif image.digest in owners:
            rank = 2
        else:
            rank = 3
        return rank, image.pushed_at, image.digest

    return key


@dataclass
class _Findings:
    """What the rules found, image by image: the rules that match each image (`matched`), why the
    first rule that spared it did (`missed`), for a rule that ranks by group or version what ranked a
    matched image (`details`), and the tags an untag rule removes from each image (`untagging`)."""

    matched: dict[str, tuple[int, ...]] = field(default_factory=dict)
    missed: dict[str, str] = field(default_factory=dict)
    details: dict[tuple[str, int], str] = field(default_factory=dict)
    untagging: dict[tuple[str, int], tuple[str, ...]] = field(default_factory=dict)


def _evaluate_rule(rule: Rule, images: list[Image], now: datetime, found: _Findings) -> None:
    """Add what `rule` finds in `images` to `found`. Only the first rule that spares an image gives
    its reason, so a report names one cause."""
    matched, missed, details, untagging = found.matched, found.missed, found.details, found.untagging
    selection = _selection(rule, images)
    label = rule.label
    ranking: _Ranking | None = None
    if rule.group_by is not None or rule.order_by is OrderBy.VERSION:
        ranking = _Ranking(rule, selection)
        for digest, reason in ranking.outside.items():
            missed.setdefault(digest, reason)
        selection = ranking.selection
        keeps = ranking.kept
    else:
        among_latest = f"{label}: among the latest {rule.keep_latest} of its selection"
        keeps = dict.fromkeys(_latest(selection, rule.keep_latest), among_latest) if rule.keep_latest else {}
    pushed_before = used_before = None
    too_young = pulled = pushed = ""
    if rule.older_than_days is not None:
        pushed_before = now - timedelta(days=rule.older_than_days)
        too_young = f"{label}: not older than {rule.older_than_days} days"
    if rule.not_pulled_for_days is not None:
        used_before = now - timedelta(days=rule.not_pulled_for_days)
        pulled = f"{label}: pulled within the last {rule.not_pulled_for_days} days"
        pushed = f"{label}: never pulled, and pushed within the last {rule.not_pulled_for_days} days"
    archived_before = None
    archived_lately = ""
    if rule.archived_for_days is not None:
        archived_before = now - timedelta(days=rule.archived_for_days)
        archived_lately = f"{label}: archived within the last {rule.archived_for_days} days"
    this_rule = (rule.index,)
    untags = rule.action is RuleAction.UNTAG

    for image in selection:
        digest = image.digest
        if pushed_before is not None and image.pushed_at >= pushed_before:
            reason = too_young
        elif used_before is not None and _last_used(image) >= used_before:
            reason = pushed if image.last_pulled_at is None else pulled
        elif archived_before is not None and (
            image.archived_at is None or image.archived_at >= archived_before
        ):
            reason = archived_lately
        elif (kept := keeps.get(digest)) is not None:
            reason = kept
        else:
            earlier = matched.get(digest)
            matched[digest] = this_rule if earlier is None else earlier + this_rule
            if ranking is not None:
                details[digest, rule.index] = ranking.rank_of(digest)
            if untags:
                untagging[digest, rule.index] = (
                    ranking.tags[digest] if ranking is not None else _selected_tags(rule, image)
                )
            continue
        missed.setdefault(digest, reason)


def rule_verdict(rule: Rule, images: list[Image], now: datetime, digest: str) -> tuple[bool, str]:
    """What `rule` alone says of one image of `images`: whether it matches it, and the rank that let
    it (or why it spares it; "" when it does not select it)."""
    found = _Findings()
    _evaluate_rule(rule, images, now, found)
    if digest in found.matched:
        return True, found.details.get((digest, rule.index), "")
    return False, found.missed.get(digest, "")


def rule_ranks(rule: Rule, images: list[Image]) -> dict[str, list[tuple[str, int, int]]]:
    """For a rule that ranks by group or version: each image's (group, rank from 1, group size)."""
    if rule.group_by is None and rule.order_by is not OrderBy.VERSION:
        return {}
    ranking = _Ranking(rule, _selection(rule, images))
    sizes = {group: len(positions) for group, positions in ranking.positions.items()}
    return {
        digest: [(ranking.group_text(group), rank + 1, sizes[group]) for group, rank in places]
        for digest, places in ranking.ranks().items()
    }


def _selected_tags(rule: Rule, image: Image) -> tuple[str, ...]:
    """The tags of `image` the rule's tag filter matches (every tag without one)."""
    if rule.tag_patterns is None:
        return image.tags
    matches = rule.tag_patterns.matches
    return tuple(tag for tag in image.tags if matches(tag))


class _Ranking:
    """How a rule with `group_by` or `order_by: "version"` ranks its selection for `keep_latest`.

    Each selected tag that `group_by` matches (fully) and whose group is not empty puts the image in
    that group (without `group_by`, every image is in one group). Each group is ranked on its own:
    newest pushed first, or, by version, highest version first (an image's highest version among its
    tags of that group), then newest pushed, then digest. An image is kept when it is among the
    latest N of any of its groups. Images in no group, or without a version, are outside the rule's
    selection.

    This runs once per rule and repository over every image, so the per-image work is kept to one
    pass over the tags; ranks and reasons are built per group.
    """

    def __init__(self, rule: Rule, selection: list[Image]) -> None:
        self.rule = rule
        self.keep = keep = rule.keep_latest or 0
        by_version = rule.order_by is OrderBy.VERSION
        group_by = rule.group_by
        fullmatch = group_by.fullmatch if group_by is not None else None
        group_key = rule.group_key if group_by is not None else 0
        version_group = group_by is not None and VERSION_GROUP in group_by.groupindex
        tag_filter = rule.tag_patterns.matches if rule.tag_patterns is not None else None
        untags = rule.action is RuleAction.UNTAG
        #: Each group's members, with the key they rank by (higher first).
        grouped: dict[str | None, dict[str, Any]] = {}
        #: Each image's first group by name; `also` holds every group of an image in several.
        self.first: dict[str, str | None] = {}
        self.also: dict[str, list[str | None]] = {}
        #: For an untag rule, the tags of each image that put it in a group.
        self.tags: dict[str, tuple[str, ...]] = {}
        self.outside: dict[str, str] = {}
        self.selection: list[Image] = []
        outside_reason = self._why_outside(by_version)
        for image in selection:
            digest = image.digest
            places: dict[str | None, VersionKey | None] = {}
            held: list[str] | None = [] if untags else None
            for tag in image.tags:
                if tag_filter is not None and not tag_filter(tag):
                    continue
                group: str | None = None
                version_text = tag
                if fullmatch is not None:
                    found = fullmatch(tag)
                    if found is None:
                        continue
                    group = found[group_key]
                    if not group:
                        continue
                    if version_group:
                        version_text = found[VERSION_GROUP] or ""
                if by_version:
                    version = parse_version(version_text)
                    if version is None:
                        continue
                    best = places.get(group)
                    if best is None or version > best:
                        places[group] = version
                else:
                    places[group] = None
                if held is not None:
                    held.append(tag)
            if not places:
                self.outside[digest] = outside_reason
                continue
            self.selection.append(image)
            if held is not None:
                self.tags[digest] = tuple(held)
            pushed = image.pushed_at
            if len(places) == 1:
                ((group, version),) = places.items()
                self.first[digest] = group
                members = grouped.get(group)
                if members is None:
                    members = grouped[group] = {}
                members[digest] = (version, pushed) if by_version else pushed
            else:
                names = sorted(places, key=_group_order)
                self.first[digest] = names[0]
                self.also[digest] = names
                for group in names:
                    grouped.setdefault(group, {})[digest] = (places[group], pushed) if by_version else pushed
        #: Each group's rank of each of its members, from 0.
        self.positions: dict[str | None, dict[str, int]] = {}
        #: The images kept as among the latest of a group, with the reason naming the first such group.
        self.kept: dict[str, str] = {}
        latest = self._latest_text()
        for group in sorted(grouped, key=_group_order):
            members = grouped[group]
            # Highest key first, ties by digest ascending: a stable sort in reverse keeps the
            # digest order of equal keys.
            ordered = sorted(members)
            ordered.sort(key=members.__getitem__, reverse=True)
            self.positions[group] = dict(zip(ordered, range(len(ordered)), strict=True))
            reason = f"{rule.label}: {latest} of {self.group_text(group)}"
            for digest in ordered[:keep]:
                self.kept.setdefault(digest, reason)
        noun = "highest version" if by_version else "newest"
        self._rank_tails = {group: f" {noun} of {self.group_text(group)}" for group in grouped}

    def _why_outside(self, by_version: bool) -> str:
        label = self.rule.label
        if self.rule.group_by is not None and by_version:
            return f"{label}: no tag of a group of group_by spells a version"
        if self.rule.group_by is not None:
            return f"{label}: no tag matches group_by"
        return f"{label}: no tag spells a version"

    def ranks(self) -> dict[str, list[tuple[str | None, int]]]:
        """Each image's groups in order of name, with its rank (from 0) in each."""
        positions = self.positions
        return {
            digest: [(group, positions[group][digest]) for group in self.also.get(digest, (first,))]
            for digest, first in self.first.items()
        }

    def rank_of(self, digest: str) -> str:
        """The image's rank in the first of its groups by name, as a deleted image's reason says it."""
        group = self.first[digest]
        return _ordinal(self.positions[group][digest] + 1) + self._rank_tails[group]

    def _latest_text(self) -> str:
        if self.rule.order_by is OrderBy.VERSION:
            return f"among the {self.keep} highest versions"
        return f"among the latest {self.keep}"

    @staticmethod
    def group_text(group: str | None) -> str:
        return "its selection" if group is None else f'group "{group}"'


def _group_order(group: str | None) -> str:
    return "" if group is None else group


def _ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def _latest(images: list[Image], count: int) -> set[str]:
    """The digests of the `count` most recently pushed images; among images pushed at the same time,
    the lowest digests first."""
    if len(images) <= count:
        return {image.digest for image in images}
    cutoff = sorted([image.pushed_at for image in images], reverse=True)[count - 1]
    newer = [image.digest for image in images if image.pushed_at > cutoff]
    tied = sorted([image.digest for image in images if image.pushed_at == cutoff])
    return {*newer, *tied[: count - len(newer)]}


def _last_used(image: Image) -> datetime:
    """The last recorded pull, or the push if never pulled (or if a pull is recorded before the push)."""
    pulled = image.last_pulled_at
    return pulled if pulled is not None and pulled > image.pushed_at else image.pushed_at


def _selection(rule: Rule, images: list[Image]) -> list[Image]:
    """The images a rule looks at: by storage status, by tag status, then by tag patterns."""
    status = ARCHIVED if rule.image_status is ImageStatus.ARCHIVED else ACTIVE
    if any(map(status.__ne__, map(_STATUS, images))):
        images = [image for image in images if image.status == status]
    if rule.tag_status is TagStatus.TAGGED:
        selection = [image for image in images if image.tags]
    elif rule.tag_status is TagStatus.UNTAGGED:
        selection = [image for image in images if not image.tags]
    else:
        selection = images
    if rule.each_tag_pattern:
        each = rule.each_tag_pattern
        selection = [image for image in selection if all(p.first_match(image.tags) is not None for p in each)]
    elif rule.tag_patterns is not None:
        first_match = rule.tag_patterns.first_match
        selection = [image for image in selection if first_match(image.tags) is not None]
    return selection


def _protected(
    policy: Policy, images: list[Image], now: datetime, in_use: Mapping[str, str]
) -> dict[str, str]:
    """The protected images of a repository, each with the protection that covers it."""
    protect = policy.protect
    protected: dict[str, str] = {image.digest: RESTORING for image in images if image.status == ACTIVATING}
    for image in images:
        kind = image.media_type
        if kind is not None and kind not in MANIFEST_MEDIA_TYPES and kind not in INDEX_MEDIA_TYPES:
            protected.setdefault(image.digest, f"protected: unknown manifest media type {kind!r}")
    if protect.tag_patterns.patterns:
        first_match = protect.tag_patterns.first_match
        field = "tag_regex" if isinstance(protect.tag_patterns, RegexSet) else "tag_patterns"
        for image in images:
            if image.tags and (tag := first_match(image.tags)) is not None and image.digest not in protected:
                pattern = protect.tag_patterns.pattern_for(tag)
                protected[image.digest] = f"protected: tag {tag!r} matches protect.{field} {pattern!r}"
    if in_use and protect.in_use:
        for image in images:
            if image.digest in in_use and image.digest not in protected:
                protected[image.digest] = f"protected: {in_use[image.digest]}"
    if protect.younger_than_days is not None:
        since = now - timedelta(days=protect.younger_than_days)
        reason = f"protected: pushed within protect.younger_than_days ({protect.younger_than_days})"
        for image in images:
            if image.pushed_at >= since and image.digest not in protected:
                protected[image.digest] = reason
    if protect.pulled_within_days is not None:
        since = now - timedelta(days=protect.pulled_within_days)
        for image in images:
            pulled = image.last_pulled_at
            if pulled is not None and pulled >= since and image.digest not in protected:
                protected[image.digest] = (
                    f"protected: pulled {_days_ago(now, pulled)} (protect.pulled_within_days "
                    f"{protect.pulled_within_days})"
                )
    return protected


def _days_ago(now: datetime, then: datetime) -> str:
    days = max(0, (now - then) // timedelta(days=1))
    return "today" if days == 0 else "1 day ago" if days == 1 else f"{days} days ago"
