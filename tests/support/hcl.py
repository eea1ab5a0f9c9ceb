"""HCL as Terraform reads it, through python-hcl2."""

from __future__ import annotations

import io
import json
from typing import Any

import hcl2  # type: ignore[import-untyped]


def hcl_value(value: object) -> object:
    """A value as python-hcl2 reads it, with its strings unquoted as Terraform reads them."""
    if isinstance(value, dict):
        return {key: hcl_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [hcl_value(item) for item in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return json.loads(value)
    return value


def loads(text: str) -> Any:
    """The attributes of an HCL body, their strings unquoted."""
    return hcl_value(hcl2.load(io.StringIO(text)))
