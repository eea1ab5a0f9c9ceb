"""`make demo`: the module applied to a local AWS emulation, a registry seeded, a cleanup run.

1. starts a patched moto server in this process (tests/support/moto_server.py);
2. applies an example (`examples/complete` unless `--example basic`) against it with the test
   harness's Terraform CLI configuration;
3. seeds a registry of several repositories with tagged and untagged images of different ages;
4. prints `ecr-cleanup plan`: what the policy will delete, and why;
5. starts an execution of the state machine, waits for it, prints its summary, checks the registry
   lost exactly the planned images, and writes the run's HTML report to `.demo/report.html`;
6. destroys everything.

Nothing leaves this machine; the Terraform state and working data live in a temporary folder, the
log of every Terraform command in `.demo/` (ignored by git). The demo cannot hang: every step runs
under a time limit (`STEP_LIMITS`); when one is exceeded the demo stops it, says which step, how long
it waited and where its log is, removes its temporary folder and its processes, and exits 1. It
prints the time of each step and the total.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from ecr_cleanup.cli import main as ecr_cleanup
from tests.support.ecr_seed import create_repository, days_ago, push_image, remaining_digests
from tests.support.moto_server import MotoServer
from tests.support.terraform_cli import terraform_env, write_cli_config

ROOT = Path(__file__).resolve().parents[2]
LOGS = ROOT / ".demo"
REPORT_PAGE = LOGS / "report.html"
"""Where the demo leaves its run's HTML report (CI screenshots it into .ci/out/)."""
MiB = 1024 * 1024

STEP_LIMITS = {
    "terraform init": 120.0,
    "terraform apply": 300.0,
    "terraform output": 60.0,
    "seed": 120.0,
    "plan": 120.0,
    "execution": 300.0,
    "terraform destroy": 300.0,
}
"""Seconds each step may take; several times what it takes on a busy 2-core machine."""


class StepTimedOut(Exception):
    """A step of the demo exceeded its limit and was stopped."""


class Steps:
    """The demo's steps, each timed and bounded; external commands in process groups of their own.

    A step run in this process (seeding, planning) cannot be interrupted safely, so a watchdog ends
    the whole demo when one overruns: it says so, kills the commands still running, removes the
    temporary folder and exits 1.
    """

    def __init__(self, work: Path, *, limits: Mapping[str, float] = STEP_LIMITS, logs: Path = LOGS) -> None:
        self.work = work
        self.limits = limits
        self.logs = logs
        self.times: list[tuple[str, float]] = []
        self._children: set[subprocess.Popen[bytes]] = set()

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        limit = self.limits[name]
        started = time.monotonic()
        watchdog = threading.Timer(limit, self._abandon, args=(name, limit))
        watchdog.daemon = True
        watchdog.start()
        try:
            yield
        finally:
            watchdog.cancel()
            elapsed = time.monotonic() - started
            self.times.append((name, elapsed))
            print(f"    {name}: {elapsed:.0f} s", flush=True)

    def command(self, name: str, argv: list[str], *, cwd: Path, env: dict[str, str]) -> str:
        """Run `argv` as step `name`, its output in .demo/<name>.log (standard output alone in
        .demo/<name>.out); returns its standard output."""
        limit = self.limits[name]
        log = self.logs / f"{name.replace(' ', '-')}.log"
        out = log.with_suffix(".out")
        started = time.monotonic()
        with log.open("wb") as errors, out.open("wb") as output:
            child = subprocess.Popen(
                argv, cwd=cwd, env=env, stdout=output, stderr=errors, start_new_session=True
            )
            self._children.add(child)
            try:
                child.wait(timeout=limit)
            except subprocess.TimeoutExpired:
                self._kill(child)
                raise StepTimedOut(
                    f"{name} did not finish within {limit:.0f} s and was stopped; its log: {log}"
                ) from None
            finally:
                self._children.discard(child)
        elapsed = time.monotonic() - started
        self.times.append((name, elapsed))
        if child.returncode != 0:
            print(out.read_text()[-4000:], log.read_text()[-4000:], sep="\n", file=sys.stderr)
            raise SystemExit(f"{name} failed (exit {child.returncode}) after {elapsed:.0f} s; its log: {log}")
        print(f"    {name}: {elapsed:.0f} s", flush=True)
        return out.read_text()

    def stop(self) -> None:
        for child in list(self._children):
            self._kill(child)

    def _kill(self, child: subprocess.Popen[bytes]) -> None:
        with suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()

    def _abandon(self, name: str, limit: float) -> None:
        print(
            f"\nerror: the demo's step {name!r} did not finish within {limit:.0f} s; stopping the demo "
            f"(Terraform logs in {self.logs})",
            file=sys.stderr,
            flush=True,
        )
        self.stop()
        shutil.rmtree(self.work, ignore_errors=True)
        os._exit(1)


def say(message: str) -> None:
    print(f"\n==> {message}", flush=True)


def seed(rng: random.Random) -> dict[str, list[str]]:
    """A registry like a CI system leaves behind; returns repository -> digests."""
    registry: dict[str, list[str]] = {}

    def push(repository: str, days: float, tags: list[str], pulled: float | None = None) -> None:
        digest = push_image(
            repository,
            tags=tags,
            pushed_at=days_ago(days),
            last_pulled_at=None if pulled is None else days_ago(pulled),
            size_in_bytes=rng.randrange(40, 600) * MiB,
        )
        registry.setdefault(repository, []).append(digest)

    for name in (
        "app-api",
        "app-web",
        "service-billing",
        "tools/ci-runner",
        "tools/base-python",
        "app-api-prod",
    ):
        create_repository(name)
    for repository in ("app-api", "app-web", "service-billing"):
        for build in range(30):
            push(repository, days=build * 3 + 0.5, tags=[f"dev-{400 - build}"])
        for pr in range(8):
            push(repository, days=pr * 9 + 1, tags=[f"pr-{120 + pr}"])
        for release in range(4):
            push(repository, days=release * 60 + 10, tags=[f"v1.{release}.0"])
        push(repository, days=200, tags=["latest", "dev-100"])
        for layer in range(12):
            days = layer * 5 + 2
            push(repository, days=days, tags=[], pulled=rng.choice([None, 1, days / 2]))
    push("app-api", days=500, tags=["build-legacy"])
    for build in range(10):
        push("tools/ci-runner", days=build * 20, tags=[f"dev-{build}"])
    for build in range(6):
        push("tools/base-python", days=build * 40, tags=[f"dev-{build}"])
        push("app-api-prod", days=build * 40, tags=[f"dev-{build}"])
    return registry


def run_execution(server: MotoServer, state_machine_arn: str) -> dict[str, Any]:
    """Start an execution and wait for it; one that outlives its step's limit is stopped."""
    states = server.client("stepfunctions")
    arn = states.start_execution(stateMachineArn=state_machine_arn, input="{}")["executionArn"]
    deadline = time.monotonic() + STEP_LIMITS["execution"] - 10
    while (execution := states.describe_execution(executionArn=arn))["status"] == "RUNNING":
        if time.monotonic() > deadline:
            states.stop_execution(executionArn=arn, cause="the demo's time limit")
            waited = STEP_LIMITS["execution"] - 10
            raise StepTimedOut(f"the execution {arn} did not end within {waited:.0f} s and was stopped")
        time.sleep(0.2)
    return dict(execution)


#: The examples the demo applies. multi-account needs a role in a second account (tests/module/
#: test_accounts.py applies its shape) and multi-region a registry in two regions (tests/module/
#: test_regions.py applies it as written).
DEMO_EXAMPLES = ("basic", "complete")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Apply an example to a local AWS emulation and run a cleanup."
    )
    parser.add_argument(
        "--example",
        default="complete",
        choices=DEMO_EXAMPLES,
        help="the examples whose registry is this account's, in one region: the demo seeds one registry",
    )
    example = ROOT / "examples" / parser.parse_args(argv).example
    # moto notes that it does not evaluate ToleratedFailurePercentage (the children record their own
    # failures, see statemachine.asl.json); the demo's reader does not need to see it.
    logging.getLogger("moto.stepfunctions.parser.asl.parse.preprocessor").setLevel(logging.ERROR)
    started = time.monotonic()
    shutil.rmtree(LOGS, ignore_errors=True)
    LOGS.mkdir()
    status = 1
    work = Path(tempfile.mkdtemp(prefix="ecr-cleanup-demo-"))
    steps = Steps(work)
    try:
        with MotoServer() as server:
            status = _demo(example, server, steps)
    except (StepTimedOut, SystemExit) as error:
        print(f"\nerror: {error}", file=sys.stderr, flush=True)
    finally:
        steps.stop()
        shutil.rmtree(work, ignore_errors=True)
    say(f"Demo {'finished' if status == 0 else 'FAILED'} in {time.monotonic() - started:.0f} s")
    for name, seconds in steps.times:
        print(f"    {name:18} {seconds:5.0f} s")
    return status


def _demo(example: Path, server: MotoServer, steps: Steps) -> int:
    work = steps.work
    os.environ.update(server.environment())
    env = {
        **os.environ,
        **terraform_env(write_cli_config(work / "cli"), base={}),
        "TF_DATA_DIR": str(work / "terraform-data"),
        "TF_IN_AUTOMATION": "1",
    }
    state = f"-state={work / 'terraform.tfstate'}"
    say(f"Local AWS emulation (moto) at {server.endpoint_url}; applying examples/{example.name}")
    steps.command("terraform init", ["terraform", "init", "-input=false", "-no-color"], cwd=example, env=env)
    try:
        steps.command(
            "terraform apply",
            ["terraform", "apply", "-auto-approve", "-input=false", "-no-color", state],
            cwd=example,
            env=env,
        )
        outputs = steps.command(
            "terraform output", ["terraform", "output", "-json", state], cwd=example, env=env
        )
        state_machine = json.loads(outputs)["state_machine_arn"]["value"]
        print(f"    state machine: {state_machine}")

        say("Seeding a registry")
        with steps.step("seed"):
            registry = seed(random.Random(7))
        for repository, digests in registry.items():
            print(f"    {repository:20} {len(digests):3} images")

        say("ecr-cleanup plan: what the example's policy deletes (read only)")
        with steps.step("plan"):
            policy = work / "policy.json"
            policy.write_text(json.dumps(_example_policy(example, env, state)))
            ecr_cleanup(["plan", "--policy", str(policy), "--format", "table"])
            report = io.StringIO()
            ecr_cleanup(["plan", "--policy", str(policy), "--format", "json"], stdout=report)
        planned = {
            r["name"]: {i["digest"] for i in r["delete"]}
            for r in json.loads(report.getvalue())["repositories"]
        }

        say("Running the state machine (execution input {})")
        with steps.step("execution"):
            execution = run_execution(server, state_machine)
        summary = json.loads(execution.get("output") or "{}")
        print(f"    status: {execution['status']}")
        print(f"    {summary.get('message', execution.get('cause', ''))}")

        gone = {
            repository: set(digests) - remaining_digests(repository)
            for repository, digests in registry.items()
        }
        gone = {repository: digests for repository, digests in gone.items() if digests}
        matches = gone == {name: digests for name, digests in planned.items() if digests}
        print(f"    the registry lost exactly the planned images: {'yes' if matches else 'NO'}")
        page = _fetch_report(server, summary.get("report_html"))
        if page is not None:
            REPORT_PAGE.write_text(page, encoding="utf-8")
            print(f"    the run's HTML report: {REPORT_PAGE}")
    finally:
        say("Destroying")
        steps.command(
            "terraform destroy",
            ["terraform", "destroy", "-auto-approve", "-input=false", "-no-color", state],
            cwd=example,
            env=env,
        )
    return 0 if execution["status"] == "SUCCEEDED" and matches else 1


def _fetch_report(server: MotoServer, location: object) -> str | None:
    """The run's HTML report (`s3://bucket/key`), or None when the run wrote none."""
    if not isinstance(location, str) or not location.startswith("s3://"):
        return None
    bucket, key = location.removeprefix("s3://").split("/", 1)
    return str(server.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode())


def _example_policy(example: Path, env: dict[str, str], state: str) -> Any:
    """The policy the example passes to the module, read back from the deployed definition."""
    shown = subprocess.run(
        ["terraform", "show", "-json", state.removeprefix("-state=")],
        cwd=example,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    for resource in json.loads(shown.stdout)["values"]["root_module"]["child_modules"][0]["resources"]:
        if resource["type"] == "aws_sfn_state_machine":
            definition = json.loads(resource["values"]["definition"])
            return definition["States"]["ListRepositories"]["Parameters"]["Payload"]["policy"]
    raise SystemExit("no state machine in the state")


if __name__ == "__main__":
    sys.exit(main())
