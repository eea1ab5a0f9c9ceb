"""The module applied against moto, then run: the state machine executes the real handlers.

`tests/terraform/cleanup` calls the module as a user would. pytest-terraform applies it once for
the session; the tests below then seed registries, start executions and check what is gone.
The last test destroys it and checks nothing is left.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from moto.backends import get_backend
from moto.core.exceptions import JsonRESTError
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ecr.responses import ECRResponse
from pytest_terraform import terraform

from ecr_cleanup.usage import UsageCollector
from tests.module.conftest import (
    EXECUTION_TIMEOUT,
    TERRAFORM_ROOTS,
    execute,
    plan_again,
    run_terraform,
    start,
    wait_for,
)
from tests.support.ecr_seed import (
    create_repository,
    days_ago,
    ecr_backend,
    find_image,
    push_image,
    push_images,
    remaining_digests,
)
from tests.support.moto_patches import SandboxEnded
from tests.support.moto_server import MotoServer
from tests.support.traffic import Served, intercepting, recording

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
    assert set(outputs["lambda_function_arns"]) == {"list", "cleanup", "summarise", "notify"}
    assert outputs["execution_ended_rule_arn"].endswith(":rule/ecr-cleanup-test-execution-ended")
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
        handler = {
            "list": "list_repositories",
            "cleanup": "cleanup_repositories",
            "summarise": "summarise",
            "notify": "notify",
        }[key]
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
    describe = ECRResponse.describe_images

    def describe_images(self: ECRResponse) -> Any:
        if self._get_param("repositoryName") == "broken-one":
            raise JsonRESTError("AccessDeniedException", "not authorized to perform ecr:DescribeImages")
        return describe(self)

    monkeypatch.setattr(ECRResponse, "describe_images", describe_images)
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


@pytest.fixture
def lambda_service_errors(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Lambda answers every function's first and third invocation with a service error (500
    ServiceException, then 429 TooManyRequestsException), as a busy Lambda does; counts them."""
    from moto.awslambda.models import LambdaFunction

    invocations: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    invoke = LambdaFunction.invoke

    def flaky(self: LambdaFunction, *args: Any, **kwargs: Any) -> Any:
        invocations[self.function_name] += 1
        if invocations[self.function_name] == 1:
            refused[self.function_name] += 1
            raise JsonRESTError("ServiceException", "Lambda was unable to serve the request")
        if invocations[self.function_name] == 3:
            refused[self.function_name] += 1
            error = JsonRESTError("TooManyRequestsException", "Rate exceeded")
            error.code = 429
            raise error
        return invoke(self, *args, **kwargs)

    monkeypatch.setattr(LambdaFunction, "invoke", flaky)
    return refused


def test_the_state_machine_retries_lambda_service_errors_on_every_state(
    module: Any,
    moto_server: MotoServer,
    registry: dict[str, dict[str, str]],
    lambda_service_errors: Counter[str],
) -> None:
    execution = execute(moto_server, module, {})
    assert execution["status"] == "SUCCEEDED", execution
    assert gone(registry) == EXPECTED_GONE
    functions = {name.rsplit("-", 1)[1]: n for name, n in lambda_service_errors.items()}
    assert functions == {"list": 1, "cleanup": 2, "summarise": 1}


@pytest.fixture
def big_repository(registry: dict[str, dict[str, str]]) -> Iterator[dict[str, str]]:
    """`app-big`: 350 dev builds the policy deletes (four delete batches) and the 2 it keeps."""
    create_repository("app-big")
    images = {
        f"dev-{number}": push_image("app-big", tags=[f"dev-{number}"], pushed_at=days_ago(400 - number))
        for number in range(352)
    }
    registry["app-big"] = images
    yield images
    ecr_backend().delete_repository("app-big", None, force=True)


@pytest.fixture
def timeout_after_two_delete_batches(monkeypatch: pytest.MonkeyPatch) -> list[set[str]]:
    """The cleanup of `app-big` runs out of time right after its second BatchDeleteImage succeeded:
    the images are gone, the function never hears so. Returns the digests of each served batch."""
    served: list[set[str]] = []
    delete = ECRResponse.batch_delete_image

    def batch_delete_image(self: ECRResponse) -> Any:
        answer = delete(self)
        if self._get_param("repositoryName") == "app-big":
            served.append({image["imageDigest"] for image in self._get_param("imageIds")})
            if len(served) == 2:
                raise SandboxEnded
        return answer

    monkeypatch.setattr(ECRResponse, "batch_delete_image", batch_delete_image)
    return served


def test_a_cleanup_that_runs_out_of_time_mid_deletion_is_finished_by_the_next_run(
    module: Any,
    moto_server: MotoServer,
    registry: dict[str, dict[str, str]],
    big_repository: dict[str, str],
    timeout_after_two_delete_batches: list[set[str]],
) -> None:
    first = execute(moto_server, module, {})
    assert first["status"] == "FAILED", first
    assert first["error"] == "RepositoriesFailed"
    assert "app-big" in first["cause"]
    assert "Sandbox.Timedout" in first["cause"]
    assert "(deleted 200 before it failed)" in first["cause"]
    deleted_before_timeout = set().union(*timeout_after_two_delete_batches)
    assert len(deleted_before_timeout) == 200
    assert set(big_repository.values()) - remaining_digests("app-big") == deleted_before_timeout
    assert gone(registry).items() >= EXPECTED_GONE.items()

    second = execute(moto_server, module, {})
    assert second["status"] == "SUCCEEDED", second
    assert json.loads(second["output"])["deleted"] == 150
    expected = {**EXPECTED_GONE, "app-big": {f"dev-{number}" for number in range(350)}}
    assert gone(registry) == expected


@dataclass
class Hold:
    """Executions held back: `release` lets them go on; `held` is set once one was held."""

    release: threading.Event = field(default_factory=threading.Event)
    held: threading.Event = field(default_factory=threading.Event)


@contextmanager
def held_before_their_cleanups() -> Iterator[Hold]:
    """Every execution's Map waits to read its items (a Step Functions thread, not a function) until
    released: an execution that gets past its list step stays RUNNING, between that step and its
    cleanups, for as long as the test needs."""
    hold = Hold()

    def wait(served: Served, serve: Callable[[], Any]) -> Any:
        if served.operation == "GET object" and "/_run/items.json" in (served.url or ""):
            hold.held.set()
            hold.release.wait(timeout=EXECUTION_TIMEOUT)
        return serve()

    with intercepting(wait):
        try:
            yield hold
        finally:
            hold.release.set()


def test_of_two_runs_started_at_once_only_the_first_deletes(
    module: Any, moto_server: MotoServer, registry: dict[str, dict[str, str]]
) -> None:
    with held_before_their_cleanups() as hold:
        scheduled = start(moto_server, module, {})
        manual = start(moto_server, module, {})
        second = wait_for(moto_server, manual)
        assert hold.held.wait(timeout=EXECUTION_TIMEOUT), "the first run never reached its cleanups"
        hold.release.set()
        first = wait_for(moto_server, scheduled)
    assert first["status"] == "SUCCEEDED", first
    assert second["status"] == "FAILED", second
    assert second["error"] == "AnotherRunInProgress"
    assert first["name"] in second["cause"]
    assert gone(registry) == EXPECTED_GONE


def test_a_run_repeated_after_a_successful_run_deletes_nothing(
    module: Any, moto_server: MotoServer, registry: dict[str, dict[str, str]]
) -> None:
    assert execute(moto_server, module, {})["status"] == "SUCCEEDED"
    again = execute(moto_server, module, {})
    assert again["status"] == "SUCCEEDED", again
    assert json.loads(again["output"])["deleted"] == 0
    assert gone(registry) == EXPECTED_GONE


################################################################################
# One images-in-use scan per run; repositories larger than one invocation
################################################################################

ECR_HOST = f"{DEFAULT_ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com"


@pytest.fixture
def ecs_estate(module: Any, moto_server: MotoServer) -> Iterator[dict[str, dict[str, str]]]:
    """60 repositories of four dev builds; three clusters whose twelve services run the oldest build
    of the first twelve repositories."""
    seeded: dict[str, dict[str, str]] = {}
    for number in range(60):
        name = f"app-estate-{number:02d}"
        create_repository(name)
        seeded[name] = {
            f"dev-{day}": push_image(name, tags=[f"dev-{day}"], pushed_at=days_ago(day))
            for day in (100, 90, 80, 70)
        }
    ecs = moto_server.client("ecs")
    for cluster in range(3):
        ecs.create_cluster(clusterName=f"estate-{cluster}")
        for number in range(4):
            name = f"app-estate-{cluster * 4 + number:02d}"
            container = {"name": "main", "image": f"{ECR_HOST}/{name}:dev-100", "memory": 64}
            ecs.register_task_definition(family=name, containerDefinitions=[container])
            ecs.create_service(
                cluster=f"estate-{cluster}", serviceName=name, taskDefinition=name, desiredCount=1
            )
    yield seeded
    for cluster in range(3):
        for service in ecs.list_services(cluster=f"estate-{cluster}")["serviceArns"]:
            ecs.delete_service(cluster=f"estate-{cluster}", service=service, force=True)
        ecs.delete_cluster(cluster=f"estate-{cluster}")
    backend = ecr_backend()
    for name in seeded:
        backend.delete_repository(name, None, force=True)


def test_a_run_reads_the_images_in_use_once_whatever_the_number_of_repositories(
    module: Any, moto_server: MotoServer, ecs_estate: dict[str, dict[str, str]]
) -> None:
    with recording() as one_scan:
        UsageCollector(ecs=moto_server.client("ecs"), lambda_client=moto_server.client("lambda")).collect()
    with recording() as traffic:
        execution = execute(moto_server, module, {})
    assert execution["status"] == "SUCCEEDED", execution
    workload_reads = traffic.total("ecs", "lambda") - traffic.of("lambda")["Invoke"]
    assert workload_reads <= 2 * one_scan.total("ecs", "lambda")
    assert traffic.of("ecs")["DescribeTaskDefinition"] == 12
    for number, (name, images) in enumerate(ecs_estate.items()):
        gone = {label for label, digest in images.items() if digest not in remaining_digests(name)}
        assert gone == ({"dev-90"} if number < 12 else {"dev-100", "dev-90"}), name


@pytest.fixture
def dormant_workloads(module: Any, moto_server: MotoServer) -> Iterator[dict[str, str]]:
    """`app-dormant` with ten old dev builds, and what starts some later: a schedule (build 1), an
    EventBridge rule (build 2), a Batch job (build 3), and a service on revision 7 of `api` whose
    revisions 1..7 run builds 4..10. label -> digest."""
    create_repository("app-dormant")
    builds = {
        f"b{n}": push_image("app-dormant", tags=[f"dev-{n}"], pushed_at=days_ago(100 - n))
        for n in range(1, 11)
    }
    ecs = moto_server.client("ecs")

    def register(family: str, build: str) -> str:
        container = {"name": "main", "image": f"{ECR_HOST}/app-dormant:dev-{build[1:]}", "memory": 64}
        response = ecs.register_task_definition(family=family, containerDefinitions=[container])
        return str(response["taskDefinition"]["taskDefinitionArn"])

    cluster = ecs.create_cluster(clusterName="dormant")["cluster"]["clusterArn"]
    role = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/runner"
    nightly, daily = register("nightly", "b1"), register("daily", "b2")
    moto_server.client("scheduler").create_schedule(
        Name="nightly",
        ScheduleExpression="cron(0 2 * * ? *)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": cluster, "RoleArn": role, "EcsParameters": {"TaskDefinitionArn": nightly}},
    )
    events = moto_server.client("events")
    events.put_rule(Name="daily", ScheduleExpression="rate(1 day)")
    events.put_targets(
        Rule="daily",
        Targets=[{"Id": "t", "Arn": cluster, "RoleArn": role, "EcsParameters": {"TaskDefinitionArn": daily}}],
    )
    moto_server.client("batch").register_job_definition(
        jobDefinitionName="etl",
        type="container",
        containerProperties={"image": f"{ECR_HOST}/app-dormant:dev-3", "vcpus": 1, "memory": 512},
    )
    for n in range(4, 11):
        register("api", f"b{n}")
    ecs.create_service(cluster="dormant", serviceName="api", taskDefinition="api:7", desiredCount=1)
    yield builds
    moto_server.client("scheduler").delete_schedule(Name="nightly")
    events.remove_targets(Rule="daily", Ids=["t"])
    events.delete_rule(Name="daily")
    moto_server.client("batch").deregister_job_definition(jobDefinition="etl:1")
    for family in ("nightly", "daily", "api"):
        for arn in ecs.list_task_definitions(familyPrefix=family)["taskDefinitionArns"]:
            ecs.deregister_task_definition(taskDefinition=arn)
    ecs.delete_service(cluster="dormant", service="api", force=True)
    ecs.delete_cluster(cluster="dormant")
    ecr_backend().delete_repository("app-dormant", None, force=True)


def test_an_execution_keeps_what_dormant_workloads_will_run(
    module: Any, moto_server: MotoServer, dormant_workloads: dict[str, str]
) -> None:
    execution = execute(moto_server, module, {})
    assert execution["status"] == "SUCCEEDED", execution
    kept = {"b1", "b2", "b3"} | {f"b{n}" for n in range(6, 11)}
    assert remaining_digests("app-dormant") == {dormant_workloads[label] for label in kept}


@pytest.fixture
def short_cleanup_timeout(module: Any, moto_server: MotoServer) -> Iterator[None]:
    """The cleanup function given a 2 s timeout, as if its repository were too large for it."""
    functions = moto_server.client("lambda")
    name = module.outputs["lambda_function_names"]["value"]["cleanup"]
    functions.update_function_configuration(FunctionName=name, Timeout=2)
    yield
    functions.update_function_configuration(FunctionName=name, Timeout=900)


def test_a_repository_too_large_for_one_invocation_is_continued_until_done(
    module: Any, moto_server: MotoServer, short_cleanup_timeout: None
) -> None:
    create_repository("app-huge")
    push_images("app-huge", 1200, pushed_at=lambda i: days_ago(40 + i / 100))
    kept = push_image("app-huge", tags=["latest"], pushed_at=days_ago(400))
    try:
        with recording(delay=0.2, services={"ecr"}) as traffic:
            execution = execute(moto_server, module, {})
        assert execution["status"] == "SUCCEEDED", execution
        assert remaining_digests("app-huge") == {kept}
        assert json.loads(execution["output"])["deleted"] == 1200
        assert traffic.of("lambda")["Invoke"] >= 4, "list, the cleanup at least twice, summarise"
    finally:
        ecr_backend().delete_repository("app-huge", None, force=True)


@pytest.fixture
def release_candidates(module: Any) -> Iterator[dict[str, str]]:
    """`app-rc` with two old release candidates and a new one."""
    create_repository("app-rc")
    yield {
        "rc-1": push_image("app-rc", tags=["rc-1"], pushed_at=days_ago(60)),
        "rc-2": push_image("app-rc", tags=["rc-2"], pushed_at=days_ago(45)),
        "rc-3": push_image("app-rc", tags=["rc-3"], pushed_at=days_ago(5)),
    }
    ecr_backend().delete_repository("app-rc", None, force=True)


def test_an_execution_archives_what_an_archive_rule_matches(
    module: Any, moto_server: MotoServer, release_candidates: dict[str, str]
) -> None:
    execution = execute(moto_server, module, {})
    assert execution["status"] == "SUCCEEDED", execution
    statuses = {
        label: find_image("app-rc", digest).image_status for label, digest in release_candidates.items()
    }
    assert statuses == {"rc-1": "ARCHIVED", "rc-2": "ARCHIVED", "rc-3": "ACTIVE"}
    summary = json.loads(execution["output"])
    assert (summary["archived"], summary["deleted"]) == (2, 0)


def test_the_functions_role_is_kept_out_of_pull_time_updates_once(
    module: Any, moto_server: MotoServer
) -> None:
    ecr = moto_server.client("ecr")
    role = module.outputs["lambda_role_arn"]["value"]
    execute(moto_server, module, {"dry_run": True})
    with recording() as traffic:
        execution = execute(moto_server, module, {"dry_run": True})
    assert execution["status"] == "SUCCEEDED", execution
    assert ecr.list_pull_time_update_exclusions()["pullTimeUpdateExclusions"].count(role) == 1
    assert traffic.of("ecr")["RegisterPullTimeUpdateExclusion"] == 0


################################################################################
# Scale: thousands of repositories
################################################################################

SCALE_REPOSITORIES = 2500
SCALE_REGIONS = ("us-east-1", "eu-west-1", "ap-south-1")


def scale_region(name: str) -> str:
    """Where a repository of the large registry lives: the three regions of the root, in turn."""
    return SCALE_REGIONS[int(name.rsplit("-", 1)[1]) % len(SCALE_REGIONS)]


@pytest.fixture(scope="class")
def large_registry(module: Any) -> Iterator[dict[str, tuple[str, str]]]:
    """2,500 repositories spread over three regions, each with an old untagged image the policy
    deletes and a protected one."""
    seeded = {}
    for number in range(SCALE_REPOSITORIES):
        name = f"app-scale-{number:04d}"
        region = scale_region(name)
        create_repository(name, region=region)
        seeded[name] = (
            push_image(name, pushed_at=days_ago(40), region=region),
            push_image(name, tags=["latest"], pushed_at=days_ago(400), region=region),
        )
    yield seeded
    for name in seeded:
        ecr_backend(scale_region(name)).delete_repository(name, None, force=True)
    # Thousands of reports would make the destroy test below slow; a few stay to prove it empties
    # a bucket that is not empty. (When this class runs last, the module is already destroyed.)
    buckets = get_backend("s3")[DEFAULT_ACCOUNT_ID]["aws"].buckets
    bucket = buckets.get(module.outputs["bucket_name"]["value"])
    for key in [key for key in bucket.keys if "app-scale-" in key] if bucket else []:
        del bucket.keys[key]


def per_region(count: int) -> dict[str, int]:
    """How many of `count` leading repositories of the large registry each region holds."""
    return {
        region: sum(1 for number in range(count) if number % len(SCALE_REGIONS) == index)
        for index, region in enumerate(SCALE_REGIONS)
    }


class TestThousandsOfRepositories:
    """One registry of 2,500 repositories in three regions for both tests (seeding it takes a while)."""

    def test_a_dry_run_deletes_nothing(
        self, module: Any, moto_server: MotoServer, large_registry: dict[str, tuple[str, str]]
    ) -> None:
        execution = execute(moto_server, module, {"dry_run": True}, timeout=600)
        assert execution["status"] == "SUCCEEDED", execution
        summary = json.loads(execution["output"])
        assert (summary["repositories"], summary["delete"], summary["deleted"]) == (
            SCALE_REPOSITORIES,
            2500,
            0,
        )
        assert {region: totals["delete"] for region, totals in summary["regions"].items()} == per_region(
            SCALE_REPOSITORIES
        )
        assert all(
            remaining_digests(name, region=scale_region(name)) == set(images)
            for name, images in large_registry.items()
        )

    def test_one_execution_cleans_them_all(
        self, module: Any, moto_server: MotoServer, large_registry: dict[str, tuple[str, str]]
    ) -> None:
        execution = execute(moto_server, module, {}, timeout=600)
        assert execution["status"] == "SUCCEEDED", execution
        summary = json.loads(execution["output"])
        assert (summary["repositories"], summary["deleted"], summary["failed_count"]) == (
            SCALE_REPOSITORIES,
            2500,
            0,
        )
        assert all(
            remaining_digests(name, region=scale_region(name)) == {kept}
            for name, (_, kept) in large_registry.items()
        )
        history = moto_server.client("stepfunctions").get_execution_history(
            executionArn=execution["executionArn"], maxResults=1000
        )["events"]
        assert len(history) < 50, "the execution's own history must not grow with the repositories"
        largest = max(len(json.dumps(event, default=str)) for event in history)
        assert largest < 8 * 1024, "no event of the execution carries the repositories or their results"


def test_destroy_removes_everything(
    module: Any, terraform_environment: dict[str, str], moto_server: MotoServer
) -> None:
    # A bucket may hold keys that no tool handles well (report_bucket can name any bucket): the
    # force destroy lists them URL-encoded and must still delete each one.
    bucket = module.outputs["bucket_name"]["value"]
    s3 = moto_server.client("s3")
    for key in ("other/100%.json", "other/a+b.json", "other/a b.json", "other/déjà-vu/한글.json"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"{}")
    runner = module.terraform
    result = run_terraform(
        TERRAFORM_ROOTS / "cleanup",
        "destroy",
        "-auto-approve",
        "-input=false",
        f"-state={runner.state_path}",
        env=terraform_environment,
        data_dir=runner.work_dir,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert bucket not in {entry["Name"] for entry in s3.list_buckets()["Buckets"]}
    assert moto_server.client("stepfunctions").list_state_machines()["stateMachines"] == []
    assert moto_server.client("lambda").list_functions()["Functions"] == []
    assert moto_server.client("scheduler").list_schedules()["Schedules"] == []


def _statements(document: Any) -> list[dict[str, Any]]:
    parsed = json.loads(document) if isinstance(document, str) else document
    return list(parsed["Statement"])


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)
