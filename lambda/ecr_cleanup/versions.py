"""Versions in tags, ordered as SemVer 2.0.0 says (`rules[].order_by: "version"`). Pure.

`parse_version("v1.4.2-rc.2+build.7")` reads an optional `v`/`V`, then `MAJOR.MINOR.PATCH` (or
`MAJOR.MINOR`, or `MAJOR`, read as if padded with `.0`), an optional pre-release and optional build
metadata, with SemVer's syntax: numeric identifiers without leading zeros, identifiers of
`[0-9A-Za-z-]`. The key it returns orders as SemVer's precedence does: a pre-release below its
release, numeric identifiers numerically and below alphanumeric ones (`rc.2 < rc.10`, but `rc10 <
rc2`, compared as text), a shorter set of identifiers below a longer one it begins; build metadata
is ignored.
"""

from __future__ import annotations

import re

__all__ = ["VersionKey", "parse_version"]

_NUMBER = r"(?:0|[1-9][0-9]*)"
_IDENTIFIER = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_VERSION = re.compile(
    rf"[vV]?(?P<major>{_NUMBER})(?:\.(?P<minor>{_NUMBER})(?:\.(?P<patch>{_NUMBER}))?)?"
    rf"(?:-(?P<pre>{_IDENTIFIER}(?:\.{_IDENTIFIER})*))?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
)

VersionKey = tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]
"""(major, minor, patch, 1 for a release or 0 for a pre-release, pre-release identifiers): tuples of
this shape compare as SemVer versions do."""


def parse_version(text: str) -> VersionKey | None:
    """The sort key of the version `text` spells, or None when it spells none."""
    found = _VERSION.fullmatch(text)
    if found is None:
        return None
    major, minor, patch, pre = found.group("major", "minor", "patch", "pre")
    if pre is None:
        return int(major), int(minor or 0), int(patch or 0), 1, ()
    identifiers = tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in pre.split("."))
    return int(major), int(minor or 0), int(patch or 0), 0, identifiers
