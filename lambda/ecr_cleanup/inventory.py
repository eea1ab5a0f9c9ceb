"""Turning ECR's image descriptions into `Image` values, from the API or from saved files.

`aws ecr describe-images` writes times as ISO 8601 strings or epoch seconds; boto3 hands back
`datetime` objects. All three arrive here and leave as timezone-aware UTC datetimes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .plan import Image

__all__ = ["InputError", "image_from_detail", "load_image_files", "parse_time"]


class InputError(ValueError):
    """Input other than the policy (an image file, a time) that cannot be read."""


def parse_time(value: object, where: str) -> datetime:
    """Read an ISO 8601 string, epoch seconds or a datetime; a time without a zone is UTC."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise InputError(f"{where}: not an ISO 8601 time: {value!r}") from None
    else:
        raise InputError(f"{where}: expected an ISO 8601 string or epoch seconds, got {value!r}")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def image_from_detail(detail: Mapping[str, Any], where: str = "imageDetails[]") -> Image:
    """One `imageDetails` entry of DescribeImages as an `Image`."""
    digest = detail.get("imageDigest")
    if not isinstance(digest, str) or not digest:
        raise InputError(f"{where}.imageDigest: required")
    pushed = detail.get("imagePushedAt")
    if pushed is None:
        raise InputError(f"{where}.imagePushedAt: required")
    pulled = detail.get("lastRecordedPullTime")
    tags = detail.get("imageTags") or ()
    size = detail.get("imageSizeInBytes") or 0
    if not isinstance(size, int):
        raise InputError(f"{where}.imageSizeInBytes: must be a whole number of bytes, got {size!r}")
    return Image(
        digest=digest,
        tags=tuple(tags),
        pushed_at=parse_time(pushed, f"{where}.imagePushedAt"),
        size=size,
        last_pulled_at=None if pulled is None else parse_time(pulled, f"{where}.lastRecordedPullTime"),
        media_type=detail.get("imageManifestMediaType"),
        artifact_media_type=detail.get("artifactMediaType"),
        subject_digest=detail.get("subjectManifestDigest"),
    )


def load_image_files(paths: Iterable[Path | str]) -> dict[str, list[Image]]:
    """Read saved `aws ecr describe-images` outputs, grouped by each image's `repositoryName`.

    An image listed twice (overlapping files) is kept once, with the union of its tags, so no tag a
    protection looks at is lost.
    """
    repositories: dict[str, dict[str, Image]] = {}
    for path in paths:
        try:
            with open(path, "rb") as handle:
                document = json.load(handle)
        except OSError as error:
            raise InputError(f"{path}: {error.strerror or error}") from None
        except json.JSONDecodeError as error:
            raise InputError(f"{path}: not valid JSON: {error}") from None
        details = document.get("imageDetails") if isinstance(document, dict) else None
        if not isinstance(details, list):
            raise InputError(f'{path}: expected the output of describe-images: {{"imageDetails": [...]}}')
        for index, detail in enumerate(details):
            where = f"{path}: imageDetails[{index}]"
            if not isinstance(detail, dict):
                raise InputError(f"{where}: must be an object")
            repository = detail.get("repositoryName")
            if not isinstance(repository, str) or not repository:
                raise InputError(f"{where}.repositoryName: required")
            image = image_from_detail(detail, where)
            images = repositories.setdefault(repository, {})
            seen = images.get(image.digest)
            if seen is not None:
                tags = tuple(dict.fromkeys(seen.tags + image.tags))
                image = replace(seen, tags=tags)
            images[image.digest] = image
    return {name: list(images.values()) for name, images in repositories.items()}
