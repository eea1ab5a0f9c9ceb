"""The only module that talks to Amazon ECR.

Reads page at ECR's maximum page size (1000), deletes by digest in batches of at most 100 (the
BatchDeleteImage limit), and lets botocore retry throttling in adaptive mode so that a busy account
slows a run down instead of failing it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .cleanup import DeleteFailure, DeleteResult, RegistryError
from .inventory import InputError, image_from_detail
from .plan import INDEX_MEDIA_TYPES, Image

__all__ = ["DELETE_BATCH_SIZE", "PAGE_SIZE", "EcrRegistry", "client_config", "resolve_region"]

PAGE_SIZE = 1000
DELETE_BATCH_SIZE = 100
RETRY_ATTEMPTS = 20
EVERY_STATUS = {"imageStatus": "ANY"}
"""DescribeImages shows only images in standard storage (ACTIVE) unless asked for every status."""
ARCHIVE = "ARCHIVE"


def client_config() -> Config:
    return Config(
        retries={"mode": "adaptive", "max_attempts": RETRY_ATTEMPTS}, user_agent_extra="ecr-cleanup"
    )


def resolve_region(explicit: str | None, environ: Mapping[str, str] = os.environ) -> str:
    """The region of a command-line run: `--region`, then `AWS_REGION` (what the AWS CLI v2, the other
    SDKs and most CI systems set; botocore does not read it), then boto3's own configuration
    (`AWS_DEFAULT_REGION`, then the profile's region). Raises `InputError` naming all of them."""
    if explicit:
        return explicit
    if environ.get("AWS_REGION"):
        return environ["AWS_REGION"]
    try:
        region = boto3.session.Session().region_name
    except BotoCoreError as error:
        raise InputError(f"cannot read the AWS configuration: {error}") from error
    if not region:
        raise InputError(
            "no AWS region: pass --region, or set AWS_REGION or AWS_DEFAULT_REGION, or give your "
            "profile a region (aws configure set region <region>)"
        )
    return str(region)


class EcrRegistry:
    """ECR through a boto3 client; the client comes from boto3's normal configuration by default."""

    def __init__(self, client: Any = None, *, region: str | None = None) -> None:
        if client is None:
            try:
                client = boto3.client("ecr", region_name=region, config=client_config())
            except BotoCoreError as error:
                raise RegistryError(f"cannot reach ECR: {error}") from error
        self.client = client
        self._registry_id: str | None = None

    @property
    def region(self) -> str | None:
        return str(self.client.meta.region_name) if self.client.meta.region_name else None

    @property
    def identity(self) -> str | None:
        """This registry's host, once a listing has told its account (every DescribeRepositories and
        DescribeImages answer does); None before."""
        if self._registry_id is None or self.region is None:
            return None
        return f"{self._registry_id}.dkr.ecr.{self.region}.amazonaws.com"

    def _saw(self, registry_id: object) -> None:
        if isinstance(registry_id, str) and registry_id:
            self._registry_id = registry_id

    def repositories(self) -> Iterator[str]:
        try:
            pages = self.client.get_paginator("describe_repositories").paginate(
                PaginationConfig={"PageSize": PAGE_SIZE}
            )
            for page in pages:
                for repository in page["repositories"]:
                    self._saw(repository.get("registryId"))
                    yield repository["repositoryName"]
        except (ClientError, BotoCoreError) as error:
            raise RegistryError(f"listing repositories failed: {_describe(error)}") from error

    def lifecycle_policy(self, repository: str) -> str | None:
        """The repository's lifecycle policy text (GetLifecyclePolicy), or None when it has none."""
        try:
            response = self.client.get_lifecycle_policy(repositoryName=repository)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "LifecyclePolicyNotFoundException":
                return None
            raise RegistryError(
                f"{repository}: reading its lifecycle policy failed: {_describe(error)}"
            ) from error
        except BotoCoreError as error:
            raise RegistryError(
                f"{repository}: reading its lifecycle policy failed: {_describe(error)}"
            ) from error
        return str(response["lifecyclePolicyText"])

    def images(self, repository: str) -> list[Image]:
        images: list[Image] = []
        try:
            pages = self.client.get_paginator("describe_images").paginate(
                repositoryName=repository, filter=EVERY_STATUS, PaginationConfig={"PageSize": PAGE_SIZE}
            )
            for page in pages:
                details = page["imageDetails"]
                if details:
                    self._saw(details[0].get("registryId"))
                images.extend(image_from_detail(detail) for detail in details)
        except (ClientError, BotoCoreError) as error:
            raise RegistryError(f"{repository}: describing images failed: {_describe(error)}") from error
        except InputError as error:
            raise RegistryError(f"{repository}: unexpected image description: {error}") from error
        return images

    def manifests(self, repository: str, digests: Sequence[str]) -> dict[str, list[str]]:
        """The digests each image index lists, read with BatchGetImage in batches of 100.

        An index whose manifest cannot be read is left out; the planner then keeps every image that
        may belong to it.
        """
        children: dict[str, list[str]] = {}
        for start in range(0, len(digests), DELETE_BATCH_SIZE):
            batch = digests[start : start + DELETE_BATCH_SIZE]
            try:
                response = self.client.batch_get_image(
                    repositoryName=repository,
                    imageIds=[{"imageDigest": digest} for digest in batch],
                    acceptedMediaTypes=sorted(INDEX_MEDIA_TYPES),
                )
            except (ClientError, BotoCoreError) as error:
                raise RegistryError(
                    f"{repository}: reading image indexes failed: {_describe(error)}"
                ) from error
            for image in response.get("images", []):
                try:
                    manifest = json.loads(image["imageManifest"])
                    listed = [entry["digest"] for entry in manifest.get("manifests", [])]
                except (KeyError, TypeError, ValueError):
                    continue
                children[image["imageId"]["imageDigest"]] = listed
        return children

    def describe(self, repository: str, digests: Sequence[str]) -> dict[str, Image]:
        """The images of `digests` as they are now; an image that is gone is absent."""
        current: dict[str, Image] = {}
        for start in range(0, len(digests), DELETE_BATCH_SIZE):
            batch = digests[start : start + DELETE_BATCH_SIZE]
            try:
                response = self.client.describe_images(
                    repositoryName=repository,
                    imageIds=[{"imageDigest": digest} for digest in batch],
                    filter=EVERY_STATUS,
                )
                found = [image_from_detail(detail) for detail in response["imageDetails"]]
            except ClientError as error:
                if error.response["Error"]["Code"] != "ImageNotFoundException":
                    raise RegistryError(
                        f"{repository}: re-checking images failed: {_describe(error)}"
                    ) from error
                wanted = set(batch)
                found = [image for image in self.images(repository) if image.digest in wanted]
            except BotoCoreError as error:
                raise RegistryError(f"{repository}: re-checking images failed: {_describe(error)}") from error
            current.update((image.digest, image) for image in found)
        return current

    def delete(self, repository: str, digests: Sequence[str]) -> DeleteResult:
        """Delete by digest, oldest batch first. An image that is already gone counts as deleted."""
        deleted: list[str] = []
        failures: list[DeleteFailure] = []
        for start in range(0, len(digests), DELETE_BATCH_SIZE):
            batch = digests[start : start + DELETE_BATCH_SIZE]
            try:
                response = self.client.batch_delete_image(
                    repositoryName=repository, imageIds=[{"imageDigest": digest} for digest in batch]
                )
            except (ClientError, BotoCoreError) as error:
                message = _describe(error)
                code = error.response["Error"]["Code"] if isinstance(error, ClientError) else "ClientError"
                failures.extend(DeleteFailure(digest, code, message) for digest in batch)
                continue
            deleted.extend(image["imageDigest"] for image in response.get("imageIds", []))
            for failure in response.get("failures", []):
                digest = failure.get("imageId", {}).get("imageDigest", "")
                code = failure.get("failureCode", "Unknown")
                if code == "ImageNotFound":
                    deleted.append(digest)
                else:
                    failures.append(DeleteFailure(digest, code, failure.get("failureReason", "")))
        return DeleteResult(tuple(dict.fromkeys(deleted)), tuple(failures))

    def archive(self, repository: str, digests: Sequence[str]) -> DeleteResult:
        """Move images to ECR's archive storage class, one UpdateImageStorageClass call per image (the
        API takes one); a refusal is recorded per image."""
        archived: list[str] = []
        failures: list[DeleteFailure] = []
        for digest in digests:
            try:
                self.client.update_image_storage_class(
                    repositoryName=repository, imageId={"imageDigest": digest}, targetStorageClass=ARCHIVE
                )
            except ClientError as error:
                failures.append(DeleteFailure(digest, error.response["Error"]["Code"], _describe(error)))
                continue
            except BotoCoreError as error:
                failures.append(DeleteFailure(digest, "ClientError", _describe(error)))
                continue
            archived.append(digest)
        return DeleteResult(tuple(archived), tuple(failures))

    def untag(self, repository: str, removals: Sequence[tuple[str, Sequence[str]]]) -> DeleteResult:
        """Remove tags with BatchDeleteImage by tag (100 tags a call). An image whose tags all went (or
        were gone already) counts as untagged; a tag ECR refuses to remove is a failure of its image.

        The caller re-reads the images right before: removing an image's last tag deletes it, so a
        tag is only removed from an image that keeps another one."""
        owner = {tag: digest for digest, tags in removals for tag in tags}
        tags = list(owner)
        failed: dict[str, DeleteFailure] = {}
        for start in range(0, len(tags), DELETE_BATCH_SIZE):
            batch = tags[start : start + DELETE_BATCH_SIZE]
            try:
                response = self.client.batch_delete_image(
                    repositoryName=repository, imageIds=[{"imageTag": tag} for tag in batch]
                )
            except (ClientError, BotoCoreError) as error:
                code = error.response["Error"]["Code"] if isinstance(error, ClientError) else "ClientError"
                for tag in batch:
                    failed.setdefault(owner[tag], DeleteFailure(owner[tag], code, _describe(error)))
                continue
            for failure in response.get("failures", []):
                tag = failure.get("imageId", {}).get("imageTag", "")
                code = failure.get("failureCode", "Unknown")
                if tag in owner and code != "ImageNotFound":
                    message = f"tag {tag}: {failure.get('failureReason', '')}"
                    failed.setdefault(owner[tag], DeleteFailure(owner[tag], code, message))
        untagged = tuple(digest for digest, _ in removals if digest not in failed)
        return DeleteResult(untagged, tuple(failed.values()))


def _describe(error: ClientError | BotoCoreError) -> str:
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return f"{details.get('Code', 'ClientError')}: {details.get('Message', '')}".rstrip(": ")
    return str(error)
