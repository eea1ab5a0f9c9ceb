"""Workloads that are not running at the moment of the scan keep their images: the latest revisions
of every task definition family, the ECS tasks EventBridge rules and Scheduler schedules start, and
AWS Batch job definitions. Against moto, in-process."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, NoReturn

import boto3
import pytest
from moto.core.exceptions import JsonRESTError

from ecr_cleanup.cli import EXIT_AWS, EXIT_OK, main
from ecr_cleanup.usage import UsageCollector, UsageError
from tests.support.ecr_seed import DEFAULT_REGION, create_repository, days_ago, push_image, remaining_digests
from tests.support.traffic import recording

ACCOUNT = "123456789012"
HOST = f"{ACCOUNT}.dkr.ecr.{DEFAULT_REGION}.amazonaws.com"
CLUSTER = f"arn:aws:ecs:{DEFAULT_REGION}:{ACCOUNT}:cluster/jobs"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/runner"
OLDER_THAN_30 = {"rules": [{"older_than_days": 30}]}


def register(family: str, image: str) -> str:
    """A task definition revision running `image` of this registry; returns its ARN."""
    container = {"name": "main", "image": f"{HOST}/{image}", "memory": 64}
    response = boto3.client("ecs").register_task_definition(family=family, containerDefinitions=[container])
    return str(response["taskDefinition"]["taskDefinitionArn"])


@pytest.fixture
def builds(aws: None) -> dict[str, str]:
    """Ten old builds of `app` (b1 oldest), tagged b1..b10: label -> digest."""
    create_repository("app")
    return {f"b{n}": push_image("app", tags=[f"b{n}"], pushed_at=days_ago(100 - n)) for n in range(1, 11)}


def run(policy: dict[str, Any], tmp_path: Path) -> tuple[int, dict[str, Any]]:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(policy))
    out = io.StringIO()
    status = main(["run", "--yes", "--policy", str(path), "--format", "json"], stdout=out)
    return status, json.loads(out.getvalue()) if out.getvalue() else {}


def kept_reasons(report: dict[str, Any], repository: str = "app") -> dict[str, str]:
    [entry] = [r for r in report["repositories"] if r["name"] == repository]
    return {image["digest"]: image["reason"] for image in entry["keep"]}


def test_the_latest_revisions_of_a_family_keep_their_images(builds: dict[str, str], tmp_path: Path) -> None:
    for n in range(1, 8):
        register("api", f"app:b{n}")
    status, report = run({**OLDER_THAN_30, "protect": {"task_definition_revisions": 3}}, tmp_path)
    assert status == EXIT_OK
    protected = {builds[f"b{n}"] for n in (5, 6, 7)}
    assert remaining_digests("app") == protected
    assert (
        kept_reasons(report)[builds["b5"]]
        == "protected: in use: task definition api:5 (one of the latest 3 revisions)"
    )


def test_deregistered_revisions_and_other_families_with_the_same_prefix_do_not_count(
    builds: dict[str, str], tmp_path: Path
) -> None:
    for n in (1, 2, 3):
        register("api", f"app:b{n}")
    register("api-worker", "app:b9")
    boto3.client("ecs").deregister_task_definition(taskDefinition="api:3")
    run({**OLDER_THAN_30, "protect": {"task_definition_revisions": 1}}, tmp_path)
    assert remaining_digests("app") == {builds["b2"], builds["b9"]}


def test_no_revisions_protect_when_the_policy_turns_them_off(builds: dict[str, str], tmp_path: Path) -> None:
    register("api", "app:b1")
    run({**OLDER_THAN_30, "protect": {"task_definition_revisions": 0}}, tmp_path)
    assert remaining_digests("app") == set()


def test_a_schedule_keeps_the_revision_it_starts_whatever_its_age(
    builds: dict[str, str], tmp_path: Path
) -> None:
    nightly = register("nightly", "app:b1")
    for n in (2, 3, 4):
        register("nightly", f"app:b{n}")
    scheduler = boto3.client("scheduler")
    scheduler.create_schedule_group(Name="batch")
    scheduler.create_schedule(
        Name="nightly",
        GroupName="batch",
        ScheduleExpression="cron(0 2 * * ? *)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": CLUSTER, "RoleArn": ROLE, "EcsParameters": {"TaskDefinitionArn": nightly}},
    )
    status, report = run({**OLDER_THAN_30, "protect": {"task_definition_revisions": 1}}, tmp_path)
    assert status == EXIT_OK
    assert remaining_digests("app") == {builds["b1"], builds["b4"]}
    assert kept_reasons(report)[builds["b1"]] == (
        "protected: in use: Scheduler schedule batch/nightly -> task definition nightly:1"
    )


def test_a_target_without_a_revision_keeps_the_latest_active_one(
    builds: dict[str, str], tmp_path: Path
) -> None:
    register("report", "app:b1")
    register("report", "app:b2")
    family = f"arn:aws:ecs:{DEFAULT_REGION}:{ACCOUNT}:task-definition/report"
    boto3.client("scheduler").create_schedule(
        Name="weekly",
        ScheduleExpression="rate(7 days)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": CLUSTER, "RoleArn": ROLE, "EcsParameters": {"TaskDefinitionArn": family}},
    )
    run({**OLDER_THAN_30, "protect": {"task_definition_revisions": 0}}, tmp_path)
    assert remaining_digests("app") == {builds["b2"]}


@pytest.mark.parametrize("bus", ["default", "jobs"])
def test_an_eventbridge_rule_keeps_the_revision_its_ecs_target_starts(
    builds: dict[str, str], tmp_path: Path, bus: str
) -> None:
    started = register("report", "app:b1")
    register("report", "app:b2")
    events = boto3.client("events")
    if bus == "default":
        events.put_rule(Name="daily", ScheduleExpression="rate(1 day)")
    else:
        events.create_event_bus(Name=bus)
        pattern = json.dumps({"source": ["jobs.requested"]})
        events.put_rule(Name="daily", EventPattern=pattern, EventBusName=bus)
    events.put_targets(
        Rule="daily",
        EventBusName=bus,
        Targets=[
            {"Id": "task", "Arn": CLUSTER, "RoleArn": ROLE, "EcsParameters": {"TaskDefinitionArn": started}}
        ],
    )
    status, report = run({**OLDER_THAN_30, "protect": {"task_definition_revisions": 0}}, tmp_path)
    assert status == EXIT_OK
    assert remaining_digests("app") == {builds["b1"]}
    assert kept_reasons(report)[builds["b1"]] == (
        f"protected: in use: EventBridge rule {bus}/daily -> task definition report:1"
    )


def test_batch_job_definitions_keep_the_images_of_their_latest_revisions(
    builds: dict[str, str], tmp_path: Path
) -> None:
    batch = boto3.client("batch")
    for n in (1, 2, 3):
        batch.register_job_definition(
            jobDefinitionName="etl",
            type="container",
            containerProperties={"image": f"{HOST}/app:b{n}", "vcpus": 1, "memory": 512, "command": ["run"]},
        )
    status, report = run({**OLDER_THAN_30, "protect": {"task_definition_revisions": 2}}, tmp_path)
    assert status == EXIT_OK
    assert remaining_digests("app") == {builds["b2"], builds["b3"]}
    assert kept_reasons(report)[builds["b3"]] == (
        "protected: in use: Batch job definition etl:3 (one of the latest 2 revisions)"
    )


def test_the_scenario_of_the_issue_keeps_every_dormant_workloads_image(
    builds: dict[str, str], tmp_path: Path
) -> None:
    """A nightly schedule, a daily rule, a Batch job and rollback revisions 3-5 of a service on 7."""
    nightly = register("nightly", "app:b1")
    report_task = register("report", "app:b2")
    boto3.client("batch").register_job_definition(
        jobDefinitionName="etl",
        type="container",
        containerProperties={"image": f"{HOST}/app:b3", "vcpus": 1, "memory": 512},
    )
    for n in range(4, 11):
        register("api", f"app:b{n}")
    ecs = boto3.client("ecs")
    ecs.create_cluster(clusterName="prod")
    ecs.create_service(cluster="prod", serviceName="api", taskDefinition="api:7", desiredCount=1)
    boto3.client("scheduler").create_schedule(
        Name="nightly",
        ScheduleExpression="cron(0 2 * * ? *)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": CLUSTER, "RoleArn": ROLE, "EcsParameters": {"TaskDefinitionArn": nightly}},
    )
    events = boto3.client("events")
    events.put_rule(Name="report", ScheduleExpression="rate(1 day)")
    events.put_targets(
        Rule="report",
        Targets=[
            {"Id": "t", "Arn": CLUSTER, "RoleArn": ROLE, "EcsParameters": {"TaskDefinitionArn": report_task}}
        ],
    )
    assert run(OLDER_THAN_30, tmp_path)[0] == EXIT_OK
    # Revisions 3..7 of api (b6..b10) are the latest five; b4, b5 are revisions 1 and 2.
    assert remaining_digests("app") == {builds[f"b{n}"] for n in (1, 2, 3, 6, 7, 8, 9, 10)}


def denied(*args: Any, **kwargs: Any) -> NoReturn:
    raise JsonRESTError("AccessDeniedException", "User is not authorized to perform this action")


@pytest.mark.parametrize(
    ("target", "named"),
    [
        (
            "moto.ecs.models.EC2ContainerServiceBackend.list_task_definition_families",
            "ECS ListTaskDefinitionFamilies",
        ),
        ("moto.events.models.EventsBackend.list_event_buses", "EventBridge ListEventBuses"),
        ("moto.scheduler.models.EventBridgeSchedulerBackend.list_schedules", "Scheduler ListSchedules"),
        ("moto.batch.models.BatchBackend.describe_job_definitions", "Batch DescribeJobDefinitions"),
    ],
)
def test_a_source_that_cannot_be_read_stops_every_deletion_naming_it(
    builds: dict[str, str],
    tmp_path: Path,
    *,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    target: str,
    named: str,
) -> None:
    monkeypatch.setattr(target, denied)
    status, report = run(OLDER_THAN_30, tmp_path)
    assert (status, report) == (EXIT_AWS, {})
    assert f"{named}: AccessDeniedException" in capsys.readouterr().err
    assert remaining_digests("app") == set(builds.values())


def test_one_scan_of_the_test_estate_costs_a_known_number_of_calls(builds: dict[str, str]) -> None:
    for family in ("api", "web"):
        for n in range(1, 8):
            register(family, f"app:b{n}")
    boto3.client("batch").register_job_definition(
        jobDefinitionName="etl",
        type="container",
        containerProperties={"image": f"{HOST}/app:b3", "vcpus": 1, "memory": 512},
    )
    with recording() as traffic:
        UsageCollector().collect(revisions=5, schedules=True)
    calls = {f"{service}:{operation}": n for (service, operation), n in traffic.calls.items()}
    assert calls == {
        "ecs:ListClusters": 1,
        "lambda:ListFunctions": 1,
        "ecs:ListTaskDefinitionFamilies": 1,
        "ecs:ListTaskDefinitions": 2,
        "ecs:DescribeTaskDefinition": 10,
        "batch:DescribeJobDefinitions": 1,
        "events:ListEventBuses": 1,
        "events:ListRules": 1,
        "scheduler:ListSchedules": 1,
    }


def test_a_collector_refuses_nothing_silently(
    builds: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("moto.events.models.EventsBackend.list_rules", denied)
    with pytest.raises(UsageError, match="EventBridge ListRules default: AccessDeniedException"):
        UsageCollector().collect(ecs=False, functions=False, schedules=True)
