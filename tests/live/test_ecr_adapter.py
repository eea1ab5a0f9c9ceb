"""The ECR adapter against moto: pagination, batched deletes, per-image failures, retries."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from ecr_cleanup.cleanup import DeleteFailure, RegistryError
from ecr_cleanup.ecr import DELETE_BATCH_SIZE, PAGE_SIZE, EcrRegistry
from tests.support.aws import ApiCalls
from tests.support.ecr_seed import create_repository, days_ago, push_image, push_images, remaining_digests


def test_images_are_read_in_pages_of_1000(api_calls: ApiCalls) -> None:
    create_repository("big")
    pushed = push_images("big", 2500, tags=lambda i: [f"build-{i}"], pushed_at=lambda i: days_ago(i % 90))
    images = EcrRegistry().images("big")
    assert sorted(image.digest for image in images) == sorted(pushed)
    assert api_calls["DescribeImages"] == 3
    assert PAGE_SIZE == 1000


def test_repositories_are_listed_in_pages_of_1000(api_calls: ApiCalls) -> None:
    names = [f"team/service-{i:04d}" for i in range(1050)]
    for name in names:
        create_repository(name)
    assert sorted(EcrRegistry().repositories()) == names
    assert api_calls["DescribeRepositories"] == 2


def test_image_fields_come_through(aws: None) -> None:
    create_repository("app")
    pushed_at = days_ago(40)
    pulled_at = days_ago(3)
    digest = push_image("app", tags=["v1", "latest"], pushed_at=pushed_at, last_pulled_at=pulled_at)
    [image] = EcrRegistry().images("app")
    assert image.digest == digest
    assert set(image.tags) == {"v1", "latest"}
    assert abs((image.pushed_at - pushed_at).total_seconds()) < 1
    assert image.last_pulled_at is not None
    assert abs((image.last_pulled_at - pulled_at).total_seconds()) < 1
    assert image.size > 0
    assert image.media_type == "application/vnd.docker.distribution.manifest.v2+json"


def test_deletes_go_in_batches_of_at_most_100(api_calls: ApiCalls) -> None:
    create_repository("app")
    digests = push_images("app", 250)
    keep = push_image("app", tags=["keep"])
    result = EcrRegistry().delete("app", digests)
    assert sorted(result.deleted) == sorted(digests)
    assert result.failures == ()
    assert api_calls["BatchDeleteImage"] == 3
    assert DELETE_BATCH_SIZE == 100
    assert remaining_digests("app") == {keep}


def test_an_image_already_gone_counts_as_deleted(aws: None) -> None:
    create_repository("app")
    [first, second] = push_images("app", 2)
    registry = EcrRegistry()
    registry.delete("app", [first])
    result = registry.delete("app", [first, second])
    assert sorted(result.deleted) == sorted([first, second])
    assert result.failures == ()


def test_per_image_failures_are_reported_not_fatal() -> None:
    client = boto3.client("ecr", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    digests = [f"sha256:{i:064x}" for i in range(3)]
    with Stubber(client) as stub:
        stub.add_response(
            "batch_delete_image",
            {
                "imageIds": [{"imageDigest": digests[0]}],
                "failures": [
                    {
                        "imageId": {"imageDigest": digests[1]},
                        "failureCode": "ImageReferencedByManifestList",
                        "failureReason": "still referenced",
                    },
                    {
                        "imageId": {"imageDigest": digests[2]},
                        "failureCode": "ImageNotFound",
                        "failureReason": "gone",
                    },
                ],
            },
            {"repositoryName": "app", "imageIds": [{"imageDigest": d} for d in digests]},
        )
        result = EcrRegistry(client).delete("app", digests)
    assert result.deleted == (digests[0], digests[2])
    assert result.failures == (
        DeleteFailure(digests[1], "ImageReferencedByManifestList", "still referenced"),
    )


def test_a_failed_batch_is_reported_and_the_next_batch_still_runs() -> None:
    client = boto3.client("ecr", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    digests = [f"sha256:{i:064x}" for i in range(150)]
    with Stubber(client) as stub:
        stub.add_client_error("batch_delete_image", "AccessDeniedException", "not allowed")
        stub.add_response("batch_delete_image", {"imageIds": [{"imageDigest": d} for d in digests[100:]]})
        result = EcrRegistry(client).delete("app", digests)
    assert result.deleted == tuple(digests[100:])
    assert [failure.digest for failure in result.failures] == digests[:100]
    assert {failure.code for failure in result.failures} == {"AccessDeniedException"}


def test_reading_a_missing_repository_raises_a_registry_error(aws: None) -> None:
    with pytest.raises(RegistryError, match="RepositoryNotFoundException"):
        EcrRegistry().images("nope")


def test_throttling_is_retried_in_adaptive_mode(aws: None) -> None:
    retries = EcrRegistry().client.meta.config.retries
    assert retries["mode"] == "adaptive"
    assert retries["total_max_attempts"] >= 10
