"""How every usage reader reads AWS: any failure becomes a `UsageError` that names what was read."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .references import UsageError

__all__ = ["batches", "describe_error", "pages", "reading"]


def describe_error(error: ClientError | BotoCoreError) -> str:
    """`Code: message` of an AWS error, or the botocore exception."""
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return f"{details.get('Code', 'ClientError')}: {details.get('Message', '')}".rstrip(": ")
    return f"{type(error).__name__}: {error}"


@contextmanager
def reading(what: str) -> Iterator[None]:
    """Turn every failure while reading `what` into a `UsageError` that names it."""
    try:
        yield
    except UsageError:
        raise
    except (ClientError, BotoCoreError) as error:
        raise UsageError(f"{what}: {describe_error(error)}") from error
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        raise UsageError(f"{what}: unexpected response: {type(error).__name__}: {error}") from error


def pages(client: Any, operation: str, key: str, *, page_size: int, **parameters: Any) -> list[Any]:
    """Every item under `key` of every page of `operation` (call inside `reading`)."""
    paginator = client.get_paginator(operation)
    return [
        item
        for page in paginator.paginate(**parameters, PaginationConfig={"PageSize": page_size})
        for item in page[key]
    ]


def batches(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
