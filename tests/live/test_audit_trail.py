"""An audit trail that survives a crash: every delete batch is logged and recorded in the run data the
moment ECR confirms it, and reports and the summary are built from those records.

The invocation is driven as the child workflow drives it: `cleanup_repositories` until it ends, and
when it dies (`SandboxEnded`, as a Lambda timeout), once more with the error the workflow caught.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto.ecr.responses import ECRResponse

from ecr_cleanup.handlers import cleanup_repositories, list_repositories, summarise
from ecr_cleanup.rundata import RunData
from tests.support.ecr_seed import create_repository, days_ago, push_images, remaining_digests
from tests.support.execution import NOW, TimeBudget, execute, items
from tests.support.moto_patches import SandboxEnded

REGION = "us-east-1"
BUCKET = "cleanup-runs"
POLICY: dict[str, Any] = {"rules": [{"older_than_days": 30}]}
TIMED_OUT = {
    "Error": "Sandbox.Timedout",
    "Cause": json.dumps(
        {"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out after 900.00 seconds"}
    ),
}


@pytest.fixture
def run_bucket(aws: None, monkeypatch: pytest.MonkeyPatch) -> str:
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("REPORT_BUCKET", BUCKET)
    monkeypatch.setenv("REPORT_PREFIX", "runs/")
    return BUCKET


@pytest.fixture
def two_repositories(run_bucket: str) -> dict[str, list[str]]:
    """`app-big`: 450 old images (five delete batches); `app-small`: 3 old images and a new one."""
    create_repository("app-big")
    create_repository("app-small")
    return {
        "app-big": push_images(
            "app-big", 450, tags=lambda i: [f"b{i}"], pushed_at=lambda i: days_ago(40 + i)
        ),
        "app-small": push_images(
            "app-small", 4, tags=lambda i: [f"s{i}"], pushed_at=lambda i: days_ago(i * 20)
        ),
    }


@pytest.fixture
def timeout_after_two_batches(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The invocation dies right after ECR answered its second BatchDeleteImage of `app-big`; returns
    the digests each served batch deleted."""
    served: list[list[str]] = []
    delete = ECRResponse.batch_delete_image

    def batch_delete_image(self: ECRResponse) -> Any:
        answer = delete(self)
        if self._get_param("repositoryName") == "app-big":
            served.append([image["imageDigest"] for image in self._get_param("imageIds")])
            if len(served) == 2:
                raise SandboxEnded
        return answer

    monkeypatch.setattr(ECRResponse, "batch_delete_image", batch_delete_image)
    return served


def run_with_a_timeout() -> dict[str, Any]:
    """One run in which the invocation cleaning `app-big` dies; the summary."""
    prepared = list_repositories({"policy": POLICY, "dry_run": False, "input": {}, "now": NOW})
    base = {"policy": POLICY, "now": NOW, "dry_run": False, "run": prepared["run"]}
    for item in items(prepared):
        position = None
        while position is None or not position["done"]:
            event = {**base, "item": item, "position": position}
            try:
                position = cleanup_repositories(event)
            except SandboxEnded:
                position = cleanup_repositories({**event, "error": TIMED_OUT})
    return summarise(base)


def batch_records(repository: str) -> list[dict[str, Any]]:
    s3 = boto3.client("s3")
    prefix = RunData(s3, BUCKET, "runs/2026/11/28/220000Z/").batches_prefix(repository, region=REGION)
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return [
        json.loads(s3.get_object(Bucket=BUCKET, Key=entry["Key"])["Body"].read())
        for entry in listed.get("Contents", [])
    ]


def test_each_batch_is_recorded_before_the_invocation_can_die(
    two_repositories: dict[str, list[str]], timeout_after_two_batches: list[list[str]]
) -> None:
    run_with_a_timeout()
    recorded = [image["digest"] for record in batch_records("app-big") for image in record["images"]]
    deleted = set(two_repositories["app-big"]) - remaining_digests("app-big")
    assert len(recorded) == 200
    assert set(recorded) == deleted == {digest for batch in timeout_after_two_batches for digest in batch}


def test_the_batch_the_invocation_died_in_is_settled_with_what_ecr_says_is_gone(
    two_repositories: dict[str, list[str]], timeout_after_two_batches: list[list[str]]
) -> None:
    run_with_a_timeout()
    records = batch_records("app-big")
    assert [record["state"] for record in records] == ["done", "done"]
    assert "settled" not in records[0]
    assert records[1]["settled"] == "after the invocation ended"
    assert {image["digest"] for image in records[1]["images"]} == set(timeout_after_two_batches[1])


def test_a_batch_record_says_what_each_image_was_and_why_it_went(
    two_repositories: dict[str, list[str]], timeout_after_two_batches: list[list[str]]
) -> None:
    run_with_a_timeout()
    first = batch_records("app-big")[0]
    assert first["action"] == "deleted"
    assert first["images_seen"] == 450
    assert set(first["images"][0]) >= {"digest", "tags", "pushed_at", "size", "reason"}
    assert first["images"][0]["reason"] == "matched rules[0]"


def test_each_deleted_image_is_logged_as_its_batch_is_confirmed(
    two_repositories: dict[str, list[str]],
    timeout_after_two_batches: list[list[str]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO", logger="ecr_cleanup")
    run_with_a_timeout()
    logged = {
        line["digest"]
        for line in (json.loads(record.getMessage()) for record in caplog.records)
        if line.get("event") == "image"
        and line.get("action") == "deleted"
        and line["repository"] == "app-big"
    }
    assert logged == set(two_repositories["app-big"]) - remaining_digests("app-big")


def test_the_summary_counts_what_a_failed_repository_deleted_before_it_failed(
    two_repositories: dict[str, list[str]], timeout_after_two_batches: list[list[str]]
) -> None:
    summary = run_with_a_timeout()
    assert summary["failed"] == ["app-big"]
    assert (summary["images"], summary["deleted"]) == (450 + 4, 200 + 2)
    assert summary["bytes"] == (200 + 2) * 8 * 1024 * 1024
    assert (
        "app-big: Sandbox.Timedout: Task timed out after 900.00 seconds (deleted 200 before it failed)"
        in (summary["message"])
    )


def test_a_repository_cleaned_in_several_invocations_has_one_report(run_bucket: str) -> None:
    create_repository("app-big")
    digests = push_images("app-big", 450, tags=lambda i: [f"b{i}"], pushed_at=lambda i: days_ago(40 + i))
    execution = execute(POLICY, context=TimeBudget(budget_ms=100_000, cost_ms=30_000).context)
    assert len(execution.invocations) > 1
    report = execution.object("repositories/us-east-1/app-big.json")
    assert set(report["deleted"]) == set(digests)
    assert len(report["delete"]) == len(digests)
    csv_rows = boto3.client("s3").get_object(
        Bucket=BUCKET, Key=f"{execution.folder}repositories/us-east-1/app-big.csv"
    )["Body"]
    assert csv_rows.read().decode().count(",deleted,") == len(digests)


def test_a_dry_run_records_no_batch(two_repositories: dict[str, list[str]]) -> None:
    execute(POLICY, dry_run=True)
    assert batch_records("app-big") == []


def test_repositories_finished_before_the_function_died_are_not_reported_failed(
    run_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_repository("app-1")
    push_images("app-1", 3, tags=lambda i: [f"one-{i}"], pushed_at=lambda i: days_ago(60 + i))
    create_repository("app-2")
    push_images("app-2", 450, tags=lambda i: [f"b{i}"], pushed_at=lambda i: days_ago(40 + i))
    for number in range(3, 10):
        create_repository(f"app-{number}")
    delete = ECRResponse.batch_delete_image
    served: list[int] = []

    def batch_delete_image(self: ECRResponse) -> Any:
        answer = delete(self)
        if self._get_param("repositoryName") == "app-2":
            served.append(1)
            if len(served) == 2:
                raise SandboxEnded
        return answer

    monkeypatch.setattr(ECRResponse, "batch_delete_image", batch_delete_image)
    summary = run_with_a_timeout()
    assert summary["failed"] == ["app-2", "app-3"], "one group: app-1 (finished), app-2 (died), app-3"
    assert summary["deleted"] == 3 + 200


def test_the_records_of_a_repository_are_not_mixed_with_those_of_one_nested_in_its_name(
    run_bucket: str,
) -> None:
    run = RunData(boto3.client("s3"), BUCKET, "runs/x/")
    run.write_batch("team", "0000-a-00000", {"images": [{"digest": "sha256:1"}]}, region=REGION)
    run.write_batch("team/api", "0000-a-00000", {"images": [{"digest": "sha256:2"}]}, region=REGION)
    assert [record["images"] for record in run.read_batches("team", region=REGION)] == [
        [{"digest": "sha256:1"}]
    ]
