"""The Lambda handlers against moto: the events the state machine sends, the results it gets.

Whole runs go through `tests.support.execution`, which calls the handlers in the order the state
machine does; the module tests run the real definition.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from ecr_cleanup.handlers import InvalidInput, cleanup_repositories, list_repositories, summarise
from ecr_cleanup.policy import PolicyError
from ecr_cleanup.rundata import MAX_REPOSITORIES_PER_ITEM, RunDataError
from tests.support.ecr_seed import create_repository, days_ago, push_image, push_images, remaining_digests
from tests.support.execution import NOW, Execution, TimeBudget, execute, items

POLICY: dict[str, Any] = {
    "repositories": {"include": ["app-*", "web"], "exclude": ["app-legacy"]},
    "rules": [{"older_than_days": 30, "keep_latest": 1, "tag_status": None, "tag_patterns": None}],
    "protect": {"tag_patterns": ["latest"], "younger_than_days": None},
    "limits": None,
}
BUCKET = "cleanup-runs"


@pytest.fixture
def run_bucket(aws: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """The bucket the module gives the functions for run data and reports."""
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("REPORT_BUCKET", BUCKET)
    monkeypatch.setenv("REPORT_PREFIX", "runs/")
    return BUCKET


@pytest.fixture
def repositories(run_bucket: str) -> dict[str, list[str]]:
    seeded: dict[str, list[str]] = {}
    for name in ("app-api", "app-legacy", "web", "other"):
        create_repository(name)
        seeded[name] = [push_image(name, tags=[f"b{day}"], pushed_at=days_ago(day)) for day in (90, 60, 1)]
    return seeded


def prepare(**overrides: Any) -> dict[str, Any]:
    return list_repositories({"policy": POLICY, "dry_run": False, "input": {}, "now": NOW, **overrides})


def test_list_writes_the_selected_repositories_as_the_map_items(repositories: dict[str, list[str]]) -> None:
    result = prepare()
    assert result == {
        "now": "2026-11-28T22:00:00Z",
        "dry_run": False,
        "run": {"bucket": BUCKET, "folder": "runs/2026/11/28/220000Z/"},
        "items_key": "runs/2026/11/28/220000Z/_run/items.json",
        "repositories": 2,
        "items": 2,
    }
    assert items(result) == [
        {"index": 0, "region": "us-east-1", "repositories": ["app-api"]},
        {"index": 1, "region": "us-east-1", "repositories": ["web"]},
    ]


def test_many_repositories_are_grouped_into_few_items(run_bucket: str) -> None:
    for number in range(300):
        create_repository(f"app-{number:03d}")
    result = prepare(max_concurrency=2)
    groups = items(result)
    assert [name for item in groups for name in item["repositories"]] == [f"app-{n:03d}" for n in range(300)]
    assert max(len(item["repositories"]) for item in groups) == MAX_REPOSITORIES_PER_ITEM
    assert result["items"] == len(groups) == 12


def test_the_result_of_list_stays_small_whatever_the_number_of_repositories(run_bucket: str) -> None:
    for number in range(1200):
        create_repository(f"app-{number:04d}")
    assert len(json.dumps(prepare())) < 400


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
    assert prepare(dry_run=module_dry_run, input=execution_input)["dry_run"] is expected


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
        prepare(input=execution_input)


def test_an_invalid_policy_is_refused_before_listing(run_bucket: str) -> None:
    with pytest.raises(PolicyError, match=r"rules\[0\]: gives no condition"):
        list_repositories({"policy": {"rules": [{"tag_status": "any"}]}, "input": {}, "now": NOW})


def test_two_runs_never_share_a_folder(repositories: dict[str, list[str]]) -> None:
    prepare()
    with pytest.raises(RunDataError, match="another run already uses this run folder"):
        prepare()


def test_the_run_folder_is_named_after_the_execution(repositories: dict[str, list[str]]) -> None:
    first, second = prepare(execution="nightly-1"), prepare(execution="manual-2")
    assert first["run"]["folder"] == "runs/2026/11/28/220000Z-nightly-1/"
    assert second["run"]["folder"] == "runs/2026/11/28/220000Z-manual-2/"


def test_a_malformed_execution_name_is_refused(repositories: dict[str, list[str]]) -> None:
    with pytest.raises(InvalidInput, match="execution: must be the execution's name"):
        prepare(execution="../../elsewhere")


def test_any_name_step_functions_accepts_names_a_safe_run_folder(repositories: dict[str, list[str]]) -> None:
    prepared = prepare(execution="release@2026+rc=1(é)")
    assert prepared["run"]["folder"] == "runs/2026/11/28/220000Z-release(40)2026(2B)rc(3D)1(28)(C3)(A9)(29)/"


def test_a_report_prefix_with_an_unsafe_character_is_refused(
    repositories: dict[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REPORT_PREFIX", "runs=2026/")
    with pytest.raises(InvalidInput, match="REPORT_PREFIX: 'runs=2026/' holds characters that are not safe"):
        prepare()


def test_list_reads_the_images_in_use_once_for_the_whole_run(repositories: dict[str, list[str]]) -> None:
    ecs = boto3.client("ecs")
    ecs.create_cluster(clusterName="prod")
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:b90"
    ecs.register_task_definition(
        family="web", containerDefinitions=[{"name": "w", "image": image, "memory": 8}]
    )
    ecs.create_service(cluster="prod", serviceName="web", taskDefinition="web", desiredCount=1)
    execution = Execution(prepare())
    snapshot = execution.object("_run/usage.json")
    assert snapshot["generation"] == 0
    assert snapshot["scan"]["references"][0][:2] == ["web", "b90"]


def test_a_run_deletes_what_the_policy_says_and_summarises(repositories: dict[str, list[str]]) -> None:
    execution = execute(POLICY)
    for name in ("app-api", "web"):
        assert remaining_digests(name) == set(repositories[name][2:])
    for name in ("app-legacy", "other"):
        assert remaining_digests(name) == set(repositories[name])
    summary = execution.summary
    assert (summary["repositories"], summary["images"], summary["deleted"], summary["failed_count"]) == (
        2,
        6,
        4,
        0,
    )
    assert summary["report"] == f"s3://{BUCKET}/runs/2026/11/28/220000Z/summary.json"


def test_a_cleanup_invocation_returns_a_small_position(repositories: dict[str, list[str]]) -> None:
    execution = execute(POLICY)
    assert execution.invocations[0] == {"done": True, "next": 1, "part": 0, "carry": None}
    assert all(len(json.dumps(position)) < 200 for position in execution.invocations)


def test_a_dry_run_deletes_nothing(repositories: dict[str, list[str]]) -> None:
    execution = execute(POLICY, dry_run=True)
    assert all(remaining_digests(name) == set(digests) for name, digests in repositories.items())
    assert (execution.summary["delete"], execution.summary["deleted"]) == (4, 0)


def test_a_repository_gone_since_the_listing_fails_alone(repositories: dict[str, list[str]]) -> None:
    prepared = prepare()
    boto3.client("ecr").delete_repository(repositoryName="app-api", force=True)
    event = {"policy": POLICY, "now": NOW, "dry_run": False, "run": prepared["run"], "position": None}
    cleanup_repositories(
        {**event, "item": {"index": 0, "region": "us-east-1", "repositories": ["app-api", "web"]}}
    )
    summary = summarise({"now": NOW, "dry_run": False, "run": prepared["run"]})
    assert summary["failed"] == ["app-api"]
    assert "RepositoryNotFoundException" in summary["message"]
    assert remaining_digests("web") == set(repositories["web"][2:])


def test_cleanup_requires_an_explicit_dry_run_flag(repositories: dict[str, list[str]]) -> None:
    prepared = prepare()
    with pytest.raises(InvalidInput, match="dry_run: required"):
        cleanup_repositories(
            {
                "policy": POLICY,
                "now": NOW,
                "run": prepared["run"],
                "item": {"index": 0, "region": "us-east-1", "repositories": ["web"]},
            }
        )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("item", None, "item: required"),
        ("item", {"index": -1, "region": "us-east-1", "repositories": []}, "item.index"),
        ("item", {"index": 0, "region": "us-east-1", "repositories": "web"}, "item.repositories"),
        ("position", {"next": "1", "part": 0}, "position.next"),
        ("run", None, "run: required"),
    ],
)
def test_a_malformed_cleanup_event_is_refused_before_anything_is_read(
    repositories: dict[str, list[str]], field: str, value: object, message: str
) -> None:
    prepared = prepare()
    event = {
        "policy": POLICY,
        "now": NOW,
        "dry_run": False,
        "run": prepared["run"],
        "item": {"index": 0, "region": "us-east-1", "repositories": ["web"]},
        "position": None,
        field: value,
    }
    with pytest.raises(InvalidInput, match=message):
        cleanup_repositories(event)
    assert remaining_digests("web") == set(repositories["web"])


def test_an_invocation_stops_before_its_time_runs_out_and_the_next_continues(run_bucket: str) -> None:
    create_repository("app-big")
    digests = push_images("app-big", 450, tags=lambda i: [f"b{i}"], pushed_at=lambda i: days_ago(40 + i))
    budget = TimeBudget(budget_ms=100_000, cost_ms=30_000)
    execution = execute(POLICY, context=budget.context)
    done = [position["done"] for position in execution.invocations]
    assert len(done) > 2
    assert done == [False] * (len(done) - 1) + [True]
    assert remaining_digests("app-big") == {digests[0]}
    summary = execution.summary
    assert (summary["images"], summary["delete"], summary["deleted"], summary["failed_count"]) == (
        450,
        449,
        449,
        0,
    )


def test_the_deletion_limit_counts_across_invocations(run_bucket: str) -> None:
    create_repository("app-big")
    push_images("app-big", 450, tags=lambda i: [f"b{i}"], pushed_at=lambda i: days_ago(40 + i))
    policy = {**POLICY, "limits": {"max_deletions_per_repository": 250}}
    budget = TimeBudget(budget_ms=100_000, cost_ms=30_000)
    execution = execute(policy, context=budget.context)
    assert len(execution.invocations) > 1
    assert len(remaining_digests("app-big")) == 200
    assert execution.summary["deleted"] == 250


def test_a_group_stops_between_repositories_and_continues_with_the_next(run_bucket: str) -> None:
    for name in ("app-a", "app-b", "app-c"):
        create_repository(name)
        push_images(name, 3, tags=lambda i: [f"b{i}"], pushed_at=lambda i: days_ago(40 + i))
    budget = TimeBudget(budget_ms=100_000, cost_ms=25_000)
    execution = execute(POLICY, context=budget.context, max_concurrency=1)
    assert len(execution.invocations) > 1
    assert all(len(remaining_digests(name)) == 1 for name in ("app-a", "app-b", "app-c"))
    assert execution.summary["deleted"] == 6


def test_a_failed_invocation_records_its_unfinished_repositories_as_failed(
    repositories: dict[str, list[str]],
) -> None:
    prepared = prepare()
    caught = {"Error": "Sandbox.Timedout", "Cause": "Task timed out after 900.00 seconds"}
    event = {"policy": POLICY, "now": NOW, "dry_run": False, "run": prepared["run"]}
    cleanup_repositories(
        {**event, "item": {"index": 0, "region": "us-east-1", "repositories": ["app-api"]}, "position": None}
    )
    cleanup_repositories(
        {
            **event,
            "item": {"index": 1, "region": "us-east-1", "repositories": ["web"]},
            "position": None,
            "error": caught,
        }
    )
    summary = summarise({"now": NOW, "dry_run": False, "run": prepared["run"]})
    assert summary["failed"] == ["web"]
    assert "web: Sandbox.Timedout: Task timed out" in summary["message"]
    assert summary["deleted"] == 2


def test_summary_adds_up_and_names_the_first_failed_repositories(run_bucket: str) -> None:
    for number in range(14):
        create_repository(f"app-{number:02d}")
    prepared = prepare()
    event = {"policy": POLICY, "now": NOW, "dry_run": False, "run": prepared["run"], "position": None}
    caught = {
        "Error": "RegistryError",
        "Cause": json.dumps({"errorType": "RegistryError", "errorMessage": "denied"}),
    }
    for item in items(prepared):
        cleanup_repositories({**event, "item": item, "error": caught})
    summary = summarise({"now": NOW, "dry_run": False, "run": prepared["run"]})
    assert summary["failed_count"] == 14
    assert summary["failed"] == [f"app-{number:02d}" for number in range(10)]
    assert summary["message"].endswith("; and 4 more (see summary.json)")
    stored = Execution(prepared).object("summary.json")
    assert stored["failed"] == [f"app-{number:02d}" for number in range(14)]


def test_a_repository_without_a_result_is_reported_failed(repositories: dict[str, list[str]]) -> None:
    prepared = prepare()
    summary = summarise({"now": NOW, "dry_run": False, "run": prepared["run"]})
    assert summary["failed"] == ["app-api", "web"]
    assert "no result was recorded" in summary["message"]
