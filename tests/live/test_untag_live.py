"""`action: "untag"` against moto: tags go, images stay, an image's last tag is never removed, and a
tag that moved since the plan is left alone."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from ecr_cleanup.cli import EXIT_OK, main
from ecr_cleanup.ecr import EcrRegistry
from ecr_cleanup.rundata import RunData
from tests.support.ecr_seed import create_repository, days_ago, image_tags, push_image
from tests.support.execution import execute

UNTAG_CI = {
    "rules": [{"tag_patterns": ["ci-*"], "older_than_days": 7, "action": "untag"}],
    "protect": {"in_use": False},
}


@pytest.fixture
def app(aws: None) -> dict[str, str]:
    create_repository("app")
    return {
        "release": push_image("app", tags=["v1", "ci-1", "ci-2"], pushed_at=days_ago(30)),
        "ci only": push_image("app", tags=["ci-3"], pushed_at=days_ago(30)),
        "recent": push_image("app", tags=["v2", "ci-4"], pushed_at=days_ago(1)),
    }


def run(policy: dict[str, Any], tmp_path: Path) -> tuple[int, dict[str, Any]]:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(policy))
    out = io.StringIO()
    status = main(["run", "--yes", "--policy", str(path), "--format", "json"], stdout=out)
    return status, json.loads(out.getvalue())


def test_untag_removes_the_selected_tags_and_keeps_every_image(app: dict[str, str], tmp_path: Path) -> None:
    status, report = run(UNTAG_CI, tmp_path)
    assert status == EXIT_OK
    assert image_tags("app") == {
        app["release"]: ["v1"],
        app["ci only"]: ["ci-3"],
        app["recent"]: ["v2", "ci-4"],
    }
    [repository] = report["repositories"]
    [entry] = repository["untag"]
    assert (entry["digest"], entry["tags"], entry["removed"]) == (
        app["release"],
        ["v1", "ci-1", "ci-2"],
        ["ci-1", "ci-2"],
    )
    assert repository["untagged"] == [app["release"]]
    kept = {image["digest"]: image["reason"] for image in repository["keep"]}
    assert kept[app["ci only"]] == "kept: untag would remove its last tag"
    assert (report["summary"]["untagged"], report["summary"]["tags_removed"]) == (1, 2)


def test_removing_an_images_last_tag_deletes_it_as_ecr_does(aws: None) -> None:
    create_repository("app")
    only = push_image("app", tags=["ci-9"], pushed_at=days_ago(3))
    boto3.client("ecr").batch_delete_image(repositoryName="app", imageIds=[{"imageTag": "ci-9"}])
    assert only not in image_tags("app")


def test_a_tag_that_moved_since_the_plan_is_left_alone(
    app: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the plan and the untag, ci-1 is pushed onto a new image that holds no other tag:
    removing it there would delete that image."""
    describe = EcrRegistry.describe
    moved: dict[str, str] = {}

    def describe_after_a_push(self: EcrRegistry, repository: str, digests: Any) -> Any:
        if not moved:
            moved["new"] = push_image("app", tags=["ci-1"], pushed_at=days_ago(0))
        return describe(self, repository, digests)

    monkeypatch.setattr(EcrRegistry, "describe", describe_after_a_push)
    status, report = run(UNTAG_CI, tmp_path)
    assert status == EXIT_OK
    tags = image_tags("app")
    assert tags[moved["new"]] == ["ci-1"]
    assert tags[app["release"]] == ["v1", "ci-2"]
    [repository] = report["repositories"]
    assert [entry["digest"] for entry in repository["skipped"]] == [app["release"]]


def test_a_run_of_the_functions_records_each_untag_batch_with_its_tags(
    app: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    boto3.client("s3").create_bucket(Bucket="runs")
    monkeypatch.setenv("REPORT_BUCKET", "runs")
    execution = execute(UNTAG_CI)
    assert (execution.summary["untagged"], execution.summary["tags_removed"]) == (1, 2)
    assert "untagged 1 (2 tags)" in execution.summary["message"]
    records = RunData(boto3.client("s3"), execution.bucket, execution.folder).read_batches(
        "app", region="us-east-1"
    )
    assert [(r["action"], r["state"]) for r in records] == [("untagged", "done")]
    [entry] = records[0]["images"]
    assert (entry["digest"], entry["removed"]) == (app["release"], ["ci-1", "ci-2"])
    report = execution.object("repositories/us-east-1/app.json")
    assert [image["digest"] for image in report["untag"]] == [app["release"]]
