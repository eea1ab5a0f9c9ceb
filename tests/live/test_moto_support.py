"""Each moto patch and seeding helper of tests/support, proven through boto3 against a moto server."""

from __future__ import annotations

import hashlib
import io
import json
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.ecr.exceptions import ImageAlreadyExistsException

from tests.support import ecr_seed, ecs_seed, moto_patches
from tests.support.moto_patches import awslambda
from tests.support.moto_server import MotoServer

REGION = "us-east-1"
ACCOUNT = "123456789012"

PROBE_HANDLERS = """
import json
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


def whoami(event, context):
    return {
        "arn": boto3.client("sts").get_caller_identity()["Arn"],
        "access_key": os.environ["AWS_ACCESS_KEY_ID"],
        "session_token": os.environ.get("AWS_SESSION_TOKEN"),
    }


def record(event, context):
    with open(os.environ["RECORD_FILE"], "a") as records:
        records.write(json.dumps(event) + "\\n")


def pull(event, context):
    response = boto3.client("ecr").batch_get_image(
        repositoryName=event["repository"], imageIds=[{"imageDigest": event["digest"]}]
    )
    return len(response["images"])
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
def ecs(server: MotoServer) -> Any:
    return server.client("ecs")


@pytest.fixture
def events(server: MotoServer) -> Any:
    return server.client("events")


@pytest.fixture
def scheduler(server: MotoServer) -> Any:
    return server.client("scheduler")


@pytest.fixture
def batch(server: MotoServer) -> Any:
    return server.client("batch")


def create_role(server: MotoServer, name: str, path: str = "/") -> str:
    """An IAM role Lambda may assume; returns its ARN."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = server.client("iam").create_role(
        RoleName=name, Path=path, AssumeRolePolicyDocument=json.dumps(trust)
    )
    return str(role["Role"]["Arn"])


@pytest.fixture
def role_arn(server: MotoServer) -> str:
    return create_role(server, "probe")


@pytest.fixture
def deploy(server: MotoServer, role_arn: str) -> Any:
    """Deploy the probe zip as a function running one of its handlers (with the role ``probe`` unless
    ``role`` names another); returns the function ARN."""
    lambda_client = server.client("lambda")

    def deploy_function(name: str, handler: str, *, role: str | None = None, **environment: str) -> str:
        created = lambda_client.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role or role_arn,
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


def paginated(client: Any, operation: str, result_key: str, **kwargs: Any) -> list[list[Any]]:
    """Every page of ``operation`` as boto3's paginator fetches them."""
    return [page[result_key] for page in client.get_paginator(operation).paginate(**kwargs)]


def state_machine(sfn: Any, role_arn: str, states: dict[str, Any], start_at: str) -> str:
    definition = json.dumps({"StartAt": start_at, "States": states})
    return str(
        sfn.create_state_machine(name="probe", definition=definition, roleArn=role_arn)["stateMachineArn"]
    )


def finished(sfn: Any, execution_arn: str, timeout: float = 120) -> dict[str, Any]:
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
    named = [*digests[100:199], "sha256:" + "0" * 64]

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


def test_seeding_2500_images_gives_2500_distinct_images() -> None:
    ecr_seed.create_repository("app")

    digests = ecr_seed.push_images("app", 2500, tags=lambda i: [f"build-{i}"], pushed_at=ecr_seed.days_ago)

    assert len(set(digests)) == 2500
    assert ecr_seed.remaining_digests("app") == set(digests)


def test_seeded_images_page_through_in_process_mock_aws() -> None:
    with mock_aws():
        ecr_seed.create_repository("app")
        ecr_seed.push_images("app", 120)
        client = boto3.client("ecr", region_name=REGION)

        result = pages(client, "describe_images", "imageDetails", repositoryName="app")

    assert [len(page) for page in result] == [100, 20]


# ECR: archive storage class


def update_storage_class(ecr: Any, digest: str, target: str, repository: str = "app") -> str:
    response = ecr.update_image_storage_class(
        repositoryName=repository, imageId={"imageDigest": digest}, targetStorageClass=target
    )
    return str(response["imageStatus"])


def statuses(ecr: Any, operation: str = "describe_images", **kwargs: Any) -> dict[str, str]:
    """digest -> imageStatus of every image ``operation`` lists in repository ``app``."""
    if operation == "list_images":
        listed = paginated(ecr, "list_images", "imageIds", repositoryName="app", **kwargs)
        return {image["imageDigest"]: "listed" for page in listed for image in page}
    described = paginated(ecr, "describe_images", "imageDetails", repositoryName="app", **kwargs)
    return {detail["imageDigest"]: detail["imageStatus"] for page in described for detail in page}


def error_code(raised: pytest.ExceptionInfo[ClientError]) -> str:
    return str(raised.value.response["Error"]["Code"])


def since(start: datetime, moment: datetime) -> bool:
    """Whether `moment` lies between `start` (to the second, as AWS returns times) and now: a time the
    emulation recorded while the test ran, however slow the machine."""
    return start.replace(microsecond=0) <= moment <= datetime.now(UTC)


def test_archiving_an_image_moves_it_to_archived_and_records_when(ecr: Any) -> None:
    ecr_seed.create_repository("app")
    digest = ecr_seed.push_image("app", tags=["v1"])
    start = datetime.now(UTC)

    response = ecr.update_image_storage_class(
        repositoryName="app", imageId={"imageTag": "v1"}, targetStorageClass="ARCHIVE"
    )

    assert response["imageStatus"] == "ARCHIVED"
    assert response["imageId"] == {"imageTag": "v1", "imageDigest": digest}
    (detail,) = ecr.describe_images(repositoryName="app", filter={"imageStatus": "ARCHIVED"})["imageDetails"]
    assert detail["imageStatus"] == "ARCHIVED"
    assert since(start, detail["lastArchivedAt"])
    assert "lastActivatedAt" not in detail


def test_an_active_image_is_described_as_active(ecr: Any) -> None:
    ecr_seed.create_repository("app")
    ecr_seed.push_image("app")

    (detail,) = ecr.describe_images(repositoryName="app")["imageDetails"]

    assert detail["imageStatus"] == "ACTIVE"
    assert "lastArchivedAt" not in detail


def test_describe_images_lists_only_active_images_unless_the_filter_names_a_status(ecr: Any) -> None:
    ecr_seed.create_repository("app")
    active, archived, restoring, *more_active = ecr_seed.push_images("app", 6)
    update_storage_class(ecr, archived, "ARCHIVE")
    update_storage_class(ecr, restoring, "ARCHIVE")
    update_storage_class(ecr, restoring, "STANDARD")
    page = {"PaginationConfig": {"PageSize": 1}}

    assert statuses(ecr, **page) == dict.fromkeys([active, *more_active], "ACTIVE")
    assert statuses(ecr, filter={"imageStatus": "ACTIVE"}) == dict.fromkeys([active, *more_active], "ACTIVE")
    assert statuses(ecr, filter={"imageStatus": "ARCHIVED"}, **page) == {archived: "ARCHIVED"}
    assert statuses(ecr, filter={"imageStatus": "ACTIVATING"}) == {restoring: "ACTIVATING"}
    assert statuses(ecr, filter={"imageStatus": "ANY", "tagStatus": "UNTAGGED"}, **page) == {
        active: "ACTIVE",
        archived: "ARCHIVED",
        restoring: "ACTIVATING",
        **dict.fromkeys(more_active, "ACTIVE"),
    }
    with pytest.raises(ClientError) as raised:
        ecr.describe_images(repositoryName="app", filter={"imageStatus": "GLACIER"})
    assert error_code(raised) == "InvalidParameterException"


def test_describe_images_by_id_applies_the_status_filter(ecr: Any) -> None:
    ecr_seed.create_repository("app")
    active = ecr_seed.push_image("app", tags=["live"])
    archived = ecr_seed.push_image("app", tags=["old"])
    update_storage_class(ecr, archived, "ARCHIVE")
    both = [{"imageDigest": active}, {"imageTag": "old"}]

    with pytest.raises(ClientError) as raised:
        ecr.describe_images(repositoryName="app", imageIds=both)
    described = ecr.describe_images(repositoryName="app", imageIds=both, filter={"imageStatus": "ANY"})
    only_archived = ecr.describe_images(
        repositoryName="app", imageIds=[{"imageTag": "old"}], filter={"imageStatus": "ARCHIVED"}
    )

    assert error_code(raised) == "ImageNotFoundException"
    assert [(d["imageDigest"], d["imageStatus"]) for d in described["imageDetails"]] == [
        (active, "ACTIVE"),
        (archived, "ARCHIVED"),
    ]
    assert [d["imageDigest"] for d in only_archived["imageDetails"]] == [archived]


def test_list_images_lists_only_active_images_unless_the_filter_names_a_status(ecr: Any) -> None:
    ecr_seed.create_repository("app")
    active, archived = ecr_seed.push_images("app", 2, tags=lambda i: [f"v{i}"])
    update_storage_class(ecr, archived, "ARCHIVE")

    assert set(statuses(ecr, "list_images")) == {active}
    assert set(statuses(ecr, "list_images", filter={"imageStatus": "ARCHIVED"})) == {archived}
    assert set(statuses(ecr, "list_images", filter={"imageStatus": "ANY", "tagStatus": "TAGGED"})) == {
        active,
        archived,
    }


def test_restoring_an_archived_image_makes_it_activating_until_the_restore_finishes(ecr: Any) -> None:
    ecr_seed.create_repository("app")
    digest = ecr_seed.push_image("app")
    update_storage_class(ecr, digest, "ARCHIVE")
    restored_at = ecr_seed.days_ago(0.01).replace(microsecond=0)

    restoring = update_storage_class(ecr, digest, "STANDARD")
    ecr_seed.finish_restore("app", digest, activated_at=restored_at)

    assert restoring == "ACTIVATING"
    (detail,) = ecr.describe_images(repositoryName="app")["imageDetails"]
    assert (detail["imageStatus"], detail["lastActivatedAt"]) == ("ACTIVE", restored_at)
    assert "lastArchivedAt" in detail
    (image,) = ecr.batch_get_image(repositoryName="app", imageIds=[{"imageDigest": digest}])["images"]
    assert image["imageId"]["imageDigest"] == digest


def test_finish_restore_refuses_an_image_that_is_not_being_restored(ecr: Any) -> None:
    ecr_seed.create_repository("app")
    digest = ecr_seed.push_image("app")

    with pytest.raises(ValueError, match="not being restored"):
        ecr_seed.finish_restore("app", digest)


@pytest.mark.parametrize(
    ("transitions", "target"),
    [
        (["ARCHIVE"], "ARCHIVE"),
        (["ARCHIVE", "STANDARD"], "ARCHIVE"),
        ([], "STANDARD"),
        (["ARCHIVE", "STANDARD"], "STANDARD"),
    ],
    ids=["archive-archived", "archive-activating", "restore-active", "restore-activating"],
)
def test_update_image_storage_class_refuses_what_ecr_does_not_support(
    ecr: Any, transitions: list[str], target: str
) -> None:
    ecr_seed.create_repository("app")
    digest = ecr_seed.push_image("app")
    for transition in transitions:
        update_storage_class(ecr, digest, transition)
    before = ecr_seed.find_image("app", digest).image_status

    with pytest.raises(ClientError) as raised:
        update_storage_class(ecr, digest, target)

    assert error_code(raised) == "ImageStorageClassUpdateNotSupportedException"
    assert ecr_seed.find_image("app", digest).image_status == before


def test_update_image_storage_class_of_a_missing_image_or_repository_fails(ecr: Any) -> None:
    ecr_seed.create_repository("app")

    with pytest.raises(ClientError) as missing_image:
        update_storage_class(ecr, "sha256:" + "0" * 64, "ARCHIVE")
    with pytest.raises(ClientError) as missing_repository:
        update_storage_class(ecr, "sha256:" + "0" * 64, "ARCHIVE", repository="nowhere")

    assert error_code(missing_image) == "ImageNotFoundException"
    assert error_code(missing_repository) == "RepositoryNotFoundException"


def test_batch_get_image_fails_archived_and_restoring_images(ecr: Any) -> None:
    ecr_seed.create_repository("app")
    active, archived, restoring = ecr_seed.push_images("app", 3, tags=lambda i: [f"v{i}"])
    update_storage_class(ecr, archived, "ARCHIVE")
    update_storage_class(ecr, restoring, "ARCHIVE")
    update_storage_class(ecr, restoring, "STANDARD")

    response = ecr.batch_get_image(
        repositoryName="app",
        imageIds=[{"imageDigest": active}, {"imageDigest": archived}, {"imageTag": "v2"}],
    )

    assert [image["imageId"]["imageDigest"] for image in response["images"]] == [active]
    assert [(f["imageId"], f["failureCode"]) for f in response["failures"]] == [
        ({"imageDigest": archived}, "ImageNotFound"),
        ({"imageTag": "v2"}, "ImageNotFound"),
    ]
    assert ecr_seed.find_image("app", archived).last_recorded_pull_time is None


def test_batch_delete_image_deletes_an_archived_image(ecr: Any) -> None:
    ecr_seed.create_repository("app")
    kept, archived = ecr_seed.push_images("app", 2)
    update_storage_class(ecr, archived, "ARCHIVE")

    response = ecr.batch_delete_image(repositoryName="app", imageIds=[{"imageDigest": archived}])

    assert response["imageIds"] == [{"imageDigest": archived}]
    assert ecr_seed.remaining_digests("app") == {kept}


def test_pushing_an_archived_image_again_restores_it_at_once(ecr: Any) -> None:
    ecr_seed.create_repository("app")
    manifest = ecr_seed.image_manifest()
    digest = ecr.put_image(repositoryName="app", imageManifest=manifest, imageTag="v1")["image"]["imageId"][
        "imageDigest"
    ]
    update_storage_class(ecr, digest, "ARCHIVE")
    start = datetime.now(UTC)

    ecr.put_image(repositoryName="app", imageManifest=manifest, imageTag="v1-again")

    (detail,) = ecr.describe_images(repositoryName="app")["imageDetails"]
    assert (detail["imageDigest"], detail["imageStatus"]) == (digest, "ACTIVE")
    assert since(start, detail["lastActivatedAt"])


def test_archive_image_seeds_an_image_archived_long_ago(ecr: Any) -> None:
    ecr_seed.create_repository("app")
    digest = ecr_seed.push_image("app", pushed_at=ecr_seed.days_ago(400))
    archived_at = ecr_seed.days_ago(120).replace(microsecond=0)

    ecr_seed.archive_image("app", digest, archived_at=archived_at)

    (detail,) = ecr.describe_images(repositoryName="app", filter={"imageStatus": "ARCHIVED"})["imageDetails"]
    assert (detail["imageStatus"], detail["lastArchivedAt"]) == ("ARCHIVED", archived_at)
    assert ecr.describe_images(repositoryName="app")["imageDetails"] == []


def test_archived_images_are_hidden_in_process_mock_aws() -> None:
    with mock_aws():
        ecr_seed.create_repository("app")
        active, archived = ecr_seed.push_images("app", 2)
        client = boto3.client("ecr", region_name=REGION)
        client.update_image_storage_class(
            repositoryName="app", imageId={"imageDigest": archived}, targetStorageClass="ARCHIVE"
        )

        listed = [d["imageDigest"] for d in client.describe_images(repositoryName="app")["imageDetails"]]

    assert listed == [active]


# ECR: pull times


def pull(client: Any, digest: str, repository: str = "app") -> int:
    response = client.batch_get_image(repositoryName=repository, imageIds=[{"imageDigest": digest}])
    return len(response["images"])


def pull_time(digest: str, repository: str = "app") -> datetime | None:
    moment: datetime | None = ecr_seed.find_image(repository, digest).last_recorded_pull_time
    return moment


def signed_by(server: MotoServer, service: str, **credentials: str) -> Any:
    """A client of ``service`` on the server whose requests are signed with ``credentials``."""
    return boto3.client(service, region_name=REGION, endpoint_url=server.endpoint_url, **credentials)


def as_role(server: MotoServer, role: str, service: str = "ecr", session: str = "test") -> Any:
    """A client of ``service`` whose requests are signed with credentials of a session of ``role``
    that moto's STS issued, as the service the role trusts would get them."""
    return signed_by(server, service, **ecr_seed.role_credentials(role, session))


def test_batch_get_image_records_the_pull_time_of_the_images_it_returns(ecr: Any) -> None:
    ecr_seed.create_repository("app")
    long_ago = ecr_seed.days_ago(30)
    pulled, other = ecr_seed.push_images("app", 2, last_pulled_at=long_ago)
    start = datetime.now(UTC)

    pull(ecr, pulled)

    (detail,) = ecr.describe_images(repositoryName="app", imageIds=[{"imageDigest": pulled}])["imageDetails"]
    assert since(start, detail["lastRecordedPullTime"])
    assert pull_time(other) == long_ago


def test_a_pull_by_an_excluded_role_leaves_the_pull_time_and_others_set_it(
    server: MotoServer, ecr: Any
) -> None:
    scanner = create_role(server, "scanner", path="/security/")
    deployer = create_role(server, "deployer")
    ecr.register_pull_time_update_exclusion(principalArn=scanner)
    ecr_seed.create_repository("app")
    long_ago = ecr_seed.days_ago(30)
    digest = ecr_seed.push_image("app", last_pulled_at=long_ago)

    scanned = pull(as_role(server, scanner), digest)
    after_scan = pull_time(digest)
    deployed = pull(as_role(server, deployer), digest)

    assert (scanned, after_scan) == (1, long_ago)
    assert deployed == 1
    assert pull_time(digest) != long_ago


def test_a_deregistered_exclusion_no_longer_leaves_the_pull_time(server: MotoServer, ecr: Any) -> None:
    scanner = create_role(server, "scanner")
    ecr.register_pull_time_update_exclusion(principalArn=scanner)
    ecr.deregister_pull_time_update_exclusion(principalArn=scanner)
    ecr_seed.create_repository("app")
    digest = ecr_seed.push_image("app")

    pull(as_role(server, scanner), digest)

    assert pull_time(digest) is not None


def test_an_excluded_iam_user_leaves_the_pull_time(server: MotoServer, ecr: Any) -> None:
    iam = server.client("iam")
    user = iam.create_user(UserName="trivy")["User"]["Arn"]
    key = iam.create_access_key(UserName="trivy")["AccessKey"]
    ecr.register_pull_time_update_exclusion(principalArn=user)
    ecr_seed.create_repository("app")
    digest = ecr_seed.push_image("app")
    trivy = signed_by(
        server, "ecr", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
    )

    pull(trivy, digest)

    assert pull_time(digest) is None


def test_the_test_credentials_are_excluded_only_when_their_principal_is(server: MotoServer, ecr: Any) -> None:
    ecr_seed.create_repository("app")
    first, second = ecr_seed.push_images("app", 2)
    other = create_role(server, "other")

    ecr.register_pull_time_update_exclusion(principalArn=other)
    pull(ecr, first)
    ecr.register_pull_time_update_exclusion(principalArn=f"arn:aws:iam::{ACCOUNT}:user/moto")
    pull(ecr, second)

    assert pull_time(first) is not None
    assert pull_time(second) is None


def test_pull_time_update_exclusions_are_listed_in_pages_and_deregistered(ecr: Any) -> None:
    arns = [f"arn:aws:iam::{ACCOUNT}:role/scanner-{n}" for n in range(5)]
    start = datetime.now(UTC)
    registered = [ecr.register_pull_time_update_exclusion(principalArn=arn) for arn in arns]

    ecr.deregister_pull_time_update_exclusion(principalArn=arns[1])
    listed = pages(ecr, "list_pull_time_update_exclusions", "pullTimeUpdateExclusions", maxResults=2)

    assert [r["principalArn"] for r in registered] == arns
    assert all(since(start, r["createdAt"]) for r in registered)
    assert listed == [[arns[0], arns[2]], [arns[3], arns[4]]]
    assert ecr.list_pull_time_update_exclusions()["pullTimeUpdateExclusions"] == [arns[0], *arns[2:]]


def test_pull_time_update_exclusions_belong_to_one_registry(server: MotoServer, ecr: Any) -> None:
    arn = f"arn:aws:iam::{ACCOUNT}:role/scanner"

    ecr.register_pull_time_update_exclusion(principalArn=arn)

    elsewhere = server.client("ecr", region="eu-west-1").list_pull_time_update_exclusions()
    assert elsewhere["pullTimeUpdateExclusions"] == []


def test_pull_time_update_exclusions_refuse_duplicates_unknowns_and_invalid_arns(ecr: Any) -> None:
    arn = f"arn:aws:iam::{ACCOUNT}:role/scanner"
    ecr.register_pull_time_update_exclusion(principalArn=arn)

    with pytest.raises(ClientError) as duplicate:
        ecr.register_pull_time_update_exclusion(principalArn=arn)
    with pytest.raises(ClientError) as unknown:
        ecr.deregister_pull_time_update_exclusion(principalArn=f"arn:aws:iam::{ACCOUNT}:role/other")
    with pytest.raises(ClientError) as assumed_role:
        ecr.register_pull_time_update_exclusion(principalArn=f"arn:aws:sts::{ACCOUNT}:assumed-role/scanner/s")

    assert error_code(duplicate) == "ExclusionAlreadyExistsException"
    assert error_code(unknown) == "ExclusionNotFoundException"
    assert error_code(assumed_role) == "InvalidParameterException"


def test_a_registry_takes_at_most_100_pull_time_update_exclusions(ecr: Any) -> None:
    for n in range(100):
        ecr.register_pull_time_update_exclusion(principalArn=f"arn:aws:iam::{ACCOUNT}:role/scanner-{n}")

    with pytest.raises(ClientError) as raised:
        ecr.register_pull_time_update_exclusion(principalArn=f"arn:aws:iam::{ACCOUNT}:role/one-too-many")

    assert error_code(raised) == "LimitExceededException"
    assert len(ecr.list_pull_time_update_exclusions()["pullTimeUpdateExclusions"]) == 100


def test_pull_time_exclusions_hold_in_process_mock_aws() -> None:
    with mock_aws():
        role = f"arn:aws:iam::{ACCOUNT}:role/scanner"
        ecr_seed.create_repository("app")
        excluded, counted = ecr_seed.push_images("app", 2)
        boto3.client("ecr", region_name=REGION).register_pull_time_update_exclusion(principalArn=role)
        scanner = boto3.client("ecr", region_name=REGION, **ecr_seed.role_credentials(role))
        other = boto3.client(
            "ecr", region_name=REGION, **ecr_seed.role_credentials(f"arn:aws:iam::{ACCOUNT}:role/other")
        )

        pull(scanner, excluded)
        pull(other, counted)

        assert (pull_time(excluded), pull_time(counted) is not None) == (None, True)


# ECS task definitions


def register_task_definition(ecs: Any, family: str, image: str = "app:1") -> str:
    container = {"name": "main", "image": image, "memory": 64}
    response = ecs.register_task_definition(family=family, containerDefinitions=[container])
    return str(response["taskDefinition"]["taskDefinitionArn"])


def revisions(arns: list[str]) -> list[str]:
    """``family:revision`` of each task definition ARN."""
    return [arn.rpartition("/")[2] for arn in arns]


def test_list_task_definition_families_returns_150_families_in_pages_of_100(ecs: Any) -> None:
    families = [f"family-{n:03d}" for n in range(150)]
    for family in reversed(families):
        register_task_definition(ecs, family)

    result = paginated(ecs, "list_task_definition_families", "families")
    first = ecs.list_task_definition_families()
    rest = ecs.list_task_definition_families(nextToken=first["nextToken"])

    assert [len(page) for page in result] == [100, 50]
    assert [family for page in result for family in page] == families
    assert (first["families"], rest["families"]) == (families[:100], families[100:])
    assert "nextToken" not in rest
    with pytest.raises(ClientError) as raised:
        ecs.list_task_definition_families(maxResults=101)
    assert raised.value.response["Error"]["Code"] == "InvalidParameterException"


def test_list_task_definition_families_filters_by_status_and_prefix(ecs: Any) -> None:
    for family in ("api", "api-worker", "batch", "retired"):
        register_task_definition(ecs, family)
    register_task_definition(ecs, "retired")
    ecs.deregister_task_definition(taskDefinition="retired:1")
    ecs.deregister_task_definition(taskDefinition="retired:2")
    ecs.deregister_task_definition(taskDefinition="batch:1")
    register_task_definition(ecs, "batch")

    def listed(**kwargs: Any) -> list[str]:
        return [
            family
            for page in paginated(ecs, "list_task_definition_families", "families", **kwargs)
            for family in page
        ]

    assert listed() == ["api", "api-worker", "batch", "retired"]
    assert listed(status="ALL") == ["api", "api-worker", "batch", "retired"]
    assert listed(status="ACTIVE") == ["api", "api-worker", "batch"]
    assert listed(status="INACTIVE") == ["retired"]
    assert listed(familyPrefix="api") == ["api", "api-worker"]


def test_list_task_definitions_returns_130_revisions_in_pages_of_100(ecs: Any) -> None:
    for _ in range(130):
        register_task_definition(ecs, "api")

    result = paginated(ecs, "list_task_definitions", "taskDefinitionArns", familyPrefix="api")

    assert [len(page) for page in result] == [100, 30]
    assert revisions([arn for page in result for arn in page]) == [f"api:{n}" for n in range(1, 131)]
    with pytest.raises(ClientError) as raised:
        ecs.list_task_definitions(maxResults=101)
    assert raised.value.response["Error"]["Code"] == "InvalidParameterException"


def test_list_task_definitions_sort_desc_lists_the_newest_revision_first(ecs: Any) -> None:
    for family in ("web", "api", "web", "api", "api"):
        register_task_definition(ecs, family)

    ascending = paginated(
        ecs, "list_task_definitions", "taskDefinitionArns", PaginationConfig={"PageSize": 2}
    )
    descending = paginated(
        ecs, "list_task_definitions", "taskDefinitionArns", sort="DESC", PaginationConfig={"PageSize": 2}
    )
    newest = ecs.list_task_definitions(familyPrefix="api", sort="DESC", maxResults=1)["taskDefinitionArns"]

    assert [revisions(page) for page in ascending] == [["api:1", "api:2"], ["api:3", "web:1"], ["web:2"]]
    assert [revisions(page) for page in descending] == [["web:2", "web:1"], ["api:3", "api:2"], ["api:1"]]
    assert revisions(newest) == ["api:3"]


def test_list_task_definitions_status_active_leaves_out_deregistered_revisions(ecs: Any) -> None:
    for _ in range(4):
        register_task_definition(ecs, "api")
    ecs.deregister_task_definition(taskDefinition="api:2")
    ecs.deregister_task_definition(taskDefinition="api:4")

    def listed(**kwargs: Any) -> list[str]:
        return revisions(
            [
                arn
                for page in paginated(ecs, "list_task_definitions", "taskDefinitionArns", **kwargs)
                for arn in page
            ]
        )

    assert listed() == ["api:1", "api:3"]
    assert listed(status="ACTIVE", familyPrefix="api") == ["api:1", "api:3"]
    assert listed(status="INACTIVE") == ["api:2", "api:4"]
    assert listed(familyPrefix="ap") == []


def test_a_deleted_task_definition_stays_delete_in_progress_and_its_number_is_not_reused(ecs: Any) -> None:
    register_task_definition(ecs, "api")
    register_task_definition(ecs, "api")
    ecs.deregister_task_definition(taskDefinition="api:2")

    deleted = ecs.delete_task_definitions(taskDefinitions=["api:2"])["taskDefinitions"]
    registered = register_task_definition(ecs, "api")

    assert [d["status"] for d in deleted] == ["DELETE_IN_PROGRESS"]
    assert revisions(ecs.list_task_definitions(status="DELETE_IN_PROGRESS")["taskDefinitionArns"]) == [
        "api:2"
    ]
    assert (
        ecs.describe_task_definition(taskDefinition="api:2")["taskDefinition"]["status"]
        == "DELETE_IN_PROGRESS"
    )
    assert revisions([registered]) == ["api:3"]


def test_describe_task_definition_by_family_describes_its_latest_active_revision(ecs: Any) -> None:
    register_task_definition(ecs, "api", image="app:1")
    register_task_definition(ecs, "api", image="app:2")
    register_task_definition(ecs, "api", image="app:3")
    ecs.deregister_task_definition(taskDefinition="api:3")
    family_arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/api"

    by_name = ecs.describe_task_definition(taskDefinition="api")["taskDefinition"]
    by_arn = ecs.describe_task_definition(taskDefinition=family_arn)["taskDefinition"]

    assert (by_name["revision"], by_name["containerDefinitions"][0]["image"]) == (2, "app:2")
    assert by_arn["revision"] == 2
    ecs.deregister_task_definition(taskDefinition="api:1")
    ecs.deregister_task_definition(taskDefinition="api:2")
    with pytest.raises(ClientError) as raised:
        ecs.describe_task_definition(taskDefinition="api")
    assert raised.value.response["Error"]["Code"] == "ClientException"


def test_task_definition_revisions_page_through_in_process_mock_aws() -> None:
    with mock_aws():
        client = boto3.client("ecs", region_name=REGION)
        for _ in range(3):
            register_task_definition(client, "api")

        result = paginated(
            client,
            "list_task_definitions",
            "taskDefinitionArns",
            sort="DESC",
            PaginationConfig={"PageSize": 2},
        )

    assert [revisions(page) for page in result] == [["api:3", "api:2"], ["api:1"]]


# EventBridge and EventBridge Scheduler

CLUSTER = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/jobs"
RUNNER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/runner"


def task_definition_arn(family: str, revision: int = 1) -> str:
    return f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{family}:{revision}"


def test_list_targets_by_rule_pages_ecs_targets_on_one_cluster(events: Any) -> None:
    events.put_rule(Name="nightly", ScheduleExpression="rate(1 day)")
    targets = [
        {
            "Id": f"task-{n}",
            "Arn": CLUSTER,
            "RoleArn": RUNNER_ROLE,
            "EcsParameters": {"TaskDefinitionArn": task_definition_arn(f"job-{n}"), "TaskCount": 1},
        }
        for n in range(5)
    ]
    events.put_targets(Rule="nightly", Targets=targets)

    result = paginated(
        events, "list_targets_by_rule", "Targets", Rule="nightly", PaginationConfig={"PageSize": 2}
    )

    assert [[target["Id"] for target in page] for page in result] == [
        ["task-0", "task-1"],
        ["task-2", "task-3"],
        ["task-4"],
    ]
    listed = [target["EcsParameters"]["TaskDefinitionArn"] for page in result for target in page]
    assert listed == [task_definition_arn(f"job-{n}") for n in range(5)]


@pytest.mark.parametrize(
    ("operation", "parameters"),
    [("list_rules", {}), ("list_targets_by_rule", {"Rule": "nightly"}), ("list_event_buses", {})],
)
def test_eventbridge_listings_refuse_a_limit_above_100(
    events: Any, operation: str, parameters: dict[str, Any]
) -> None:
    events.put_rule(Name="nightly", ScheduleExpression="rate(1 day)")

    getattr(events, operation)(Limit=100, **parameters)
    with pytest.raises(ClientError) as raised:
        getattr(events, operation)(Limit=101, **parameters)

    assert raised.value.response["Error"]["Code"] == "ValidationException"


def test_moto_pages_rules_of_a_custom_bus_and_event_buses(events: Any) -> None:
    events.create_event_bus(Name="jobs")
    for n in range(120):
        events.put_rule(
            Name=f"rule-{n:03d}", EventBusName="jobs", EventPattern=json.dumps({"source": ["app"]})
        )
    events.put_rule(Name="on-default", ScheduleExpression="rate(1 day)")
    events.put_targets(
        Rule="rule-007",
        EventBusName="jobs",
        Targets=[
            {
                "Id": "t",
                "Arn": CLUSTER,
                "RoleArn": RUNNER_ROLE,
                "EcsParameters": {"TaskDefinitionArn": task_definition_arn("etl", 3)},
            }
        ],
    )
    for n in range(3):
        events.create_event_bus(Name=f"bus-{n}")

    rules = paginated(events, "list_rules", "Rules", EventBusName="jobs", PaginationConfig={"PageSize": 100})
    (target,) = events.list_targets_by_rule(Rule="rule-007", EventBusName="jobs")["Targets"]
    buses: list[list[str]] = []
    token: dict[str, str] = {}
    while True:
        response = events.list_event_buses(Limit=2, **token)
        buses.append([bus["Name"] for bus in response["EventBuses"]])
        if "NextToken" not in response:
            break
        token = {"NextToken": response["NextToken"]}

    assert [len(page) for page in rules] == [100, 20]
    assert {rule["Name"] for page in rules for rule in page} == {f"rule-{n:03d}" for n in range(120)}
    assert target["EcsParameters"]["TaskDefinitionArn"] == task_definition_arn("etl", 3)
    assert [len(page) for page in buses] == [2, 2, 1]
    assert sorted(name for page in buses for name in page) == ["bus-0", "bus-1", "bus-2", "default", "jobs"]


def create_schedule(scheduler: Any, name: str, **kwargs: Any) -> None:
    scheduler.create_schedule(
        Name=name,
        ScheduleExpression="rate(1 day)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": CLUSTER,
            "RoleArn": RUNNER_ROLE,
            "EcsParameters": {"TaskDefinitionArn": task_definition_arn(name), "LaunchType": "FARGATE"},
        },
        **kwargs,
    )


def test_list_schedules_refuses_max_results_above_100(scheduler: Any) -> None:
    create_schedule(scheduler, "nightly")

    scheduler.list_schedules(MaxResults=100)
    with pytest.raises(ClientError) as raised:
        scheduler.list_schedules(MaxResults=101)

    assert raised.value.response["Error"]["Code"] == "ValidationException"


def test_moto_pages_and_filters_schedules_and_keeps_ecs_parameters(scheduler: Any) -> None:
    scheduler.create_schedule_group(Name="reports")
    for n in range(150):
        create_schedule(scheduler, f"job-{n:03d}", GroupName="reports" if n % 2 else "default")
    create_schedule(scheduler, "paused", State="DISABLED")

    result = paginated(scheduler, "list_schedules", "Schedules", PaginationConfig={"PageSize": 100})

    def names(**kwargs: Any) -> set[str]:
        return {
            s["Name"] for page in paginated(scheduler, "list_schedules", "Schedules", **kwargs) for s in page
        }

    assert [len(page) for page in result] == [100, 51]
    assert len({schedule["Arn"] for page in result for schedule in page}) == 151
    assert names(NamePrefix="job-00") == {f"job-00{n}" for n in range(10)}
    assert names(GroupName="reports") == {f"job-{n:03d}" for n in range(1, 150, 2)}
    assert names(State="DISABLED") == {"paused"}
    target = scheduler.get_schedule(Name="job-001", GroupName="reports")["Target"]
    assert target["EcsParameters"]["TaskDefinitionArn"] == task_definition_arn("job-001")


# AWS Batch job definitions


def container_properties(image: str) -> dict[str, Any]:
    return {
        "image": image,
        "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}],
    }


def register_job_definition(batch: Any, name: str, image: str = "app:1") -> str:
    response = batch.register_job_definition(
        jobDefinitionName=name, type="container", containerProperties=container_properties(image)
    )
    return str(response["jobDefinitionArn"])


def test_describe_job_definitions_returns_150_revisions_in_pages_of_100(batch: Any) -> None:
    registered = [register_job_definition(batch, f"etl-{n % 7}") for n in range(150)]

    result = paginated(batch, "describe_job_definitions", "jobDefinitions")

    assert [len(page) for page in result] == [100, 50]
    assert sorted(d["jobDefinitionArn"] for page in result for d in page) == sorted(registered)
    with pytest.raises(ClientError) as raised:
        batch.describe_job_definitions(maxResults=101)
    assert raised.value.response["Error"]["Code"] == "ClientException"


def test_describe_job_definitions_filters_by_status_and_name(batch: Any) -> None:
    for name in ("etl", "etl", "etl", "etl-2", "report"):
        register_job_definition(batch, name)
    batch.deregister_job_definition(jobDefinition="etl:2")

    def described(**kwargs: Any) -> list[tuple[str, int, str]]:
        pages_ = paginated(
            batch, "describe_job_definitions", "jobDefinitions", PaginationConfig={"PageSize": 2}, **kwargs
        )
        return [(d["jobDefinitionName"], d["revision"], d["status"]) for page in pages_ for d in page]

    assert described(jobDefinitionName="etl") == [
        ("etl", 1, "ACTIVE"),
        ("etl", 2, "INACTIVE"),
        ("etl", 3, "ACTIVE"),
    ]
    assert described(jobDefinitionName="etl", status="ACTIVE") == [("etl", 1, "ACTIVE"), ("etl", 3, "ACTIVE")]
    assert described(status="INACTIVE") == [("etl", 2, "INACTIVE")]
    assert len(described()) == 5


def test_describe_job_definitions_finds_name_revision_entries(batch: Any) -> None:
    first = register_job_definition(batch, "etl")
    register_job_definition(batch, "etl")

    described = batch.describe_job_definitions(jobDefinitions=["etl:2", first])["jobDefinitions"]

    assert sorted(d["revision"] for d in described) == [1, 2]


def test_describe_job_definitions_takes_job_definitions_only_alone_and_up_to_100(batch: Any) -> None:
    register_job_definition(batch, "etl")

    for parameters in ({"status": "ACTIVE"}, {"jobDefinitionName": "etl"}, {"maxResults": 10}):
        with pytest.raises(ClientError) as raised:
            batch.describe_job_definitions(jobDefinitions=["etl:1"], **parameters)
        assert raised.value.response["Error"]["Code"] == "ClientException"
    with pytest.raises(ClientError) as raised:
        batch.describe_job_definitions(jobDefinitions=[f"etl:{n}" for n in range(1, 102)])
    assert raised.value.response["Error"]["Code"] == "ClientException"


def test_job_definition_revisions_are_kept_as_registered(batch: Any) -> None:
    register_job_definition(batch, "etl", image="app:1")
    batch.register_job_definition(
        jobDefinitionName="etl",
        type="container",
        eksProperties={"podProperties": {"containers": [{"image": "eks:1"}]}},
    )
    batch.register_job_definition(
        jobDefinitionName="etl",
        type="container",
        platformCapabilities=["FARGATE"],
        ecsProperties={"taskProperties": [{"containers": [{"name": "main", "image": "ecs:1"}]}]},
    )
    batch.register_job_definition(
        jobDefinitionName="mpi",
        type="multinode",
        nodeProperties={
            "numNodes": 2,
            "mainNode": 0,
            "nodeRangeProperties": [{"targetNodes": "0:", "container": container_properties("node:1")}],
        },
    )

    by_revision = {
        (d["jobDefinitionName"], d["revision"]): d for d in batch.describe_job_definitions()["jobDefinitions"]
    }

    properties = ("containerProperties", "eksProperties", "ecsProperties", "nodeProperties")
    assert {key: [p for p in properties if p in d] for key, d in by_revision.items()} == {
        ("etl", 1): ["containerProperties"],
        ("etl", 2): ["eksProperties"],
        ("etl", 3): ["ecsProperties"],
        ("mpi", 1): ["nodeProperties"],
    }
    assert by_revision[("etl", 3)]["ecsProperties"]["taskProperties"][0]["containers"][0]["image"] == "ecs:1"
    assert (
        by_revision[("mpi", 1)]["nodeProperties"]["nodeRangeProperties"][0]["container"]["image"] == "node:1"
    )


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


# Step Functions status changes on EventBridge


STATUS_CHANGE = {"source": ["aws.states"], "detail-type": ["Step Functions Execution Status Change"]}


@pytest.fixture
def status_changes(server: MotoServer, events: Any) -> Callable[[], list[dict[str, Any]]]:
    """Every status change event of the account's executions, through a rule that targets a queue."""
    sqs = server.client("sqs")
    queue = sqs.create_queue(QueueName="status-changes")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(Name="status-changes", EventPattern=json.dumps(STATUS_CHANGE))
    events.put_targets(Rule="status-changes", Targets=[{"Id": "queue", "Arn": queue_arn}])

    def received() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(message["Body"]) for message in messages]

    return received


def test_a_failed_execution_sends_its_start_and_its_failure_in_aws_shape(
    sfn: Any, role_arn: str, deploy: Any, status_changes: Callable[[], list[dict[str, Any]]]
) -> None:
    deploy("fail", "fail")
    arn = state_machine(sfn, role_arn, {"Call": lambda_task("fail", End=True)}, "Call")
    execution = finished(sfn, sfn.start_execution(stateMachineArn=arn, name="run-1")["executionArn"])

    running, failed = status_changes()
    assert (running["detail"]["status"], failed["detail"]["status"]) == ("RUNNING", "FAILED")
    assert (failed["source"], failed["detail-type"]) == (
        "aws.states",
        "Step Functions Execution Status Change",
    )
    assert failed["resources"] == [execution["executionArn"]]
    detail = failed["detail"]
    assert (detail["executionArn"], detail["stateMachineArn"], detail["name"]) == (
        execution["executionArn"],
        arn,
        "run-1",
    )
    assert (detail["error"], detail["output"]) == ("CleanupFailed", None)
    assert json.loads(detail["cause"])["errorMessage"] == "repository is on fire"
    assert detail["startDate"] == int(execution["startDate"].timestamp() * 1000)
    assert isinstance(detail["stopDate"], int)
    assert detail["stopDate"] >= detail["startDate"]


def test_a_timed_out_and_an_aborted_execution_say_so(
    sfn: Any, role_arn: str, status_changes: Callable[[], list[dict[str, Any]]]
) -> None:
    waits = {"Wait": {"Type": "Wait", "Seconds": 30, "End": True}}
    arn = state_machine(sfn, role_arn, waits, "Wait")
    slow = sfn.create_state_machine(
        name="times-out",
        roleArn=role_arn,
        definition=json.dumps({"StartAt": "Wait", "TimeoutSeconds": 1, "States": waits}),
    )["stateMachineArn"]
    timed_out = finished(sfn, sfn.start_execution(stateMachineArn=slow)["executionArn"])
    stopped = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    sfn.stop_execution(executionArn=stopped, error="Operator", cause="stopped by hand")
    finished(sfn, stopped)

    ended = {}
    deadline = time.monotonic() + 30
    while len(ended) < 2 and time.monotonic() < deadline:
        for event in status_changes():
            if event["detail"]["status"] != "RUNNING":
                ended[event["detail"]["executionArn"]] = event["detail"]["status"]
    assert ended == {timed_out["executionArn"]: "TIMED_OUT", stopped: "ABORTED"}


def test_a_rule_invokes_a_lambda_target_that_allows_it(
    server: MotoServer, events: Any, deploy: Any, tmp_path: Path
) -> None:
    records = tmp_path / "records"
    function = deploy("record", "record", RECORD_FILE=str(records))
    denied = deploy("denied", "record", RECORD_FILE=str(tmp_path / "denied"))
    rule = events.put_rule(Name="ended", EventPattern=json.dumps({"source": ["app"]}))["RuleArn"]
    server.client("lambda").add_permission(
        FunctionName="record",
        StatementId="events",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=rule,
    )
    events.put_targets(Rule="ended", Targets=[{"Id": "f", "Arn": function}, {"Id": "d", "Arn": denied}])

    events.put_events(Entries=[{"Source": "app", "DetailType": "done", "Detail": json.dumps({"n": 1})}])

    deadline = time.monotonic() + 30
    while not records.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    [event] = [json.loads(line) for line in records.read_text().splitlines()]
    assert (event["source"], event["detail"]) == ("app", {"n": 1})
    assert not (tmp_path / "denied").exists(), (
        "a function whose policy does not allow the rule is not invoked"
    )


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


def test_a_function_calls_aws_as_a_session_of_its_execution_role(server: MotoServer, deploy: Any) -> None:
    deploy("whoami", "whoami")

    result = json.loads(server.client("lambda").invoke(FunctionName="whoami")["Payload"].read())

    assert result["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/probe/whoami"
    assert result["access_key"].startswith("ASIA")
    assert result["session_token"] not in (None, "testing")


def test_a_warm_function_keeps_its_credentials_and_a_cold_one_gets_new_ones(
    server: MotoServer, deploy: Any
) -> None:
    deploy("whoami", "whoami")
    functions = server.client("lambda")

    def access_key() -> str:
        return str(json.loads(functions.invoke(FunctionName="whoami")["Payload"].read())["access_key"])

    first, warm = access_key(), access_key()
    functions.update_function_configuration(FunctionName="whoami", Environment={"Variables": {"A": "1"}})
    cold = access_key()

    assert first == warm
    assert cold != first


def test_a_function_redeployed_after_a_reset_runs_with_a_session_moto_knows(
    server: MotoServer, deploy: Any
) -> None:
    deploy("whoami", "whoami")
    server.client("lambda").invoke(FunctionName="whoami")
    server.reset()
    create_role(server, "probe")
    deploy("whoami", "whoami")

    result = json.loads(server.client("lambda").invoke(FunctionName="whoami")["Payload"].read())

    assert result["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/probe/whoami"


def test_a_pull_by_a_function_leaves_the_pull_time_only_when_its_role_is_excluded(
    server: MotoServer, ecr: Any, deploy: Any
) -> None:
    scanner = create_role(server, "scanner")
    ecr.register_pull_time_update_exclusion(principalArn=scanner)
    deploy("scan", "pull", role=scanner)
    deploy("deploy", "pull")
    ecr_seed.create_repository("app")
    long_ago = ecr_seed.days_ago(30)
    scanned, deployed = ecr_seed.push_images("app", 2, last_pulled_at=long_ago)
    functions = server.client("lambda")

    pulls = [
        json.loads(functions.invoke(FunctionName=name, Payload=json.dumps(event))["Payload"].read())
        for name, event in (
            ("scan", {"repository": "app", "digest": scanned}),
            ("deploy", {"repository": "app", "digest": deployed}),
        )
    ]

    assert pulls == [1, 1]
    assert pull_time(scanned) == long_ago
    assert pull_time(deployed) != long_ago


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
    monkeypatch.setattr(moto_patches.stepfunctions, "SFN_MAX_HISTORY_EVENTS", 40)
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
    monkeypatch.setattr(moto_patches.stepfunctions, "SFN_MAX_HISTORY_EVENTS", 40)
    states = {"Done": {"Type": "Pass", "End": True}}
    arn = sfn.start_execution(stateMachineArn=state_machine(sfn, role_arn, states, "Done"))["executionArn"]

    assert finished(sfn, arn)["status"] == "SUCCEEDED"


def test_the_history_limit_is_the_one_aws_enforces() -> None:
    assert moto_patches.stepfunctions.SFN_MAX_HISTORY_EVENTS == 25_000


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


AWKWARD_KEYS = {
    "runs/a b.json": "runs/a+b.json",
    "runs/a+b.json": "runs/a%2Bb.json",
    "runs/100%.json": "runs/100%25.json",
    "runs/tools%2Fci-runner/0000.json": "runs/tools%252Fci-runner/0000.json",
    "runs/한글/x.json": "runs/%ED%95%9C%EA%B8%80/x.json",
}
"""Keys a bucket may hold, and each as S3 writes it under encoding-type=url (measured on S3)."""


@pytest.fixture
def awkward_bucket(server: MotoServer) -> Any:
    s3 = server.client("s3")
    s3.create_bucket(Bucket="awkward")
    for key in AWKWARD_KEYS:
        s3.put_object(Bucket="awkward", Key=key, Body=b"{}")
    return s3


@pytest.mark.parametrize(
    ("operation", "listing"),
    [("list_objects_v2", "Contents"), ("list_objects", "Contents"), ("list_object_versions", "Versions")],
)
def test_a_listing_asked_for_url_encoding_encodes_every_key_as_s3_does(
    awkward_bucket: Any, operation: str, listing: str
) -> None:
    # botocore leaves the keys encoded when the caller asks for the encoding itself
    answer = getattr(awkward_bucket, operation)(Bucket="awkward", Prefix="runs/", EncodingType="url")
    assert sorted(entry["Key"] for entry in answer[listing]) == sorted(AWKWARD_KEYS.values())
    assert (answer["EncodingType"], answer["Prefix"]) == ("url", "runs/")


def test_the_markers_of_a_listing_are_url_encoded_too(awkward_bucket: Any) -> None:
    answer = awkward_bucket.list_object_versions(
        Bucket="awkward", EncodingType="url", MaxKeys=1, KeyMarker="runs/100%.json"
    )
    assert answer["KeyMarker"] == "runs/100%25.json"
    assert answer["Versions"][0]["Key"] in AWKWARD_KEYS.values()
    assert answer["NextKeyMarker"] == answer["Versions"][0]["Key"]


@pytest.mark.parametrize("operation", ["list_objects_v2", "list_objects", "list_object_versions"])
def test_a_decoding_client_reads_back_every_key_as_written(awkward_bucket: Any, operation: str) -> None:
    # botocore asks for the encoding and decodes, as Terraform's provider does
    listing = "Versions" if operation == "list_object_versions" else "Contents"
    answer = getattr(awkward_bucket, operation)(Bucket="awkward")
    assert sorted(entry["Key"] for entry in answer[listing]) == sorted(AWKWARD_KEYS)


def test_reset_forgets_every_resource(server: MotoServer, ecr: Any) -> None:
    ecr_seed.create_repository("app")

    server.reset()

    assert ecr.describe_repositories()["repositories"] == []


def test_apply_all_applies_every_registered_patch_once() -> None:
    moto_patches.apply_all()
    moto_patches.apply_all()

    assert moto_patches.applied() == set(moto_patches.PATCHES)


# ECR: a push moves a tag


def test_a_push_moves_a_tag_and_leaves_the_image_that_held_it_untagged(ecr: Any) -> None:
    ecr_seed.create_repository("app")
    first = ecr_seed.push_image("app", tags=["latest"])
    second = ecr_seed.push_image("app", tags=["latest"])
    described = {
        d["imageDigest"]: d.get("imageTags", [])
        for d in ecr.describe_images(repositoryName="app")["imageDetails"]
    }
    assert described == {first: [], second: ["latest"]}


def test_a_push_takes_only_the_tag_it_names_from_an_image_with_several(ecr: Any) -> None:
    ecr_seed.create_repository("app")
    first = ecr_seed.push_image("app", tags=["latest", "v1"])
    ecr_seed.push_image("app", tags=["latest"])
    [detail] = ecr.describe_images(repositoryName="app", imageIds=[{"imageDigest": first}])["imageDetails"]
    assert detail["imageTags"] == ["v1"]


def test_a_push_onto_an_immutable_tag_is_still_refused(ecr: Any) -> None:
    ecr_seed.create_repository("app", image_tag_mutability="IMMUTABLE")
    first = ecr_seed.push_image("app", tags=["v1"])
    with pytest.raises(ImageAlreadyExistsException):
        ecr_seed.push_image("app", tags=["v1"])
    assert ecr_seed.remaining_digests("app") == {first}


# ECS: service deployments and revisions


def ecs_service(ecs: Any, image: str = "app:latest", **kwargs: Any) -> None:
    ecs_seed.run_service("prod", "api", [image], ecs=ecs, **kwargs)


def current_revisions(ecs: Any) -> list[dict[str, Any]]:
    [service] = ecs.describe_services(cluster="prod", services=["api"])["services"]
    arns = [summary["arn"] for summary in service["currentServiceRevisions"]]
    return list(ecs.describe_service_revisions(serviceRevisionArns=arns)["serviceRevisions"])


def test_a_new_service_records_a_revision_with_the_digest_its_tag_points_to(ecs: Any) -> None:
    ecr_seed.create_repository("app")
    digest = ecr_seed.push_image("app", tags=["latest"])
    ecs_service(ecs)
    [revision] = current_revisions(ecs)
    [image] = revision["containerImages"]
    assert (image["image"], image["imageDigest"]) == (f"{ecs_seed.ECR_HOST}/app:latest", digest)
    [service] = ecs.describe_services(cluster="prod", services=["api"])["services"]
    assert service["currentServiceDeployment"].startswith(
        "arn:aws:ecs:us-east-1:123456789012:service-deployment/prod/api/"
    )


def test_a_revision_keeps_its_digest_after_the_tag_moves_and_a_new_deployment_resolves_again(
    ecs: Any,
) -> None:
    ecr_seed.create_repository("app")
    first = ecr_seed.push_image("app", tags=["latest"])
    ecs_service(ecs)
    [before] = current_revisions(ecs)
    second = ecr_seed.push_image("app", tags=["latest"])
    assert [r["containerImages"][0]["imageDigest"] for r in current_revisions(ecs)] == [first]
    ecs_seed.redeploy("prod", "api", ecs=ecs)
    [after] = current_revisions(ecs)
    assert after["containerImages"][0]["imageDigest"] == second
    deployment = ecs_seed.current_deployment("prod", "api")
    assert [source["arn"] for source in deployment["sourceServiceRevisions"]] == [
        before["serviceRevisionArn"]
    ]


def test_a_revision_without_version_consistency_has_no_digest(ecs: Any) -> None:
    ecr_seed.create_repository("app")
    ecr_seed.push_image("app", tags=["latest"])
    ecs_service(ecs, version_consistency="disabled")
    [revision] = current_revisions(ecs)
    assert "imageDigest" not in revision["containerImages"][0]


def test_service_deployments_are_listed_newest_first_twenty_a_page(ecs: Any) -> None:
    ecs_service(ecs, image="public.example.com/app:1")
    for _ in range(24):
        ecs_seed.redeploy("prod", "api", ecs=ecs)
    listed = pages(ecs, "list_service_deployments", "serviceDeployments", cluster="prod", service="api")
    assert [len(page) for page in listed] == [20, 5]
    created = [d["createdAt"] for page in listed for d in page]
    assert created == sorted(created, reverse=True)
    with pytest.raises(ClientError, match="less than or equal to 100"):
        ecs.list_service_deployments(cluster="prod", service="api", maxResults=101)


def test_service_deployments_are_listed_by_status_and_for_90_days_only(ecs: Any) -> None:
    ecs_service(ecs, image="public.example.com/app:1")
    ecs_seed.redeploy("prod", "api", ecs=ecs)
    ecs_seed.deployment_in_progress("prod", "api")
    in_progress = ecs.list_service_deployments(cluster="prod", service="api", status=["IN_PROGRESS"])
    assert [d["status"] for d in in_progress["serviceDeployments"]] == ["IN_PROGRESS"]
    ecs_seed.age_deployments("prod", "api", days=91)
    assert ecs.list_service_deployments(cluster="prod", service="api")["serviceDeployments"] == []


def test_describing_more_than_20_deployments_or_revisions_is_refused(ecs: Any) -> None:
    arns = [f"arn:aws:ecs:us-east-1:123456789012:service-revision/prod/api/{n}" for n in range(21)]
    with pytest.raises(ClientError, match="less than or equal to 20"):
        ecs.describe_service_revisions(serviceRevisionArns=arns)
    with pytest.raises(ClientError, match="less than or equal to 20"):
        ecs.describe_service_deployments(serviceDeploymentArns=arns)


def test_a_revision_ecs_cannot_describe_is_a_missing_failure(ecs: Any) -> None:
    ecs_service(ecs, image="public.example.com/app:1")
    [arn] = ecs_seed.forget_current_revisions("prod", "api")
    answer = ecs.describe_service_revisions(serviceRevisionArns=[arn])
    assert (answer["serviceRevisions"], answer["failures"]) == ([], [{"arn": arn, "reason": "MISSING"}])


# SageMaker


@pytest.fixture
def sagemaker(server: MotoServer) -> Any:
    return server.client("sagemaker")


SAGEMAKER_ROLE = "arn:aws:iam::123456789012:role/sagemaker"


def endpoint_of(sagemaker: Any, image: str) -> None:
    sagemaker.create_model(ModelName="m", ExecutionRoleArn=SAGEMAKER_ROLE, PrimaryContainer={"Image": image})
    variant = {
        "VariantName": "main",
        "ModelName": "m",
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
    }
    sagemaker.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[variant])
    sagemaker.create_endpoint(EndpointName="e", EndpointConfigName="c")


def test_models_are_listed_ten_a_page_by_default(sagemaker: Any) -> None:
    for number in range(12):
        sagemaker.create_model(
            ModelName=f"m{number}", ExecutionRoleArn=SAGEMAKER_ROLE, PrimaryContainer={"Image": "x/y:1"}
        )
    assert [len(page) for page in paginated(sagemaker, "list_models", "Models")] == [10, 2]
    with pytest.raises(ClientError, match="ValidationException"):
        sagemaker.list_models(MaxResults=101)


def test_an_endpoint_reports_the_digest_each_image_resolved_to(sagemaker: Any) -> None:
    ecr_seed.create_repository("model")
    digest = ecr_seed.push_image("model", tags=["prod"])
    endpoint_of(sagemaker, f"{ecs_seed.ECR_HOST}/model:prod")
    ecr_seed.push_image("model", tags=["prod"])
    [variant] = sagemaker.describe_endpoint(EndpointName="e")["ProductionVariants"]
    [deployed] = variant["DeployedImages"]
    assert deployed["SpecifiedImage"] == f"{ecs_seed.ECR_HOST}/model:prod"
    assert deployed["ResolvedImage"] == f"{ecs_seed.ECR_HOST}/model@{digest}"


def test_inference_components_report_the_image_they_resolved_and_are_listed_by_endpoint(
    sagemaker: Any,
) -> None:
    ecr_seed.create_repository("model")
    digest = ecr_seed.push_image("model", tags=["prod"])
    endpoint_of(sagemaker, f"{ecs_seed.ECR_HOST}/model:prod")
    for number in range(11):
        sagemaker.create_inference_component(
            InferenceComponentName=f"c{number}",
            EndpointName="e",
            VariantName="main",
            Specification={"Container": {"Image": f"{ecs_seed.ECR_HOST}/model:prod"}},
            RuntimeConfig={"CopyCount": 1},
        )
    listed = paginated(sagemaker, "list_inference_components", "InferenceComponents", EndpointNameEquals="e")
    assert [len(page) for page in listed] == [10, 1]
    container = sagemaker.describe_inference_component(InferenceComponentName="c3")["Specification"][
        "Container"
    ]
    assert container["DeployedImage"]["ResolvedImage"] == f"{ecs_seed.ECR_HOST}/model@{digest}"
    with pytest.raises(ClientError, match="Could not find inference component"):
        sagemaker.describe_inference_component(InferenceComponentName="gone")


# CodeBuild


@pytest.fixture
def codebuild(server: MotoServer) -> Any:
    return server.client("codebuild")


def create_project(codebuild: Any, name: str) -> None:
    codebuild.create_project(
        name=name,
        source={"type": "S3", "location": "bucket/source.zip"},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/standard:7.0",
            "computeType": "BUILD_GENERAL1_SMALL",
        },
        serviceRole=SAGEMAKER_ROLE,
    )


def test_projects_are_listed_a_hundred_names_a_page_and_read_a_hundred_at_a_time(codebuild: Any) -> None:
    names = [f"p{number:03d}" for number in range(101)]
    for name in names:
        create_project(codebuild, name)
    listed = pages(codebuild, "list_projects", "projects")
    assert [len(page) for page in listed] == [100, 1]
    assert [name for page in listed for name in page] == names
    with pytest.raises(ClientError, match="InvalidInputException"):
        codebuild.batch_get_projects(names=names)
    answer = codebuild.batch_get_projects(names=["p000", "gone"])
    assert ([p["name"] for p in answer["projects"]], answer["projectsNotFound"]) == (["p000"], ["gone"])


def test_code_another_process_extracted_first_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return 1\n")
    code = buffer.getvalue()
    monkeypatch.setattr(awslambda, "LAMBDA_CODE_CACHE", tmp_path)
    real_extractall = zipfile.ZipFile.extractall

    def extract_while_another_process_finishes(self: zipfile.ZipFile, path: Any = None, *args: Any) -> None:
        real_extractall(self, path, *args)
        theirs = tmp_path / hashlib.sha256(code).hexdigest()
        theirs.mkdir()
        (theirs / "handler.py").write_text("def handler(event, context):\n    return 1\n")

    monkeypatch.setattr(zipfile.ZipFile, "extractall", extract_while_another_process_finishes)

    class Function:
        code_bytes = code

    extracted = awslambda._extract_code(Function())

    assert (extracted / "handler.py").is_file()
    assert [entry.name for entry in tmp_path.iterdir()] == [extracted.name]
