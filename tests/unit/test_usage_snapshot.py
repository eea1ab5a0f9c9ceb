"""Snapshots of the images in use: how long a run may rely on one, and how it travels as JSON."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ecr_cleanup.plan import Image
from ecr_cleanup.usage import BoundedSnapshot, ImageReference, LocalUsage, UsageCache, UsageError, UsageScan

START = datetime(2026, 11, 28, 22, tzinfo=UTC)
DIGEST = "sha256:" + "a" * 64
SCAN = UsageScan(
    START,
    (
        ImageReference("app", "v1", None, None, "ECS service s"),
        ImageReference(
            "web", None, DIGEST, "123456789012.dkr.ecr.us-east-1.amazonaws.com", "Lambda function f:3"
        ),
    ),
    UsageCache({"arn:aws:ecs:us-east-1:123456789012:task-definition/app:7": ["app:v1"]}, {"f:3": ["web@x"]}),
)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def test_a_snapshot_holds_until_its_bound_and_expires_after_it() -> None:
    clock = Clock()
    snapshot = BoundedSnapshot(SCAN, timedelta(minutes=15), clock)
    clock.now = START + timedelta(minutes=15)
    assert not snapshot.expired()
    clock.now += timedelta(seconds=1)
    assert snapshot.expired()


def test_a_snapshot_names_the_images_in_use_of_a_repository() -> None:
    snapshot = BoundedSnapshot(SCAN, timedelta(minutes=15), Clock())
    images = [Image(DIGEST, ("latest",), START), Image("sha256:" + "b" * 64, ("v2",), START)]
    assert snapshot.in_use("web", images) == {DIGEST: "in use: Lambda function f:3"}
    assert snapshot.in_use("app", images) == {}


def test_a_scan_survives_its_json_form() -> None:
    assert UsageScan.from_json(SCAN.to_json()) == SCAN


@pytest.mark.parametrize(
    "document",
    [None, {}, {"version": 2}, {"version": 1, "read_at": "yesterday", "references": [], "cache": {}}],
)
def test_an_unreadable_snapshot_fails_closed(document: object) -> None:
    with pytest.raises(UsageError, match="snapshot of images in use is unreadable"):
        UsageScan.from_json(document)


def test_local_usage_scans_once_while_the_snapshot_holds() -> None:
    clock = Clock()
    usage = LocalUsage(lambda: SCAN, max_age=timedelta(minutes=15), clock=clock)
    first = usage.snapshot()
    clock.now += timedelta(minutes=10)
    assert usage.snapshot() is first
    assert usage.scans == 1


def test_local_usage_scans_again_once_the_snapshot_expired() -> None:
    clock = Clock()
    scans = iter([SCAN, UsageScan(START + timedelta(minutes=20), ())])
    usage = LocalUsage(lambda: next(scans), max_age=timedelta(minutes=15), clock=clock)
    usage.snapshot()
    clock.now += timedelta(minutes=20)
    assert usage.snapshot().scan.references == ()
    assert usage.scans == 2


def test_local_usage_refuses_a_bound_that_would_expire_at_once() -> None:
    with pytest.raises(ValueError, match="max_age must be positive"):
        LocalUsage(lambda: SCAN, max_age=timedelta(0))
