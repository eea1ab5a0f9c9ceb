"""ECR's archive storage class and pull times, against moto with the harness's patches: a run that
archives, a later run that deletes from the archive, and reads that never make an image look pulled."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from ecr_cleanup import handlers
from ecr_cleanup.cli import EXIT_OK, main
from tests.support.ecr_seed import (
    archive_image,
    create_repository,
    days_ago,
    find_image,
    push_image,
    push_multi_platform_image,
    remaining_digests,
    role_credentials,
)
from tests.support.execution import execute
from tests.support.traffic import recording

ROLE = "arn:aws:iam::123456789012:role/ecr-cleanup-lambda"
ARCHIVE_THEN_DELETE = {
    "rules": [
        {"description": "cold builds", "not_pulled_for_days": 90, "keep_latest": 1, "action": "archive"},
        {"description": "a year in the archive", "image_status": "archived", "archived_for_days": 365},
    ],
    "protect": {"tag_patterns": ["latest"]},
}


def status(repository: str, digest: str) -> str:
    return str(getattr(find_image(repository, digest), "image_status", "ACTIVE"))


def cli(policy: dict[str, Any], tmp_path: Path, *args: str) -> tuple[int, dict[str, Any]]:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(policy))
    out = io.StringIO()
    code = main(["run", "--yes", "--policy", str(path), "--format", "json", *args], stdout=out)
    return code, json.loads(out.getvalue())


@pytest.fixture
def registry(aws: None) -> dict[str, str]:
    create_repository("app")
    return {
        "cold": push_image("app", tags=["b1"], pushed_at=days_ago(400)),
        "cold-too": push_image("app", tags=["b2"], pushed_at=days_ago(300)),
        "pulled": push_image("app", tags=["b3"], pushed_at=days_ago(300), last_pulled_at=days_ago(3)),
        "newest": push_image("app", tags=["b4"], pushed_at=days_ago(200)),
        "latest": push_image("app", tags=["latest"], pushed_at=days_ago(500)),
    }


def test_a_run_archives_and_a_later_run_deletes_from_the_archive(
    registry: dict[str, str], tmp_path: Path
) -> None:
    code, report = cli(ARCHIVE_THEN_DELETE, tmp_path)
    assert code == EXIT_OK
    assert {label: status("app", digest) for label, digest in registry.items()} == {
        "cold": "ARCHIVED",
        "cold-too": "ARCHIVED",
        "pulled": "ACTIVE",
        "newest": "ACTIVE",
        "latest": "ACTIVE",
    }
    assert report["summary"]["archived"] == 2
    assert remaining_digests("app") == set(registry.values())

    archive_image("app", registry["cold"], archived_at=days_ago(366))
    code, report = cli(ARCHIVE_THEN_DELETE, tmp_path)
    assert code == EXIT_OK
    assert remaining_digests("app") == set(registry.values()) - {registry["cold"]}
    [app] = report["repositories"]
    assert [(entry["digest"], entry["status"]) for entry in app["delete"]] == [(registry["cold"], "ARCHIVED")]


def test_a_dry_run_archives_nothing(registry: dict[str, str], tmp_path: Path) -> None:
    code, report = cli(ARCHIVE_THEN_DELETE, tmp_path, "--dry-run")
    assert code == EXIT_OK
    assert report["summary"]["archive"] == 2
    assert {status("app", digest) for digest in registry.values()} == {"ACTIVE"}


def test_archived_images_are_read_counted_and_shown_with_their_status(
    registry: dict[str, str], tmp_path: Path
) -> None:
    archive_image("app", registry["cold"], archived_at=days_ago(10))
    code, report = cli({"rules": [{"older_than_days": 9999}]}, tmp_path, "--dry-run")
    assert code == EXIT_OK
    [app] = report["repositories"]
    assert report["summary"]["images"] == 5
    assert [entry.get("status") for entry in app["keep"] if entry["digest"] == registry["cold"]] == [
        "ARCHIVED"
    ]


@pytest.fixture
def multi_arch(aws: None, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An image index last pulled 60 days ago, the run bucket, and the functions' role credentials."""
    boto3.client("s3").create_bucket(Bucket="runs")
    boto3.client("iam").create_role(RoleName="ecr-cleanup-lambda", AssumeRolePolicyDocument="{}")
    monkeypatch.setenv("REPORT_BUCKET", "runs")
    monkeypatch.setenv("LAMBDA_ROLE_ARN", ROLE)
    create_repository("app")
    index, _ = push_multi_platform_image("app", tags=["v1"], pushed_at=days_ago(100))
    find_image("app", index).last_recorded_pull_time = days_ago(60)
    for name, value in role_credentials(ROLE, "ecr-cleanup-list").items():
        monkeypatch.setenv(name.upper(), value)
    # From here on every client, the handlers' among them, signs as the functions' role.
    boto3.setup_default_session()
    handlers._client.cache_clear()
    return {"index": index}


NOT_PULLED = {"rules": [{"not_pulled_for_days": 14, "tag_patterns": ["nothing-*"]}]}


def pulled_at(digest: str) -> datetime:
    moment = find_image("app", digest).last_recorded_pull_time
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def test_a_run_does_not_make_an_index_look_pulled(
    multi_arch: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = pulled_at(multi_arch["index"])
    monkeypatch.setenv("EXCLUDE_OWN_PULLS", "true")
    execute(NOT_PULLED)
    assert boto3.client("ecr").list_pull_time_update_exclusions()["pullTimeUpdateExclusions"] == [ROLE]
    assert pulled_at(multi_arch["index"]) == before


def test_without_the_exclusion_reading_an_index_is_a_pull(
    multi_arch: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = pulled_at(multi_arch["index"])
    monkeypatch.setenv("EXCLUDE_OWN_PULLS", "false")
    execute(NOT_PULLED)
    assert pulled_at(multi_arch["index"]) > before


def test_an_index_is_read_once_in_its_life(
    multi_arch: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXCLUDE_OWN_PULLS", "true")
    with recording() as first:
        execute(NOT_PULLED, now="2026-11-21T22:00:00Z")
    with recording() as second:
        execute(NOT_PULLED, now="2026-11-28T22:00:00Z")
    assert (first.of("ecr")["BatchGetImage"], second.of("ecr")["BatchGetImage"]) == (1, 0)
    assert second.of("ecr")["RegisterPullTimeUpdateExclusion"] == 0


def test_a_full_exclusion_list_is_reported_and_the_run_goes_on(
    multi_arch: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ecr = boto3.client("ecr")
    for number in range(100):
        ecr.register_pull_time_update_exclusion(principalArn=f"arn:aws:iam::123456789012:role/other-{number}")
    monkeypatch.setenv("EXCLUDE_OWN_PULLS", "true")
    summary = execute(NOT_PULLED).summary
    [note] = summary["notes"]
    assert "already has 100 exclusions" in note
    assert summary["failed_count"] == 0
