"""`make demo` cannot hang: every step runs under a time limit, and one that overruns ends the demo
with a message that names the step, the time it waited and its log, leaving nothing behind."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.support.demo import Steps, StepTimedOut

ROOT = Path(__file__).resolve().parents[2]


def alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def gone(pid: int) -> bool:
    """Whether the process ends once its SIGKILL is delivered (the kernel may take a moment)."""
    deadline = time.monotonic() + 30
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def steps(tmp_path: Path) -> Steps:
    (tmp_path / "logs").mkdir()
    (tmp_path / "work").mkdir()
    return Steps(tmp_path / "work", limits={"terraform apply": 5.0, "seed": 5.0}, logs=tmp_path / "logs")


def test_a_command_that_overruns_its_limit_is_stopped_with_the_step_its_wait_and_its_log(
    steps: Steps, tmp_path: Path
) -> None:
    pid_file = tmp_path / "child.pid"
    command = ["sh", "-c", f"sleep 60 & echo $! > {pid_file}; wait"]
    started = time.monotonic()
    with pytest.raises(StepTimedOut) as stopped:
        steps.command("terraform apply", command, cwd=tmp_path, env={"PATH": "/usr/bin:/bin"})
    assert time.monotonic() - started < 30
    message = str(stopped.value)
    assert "terraform apply did not finish within 5 s" in message
    assert str(tmp_path / "logs" / "terraform-apply.log") in message
    assert gone(int(pid_file.read_text()))


def test_a_command_that_fails_names_its_log(steps: Steps, tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"terraform apply failed \(exit 3\).*terraform-apply\.log"):
        steps.command("terraform apply", ["sh", "-c", "echo broken >&2; exit 3"], cwd=tmp_path, env={})
    assert (tmp_path / "logs" / "terraform-apply.log").read_text() == "broken\n"


def test_a_command_returns_its_output_and_its_time(steps: Steps, tmp_path: Path) -> None:
    assert steps.command("terraform apply", ["echo", "applied"], cwd=tmp_path, env={}) == "applied\n"
    assert [name for name, _ in steps.times] == ["terraform apply"]


def test_a_step_in_this_process_that_overruns_ends_the_demo_and_removes_its_folder(tmp_path: Path) -> None:
    work = tmp_path / "work"
    script = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from tests.support.demo import Steps

        work = Path({str(work)!r})
        work.mkdir()
        (work / "terraform.tfstate").write_text("{{}}")
        steps = Steps(work, limits={{"seed": 1.0}}, logs=Path({str(tmp_path)!r}))
        with steps.step("seed"):
            time.sleep(60)
        """
    )
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert time.monotonic() - started < 30
    assert result.returncode == 1
    assert "step 'seed' did not finish within 1 s" in result.stderr
    assert not work.exists()
