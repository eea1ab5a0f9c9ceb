"""How many random examples each property test draws.

The suite draws every property test's own count. `make runtime-tests` runs the same tests again on
the Lambda runtime's Python to catch what differs between interpreters, not to search deeper, so it
sets `PROPERTY_EXAMPLE_SCALE=0.25` and each property draws a quarter of its examples there.
"""

from __future__ import annotations

import os

SCALE_VARIABLE = "PROPERTY_EXAMPLE_SCALE"
FEWEST = 10


def examples(count: int) -> int:
    """`count` scaled by PROPERTY_EXAMPLE_SCALE (default 1), never fewer than FEWEST."""
    text = os.environ.get(SCALE_VARIABLE, "1")
    try:
        scale = float(text)
    except ValueError:
        scale = -1.0
    if not 0 < scale <= 1:
        raise ValueError(f"{SCALE_VARIABLE}={text!r}: give a number above 0 and at most 1, such as 0.25")
    return max(FEWEST, round(count * scale))
