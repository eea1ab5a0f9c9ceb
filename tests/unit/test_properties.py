"""Properties that must hold for every registry and every policy, checked over random ones."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ecr_cleanup.cleanup import DeleteResult, run_cleanup
from ecr_cleanup.plan import Action, Image, plan_repository
from ecr_cleanup.policy import Pattern, parse_policy
from tests.support.images import NOW, digest_of
from tests.support.properties import examples

TAGS = ["latest", "v1", "v2.0", "prod", "prod-eu", "dev-1", "dev-2", "pr-7", "main"]
PATTERNS = ["latest", "v*", "prod*", "dev-*", "pr-?", "*", "main", "dev-[12]"]


@st.composite
def images(draw: st.DrawFn) -> list[Image]:
    count = draw(st.integers(min_value=0, max_value=40))
    result = []
    for index in range(count):
        hours = draw(st.integers(min_value=0, max_value=24 * 120))
        pulled = draw(st.none() | st.integers(min_value=0, max_value=hours))
        result.append(
            Image(
                digest=digest_of(f"img{index}"),
                tags=tuple(draw(st.lists(st.sampled_from(TAGS), max_size=3, unique=True))),
                pushed_at=NOW - timedelta(hours=hours),
                size=draw(st.integers(min_value=0, max_value=10**9)),
                last_pulled_at=None if pulled is None else NOW - timedelta(hours=pulled),
            )
        )
    return result


@st.composite
def rules(draw: st.DrawFn) -> dict[str, Any]:
    days = st.integers(min_value=0, max_value=120)
    rule: dict[str, Any] = {}
    conditions = draw(
        st.lists(
            st.sampled_from(["older_than_days", "not_pulled_for_days", "keep_latest"]),
            min_size=1,
            max_size=3,
            unique=True,
        )
    )
    for condition in conditions:
        rule[condition] = draw(st.integers(min_value=0, max_value=15) if condition == "keep_latest" else days)
    status = draw(st.sampled_from([None, "tagged", "untagged", "any"]))
    if status is not None:
        rule["tag_status"] = status
    if status != "untagged" and draw(st.booleans()):
        rule["tag_patterns"] = draw(st.lists(st.sampled_from(PATTERNS), min_size=1, max_size=3))
    return rule


@st.composite
def policies(draw: st.DrawFn) -> dict[str, Any]:
    document: dict[str, Any] = {"rules": draw(st.lists(rules(), min_size=1, max_size=3))}
    protect: dict[str, Any] = {}
    if draw(st.booleans()):
        protect["tag_patterns"] = draw(st.lists(st.sampled_from(PATTERNS), min_size=1, max_size=3))
    if draw(st.booleans()):
        protect["younger_than_days"] = draw(st.integers(min_value=0, max_value=30))
    if protect:
        document["protect"] = protect
    if draw(st.booleans()):
        document["limits"] = {"max_deletions_per_repository": draw(st.integers(min_value=1, max_value=20))}
    return document


def deleted_digests(document: dict[str, Any], inventory: Sequence[Image]) -> set[str]:
    return {d.image.digest for d in plan_repository(parse_policy(document), "app", inventory, NOW).delete}


@settings(max_examples=examples(300))
@given(policies(), images())
def test_protected_images_are_never_deleted(document: dict[str, Any], inventory: list[Image]) -> None:
    policy = parse_policy(document)
    protected_tags = policy.protect.tag_patterns
    younger = policy.protect.younger_than_days
    for decision in plan_repository(policy, "app", inventory, NOW).delete:
        assert protected_tags.first_match(decision.image.tags) is None
        assert younger is None or decision.image.pushed_at < NOW - timedelta(days=younger)


@settings(max_examples=examples(300))
@given(policies(), images(), st.lists(st.sampled_from(PATTERNS), min_size=1, max_size=2))
def test_adding_a_protect_pattern_never_deletes_more(
    document: dict[str, Any], inventory: list[Image], extra: list[str]
) -> None:
    stricter = {**document, "protect": {**document.get("protect", {})}}
    stricter["protect"]["tag_patterns"] = [*stricter["protect"].get("tag_patterns", []), *extra]
    before = deleted_digests({**document, "limits": None}, inventory)
    after = deleted_digests({**stricter, "limits": None}, inventory)
    assert after <= before


@settings(max_examples=examples(300))
@given(policies(), images())
def test_every_image_is_decided_exactly_once(document: dict[str, Any], inventory: list[Image]) -> None:
    plan = plan_repository(parse_policy(document), "app", inventory, NOW)
    listed = [d.image.digest for d in (*plan.delete, *plan.keep, *plan.deferred)]
    assert sorted(listed) == sorted(image.digest for image in inventory)


@settings(max_examples=examples(200))
@given(policies(), images())
def test_deletions_never_exceed_the_limit(document: dict[str, Any], inventory: list[Image]) -> None:
    policy = parse_policy(document)
    limit = policy.limits.max_deletions_per_repository
    plan = plan_repository(policy, "app", inventory, NOW)
    assert limit is None or len(plan.delete) <= limit
    if plan.deferred:
        assert max(d.image.pushed_at for d in plan.delete) <= min(d.image.pushed_at for d in plan.deferred)


@settings(max_examples=examples(300))
@given(images(), st.integers(min_value=1, max_value=15))
def test_keep_latest_keeps_the_newest_and_breaks_ties_by_lowest_digest(
    inventory: list[Image], count: int
) -> None:
    plan = plan_repository(parse_policy({"rules": [{"keep_latest": count}]}), "app", inventory, NOW)
    newest = sorted(inventory, key=lambda image: (NOW - image.pushed_at, image.digest))[:count]
    assert {decision.image.digest for decision in plan.keep} == {image.digest for image in newest}


class RecordingRegistry:
    """A registry that records every delete call it receives."""

    def __init__(self, inventory: dict[str, list[Image]]) -> None:
        self.inventory = inventory
        self.delete_calls: list[tuple[str, list[str]]] = []

    def repositories(self) -> list[str]:
        return list(self.inventory)

    def images(self, repository: str) -> list[Image]:
        return list(self.inventory[repository])

    def manifests(self, repository: str, digests: Sequence[str]) -> dict[str, list[str]]:
        return {}

    def describe(self, repository: str, digests: Sequence[str]) -> dict[str, Image]:
        wanted = set(digests)
        return {image.digest: image for image in self.inventory[repository] if image.digest in wanted}

    def delete(self, repository: str, digests: Sequence[str]) -> DeleteResult:
        self.delete_calls.append((repository, list(digests)))
        return DeleteResult(tuple(digests))


@settings(max_examples=examples(200))
@given(policies(), images(), images())
def test_a_dry_run_calls_no_delete(document: dict[str, Any], first: list[Image], second: list[Image]) -> None:
    registry = RecordingRegistry({"app": first, "web": second})
    run_cleanup(registry, parse_policy(document), NOW, execute=False)
    assert registry.delete_calls == []


@settings(max_examples=examples(200))
@given(policies(), images())
def test_a_run_deletes_exactly_the_plan(document: dict[str, Any], inventory: list[Image]) -> None:
    registry = RecordingRegistry({"app": inventory})
    policy = parse_policy(document)
    [outcome] = run_cleanup(registry, policy, NOW, execute=True)
    planned = [d.image.digest for d in plan_repository(policy, "app", inventory, NOW).delete]
    assert [digest for _, digests in registry.delete_calls for digest in digests] == planned
    assert list(outcome.deleted) == planned


@given(st.lists(st.sampled_from(PATTERNS), min_size=1), st.sampled_from(TAGS))
def test_combined_patterns_match_like_fnmatchcase(patterns: list[str], tag: str) -> None:
    from fnmatch import fnmatchcase

    assert Pattern(patterns).matches(tag) == any(fnmatchcase(tag, p) for p in patterns)


INDEX_TYPE = "application/vnd.oci.image.index.v1+json"


@st.composite
def grouped_registries(draw: st.DrawFn) -> tuple[list[Image], dict[str, list[str]], dict[str, str]]:
    """Single images, indexes listing some of them as children, referrers, and a set of images in use."""
    singles = draw(images())
    digests = [image.digest for image in singles]
    indexes: list[Image] = []
    manifests: dict[str, list[str]] = {}
    for number in range(draw(st.integers(min_value=0, max_value=4))):
        index = Image(
            digest=digest_of(f"index{number}"),
            tags=tuple(draw(st.lists(st.sampled_from(TAGS), max_size=2, unique=True))),
            pushed_at=NOW - timedelta(hours=draw(st.integers(min_value=0, max_value=24 * 120))),
            media_type=INDEX_TYPE,
        )
        indexes.append(index)
        manifests[index.digest] = draw(st.lists(st.sampled_from(digests), max_size=3)) if digests else []
    owners = [image.digest for image in (*singles, *indexes)]
    referrers = []
    for number in range(draw(st.integers(min_value=0, max_value=4))):
        subject = draw(st.sampled_from(owners)) if owners and draw(st.booleans()) else digest_of("gone")
        referrers.append(
            Image(
                digest=digest_of(f"ref{number}"),
                tags=(),
                pushed_at=NOW - timedelta(days=1),
                subject_digest=subject,
            )
        )
    everything = [*singles, *indexes, *referrers]
    used = draw(st.lists(st.sampled_from([i.digest for i in everything]), max_size=4)) if everything else []
    in_use = dict.fromkeys(used, "in use: test")
    return everything, manifests, in_use


@settings(max_examples=examples(300))
@given(policies(), grouped_registries())
def test_groups_stay_whole_and_images_in_use_stay(
    document: dict[str, Any], registry: tuple[list[Image], dict[str, list[str]], dict[str, str]]
) -> None:
    inventory, manifests, in_use = registry
    policy = parse_policy(document)
    plan = plan_repository(policy, "app", inventory, NOW, children=manifests, in_use=in_use)
    action = {d.image.digest: d.action for d in (*plan.delete, *plan.keep, *plan.deferred)}
    assert sorted(action) == sorted(image.digest for image in inventory)
    deleted = {d.image.digest for d in plan.delete}
    assert not deleted & set(in_use), "an image in use was deleted"
    for index, kids in manifests.items():
        if action[index] is not Action.DELETE:
            assert not deleted & set(kids), "an index that stays lost a child"
    protected_tags = policy.protect.tag_patterns
    for image in inventory:
        subject = image.subject_digest
        if subject is not None and (subject not in action or action[subject] is Action.DELETE):
            own_protection = image.digest in in_use or protected_tags.first_match(image.tags) is not None
            young = policy.protect.younger_than_days is not None and image.pushed_at >= NOW - timedelta(
                days=policy.protect.younger_than_days
            )
            assert action[image.digest] is Action.DELETE or own_protection or young, (
                "a referrer outlived its subject"
            )
