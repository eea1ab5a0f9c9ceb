"""`ecr-cleanup run` stopped part-way (Ctrl-C, an AWS failure): it stops deleting, and writes exactly
what it deleted until then instead of the report, with a clear message."""

from __future__ import annotations

import io
import json
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto.ecr.responses import ECRResponse

from ecr_cleanup import cleanup
from ecr_cleanup.cleanup import Cancellation
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


class DeleteRequests:
    """Every BatchDeleteImage request ECR received, in order of arrival, how many had arrived when
    the run's cancellation was set (None: never), and by which thread."""

    def __init__(self) -> None:
        self.arrived: list[set[str]] = []
        self.at_cancel: int | None = None
        self.cancelled_by: threading.Thread | None = None
        self.cancelled = threading.Event()
        self.lock = threading.Lock()

    def after_cancel(self) -> int:
        assert self.at_cancel is not None, "the run was never cancelled"
        return len(self.arrived) - self.at_cancel


@pytest.fixture(autouse=True)
def ctrl_c_raises_keyboard_interrupt() -> Iterator[None]:
    """SIGINT as a terminal delivers it to the command line: Python's KeyboardInterrupt. (A process
    started in the background by a shell without job control inherits SIGINT ignored.)"""
    saved = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, saved)


def stop_after_batches(monkeypatch: pytest.MonkeyPatch, batches: int, error: BaseException) -> DeleteRequests:
    """Once ECR has answered `batches` BatchDeleteImage calls, the run is stopped: a KeyboardInterrupt
    arrives as a Ctrl-C does, as SIGINT to the main thread, when the call came from a worker (in the
    main thread it is raised there, where a signal would land at a moment no test can choose); any
    other error is raised in the worker whose call it was, after ECR deleted its images (the caller
    never hears so).

    Every later request is held until the run's cancellation is set (at most 60 s), so that how
    busy the machine is cannot decide how far the run gets before it hears of the stop: what reaches
    ECR after that moment is what the workers had already sent."""
    requests = DeleteRequests()
    delete = ECRResponse.batch_delete_image

    def batch_delete_image(self: ECRResponse) -> Any:
        with requests.lock:
            requests.arrived.append({image["imageDigest"] for image in self._get_param("imageIds")})
            number = len(requests.arrived)
        if number > batches:
            requests.cancelled.wait(timeout=60)
        answer = delete(self)
        if number == batches:
            if (
                isinstance(error, KeyboardInterrupt)
                and threading.current_thread() is not threading.main_thread()
            ):
                signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
            else:
                raise error
        return answer

    class Watched(Cancellation):
        def set(self) -> None:
            with requests.lock:
                if requests.at_cancel is None:
                    requests.at_cancel = len(requests.arrived)
                    requests.cancelled_by = threading.current_thread()
            super().set()
            requests.cancelled.set()

    monkeypatch.setattr(ECRResponse, "batch_delete_image", batch_delete_image)
    monkeypatch.setattr(cleanup, "Cancellation", Watched)
    return requests


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
    requests = stop_after_batches(monkeypatch, 3, KeyboardInterrupt())
    status, output = run(policy_file, "--concurrency", concurrency, "--format", "json")
    assert status == EXIT_INTERRUPTED
    assert reported(output) == gone(repositories)
    assert len(gone(repositories)) == sum(len(batch) for batch in requests.arrived)
    assert "ecr-cleanup: interrupted." in capsys.readouterr().err


# A worker may have sent its batch just before the stop was set; none may send one after. So after
# the moment of the stop, ECR receives at most one request per worker still running, whatever the
# load of the machine.


def test_after_a_ctrl_c_no_worker_starts_another_batch(
    policy_file: Path, repositories: dict[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = stop_after_batches(monkeypatch, 2, KeyboardInterrupt())
    status, _ = run(policy_file, "--concurrency", "2", "--format", "json")
    assert status == EXIT_INTERRUPTED
    assert requests.after_cancel() <= 2
    assert len(gone(repositories)) < 700


def test_after_a_worker_fails_no_other_worker_starts_another_batch(
    policy_file: Path, repositories: dict[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = stop_after_batches(monkeypatch, 2, RuntimeError("the connection was lost"))
    status, _ = run(policy_file, "--concurrency", "2", "--format", "json")
    assert status == EXIT_AWS
    # the failing worker stops the others itself, not once the waiting thread wakes up
    assert requests.cancelled_by is not threading.main_thread()
    # it sends nothing more; the other one may finish the batch it had sent
    assert requests.after_cancel() <= 1
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
