"""The harness that applies the module: a patched moto server and Terraform pointed at it.

pytest-terraform runs `terraform` with this process's environment, so the session fixture below puts
the CLI configuration (local aws mirror, archive stand-in) and the server's endpoint into `os.environ`
before any Terraform fixture runs, and takes them out again at the end.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.moto_server import MotoServer
from tests.support.terraform_cli import terraform_env, write_cli_config

TERRAFORM_ROOTS = Path(__file__).resolve().parents[1] / "terraform"


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


@pytest.fixture(scope="session")
def terraform_environment(
    moto_server: MotoServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """`os.environ` for the whole session: Terraform's CLI configuration and the server's endpoint."""
    cli_config = write_cli_config(tmp_path_factory.mktemp("terraform-cli"))
    wanted = {**terraform_env(cli_config, base={}), **moto_server.environment()}
    saved = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    try:
        yield dict(os.environ)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_terraform(
    root: Path,
    *args: str,
    env: dict[str, str],
    data_dir: Path | None = None,
    check: bool = False,
    timeout: int = 600,
) -> subprocess.CompletedProcess[str]:
    """Run terraform in `root` (its working data in `data_dir`, if given) and capture its output.

    With `check`, a non-zero exit fails the test with Terraform's output.
    """
    environment = dict(env)
    if data_dir is not None:
        environment["TF_DATA_DIR"] = str(data_dir)
    result = subprocess.run(
        ["terraform", *args, "-no-color"],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        command = " ".join(args)
        pytest.fail(
            f"terraform {command} in {root} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
    return result


EXECUTION_TIMEOUT = 120


def execute(server: MotoServer, applied: Any, execution_input: dict[str, Any]) -> dict[str, Any]:
    """Start an execution of the applied root's state machine and wait until it ends."""
    states = server.client("stepfunctions")
    arn = states.start_execution(
        stateMachineArn=applied.outputs["state_machine_arn"]["value"], input=json.dumps(execution_input)
    )["executionArn"]
    deadline = time.monotonic() + EXECUTION_TIMEOUT
    while (execution := states.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"execution still running after {EXECUTION_TIMEOUT} s"
        time.sleep(0.2)
    return dict(execution)


def plan_again(root: str, applied: Any, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`terraform plan -detailed-exitcode` of an applied root: exit 0 means no changes."""
    runner = applied.terraform
    return run_terraform(
        TERRAFORM_ROOTS / root,
        "plan",
        "-detailed-exitcode",
        "-input=false",
        f"-state={runner.state_path}",
        env=env,
        data_dir=runner.work_dir,
    )
