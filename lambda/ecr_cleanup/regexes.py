"""Regular expressions of a policy (`tag_regex`, `group_by`), checked before they run. Pure.

A policy's expressions run against every tag of every image, so one that can backtrack
catastrophically would stall a run on a single crafted tag. An expression is refused when an
unbounded quantifier (`*`, `+`, `{n,}`) applies to a group that itself holds an unbounded quantifier
or an alternation (`(a+)+`, `(a|aa)*`): the shape behind exponential backtracking. Bounded
repetition stays allowed (`(?:-[0-9a-z.]+)?`). The syntax is the part Python's `re` shares with RE2
(Terraform's `regex()`, which checks the same expressions at plan): no lookarounds, backreferences,
conditionals or possessive quantifiers.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable
from typing import Any

__all__ = ["RegexError", "capture_groups", "compile_checked"]

# The parser `re` compiles with (the stdlib's own, private module; typeshed has no stubs for it).
sre_parse: Any = importlib.import_module("re._parser")
sre_constants: Any = importlib.import_module("re._constants")

_UNBOUNDED = sre_constants.MAXREPEAT
_REPEATS = {sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT}
_NOT_IN_RE2 = {
    sre_constants.ASSERT: "a lookahead or lookbehind",
    sre_constants.ASSERT_NOT: "a negative lookahead or lookbehind",
    sre_constants.GROUPREF: "a backreference",
    sre_constants.GROUPREF_EXISTS: "a conditional group",
}


class RegexError(ValueError):
    """An expression that must not run, and why."""


def compile_checked(text: str) -> re.Pattern[str]:
    """`text` compiled, once it is known to be valid and not to backtrack catastrophically."""
    try:
        parsed = sre_parse.parse(text)
        pattern = re.compile(text)
    except re.error as error:
        raise RegexError(f"invalid regular expression: {error}") from None
    _check(parsed.data)
    return pattern


def capture_groups(pattern: re.Pattern[str]) -> tuple[int, tuple[str, ...]]:
    """How many capture groups `pattern` has, and the names of the named ones."""
    return pattern.groups, tuple(pattern.groupindex)


def _check(items: Iterable[tuple[Any, Any]]) -> None:
    for op, value in items:
        if op in _NOT_IN_RE2:
            raise RegexError(f"uses {_NOT_IN_RE2[op]}, which Terraform's regex() (RE2) does not support")
        if op is getattr(sre_constants, "POSSESSIVE_REPEAT", None) or op is getattr(
            sre_constants, "ATOMIC_GROUP", None
        ):
            raise RegexError("uses an atomic group or a possessive quantifier, which RE2 does not support")
        for body in _bodies(op, value):
            _check(body)
        if op in _REPEATS:
            _, high, body = value
            if high == _UNBOUNDED and _risky(body):
                raise RegexError(
                    "can backtrack catastrophically: an unbounded quantifier (*, +, {n,}) applies to a "
                    "group that holds another unbounded quantifier or an alternation, as in (a+)+ or "
                    "(a|aa)*; bound the inner or the outer repetition"
                )


def _risky(items: Iterable[tuple[Any, Any]]) -> bool:
    """Whether a repeated body holds an unbounded quantifier or an alternation, at any depth."""
    for op, value in items:
        if op is sre_constants.BRANCH:
            return True
        if op in _REPEATS and value[1] == _UNBOUNDED:
            return True
        if any(_risky(body) for body in _bodies(op, value)):
            return True
    return False


def _bodies(op: Any, value: Any) -> list[Any]:
    """The sub-expressions of one parsed item."""
    if op in _REPEATS:
        return [value[2]]
    if op is sre_constants.SUBPATTERN:
        return [value[-1]]
    if op is sre_constants.BRANCH:
        return list(value[1])
    if op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
        return [value[1]]
    return []
