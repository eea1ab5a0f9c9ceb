"""Archiving as an action, and archived images as a selection: each sentence of the semantics."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ecr_cleanup.cleanup import DeleteResult, clean_repository
from ecr_cleanup.plan import ACTIVATING, ARCHIVED, RESTORING, Action, Image, plan_repository
from ecr_cleanup.policy import PolicyError, parse_policy

NOW = datetime(2026, 11, 28, tzinfo=UTC)
INDEX = "application/vnd.oci.image.index.v1+json"
ARCHIVE_OLD = {"rules": [{"older_than_days": 30, "action": "archive"}]}
DELETE_ARCHIVED = {"rules": [{"image_status": "archived", "archived_for_days": 365}]}


def image(
    name: str, *, days: float = 60, status: str = "ACTIVE", archived_days: float | None = None, **kw: Any
) -> Image:
    archived_at = None if archived_days is None else NOW - timedelta(days=archived_days)
    return Image(
        f"sha256:{name:0>64}",
        kw.pop("tags", (name,)),
        NOW - timedelta(days=days),
        size=kw.pop("size", 10),
        status=status,
        archived_at=archived_at,
        **kw,
    )


def plan(policy: dict[str, Any], images: Sequence[Image], **kwargs: Any) -> Any:
    return plan_repository(parse_policy(policy), "app", list(images), NOW, **kwargs)


def names(decisions: Sequence[Any]) -> set[str]:
    return {
        decision.image.tags[0] if decision.image.tags else decision.image.digest for decision in decisions
    }


def test_an_archive_rule_archives_what_it_matches_and_deletes_nothing() -> None:
    result = plan(ARCHIVE_OLD, [image("a1"), image("a2", days=5)])
    assert (names(result.archive), result.delete) == ({"a1"}, ())
    assert result.archive[0].action is Action.ARCHIVE
    assert names(result.keep) == {"a2"}
    assert result.archive_bytes == 10


def test_deleting_wins_when_an_archive_rule_and_a_delete_rule_both_match() -> None:
    policy = {"rules": [{"older_than_days": 30, "action": "archive"}, {"older_than_days": 50}]}
    result = plan(policy, [image("old", days=60), image("older", days=40)])
    assert (names(result.delete), names(result.archive)) == ({"old"}, {"older"})
    assert result.delete[0].reason == "matched rules[0], rules[1]"


def test_an_active_rule_never_selects_an_archived_image() -> None:
    result = plan({"rules": [{"older_than_days": 30}]}, [image("gone", status=ARCHIVED, archived_days=10)])
    assert result.delete == ()
    assert result.keep[0].reason == "no rule selects it"


def test_an_archived_rule_selects_only_archived_images() -> None:
    images = [image("active", days=900), image("cold", days=900, status=ARCHIVED, archived_days=400)]
    result = plan(DELETE_ARCHIVED, images)
    assert (names(result.delete), names(result.keep)) == ({"cold"}, {"active"})


@pytest.mark.parametrize(("archived_days", "deleted"), [(365, False), (365.01, True), (None, False)])
def test_archived_for_days_counts_from_the_last_archiving(archived_days: float | None, deleted: bool) -> None:
    result = plan(DELETE_ARCHIVED, [image("cold", days=900, status=ARCHIVED, archived_days=archived_days)])
    assert bool(result.delete) is deleted


def test_an_image_being_restored_is_always_kept() -> None:
    images = [image("warming", days=900, status=ACTIVATING, archived_days=400)]
    for policy in (DELETE_ARCHIVED, ARCHIVE_OLD, {"rules": [{"older_than_days": 1}]}):
        result = plan(policy, images)
        assert [decision.reason for decision in result.keep] == [RESTORING]


def test_an_image_in_use_is_never_archived() -> None:
    running = image("running")
    result = plan(ARCHIVE_OLD, [running], in_use={running.digest: "in use: ECS task t"})
    assert result.archive == ()
    assert result.keep[0].reason == "protected: in use: ECS task t"


def test_an_image_index_is_archived_with_its_children_but_not_a_child_another_kept_index_needs() -> None:
    old_index = image("old-index", media_type=INDEX)
    new_index = image("new-index", days=1, media_type=INDEX)
    own, shared = image("own"), image("shared")
    children = {old_index.digest: [own.digest, shared.digest], new_index.digest: [shared.digest]}
    result = plan(ARCHIVE_OLD, [old_index, new_index, own, shared], children=children)
    assert names(result.archive) == {"old-index", "own"}
    assert names(result.keep) == {"new-index", "shared"}
    assert [d.reason for d in result.archive if d.image == own] == [
        f"child of archived image {old_index.digest[:19]}"
    ]


def test_a_signature_follows_its_archived_subject() -> None:
    subject = image("subject")
    signature = image("signature", subject_digest=subject.digest, tags=())
    result = plan(ARCHIVE_OLD, [subject, signature])
    assert {decision.image.digest for decision in result.archive} == {subject.digest, signature.digest}


def test_keep_latest_ranks_within_the_rules_own_selection() -> None:
    images = [
        image("new-active", days=1),
        image("old-archived-1", days=500, status=ARCHIVED, archived_days=400),
        image("old-archived-2", days=600, status=ARCHIVED, archived_days=400),
    ]
    result = plan({"rules": [{"image_status": "archived", "keep_latest": 1}]}, images)
    assert names(result.delete) == {"old-archived-2"}


def test_deleting_an_image_archived_lately_says_the_90_days_are_charged() -> None:
    result = plan(
        {"rules": [{"image_status": "archived", "keep_latest": 0}]},
        [image("c", status=ARCHIVED, archived_days=20)],
    )
    assert result.delete[0].reason == (
        "matched rules[0]; archived 20 days ago, so it is charged 90 days of archive storage all the same"
    )


def test_the_deletion_limit_counts_archived_images_too() -> None:
    policy = {**ARCHIVE_OLD, "limits": {"max_deletions_per_repository": 2}}
    result = plan(policy, [image(f"a{n}", days=60 + n) for n in range(4)])
    assert (len(result.archive), len(result.deferred)) == (2, 2)


def test_the_fraction_guard_counts_archived_images_too() -> None:
    policy = {**ARCHIVE_OLD, "limits": {"max_delete_fraction": 0.5}}
    result = plan(policy, [image(f"a{n}") for n in range(4)])
    assert (result.archive, result.delete) == ((), ())
    assert result.error is not None
    assert "would delete or archive 4 of 4 images" in result.error


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            {"action": "archive", "image_status": "archived", "keep_latest": 1},
            'rules[0].action: "archive" cannot be used',
        ),
        ({"archived_for_days": 30}, 'rules[0].archived_for_days: needs image_status "archived"'),
        ({"action": "compress", "keep_latest": 1}, 'rules[0].action: must be one of "delete", "archive"'),
        (
            {"image_status": "cold", "keep_latest": 1},
            'rules[0].image_status: must be one of "active", "archived"',
        ),
    ],
)
def test_an_impossible_archive_rule_is_refused(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError) as refused:
        parse_policy({"rules": [rule]})
    assert message in str(refused.value)


class Registry:
    """Deletes and archives in memory, recording each call."""

    def __init__(self, images: Sequence[Image]) -> None:
        self.held = {item.digest: item for item in images}
        self.calls: list[tuple[str, list[str]]] = []

    def repositories(self) -> list[str]:
        return ["app"]

    def images(self, repository: str) -> list[Image]:
        return list(self.held.values())

    def manifests(self, repository: str, digests: Sequence[str]) -> dict[str, list[str]]:
        return {}

    def describe(self, repository: str, digests: Sequence[str]) -> dict[str, Image]:
        return {digest: self.held[digest] for digest in digests if digest in self.held}

    def delete(self, repository: str, digests: Sequence[str]) -> DeleteResult:
        self.calls.append(("delete", list(digests)))
        for digest in digests:
            del self.held[digest]
        return DeleteResult(tuple(digests))

    def archive(self, repository: str, digests: Sequence[str]) -> DeleteResult:
        self.calls.append(("archive", list(digests)))
        for digest in digests:
            self.held[digest] = self.held[digest]._replace(status=ARCHIVED, archived_at=NOW)
        return DeleteResult(tuple(digests))


def test_a_run_deletes_first_then_archives_and_reports_both() -> None:
    policy = parse_policy({"rules": [{"older_than_days": 30, "action": "archive"}, {"older_than_days": 90}]})
    registry = Registry([image("warm", days=60, size=5), image("ancient", days=200, size=7)])
    outcome = clean_repository(registry, policy, "app", NOW, execute=True)
    ancient, warm = (f"sha256:{name:0>64}" for name in ("ancient", "warm"))
    assert registry.calls == [("delete", [ancient]), ("archive", [warm])]
    assert (outcome.deleted, outcome.archived) == ((ancient,), (warm,))
    assert (outcome.deleted_bytes, outcome.archived_bytes) == (7, 5)


def test_a_dry_run_archives_nothing() -> None:
    registry = Registry([image("warm")])
    outcome = clean_repository(registry, parse_policy(ARCHIVE_OLD), "app", NOW, execute=False)
    assert registry.calls == []
    assert outcome.plan is not None
    assert len(outcome.plan.archive) == 1
