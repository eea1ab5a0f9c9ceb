"""What workloads will pull again is never deleted: the digests ECS deployments resolved, SageMaker
models, endpoints and inference components, CodeBuild projects, and any image pulled within
`protect.pulled_within_days`. Against moto, in-process, through `ecr-cleanup run`."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from ecr_cleanup.cli import EXIT_AWS, EXIT_OK, main
from ecr_cleanup.usage import UsageCache, UsageCollector
from tests.support import ecs_seed
from tests.support.ecr_seed import create_repository, days_ago, push_image, remaining_digests
from tests.support.ecs_seed import ECR_HOST
from tests.support.faults import Fault, fast_retries, injecting
from tests.support.traffic import recording

ROLE = "arn:aws:iam::123456789012:role/runner"
UNTAGGED = {"rules": [{"tag_status": "untagged", "older_than_days": 1}]}
"""Delete every untagged image older than a day: what a tag moved away from."""
EVERYTHING = {"rules": [{"older_than_days": 1}], "protect": {"in_use": False}}


def run(policy: dict[str, Any], tmp_path: Path) -> tuple[int, dict[str, Any]]:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(policy))
    out = io.StringIO()
    status = main(["run", "--yes", "--policy", str(path), "--format", "json"], stdout=out)
    return status, json.loads(out.getvalue()) if out.getvalue() else {}


def kept(report: dict[str, Any], repository: str = "api") -> dict[str, str]:
    [entry] = [r for r in report["repositories"] if r["name"] == repository]
    return {image["digest"]: image["reason"] for image in entry["keep"]}


@pytest.fixture
def api(aws: None) -> dict[str, str]:
    """`api:latest` pushed twice: the first image (`first`) is left untagged, as ECR leaves it."""
    create_repository("api")
    first = push_image("api", tags=["latest"], pushed_at=days_ago(30))
    return {"first": first}


def push_latest_again(api: dict[str, str]) -> str:
    api["second"] = push_image("api", tags=["latest"], pushed_at=days_ago(5))
    return api["second"]


# ECS: the digest a deployment resolved


def test_a_service_scaled_to_zero_keeps_the_digest_its_deployment_resolved(
    api: dict[str, str], tmp_path: Path
) -> None:
    ecs_seed.run_service("prod", "api", ["api:latest"], desired_count=0)
    push_latest_again(api)
    status, report = run(UNTAGGED, tmp_path)
    assert status == EXIT_OK
    assert remaining_digests("api") == {api["first"], api["second"]}
    assert kept(report)[api["first"]].startswith("protected: in use: ECS service prod/api revision ")
    assert kept(report)[api["first"]].endswith("(digest resolved from api:latest)")


def test_without_a_deployment_that_resolved_it_a_moved_away_digest_goes(
    api: dict[str, str], tmp_path: Path
) -> None:
    ecs_seed.run_service("prod", "api", ["api:latest"], desired_count=0)
    push_latest_again(api)
    ecs_seed.redeploy("prod", "api")  # resolves api:latest again: to the second image
    assert run(UNTAGGED, tmp_path)[0] == EXIT_OK
    assert remaining_digests("api") == {api["second"]}


def test_a_service_mid_deployment_keeps_its_source_and_target_digests(
    api: dict[str, str], tmp_path: Path
) -> None:
    ecs_seed.run_service("prod", "api", ["api:latest"])
    push_latest_again(api)
    ecs_seed.redeploy("prod", "api")
    ecs_seed.deployment_in_progress("prod", "api")
    third = push_image("api", tags=["latest"], pushed_at=days_ago(2))
    status, report = run(UNTAGGED, tmp_path)
    assert status == EXIT_OK
    assert remaining_digests("api") == {api["first"], api["second"], third}
    assert "revision" in kept(report)[api["first"]]
    assert "revision" in kept(report)[api["second"]]


def test_a_rollback_keeps_the_revision_it_rolls_back_to(api: dict[str, str], tmp_path: Path) -> None:
    ecs_seed.run_service("prod", "api", ["api:latest"])
    push_latest_again(api)
    ecs_seed.redeploy("prod", "api")
    ecs_seed.rollback_in_progress("prod", "api")
    push_image("api", tags=["latest"], pushed_at=days_ago(2))
    assert run(UNTAGGED, tmp_path)[0] == EXIT_OK
    assert {api["first"], api["second"]} <= remaining_digests("api")


def test_a_service_whose_last_deployment_is_older_than_90_days_keeps_its_current_digest(
    api: dict[str, str], tmp_path: Path
) -> None:
    ecs_seed.run_service("prod", "api", ["api:latest"], desired_count=0)
    ecs_seed.age_deployments("prod", "api", days=200)
    push_latest_again(api)
    assert (
        boto3.client("ecs").list_service_deployments(cluster="prod", service="api")["serviceDeployments"]
        == []
    )
    assert run(UNTAGGED, tmp_path)[0] == EXIT_OK
    assert api["first"] in remaining_digests("api")


def test_a_revision_ecs_cannot_describe_keeps_todays_protection_and_is_no_error(
    api: dict[str, str], tmp_path: Path
) -> None:
    ecs_seed.run_service("prod", "api", ["api:latest"], desired_count=0)
    push_latest_again(api)
    ecs_seed.forget_current_revisions("prod", "api")
    status, report = run(UNTAGGED, tmp_path)
    assert status == EXIT_OK
    # the task definition still protects what api:latest points to now; the old digest is not known
    assert remaining_digests("api") == {api["second"]}
    assert kept(report)[api["second"]].startswith("protected: in use: ECS service arn:")


def test_a_revision_without_a_digest_protects_its_tag(api: dict[str, str], tmp_path: Path) -> None:
    ecs_seed.run_service("prod", "api", ["api:latest"], desired_count=0, version_consistency="disabled")
    push_latest_again(api)
    revision = [r for r in UsageCollector().collect(functions=False) if " revision " in r.source]
    assert [(r.repository, r.tag, r.digest) for r in revision] == [("api", "latest", None)]
    assert run(UNTAGGED, tmp_path)[0] == EXIT_OK
    assert remaining_digests("api") == {api["second"]}


def test_each_revision_is_described_once_per_run(api: dict[str, str]) -> None:
    for number in range(3):
        ecs_seed.run_service("prod", f"api-{number}", ["api:latest"], desired_count=0)
    cache = UsageCache()
    with recording() as traffic:
        UsageCollector(cache=cache).collect(functions=False)
        UsageCollector(cache=cache).collect(functions=False)
    calls = traffic.of("ecs")
    assert calls["DescribeServiceRevisions"] == 1
    assert calls["ListServiceDeployments"] == 2 * 3
    assert calls["DescribeServiceDeployments"] == 2


# SageMaker and CodeBuild


@pytest.fixture
def model_images(aws: None) -> dict[str, str]:
    """`model` holds five images, each tagged with the workload that uses it, and one untagged."""
    create_repository("model")
    return {
        name: push_image("model", tags=[name], pushed_at=days_ago(30))
        for name in ("single", "multi-a", "multi-b", "endpoint", "component", "build")
    }


def sagemaker_model(name: str, *images: str, multi: bool = False) -> None:
    containers = [{"Image": f"{ECR_HOST}/model:{image}"} for image in images]
    arguments: dict[str, Any] = {"Containers": containers} if multi else {"PrimaryContainer": containers[0]}
    boto3.client("sagemaker").create_model(ModelName=name, ExecutionRoleArn=ROLE, **arguments)


def sagemaker_and_codebuild_workloads() -> None:
    """A model of one container and one of two, an endpoint whose model is gone, an inference
    component, and a CodeBuild project: one of each, on the images of `model_images`."""
    sagemaker = boto3.client("sagemaker")
    sagemaker_model("single", "single")
    sagemaker_model("multi", "multi-a", "multi-b", multi=True)
    sagemaker_model("served", "endpoint")
    variant = {
        "VariantName": "main",
        "ModelName": "served",
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
    }
    sagemaker.create_endpoint_config(EndpointConfigName="served", ProductionVariants=[variant])
    sagemaker.create_endpoint(EndpointName="served", EndpointConfigName="served")
    sagemaker.delete_model(ModelName="served")  # the endpoint still runs what it resolved
    sagemaker.create_inference_component(
        InferenceComponentName="component",
        EndpointName="served",
        VariantName="main",
        Specification={"Container": {"Image": f"{ECR_HOST}/model:component"}},
        RuntimeConfig={"CopyCount": 1},
    )
    boto3.client("codebuild").create_project(
        name="build",
        source={"type": "S3", "location": "bucket/source.zip"},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={
            "type": "LINUX_CONTAINER",
            "image": f"{ECR_HOST}/model:build",
            "computeType": "BUILD_GENERAL1_SMALL",
        },
        serviceRole=ROLE,
    )


def test_sagemaker_models_endpoints_and_components_and_codebuild_projects_keep_their_images(
    model_images: dict[str, str], tmp_path: Path
) -> None:
    sagemaker_and_codebuild_workloads()
    status, report = run({"rules": [{"older_than_days": 1}]}, tmp_path)
    assert status == EXIT_OK
    assert remaining_digests("model") == set(model_images.values())
    reasons = kept(report, "model")
    assert reasons[model_images["single"]] == "protected: in use: SageMaker model single"
    assert reasons[model_images["multi-b"]] == "protected: in use: SageMaker model multi"
    assert reasons[model_images["endpoint"]] == "protected: in use: SageMaker endpoint served variant main"
    assert reasons[model_images["component"]] == "protected: in use: SageMaker inference component component"
    assert reasons[model_images["build"]] == "protected: in use: CodeBuild project build"


def test_an_endpoint_keeps_the_digest_it_resolved_after_the_tag_moved(aws: None, tmp_path: Path) -> None:
    create_repository("model")
    resolved = push_image("model", tags=["prod"], pushed_at=days_ago(30))
    sagemaker_model("served", "prod")
    variant = {
        "VariantName": "main",
        "ModelName": "served",
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
    }
    boto3.client("sagemaker").create_endpoint_config(
        EndpointConfigName="served", ProductionVariants=[variant]
    )
    boto3.client("sagemaker").create_endpoint(EndpointName="served", EndpointConfigName="served")
    moved = push_image("model", tags=["prod"], pushed_at=days_ago(2))
    assert run(UNTAGGED, tmp_path)[0] == EXIT_OK
    assert remaining_digests("model") == {resolved, moved}


def test_a_codebuild_project_on_a_curated_image_protects_nothing(aws: None, tmp_path: Path) -> None:
    create_repository("aws/codebuild/standard")
    image = push_image("aws/codebuild/standard", tags=["7.0"], pushed_at=days_ago(30))
    boto3.client("codebuild").create_project(
        name="build",
        source={"type": "S3", "location": "bucket/source.zip"},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/standard:7.0",
            "computeType": "BUILD_GENERAL1_SMALL",
        },
        serviceRole=ROLE,
    )
    assert run({"rules": [{"older_than_days": 1}]}, tmp_path)[0] == EXIT_OK
    assert image not in remaining_digests("aws/codebuild/standard")


@pytest.mark.parametrize(
    ("field", "service"), [("in_use_sagemaker", "sagemaker"), ("in_use_codebuild", "codebuild")]
)
def test_a_source_turned_off_is_not_read(aws: None, tmp_path: Path, field: str, service: str) -> None:
    with recording() as traffic:
        run({"rules": [{"older_than_days": 1}], "protect": {field: False}}, tmp_path)
    assert sum(traffic.of(service).values()) == 0


# Any source that cannot be read stops every deletion

UNREADABLE = [
    ("ecs", "ListServiceDeployments"),
    ("ecs", "DescribeServiceDeployments"),
    ("ecs", "DescribeServiceRevisions"),
    ("sagemaker", "ListModels"),
    ("sagemaker", "DescribeModel"),
    ("sagemaker", "ListEndpoints"),
    ("sagemaker", "DescribeEndpoint"),
    ("sagemaker", "ListInferenceComponents"),
    ("sagemaker", "DescribeInferenceComponent"),
    ("codebuild", "ListProjects"),
    ("codebuild", "BatchGetProjects"),
]


@pytest.fixture
def every_source(model_images: dict[str, str]) -> dict[str, str]:
    """A workload of each kind, so that every call of the scan is made."""
    ecs_seed.run_service("prod", "api", ["model:single"], desired_count=0)
    sagemaker_and_codebuild_workloads()
    return model_images


@pytest.mark.parametrize(("service", "operation"), UNREADABLE, ids=[op for _, op in UNREADABLE])
@pytest.mark.parametrize("kind", ["denied", "throttled out"])
def test_a_source_that_cannot_be_read_stops_every_deletion(
    every_source: dict[str, str],
    tmp_path: Path,
    *,
    capsys: pytest.CaptureFixture[str],
    service: str,
    operation: str,
    kind: str,
) -> None:
    fault = (
        Fault("throttle", services=service, operations=operation, code="AccessDeniedException", status=400)
        if kind == "denied"
        else Fault("throttle", services=service, operations=operation)
    )
    with fast_retries(), injecting(fault) as injector:
        status, report = run({"rules": [{"older_than_days": 1}]}, tmp_path)
    assert injector.total() > 0, f"the scan made no {operation} call"
    assert (status, report) == (EXIT_AWS, {})
    assert operation in capsys.readouterr().err
    assert remaining_digests("model") == set(every_source.values())


# protect.pulled_within_days


def test_an_image_pulled_within_the_days_is_kept_whatever_the_rules_say(aws: None, tmp_path: Path) -> None:
    create_repository("app")
    pulled = push_image("app", tags=["old"], pushed_at=days_ago(400), last_pulled_at=days_ago(3))
    stale = push_image("app", tags=["older"], pushed_at=days_ago(400), last_pulled_at=days_ago(30))
    status, report = run({**EVERYTHING, "protect": {"in_use": False, "pulled_within_days": 7}}, tmp_path)
    assert status == EXIT_OK
    assert remaining_digests("app") == {pulled}
    assert kept(report, "app") == {pulled: "protected: pulled 3 days ago (protect.pulled_within_days 7)"}
    assert stale not in remaining_digests("app")
