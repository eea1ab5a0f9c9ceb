"""``make runtime-tests`` runs the engine's tests on the Python of the default Lambda runtime."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAKEFILE = ROOT / "Makefile"
VARIABLES = ROOT / "variables.tf"


def makefile_runtime_python_version() -> str:
    assignment = re.compile(r"^RUNTIME_PYTHON_VERSION[ \t]*\?=[ \t]*(\S+)[ \t]*$", re.MULTILINE)
    match = assignment.search(MAKEFILE.read_text())
    assert match, "the Makefile has no `RUNTIME_PYTHON_VERSION ?= <version>`"
    return match.group(1)


def default_lambda_runtime() -> str:
    block = re.search(
        r'^variable[ \t]+"lambda_runtime"[ \t]*\{\n(.*?)^\}', VARIABLES.read_text(), re.MULTILINE | re.DOTALL
    )
    assert block, 'variables.tf has no `variable "lambda_runtime"` block'
    default = re.search(r'^[ \t]*default[ \t]*=[ \t]*"([^"]*)"', block.group(1), re.MULTILINE)
    assert default, 'variable "lambda_runtime" has no string default'
    return default.group(1)


def test_runtime_python_version_matches_the_default_lambda_runtime() -> None:
    runtime = default_lambda_runtime()
    assert re.fullmatch(r"python\d+\.\d+", runtime), f"unexpected lambda_runtime default {runtime!r}"

    assert makefile_runtime_python_version() == runtime.removeprefix("python"), (
        f"RUNTIME_PYTHON_VERSION in the Makefile must follow lambda_runtime's default ({runtime!r})"
    )
