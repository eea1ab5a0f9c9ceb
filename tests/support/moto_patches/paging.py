"""Paging shared by the services' patched listings: cursor page tokens, maxResults checks, creation
order stamps.

moto ignores maxResults/nextToken in many listings and returns everything at once; the service modules
page those listings with these helpers, as the services do. A token names the sort key of the last item
listed, so items added or deleted between two pages neither repeat nor go missing.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

# ECR's limit and validation error are the helpers' defaults: ECR's listings were the first paged here.
ECR_MAX_RESULTS = 1000

_SEQ_ATTR = "_moto_patches_seq"
_seq_counter = itertools.count(1)
_seq_lock = threading.Lock()


def _invalid_parameter(member: str, constraint: str) -> Exception:
    from moto.ecr.exceptions import InvalidParameterException

    return InvalidParameterException(
        f"Invalid parameter at '{member}' failed to satisfy constraint: '{constraint}'"
    )


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
