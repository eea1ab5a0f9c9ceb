"""The policy semantics, one sentence at a time (README: "Policy reference")."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from ecr_cleanup.cleanup import selected_repositories
from ecr_cleanup.plan import Action, Image, RepositoryPlan, plan_repository
from ecr_cleanup.policy import parse_policy
from tests.support.images import NOW, digest_of, image

SECOND = timedelta(seconds=1)


def plan(document: dict[str, Any], images: list[Image], repository: str = "app") -> RepositoryPlan:
    return plan_repository(parse_policy(document), repository, images, NOW)


_NAMES = [f"img{i}" for i in range(200)] + ["old", "new", "a", "b", "c", "d", "x", "y"]
NAME_OF = {digest_of(name): name for name in _NAMES}


def deleted(document: dict[str, Any], images: list[Image], repository: str = "app") -> set[str]:
    """The names (see `image`) of the images the plan deletes."""
    return {NAME_OF[d.image.digest] for d in plan(document, images, repository).delete}


def rule(**fields: Any) -> dict[str, Any]:
    return {"rules": [fields]}


# --- patterns -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "name", "selected"),
    [
        ("app-*", "app-api", True),
        ("app-*", "App-api", False),  # case-sensitive
        ("team/*", "team/a/b", True),  # `*` crosses `/`
        ("svc-?", "svc-1", True),
        ("svc-?", "svc-12", False),
        ("svc-[ab]", "svc-b", True),
        ("svc-[!ab]", "svc-b", False),
        ("exact", "exact", True),
        ("exact", "exactly", False),
    ],
)
def test_repository_patterns_use_fnmatchcase_semantics(pattern: str, name: str, selected: bool) -> None:
    policy = parse_policy({"repositories": {"include": [pattern]}, **rule(older_than_days=0)})
    assert (selected_repositories(policy, [name]) == [name]) is selected


def test_repositories_default_to_every_repository() -> None:
    policy = parse_policy(rule(older_than_days=1))
    assert selected_repositories(policy, ["b", "a/x", "c"]) == ["a/x", "b", "c"]


def test_exclude_removes_repositories_that_include_selects() -> None:
    policy = parse_policy(
        {"repositories": {"include": ["*"], "exclude": ["base/*"]}, **rule(older_than_days=1)}
    )
    assert selected_repositories(policy, ["base/python", "app", "base"]) == ["app", "base"]


def test_null_fields_mean_not_given() -> None:
    document = {
        "repositories": {"include": None, "exclude": None},
        "rules": [{"older_than_days": 30, "keep_latest": None, "tag_patterns": None, "repositories": None}],
        "protect": {"tag_patterns": None, "younger_than_days": None},
        "limits": None,
    }
    images = [image("old", days=40), image("new", days=10)]
    assert deleted(document, images) == {"old"}


# --- selection ---------------------------------------------------------------------------------


def test_rule_applies_only_to_its_repositories() -> None:
    document = rule(repositories=["app-*"], older_than_days=1)
    images = [image("old", days=40)]
    assert deleted(document, images, repository="app-api") == {"old"}
    assert deleted(document, images, repository="web") == set()


@pytest.mark.parametrize(
    ("tag_status", "expected"),
    [("tagged", {"a"}), ("untagged", {"b"}), ("any", {"a", "b"})],
)
def test_tag_status_selects_tagged_untagged_or_any(tag_status: str, expected: set[str]) -> None:
    images = [image("a", days=40, tags=["v1"]), image("b", days=40)]
    assert deleted(rule(tag_status=tag_status, older_than_days=1), images) == expected


def test_tag_status_defaults_to_any() -> None:
    images = [image("a", days=40, tags=["v1"]), image("b", days=40)]
    assert deleted(rule(older_than_days=1), images) == {"a", "b"}


def test_tag_patterns_need_one_tag_matching_one_pattern() -> None:
    images = [
        image("a", days=40, tags=["dev-1"]),
        image("b", days=40, tags=["release", "pr-7"]),
        image("c", days=40, tags=["release"]),
        image("d", days=40),
    ]
    assert deleted(rule(tag_patterns=["dev-*", "pr-*"], older_than_days=1), images) == {"a", "b"}


def test_tag_patterns_are_case_sensitive() -> None:
    images = [image("a", days=40, tags=["DEV-1"])]
    assert deleted(rule(tag_patterns=["dev-*"], older_than_days=1), images) == set()


# --- conditions --------------------------------------------------------------------------------


def test_older_than_days_deletes_only_images_pushed_more_than_n_days_ago() -> None:
    exactly = Image(digest_of("a"), (), NOW - timedelta(days=30))
    just_older = Image(digest_of("b"), (), NOW - timedelta(days=30) - SECOND)
    younger = Image(digest_of("c"), (), NOW - timedelta(days=29))
    assert deleted(rule(older_than_days=30), [exactly, just_older, younger]) == {"b"}


def test_not_pulled_for_days_uses_the_last_pull() -> None:
    images = [
        image("a", days=100, pulled_days=20),
        image("b", days=100, pulled_days=3),
    ]
    assert deleted(rule(not_pulled_for_days=14), images) == {"a"}


def test_not_pulled_for_days_uses_the_push_when_never_pulled() -> None:
    images = [image("a", days=20), image("b", days=3)]
    assert deleted(rule(not_pulled_for_days=14), images) == {"a"}


def test_not_pulled_for_exactly_n_days_is_kept() -> None:
    exactly = Image(digest_of("a"), (), NOW - timedelta(days=90), last_pulled_at=NOW - timedelta(days=14))
    assert deleted(rule(not_pulled_for_days=14), [exactly]) == set()


def test_keep_latest_keeps_the_n_most_recently_pushed_of_the_selection() -> None:
    images = [image(f"img{i}", days=100 + i) for i in range(5)]
    assert deleted(rule(keep_latest=2), images) == {"img2", "img3", "img4"}


def test_keep_latest_counts_only_the_rules_selection() -> None:
    images = [
        image("a", days=1, tags=["release"]),  # newest overall, not in the selection
        image("b", days=2, tags=["dev-2"]),
        image("c", days=3, tags=["dev-3"]),
    ]
    assert deleted(rule(tag_patterns=["dev-*"], keep_latest=1), images) == {"c"}


def test_keep_latest_breaks_ties_in_push_time_by_digest_ascending() -> None:
    same_time = NOW - timedelta(days=50)
    images = [Image(digest_of(name), (), same_time) for name in ("a", "b", "c")]
    kept_first = min(images, key=lambda i: i.digest)
    result = plan(rule(keep_latest=1), images)
    assert {d.image.digest for d in result.keep} == {kept_first.digest}


def test_keep_latest_zero_keeps_none() -> None:
    images = [image("a", days=1), image("b", days=2)]
    assert deleted(rule(keep_latest=0), images) == {"a", "b"}


def test_conditions_of_one_rule_must_all_hold() -> None:
    images = [
        image("a", days=40, pulled_days=20),  # old, unpulled: both hold
        image("b", days=40, pulled_days=2),  # old but pulled recently
        image("c", days=10, pulled_days=20),  # unpulled but young
    ]
    assert deleted(rule(older_than_days=30, not_pulled_for_days=14), images) == {"a"}


@pytest.mark.parametrize("age_rank", range(14))
@pytest.mark.parametrize("days", [5, 29, 31, 90])
def test_older_than_30_and_not_among_latest_10(age_rank: int, days: int) -> None:
    """The seed's table: deleted only when both older than 30 days and outside the latest 10."""
    newer = [image(f"img{k}", days=days * (k + 1) / (age_rank + 1)) for k in range(age_rank)]
    older = [image(f"img{k}", days=days + 1 + k) for k in range(age_rank, 13)]
    probe = image("x", days=days)
    images = [*newer, probe, *older]
    rank = sorted(images, key=lambda i: i.pushed_at, reverse=True).index(probe)
    assert rank == age_rank
    expected = days > 30 and rank >= 10
    assert ("x" in deleted(rule(older_than_days=30, keep_latest=10), images)) is expected


# --- rules together, protection ----------------------------------------------------------------


def test_an_image_is_deleted_when_any_rule_matches_it() -> None:
    document = {
        "rules": [
            {"tag_status": "untagged", "older_than_days": 10},
            {"tag_patterns": ["dev-*"], "older_than_days": 30},
        ]
    }
    images = [image("a", days=15), image("b", days=40, tags=["dev-1"]), image("c", days=15, tags=["dev-2"])]
    assert deleted(document, images) == {"a", "b"}


def test_a_deleted_image_lists_every_rule_that_matched_it() -> None:
    document = {"rules": [{"older_than_days": 10}, {"keep_latest": 0}, {"older_than_days": 100}]}
    [decision] = plan(document, [image("a", days=40)]).delete
    assert decision.rules == (0, 1)


def test_protected_tag_is_never_deleted() -> None:
    document = {**rule(older_than_days=1), "protect": {"tag_patterns": ["latest", "v*"]}}
    images = [
        image("a", days=400, tags=["latest"]),
        image("b", days=400, tags=["v1.2", "dev"]),
        image("c", days=400),
    ]
    result = plan(document, images)
    assert {d.image.digest for d in result.delete} == {digest_of("c")}
    assert all(d.reason.startswith("protected: tag") for d in result.keep)


def test_protect_younger_than_days_keeps_images_pushed_exactly_n_days_ago() -> None:
    exactly = Image(digest_of("a"), (), NOW - timedelta(days=1))
    older = Image(digest_of("b"), (), NOW - timedelta(days=1) - SECOND)
    document = {**rule(keep_latest=0), "protect": {"younger_than_days": 1}}
    assert {d.image.digest for d in plan(document, [exactly, older]).delete} == {older.digest}


def test_pulled_within_days_keeps_an_image_pulled_exactly_n_days_ago() -> None:
    exactly = Image(
        digest_of("a"), ("v1",), NOW - timedelta(days=400), last_pulled_at=NOW - timedelta(days=7)
    )
    older = Image(
        digest_of("b"), ("v2",), NOW - timedelta(days=400), last_pulled_at=NOW - timedelta(days=7) - SECOND
    )
    never = Image(digest_of("c"), ("v3",), NOW - timedelta(days=400))
    document = {**rule(older_than_days=0), "protect": {"pulled_within_days": 7}}
    result = plan(document, [exactly, older, never])
    assert {d.image.digest for d in result.delete} == {older.digest, never.digest}
    assert [d.reason for d in result.keep] == ["protected: pulled 7 days ago (protect.pulled_within_days 7)"]


@pytest.mark.parametrize(("pulled_days", "said"), [(0.5, "today"), (1.5, "1 day ago"), (2.9, "2 days ago")])
def test_pulled_within_days_says_how_long_ago(pulled_days: float, said: str) -> None:
    document = {**rule(older_than_days=0), "protect": {"pulled_within_days": 3}}
    [kept] = plan(document, [image("a", days=100, pulled_days=pulled_days)]).keep
    assert kept.reason == f"protected: pulled {said} (protect.pulled_within_days 3)"


def test_pulled_within_days_keeps_an_image_every_kind_of_rule_selects() -> None:
    document = {
        "rules": [
            {"keep_latest": 0},
            {"not_pulled_for_days": 0},
            {"older_than_days": 0, "action": "archive"},
        ],
        "protect": {"pulled_within_days": 2},
    }
    result = plan(document, [image("a", days=900, pulled_days=1)])
    assert (result.delete, result.archive, [d.action for d in result.keep]) == ((), (), [Action.KEEP])


def test_protection_wins_over_every_rule() -> None:
    document = {
        "rules": [{"keep_latest": 0}, {"older_than_days": 0}],
        "protect": {"tag_patterns": ["prod*"]},
    }
    [kept] = plan(document, [image("a", days=900, tags=["prod-eu"])]).keep
    assert kept.action is Action.KEEP
    assert kept.reason == "protected: tag 'prod-eu' matches protect.tag_patterns 'prod*'"


# --- limits, shape of a plan --------------------------------------------------------------------


def test_max_deletions_deletes_the_oldest_first_and_defers_the_rest() -> None:
    images = [image(f"img{i}", days=100 + i) for i in range(5)]
    result = plan({**rule(older_than_days=1), "limits": {"max_deletions_per_repository": 2}}, images)
    assert [d.image.digest for d in result.delete] == [digest_of("img4"), digest_of("img3")]
    assert {d.image.digest for d in result.deferred} == {digest_of(f"img{i}") for i in range(3)}
    assert all(d.action is Action.DEFER for d in result.deferred)


def test_max_deletions_breaks_ties_in_push_time_by_digest() -> None:
    same_time = NOW - timedelta(days=50)
    images = [Image(digest_of(name), (), same_time) for name in ("a", "b", "c")]
    result = plan({**rule(older_than_days=1), "limits": {"max_deletions_per_repository": 1}}, images)
    assert [d.image.digest for d in result.delete] == [min(i.digest for i in images)]


def test_every_image_appears_exactly_once_in_a_plan() -> None:
    images = [image(f"img{i}", days=i * 3, tags=["latest"] if i == 7 else ()) for i in range(40)]
    document = {
        "rules": [{"older_than_days": 20, "keep_latest": 5}],
        "protect": {"tag_patterns": ["latest"]},
        "limits": {"max_deletions_per_repository": 10},
    }
    result = plan(document, images)
    listed = [d.image.digest for d in result.delete + result.keep + result.deferred]
    assert sorted(listed) == sorted(i.digest for i in images)


def test_kept_images_say_which_condition_spared_them() -> None:
    document = {
        "rules": [{"description": "dev", "tag_patterns": ["dev-*"], "older_than_days": 30, "keep_latest": 2}]
    }
    images = [image("a", days=5, tags=["dev-1"]), image("b", days=60, tags=["dev-2"]), image("c", days=90)]
    reasons = {d.image.digest: d.reason for d in plan(document, images).keep}
    assert reasons == {
        digest_of("a"): 'rules[0] "dev": not older than 30 days',
        digest_of("b"): 'rules[0] "dev": among the latest 2 of its selection',
        digest_of("c"): "no rule selects it",
    }


def test_plan_bytes_sum_the_sizes_of_deleted_images() -> None:
    images = [image("a", days=40, size=5), image("b", days=40, size=7), image("c", days=1, size=100)]
    assert plan(rule(older_than_days=30), images).bytes == 12


def test_a_pull_recorded_before_the_push_counts_as_the_push() -> None:
    inconsistent = Image(digest_of("a"), (), NOW - timedelta(days=5), last_pulled_at=NOW - timedelta(days=30))
    assert deleted(rule(not_pulled_for_days=14), [inconsistent]) == set()


# --- manifest media types -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "media_type",
    [
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
        None,
    ],
)
def test_an_image_of_a_known_manifest_type_is_judged_by_the_rules(media_type: str | None) -> None:
    old = image("old", days=90)._replace(media_type=media_type)
    assert deleted(rule(older_than_days=30), [old]) == {"old"}


def test_an_image_of_an_unknown_manifest_type_is_kept_with_the_reason() -> None:
    strange = image("old", days=90)._replace(media_type="application/vnd.example.manifest.v9+json")
    [kept] = plan(rule(older_than_days=30), [strange]).keep
    assert kept.reason == "protected: unknown manifest media type 'application/vnd.example.manifest.v9+json'"
