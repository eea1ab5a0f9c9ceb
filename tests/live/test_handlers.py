"""The Lambda handlers against moto: the events the state machine sends, the results it gets."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ecr_cleanup.handlers import InvalidInput, cleanup_repository, list_repositories, summarise
from ecr_cleanup.policy import PolicyError
from tests.support.ecr_seed import create_repository, days_ago, push_image

NOW = "2026-11-28T22:00:00.123Z"
POLICY: dict[str, Any] = {
    "repositories": {"include": ["app-*", "web"], "exclude": ["app-legacy"]},
    "rules": [{"older_than_days": 30, "keep_latest": 1, "tag_status": None, "tag_patterns": None}],
    "protect": {"tag_patterns": ["latest"], "younger_than_days": None},
    "limits": None,
}


@pytest.fixture
def repositories(aws: None) -> dict[str, list[str]]:
    seeded: dict[str, list[str]] = {}
    for name in ("app-api", "app-legacy", "web", "other"):
        create_repository(name)
        seeded[name] = [push_image(name, tags=[f"b{day}"], pushed_at=days_ago(day)) for day in (90, 60, 1)]
    return seeded


def test_list_returns_the_selected_repositories_and_the_run_instant(
    repositories: dict[str, list[str]],
) -> None:
    result = list_repositories({"policy": POLICY, "dry_run": False, "input": {}, "now": NOW})
    assert result == {
        "now": "2026-11-28T22:00:00.123000Z",
        "dry_run": False,
        "repositories": ["app-api", "web"],
    }


@pytest.mark.parametrize(
    ("module_dry_run", "execution_input", "expected"),
    [
        (False, {}, False),
        (False, {"dry_run": True}, True),
        (True, {}, True),
        (True, {"dry_run": False}, True),
    ],
)
def test_a_dry_run_is_forced_by_the_module_or_the_execution_input(
    repositories: dict[str, list[str]], module_dry_run: bool, execution_input: dict[str, Any], expected: bool
) -> None:
    event = {"policy": POLICY, "dry_run": module_dry_run, "input": execution_input, "now": NOW}
    assert list_repositories(event)["dry_run"] is expected


@pytest.mark.parametrize(
    ("execution_input", "message"),
    [
        ({"dryrun": True}, "unknown field 'dryrun'"),
        ({"dry_run": "yes"}, 'dry_run: must be true or false, got "yes"'),
        (["dry_run"], "must be a JSON object"),
    ],
)
def test_a_malformed_execution_input_is_refused(
    repositories: dict[str, list[str]], execution_input: object, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        list_repositories({"policy": POLICY, "dry_run": False, "input": execution_input, "now": NOW})


def test_an_invalid_policy_is_refused_before_listing(aws: None) -> None:
    with pytest.raises(PolicyError, match=r"rules\[0\]: gives no condition"):
        list_repositories({"policy": {"rules": [{"tag_status": "any"}]}, "input": {}, "now": NOW})


def test_cleanup_deletes_and_returns_a_small_result(repositories: dict[str, list[str]]) -> None:
    result = cleanup_repository({"policy": POLICY, "repository": "app-api", "now": NOW, "dry_run": False})
    assert result["status"] == "ok"
    assert (result["images"], result["delete"], result["deleted"], result["kept"]) == (3, 2, 2, 1)
    assert result["bytes"] > 0
    assert len(json.dumps(result)) < 400


def test_cleanup_dry_run_deletes_nothing(repositories: dict[str, list[str]]) -> None:
    result = cleanup_repository({"policy": POLICY, "repository": "web", "now": NOW, "dry_run": True})
    assert (result["delete"], result["deleted"]) == (2, 0)
    again = cleanup_repository({"policy": POLICY, "repository": "web", "now": NOW, "dry_run": True})
    assert again["images"] == 3


def test_cleanup_of_a_missing_repository_raises(aws: None) -> None:
    with pytest.raises(Exception, match="RepositoryNotFoundException"):
        cleanup_repository({"policy": POLICY, "repository": "gone", "now": NOW, "dry_run": False})


def test_cleanup_requires_an_explicit_dry_run_flag(repositories: dict[str, list[str]]) -> None:
    with pytest.raises(InvalidInput, match="dry_run: required"):
        cleanup_repository({"policy": POLICY, "repository": "web", "now": NOW})


def test_summary_adds_up_and_names_failed_repositories() -> None:
    cause = json.dumps({"errorType": "RegistryError", "errorMessage": "app-b: describing images failed"})
    results = [
        {
            "repository": "app-a",
            "status": "ok",
            "images": 10,
            "delete": 4,
            "deleted": 4,
            "deferred": 0,
            "bytes": 400,
        },
        {"repository": "app-b", "status": "failed", "error": {"Error": "RegistryError", "Cause": cause}},
        {
            "repository": "web",
            "status": "ok",
            "images": 5,
            "delete": 1,
            "deleted": 1,
            "deferred": 2,
            "bytes": 100,
        },
    ]
    summary = summarise({"now": NOW, "dry_run": False, "results": results})
    assert summary["failed"] == ["app-b"]
    assert summary["failed_count"] == 1
    assert (summary["images"], summary["deleted"], summary["bytes"], summary["deferred"]) == (15, 5, 500, 2)
    assert summary["message"] == (
        "deleted 5 of 15 images (500 B) in 3 repositories; "
        "1 failed: app-b: RegistryError: app-b: describing images failed"
    )
