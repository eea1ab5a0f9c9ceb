"""Each moto patch and seeding helper of tests/support, proven through boto3 against a moto server."""

from __future__ import annotations

import io
import json
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from tests.support import ecr_seed, moto_patches
from tests.support.moto_server import MotoServer

REGION = "us-east-1"
ACCOUNT = "123456789012"

PROBE_HANDLERS = """
import os

import boto3


class CleanupFailed(Exception):
    pass


def echo(event, context):
    return {
        "event": event,
        "function": context.function_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "setting": os.environ.get("SETTING"),
        "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
        "region": os.environ.get("AWS_REGION"),
        "origin": __file__,
    }


def count_repositories(event, context):
    return len(boto3.client("ecr").describe_repositories()["repositories"])


def fail(event, context):
    raise CleanupFailed("repository is on fire")


def flaky(event, context):
    path = os.environ["ATTEMPTS_FILE"]
    with open(path, "a") as attempts_file:
        attempts_file.write("x")
    with open(path) as attempts_file:
        attempts = len(attempts_file.read())
    if attempts < 3:
        raise CleanupFailed(f"attempt {attempts}")
    return {"attempts": attempts}


INVOCATIONS = []


def remember(event, context):
    INVOCATIONS.append(context.aws_request_id)
    return len(INVOCATIONS)
"""


def probe_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("probe/__init__.py", "")
        archive.writestr("probe/handlers.py", PROBE_HANDLERS)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def server() -> Iterator[MotoServer]:
    with MotoServer() as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_backends(server: MotoServer) -> None:
    server.reset()


@pytest.fixture
def ecr(server: MotoServer) -> Any:
    return server.client("ecr")


@pytest.fixture
def sfn(server: MotoServer) -> Any:
    return server.client("stepfunctions")


@pytest.fixture
def role_arn(server: MotoServer) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = server.client("iam").create_role(RoleName="probe", AssumeRolePolicyDocument=json.dumps(trust))
    return str(role["Role"]["Arn"])


@pytest.fixture
def deploy(server: MotoServer, role_arn: str) -> Any:
    """Deploy the probe zip as a function running one of its handlers; returns the function ARN."""
    lambda_client = server.client("lambda")

    def deploy_function(name: str, handler: str, **environment: str) -> str:
        created = lambda_client.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role_arn,
            Handler=f"probe.handlers.{handler}",
            Code={"ZipFile": probe_zip()},
            Timeout=30,
            Environment={"Variables": environment},
        )
        return str(created["FunctionArn"])

    return deploy_function


def pages(client: Any, operation: str, result_key: str, **kwargs: Any) -> list[list[Any]]:
    collected = []
    while True:
        response = getattr(client, operation)(**kwargs)
        collected.append(response[result_key])
        if "nextToken" not in response:
            return collected
        kwargs["nextToken"] = response["nextToken"]


def state_machine(sfn: Any, role_arn: str, states: dict[str, Any], start_at: str) -> str:
    definition = json.dumps({"StartAt": start_at, "States": states})
    return str(
        sfn.create_state_machine(name="probe", definition=definition, roleArn=role_arn)["stateMachineArn"]
    )


def finished(sfn: Any, execution_arn: str, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (described := sfn.describe_execution(executionArn=execution_arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"{execution_arn} still running after {timeout}s"
        time.sleep(0.05)
    return dict(described)


def lambda_task(function: str, **extra: Any) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": function, "Payload.$": "$"},
        **extra,
    }


# ECR: pagination


def test_describe_images_returns_250_images_in_pages_of_100(ecr: Any) -> None:
    ecr_seed.create_repository("app")
    pushed = ecr_seed.push_images("app", 250)

    result = pages(ecr, "describe_images", "imageDetails", repositoryName="app", maxResults=100)

    assert [len(page) for page in result] == [100, 100, 50]
    assert sorted(detail["imageDigest"] for page in result for detail in page) == sorted(pushed)


def test_describe_images_returns_100_images_without_max_results(ecr: Any) -> None:
    ecr_seed.create_repository("app")
    ecr_seed.push_images("app", 150)

    response = ecr.describe_images(repositoryName="app")

    assert len(response["imageDetails"]) == 100
    assert "nextToken" in response


def test_describe_images_rejects_max_results_above_1000(ecr: Any) -> None:
    ecr_seed.create_repository("app")

    with pytest.raises(ClientError) as raised:
        ecr.describe_images(repositoryName="app", maxResults=1001)

    assert raised.value.response["Error"]["Code"] == "InvalidParameterException"


def test_describe_images_token_continues_after_the_listed_images_are_deleted(ecr: Any) -> None:
    ecr_seed.create_repository("app")
    pushed = ecr_seed.push_images("app", 30)
    first = ecr.describe_images(repositoryName="app", maxResults=10)
    listed = [detail["imageDigest"] for detail in first["imageDetails"]]
    ecr.batch_delete_image(repositoryName="app", imageIds=[{"imageDigest": digest} for digest in listed])

    rest = pages(ecr, "describe_images", "imageDetails", repositoryName="app", nextToken=first["nextToken"])

    assert sorted(detail["imageDigest"] for page in rest for detail in page) == sorted(pushed[10:])


def test_describe_images_filters_untagged_images(ecr: Any) -> None:
    ecr_seed.create_repository("app")
    ecr_seed.push_images("app", 3, tags=lambda i: [f"v{i}"])
    untagged = ecr_seed.push_images("app", 2)

    response = ecr.describe_images(repositoryName="app", filter={"tagStatus": "UNTAGGED"})

    assert [detail["imageDigest"] for detail in response["imageDetails"]] == untagged


def test_describe_repositories_returns_120_repositories_in_pages_of_50(ecr: Any) -> None:
    for n in range(120):
        ecr_seed.create_repository(f"repo-{n:03d}")

    result = pages(ecr, "describe_repositories", "repositories", maxResults=50)

    assert [len(page) for page in result] == [50, 50, 20]
    assert len({repository["repositoryName"] for page in result for repository in page}) == 120


def test_list_images_returns_one_entry_per_tag_in_pages(ecr: Any) -> None:
    ecr_seed.create_repository("app")
    ecr_seed.push_images("app", 60, tags=lambda i: [f"v{i}", f"build-{i}"])

    result = pages(ecr, "list_images", "imageIds", repositoryName="app", maxResults=50)

    assert [len(page) for page in result] == [50, 50, 20]


# ECR: image details


def test_describe_images_reports_last_recorded_pull_time_only_for_pulled_images(ecr: Any) -> None:
    ecr_seed.create_repository("app")
    pulled_at = ecr_seed.days_ago(3).replace(microsecond=0)
    pulled = ecr_seed.push_image("app", tags=["pulled"], last_pulled_at=pulled_at)
    ecr_seed.push_image("app", tags=["never"])

    details = {d["imageDigest"]: d for d in ecr.describe_images(repositoryName="app")["imageDetails"]}

    assert {digest for digest, d in details.items() if "lastRecordedPullTime" in d} == {pulled}
    assert details[pulled]["lastRecordedPullTime"] == pulled_at


def test_describe_images_reports_seeded_push_time(ecr: Any) -> None:
    ecr_seed.create_repository("app")
    pushed_at = ecr_seed.days_ago(400).replace(microsecond=0)
    ecr_seed.push_image("app", pushed_at=pushed_at)

    (detail,) = ecr.describe_images(repositoryName="app")["imageDetails"]

    assert detail["imagePushedAt"] == pushed_at


def test_describe_images_reports_manifest_and_artifact_media_types(ecr: Any) -> None:
    ecr_seed.create_repository("app")
    ecr_seed.push_image("app")

    (detail,) = ecr.describe_images(repositoryName="app")["imageDetails"]

    assert detail["imageManifestMediaType"] == ecr_seed.DOCKER_MANIFEST
    assert detail["artifactMediaType"] == ecr_seed.DOCKER_CONFIG


def test_describe_images_reports_a_referrers_subject_and_artifact_type(ecr: Any) -> None:
    ecr_seed.create_repository("app")
    image = ecr_seed.push_image("app", tags=["v1"])
    sbom = ecr_seed.push_referrer("app", image)

    (detail,) = ecr.describe_images(repositoryName="app", imageIds=[{"imageDigest": sbom}])["imageDetails"]

    assert detail["subjectManifestDigest"] == image
    assert detail["artifactMediaType"] == ecr_seed.SBOM_ARTIFACT
    assert "imageTags" not in detail


def test_image_index_lists_its_children_and_reports_the_largest_child_size(ecr: Any) -> None:
    ecr_seed.create_repository("app")
    small = ecr_seed.push_image("app", size_in_bytes=1000, media_type=ecr_seed.OCI_MANIFEST)
    large = ecr_seed.push_image("app", size_in_bytes=5000, media_type=ecr_seed.OCI_MANIFEST)
    index = ecr_seed.push_image_index("app", [small, large], tags=["latest"])

    (detail,) = ecr.describe_images(repositoryName="app", imageIds=[{"imageTag": "latest"}])["imageDetails"]
    (image,) = ecr.batch_get_image(repositoryName="app", imageIds=[{"imageDigest": index}])["images"]

    assert detail["imageManifestMediaType"] == ecr_seed.OCI_INDEX
    assert detail["imageSizeInBytes"] == 5000
    assert [child["digest"] for child in json.loads(image["imageManifest"])["manifests"]] == [small, large]


def test_image_digest_is_the_sha256_of_the_manifest(ecr: Any) -> None:
    ecr_seed.create_repository("app")
    manifest = ecr_seed.image_manifest()

    pushed = ecr.put_image(repositoryName="app", imageManifest=manifest, imageTag="v1")

    assert pushed["image"]["imageId"]["imageDigest"] == ecr_seed.manifest_digest(manifest)


def test_image_size_is_the_sum_of_its_layers(ecr: Any) -> None:
    ecr_seed.create_repository("app")
    ecr.put_image(repositoryName="app", imageManifest=ecr_seed.image_manifest(size_in_bytes=12345, layers=3))

    (detail,) = ecr.describe_images(repositoryName="app")["imageDetails"]

    assert detail["imageSizeInBytes"] == 12345


def test_seeded_image_is_described_like_a_put_image_one(ecr: Any) -> None:
    ecr_seed.create_repository("app")
    ecr.put_image(repositoryName="app", imageManifest=ecr_seed.image_manifest(), imageTag="api")
    ecr_seed.push_image("app", tags=["seed"])

    api, seeded = ecr.describe_images(repositoryName="app")["imageDetails"]

    assert set(api) == set(seeded)
    assert {k: v for k, v in api.items() if k not in {"imageDigest", "imageTags", "imagePushedAt"}} == {
        k: v for k, v in seeded.items() if k not in {"imageDigest", "imageTags", "imagePushedAt"}
    }


def test_batch_delete_image_rejects_more_than_100_image_ids(ecr: Any) -> None:
    ecr_seed.create_repository("app")
    digests = ecr_seed.push_images("app", 101)

    with pytest.raises(ClientError) as raised:
        ecr.batch_delete_image(repositoryName="app", imageIds=[{"imageDigest": d} for d in digests])

    assert raised.value.response["Error"]["Code"] == "InvalidParameterException"


def test_batch_delete_image_lists_a_deleted_untagged_image(ecr: Any) -> None:
    ecr_seed.create_repository("app")
    untagged = ecr_seed.push_image("app")

    response = ecr.batch_delete_image(repositoryName="app", imageIds=[{"imageDigest": untagged}])

    assert response["imageIds"] == [{"imageDigest": untagged}]


def test_batch_delete_image_by_digest_deletes_exactly_the_named_images_and_reports_them(ecr: Any) -> None:
    ecr_seed.create_repository("app")
    digests = ecr_seed.push_images("app", 300, tags=lambda i: [f"b{i}", f"c{i}"] if i % 2 else [])
    named = digests[100:199] + ["sha256:" + "0" * 64]

    response = ecr.batch_delete_image(repositoryName="app", imageIds=[{"imageDigest": d} for d in named])

    assert ecr_seed.remaining_digests("app") == set(digests[:100] + digests[199:])
    assert {entry["imageDigest"] for entry in response["imageIds"]} == set(digests[100:199])
    assert [f["failureCode"] for f in response["failures"]] == ["ImageNotFound"]
    listed = pages(ecr, "describe_images", "imageDetails", repositoryName="app", maxResults=1000)
    assert [detail["imageDigest"] for page in listed for detail in page] == digests[:100] + digests[199:]


def test_batch_delete_image_by_tag_removes_only_that_tag(ecr: Any) -> None:
    ecr_seed.create_repository("app")
    digest = ecr_seed.push_image("app", tags=["v1", "latest"])

    ecr.batch_delete_image(repositoryName="app", imageIds=[{"imageTag": "latest"}])

    (detail,) = ecr.describe_images(repositoryName="app")["imageDetails"]
    assert (detail["imageDigest"], detail["imageTags"]) == (digest, ["v1"])


def test_seeding_2500_images_takes_under_five_seconds() -> None:
    ecr_seed.create_repository("app")
    started = time.perf_counter()

    digests = ecr_seed.push_images("app", 2500, tags=lambda i: [f"build-{i}"], pushed_at=ecr_seed.days_ago)

    assert time.perf_counter() - started < 5
    assert len(set(digests)) == 2500


def test_seeded_images_page_through_in_process_mock_aws() -> None:
    with mock_aws():
        ecr_seed.create_repository("app")
        ecr_seed.push_images("app", 120)
        client = boto3.client("ecr", region_name=REGION)

        result = pages(client, "describe_images", "imageDetails", repositoryName="app")

    assert [len(page) for page in result] == [100, 20]


# IAM


def test_aws_managed_policies_exist(server: MotoServer) -> None:
    arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"

    policy = server.client("iam").get_policy(PolicyArn=arn)

    assert policy["Policy"]["Arn"] == arn


# Step Functions API


def test_validate_state_machine_definition_accepts_valid_asl(sfn: Any) -> None:
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})

    response = sfn.validate_state_machine_definition(definition=definition, type="STANDARD")

    assert (response["result"], response["diagnostics"]) == ("OK", [])


def test_validate_state_machine_definition_fails_unparseable_json(sfn: Any) -> None:
    response = sfn.validate_state_machine_definition(definition='{"StartAt": ')

    assert response["result"] == "FAIL"
    assert response["diagnostics"][0]["code"] == "INVALID_JSON_DESCRIPTION"


def test_validate_state_machine_definition_fails_asl_without_states(sfn: Any) -> None:
    response = sfn.validate_state_machine_definition(definition='{"StartAt": "Nowhere"}')

    assert response["result"] == "FAIL"


def test_list_state_machine_versions_lists_published_versions_newest_first(sfn: Any, role_arn: str) -> None:
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    arn = sfn.create_state_machine(name="sm", definition=definition, roleArn=role_arn, publish=True)[
        "stateMachineArn"
    ]
    sfn.update_state_machine(stateMachineArn=arn, definition=definition, publish=True)

    versions = sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]

    assert [v["stateMachineVersionArn"] for v in versions] == [f"{arn}:2", f"{arn}:1"]


def test_list_state_machine_versions_is_empty_for_unpublished_machine(sfn: Any, role_arn: str) -> None:
    arn = state_machine(sfn, role_arn, {"Done": {"Type": "Succeed"}}, "Done")

    assert sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"] == []


def test_unnamed_executions_each_get_a_unique_name(sfn: Any, role_arn: str) -> None:
    arn = state_machine(sfn, role_arn, {"Done": {"Type": "Succeed"}}, "Done")

    first = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    second = sfn.start_execution(stateMachineArn=arn)["executionArn"]

    assert first != second
    assert [finished(sfn, e)["status"] for e in (first, second)] == ["SUCCEEDED", "SUCCEEDED"]


# Lambda, in process


def test_invoke_runs_the_deployed_handler_with_its_environment(server: MotoServer, deploy: Any) -> None:
    deploy("echo", "echo", SETTING="from-terraform")

    response = server.client("lambda").invoke(FunctionName="echo", Payload=json.dumps({"dry_run": True}))
    result = json.loads(response["Payload"].read())

    assert "FunctionError" not in response
    assert result["event"] == {"dry_run": True}
    assert result["function"] == "echo"
    assert result["setting"] == "from-terraform"
    assert result["region"] == REGION
    assert result["endpoint"] is None
    assert 0 < result["remaining_ms"] <= 30_000
    assert result["origin"].startswith(str(moto_patches.LAMBDA_CODE_CACHE))


def test_handler_boto3_reaches_the_servers_backends_without_an_endpoint(
    server: MotoServer, deploy: Any
) -> None:
    deploy("count", "count_repositories")
    ecr_seed.create_repository("one")
    ecr_seed.create_repository("two")

    response = server.client("lambda").invoke(FunctionName="count")

    assert json.loads(response["Payload"].read()) == 2


def test_handler_exception_is_an_unhandled_function_error(server: MotoServer, deploy: Any) -> None:
    deploy("fail", "fail")

    response = server.client("lambda").invoke(FunctionName="fail")
    payload = json.loads(response["Payload"].read())

    assert response["FunctionError"] == "Unhandled"
    assert (payload["errorType"], payload["errorMessage"]) == ("CleanupFailed", "repository is on fire")


def test_invoke_imports_the_zip_not_a_same_named_package_on_sys_path(
    server: MotoServer, deploy: Any, tmp_path: Path
) -> None:
    (tmp_path / "probe").mkdir()
    (tmp_path / "probe" / "__init__.py").write_text("")
    (tmp_path / "probe" / "handlers.py").write_text("def echo(event, context):\n    return 'project copy'\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import probe.handlers  # type: ignore[import-not-found]

        path_before = list(sys.path)
        deploy("echo", "echo")

        result = json.loads(server.client("lambda").invoke(FunctionName="echo")["Payload"].read())

        assert result["origin"].startswith(str(moto_patches.LAMBDA_CODE_CACHE))
        assert sys.modules["probe.handlers"] is probe.handlers
        assert sys.path == path_before
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name.partition(".")[0] == "probe"]:
            del sys.modules[name]


# Step Functions executing Lambda tasks


def test_lambda_task_result_becomes_the_execution_output(sfn: Any, role_arn: str, deploy: Any) -> None:
    deploy("echo", "echo")
    arn = state_machine(
        sfn, role_arn, {"Call": lambda_task("echo", OutputPath="$.Payload", End=True)}, "Call"
    )

    execution = finished(
        sfn, sfn.start_execution(stateMachineArn=arn, input='{"repository": "app"}')["executionArn"]
    )

    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"])["event"] == {"repository": "app"}


def test_task_with_a_function_arn_resource_returns_the_handler_result(
    sfn: Any, role_arn: str, deploy: Any
) -> None:
    function_arn = deploy("echo", "echo")
    arn = state_machine(
        sfn, role_arn, {"Call": {"Type": "Task", "Resource": function_arn, "End": True}}, "Call"
    )

    execution = finished(sfn, sfn.start_execution(stateMachineArn=arn, input='{"n": 1}')["executionArn"])

    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"])["event"] == {"n": 1}


def test_catch_routes_a_lambda_error_to_the_catch_state(sfn: Any, role_arn: str, deploy: Any) -> None:
    deploy("fail", "fail")
    states = {
        "Call": lambda_task(
            "fail",
            Catch=[{"ErrorEquals": ["CleanupFailed"], "ResultPath": "$.error", "Next": "Caught"}],
            End=True,
        ),
        "Caught": {"Type": "Pass", "End": True},
    }
    arn = state_machine(sfn, role_arn, states, "Call")

    execution = finished(sfn, sfn.start_execution(stateMachineArn=arn)["executionArn"])

    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"])["error"]["Error"] == "CleanupFailed"


def test_uncaught_lambda_error_fails_the_execution_with_its_error_type(
    sfn: Any, role_arn: str, deploy: Any
) -> None:
    deploy("fail", "fail")
    arn = state_machine(sfn, role_arn, {"Call": lambda_task("fail", End=True)}, "Call")

    execution = finished(sfn, sfn.start_execution(stateMachineArn=arn)["executionArn"])

    assert (execution["status"], execution["error"]) == ("FAILED", "CleanupFailed")


def test_retry_reinvokes_a_failing_lambda(sfn: Any, role_arn: str, deploy: Any, tmp_path: Path) -> None:
    deploy("flaky", "flaky", ATTEMPTS_FILE=str(tmp_path / "attempts"))
    retry = [{"ErrorEquals": ["CleanupFailed"], "IntervalSeconds": 1, "BackoffRate": 1.0, "MaxAttempts": 3}]
    arn = state_machine(
        sfn, role_arn, {"Call": lambda_task("flaky", Retry=retry, OutputPath="$.Payload", End=True)}, "Call"
    )

    execution = finished(sfn, sfn.start_execution(stateMachineArn=arn)["executionArn"])

    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"]) == {"attempts": 3}


# Server and patch registry


def test_a_function_invoked_again_starts_warm(server: MotoServer, deploy: Any) -> None:
    deploy("remember", "remember")
    functions = server.client("lambda")

    counts = [json.loads(functions.invoke(FunctionName="remember")["Payload"].read()) for _ in range(3)]

    assert counts == [1, 2, 3]


def test_a_function_with_a_new_configuration_starts_cold(server: MotoServer, deploy: Any) -> None:
    deploy("remember", "remember")
    functions = server.client("lambda")
    functions.invoke(FunctionName="remember")
    functions.update_function_configuration(FunctionName="remember", Environment={"Variables": {"A": "1"}})

    assert json.loads(functions.invoke(FunctionName="remember")["Payload"].read()) == 1


def test_an_execution_fails_when_its_history_reaches_the_limit(
    sfn: Any, role_arn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(moto_patches, "SFN_MAX_HISTORY_EVENTS", 40)
    loop = {
        "Count": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)"}, "Next": "Again"},
        "Again": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.n", "NumericLessThan": 100, "Next": "Count"}],
            "Default": "Done",
        },
        "Done": {"Type": "Succeed"},
    }
    arn = sfn.start_execution(stateMachineArn=state_machine(sfn, role_arn, loop, "Count"), input='{"n": 0}')[
        "executionArn"
    ]

    execution = finished(sfn, arn)

    assert (execution["status"], execution["error"]) == ("FAILED", "States.Runtime")
    assert "maximum number of history events (40)" in execution["cause"]
    assert len(sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]) <= 42


def test_an_execution_below_the_history_limit_succeeds(
    sfn: Any, role_arn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(moto_patches, "SFN_MAX_HISTORY_EVENTS", 40)
    states = {"Done": {"Type": "Pass", "End": True}}
    arn = sfn.start_execution(stateMachineArn=state_machine(sfn, role_arn, states, "Done"))["executionArn"]

    assert finished(sfn, arn)["status"] == "SUCCEEDED"


def test_the_history_limit_is_the_one_aws_enforces() -> None:
    assert moto_patches.SFN_MAX_HISTORY_EVENTS == 25_000


def bucket_with_policy(server: MotoServer, *statements: dict[str, Any]) -> Any:
    s3 = server.client("s3")
    s3.create_bucket(Bucket="guarded")
    policy = {"Version": "2012-10-17", "Statement": list(statements)}
    s3.put_bucket_policy(Bucket="guarded", Policy=json.dumps(policy))
    return s3


TLS_ONLY = {
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Resource": ["arn:aws:s3:::guarded", "arn:aws:s3:::guarded/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}


def test_a_tls_only_bucket_policy_lets_sdk_requests_through(server: MotoServer) -> None:
    s3 = bucket_with_policy(server, TLS_ONLY)

    s3.put_object(Bucket="guarded", Key="report.json", Body=b"{}")

    assert s3.get_object(Bucket="guarded", Key="report.json")["Body"].read() == b"{}"


def test_an_unconditional_deny_in_a_bucket_policy_still_refuses(server: MotoServer) -> None:
    deny = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObject",
        "Resource": "arn:aws:s3:::guarded/*",
    }
    s3 = bucket_with_policy(server, TLS_ONLY, deny)

    with pytest.raises(ClientError, match="403"):
        s3.put_object(Bucket="guarded", Key="report.json", Body=b"{}")


def test_reset_forgets_every_resource(server: MotoServer, ecr: Any) -> None:
    ecr_seed.create_repository("app")

    server.reset()

    assert ecr.describe_repositories()["repositories"] == []


def test_apply_all_applies_every_registered_patch_once() -> None:
    moto_patches.apply_all()
    moto_patches.apply_all()

    assert moto_patches.applied() == set(moto_patches.PATCHES)
