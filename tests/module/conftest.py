"""The harness that applies the module: a patched moto server and Terraform pointed at it.

pytest-terraform runs `terraform` with this process's environment, so the session fixture below puts
the CLI configuration (local aws mirror, archive stand-in) and the server's endpoint into `os.environ`
before any Terraform fixture runs, and takes them out again at the end.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pytest_terraform.tf import terraform

from tests.support.moto_server import MotoServer
from tests.support.terraform_cli import terraform_env, write_cli_config

TERRAFORM_ROOTS = Path(__file__).resolve().parents[1] / "terraform"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Refuse a Terraform root applied for the whole session that the tests of two files use.

    `make module-tests` runs two workers, each given whole files (`--dist loadfile`) and each with its
    own moto server. pytest-terraform applies such a root once, in the first worker that asks for it,
    and hands its outputs to any other worker that asks, whose server holds none of its resources.
    """
    roots = {fixture.name for fixture in terraform.get_fixtures() if fixture.scope != "function"}
    files: dict[str, set[str]] = {}
    for item in items:
        for name in roots.intersection(item.fixturenames):
            files.setdefault(name, set()).add(item.nodeid.split("::")[0])
    shared = {name: sorted(paths) for name, paths in files.items() if len(paths) > 1}
    if shared:
        raise pytest.UsageError(
            "Terraform roots used by the tests of several files (each file runs on one worker, with "
            "its own moto server; give each file a root of its own): "
            + "; ".join(f"{name}: {', '.join(paths)}" for name, paths in sorted(shared.items()))
        )


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


def execute(
    server: MotoServer, applied: Any, execution_input: dict[str, Any], *, timeout: float = EXECUTION_TIMEOUT
) -> dict[str, Any]:
    """Start an execution of the applied root's state machine and wait until it ends."""
    return wait_for(server, start(server, applied, execution_input), timeout=timeout)


def start(server: MotoServer, applied: Any, execution_input: dict[str, Any]) -> str:
    """Start an execution of the applied root's state machine; its ARN."""
    return str(
        server.client("stepfunctions").start_execution(
            stateMachineArn=applied.outputs["state_machine_arn"]["value"], input=json.dumps(execution_input)
        )["executionArn"]
    )


def wait_for(server: MotoServer, arn: str, *, timeout: float = EXECUTION_TIMEOUT) -> dict[str, Any]:
    """The execution once it has ended, asked of the region in its ARN."""
    states = server.client("stepfunctions", region=arn.split(":")[3])
    deadline = time.monotonic() + timeout
    while (execution := states.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"execution still running after {timeout} s"
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


MODULE_ROOT = Path(__file__).resolve().parents[2]

#: What a checkout holds besides the configuration: never copied.
NOT_CONFIGURATION = shutil.ignore_patterns(
    ".git",
    ".venv*",
    "*_cache",
    ".hypothesis",
    ".tools",
    ".demo",
    "__pycache__",
    ".terraform",
    ".terraform.lock.hcl",
    "terraform.tfstate*",
    "builds",
    "*.zip",
)


@dataclass(frozen=True)
class PlannedCases:
    """One `terraform plan` of many instances of the module, one per case: its exit status, the
    diagnostics of each case, and (when the plan succeeded) what each case would create."""

    returncode: int
    output: str
    diagnostics: dict[str, str]
    planned: dict[str, dict[str, dict[str, Any]]]


def plan_cases(env: dict[str, str], workdir: Path, cases: dict[str, dict[str, Any]]) -> PlannedCases:
    """Plan `cases` (case name -> module inputs) as instances of the module in one root.

    A plan costs seconds, mostly in starting the providers; one plan of many module instances costs
    little more than one, and Terraform reports every instance's invalid inputs in the same run. The
    root is generated in `workdir` with JSON syntax and refers to the module by a relative path.
    Every input goes through a variable: a literal argument that fails its validation ends the
    plan in its validate walk, before any other instance's inputs are checked.
    """
    root = workdir / "root"
    root.mkdir(parents=True)
    source = os.path.relpath(MODULE_ROOT, root)
    document: dict[str, Any] = {
        "terraform": {
            "required_providers": {
                "aws": {"source": "hashicorp/aws", "version": ">= 5.0"},
                "archive": {"source": "hashicorp/archive", "version": ">= 2.4"},
            }
        },
        "provider": {
            "aws": {
                "region": "us-east-1",
                "skip_credentials_validation": True,
                "skip_metadata_api_check": True,
                "skip_region_validation": True,
            }
        },
        "variable": {case: {"type": "any"} for case in cases},
        "module": {
            case: {
                "source": source,
                "name": case.replace("_", "-"),
                **{key: f"${{var.{case}.{key}}}" for key in inputs},
            }
            for case, inputs in cases.items()
        },
    }
    (root / "main.tf.json").write_text(json.dumps(document, indent=1))
    (root / "cases.auto.tfvars.json").write_text(json.dumps(cases))
    data_dir = workdir / "data"
    run_terraform(root, "init", "-input=false", env=env, data_dir=data_dir, check=True)
    plan_file = workdir / "cases.tfplan"
    result = run_terraform(
        root,
        "plan",
        "-input=false",
        "-refresh=false",
        f"-state={workdir / 'terraform.tfstate'}",
        f"-out={plan_file}",
        env=env,
        data_dir=data_dir,
    )
    output = result.stdout + result.stderr
    planned: dict[str, dict[str, dict[str, Any]]] = {}
    if result.returncode == 0:
        shown = run_terraform(root, "show", "-json", str(plan_file), env=env, data_dir=data_dir, check=True)
        for module in json.loads(shown.stdout)["planned_values"]["root_module"]["child_modules"]:
            case = module["address"].removeprefix("module.")
            planned[case] = {
                resource["address"].removeprefix(f"{module['address']}."): resource.get("values", {})
                for resource in module["resources"]
            }
    return PlannedCases(result.returncode, output, _diagnostics_by_case(output, cases), planned)


def _diagnostics_by_case(output: str, cases: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Each case's diagnostics as one line (Terraform wraps long messages)."""
    by_case: dict[str, str] = dict.fromkeys(cases, "")
    for block in re.split(r"^(?:│ )?Error: ", output, flags=re.MULTILINE)[1:]:
        found = re.search(r'in module(?: "([^"]+)"|\.([\w-]+))', block)
        case = found and (found[1] or found[2])
        if case and case in by_case:
            text = " ".join(block.replace("│", " ").split())
            by_case[case] += f"Error: {text} "
    return by_case
