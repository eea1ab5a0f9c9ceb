"""Multi-arch images, referrers, images in use and the fraction guard, in the pure planner."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ecr_cleanup.plan import INDEX_MEDIA_TYPES, Action, Image, RepositoryPlan, plan_repository
from ecr_cleanup.policy import parse_policy
from tests.support.images import NOW, digest_of

INDEX = sorted(INDEX_MEDIA_TYPES)[0]
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def img(
    name: str, days: float, tags: tuple[str, ...] = (), *, index: bool = False, subject: str | None = None
) -> Image:
    return Image(
        digest_of(name),
        tags,
        NOW - timedelta(days=days),
        100,
        media_type=INDEX if index else MANIFEST,
        subject_digest=None if subject is None else digest_of(subject),
    )


def children(**indexes: list[str]) -> dict[str, list[str]]:
    return {digest_of(index): [digest_of(child) for child in kids] for index, kids in indexes.items()}


def plan(document: dict[str, Any], images: list[Image], **kwargs: Any) -> RepositoryPlan:
    return plan_repository(parse_policy(document), "app", images, NOW, **kwargs)


def actions(result: RepositoryPlan) -> dict[str, Action]:
    names = {digest_of(name): name for name in NAMES}
    return {names[d.image.digest]: d.action for d in (*result.delete, *result.keep, *result.deferred)}


NAMES = [
    "old",
    "new",
    "amd64",
    "arm64",
    "new-amd64",
    "new-arm64",
    "sig",
    "sbom",
    "sig-of-sig",
    "single",
    "shared",
]
OLD_INDEX = [
    img("old", 90, ("v-old",), index=True),
    img("amd64", 90),
    img("arm64", 90),
    img("sig", 89, subject="old"),
    img("sig-of-sig", 89, subject="sig"),
]
NEW_INDEX = [img("new", 5, ("v-new",), index=True), img("new-amd64", 5), img("new-arm64", 5)]
MANIFESTS = children(old=["amd64", "arm64"], new=["new-amd64", "new-arm64"])
OLDER_THAN_30 = {"rules": [{"older_than_days": 30}]}


def test_a_deleted_index_takes_its_children_and_referrers_with_it() -> None:
    result = actions(plan(OLDER_THAN_30, OLD_INDEX + NEW_INDEX, children=MANIFESTS))
    assert {name for name, action in result.items() if action is Action.DELETE} == {
        "old",
        "amd64",
        "arm64",
        "sig",
        "sig-of-sig",
    }


def test_a_kept_index_keeps_its_children_and_referrers() -> None:
    document = {**OLDER_THAN_30, "protect": {"tag_patterns": ["v-old"]}}
    result = actions(plan(document, OLD_INDEX, children=MANIFESTS))
    assert set(result.values()) == {Action.KEEP}


def test_children_and_referrers_are_never_judged_by_rules() -> None:
    document = {
        "rules": [{"tag_status": "untagged", "older_than_days": 1}],
        "protect": {"tag_patterns": ["v-*"]},
    }
    result = plan(document, OLD_INDEX + NEW_INDEX, children=MANIFESTS)
    assert result.delete == ()
    reasons = {d.image.digest: d.reason for d in result.keep}
    assert reasons[digest_of("amd64")].startswith("child of kept image")
    assert reasons[digest_of("sig")].startswith("referrer of kept image")


def test_a_child_shared_by_a_kept_and_a_deleted_index_stays() -> None:
    images = [img("old", 90, index=True), img("new", 5, index=True), img("shared", 90), img("amd64", 90)]
    result = actions(plan(OLDER_THAN_30, images, children=children(old=["shared", "amd64"], new=["shared"])))
    assert result == {"old": Action.DELETE, "amd64": Action.DELETE, "new": Action.KEEP, "shared": Action.KEEP}


def test_an_orphaned_referrer_is_deleted() -> None:
    result = plan({"rules": [{"keep_latest": 100}]}, [img("single", 3), img("sig", 3, subject="gone")])
    [deleted] = result.delete
    assert deleted.image.digest == digest_of("sig")
    assert deleted.reason.startswith("orphaned referrer: its subject")


def test_deletions_run_referrers_then_indexes_then_children_then_single_images() -> None:
    images = [img("single", 100), *OLD_INDEX]
    order = [d.image.digest for d in plan(OLDER_THAN_30, images, children=MANIFESTS).delete]
    ranks = {
        digest_of(n): r
        for n, r in [("sig", 0), ("sig-of-sig", 0), ("old", 1), ("amd64", 2), ("arm64", 2), ("single", 3)]
    }
    assert [ranks[d] for d in order] == sorted(ranks[d] for d in order)


def test_without_the_index_manifest_every_other_image_is_kept_as_a_possible_child() -> None:
    images = [*OLD_INDEX, img("single", 100)]
    result = actions(plan(OLDER_THAN_30, images, children=None))
    assert result["old"] is Action.DELETE
    assert all(result[name] is Action.KEEP for name in ("amd64", "arm64", "single"))


def test_a_deferred_index_defers_its_children() -> None:
    document = {**OLDER_THAN_30, "limits": {"max_deletions_per_repository": 1}}
    images = [img("single", 100), *OLD_INDEX]
    result = actions(plan(document, images, children=MANIFESTS))
    assert result["single"] is Action.DELETE
    assert {result[name] for name in ("old", "amd64", "arm64", "sig")} == {Action.DEFER}


def test_an_image_in_use_is_kept_whatever_the_rules_say() -> None:
    result = plan(OLDER_THAN_30, [img("single", 400)], in_use={digest_of("single"): "in use: ECS task t-1"})
    [kept] = result.keep
    assert kept.reason == "protected: in use: ECS task t-1"


def test_a_child_in_use_stays_when_its_index_goes() -> None:
    result = actions(
        plan(OLDER_THAN_30, OLD_INDEX, children=MANIFESTS, in_use={digest_of("arm64"): "in use: x"})
    )
    assert result["old"] is Action.DELETE
    assert result["arm64"] is Action.KEEP
    assert result["amd64"] is Action.DELETE


def test_protect_in_use_false_ignores_usage() -> None:
    document = {**OLDER_THAN_30, "protect": {"in_use": False}}
    result = plan(document, [img("single", 400)], in_use={digest_of("single"): "in use: x"})
    assert [d.image.digest for d in result.delete] == [digest_of("single")]


def test_max_delete_fraction_refuses_a_repository_that_would_lose_too_much() -> None:
    images = [img(f"n{i}", 100) for i in range(3)] + [img("new", 1)]
    document = {**OLDER_THAN_30, "limits": {"max_delete_fraction": 0.5}}
    names = {digest_of(f"n{i}") for i in range(3)}
    result = plan_repository(parse_policy(document), "app", images, NOW)
    assert result.delete == ()
    assert result.error is not None
    assert "would delete 3 of 4 images" in result.error
    assert {d.image.digest for d in result.keep} >= names


def test_max_delete_fraction_allows_a_plan_at_the_limit() -> None:
    images = [img(f"n{i}", 100) for i in range(2)] + [img("a", 1), img("b", 1)]
    result = plan_repository(
        parse_policy({**OLDER_THAN_30, "limits": {"max_delete_fraction": 0.5}}), "app", images, NOW
    )
    assert len(result.delete) == 2
    assert result.error is None
