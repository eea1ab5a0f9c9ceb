"""ECR: the named patches of moto's ECR.

Listings paged as ECR pages them, image details (sizes, artifact and subject fields), manifest digests,
batch limits, image storage classes (archive and restore), and pull times and who pulls (pull-time
update exclusions).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tests.support.moto_patches.paging import (
    _SEQ_ATTR,
    _invalid_parameter,
    _listing,
    _max_results,
    _page,
    _seq_counter,
    _stamp,
)
from tests.support.moto_patches.registry import _patch

# ECR_MAX_RESULTS (maxResults 1..1000) and ECR's InvalidParameterException (`_invalid_parameter`) live
# in paging.py: they are the defaults of its helpers.
ECR_DEFAULT_MAX_RESULTS = 100
ECR_MAX_BATCH_IMAGE_IDS = 100

_INDEX_MEDIA_TYPES = frozenset(
    {
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    }
)


@functools.lru_cache(maxsize=16384)
def _manifest(text: str) -> dict[str, Any]:
    """Parsed manifest, cached because DescribeImages reads several fields of every image."""
    try:
        parsed = json.loads(text)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


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


@_patch(
    "ECR PutImage with a tag another image holds: moto removes the tag from that image with "
    "BatchDeleteImage, which deletes the image when the tag was its only one; ECR moves the tag and "
    "leaves the other image in the repository, untagged (an immutable tag is still refused)."
)
def ecr_put_image_moves_tag() -> None:
    from moto.ecr.models import ECRBackend

    original = ECRBackend.put_image

    @functools.wraps(original)
    def put_image(
        self: ECRBackend,
        repository_name: str,
        image_manifest: str,
        image_tag: str | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        repository = self.repositories.get(repository_name)
        holders = [
            image
            for image in (repository.images if repository is not None and image_tag else [])
            if image_tag in image.image_tags and image.image_manifest != image_manifest
        ]
        if holders:
            self._resolve_image_tag_mutability(repository, image_tag)  # raises for an immutable tag
            for image in holders:
                image.remove_tag(image_tag)
                if not image.image_tags:
                    image.image_tag = None
        return original(self, repository_name, image_manifest, image_tag, *args, **kwargs)

    ECRBackend.put_image = put_image  # type: ignore[method-assign]


_ECR_IMAGE = re.compile(
    r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com/([a-z0-9._/-]+?)(?::([\w][\w.-]{0,127}))?"
    r"(?:@(sha256:[0-9a-f]{64}))?$"
)


def resolved_digest(image: str) -> str | None:
    """The digest a service that resolves image tags (ECS, SageMaker) pins `image` to: the one it
    names, else, for an image of a registry in this emulation, the digest its tag points to now
    (None when the tag points to nothing or the image is not ECR's)."""
    from moto.backends import get_backend

    if "@" in image:
        return image.rpartition("@")[2]
    found = _ECR_IMAGE.match(image)
    if found is None:
        return None
    account, region, repository, tag = found[1], found[2], found[3], found[4] or "latest"
    held = get_backend("ecr")[account][region].repositories.get(repository)
    for candidate in held.images if held is not None else []:
        if tag in candidate.image_tags:
            return str(candidate.get_image_digest())
    return None


def resolved_image(image: str) -> str | None:
    """`image` pinned to its digest, ``<registry>/<repository>@sha256:…``, or None (see `resolved_digest`)."""
    digest = resolved_digest(image)
    if digest is None:
        return None
    name = image.partition("@")[0]
    host, _, path = name.partition("/")
    return f"{host}/{path.rpartition(':')[0] if ':' in path else path}@{digest}"


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
