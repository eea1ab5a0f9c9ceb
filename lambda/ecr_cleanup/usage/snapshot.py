"""Snapshots of the images in use: one scan per run, valid for a bounded time, shareable as JSON.

A run reads the images in use once, before any repository is touched, and every repository's plan
relies on that scan. A deletion may rely on a scan for at most `max_age`; a run that lasts longer
reads them again, once for everyone (`LocalUsage` in one process; `rundata.SharedUsage` across the
Lambda invocations of a run).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ..plan import Image
from .references import ImageReference, UsageError, resolve_in_use

__all__ = ["DEFAULT_MAX_AGE", "BoundedSnapshot", "LocalUsage", "UsageCache", "UsageScan", "utc_now"]

DEFAULT_MAX_AGE = timedelta(minutes=15)
FORMAT_VERSION = 2

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class UsageCache:
    """What a scan read that never changes: task definition revisions, published Lambda versions,
    ECS service revisions (image and resolved digest per container) and SageMaker models."""

    task_definitions: dict[str, list[str]] = field(default_factory=dict)
    function_versions: MutableMapping[str, list[str]] = field(default_factory=dict)
    service_revisions: dict[str, list[list[str | None]]] = field(default_factory=dict)
    models: dict[str, list[str]] = field(default_factory=dict)

    def scoped(self, prefix: str) -> UsageCache:
        """A view for one account or region: published Lambda versions are named without either, so
        they are kept under `prefix`; everything else is named by an ARN, which names both."""
        return UsageCache(
            self.task_definitions,
            _Prefixed(self.function_versions, prefix),
            self.service_revisions,
            self.models,
        )


class _Prefixed(MutableMapping[str, list[str]]):
    def __init__(self, data: MutableMapping[str, list[str]], prefix: str) -> None:
        self.data = data
        self.prefix = prefix

    def __getitem__(self, key: str) -> list[str]:
        return self.data[self.prefix + key]

    def __setitem__(self, key: str, value: list[str]) -> None:
        self.data[self.prefix + key] = value

    def __delitem__(self, key: str) -> None:
        del self.data[self.prefix + key]

    def __iter__(self) -> Iterator[str]:
        return (key.removeprefix(self.prefix) for key in list(self.data) if key.startswith(self.prefix))

    def __len__(self) -> int:
        return sum(1 for _ in self)


@dataclass(frozen=True)
class UsageScan:
    """The references in use found by one scan that started at `read_at`."""

    read_at: datetime
    references: tuple[ImageReference, ...]
    cache: UsageCache = field(default_factory=UsageCache)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "read_at": self.read_at.astimezone(UTC).isoformat(),
            "references": [
                [ref.repository, ref.tag, ref.digest, ref.registry, ref.source] for ref in self.references
            ],
            "cache": {
                "task_definitions": self.cache.task_definitions,
                "function_versions": dict(self.cache.function_versions),
                "service_revisions": self.cache.service_revisions,
                "models": self.cache.models,
            },
        }

    @classmethod
    def from_json(cls, document: object) -> UsageScan:
        """Read what `to_json` wrote; anything else raises `UsageError` (the run deletes nothing)."""
        if not isinstance(document, dict) or document.get("version") != FORMAT_VERSION:
            raise UsageError("the run's snapshot of images in use is unreadable: unknown format")
        try:
            read_at = datetime.fromisoformat(document["read_at"])
            references = tuple(ImageReference(*fields) for fields in document["references"])
            cache = document["cache"]
            return cls(
                read_at,
                references,
                UsageCache(
                    dict(cache["task_definitions"]),
                    dict(cache["function_versions"]),
                    dict(cache["service_revisions"]),
                    dict(cache["models"]),
                ),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise UsageError(f"the run's snapshot of images in use is unreadable: {error!r}") from error


class BoundedSnapshot:
    """A scan that may be relied on until `max_age` after it started."""

    def __init__(self, scan: UsageScan, max_age: timedelta, clock: Clock = utc_now) -> None:
        self.scan = scan
        self.max_age = max_age
        self._clock = clock
        self._by_repository: dict[str, list[ImageReference]] | None = None
        self._lock = threading.Lock()

    def expired(self) -> bool:
        return self._clock() - self.scan.read_at > self.max_age

    def in_use(
        self, repository: str, images: Sequence[Image], registry: str | None = None
    ) -> Mapping[str, str]:
        """Digest -> reason for the images of `repository` in the registry whose host is `registry`
        (any registry when None) that a reference of the scan names."""
        with self._lock:
            if self._by_repository is None:
                by_repository: dict[str, list[ImageReference]] = {}
                for reference in self.scan.references:
                    by_repository.setdefault(reference.repository, []).append(reference)
                self._by_repository = by_repository
        return resolve_in_use(self._by_repository.get(repository, ()), repository, images, registry=registry)


class LocalUsage:
    """The images in use for one process: scanned on first use, scanned again once expired.

    Thread-safe: concurrent callers that find the snapshot expired wait for one scan. `scans` counts
    the scans made.
    """

    def __init__(
        self, scan: Callable[[], UsageScan], *, max_age: timedelta = DEFAULT_MAX_AGE, clock: Clock = utc_now
    ) -> None:
        if max_age <= timedelta(0):
            raise ValueError("max_age must be positive")
        self._scan = scan
        self.max_age = max_age
        self._clock = clock
        self._current: BoundedSnapshot | None = None
        self._lock = threading.Lock()
        self.scans = 0

    def snapshot(self) -> BoundedSnapshot:
        with self._lock:
            if self._current is None or self._current.expired():
                self._current = BoundedSnapshot(self._scan(), self.max_age, self._clock)
                self.scans += 1
            return self._current
