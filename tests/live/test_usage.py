"""The usage collector against moto: ECS tasks and services, Lambda versions, S3 and SSM sources.

moto 5.2.5 gives a task only its task definition's first container and never reports the digest a
container runs; the fixture sets `image_digest` on moto's container object, which moto then returns
as `imageDigest` like ECS does once the image is pulled. Lambda resolves an image function's digest
from moto ECR when `MOTO_LAMBDA_STUB_ECR` is false, which needs a repository name without '/'; its
published versions share one code dict, so every version reports the latest `ImageUri` (their
`ResolvedImageUri` digests stay right, and those are what the Lambda tests check).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any, NoReturn

import boto3
import pytest
from botocore.stub import Stubber
from moto.awslambda.models import LambdaBackend
from moto.backends import get_backend
from moto.core.exceptions import JsonRESTError
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ecs.models import EC2ContainerServiceBackend

from ecr_cleanup.ecr import EcrRegistry
from ecr_cleanup.usage import (
    DESCRIBE_SERVICES_BATCH_SIZE,
    DESCRIBE_TASKS_BATCH_SIZE,
    ImageReference,
    UsageCollector,
    UsageError,
    resolve_in_use,
)
from tests.support.ecr_seed import DEFAULT_REGION, create_repository, push_image

ECR = f"{DEFAULT_ACCOUNT_ID}.dkr.ecr.{DEFAULT_REGION}.amazonaws.com"


@dataclass(frozen=True)
class World:
    """What runs where: the ARNs and digests the collector should report."""

    service_arn: str
    task_arn: str
    worker_digest: str
    function_v1_digest: str
    function_v2_digest: str


def denied(*args: Any, **kwargs: Any) -> NoReturn:
    raise JsonRESTError("AccessDeniedException", "User is not authorized to perform this action")


def found(references: list[ImageReference], **fields: str | None) -> list[ImageReference]:
    return [
        reference
        for reference in references
        if all(getattr(reference, name) == value for name, value in fields.items())
    ]


def ecs_calls() -> Counter[str]:
    calls: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        calls[model.name] += 1

    boto3.DEFAULT_SESSION.events.register("before-call.ecs", count)  # type: ignore[union-attr]
    return calls


def register_task_definition(family: str, *images: str) -> str:
    containers = [{"name": f"c{index}", "image": image, "memory": 128} for index, image in enumerate(images)]
    response = boto3.client("ecs").register_task_definition(family=family, containerDefinitions=containers)
    return str(response["taskDefinition"]["taskDefinitionArn"])


def run_task(cluster: str, task_definition: str, *, digest: str | None = None) -> str:
    [task] = boto3.client("ecs").run_task(
        cluster=cluster, taskDefinition=task_definition, launchType="FARGATE"
    )["tasks"]
    if digest is not None:
        ecs = get_backend("ecs")[DEFAULT_ACCOUNT_ID][DEFAULT_REGION]
        container: Any = ecs.tasks[cluster][task["taskArn"]].containers[0]
        container.image_digest = digest
    return str(task["taskArn"])


def put_object(key: str, body: bytes, bucket: str = "ops") -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=key, Body=body)


@pytest.fixture
def world(aws: None, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setenv("MOTO_LAMBDA_STUB_ECR", "false")
    ecs = boto3.client("ecs")
    ecs.create_cluster(clusterName="prod")
    web = register_task_definition("web", f"{ECR}/team/web:v1", "public.ecr.aws/aws-observability/fluent:2")
    service_arn = ecs.create_service(cluster="prod", serviceName="web", taskDefinition=web, desiredCount=1)[
        "service"
    ]["serviceArn"]
    create_repository("team/worker")
    worker_digest = push_image("team/worker", tags=["v7"])
    task_arn = run_task(
        "prod", register_task_definition("worker", f"{ECR}/team/worker:v7"), digest=worker_digest
    )

    create_repository("thumbnailer")
    v1 = push_image("thumbnailer", tags=["v1"])
    v2 = push_image("thumbnailer", tags=["v2"])
    role = boto3.client("iam").create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    functions = boto3.client("lambda")
    functions.create_function(
        FunctionName="thumbnailer",
        Role=role,
        PackageType="Image",
        Code={"ImageUri": f"{ECR}/thumbnailer:v1"},
        Publish=True,
    )
    functions.update_function_code(FunctionName="thumbnailer", ImageUri=f"{ECR}/thumbnailer:v2", Publish=True)
    functions.create_alias(FunctionName="thumbnailer", Name="live", FunctionVersion="1")

    put_object("in-use.txt", b"# batch fleet\n\nteam/batch:nightly\n")
    boto3.client("ssm").put_parameter(
        Name="/ecr-cleanup/in-use", Type="String", Value=json.dumps({"images": [f"{ECR}/team/cron@{v1}"]})
    )
    return World(service_arn, task_arn, worker_digest, v1, v2)


def test_a_running_task_reports_its_image_and_the_digest_it_runs(world: World) -> None:
    references = UsageCollector().collect(functions=False)
    source = f"ECS task {world.task_arn}"
    assert found(references, source=source) == [
        ImageReference("team/worker", "v7", None, ECR, source),
        ImageReference("team/worker", None, world.worker_digest, ECR, source),
    ]


def test_a_service_reports_every_container_image_of_its_task_definition(world: World) -> None:
    references = UsageCollector().collect(functions=False)
    source = f"ECS service {world.service_arn}"
    assert found(references, source=source) == [
        ImageReference("team/web", "v1", None, ECR, source),
        ImageReference("aws-observability/fluent", "2", None, "public.ecr.aws", source),
    ]


def test_every_published_lambda_version_reports_the_digest_it_resolved(world: World) -> None:
    references = UsageCollector().collect(ecs=False)
    digests = {reference.source: reference.digest for reference in found(references, tag=None)}
    assert digests == {
        "Lambda function thumbnailer:$LATEST": world.function_v2_digest,
        "Lambda function thumbnailer:1": world.function_v1_digest,
        "Lambda function thumbnailer:2": world.function_v2_digest,
    }
    assert {reference.repository for reference in references} == {"thumbnailer"}


def test_a_lambda_function_reports_its_image_uri_tag(world: World) -> None:
    references = UsageCollector().collect(ecs=False)
    assert found(references, source="Lambda function thumbnailer:$LATEST", digest=None) == [
        ImageReference("thumbnailer", "v2", None, ECR, "Lambda function thumbnailer:$LATEST")
    ]


def test_zip_functions_are_not_read(aws: None) -> None:
    role = boto3.client("iam").create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    boto3.client("lambda").create_function(
        FunctionName="zipped",
        Role=role,
        Runtime="python3.12",
        Handler="x.h",
        Code={"ZipFile": b"PK\x05\x06" + bytes(18)},
    )
    assert UsageCollector().collect(ecs=False) == []


def test_an_s3_object_lists_references(world: World) -> None:
    references = UsageCollector().collect(["s3://ops/in-use.txt"], ecs=False, functions=False)
    assert references == [ImageReference("team/batch", "nightly", None, None, "s3://ops/in-use.txt")]


def test_an_ssm_parameter_lists_references(world: World) -> None:
    references = UsageCollector().collect(["ssm:/ecr-cleanup/in-use"], ecs=False, functions=False)
    assert references == [
        ImageReference("team/cron", None, world.function_v1_digest, ECR, "ssm:/ecr-cleanup/in-use")
    ]


def test_an_ssm_parameter_arn_is_a_source(world: World) -> None:
    arn = f"arn:aws:ssm:{DEFAULT_REGION}:{DEFAULT_ACCOUNT_ID}:parameter/ecr-cleanup/in-use"
    [reference] = UsageCollector().collect([arn], ecs=False, functions=False)
    assert (reference.repository, reference.source) == ("team/cron", arn)


def test_a_string_list_parameter_lists_one_reference_per_item(aws: None) -> None:
    boto3.client("ssm").put_parameter(Name="in-use", Type="StringList", Value="team/a:v1,team/b:v2")
    references = UsageCollector().collect(["ssm:in-use"], ecs=False, functions=False)
    assert [(reference.repository, reference.tag) for reference in references] == [
        ("team/a", "v1"),
        ("team/b", "v2"),
    ]


def test_a_secure_string_parameter_is_decrypted(aws: None) -> None:
    boto3.client("ssm").put_parameter(Name="in-use", Type="SecureString", Value='["team/a:v1"]')
    [reference] = UsageCollector().collect(["ssm:in-use"], ecs=False, functions=False)
    assert (reference.repository, reference.tag) == ("team/a", "v1")


def test_collect_finds_every_source_at_once(world: World) -> None:
    sources = ["s3://ops/in-use.txt", "ssm:/ecr-cleanup/in-use"]
    references = UsageCollector(region=DEFAULT_REGION).collect(sources)
    assert {reference.repository for reference in references} == {
        "team/web",
        "aws-observability/fluent",
        "team/worker",
        "thumbnailer",
        "team/batch",
        "team/cron",
    }


def test_in_use_tags_protect_the_digests_that_hold_them_now(world: World) -> None:
    references = UsageCollector().collect()
    images = EcrRegistry().images("thumbnailer")
    assert resolve_in_use(references, "thumbnailer", images, registry=ECR) == {
        world.function_v2_digest: "in use: Lambda function thumbnailer:$LATEST",
        world.function_v1_digest: "in use: Lambda function thumbnailer:1",
    }


def test_tasks_are_described_in_batches_of_100(aws: None) -> None:
    boto3.client("ecs").create_cluster(clusterName="batch")
    definition = register_task_definition("job", f"{ECR}/team/job:v1")
    tasks = {run_task("batch", definition) for _ in range(DESCRIBE_TASKS_BATCH_SIZE + 1)}
    calls = ecs_calls()
    references = UsageCollector().collect(functions=False)
    assert {reference.source for reference in references} == {f"ECS task {arn}" for arn in tasks}
    assert calls["DescribeTasks"] == 2


def test_services_are_described_in_batches_of_10_and_task_definitions_read_once(aws: None) -> None:
    ecs = boto3.client("ecs")
    ecs.create_cluster(clusterName="api")
    definition = register_task_definition("api", f"{ECR}/team/api:v3")
    for index in range(DESCRIBE_SERVICES_BATCH_SIZE * 2 + 1):
        ecs.create_service(
            cluster="api", serviceName=f"api-{index}", taskDefinition=definition, desiredCount=0
        )
    calls = ecs_calls()
    references = UsageCollector().collect(functions=False)
    by_task_definition = {r.source for r in references if r.source.startswith("ECS service arn:")}
    assert len(by_task_definition) == DESCRIBE_SERVICES_BATCH_SIZE * 2 + 1
    assert calls["DescribeServices"] == 3
    assert calls["DescribeTaskDefinition"] == 1
    # each service's current revision, described 20 at a time
    assert calls["ListServiceDeployments"] == DESCRIBE_SERVICES_BATCH_SIZE * 2 + 1
    assert calls["DescribeServiceRevisions"] == 2


def test_sources_only_make_no_ecs_or_lambda_calls(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(EC2ContainerServiceBackend, "list_clusters", denied)
    monkeypatch.setattr(LambdaBackend, "list_functions", denied)
    put_object("in-use.txt", b"team/app:v1\n")
    references = UsageCollector().collect(["s3://ops/in-use.txt"], ecs=False, functions=False)
    assert references == [ImageReference("team/app", "v1", None, None, "s3://ops/in-use.txt")]


def test_access_denied_listing_clusters_fails_closed(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(EC2ContainerServiceBackend, "list_clusters", denied)
    with pytest.raises(UsageError, match=r"^ECS ListClusters: AccessDeniedException: User is not authorized"):
        UsageCollector().collect()


def test_access_denied_reading_a_task_definition_fails_closed(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(EC2ContainerServiceBackend, "describe_task_definition", denied)
    with pytest.raises(UsageError, match=r"^ECS DescribeTaskDefinition arn:aws:ecs:.*AccessDeniedException"):
        UsageCollector().collect(functions=False)


def test_access_denied_reading_a_function_fails_closed(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(LambdaBackend, "get_function", denied)
    with pytest.raises(UsageError, match=r"^Lambda GetFunction thumbnailer:\$LATEST: AccessDeniedException"):
        UsageCollector().collect(ecs=False)


def test_a_missing_bucket_fails_closed_naming_the_source(aws: None) -> None:
    with pytest.raises(UsageError, match=r"^s3://nowhere/in-use.txt: NoSuchBucket"):
        UsageCollector().collect(["s3://nowhere/in-use.txt"], ecs=False, functions=False)


def test_a_missing_parameter_fails_closed_naming_the_source(aws: None) -> None:
    with pytest.raises(UsageError, match=r"^ssm:/nowhere: ParameterNotFound"):
        UsageCollector().collect(["ssm:/nowhere"], ecs=False, functions=False)


def test_a_malformed_line_fails_closed_naming_the_line(aws: None) -> None:
    put_object("bad.txt", b"team/app:v1\n\nx y\n")
    with pytest.raises(UsageError, match=r"^s3://ops/bad.txt: line 3: cannot parse 'x y'"):
        UsageCollector().collect(["s3://ops/bad.txt"], ecs=False, functions=False)


def test_content_that_is_not_utf8_fails_closed(aws: None) -> None:
    put_object("binary", b"\xff\xfe\x00")
    with pytest.raises(UsageError, match=r"^s3://ops/binary: not UTF-8 text"):
        UsageCollector().collect(["s3://ops/binary"], ecs=False, functions=False)


@pytest.mark.parametrize("source", ["https://example.com/in-use", "s3://bucket-only", "ssm:", "/tmp/in-use"])
def test_an_unknown_source_fails_before_any_call(
    aws: None, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    monkeypatch.setattr(EC2ContainerServiceBackend, "list_clusters", denied)
    with pytest.raises(UsageError, match=rf"^'?{source}'?: "):
        UsageCollector().collect([source])


def test_a_throttling_error_that_reaches_the_collector_fails_closed() -> None:
    ecs = boto3.client("ecs", region_name=DEFAULT_REGION, aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(ecs) as stubbed:
        stubbed.add_client_error("list_clusters", "ThrottlingException", "Rate exceeded")
        with pytest.raises(UsageError, match=r"^ECS ListClusters: ThrottlingException: Rate exceeded$"):
            UsageCollector(ecs=ecs).collect(functions=False)


def test_an_unparseable_task_image_fails_closed(aws: None) -> None:
    boto3.client("ecs").create_cluster(clusterName="odd")
    run_task("odd", register_task_definition("odd", "Team/App:v1"))
    with pytest.raises(
        UsageError, match=r"^ECS task arn:aws:ecs:\S+: container 'c0': cannot parse 'Team/App:v1'"
    ):
        UsageCollector().collect(functions=False)


def test_a_service_mid_deployment_reports_the_images_of_both_task_definitions(aws: None) -> None:
    ecs = boto3.client("ecs")
    ecs.create_cluster(clusterName="shop")
    old = register_task_definition("shop", f"{ECR}/team/shop:v1")
    new = register_task_definition("shop", f"{ECR}/team/shop:v2")
    ecs.create_service(cluster="shop", serviceName="shop", taskDefinition=old, desiredCount=2)
    ecs.update_service(cluster="shop", service="shop", taskDefinition=new)
    service = get_backend("ecs")[DEFAULT_ACCOUNT_ID][DEFAULT_REGION].services["shop:shop"]
    [deployment] = service.deployments
    service.deployments = [
        {**deployment, "id": "ecs-svc/2", "status": "PRIMARY", "taskDefinition": new},
        {**deployment, "status": "ACTIVE", "taskDefinition": old},
    ]
    references = UsageCollector().collect(functions=False)
    assert [(r.repository, r.tag) for r in references if r.source.startswith("ECS service arn:")] == [
        ("team/shop", "v2"),
        ("team/shop", "v1"),
    ]


def stubbed_ecs_with_one_task(failure_reason: str) -> Any:
    ecs = boto3.client("ecs", region_name=DEFAULT_REGION, aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(ecs)
    cluster = f"arn:aws:ecs:{DEFAULT_REGION}:{DEFAULT_ACCOUNT_ID}:cluster/c"
    task = f"arn:aws:ecs:{DEFAULT_REGION}:{DEFAULT_ACCOUNT_ID}:task/c/1"
    stubber.add_response("list_clusters", {"clusterArns": [cluster]})
    stubber.add_response("list_tasks", {"taskArns": [task]})
    stubber.add_response(
        "describe_tasks", {"tasks": [], "failures": [{"arn": task, "reason": failure_reason}]}
    )
    stubber.add_response("list_services", {"serviceArns": []})
    stubber.activate()
    return ecs


def test_a_task_gone_since_it_was_listed_is_skipped() -> None:
    assert UsageCollector(ecs=stubbed_ecs_with_one_task("MISSING")).collect(functions=False) == []


def test_a_task_that_cannot_be_described_fails_closed() -> None:
    ecs = stubbed_ecs_with_one_task("AccessDenied")
    expected = r"^ECS DescribeTasks arn:aws:ecs:\S+/c: arn:aws:ecs:\S+/1: AccessDenied$"
    with pytest.raises(UsageError, match=expected):
        UsageCollector(ecs=ecs).collect(functions=False)
