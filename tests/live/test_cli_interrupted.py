"""`ecr-cleanup run` stopped part-way (Ctrl-C, an AWS failure): it stops deleting, and writes exactly
what it deleted until then instead of the report, with a clear message."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from moto.ecr.responses import ECRResponse

from ecr_cleanup.cli import EXIT_AWS, EXIT_INTERRUPTED, main
from tests.support.ecr_seed import create_repository, days_ago, push_images, remaining_digests

POLICY = {"rules": [{"older_than_days": 30}], "protect": {"in_use": False}}


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(POLICY))
    return path


@pytest.fixture
def repositories(aws: None) -> dict[str, list[str]]:
    """Two repositories of 350 old images each: four delete batches apiece."""
    return {
        name: (
            create_repository(name),
            push_images(name, 350, tags=lambda i, n=name: [f"{n}-{i}"], pushed_at=lambda i: days_ago(40 + i)),
        )[1]
        for name in ("app", "web")
    }


def stop_after_batches(monkeypatch: pytest.MonkeyPatch, batches: int, error: BaseException) -> list[set[str]]:
    """`error` is raised in the caller once ECR has answered `batches` BatchDeleteImage calls: the
    last of them deleted its images, and the caller never hears so."""
    served: list[set[str]] = []
    delete = ECRResponse.batch_delete_image

    def batch_delete_image(self: ECRResponse) -> Any:
        answer = delete(self)
        served.append({image["imageDigest"] for image in self._get_param("imageIds")})
        if len(served) == batches:
            raise error
        return answer

    monkeypatch.setattr(ECRResponse, "batch_delete_image", batch_delete_image)
    return served


def run(policy_file: Path, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    status = main(["run", "--policy", str(policy_file), "--yes", *args], stdout=out)
    return status, out.getvalue()


def gone(repositories: dict[str, list[str]]) -> set[str]:
    return {
        digest for name, digests in repositories.items() for digest in set(digests) - remaining_digests(name)
    }


def reported(output: str) -> set[str]:
    document = json.loads(output)
    assert document["interrupted"] is True
    return {image["digest"] for batch in document["batches"] for image in batch["images"]}


@pytest.mark.parametrize("concurrency", ["1", "2"])
def test_an_interrupted_run_reports_exactly_what_it_deleted(
    policy_file: Path,
    repositories: dict[str, list[str]],
    monkeypatch: pytest.MonkeyPatch,
    concurrency: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    served = stop_after_batches(monkeypatch, 3, KeyboardInterrupt())
    status, output = run(policy_file, "--concurrency", concurrency, "--format", "json")
    assert status == EXIT_INTERRUPTED
    assert reported(output) == gone(repositories)
    assert len(gone(repositories)) == sum(len(batch) for batch in served)
    assert "ecr-cleanup: interrupted." in capsys.readouterr().err


def test_an_interrupted_run_stops_deleting(
    policy_file: Path, repositories: dict[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    served = stop_after_batches(monkeypatch, 2, KeyboardInterrupt())
    run(policy_file, "--concurrency", "2", "--format", "json")
    # each repository's worker may finish the batch it had started, no more
    assert len(served) <= 2 + 2
    assert len(gone(repositories)) < 700


def test_a_run_stopped_by_an_unexpected_error_reports_what_it_deleted(
    policy_file: Path,
    repositories: dict[str, list[str]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stop_after_batches(monkeypatch, 2, RuntimeError("the connection was lost"))
    status, output = run(policy_file, "--concurrency", "1", "--format", "json")
    assert status == EXIT_AWS
    assert reported(output) == gone(repositories)
    assert "stopped by an error: the connection was lost" in capsys.readouterr().err


def test_the_table_of_an_interrupted_run_lists_each_deleted_image(
    policy_file: Path, repositories: dict[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    stop_after_batches(monkeypatch, 1, KeyboardInterrupt())
    _, output = run(policy_file, "--concurrency", "1", "--format", "table")
    listed = {line.split()[2] for line in output.splitlines()[1:]}
    assert listed == gone(repositories)
    assert len(listed) == 100
