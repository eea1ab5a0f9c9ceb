"""The module applied against moto, then run: the state machine executes the real handlers.

`tests/terraform/cleanup` calls the module as a user would. pytest-terraform applies it once for
the session; the tests below then seed registries, start executions and check what is gone.
The last test destroys it and checks nothing is left.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from moto.core.exceptions import JsonRESTError
from moto.ecr.models import ECRBackend
from pytest_terraform import terraform

from tests.module.conftest import TERRAFORM_ROOTS, execute, plan_again, run_terraform
from tests.support.ecr_seed import create_repository, days_ago, ecr_backend, push_image, remaining_digests
from tests.support.moto_server import MotoServer

pytestmark = pytest.mark.module

terraform("cleanup", scope="session")


@pytest.fixture(scope="session")
def module(terraform_environment: dict[str, str], cleanup: Any) -> Any:
    """The applied root configuration (after the environment points Terraform at moto)."""
    return cleanup


@pytest.fixture
def registry(module: Any) -> Iterator[dict[str, dict[str, str]]]:
    """Repositories seeded with images of known ages and tags: repository -> label -> digest.

    `app-skipped` is excluded by the policy, `other` is not included; both must stay untouched.
    """
    seeded: dict[str, dict[str, str]] = {}

    def push(repository: str, label: str, **kwargs: Any) -> None:
        seeded.setdefault(repository, {})[label] = push_image(repository, **kwargs)

    for name in ("app-api", "app-worker", "web-site", "app-skipped", "other"):
        create_repository(name)
    for repository in ("app-api", "app-worker"):
        for day in (120, 100, 80, 60, 10):
            push(repository, f"dev-{day}", tags=[f"dev-{day}"], pushed_at=days_ago(day))
        push(repository, "latest", tags=["dev-300", "latest"], pushed_at=days_ago(300))
        push(repository, "v1", tags=["v1.0"], pushed_at=days_ago(400))
        push(repository, "untagged-old", pushed_at=days_ago(40))
        push(repository, "untagged-pulled", pushed_at=days_ago(40), last_pulled_at=days_ago(1))
        push(repository, "untagged-new", pushed_at=days_ago(5))
    push("web-site", "old", tags=["build-7"], pushed_at=days_ago(100))
    push("web-site", "new", tags=["build-8"], pushed_at=days_ago(50))
    push("web-site", "v2", tags=["v2"], pushed_at=days_ago(500))
    push("app-skipped", "dev-old", tags=["dev-1"], pushed_at=days_ago(500))
    push("other", "dev-old", tags=["dev-1"], pushed_at=days_ago(500))
    yield seeded
    backend = ecr_backend()
    for name in list(backend.repositories):
        backend.delete_repository(name, None, force=True)


EXPECTED_GONE = {
    "app-api": {"dev-120", "dev-100", "dev-80", "untagged-old"},
    "app-worker": {"dev-120", "dev-100", "dev-80", "untagged-old"},
    "web-site": {"old"},
}


def gone(seeded: dict[str, dict[str, str]]) -> dict[str, set[str]]:
    result = {}
    for repository, images in seeded.items():
        left = remaining_digests(repository)
        labels = {label for label, digest in images.items() if digest not in left}
        if labels:
            result[repository] = labels
    return result


def test_a_second_plan_shows_no_changes(module: Any, terraform_environment: dict[str, str]) -> None:
    result = plan_again("cleanup", module, terraform_environment)
    assert result.returncode == 0, result.stdout + result.stderr


def test_outputs_name_every_part_a_user_wires_elsewhere(module: Any) -> None:
    outputs = {name: value["value"] for name, value in module.outputs.items()}
    assert outputs["state_machine_name"] == "ecr-cleanup-test"
    assert outputs["state_machine_arn"].endswith(":stateMachine:ecr-cleanup-test")
    assert set(outputs["lambda_function_arns"]) == {"list", "cleanup", "summarise"}
    assert all(
        ":role/" in outputs[name]
        for name in ("lambda_role_arn", "state_machine_role_arn", "scheduler_role_arn")
    )
    assert outputs["schedule_arn"].endswith(":schedule/default/ecr-cleanup-test")
    assert set(outputs["log_group_names"].values()) == {
        f"/aws/lambda/{name}" for name in outputs["lambda_function_names"].values()
    }


def test_the_schedule_starts_the_state_machine_with_an_empty_input(
    module: Any, moto_server: MotoServer
) -> None:
    schedule = moto_server.client("scheduler").get_schedule(Name="ecr-cleanup-test")
    assert schedule["ScheduleExpression"] == "cron(15 4 ? * MON *)"
    assert schedule["ScheduleExpressionTimezone"] == "Europe/Paris"
    assert schedule["State"] == "ENABLED"
    assert schedule["Target"]["Arn"] == module.outputs["state_machine_arn"]["value"]
    assert json.loads(schedule["Target"]["Input"]) == {}
    assert schedule["Target"]["RoleArn"] == module.outputs["scheduler_role_arn"]["value"]


def test_the_functions_run_the_packaged_engine(module: Any, moto_server: MotoServer) -> None:
    functions = moto_server.client("lambda")
    for key, name in module.outputs["lambda_function_names"]["value"].items():
        configuration = functions.get_function_configuration(FunctionName=name)
        handler = {"list": "list_repositories", "cleanup": "cleanup_repository", "summarise": "summarise"}[
            key
        ]
        assert configuration["Handler"] == f"ecr_cleanup.handlers.{handler}"
        assert configuration["Runtime"].startswith("python3.1")
        assert configuration["Architectures"] == ["arm64"]
        assert "policy" not in json.dumps(configuration.get("Environment", {}))


def test_the_cleanup_role_deletes_only_in_repositories_the_policy_can_select(
    module: Any, moto_server: MotoServer
) -> None:
    iam = moto_server.client("iam")
    role = module.outputs["lambda_role_arn"]["value"].rsplit("/", 1)[1]
    statements = [
        statement
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]
        for statement in _statements(iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"])
    ]
    deleting = [s for s in statements if "ecr:BatchDeleteImage" in _as_list(s["Action"])]
    assert deleting, statements
    resources = {resource for statement in deleting for resource in _as_list(statement["Resource"])}
    assert {resource.rsplit(":repository/", 1)[1] for resource in resources} == {"app-*", "web-*", "broken-*"}
    assert not any(action == "ecr:*" for s in statements for action in _as_list(s["Action"]))


def test_an_execution_deletes_exactly_what_the_policy_says(
    module: Any, moto_server: MotoServer, registry: dict[str, dict[str, str]]
) -> None:
    execution = execute(moto_server, module, {})
    assert execution["status"] == "SUCCEEDED", execution
    assert gone(registry) == EXPECTED_GONE
    summary = json.loads(execution["output"])
    assert (summary["repositories"], summary["deleted"], summary["failed_count"]) == (3, 9, 0)


def test_a_dry_run_execution_deletes_nothing(
    module: Any, moto_server: MotoServer, registry: dict[str, dict[str, str]]
) -> None:
    execution = execute(moto_server, module, {"dry_run": True})
    assert execution["status"] == "SUCCEEDED", execution
    assert gone(registry) == {}
    summary = json.loads(execution["output"])
    assert (summary["dry_run"], summary["delete"], summary["deleted"]) == (True, 9, 0)


def test_a_misspelt_execution_input_is_refused_and_deletes_nothing(
    module: Any, moto_server: MotoServer, registry: dict[str, dict[str, str]]
) -> None:
    execution = execute(moto_server, module, {"dryrun": True})
    assert execution["status"] == "FAILED"
    assert "dryrun" in execution.get("cause", "")
    assert gone(registry) == {}


@pytest.fixture
def broken_repository(registry: dict[str, dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> str:
    """A repository whose images cannot be read, as if access to it were denied."""
    create_repository("broken-one")
    registry["broken-one"] = {"dev-old": push_image("broken-one", tags=["dev-1"], pushed_at=days_ago(500))}
    describe = ECRBackend.describe_images

    def describe_images(self: ECRBackend, repository_name: str, *args: Any, **kwargs: Any) -> Any:
        if repository_name == "broken-one":
            raise JsonRESTError("AccessDeniedException", "not authorized to perform ecr:DescribeImages")
        return describe(self, repository_name, *args, **kwargs)

    monkeypatch.setattr(ECRBackend, "describe_images", describe_images)
    return "broken-one"


def test_a_failing_repository_does_not_stop_the_others(
    module: Any, moto_server: MotoServer, registry: dict[str, dict[str, str]], broken_repository: str
) -> None:
    execution = execute(moto_server, module, {})
    assert execution["status"] == "FAILED"
    assert execution["error"] == "RepositoriesFailed"
    assert "broken-one" in execution["cause"]
    assert "AccessDeniedException" in execution["cause"]
    assert gone(registry) == EXPECTED_GONE


def test_destroy_removes_everything(
    module: Any, terraform_environment: dict[str, str], moto_server: MotoServer
) -> None:
    runner = module.terraform
    result = run_terraform(
        TERRAFORM_ROOTS / "cleanup",
        "destroy",
        "-auto-approve",
        "-input=false",
        f"-state={runner.state_path}",
        env=terraform_environment,
        data_dir=runner.work_dir,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert moto_server.client("stepfunctions").list_state_machines()["stateMachines"] == []
    assert moto_server.client("lambda").list_functions()["Functions"] == []
    assert moto_server.client("scheduler").list_schedules()["Schedules"] == []


def _statements(document: Any) -> list[dict[str, Any]]:
    parsed = json.loads(document) if isinstance(document, str) else document
    return list(parsed["Statement"])


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)
