"""Turning ECR's image descriptions into `Image` values, from the API or from saved files.

`aws ecr describe-images` writes times as ISO 8601 strings or epoch seconds; boto3 hands back
`datetime` objects. All three arrive here and leave as timezone-aware UTC datetimes.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from .plan import ACTIVATING, ACTIVE, ARCHIVED, Image

__all__ = [
    "InputError",
    "image_from_detail",
    "load_image_files",
    "parse_time",
    "paused_gc",
    "read_image_file",
    "read_json",
]


class InputError(ValueError):
    """Input other than the policy (an image file, a time) that cannot be read."""


# Images are built by the million from saved files: tuple.__new__ skips NamedTuple's Python __new__.
_image = partial(tuple.__new__, Image)


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building large acyclic data (decoded JSON, plans).

    Reference counting still frees everything; only the repeated full scans of millions of live
    objects, which would dominate the run time, are skipped.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            # What was built is long-lived: freezing it spares the collector a full scan of it later.
            gc.freeze()
            gc.enable()


IMAGE_STATUSES = frozenset({ACTIVE, ARCHIVED, ACTIVATING})
_STATUSES = {status: status for status in IMAGE_STATUSES}

# One string object per distinct media type, instead of one per image.
_media_types: dict[str | None, str | None] = {None: None}
_fromisoformat = datetime.fromisoformat


def parse_time(value: object, field: str) -> datetime:
    """Read an ISO 8601 string, epoch seconds or a datetime; a time without a zone is UTC."""
    if type(value) is str:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise InputError(f"{field}: not an ISO 8601 time: {value!r}") from None
    elif isinstance(value, datetime):
        moment = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    else:
        raise InputError(f"{field}: expected an ISO 8601 string or epoch seconds, got {value!r}")
    tzinfo = moment.tzinfo
    if tzinfo is UTC:
        return moment
    return moment.replace(tzinfo=UTC) if tzinfo is None else moment.astimezone(UTC)


def image_from_detail(detail: Mapping[str, Any]) -> Image:
    """One `imageDetails` entry of DescribeImages as an `Image`.

    Errors name the field relative to the entry (`imagePushedAt: ...`); callers add where it was.
    This runs once per image of a registry, so the common case (an ISO 8601 time in UTC) is inline.
    """
    get = detail.get
    digest = get("imageDigest")
    pushed = get("imagePushedAt")
    size = get("imageSizeInBytes", 0)
    if type(digest) is not str or not digest:
        raise InputError("imageDigest: required")
    if type(size) is not int:
        raise InputError(f"imageSizeInBytes: must be a whole number of bytes, got {size!r}")
    if type(pushed) is str:
        try:
            pushed_at = _fromisoformat(pushed)
        except ValueError:
            raise InputError(f"imagePushedAt: not an ISO 8601 time: {pushed!r}") from None
        if pushed_at.tzinfo is not UTC:
            pushed_at = parse_time(pushed_at, "imagePushedAt")
    elif pushed is None:
        raise InputError("imagePushedAt: required")
    else:
        pushed_at = parse_time(pushed, "imagePushedAt")
    pulled = get("lastRecordedPullTime")
    if pulled is not None:
        pulled = parse_time(pulled, "lastRecordedPullTime")
    tags = get("imageTags")
    media_type = get("imageManifestMediaType")
    artifact_type = get("artifactMediaType")
    status = get("imageStatus") or ACTIVE
    archived = get("lastArchivedAt")
    if status not in IMAGE_STATUSES:
        raise InputError(f"imageStatus: must be one of {', '.join(sorted(IMAGE_STATUSES))}, got {status!r}")
    if archived is not None:
        archived = parse_time(archived, "lastArchivedAt")
    media_types = _media_types
    return _image(
        (
            digest,
            tuple(tags) if tags else (),
            pushed_at,
            size,
            pulled,
            media_types.get(media_type) or media_types.setdefault(media_type, media_type),
            media_types.get(artifact_type) or media_types.setdefault(artifact_type, artifact_type),
            get("subjectManifestDigest"),
            _STATUSES[status],
            archived,
        )
    )


def load_image_files(paths: Iterable[Path | str]) -> dict[str, list[Image]]:
    """Read saved `aws ecr describe-images` outputs, grouped by each image's `repositoryName`.

    An image listed twice (overlapping files) is kept once, with the union of its tags, so no tag a
    protection looks at is lost.
    """
    repositories: dict[str, dict[str, Image]] = {}
    for path in paths:
        read_image_file(path, repositories)
    return {name: list(images.values()) for name, images in repositories.items()}


def read_json(path: Path | str) -> Any:
    """A JSON file's document; a missing file or bad JSON raises `InputError` naming the file."""
    try:
        with open(path, "rb") as handle:
            return json.load(handle)
    except OSError as error:
        raise InputError(f"{path}: {error.strerror or error}") from None
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: not valid JSON: {error}") from None


def read_image_file(path: Path | str, repositories: dict[str, dict[str, Image]]) -> set[str]:
    """Add the images of one saved describe-images output to `repositories` (by name, then digest).

    Returns the repositories the file names. `load_image_files` is this over each file in turn.
    """
    document = read_json(path)
    details = document.get("imageDetails") if isinstance(document, dict) else None
    if not isinstance(details, list):
        raise InputError(f'{path}: expected the output of describe-images: {{"imageDetails": [...]}}')
    index = 0
    current_name: str | None = None
    images: dict[str, Image] = {}
    names: set[str] = set()
    try:
        for index, detail in enumerate(details):  # noqa: B007 (the index locates an error)
            repository = detail["repositoryName"]
            if repository != current_name:
                if type(repository) is not str or not repository:
                    raise KeyError("repositoryName")
                current_name = repository
                images = repositories.setdefault(repository, {})
                names.add(repository)
            image = image_from_detail(detail)
            seen = images.get(image.digest)
            if seen is not None:
                image = seen._replace(tags=tuple(dict.fromkeys(seen.tags + image.tags)))
            images[image.digest] = image
    except KeyError:
        raise InputError(f"{path}: imageDetails[{index}].repositoryName: required") from None
    except (TypeError, AttributeError):
        raise InputError(f"{path}: imageDetails[{index}]: must be an object") from None
    except InputError as error:
        raise InputError(f"{path}: imageDetails[{index}].{error}") from None
    return names
