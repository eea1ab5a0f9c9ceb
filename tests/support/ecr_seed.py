"""Seed moto's ECR backend with images that look like pushed ones, fast.

Images go through moto's own ``ECRBackend.put_image`` (what the PutImage API calls), so they are
indistinguishable from images pushed with boto3; then the attributes a registry sets over time (push
time, last pull time, archive and restore) are set on the backend object. The backend is the same
for in-process ``mock_aws`` and a ``ThreadedMotoServer`` in this process, so these work for both.

Every image gets a fresh manifest with its own layers: moto without our patches derives the digest
from the layer digests, and re-pushing an identical manifest only adds a tag to the existing image.
Digests are sha256 of the manifest bytes, as in a real registry. Sizes are the sum of the layer
sizes, which is what DescribeImages reports once ``moto_patches.ecr.ecr_image_size`` is applied.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from moto.core.models import DEFAULT_ACCOUNT_ID

DEFAULT_REGION = "us-east-1"

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
OCI_EMPTY_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
SBOM_ARTIFACT = "application/spdx+json"
SIGNATURE_ARTIFACT = "application/vnd.dev.cosign.artifact.sig.v1+json"

DEFAULT_IMAGE_SIZE = 8 * 1024 * 1024
DEFAULT_PLATFORMS = ("linux/amd64", "linux/arm64")

T = TypeVar("T")

_unique = itertools.count()
_run = uuid.uuid4().hex


def days_ago(days: float, *, now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)) - timedelta(days=days)


def ecr_backend(region: str = DEFAULT_REGION, account_id: str = DEFAULT_ACCOUNT_ID) -> Any:
    """moto's ECR backend for the account and region (shared with a server in this process)."""
    from moto.backends import get_backend

    return get_backend("ecr")[account_id][region]


def create_repository(
    name: str,
    *,
    image_tag_mutability: str = "MUTABLE",
    tags: dict[str, str] | None = None,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> str:
    """Create a repository; returns its ARN."""
    repository = ecr_backend(region, account_id).create_repository(
        repository_name=name,
        registry_id=None,
        encryption_config=None,
        image_scan_config=None,
        image_tag_mutability=image_tag_mutability,
        tags=[{"Key": key, "Value": value} for key, value in (tags or {}).items()],
    )
    return str(repository.arn)


def find_image(
    repository: str, digest: str, *, region: str = DEFAULT_REGION, account_id: str = DEFAULT_ACCOUNT_ID
) -> Any:
    """The backend's image object with ``digest``, to read or change what the API reports."""
    repo = ecr_backend(region, account_id)._get_repository(repository)
    for image in repo.images:
        if image.get_image_digest() == digest:
            return image
    raise LookupError(f"no image {digest} in {repository}")


def set_image_times(
    repository: str,
    digest: str,
    *,
    pushed_at: datetime | None = None,
    last_pulled_at: datetime | None = None,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> None:
    """Change an image's push time and/or last recorded pull time (``None`` leaves it as is)."""
    _set_times(
        find_image(repository, digest, region=region, account_id=account_id), pushed_at, last_pulled_at
    )


def archive_image(
    repository: str,
    digest: str,
    *,
    archived_at: datetime | None = None,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> None:
    """Put an image in ECR's archive storage class (``ARCHIVED``), archived at ``archived_at`` (now by
    default): what UpdateImageStorageClass ARCHIVE does, with a time of the test's choosing."""
    image = find_image(repository, digest, region=region, account_id=account_id)
    image.image_status = "ARCHIVED"
    image.last_archived_at = _utc(archived_at or datetime.now(UTC))


def finish_restore(
    repository: str,
    digest: str,
    *,
    activated_at: datetime | None = None,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> None:
    """Complete the restore of an image that UpdateImageStorageClass STANDARD left ``ACTIVATING``:
    it is ``ACTIVE`` again, restored at ``activated_at`` (now by default). ECR takes up to 20 minutes."""
    image = find_image(repository, digest, region=region, account_id=account_id)
    status = getattr(image, "image_status", "ACTIVE")
    if status != "ACTIVATING":
        raise ValueError(f"{digest} in {repository} is {status}, not being restored")
    image.image_status = "ACTIVE"
    image.last_activated_at = _utc(activated_at or datetime.now(UTC))


def role_credentials(
    role_arn: str, session_name: str = "test", *, region: str = DEFAULT_REGION
) -> dict[str, str]:
    """boto3 client arguments with credentials of a new session of ``role_arn`` from moto's STS
    backend: requests signed with them are that role's (what pull-time update exclusions match).

    ``boto3.client("ecr", endpoint_url=..., **ecr_seed.role_credentials(arn))``
    """
    from moto.backends import get_backend
    from moto.utilities.utils import get_partition

    account_id = role_arn.split(":")[4] or DEFAULT_ACCOUNT_ID
    session = get_backend("sts")[account_id][get_partition(region)].assume_role(
        region_name=region,
        role_session_name=session_name,
        role_arn=role_arn,
        policy=None,  # type: ignore[arg-type]
        duration=3600,
        external_id=None,  # type: ignore[arg-type]
    )
    return {
        "aws_access_key_id": session.access_key_id,
        "aws_secret_access_key": session.secret_access_key,
        "aws_session_token": session.session_token,
    }


def _unique_hex() -> str:
    return hashlib.sha256(f"{_run}:{next(_unique)}".encode()).hexdigest()


def _layer_sizes(total: int, count: int) -> list[int]:
    base, remainder = divmod(total, count)
    return [base] * (count - 1) + [base + remainder]


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _set_times(image: Any, pushed_at: datetime | None, last_pulled_at: datetime | None) -> None:
    if pushed_at is not None:
        image.image_pushed_at = int(_utc(pushed_at).timestamp())
    if last_pulled_at is not None:
        image.last_recorded_pull_time = _utc(last_pulled_at)


def image_manifest(
    *,
    size_in_bytes: int = DEFAULT_IMAGE_SIZE,
    layers: int = 2,
    media_type: str = DOCKER_MANIFEST,
) -> str:
    """A manifest no other call returns (fresh layer and config digests), as registry JSON text."""
    if layers < 1 or size_in_bytes < layers:
        raise ValueError("an image needs at least one layer and one byte per layer")
    docker = media_type == DOCKER_MANIFEST
    manifest = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {
            "mediaType": DOCKER_CONFIG if docker else OCI_CONFIG,
            "size": 1469,
            "digest": f"sha256:{_unique_hex()}",
        },
        "layers": [
            {
                "mediaType": DOCKER_LAYER if docker else OCI_LAYER,
                "size": size,
                "digest": f"sha256:{_unique_hex()}",
            }
            for size in _layer_sizes(size_in_bytes, layers)
        ],
    }
    return json.dumps(manifest, indent=3)


def manifest_digest(manifest: str) -> str:
    """The digest a registry gives ``manifest``: sha256 of its bytes."""
    return "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()


def push_manifest(
    repository: str,
    manifest: str,
    *,
    tags: Sequence[str] = (),
    pushed_at: datetime | None = None,
    last_pulled_at: datetime | None = None,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> str:
    """PutImage ``manifest`` once per tag (once untagged without tags); returns the image digest."""
    backend = ecr_backend(region, account_id)
    backend._get_repository(repository)
    media_type = json.loads(manifest)["mediaType"]
    digest = manifest_digest(manifest)
    each_tag: list[str | None] = [*tags] or [None]
    first, *more = each_tag
    image = backend.put_image(repository, manifest, first, media_type, digest)
    for tag in more:
        backend.put_image(repository, manifest, tag, media_type, digest)
    _set_times(image, pushed_at, last_pulled_at)
    return str(image.get_image_digest())


def push_image(
    repository: str,
    *,
    tags: Sequence[str] = (),
    pushed_at: datetime | None = None,
    size_in_bytes: int = DEFAULT_IMAGE_SIZE,
    last_pulled_at: datetime | None = None,
    layers: int = 2,
    media_type: str = DOCKER_MANIFEST,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> str:
    """Push a new single-platform image; returns its digest.

    ``pushed_at`` defaults to now (moto's time of the put), ``last_pulled_at`` to never pulled.
    """
    manifest = image_manifest(size_in_bytes=size_in_bytes, layers=layers, media_type=media_type)
    return push_manifest(
        repository,
        manifest,
        tags=tags,
        pushed_at=pushed_at,
        last_pulled_at=last_pulled_at,
        region=region,
        account_id=account_id,
    )


def _each(value: T | Callable[[int], T], index: int) -> T:
    """``value`` itself, or ``value(index)`` when it is a function of the image's index."""
    return value(index) if callable(value) else value


def push_images(
    repository: str,
    count: int,
    *,
    tags: Sequence[str] | Callable[[int], Sequence[str]] = (),
    pushed_at: datetime | Callable[[int], datetime] | None = None,
    size_in_bytes: int | Callable[[int], int] = DEFAULT_IMAGE_SIZE,
    last_pulled_at: datetime | Callable[[int], datetime] | None = None,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> list[str]:
    """Push ``count`` images, each argument either one value or a function of the index 0..count-1.

    ``push_images("app", 2500, tags=lambda i: [f"build-{i}"], pushed_at=lambda i: days_ago(i))``
    """
    return [
        push_image(
            repository,
            tags=_each(tags, index),
            pushed_at=_each(pushed_at, index),
            size_in_bytes=_each(size_in_bytes, index),
            last_pulled_at=_each(last_pulled_at, index),
            region=region,
            account_id=account_id,
        )
        for index in range(count)
    ]


def _descriptor(image: Any, **extra: Any) -> dict[str, Any]:
    return {
        "mediaType": image.image_manifest_media_type,
        "digest": image.get_image_digest(),
        "size": len(image.image_manifest.encode()),
        **extra,
    }


def _platform(platform: str) -> dict[str, str]:
    os_name, _, architecture = platform.partition("/")
    architecture, _, variant = architecture.partition("/")
    return {"architecture": architecture, "os": os_name, **({"variant": variant} if variant else {})}


def push_image_index(
    repository: str,
    child_digests: Sequence[str],
    *,
    platforms: Sequence[str] | None = None,
    tags: Sequence[str] = (),
    pushed_at: datetime | None = None,
    last_pulled_at: datetime | None = None,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> str:
    """Push an OCI image index over images already in ``repository``; returns the index digest.

    ``platforms`` ("os/arch[/variant]") pairs with ``child_digests``; by default linux/amd64,
    linux/arm64, then linux/arch<n>.
    """
    chosen = list(
        platforms or [*DEFAULT_PLATFORMS, *(f"linux/arch{n}" for n in range(2, len(child_digests)))]
    )
    if len(chosen) < len(child_digests):
        raise ValueError("one platform per child manifest")
    children = [
        find_image(repository, digest, region=region, account_id=account_id) for digest in child_digests
    ]
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            _descriptor(child, platform=_platform(platform))
            for child, platform in zip(children, chosen, strict=False)
        ],
        "annotations": {"org.opencontainers.image.ref.name": _unique_hex()[:12]},
    }
    return push_manifest(
        repository,
        json.dumps(index, indent=3),
        tags=tags,
        pushed_at=pushed_at,
        last_pulled_at=last_pulled_at,
        region=region,
        account_id=account_id,
    )


def push_multi_platform_image(
    repository: str,
    *,
    platforms: Sequence[str] = DEFAULT_PLATFORMS,
    tags: Sequence[str] = (),
    pushed_at: datetime | None = None,
    size_in_bytes: int = DEFAULT_IMAGE_SIZE,
    last_pulled_at: datetime | None = None,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> tuple[str, list[str]]:
    """What ``docker buildx --push`` leaves: untagged OCI child images and a tagged index over them.

    Returns (index digest, child digests in platform order).
    """
    children = [
        push_image(
            repository,
            pushed_at=pushed_at,
            size_in_bytes=size_in_bytes,
            media_type=OCI_MANIFEST,
            region=region,
            account_id=account_id,
        )
        for _ in platforms
    ]
    index = push_image_index(
        repository,
        children,
        platforms=platforms,
        tags=tags,
        pushed_at=pushed_at,
        last_pulled_at=last_pulled_at,
        region=region,
        account_id=account_id,
    )
    return index, children


def push_referrer(
    repository: str,
    subject_digest: str,
    *,
    artifact_type: str = SBOM_ARTIFACT,
    tags: Sequence[str] = (),
    pushed_at: datetime | None = None,
    size_in_bytes: int = 4096,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> str:
    """Push an OCI artifact (an SBOM by default) whose ``subject`` is ``subject_digest``; returns its
    digest."""
    subject = find_image(repository, subject_digest, region=region, account_id=account_id)
    artifact = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": {"mediaType": OCI_EMPTY, "digest": OCI_EMPTY_DIGEST, "size": 2},
        "layers": [{"mediaType": artifact_type, "digest": f"sha256:{_unique_hex()}", "size": size_in_bytes}],
        "subject": _descriptor(subject),
    }
    return push_manifest(
        repository,
        json.dumps(artifact, indent=3),
        tags=tags,
        pushed_at=pushed_at,
        region=region,
        account_id=account_id,
    )


def image_digests(
    repository: str, *, region: str = DEFAULT_REGION, account_id: str = DEFAULT_ACCOUNT_ID
) -> list[str]:
    """Digests of every image in the repository, in push order (straight from the backend)."""
    return [
        image.get_image_digest()
        for image in ecr_backend(region, account_id)._get_repository(repository).images
    ]


def remaining_digests(
    repository: str, *, region: str = DEFAULT_REGION, account_id: str = DEFAULT_ACCOUNT_ID
) -> set[str]:
    """The digests still in a repository: what a cleanup left behind."""
    return set(image_digests(repository, region=region, account_id=account_id))


def image_tags(
    repository: str, *, region: str = DEFAULT_REGION, account_id: str = DEFAULT_ACCOUNT_ID
) -> dict[str, list[str]]:
    """Digest -> tags of every image in the repository (straight from the backend)."""
    return {
        image.get_image_digest(): list(image.image_tags)
        for image in ecr_backend(region, account_id)._get_repository(repository).images
    }
