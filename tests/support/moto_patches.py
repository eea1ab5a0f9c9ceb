"""Every moto 5.2.5 gap the test suite depends on, patched in one place.

Each patch is a small function named after the gap it closes, registered in ``PATCHES`` with a one-line
description. They patch moto's classes, so the same patched behaviour serves ``mock_aws`` in-process
and a ``ThreadedMotoServer`` started in this process (see ``tests.support.moto_server``).
``apply_all()`` applies every patch and may be called any number of times.

Two patches are moto settings rather than code: they must be in place before the first backend of
their service is created (``apply_all()`` also repairs IAM backends that already exist).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import hashlib
import importlib
import importlib.abc
import importlib.machinery
import io
import itertools
import json
import logging
import os
import re
import sys
import tempfile
import threading
import time
import traceback
import types
import uuid
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["PATCHES", "LambdaContext", "SandboxEnded", "applied", "apply", "apply_all"]

PATCHES: dict[str, str] = {}
"""Patch name -> the moto gap it closes, in the order ``apply_all()`` applies them."""

_PATCH_FUNCTIONS: dict[str, Callable[[], None]] = {}
_applied: set[str] = set()
_apply_lock = threading.RLock()


def _patch(description: str) -> Callable[[Callable[[], None]], Callable[[], None]]:
    """Register a patch under its function's name and make applying it idempotent."""

    def register(func: Callable[[], None]) -> Callable[[], None]:
        name = func.__name__

        @functools.wraps(func)
        def apply_once() -> None:
            with _apply_lock:
                if name not in _applied:
                    func()
                    _applied.add(name)

        PATCHES[name] = description
        _PATCH_FUNCTIONS[name] = apply_once
        return apply_once

    return register


def apply(*names: str) -> None:
    """Apply the named patches (idempotent)."""
    for name in names:
        _PATCH_FUNCTIONS[name]()


def apply_all() -> None:
    """Apply every patch in ``PATCHES`` (idempotent)."""
    apply(*PATCHES)


def applied() -> frozenset[str]:
    return frozenset(_applied)


# --------------------------------------------------------------------------------------------------
# ECR
# --------------------------------------------------------------------------------------------------

ECR_MAX_RESULTS = 1000
ECR_DEFAULT_MAX_RESULTS = 100
ECR_MAX_BATCH_IMAGE_IDS = 100

_INDEX_MEDIA_TYPES = frozenset(
    {
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    }
)

_SEQ_ATTR = "_moto_patches_seq"
_seq_counter = itertools.count(1)
_seq_lock = threading.Lock()


def _invalid_parameter(member: str, constraint: str) -> Exception:
    from moto.ecr.exceptions import InvalidParameterException

    return InvalidParameterException(
        f"Invalid parameter at '{member}' failed to satisfy constraint: '{constraint}'"
    )


@functools.lru_cache(maxsize=16384)
def _manifest(text: str) -> dict[str, Any]:
    """Parsed manifest, cached because DescribeImages reads several fields of every image."""
    try:
        parsed = json.loads(text)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _stamp(items: Iterable[Any]) -> None:
    """Give each object a creation-ordered sequence number, the cursor that page tokens point at.

    Repositories and images only ever get appended to moto's containers, so stamping in container
    order keeps the numbers increasing with position, and a token stays valid when items before or
    after it are deleted between two pages (a plain offset would skip items).
    """
    with _seq_lock:
        for item in items:
            if _SEQ_ATTR not in vars(item):
                setattr(item, _SEQ_ATTR, next(_seq_counter))


Cursor = tuple[str | int, ...]
"""Where a page token points: the sort key of the last item listed (numbers and names)."""

Invalid = Callable[[str, str], Exception]
"""A service's validation error for (member, constraint)."""


def _max_results(
    raw: Any,
    default: int,
    *,
    maximum: int = ECR_MAX_RESULTS,
    invalid: Invalid = _invalid_parameter,
    member: str = "maxResults",
) -> int:
    if raw is None:
        return default
    value = int(raw)
    if value < 1:
        raise invalid(member, "Member must have value greater than or equal to 1")
    if value > maximum:
        raise invalid(member, f"Member must have value less than or equal to {maximum}")
    return value


def _encode_token(scope: str, key: Sequence[str | int]) -> str:
    raw = json.dumps({"scope": scope, "after": list(key)}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_token(token: str, scope: str, invalid: Invalid = _invalid_parameter) -> Cursor:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
        if decoded["scope"] != scope:
            raise ValueError("token of another request")
        after = tuple(decoded["after"])
        if any(isinstance(part, bool) or not isinstance(part, (str, int)) for part in after):
            raise ValueError("not a cursor")
        return after
    except (ValueError, KeyError, TypeError, binascii.Error) as error:
        raise invalid("nextToken", "Invalid NextToken") from error


def _page(
    keyed: Iterable[tuple[Cursor, Any]],
    *,
    scope: str,
    next_token: str | None,
    max_results: int,
    descending: bool = False,
    invalid: Invalid = _invalid_parameter,
) -> tuple[list[Any], str | None]:
    """One page of ``keyed`` items (cursor key, item) after the token's cursor, and the next token.

    Items are listed in key order (``descending``: the reverse); a token names the last key listed,
    so items added or deleted between two pages neither repeat nor go missing.
    """
    ordered = sorted(keyed, key=lambda pair: pair[0], reverse=descending)
    if next_token:
        after = _decode_token(next_token, scope, invalid)
        try:
            ordered = [pair for pair in ordered if (pair[0] < after if descending else pair[0] > after)]
        except TypeError as error:
            raise invalid("nextToken", "Invalid NextToken") from error
    page = ordered[:max_results]
    token = _encode_token(scope, page[-1][0]) if len(ordered) > max_results else None
    return [item for _, item in page], token


def _listing(key: str, items: list[Any], token: str | None) -> dict[str, Any]:
    """A page of a listing as the service answers it: the items under `key`, and `nextToken` only
    when there is a next page."""
    result: dict[str, Any] = {key: items}
    if token:
        result["nextToken"] = token
    return result


def _image_size(image: Any, repository_images: Callable[[], dict[str, Any]]) -> int | None:
    size = image.image_size_in_bytes
    if size is not None:
        return int(size)
    manifest = _manifest(image.image_manifest)
    if manifest.get("mediaType", image.image_manifest_media_type) not in _INDEX_MEDIA_TYPES:
        return None
    by_digest = repository_images()
    sizes = [
        by_digest[child["digest"]].image_size_in_bytes
        for child in manifest.get("manifests", [])
        if child.get("digest") in by_digest
    ]
    known = [int(size) for size in sizes if size is not None]
    return max(known) if known else None


_IMAGE_DETAIL_FIELDS: tuple[tuple[str, str], ...] = (
    ("registryId", "registry_id"),
    ("repositoryName", "repository_name"),
    ("imageDigest", "image_digest"),
    ("imageTags", "image_tags"),
    ("imagePushedAt", "image_pushed_at"),
    ("imageScanStatus", "image_scan_status"),
    ("imageScanFindingsSummary", "image_scan_findings_summary"),
    ("imageManifestMediaType", "image_manifest_media_type"),
    ("artifactMediaType", "artifact_media_type"),
    ("lastRecordedPullTime", "last_recorded_pull_time"),
    ("subjectManifestDigest", "subject_manifest_digest"),
    ("imageStatus", "image_status"),
    ("lastArchivedAt", "last_archived_at"),
    ("lastActivatedAt", "last_activated_at"),
)


def _image_detail(image: Any, repository_images: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """An ECR ImageDetail for a moto image, with only the members that are set (ECR omits the rest)."""
    detail: dict[str, Any] = {}
    for member, attribute in _IMAGE_DETAIL_FIELDS:
        value = getattr(image, attribute, None)
        if value is not None and value != []:
            detail[member] = list(value) if isinstance(value, list) else value
    size = _image_size(image, repository_images)
    if size is not None:
        detail["imageSizeInBytes"] = size
    return detail


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _json_response(result: dict[str, Any]) -> tuple[int, dict[str, str], str]:
    """A JSON-protocol response written directly.

    moto's model-driven serializer takes ~0.4 ms per ImageDetail: a second to list 2,500 images.
    """
    return 200, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(result, default=_json_default)


def _tag_status_matches(image: Any, tag_status: str | None) -> bool:
    if tag_status == "TAGGED":
        return bool(image.image_tags)
    if tag_status == "UNTAGGED":
        return not image.image_tags
    return True


ECR_IMAGE_STATUSES = ("ACTIVE", "ARCHIVED", "ACTIVATING")
"""What ``imageStatus`` an image has (``ecr_image_storage_class``); without that patch all are ACTIVE."""


def _image_status(image: Any) -> str:
    return str(getattr(image, "image_status", "ACTIVE"))


def _image_status_filter(image_filter: dict[str, Any] | None) -> str:
    """``filter.imageStatus`` of DescribeImages or ListImages: ACTIVE when not given, as in ECR."""
    status = (image_filter or {}).get("imageStatus") or "ACTIVE"
    if status not in (*ECR_IMAGE_STATUSES, "ANY"):
        raise _invalid_parameter(
            "filter.imageStatus", "Member must satisfy enum value set: [ACTIVE, ARCHIVED, ACTIVATING, ANY]"
        )
    return str(status)


def _image_status_matches(image: Any, image_status: str) -> bool:
    return image_status == "ANY" or _image_status(image) == image_status


def _image_not_found(repository: Any, image_id: dict[str, str]) -> Exception:
    from moto.ecr.exceptions import ImageNotFoundException

    digest, tag = image_id.get("imageDigest") or "null", image_id.get("imageTag") or "null"
    return ImageNotFoundException(
        image_id=f"{{imageDigest:'{digest}', imageTag:'{tag}'}}",
        repository_name=repository.name,
        registry_id=repository.registry_id,
    )


def _named_images(repository: Any, image_ids: list[dict[str, str]], image_status: str) -> list[Any]:
    """The images ``image_ids`` name, once each; an id naming no image of ``image_status`` fails the
    request with ImageNotFoundException, whether the image is missing or in another status."""
    named: dict[int, Any] = {}
    for image_id in image_ids:
        image = repository._get_image(image_id.get("imageTag"), image_id.get("imageDigest"))
        if not _image_status_matches(image, image_status):
            raise _image_not_found(repository, image_id)
        named.setdefault(id(image), image)
    return list(named.values())


@_patch(
    "ECR DescribeImages ignores maxResults/nextToken and filter (returns every image in one response); "
    "page it like ECR: default 100, 1..1000, cursor tokens, no maxResults with imageIds; filter.tagStatus; "
    "filter.imageStatus: only ACTIVE images unless it says ARCHIVED, ACTIVATING or ANY (imageIds too)."
)
def ecr_describe_images_pagination() -> None:
    from moto.ecr.responses import ECRResponse

    def describe_images(self: ECRResponse) -> Any:
        repository_name = self._get_param("repositoryName")
        registry_id = self._get_param("registryId")
        image_ids = self._get_param("imageIds")
        raw_max_results = self._get_param("maxResults")
        next_token = self._get_param("nextToken")
        image_filter = self._get_param("filter") or {}
        tag_status = image_filter.get("tagStatus")
        image_status = _image_status_filter(image_filter)
        if image_ids and (raw_max_results is not None or next_token):
            raise _invalid_parameter("maxResults", "Cannot be used when imageIds is specified")
        max_results = _max_results(raw_max_results, ECR_DEFAULT_MAX_RESULTS)

        backend = self.ecr_backend
        repository = backend._get_repository(repository_name, registry_id)
        _stamp(repository.images)
        if image_ids:
            named = _named_images(repository, image_ids, image_status)
            wanted = [image for image in named if _tag_status_matches(image, tag_status)]
            page, token = sorted(wanted, key=lambda image: getattr(image, _SEQ_ATTR)), None
        else:
            page, token = _page(
                (
                    ((getattr(image, _SEQ_ATTR),), image)
                    for image in repository.images
                    if _tag_status_matches(image, tag_status) and _image_status_matches(image, image_status)
                ),
                scope=f"describe_images:{repository.arn}:{tag_status}:{image_status}",
                next_token=next_token,
                max_results=max_results,
            )

        @functools.cache
        def repository_images() -> dict[str, Any]:
            return {image.image_digest: image for image in repository.images}

        return _json_response(
            _listing("imageDetails", [_image_detail(i, repository_images) for i in page], token)
        )

    ECRResponse.describe_images = describe_images  # type: ignore[method-assign]


@_patch(
    "ECR DescribeRepositories ignores maxResults/nextToken (returns every repository); page it like "
    "ECR: default 100, 1..1000, cursor tokens, no maxResults with repositoryNames."
)
def ecr_describe_repositories_pagination() -> None:
    from moto.core.responses import ActionResult
    from moto.ecr.responses import ECRResponse

    def describe_repositories(self: ECRResponse) -> ActionResult:
        names = self._get_param("repositoryNames")
        registry_id = self._get_param("registryId")
        raw_max_results = self._get_param("maxResults")
        next_token = self._get_param("nextToken")
        if names and (raw_max_results is not None or next_token):
            raise _invalid_parameter("maxResults", "Cannot be used when repositoryNames is specified")
        max_results = _max_results(raw_max_results, ECR_DEFAULT_MAX_RESULTS)

        repositories = self.ecr_backend.describe_repositories(registry_id=registry_id, repository_names=names)
        _stamp(self.ecr_backend.repositories.values())
        page, token = _page(
            (((getattr(repository, _SEQ_ATTR),), repository) for repository in repositories),
            scope=f"describe_repositories:{self.current_account}:{self.region}:{registry_id}",
            next_token=next_token,
            max_results=max_results,
        )
        return ActionResult(_listing("repositories", page, token))

    ECRResponse.describe_repositories = describe_repositories  # type: ignore[method-assign]


@_patch(
    "ECR ListImages ignores maxResults/nextToken (returns every image id) and filter.imageStatus; page "
    "it like ECR: default 100, 1..1000, cursor tokens; only ACTIVE images unless filter.imageStatus "
    "says ARCHIVED, ACTIVATING or ANY."
)
def ecr_list_images_pagination() -> None:
    from moto.core.responses import ActionResult
    from moto.ecr.responses import ECRResponse

    def list_images(self: ECRResponse) -> ActionResult:
        repository_name = self._get_param("repositoryName")
        registry_id = self._get_param("registryId")
        image_filter = self._get_param("filter") or {}
        tag_status = image_filter.get("tagStatus", "ANY")
        image_status = _image_status_filter(image_filter)
        max_results = _max_results(self._get_param("maxResults"), ECR_DEFAULT_MAX_RESULTS)
        next_token = self._get_param("nextToken")

        images = self.ecr_backend.list_images(repository_name, registry_id, tag_status=tag_status)
        _stamp(images)
        keyed = (
            ((getattr(image, _SEQ_ATTR), position), {"imageDigest": image.image_digest, "imageTag": tag})
            for image in images
            if _image_status_matches(image, image_status)
            for position, tag in enumerate(image.image_tags or [None])
        )
        repository = self.ecr_backend._get_repository(repository_name, registry_id)
        page, token = _page(
            keyed,
            scope=f"list_images:{repository.arn}:{tag_status}:{image_status}",
            next_token=next_token,
            max_results=max_results,
        )
        ids = [{key: value for key, value in entry.items() if value is not None} for entry in page]
        return ActionResult(_listing("imageIds", ids, token))

    ECRResponse.list_images = list_images  # type: ignore[method-assign]


@_patch(
    "ECR images never carry lastRecordedPullTime, artifactMediaType or subjectManifestDigest; add them "
    "to moto's Image (pull time settable, the other two read from the manifest)."
)
def ecr_image_detail_fields() -> None:
    from moto.ecr.models import Image

    def artifact_media_type(self: Image) -> str | None:
        manifest = _manifest(self.image_manifest)
        config = manifest.get("config")
        config_type = config.get("mediaType") if isinstance(config, dict) else None
        return manifest.get("artifactType") or config_type

    def subject_manifest_digest(self: Image) -> str | None:
        subject = _manifest(self.image_manifest).get("subject")
        return subject.get("digest") if isinstance(subject, dict) else None

    Image.last_recorded_pull_time = None  # type: ignore[attr-defined]
    Image.artifact_media_type = property(artifact_media_type)  # type: ignore[attr-defined]
    Image.subject_manifest_digest = property(subject_manifest_digest)  # type: ignore[attr-defined]


@_patch(
    "ECR image digests are a hash of the layer digests, and images without layers (indexes, some "
    "artifacts) get one of 101 random digests; use sha256 of the manifest bytes like a registry does."
)
def ecr_manifest_digest() -> None:
    from moto.ecr.models import Image

    def _create_digest(self: Image) -> None:
        self._image_digest = "sha256:" + hashlib.sha256(self.image_manifest.encode()).hexdigest()

    Image._create_digest = _create_digest  # type: ignore[method-assign]


@_patch(
    "ECR imageSizeInBytes is the manifest's config size; ECR reports the sum of the layer sizes "
    "(and, for an index, the largest child manifest in the repository - see DescribeImages)."
)
def ecr_image_size() -> None:
    from moto.ecr.models import Image

    moto_size = Image.get_image_size_in_bytes

    def get_image_size_in_bytes(self: Image) -> int | None:
        layers = _manifest(self.image_manifest).get("layers")
        if isinstance(layers, list) and layers and all("size" in layer for layer in layers):
            return sum(int(layer["size"]) for layer in layers)
        return moto_size(self)

    Image.get_image_size_in_bytes = get_image_size_in_bytes  # type: ignore[method-assign]


@_patch(
    "ECR BatchDeleteImage by digest deletes an untagged image but leaves it out of imageIds (moto lists "
    "one id per tag); ECR lists it as {imageDigest}."
)
def ecr_batch_delete_reports_untagged() -> None:
    from moto.ecr.models import ECRBackend

    original = ECRBackend.batch_delete_image

    @functools.wraps(original)
    def batch_delete_image(
        self: ECRBackend,
        repository_name: str,
        registry_id: str | None = None,
        image_ids: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        repository = self.repositories.get(repository_name)
        by_digest = [i["imageDigest"] for i in image_ids or [] if "imageDigest" in i and "imageTag" not in i]
        untagged = set()
        if repository is not None:
            untagged = {
                image.image_digest
                for image in repository.images
                if not image.image_tags and image.image_digest in by_digest
            }
        response = original(self, repository_name, registry_id, image_ids)
        remaining = {image.image_digest for image in repository.images} if repository else set()
        gone = [digest for digest in dict.fromkeys(by_digest) if digest in untagged - remaining]
        response["imageIds"].extend({"imageDigest": digest} for digest in gone)
        return dict(response)

    ECRBackend.batch_delete_image = batch_delete_image  # type: ignore[method-assign]


@_patch(
    "ECR BatchDeleteImage compares every requested id with every image of the repository (about "
    "0.2 s per batch of 100 in a repository of 2,500 images); when every id is a digest, run moto's "
    "own deletion over the images the request names only, with the same result."
)
def ecr_batch_delete_image_by_digest_index() -> None:
    from moto.ecr.models import ECRBackend

    original = ECRBackend.batch_delete_image

    @functools.wraps(original)
    def batch_delete_image(
        self: ECRBackend,
        repository_name: str,
        registry_id: str | None = None,
        image_ids: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        repository = self.repositories.get(repository_name)
        if repository is None or not image_ids or any(set(i) != {"imageDigest"} for i in image_ids):
            return dict(original(self, repository_name, registry_id, image_ids))
        wanted = {image_id["imageDigest"] for image_id in image_ids}
        every_image = repository.images
        named = [image for image in every_image if image.get_image_digest() in wanted]
        before = {id(image) for image in named}
        repository.images = named
        try:
            response = original(self, repository_name, registry_id, image_ids)
        finally:
            gone = before - {id(image) for image in repository.images}
            repository.images = [image for image in every_image if id(image) not in gone]
        return dict(response)

    ECRBackend.batch_delete_image = batch_delete_image  # type: ignore[method-assign]


@_patch(
    "ECR BatchDeleteImage and BatchGetImage accept any number of imageIds; ECR rejects more than 100 "
    "with InvalidParameterException."
)
def ecr_batch_image_ids_limit() -> None:
    from moto.ecr.responses import ECRResponse

    def limited(original: Callable[[ECRResponse], Any]) -> Callable[[ECRResponse], Any]:
        @functools.wraps(original)
        def call(self: ECRResponse) -> Any:
            if len(self._get_param("imageIds") or []) > ECR_MAX_BATCH_IMAGE_IDS:
                raise _invalid_parameter(
                    "imageIds",
                    f"Member must have length less than or equal to {ECR_MAX_BATCH_IMAGE_IDS}",
                )
            return original(self)

        return call

    ECRResponse.batch_delete_image = limited(ECRResponse.batch_delete_image)  # type: ignore[method-assign,assignment]
    ECRResponse.batch_get_image = limited(ECRResponse.batch_get_image)  # type: ignore[method-assign,assignment]


def _ecr_error(code: str, message: str) -> Exception:
    """An ECR error moto has no class for (the code is the error shape's name in the ECR model)."""
    from moto.core.exceptions import ServiceException

    # a class of this module: moto looks the code up in the model of the service being called (ECR),
    # not in the one its own module would name (moto.core)
    error_class: type[ServiceException] = type(
        code, (ServiceException,), {"code": code, "__module__": __name__}
    )
    return error_class(message)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _activate(image: Any) -> None:
    """An archived image back in standard storage now: what a new push of it does."""
    image.image_status = "ACTIVE"
    image.last_activated_at = _utcnow()


@_patch(
    "ECR UpdateImageStorageClass is not implemented and images have no imageStatus; archive an ACTIVE "
    "image (ARCHIVED, lastArchivedAt) or restore an ARCHIVED one (ACTIVATING), one image per call, "
    "refusing any other transition with ImageStorageClassUpdateNotSupportedException."
)
def ecr_image_storage_class() -> None:
    from moto.ecr.models import ECRBackend, Image
    from moto.ecr.responses import ECRResponse

    def update_image_storage_class(
        self: ECRBackend,
        repository_name: str,
        image_id: dict[str, str] | None,
        target_storage_class: str,
        registry_id: str | None = None,
    ) -> Any:
        repository = self._get_repository(repository_name, registry_id)
        if not image_id or not (image_id.get("imageDigest") or image_id.get("imageTag")):
            raise _invalid_parameter("imageId", "Member must contain an imageDigest or an imageTag")
        if target_storage_class not in ("ARCHIVE", "STANDARD"):
            raise _invalid_parameter(
                "targetStorageClass", "Member must satisfy enum value set: [STANDARD, ARCHIVE]"
            )
        image: Any = repository._get_image(image_id.get("imageTag"), image_id.get("imageDigest"))
        status = _image_status(image)
        if target_storage_class == "ARCHIVE" and status == "ACTIVE":
            image.image_status = "ARCHIVED"
            image.last_archived_at = _utcnow()
        elif target_storage_class == "STANDARD" and status == "ARCHIVED":
            image.image_status = "ACTIVATING"
        else:
            raise _ecr_error(
                "ImageStorageClassUpdateNotSupportedException",
                f"The image with digest {image.get_image_digest()} is {status}: transition to storage "
                f"class {target_storage_class} is not supported",
            )
        return image

    def update_image_storage_class_action(self: ECRResponse) -> tuple[int, dict[str, str], str]:
        image_id = self._get_param("imageId") or {}
        image = self.ecr_backend.update_image_storage_class(  # type: ignore[attr-defined]
            self._get_param("repositoryName"),
            image_id,
            self._get_param("targetStorageClass"),
            registry_id=self._get_param("registryId"),
        )
        return _json_response(
            {
                "registryId": image.registry_id,
                "repositoryName": image.repository_name,
                "imageId": {
                    key: value for key, value in image_id.items() if key in ("imageDigest", "imageTag")
                }
                | {"imageDigest": image.get_image_digest()},
                "imageStatus": image.image_status,
            }
        )

    Image.image_status = "ACTIVE"  # type: ignore[attr-defined]
    Image.last_archived_at = None  # type: ignore[attr-defined]
    Image.last_activated_at = None  # type: ignore[attr-defined]
    ECRBackend.update_image_storage_class = update_image_storage_class  # type: ignore[attr-defined]
    ECRResponse.update_image_storage_class = update_image_storage_class_action  # type: ignore[attr-defined]


@_patch(
    "ECR BatchGetImage returns archived images and images being restored; ECR cannot pull them (a pull "
    "fails with 404): each is a failure ImageNotFound."
)
def ecr_batch_get_image_fails_archived() -> None:
    from moto.ecr.models import ECRBackend

    original = ECRBackend.batch_get_image

    @functools.wraps(original)
    def batch_get_image(
        self: ECRBackend,
        repository_name: str,
        registry_id: str | None = None,
        image_ids: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        repository = self.repositories.get(repository_name)
        if repository is None or not image_ids:
            return dict(original(self, repository_name, registry_id, image_ids))
        pullable: list[dict[str, Any]] = []
        failures: list[dict[str, Any]] = []
        for image_id in image_ids:
            named = [
                image
                for image in repository.images
                if image_id.get("imageDigest") == image.get_image_digest()
                or ("imageTag" in image_id and image_id["imageTag"] in image.image_tags)
            ]
            if named and all(_image_status(image) != "ACTIVE" for image in named):
                failures.append(
                    {
                        "imageId": dict(image_id),
                        "failureCode": "ImageNotFound",
                        "failureReason": f"Requested image is {_image_status(named[0])}",
                    }
                )
            else:
                pullable.append(image_id)
        response: dict[str, Any] = {"images": [], "failures": []}
        if pullable:
            response = dict(original(self, repository_name, registry_id, pullable))
            response["images"] = [image for image in response["images"] if _image_status(image) == "ACTIVE"]
        response["failures"] = [*response["failures"], *failures]
        return response

    ECRBackend.batch_get_image = batch_get_image  # type: ignore[method-assign]


@_patch(
    "ECR PutImage of an archived image's manifest adds a tag and leaves it archived; ECR restores an "
    "archived (or restoring) image at once when it is pushed again."
)
def ecr_put_image_restores_archived() -> None:
    from moto.ecr.models import ECRBackend

    original = ECRBackend.put_image

    @functools.wraps(original)
    def put_image(
        self: ECRBackend, repository_name: str, image_manifest: str, *args: Any, **kwargs: Any
    ) -> Any:
        repository = self.repositories.get(repository_name)
        for image in repository.images if repository is not None else []:
            if image.image_manifest == image_manifest and _image_status(image) != "ACTIVE":
                _activate(image)
        return original(self, repository_name, image_manifest, *args, **kwargs)

    ECRBackend.put_image = put_image  # type: ignore[method-assign]


# ECR pull times and who pulls


ECR_MAX_PULL_TIME_UPDATE_EXCLUSIONS = 100
"""Pull-time update exclusions a registry takes ("up to 100 exclusions per account")."""

_PRINCIPAL_ARN = re.compile(r"^arn:aws(-[a-z]+)*:iam::[0-9]{12}:(role|user)/[\w+=,.@-]+(/[\w+=,.@-]+)*$")
_EXCLUSIONS_ATTR = "_moto_patches_pull_time_update_exclusions"
_exclusions_lock = threading.Lock()


def _pull_time_update_exclusions(backend: Any) -> dict[str, tuple[int, datetime]]:
    """A registry's exclusions: principal ARN -> (registration order, createdAt)."""
    exclusions: dict[str, tuple[int, datetime]] = vars(backend).setdefault(_EXCLUSIONS_ATTR, {})
    return exclusions


def _caller_principal_arn(response: Any) -> str:
    """The IAM principal whose credentials signed the request ``response`` (a moto ``BaseResponse``)
    answers: for a role session the role's ARN, else the IAM ARN of what GetCallerIdentity reports
    (an IAM user, or ``arn:aws:iam::<account>:user/moto`` for credentials moto did not issue)."""
    from moto.sts.models import sts_backends
    from moto.utilities.utils import get_partition

    access_key = response.get_access_key()
    sts = sts_backends[response.current_account][get_partition(response.region)]
    session = sts.get_assumed_role_from_access_key(access_key)
    if session is not None:
        return str(session.role_arn)
    _, arn, _ = sts.get_caller_identity(access_key, response.region)
    return str(arn).replace(":sts::", ":iam::", 1)


def _principal_arn_param(response: Any) -> str:
    principal_arn = response._get_param("principalArn")
    if (
        not isinstance(principal_arn, str)
        or len(principal_arn) > 200
        or not _PRINCIPAL_ARN.match(principal_arn)
    ):
        raise _invalid_parameter(
            "principalArn", f"Member must satisfy regular expression pattern: {_PRINCIPAL_ARN.pattern}"
        )
    return principal_arn


@_patch(
    "ECR RegisterPullTimeUpdateExclusion, DeregisterPullTimeUpdateExclusion and "
    "ListPullTimeUpdateExclusions are not implemented; keep up to 100 IAM role/user ARNs per registry "
    "(ExclusionAlreadyExists, ExclusionNotFound, LimitExceeded), listed in pages (default 100, 1..1000)."
)
def ecr_pull_time_update_exclusions() -> None:
    from moto.ecr.responses import ECRResponse

    def register_pull_time_update_exclusion(self: ECRResponse) -> tuple[int, dict[str, str], str]:
        principal_arn = _principal_arn_param(self)
        with _exclusions_lock:
            exclusions = _pull_time_update_exclusions(self.ecr_backend)
            if principal_arn in exclusions:
                raise _ecr_error(
                    "ExclusionAlreadyExistsException",
                    f"The pull time update exclusion for '{principal_arn}' already exists",
                )
            if len(exclusions) >= ECR_MAX_PULL_TIME_UPDATE_EXCLUSIONS:
                raise _ecr_error(
                    "LimitExceededException",
                    f"The registry already has {ECR_MAX_PULL_TIME_UPDATE_EXCLUSIONS} pull time update "
                    "exclusions, the maximum",
                )
            created_at = _utcnow()
            exclusions[principal_arn] = (next(_seq_counter), created_at)
        return _json_response({"principalArn": principal_arn, "createdAt": created_at})

    def deregister_pull_time_update_exclusion(self: ECRResponse) -> tuple[int, dict[str, str], str]:
        principal_arn = _principal_arn_param(self)
        with _exclusions_lock:
            if _pull_time_update_exclusions(self.ecr_backend).pop(principal_arn, None) is None:
                raise _ecr_error(
                    "ExclusionNotFoundException",
                    f"The pull time update exclusion for '{principal_arn}' was not found",
                )
        return _json_response({"principalArn": principal_arn})

    def list_pull_time_update_exclusions(self: ECRResponse) -> tuple[int, dict[str, str], str]:
        max_results = _max_results(self._get_param("maxResults"), ECR_DEFAULT_MAX_RESULTS)
        with _exclusions_lock:
            registered = list(_pull_time_update_exclusions(self.ecr_backend).items())
        page, token = _page(
            (((order,), principal_arn) for principal_arn, (order, _) in registered),
            scope=f"list_pull_time_update_exclusions:{self.current_account}:{self.region}",
            next_token=self._get_param("nextToken"),
            max_results=max_results,
        )
        return _json_response(_listing("pullTimeUpdateExclusions", page, token))

    ECRResponse.register_pull_time_update_exclusion = register_pull_time_update_exclusion  # type: ignore[attr-defined]
    ECRResponse.deregister_pull_time_update_exclusion = deregister_pull_time_update_exclusion  # type: ignore[attr-defined]
    ECRResponse.list_pull_time_update_exclusions = list_pull_time_update_exclusions  # type: ignore[attr-defined]


@_patch(
    "ECR BatchGetImage (how every pull reads a manifest) never records a pull; set each returned "
    "image's lastRecordedPullTime to now unless the caller's IAM principal is a pull-time update exclusion."
)
def ecr_batch_get_image_records_pull_time() -> None:
    from moto.ecr.responses import ECRResponse

    original = ECRResponse.batch_get_image

    @functools.wraps(original)
    def batch_get_image(self: ECRResponse) -> Any:
        outcome = original(self)
        result = getattr(outcome, "result", None)
        images = result.get("images", []) if isinstance(result, dict) else []
        if images and _caller_principal_arn(self) not in _pull_time_update_exclusions(self.ecr_backend):
            pulled_at = _utcnow()
            for image in images:
                image.last_recorded_pull_time = pulled_at
        return outcome

    ECRResponse.batch_get_image = batch_get_image  # type: ignore[method-assign]


# --------------------------------------------------------------------------------------------------
# ECS task definitions
# --------------------------------------------------------------------------------------------------

ECS_MAX_RESULTS = 100
"""ListTaskDefinitionFamilies and ListTaskDefinitions: maxResults 1..100, 100 when not given."""


def _ecs_invalid(member: str, constraint: str) -> Exception:
    from moto.ecs.exceptions import InvalidParameterException

    return InvalidParameterException(
        f"Invalid parameter at '{member}' failed to satisfy constraint: '{constraint}'"
    )


def _family_status(revisions: Iterable[Any]) -> str | None:
    """ACTIVE when a family has an ACTIVE revision, INACTIVE when it has revisions but none ACTIVE
    (DELETE_IN_PROGRESS ones count: ECS still returns the family), None when it has none left."""
    statuses = {revision.status for revision in revisions}
    if not statuses:
        return None
    return "ACTIVE" if "ACTIVE" in statuses else "INACTIVE"


@_patch(
    "ECS ListTaskDefinitionFamilies ignores maxResults/nextToken and status (returns every family); "
    "page it like ECS: default 100, 1..100, cursor tokens, status ACTIVE (a family with an ACTIVE "
    "revision) | INACTIVE (one without) | ALL, both ACTIVE and INACTIVE when not given."
)
def ecs_list_task_definition_families_pagination() -> None:
    from moto.core.responses import ActionResult
    from moto.ecs.responses import EC2ContainerServiceResponse

    def list_task_definition_families(self: EC2ContainerServiceResponse) -> ActionResult:
        family_prefix = self._get_param("familyPrefix")
        status = self._get_param("status") or "ALL"
        max_results = _max_results(
            self._get_param("maxResults"), ECS_MAX_RESULTS, maximum=ECS_MAX_RESULTS, invalid=_ecs_invalid
        )
        backend = self.ecs_backend
        keyed: list[tuple[Cursor, str]] = []
        for family in backend.list_task_definition_families(family_prefix):
            family_status = _family_status(backend.task_definitions.get(family, {}).values())
            if family_status is not None and status in ("ALL", family_status):
                keyed.append(((family,), family))
        page, token = _page(
            keyed,
            scope=f"list_task_definition_families:{self.current_account}:{self.region}:{family_prefix}:{status}",
            next_token=self._get_param("nextToken"),
            max_results=max_results,
            invalid=_ecs_invalid,
        )
        return ActionResult(_listing("families", page, token))

    EC2ContainerServiceResponse.list_task_definition_families = list_task_definition_families  # type: ignore[method-assign]


@_patch(
    "ECS ListTaskDefinitions ignores maxResults/nextToken and sort (returns every revision in "
    "registration order); page it like ECS: default 100, 1..100, cursor tokens, by family name then "
    "revision number, ASC by default, DESC lists the newest revision of a family first."
)
def ecs_list_task_definitions_pagination() -> None:
    from moto.core.responses import ActionResult
    from moto.ecs.responses import EC2ContainerServiceResponse

    def list_task_definitions(self: EC2ContainerServiceResponse) -> ActionResult:
        family_prefix = self._get_param("familyPrefix")
        status = self._get_param("status") or "ACTIVE"
        sort = self._get_param("sort") or "ASC"
        if sort not in ("ASC", "DESC"):
            raise _ecs_invalid("sort", "Member must satisfy enum value set: [ASC, DESC]")
        max_results = _max_results(
            self._get_param("maxResults"), ECS_MAX_RESULTS, maximum=ECS_MAX_RESULTS, invalid=_ecs_invalid
        )
        keyed: list[tuple[Cursor, str]] = []
        for arn in self.ecs_backend.list_task_definitions(family_prefix, status):
            family, _, revision = arn.rpartition("/")[2].rpartition(":")
            keyed.append(((family, int(revision)), arn))
        page, token = _page(
            keyed,
            scope=f"list_task_definitions:{self.current_account}:{self.region}:{family_prefix}:{status}:{sort}",
            next_token=self._get_param("nextToken"),
            max_results=max_results,
            descending=sort == "DESC",
            invalid=_ecs_invalid,
        )
        return ActionResult(_listing("taskDefinitionArns", page, token))

    EC2ContainerServiceResponse.list_task_definitions = list_task_definitions  # type: ignore[method-assign]


@_patch(
    "ECS DeleteTaskDefinitions forgets a revision at once: it is never listed or described as "
    "DELETE_IN_PROGRESS and its number is given to the next revision; ECS keeps it DELETE_IN_PROGRESS "
    "(listed, described, its family still listed) and never reuses the number."
)
def ecs_delete_task_definitions_in_progress() -> None:
    from moto.ecs.models import EC2ContainerServiceBackend

    original = EC2ContainerServiceBackend.delete_task_definitions

    @functools.wraps(original)
    def delete_task_definitions(self: EC2ContainerServiceBackend, task_definitions: list[str]) -> Any:
        deleted, failures = original(self, task_definitions)
        for task_definition in deleted:
            self.task_definitions.setdefault(task_definition.family, {})[task_definition.revision] = (
                task_definition
            )
        return deleted, failures

    EC2ContainerServiceBackend.delete_task_definitions = delete_task_definitions  # type: ignore[method-assign]


@_patch(
    "ECS DescribeTaskDefinition of a family without a revision describes its highest revision, "
    "INACTIVE or not; ECS describes the family's latest ACTIVE revision (and fails without one)."
)
def ecs_describe_task_definition_latest_active() -> None:
    from moto.ecs.exceptions import TaskDefinitionNotFoundException
    from moto.ecs.models import EC2ContainerServiceBackend

    original = EC2ContainerServiceBackend.describe_task_definition

    @functools.wraps(original)
    def describe_task_definition(self: EC2ContainerServiceBackend, task_definition_str: str) -> Any:
        family = task_definition_str.rsplit("/", maxsplit=1)[-1]
        if ":" in family:
            return original(self, task_definition_str)
        revisions = self.task_definitions.get(family, {})
        active = [number for number, revision in revisions.items() if revision.status == "ACTIVE"]
        if not active:
            raise TaskDefinitionNotFoundException()
        return original(self, f"{family}:{max(active)}")

    EC2ContainerServiceBackend.describe_task_definition = describe_task_definition  # type: ignore[method-assign]


# --------------------------------------------------------------------------------------------------
# EventBridge and EventBridge Scheduler
# --------------------------------------------------------------------------------------------------

EVENTS_MAX_LIMIT = 100
"""ListRules, ListTargetsByRule, ListEventBuses: Limit 1..100 (moto's own default page is 50)."""

SCHEDULER_MAX_RESULTS = 100
"""ListSchedules: MaxResults 1..100 (moto's own default page is 50)."""


def _validation_error(exception: Callable[[str], Exception]) -> Invalid:
    def invalid(member: str, constraint: str) -> Exception:
        return exception(
            f"1 validation error detected: Value at '{member}' failed to satisfy constraint: {constraint}"
        )

    return invalid


@_patch(
    "EventBridge ListRules, ListTargetsByRule and ListEventBuses take any Limit; EventBridge allows "
    "1..100 and refuses more with ValidationException."
)
def events_list_limit() -> None:
    from moto.events.exceptions import ValidationException
    from moto.events.responses import EventsHandler

    invalid = _validation_error(ValidationException)

    def limited(original: Callable[[EventsHandler], Any]) -> Callable[[EventsHandler], Any]:
        @functools.wraps(original)
        def call(self: EventsHandler) -> Any:
            _max_results(
                self._get_param("Limit"),
                EVENTS_MAX_LIMIT,
                maximum=EVENTS_MAX_LIMIT,
                invalid=invalid,
                member="limit",
            )
            return original(self)

        return call

    EventsHandler.list_rules = limited(EventsHandler.list_rules)  # type: ignore[method-assign,assignment]
    EventsHandler.list_targets_by_rule = limited(EventsHandler.list_targets_by_rule)  # type: ignore[method-assign,assignment]
    EventsHandler.list_event_buses = limited(EventsHandler.list_event_buses)  # type: ignore[method-assign,assignment]


@_patch(
    "EventBridge ListTargetsByRule pages by target Arn, so a page of targets sharing an Arn (ECS tasks "
    "on one cluster) is returned again and again; page by target Id, unique within a rule."
)
def events_list_targets_by_rule_pages_by_id() -> None:
    from moto.events.utils import PAGINATION_MODEL

    PAGINATION_MODEL["list_targets_by_rule"]["unique_attribute"] = "Id"


@_patch(
    "EventBridge Scheduler ListSchedules takes any MaxResults; Scheduler allows 1..100 and refuses "
    "more with ValidationException."
)
def scheduler_list_schedules_max_results() -> None:
    from moto.scheduler.exceptions import ValidationException
    from moto.scheduler.responses import EventBridgeSchedulerResponse

    invalid = _validation_error(ValidationException)
    original = EventBridgeSchedulerResponse.list_schedules

    @functools.wraps(original)
    def list_schedules(self: EventBridgeSchedulerResponse) -> str:
        _max_results(
            self._get_param("MaxResults"),
            SCHEDULER_MAX_RESULTS,
            maximum=SCHEDULER_MAX_RESULTS,
            invalid=invalid,
            member="maxResults",
        )
        return original(self)

    EventBridgeSchedulerResponse.list_schedules = list_schedules  # type: ignore[method-assign]


# --------------------------------------------------------------------------------------------------
# AWS Batch job definitions
# --------------------------------------------------------------------------------------------------

BATCH_MAX_RESULTS = 100
"""DescribeJobDefinitions: maxResults 1..100, 100 when not given; jobDefinitions lists up to 100."""


def _batch_invalid(member: str, constraint: str) -> Exception:
    from moto.batch.exceptions import ClientException

    return ClientException(f"Invalid parameter at '{member}' failed to satisfy constraint: '{constraint}'")


@_patch(
    "Batch DescribeJobDefinitions ignores maxResults/nextToken (returns every revision) and takes "
    "jobDefinitions with other parameters or above 100 entries; page it like Batch: default 100, "
    "1..100, cursor tokens, jobDefinitions (up to 100) only on its own."
)
def batch_describe_job_definitions_pagination() -> None:
    from moto.batch.responses import BatchResponse

    def describejobdefinitions(self: BatchResponse) -> str:
        name = self._get_param("jobDefinitionName")
        listed = self._get_param("jobDefinitions")
        status = self._get_param("status")
        raw_max_results = self._get_param("maxResults")
        next_token = self._get_param("nextToken")
        if listed:
            if len(listed) > BATCH_MAX_RESULTS:
                raise _batch_invalid(
                    "jobDefinitions", f"Member must have length less than or equal to {BATCH_MAX_RESULTS}"
                )
            if name is not None or status is not None or raw_max_results is not None or next_token:
                raise _batch_invalid("jobDefinitions", "Cannot be used with other parameters")
        max_results = _max_results(
            raw_max_results, BATCH_MAX_RESULTS, maximum=BATCH_MAX_RESULTS, invalid=_batch_invalid
        )
        backend = self.batch_backend
        found = backend.describe_job_definitions(name, listed, status)
        _stamp(backend._job_definitions.values())
        page, token = _page(
            (((getattr(definition, _SEQ_ATTR),), definition) for definition in found),
            scope=f"describe_job_definitions:{self.current_account}:{self.region}:{name}:{status}",
            next_token=next_token,
            max_results=max_results,
            invalid=_batch_invalid,
        )
        return json.dumps(_listing("jobDefinitions", [definition.describe() for definition in page], token))

    BatchResponse.describejobdefinitions = describejobdefinitions  # type: ignore[method-assign]


@_patch(
    "Batch DescribeJobDefinitions finds no jobDefinitions entry of the form name:revision (only ARNs); "
    "Batch takes either."
)
def batch_describe_job_definitions_by_name_revision() -> None:
    from moto.batch.models import BatchBackend

    original = BatchBackend.describe_job_definitions

    @functools.wraps(original)
    def describe_job_definitions(
        self: BatchBackend,
        job_def_name: str | None = None,
        job_def_list: list[str] | None = None,
        status: str | None = None,
    ) -> Any:
        if job_def_list:
            resolved = []
            for entry in job_def_list:
                name, _, revision = entry.partition(":")
                found = None
                if not entry.startswith("arn:") and revision.isdigit():
                    found = self.get_job_definition_by_name_revision(name, revision)
                resolved.append(found.arn if found is not None else entry)
            job_def_list = resolved
        return original(self, job_def_name, job_def_list, status)

    BatchBackend.describe_job_definitions = describe_job_definitions  # type: ignore[method-assign]


@_patch(
    "Batch RegisterJobDefinition does not keep a revision as registered: it inherits the previous "
    "revision's containerProperties, eksProperties, parameters and more, refuses ecsProperties, and "
    "DescribeJobDefinitions leaves out nodeProperties; keep and return each revision as registered."
)
def batch_job_definitions_as_registered() -> None:
    from moto.batch.exceptions import ClientException
    from moto.batch.models import BatchBackend, JobDefinition
    from moto.batch.responses import BatchResponse

    create = JobDefinition.__init__

    @functools.wraps(create)
    def __init__(
        self: JobDefinition, *args: Any, ecs_properties: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        self.ecs_properties = ecs_properties  # type: ignore[attr-defined]
        create(self, *args, **kwargs)

    validate = JobDefinition._validate

    def _validate(self: JobDefinition) -> None:
        ecs_properties = getattr(self, "ecs_properties", None)
        if (
            self.type != "container"
            or ecs_properties is None
            or self.container_properties
            or self.eks_properties
        ):
            validate(self)
            return
        containers = [
            container
            for task in ecs_properties.get("taskProperties", [])
            for container in task.get("containers", [])
        ]
        if not containers or any("image" not in container for container in containers):
            raise ClientException("ecsProperties.taskProperties must contain containers, each with an image")

    describe = JobDefinition.describe

    def describe_definition(self: JobDefinition) -> dict[str, Any]:
        result = describe(self)
        for member, value in (
            ("nodeProperties", self.node_properties),
            ("ecsProperties", getattr(self, "ecs_properties", None)),
        ):
            if value is not None:
                result[member] = value
        return result

    def register_job_definition(
        self: BatchBackend,
        *,
        def_name: str,
        parameters: dict[str, Any],
        _type: str,
        tags: dict[str, str],
        retry_strategy: dict[str, Any],
        container_properties: dict[str, Any] | None,
        node_properties: dict[str, Any] | None,
        eks_properties: dict[str, Any] | None,
        timeout: dict[str, int],
        platform_capabilities: list[str],
        propagate_tags: bool,
        ecs_properties: dict[str, Any] | None = None,
    ) -> JobDefinition:
        if def_name is None:
            raise ClientException("jobDefinitionName must be provided")
        if retry_strategy is not None:
            for strategy in retry_strategy.get("evaluateOnExit", []):
                if "action" in strategy:
                    strategy["action"] = strategy["action"].lower()  # as moto does
        latest = self.get_job_definition_by_name(def_name)
        definition = JobDefinition(  # type: ignore[abstract,call-arg]
            def_name,
            parameters,
            _type,
            container_properties,
            node_properties=node_properties,
            eks_properties=eks_properties,
            ecs_properties=ecs_properties,
            tags=tags or {},
            retry_strategy=retry_strategy,
            timeout=timeout,
            backend=self,
            platform_capabilities=platform_capabilities,
            propagate_tags=propagate_tags,
            revision=latest.revision if latest is not None else 0,
        )
        self._job_definitions[definition.arn] = definition
        return definition

    def registerjobdefinition(self: BatchResponse) -> str:
        definition = self.batch_backend.register_job_definition(  # type: ignore[call-arg]
            def_name=self._get_param("jobDefinitionName"),
            parameters=self._get_param("parameters"),
            _type=self._get_param("type"),
            tags=self._get_param("tags"),
            retry_strategy=self._get_param("retryStrategy"),
            container_properties=self._get_param("containerProperties"),
            node_properties=self._get_param("nodeProperties"),
            eks_properties=self._get_param("eksProperties"),
            ecs_properties=self._get_param("ecsProperties"),
            timeout=self._get_param("timeout"),
            platform_capabilities=self._get_param("platformCapabilities"),
            propagate_tags=self._get_param("propagateTags"),
        )
        return json.dumps(
            {
                "jobDefinitionArn": definition.arn,
                "jobDefinitionName": definition.name,
                "revision": definition.revision,
            }
        )

    JobDefinition.__init__ = __init__  # type: ignore[method-assign]
    JobDefinition._validate = _validate  # type: ignore[method-assign]
    JobDefinition.describe = describe_definition  # type: ignore[method-assign]
    BatchBackend.register_job_definition = register_job_definition  # type: ignore[method-assign,assignment]
    BatchResponse.registerjobdefinition = registerjobdefinition  # type: ignore[method-assign]


# --------------------------------------------------------------------------------------------------
# S3
# --------------------------------------------------------------------------------------------------


@_patch(
    "S3 bucket policies: moto ignores every condition operator but StringEquals and knows no request "
    "context, so the usual TLS-only statement (Deny when Bool aws:SecureTransport is false) refuses "
    "every request; evaluate Bool conditions, with every request made over TLS, as SDK requests to "
    "AWS are."
)
def s3_bucket_policy_conditions() -> None:
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult

    original = IAMPolicyStatement.is_action_permitted

    @functools.wraps(original)
    def is_action_permitted(
        self: IAMPolicyStatement,
        action: str,
        resource: str = "*",
        principal: str | None = None,
        incoming_condition_values: dict[str, str] | None = None,
    ) -> PermissionResult:
        context = {"aws:SecureTransport": "true", **(incoming_condition_values or {})}
        for key, expected in (self._statement.get("Condition") or {}).get("Bool", {}).items():
            allowed = {
                str(value).lower() for value in (expected if isinstance(expected, list) else [expected])
            }
            if str(context.get(key, "")).lower() not in allowed:
                return PermissionResult.NEUTRAL
        return original(self, action, resource, principal, incoming_condition_values)

    IAMPolicyStatement.is_action_permitted = is_action_permitted  # type: ignore[method-assign]


# --------------------------------------------------------------------------------------------------
# IAM and Step Functions settings
# --------------------------------------------------------------------------------------------------


@_patch(
    "moto re-parses its 1,582 AWS managed policies (~0.1 s) for each of 6 partitions' IAM backends, "
    "twice per reset; parse them once per process and build them for the `aws` partition only."
)
def iam_managed_policies_once() -> None:
    from moto.iam import models as iam_models
    from moto.iam.aws_managed_policies import aws_managed_policies_data
    from moto.settings import load_iam_aws_managed_policies

    @functools.cache
    def parsed() -> dict[str, Any]:
        return dict(json.loads(aws_managed_policies_data))

    def _init_aws_policies(self: iam_models.IAMBackend) -> list[iam_models.ManagedPolicy]:
        if self.region_name != "aws" or not load_iam_aws_managed_policies():
            return []
        return [
            iam_models.AWSManagedPolicy.from_data(name, self.account_id, self.region_name, data)
            for name, data in parsed().items()
        ]

    iam_models.IAMBackend._init_aws_policies = _init_aws_policies  # type: ignore[method-assign]


@_patch(
    "moto IAM has no AWS managed policies unless configured before the IAM backend exists (Terraform "
    "attaches e.g. AWSLambdaBasicExecutionRole); turn them on and load them into existing backends."
)
def iam_load_aws_managed_policies() -> None:
    from moto.core.config import default_user_config

    default_user_config.setdefault("iam", {})["load_aws_managed_policies"] = True
    from moto.iam.models import iam_backends

    for account_id in list(iam_backends.keys()):
        for backend in list(iam_backends[account_id].values()):
            if not backend.aws_managed_policies:
                backend.aws_managed_policies = backend._init_aws_policies()
                backend.managed_policies.update(backend._init_managed_policies())


@_patch(
    "moto Step Functions only records executions as RUNNING; turn on its ASL interpreter "
    "(config stepfunctions.execute_state_machine) so definitions really run."
)
def sfn_execute_state_machines() -> None:
    from moto.core.config import default_user_config

    default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True


@_patch(
    "Step Functions ValidateStateMachineDefinition is not implemented (the AWS provider calls it); "
    "answer OK for a definition moto's ASL parser accepts, FAIL with a diagnostic otherwise."
)
def sfn_validate_state_machine_definition() -> None:
    from moto.core.responses import ActionResult
    from moto.stepfunctions.responses import StepFunctionResponse

    def validate_state_machine_definition(self: StepFunctionResponse) -> ActionResult:
        definition = self._get_param("definition") or ""
        diagnostics = _definition_diagnostics(definition)
        return ActionResult(
            {"result": "FAIL" if diagnostics else "OK", "diagnostics": diagnostics, "truncated": False}
        )

    StepFunctionResponse.validate_state_machine_definition = validate_state_machine_definition  # type: ignore[attr-defined]


def _definition_diagnostics(definition: str) -> list[dict[str, str]]:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    try:
        json.loads(definition)
    except ValueError as error:
        return [_diagnostic("INVALID_JSON_DESCRIPTION", str(error))]
    try:
        AmazonStateLanguageParser.parse(definition)
    except Exception as error:
        return [_diagnostic("SCHEMA_VALIDATION_FAILED", f"{type(error).__name__}: {error}")]
    return []


def _diagnostic(code: str, message: str) -> dict[str, str]:
    return {"severity": "ERROR", "code": code, "message": message, "location": "/"}


@_patch(
    "Step Functions ListStateMachineVersions is not implemented (the AWS provider calls it); list the "
    "versions moto records when a state machine is published, newest first."
)
def sfn_list_state_machine_versions() -> None:
    from moto.core.responses import ActionResult
    from moto.stepfunctions.responses import StepFunctionResponse

    def list_state_machine_versions(self: StepFunctionResponse) -> ActionResult:
        arn = self._get_param("stateMachineArn")
        state_machine = self.stepfunction_backend.describe_state_machine(arn)
        versions = sorted(state_machine.versions.items(), reverse=True)
        return ActionResult(
            {
                "stateMachineVersions": [
                    {"stateMachineVersionArn": version.arn, "creationDate": version.creation_date}
                    for _, version in versions
                ]
            }
        )

    StepFunctionResponse.list_state_machine_versions = list_state_machine_versions  # type: ignore[attr-defined]


@_patch(
    "With execution on, StartExecution without a name names the execution None, so the second unnamed "
    "start fails with ExecutionAlreadyExists; give it a UUID like AWS."
)
def sfn_unnamed_executions() -> None:
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original = StepFunctionsParserBackend.start_execution

    @functools.wraps(original)
    def start_execution(
        self: StepFunctionsParserBackend,
        state_machine_arn: str,
        name: Any = None,
        execution_input: Any = None,
        trace_header: Any = None,
    ) -> Any:
        return original(self, state_machine_arn, name or str(uuid.uuid4()), execution_input, trace_header)

    StepFunctionsParserBackend.start_execution = start_execution  # type: ignore[method-assign]


SFN_MAX_HISTORY_EVENTS = 25_000
"""A STANDARD execution fails when its history reaches this many events."""


@_patch(
    "A STANDARD execution fails once its history reaches 25,000 events (each child execution of a "
    "Distributed Map has its own history); moto keeps going. Fail it with States.Runtime."
)
def sfn_history_event_limit() -> None:
    import weakref

    from moto.stepfunctions.parser.api import ExecutionFailedEventDetails
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager

    create = Environment.__init__

    @functools.wraps(create)
    def __init__(self: Environment, *args: Any, **kwargs: Any) -> None:
        create(self, *args, **kwargs)
        self.event_manager._history_of = weakref.ref(self)  # type: ignore[attr-defined]

    add = EventManager.add_event

    @functools.wraps(add)
    def add_event(self: EventManager, *args: Any, **kwargs: Any) -> int:
        event_id = add(self, *args, **kwargs)
        owner = getattr(self, "_history_of", None)
        execution = owner() if owner is not None else None
        full = len(self._history_event_list) >= SFN_MAX_HISTORY_EVENTS
        if execution is not None and full and not getattr(execution, "_history_full", False):
            execution.set_error(
                ExecutionFailedEventDetails(
                    error="States.Runtime",
                    cause=f"The execution reached the maximum number of history events "
                    f"({SFN_MAX_HISTORY_EVENTS}).",
                )
            )
            execution._history_full = True
        return event_id

    fail = Environment.set_error

    @functools.wraps(fail)
    def set_error(self: Environment, error: Any) -> None:
        # The state that was running when the history filled up fails in its own way afterwards;
        # the execution keeps the history's error.
        if not getattr(self, "_history_full", False):
            fail(self, error)

    Environment.__init__ = __init__  # type: ignore[method-assign]
    Environment.set_error = set_error  # type: ignore[method-assign]
    EventManager.add_event = add_event  # type: ignore[method-assign]


# --------------------------------------------------------------------------------------------------
# Lambda: run the deployed zip in this process instead of a Docker container
# --------------------------------------------------------------------------------------------------

LAMBDA_CODE_CACHE = Path(tempfile.gettempdir()) / "moto-lambda-code"
"""Where deployed zips are extracted, one directory per code sha256."""

RUNTIME_PROVIDED_PACKAGES = frozenset(
    {"boto3", "botocore", "s3transfer", "urllib3", "dateutil", "jmespath", "six", "awslambdaric"}
)
"""Top-level names a zip may vendor that keep resolving to this interpreter's copy: moto itself runs
on them in this process, so they cannot be swapped out for the duration of an invocation."""

_invoke_lock = threading.RLock()
_INVOKE_LOCK_TIMEOUT_SECONDS = 600
_extract_lock = threading.Lock()
_log = logging.getLogger(__name__)


class LambdaContext:
    """The attributes and method of the Lambda Python runtime's context object that handlers use."""

    def __init__(
        self,
        *,
        function_name: str,
        function_version: str,
        invoked_function_arn: str,
        memory_limit_in_mb: int,
        timeout_seconds: float,
        log_group_name: str,
        log_stream_name: str,
        aws_request_id: str,
    ) -> None:
        self.function_name = function_name
        self.function_version = function_version
        self.invoked_function_arn = invoked_function_arn
        self.memory_limit_in_mb = memory_limit_in_mb
        self.aws_request_id = aws_request_id
        self.log_group_name = log_group_name
        self.log_stream_name = log_stream_name
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class _CodeDirFinder(importlib.abc.MetaPathFinder):
    """Resolves the zip's top-level names from the extracted code only.

    Without it, a module missing from the zip would quietly be found elsewhere (the project's own
    ``lambda/`` directory on ``sys.path`` or an editable install's finder) and the test would run code
    that was never deployed.
    """

    def __init__(self, code_dir: str, names: frozenset[str]) -> None:
        self.code_dir = code_dir
        self.names = names

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.partition(".")[0] not in self.names:
            return None
        search = [self.code_dir] if "." not in fullname else list(path or [])
        spec = importlib.machinery.PathFinder.find_spec(fullname, search)
        if spec is None:
            raise ModuleNotFoundError(f"No module named '{fullname}' in the deployed code", name=fullname)
        return spec


def _extract_code(function: Any) -> Path:
    """The function's zip extracted once per code sha256 (shared by versions with the same code)."""
    digest = hashlib.sha256(function.code_bytes).hexdigest()
    target = LAMBDA_CODE_CACHE / digest
    with _extract_lock:
        if not target.is_dir():
            LAMBDA_CODE_CACHE.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{digest[:12]}-", dir=LAMBDA_CODE_CACHE))
            with zipfile.ZipFile(io.BytesIO(function.code_bytes)) as archive:
                archive.extractall(staging)
            staging.rename(target)
    return target


def _top_level_names(code_dir: Path) -> frozenset[str]:
    names = set()
    for entry in code_dir.iterdir():
        if entry.name.startswith(".") or entry.name.endswith((".dist-info", ".egg-info")):
            continue
        if entry.is_dir() and entry.name.isidentifier() and entry.name != "__pycache__":
            names.add(entry.name)
        elif entry.suffix in {".py", ".so", ".pyd"}:
            names.add(entry.name.split(".")[0])
    return frozenset(names - RUNTIME_PROVIDED_PACKAGES)


def _shadows(path_entry: str, names: frozenset[str]) -> bool:
    base = Path(path_entry or ".")
    return any((base / name).exists() or (base / f"{name}.py").exists() for name in names)


_serving = threading.local()
"""Whether this thread runs a handler whose requests moto's stubber answers (see below)."""


@contextlib.contextmanager
def _served_in_process() -> Iterator[None]:
    """Let the handler's AWS requests reach moto's backends in this process, without HTTP.

    A function on AWS calls the regional endpoints with no endpoint override; here its requests to
    those endpoints are answered by the same backends the moto server serves (moto's botocore
    stubber, as under ``mock_aws``), for this thread only: the server's other threads (Step
    Functions deciding where to send its own requests, among them) see the stubber as it was.
    """
    from botocore.awsrequest import AWSResponse
    from moto.core.botocore_stubber import BotocoreStubber, MockRawResponse

    if not getattr(BotocoreStubber, "_serves_threads", False):
        answer = BotocoreStubber.__call__

        @functools.wraps(answer)
        def __call__(self: BotocoreStubber, event_name: str, request: Any, **kwargs: Any) -> Any:
            if self.enabled or not getattr(_serving, "active", False):
                return answer(self, event_name, request, **kwargs)
            response = self.process_request(request)
            if response is None:
                return None
            status, headers, body = response
            return AWSResponse(request.url, status, headers, MockRawResponse(body))

        BotocoreStubber.__call__ = __call__  # type: ignore[method-assign]
        BotocoreStubber._serves_threads = True  # type: ignore[attr-defined]
    _serving.active = True
    try:
        yield
    finally:
        _serving.active = False


LAMBDA_CREDENTIALS_SECONDS = 12 * 3600
"""How long the execution role's session lasts (Lambda renews it; a test never outlives it)."""

_container_credentials: dict[tuple[Any, ...], dict[str, str]] = {}
"""Per warm container: the execution role session's credentials its environment was given."""


def _execution_role_credentials(function: Any, container: tuple[Any, ...]) -> dict[str, str]:
    """The function's execution role assumed in moto's STS, as the Lambda service does for each
    execution environment (session name: the function name), as the runtime's variables.

    A warm container keeps its credentials. When moto no longer knows them (its backends were reset
    since), the container starts cold with a new session: the modules and boto3 session it kept
    would still sign with the old keys.
    """
    from moto.sts.models import sts_backends
    from moto.utilities.utils import get_partition

    role_account = str(function.role).split(":")[4] or function.account_id  # where STS keeps its sessions
    sts = sts_backends[role_account][get_partition(function.region)]
    known = _container_credentials.get(container)
    if known is not None and sts.get_assumed_role_from_access_key(known["AWS_ACCESS_KEY_ID"]) is not None:
        return known
    _warm_containers.pop(container, None)
    session = sts.assume_role(
        region_name=function.region,
        role_session_name=function.function_name,
        role_arn=function.role,
        policy=None,  # type: ignore[arg-type]
        duration=LAMBDA_CREDENTIALS_SECONDS,
        external_id=None,  # type: ignore[arg-type]
    )
    credentials = {
        "AWS_ACCESS_KEY_ID": session.access_key_id,
        "AWS_SECRET_ACCESS_KEY": session.secret_access_key,
        "AWS_SESSION_TOKEN": session.session_token,
    }
    _container_credentials[container] = credentials
    return credentials


def _function_environment(
    function: Any, code_dir: Path, log_stream: str, credentials: dict[str, str]
) -> dict[str, str]:
    env = {
        "AWS_REGION": function.region,
        "AWS_DEFAULT_REGION": function.region,
        **credentials,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.run_time}",
        "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": str(function.version),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
        "AWS_LAMBDA_LOG_GROUP_NAME": function.logs_group_name,
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        "LAMBDA_TASK_ROOT": str(code_dir),
        "_HANDLER": function.handler or "",
    }
    env.update({key: str(value) for key, value in (function.environment_vars or {}).items()})
    return env


@contextlib.contextmanager
def _environment(overrides: dict[str, str]) -> Iterator[None]:
    """Apply ``overrides`` to ``os.environ``, hiding profile and per-service endpoint settings."""
    hidden = [
        key
        for key in os.environ
        if key in {"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"}
        or key.startswith("AWS_ENDPOINT_URL_")
    ]
    saved = {key: os.environ[key] for key in {*hidden, *overrides} if key in os.environ}
    for key in hidden:
        del os.environ[key]
    os.environ.update(overrides)
    try:
        yield
    finally:
        for key in {*hidden, *overrides}:
            os.environ.pop(key, None)
        os.environ.update(saved)


_warm_containers: dict[tuple[Any, ...], tuple[dict[str, types.ModuleType], Any]] = {}
"""Per function configuration: the modules its handler imported and its boto3 default session."""


def _container_key(function: Any, code_dir: Path) -> tuple[Any, ...]:
    """What makes Lambda start a new execution environment: another function, version, code or
    configuration (its environment, handler or execution role)."""
    environment = frozenset((function.environment_vars or {}).items())
    return (
        function.function_arn,
        str(function.version),
        code_dir.name,
        function.handler,
        environment,
        function.role,
    )


@contextlib.contextmanager
def _isolated_imports(code_dir: Path, container: tuple[Any, ...]) -> Iterator[None]:
    """Import the zip's modules from ``code_dir`` and put the process's own ones back after.

    As in a warm Lambda execution environment, the next invocation of the same function
    configuration finds what this one imported (module-level state and clients included), and so
    does boto3's default session; any other configuration starts cold.
    """
    import boto3

    names = _top_level_names(code_dir)

    def ours(module_name: str) -> bool:
        return module_name.partition(".")[0] in names

    saved_modules = {name: sys.modules.pop(name) for name in list(sys.modules) if ours(name)}
    saved_session = boto3.DEFAULT_SESSION
    warm_modules, warm_session = _warm_containers.get(container, ({}, None))
    sys.modules.update(warm_modules)
    boto3.DEFAULT_SESSION = warm_session
    saved_path = list(sys.path)
    finder = _CodeDirFinder(str(code_dir), names)
    sys.path[:] = [str(code_dir), *(entry for entry in saved_path if not _shadows(entry, names))]
    sys.meta_path.insert(0, finder)
    importlib.invalidate_caches()
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        sys.path[:] = saved_path
        imported = {name: sys.modules.pop(name) for name in list(sys.modules) if ours(name)}
        _warm_containers[container] = (imported, boto3.DEFAULT_SESSION)
        sys.modules.update(saved_modules)
        boto3.DEFAULT_SESSION = saved_session
        importlib.invalidate_caches()


def _not_moto(record: logging.LogRecord) -> bool:
    """Drop what the moto server logs while serving the handler's own requests."""
    return not record.name.startswith(("werkzeug", "moto"))


@contextlib.contextmanager
def _captured_output() -> Iterator[io.StringIO]:
    """Collect what the handler prints or logs, as the Lambda runtime sends it to CloudWatch."""
    buffer = io.StringIO()
    root = logging.getLogger()
    saved_level, saved_handlers = root.level, list(root.handlers)
    capture = logging.StreamHandler(buffer)
    capture.addFilter(_not_moto)
    capture.setFormatter(logging.Formatter("[%(levelname)s]\t%(asctime)s\t%(name)s\t%(message)s"))
    root.addHandler(capture)
    try:
        with contextlib.redirect_stdout(buffer):
            yield buffer
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


class SandboxEnded(BaseException):
    """Raised from inside a handler (by a test) to end the invocation as Lambda ends one that runs
    out of time: no more of the handler runs (a BaseException, so its own `except Exception` cannot
    catch it), the caller gets the runtime's `Sandbox.Timedout` error, and the next invocation
    starts in a fresh execution environment."""

    error_type = "Sandbox.Timedout"


def _error_payload(error_type: str, message: str, request_id: str, trace: list[str]) -> str:
    return json.dumps(
        {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": trace}
    )


def _call_handler(function: Any, event: Any, context: LambdaContext) -> tuple[str, bool]:
    """Import and call the handler: (JSON payload, whether it is a function error)."""
    module_name, _, attribute = (function.handler or "").rpartition(".")
    request_id = context.aws_request_id
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        message = f"Unable to import module '{module_name}': {error}"
        return _error_payload("Runtime.ImportModuleError", message, request_id, []), True
    handler = getattr(module, attribute, None)
    if not callable(handler):
        message = f"Handler '{attribute}' missing on module '{module_name}'"
        return _error_payload("Runtime.HandlerNotFound", message, request_id, []), True
    try:
        result = handler(event, context)
    except SystemExit as error:
        message = f"RequestId: {request_id} Error: Runtime exited with error: exit status {error.code}"
        return _error_payload("Runtime.ExitError", message, request_id, []), True
    except Exception as error:
        frames = traceback.extract_tb(error.__traceback__)[1:]
        trace = traceback.format_list([frame for frame in frames if frame.filename != __file__])
        return _error_payload(type(error).__name__, str(error), request_id, trace), True
    try:
        return json.dumps(result), False
    except (TypeError, ValueError) as error:
        message = f"Unable to marshal response: {error}"
        return _error_payload("Runtime.MarshalError", message, request_id, []), True


def invoke_in_process(function: Any, event: Any) -> tuple[str, bool, str]:
    """Run a moto ``LambdaFunction``'s deployed handler here: (payload, errored, log text).

    Invocations are serialised: ``os.environ``, ``sys.modules`` and ``sys.path`` are process-wide.
    The handler's requests reach moto's backends directly (see ``_served_in_process``), signed with
    credentials of a session of the function's execution role (see ``_execution_role_credentials``);
    a later invocation of the same configuration starts warm (see ``_isolated_imports``).
    """
    request_id = str(uuid.uuid4())
    log_stream = f"{datetime.now():%Y/%m/%d}/[{function.version}]{uuid.uuid4().hex}"
    qualified_arn = function.function_arn
    if str(function.version) != "$LATEST":
        qualified_arn = f"{qualified_arn}:{function.version}"
    try:
        code_dir = _extract_code(function)
    except zipfile.BadZipFile as error:
        message = f"The function's code is not a zip archive: {error}"
        return _error_payload("Runtime.InvalidEntrypoint", message, request_id, []), True, ""
    if not _invoke_lock.acquire(timeout=_INVOKE_LOCK_TIMEOUT_SECONDS):
        message = "Another in-process invocation held the lock too long (synchronous Lambda->Lambda?)"
        return _error_payload("Moto.InvokeLockTimeout", message, request_id, []), True, ""
    clock = time.monotonic()
    context = LambdaContext(
        function_name=function.function_name,
        function_version=str(function.version),
        invoked_function_arn=qualified_arn,
        memory_limit_in_mb=int(function.memory_size),
        timeout_seconds=float(function.timeout),
        log_group_name=function.logs_group_name,
        log_stream_name=log_stream,
        aws_request_id=request_id,
    )
    container = _container_key(function, code_dir)
    output = io.StringIO()
    try:
        credentials = _execution_role_credentials(function, container)
        with (
            _environment(_function_environment(function, code_dir, log_stream, credentials)),
            _isolated_imports(code_dir, container),
            _served_in_process(),
            _captured_output() as output,
        ):
            payload, errored = _call_handler(function, event, context)
    except SandboxEnded:
        _warm_containers.pop(container, None)
        message = f"RequestId: {request_id} Error: Task timed out after {float(function.timeout):.2f} seconds"
        payload, errored = _error_payload(SandboxEnded.error_type, message, request_id, []), True
    finally:
        _invoke_lock.release()
    duration_ms = (time.monotonic() - clock) * 1000
    logs = (
        f"START RequestId: {request_id} Version: {function.version}\n"
        f"{output.getvalue()}"
        f"END RequestId: {request_id}\n"
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
        f"Memory Size: {function.memory_size} MB\n"
    )
    return payload, errored, logs


@_patch(
    "moto runs Lambda handlers in Docker (unavailable here); import the handler from the function's "
    "deployed zip and call it in this process, errors becoming Lambda function errors, warm between "
    "invocations of one configuration, its AWS requests answered by the backends in this process and "
    "signed with a session of its execution role."
)
def lambda_invoke_in_process() -> None:
    from moto.awslambda.models import LambdaFunction

    def _invoke_lambda(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
        self.logs_backend.ensure_log_group(self.logs_group_name)
        # moto hands over the parsed payload, or the text "{}" when the request had no body
        payload, errored, logs = invoke_in_process(self, {} if event in (None, "{}") else event)
        try:
            self.save_logs(logs)
        except Exception:
            _log.exception("could not write the invocation's logs to moto CloudWatch Logs")
        return payload, errored, logs

    LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign]
    _environ_copies_atomically()


def _environ_copies_atomically() -> None:
    """An in-process invocation sets and removes the function's variables in ``os.environ`` while
    other server threads run (a Distributed Map's children). ``os.environ.copy()``, which botocore
    calls when it makes a client, reads the keys and then each value, so a key removed in between
    fails it with KeyError; copy the underlying dict in one step instead."""
    environ_type = type(os.environ)

    def copy(self: Any) -> dict[str, str]:
        data = dict(self._data)
        return {self.decodekey(key): self.decodevalue(value) for key, value in data.items()}

    environ_type.copy = copy  # type: ignore[method-assign]


@_patch(
    "moto marks every failed invocation X-Amz-Function-Error: Handled; the Python runtime reports an "
    "exception the handler raised as Unhandled."
)
def lambda_unhandled_function_error() -> None:
    from moto.awslambda.models import LambdaFunction

    original = LambdaFunction.invoke

    @functools.wraps(original)
    def invoke(self: LambdaFunction, body: str, request_headers: Any, response_headers: Any) -> Any:
        payload = original(self, body, request_headers, response_headers)
        if response_headers.get("x-amz-function-error") == "Handled":
            response_headers["x-amz-function-error"] = "Unhandled"
        return payload

    LambdaFunction.invoke = invoke  # type: ignore[method-assign]


@_patch(
    "moto's AssumeRole issues credentials for any role ARN, existing or not, whoever asks; STS refuses "
    "(AccessDenied) unless the role exists and its trust policy allows the caller: its principal (the "
    "role of an assumed-role session, the account root or id, or *), and sts:ExternalId when the "
    "policy names one. Conditions on the organisation are taken as met."
)
def sts_assume_role_checks_trust() -> None:
    from moto.core.exceptions import AccessDeniedError
    from moto.iam.models import iam_backends
    from moto.sts.responses import TokenResponse

    original = TokenResponse.assume_role

    def assume_role(self: TokenResponse) -> Any:
        role_arn = str(self._get_param("RoleArn") or "")
        external_id = self._get_param("ExternalId")
        _, caller, _ = self.backend.get_caller_identity(self.get_access_key(), self.region)
        parts = role_arn.split(":")
        role = None
        if len(parts) == 6 and parts[5].startswith("role/"):
            backend = iam_backends[parts[4]][parts[1]]
            name = parts[5].rsplit("/", 1)[-1]
            role = next((r for r in backend.roles.values() if r.name == name), None)
        if role is None or not _trusts(role.assume_role_policy_document, caller, external_id):
            raise AccessDeniedError(caller, f"sts:AssumeRole on resource: {role_arn}")
        return original(self)

    TokenResponse.assume_role = assume_role  # type: ignore[method-assign]


def _trusts(document: object, caller: str, external_id: str | None) -> bool:
    """Whether a trust policy lets `caller` (an IAM or STS ARN) assume the role with `external_id`."""
    policy = json.loads(document) if isinstance(document, str) else document
    statements = policy.get("Statement", []) if isinstance(policy, dict) else []
    caller_account = caller.split(":")[4]
    identities = {caller, caller_account, f"arn:aws:iam::{caller_account}:root", "*"}
    if ":assumed-role/" in caller:
        role_name = caller.split(":assumed-role/", 1)[1].split("/", maxsplit=1)[0]
        identities.add(f"arn:aws:iam::{caller_account}:role/{role_name}")
    for statement in statements if isinstance(statements, list) else [statements]:
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if statement.get("Effect") != "Allow" or not {"sts:AssumeRole", "sts:*", "*"} & set(actions):
            continue
        principal = statement.get("Principal", {})
        allowed = principal.get("AWS", []) if isinstance(principal, dict) else principal
        allowed = [allowed] if isinstance(allowed, str) else allowed
        if not identities & set(allowed):
            continue
        wanted = statement.get("Condition", {}).get("StringEquals", {}).get("sts:ExternalId")
        if wanted is not None and external_id not in ([wanted] if isinstance(wanted, str) else wanted):
            continue
        return True
    return False
