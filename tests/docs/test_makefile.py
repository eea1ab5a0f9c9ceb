"""``make help`` lists every target a contributor can run, each with one line."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAKEFILE = ROOT / "Makefile"


def phony_targets() -> set[str]:
    text = MAKEFILE.read_text()
    return {target for line in re.findall(r"^\.PHONY:(.*)$", text, re.MULTILINE) for target in line.split()}


def documented_targets() -> set[str]:
    """Targets whose rule line carries a ``## `` comment: the ones ``make help`` prints."""
    return set(re.findall(r"^([A-Za-z][\w-]*):[^=\n]*## \S", MAKEFILE.read_text(), re.MULTILINE))


def test_every_phony_target_has_a_help_comment() -> None:
    assert phony_targets() - documented_targets() == set(), "these need a `## ` help comment"


def test_every_documented_target_is_phony() -> None:
    assert documented_targets() - phony_targets() == set(), "add these targets to .PHONY"


def test_make_help_prints_one_line_per_target() -> None:
    result = subprocess.run(
        ["make", "--no-print-directory", "help"], cwd=ROOT, capture_output=True, text=True, check=True
    )

    listed = [line.split()[0] for line in result.stdout.splitlines()]
    assert sorted(listed) == sorted(phony_targets())
