"""`make demo`: the module applied to a local AWS emulation, a registry seeded, a cleanup run.

1. starts a patched moto server in this process (tests/support/moto_server.py);
2. applies an example (`examples/complete` unless `--example basic`) against it with the test
   harness's Terraform CLI configuration;
3. seeds a registry of several repositories with tagged and untagged images of different ages;
4. prints `ecr-cleanup plan`: what the policy will delete, and why;
5. starts an execution of the state machine, waits for it, prints its summary, and checks the registry
   lost exactly the planned images;
6. destroys everything.

Nothing leaves this machine; the Terraform state and working data live in a temporary folder.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ecr_cleanup.cli import main as ecr_cleanup
from tests.support.ecr_seed import create_repository, days_ago, push_image, remaining_digests
from tests.support.moto_server import MotoServer
from tests.support.terraform_cli import terraform_env, write_cli_config

ROOT = Path(__file__).resolve().parents[2]
MiB = 1024 * 1024


def say(message: str) -> None:
    print(f"\n==> {message}", flush=True)


def terraform(example: Path, env: dict[str, str], *args: str) -> None:
    started = time.monotonic()
    result = subprocess.run(
        ["terraform", *args, "-no-color"], cwd=example, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        print(result.stdout[-4000:], result.stderr[-4000:], sep="\n", file=sys.stderr)
        raise SystemExit(f"terraform {args[0]} failed")
    print(f"    terraform {args[0]}: done in {time.monotonic() - started:.0f} s")


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
    states = server.client("stepfunctions")
    arn = states.start_execution(stateMachineArn=state_machine_arn, input="{}")["executionArn"]
    while (execution := states.describe_execution(executionArn=arn))["status"] == "RUNNING":
        time.sleep(0.2)
    return dict(execution)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Apply an example to a local AWS emulation and run a cleanup."
    )
    parser.add_argument(
        "--example", default="complete", choices=sorted(p.name for p in (ROOT / "examples").iterdir())
    )
    example = ROOT / "examples" / parser.parse_args(argv).example
    # moto notes that it does not evaluate ToleratedFailurePercentage (the children record their own
    # failures, see statemachine.asl.json); the demo's reader does not need to see it.
    logging.getLogger("moto.stepfunctions.parser.asl.parse.preprocessor").setLevel(logging.ERROR)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ecr-cleanup-demo-") as tmp, MotoServer() as server:
        work = Path(tmp)
        os.environ.update(server.environment())
        env = {
            **os.environ,
            **terraform_env(write_cli_config(work / "cli"), base={}),
            "TF_DATA_DIR": str(work / "terraform-data"),
        }
        state = f"-state={work / 'terraform.tfstate'}"
        say(f"Local AWS emulation (moto) at {server.endpoint_url}; applying examples/{example.name}")
        terraform(example, env, "init", "-input=false")
        try:
            terraform(example, env, "apply", "-auto-approve", "-input=false", state)
            outputs = subprocess.run(
                ["terraform", "output", "-json", state],
                cwd=example,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            state_machine = json.loads(outputs.stdout)["state_machine_arn"]["value"]
            print(f"    state machine: {state_machine}")

            say("Seeding a registry")
            registry = seed(random.Random(7))
            for repository, digests in registry.items():
                print(f"    {repository:20} {len(digests):3} images")

            say("ecr-cleanup plan: what the example's policy deletes (read only)")
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
        finally:
            say("Destroying")
            terraform(example, env, "destroy", "-auto-approve", "-input=false", state)
    say(f"Demo finished in {time.monotonic() - started:.0f} s")
    return 0 if execution["status"] == "SUCCEEDED" and matches else 1


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
