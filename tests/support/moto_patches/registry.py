"""The registry of patches: ``PATCHES``, the ``_patch`` decorator that fills it, and ``apply``,
``apply_all`` and ``applied``.

A service module registers its patches when it is imported (``tests.support.moto_patches`` imports
them all); ``apply_all()`` applies them in registration order.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable

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
