"""What a cleanup saves, in money: the storage cost per month of what it deleted or archived.

ECR bills stored bytes per GB-month with GB = 1024³ bytes. The sizes ECR reports are compressed sizes,
and layers shared by several images are stored (and billed) once, so a saving computed from image sizes
is an upper bound: every figure here is "up to". Archiving moves an image to a storage class billed at
`archive` instead of `storage`; at AWS's published 2026 prices both are $0.10 per GB-month for the first
150 TB a month, so archiving saves nothing below that, and restoring an archived image costs $0.03 per
GB, with at least 90 days billed in the archive.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

__all__ = [
    "DEFAULT_PRICES",
    "GIB",
    "RESTORE_PRICE_PER_GB",
    "Prices",
    "archive_note",
    "money",
    "savings",
    "savings_text",
]

GIB = 1024**3
RESTORE_PRICE_PER_GB = 0.03
"""What restoring an archived image costs per GB (AWS's published 2026 price)."""
ARCHIVE_MINIMUM_DAYS = 90


@dataclass(frozen=True)
class Prices:
    """Storage prices in US dollars per GB-month: standard (`storage`) and the archive class."""

    storage: float = 0.10
    archive: float = 0.10

    def __post_init__(self) -> None:
        for name in ("storage", "archive"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1000:
                raise ValueError(f"{name} price: must be dollars per GB-month from 0, got {value!r}")

    @property
    def archive_saving(self) -> float:
        """What archiving one GB saves per month (negative: the archive costs more)."""
        return self.storage - self.archive


DEFAULT_PRICES = Prices()


def _cents(amount: float) -> float:
    return float(Decimal(repr(amount)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def savings(prices: Prices, deleted_bytes: int, archived_bytes: int) -> dict[str, Any]:
    """The `savings` object of a summary: the storage cost per month that the deletions and archives
    remove (or would remove), rounded to the cent, with the prices used."""
    deleted = deleted_bytes / GIB * prices.storage
    archived = archived_bytes / GIB * prices.archive_saving
    return {
        "currency": "USD",
        "per_month": _cents(deleted + archived),
        "deleted_per_month": _cents(deleted),
        "archived_per_month": _cents(archived),
        "storage_price_per_gb_month": prices.storage,
        "archive_price_per_gb_month": prices.archive,
        "basis": "up to: compressed image sizes, layers shared between images counted in each",
    }


def money(amount: float) -> str:
    """US dollars to the cent: `$1,234.50`, `-$0.25`."""
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(_cents(amount)):,.2f}"


def savings_text(saved: Mapping[str, Any], *, dry_run: bool) -> str:
    """`saves up to $12.34 per month in storage`, or `would save` for a dry run or a plan."""
    verb = "would save" if dry_run else "saves"
    return f"{verb} up to {money(float(saved['per_month']))} per month in storage"


def archive_note(prices: Prices) -> str | None:
    """What a plan or run that archives says once: archiving's price, when it saves nothing."""
    if prices.archive_saving > 0:
        return None
    return (
        f"archiving saves nothing at {money(prices.archive)} per GB-month for the archive against "
        f"{money(prices.storage)} for standard storage (AWS charges the same below 150 TB a month), "
        f"restoring an image costs {money(RESTORE_PRICE_PER_GB)} per GB, and an archived image is billed "
        f"for at least {ARCHIVE_MINIMUM_DAYS} days"
    )
