"""The run's objects in S3, and the images-in-use snapshot every invocation of a run shares."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from ecr_cleanup.rundata import SAFE_KEY_CHARACTERS, RunData, SharedUsage
from ecr_cleanup.usage import ImageReference, UsageCache, UsageScan
from tests.support.ecr_seed import create_repository, days_ago, push_images
from tests.support.execution import Execution, execute
from tests.support.traffic import recording

START = datetime(2026, 11, 28, 22, tzinfo=UTC)
MAX_AGE = timedelta(minutes=15)
ECR_HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def run(aws: None) -> RunData:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="runs")
    return RunData(s3, "runs", "cleanup/2026/11/28/220000Z/")


class Scanner:
    """Scans that count themselves and remember the cache they were given."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.caches: list[UsageCache] = []

    def __call__(self, cache: UsageCache) -> UsageScan:
        self.caches.append(cache)
        return UsageScan(self.clock(), (ImageReference("app", "v2", None, None, "ECS task t"),), cache)


def shared(run: RunData, clock: Clock, scanner: Scanner, **kwargs: Any) -> SharedUsage:
    return SharedUsage(run, scanner, max_age=MAX_AGE, clock=clock, **kwargs)


def test_every_invocation_relies_on_the_first_snapshot_while_it_holds(run: RunData) -> None:
    clock = Clock(START)
    scanner = Scanner(clock)
    shared(run, clock, scanner).publish(UsageScan(START, ()))
    clock.now += timedelta(minutes=14)
    for _ in range(5):
        assert shared(run, clock, scanner).snapshot().scan.read_at == START
    assert scanner.caches == []


def test_an_expired_snapshot_is_read_again_once_for_every_invocation(run: RunData) -> None:
    clock = Clock(START)
    scanner = Scanner(clock)
    cache = UsageCache({"arn:task-definition/app:1": ["app:v1"]})
    shared(run, clock, scanner).publish(UsageScan(START, (), cache))
    clock.now += timedelta(minutes=16)
    snapshots = [shared(run, clock, scanner).snapshot() for _ in range(5)]
    assert len(scanner.caches) == 1
    assert scanner.caches[0] == cache
    assert {snapshot.scan.read_at for snapshot in snapshots} == {clock.now}
    assert run.read_usage() is not None
    assert run.read_usage()[0] == 1  # type: ignore[index]


def test_a_caller_that_loses_the_claim_takes_the_winners_snapshot(run: RunData) -> None:
    clock = Clock(START)
    scanner = Scanner(clock)
    shared(run, clock, scanner).publish(UsageScan(START, ()))
    clock.now += timedelta(minutes=16)
    assert run.claim_refresh(0)
    winner = UsageScan(clock.now, (ImageReference("app", "v9", None, None, "ECS task w"),))
    loser = shared(run, clock, scanner, sleep=lambda _: run.write_usage(1, winner))
    assert loser.snapshot().scan == winner
    assert scanner.caches == []


def test_a_caller_scans_itself_when_the_claimed_refresh_never_comes(run: RunData) -> None:
    clock = Clock(START)
    scanner = Scanner(clock)
    shared(run, clock, scanner).publish(UsageScan(START, ()))
    clock.now += timedelta(minutes=16)
    assert run.claim_refresh(0)
    snapshot = shared(run, clock, scanner, wait=0, sleep=lambda _: None).snapshot()
    assert len(scanner.caches) == 1
    assert not snapshot.expired()


@pytest.fixture
def estate(aws: None, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Three clusters with services, twelve repositories, and the bucket the functions write to."""
    boto3.client("s3").create_bucket(Bucket="runs")
    monkeypatch.setenv("REPORT_BUCKET", "runs")
    ecs = boto3.client("ecs")
    used = {}
    for number in range(12):
        name = f"app-{number:02d}"
        create_repository(name)
        push_images(name, 4, tags=lambda i: [f"b{i}"], pushed_at=lambda i: days_ago(60 + i))
        used[name] = f"{ECR_HOST}/{name}:b3"
    for cluster in range(3):
        ecs.create_cluster(clusterName=f"c{cluster}")
        for number in range(4):
            name = f"app-{cluster * 4 + number:02d}"
            container = {"name": "main", "image": used[name], "memory": 64}
            ecs.register_task_definition(family=name, containerDefinitions=[container])
            ecs.create_service(cluster=f"c{cluster}", serviceName=name, taskDefinition=name, desiredCount=1)
    return used


POLICY = {"rules": [{"older_than_days": 30}]}


def test_a_run_reads_the_images_in_use_once_however_many_repositories(estate: dict[str, str]) -> None:
    with recording() as traffic:
        execution = execute(POLICY, max_concurrency=2)
    calls = traffic.of("ecs")
    assert calls["ListClusters"] == 1
    assert calls["DescribeTaskDefinition"] == 12
    assert len(execution.invocations) > 1
    assert execution.summary["deleted"] == 12 * 3


def test_a_snapshot_older_than_the_bound_is_read_again_once(estate: dict[str, str]) -> None:
    def age_the_snapshot(execution: Execution) -> None:
        run = RunData(boto3.client("s3"), execution.bucket, execution.folder)
        stored = run.read_usage()
        assert stored is not None
        generation, scan = stored
        run.write_usage(
            generation, UsageScan(scan.read_at - timedelta(minutes=30), scan.references, scan.cache)
        )

    with recording() as traffic:
        execution = execute(POLICY, max_concurrency=2, after_prepare=age_the_snapshot)
    calls = traffic.of("ecs")
    assert calls["ListClusters"] == 2
    assert calls["DescribeTaskDefinition"] == 12
    assert execution.object("_run/usage.json")["generation"] == 1
    assert execution.summary["deleted"] == 12 * 3


NESTED = ("team", "team/api", "team/api/v1", "summary")


@pytest.fixture
def nested_repositories(aws: None, monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Repositories whose names nest (`team`, `team/api`) or could pass for a run's object (`summary`),
    each with 150 old images: two delete batches apiece."""
    boto3.client("s3").create_bucket(Bucket="runs")
    monkeypatch.setenv("REPORT_BUCKET", "runs")
    registry = {}
    for name in NESTED:
        create_repository(name)
        registry[name] = push_images(
            name,
            150,
            tags=lambda i, n=name: [f"{n.replace('/', '-')}-{i}"],
            pushed_at=lambda i: days_ago(40 + i),
        )
    return registry


def all_keys(bucket: str) -> list[str]:
    pages = boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return [entry["Key"] for page in pages for entry in page.get("Contents", [])]


def test_every_key_a_run_writes_uses_only_safe_characters(nested_repositories: dict[str, list[str]]) -> None:
    execute({"rules": [{"older_than_days": 30}], "protect": {"in_use": False}}, execution="nightly@2026+1")
    keys = all_keys("runs")
    assert any("/_run/batches/" in key for key in keys)
    assert [key for key in keys if not set(key) <= SAFE_KEY_CHARACTERS] == []


def test_each_repository_reads_back_exactly_its_own_batch_records(
    nested_repositories: dict[str, list[str]],
) -> None:
    execution = execute({"rules": [{"older_than_days": 30}], "protect": {"in_use": False}})
    run = RunData(boto3.client("s3"), execution.bucket, execution.folder)
    for name, digests in nested_repositories.items():
        recorded = [
            image["digest"]
            for record in run.read_batches(name, region="us-east-1")
            for image in record["images"]
        ]
        assert sorted(recorded) == sorted(digests), name
    assert execution.object("summary.json")["deleted"] == 4 * 150
    assert execution.object("repositories/us-east-1/summary.json")["name"] == "summary"
