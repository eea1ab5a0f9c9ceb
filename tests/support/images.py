"""Builders for `Image` values at known ages, shared by the engine's tests and benchmarks."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from ecr_cleanup.plan import Image

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def digest_of(name: str) -> str:
    return "sha256:" + hashlib.sha256(name.encode()).hexdigest()


def image(
    name: str,
    *,
    days: float,
    tags: tuple[str, ...] | list[str] = (),
    pulled_days: float | None = None,
    size: int = 1_000_000,
    now: datetime = NOW,
) -> Image:
    """An image pushed `days` before `now` (and last pulled `pulled_days` before it, if given)."""
    return Image(
        digest=digest_of(name),
        tags=tuple(tags),
        pushed_at=now - timedelta(days=days),
        size=size,
        last_pulled_at=None if pulled_days is None else now - timedelta(days=pulled_days),
    )
