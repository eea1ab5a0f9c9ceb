"""Which images are in use, so that no run deletes them; any doubt stops the run (fail closed).

`references` is pure: the reference grammar and its resolution to the digests of a repository. One
reader per source (`ecs`, `functions`, `external`) returns every reference it finds or raises
`UsageError`: a partial answer would let a run delete an image that is in use. `collector` runs one
scan of every source a policy names; `snapshot` bounds how long a run may rely on a scan.
"""

from .collector import UsageCollector
from .ecs import DESCRIBE_SERVICES_BATCH_SIZE, DESCRIBE_TASKS_BATCH_SIZE
from .references import ImageReference, UsageError, parse_reference, parse_references, resolve_in_use
from .snapshot import DEFAULT_MAX_AGE, BoundedSnapshot, LocalUsage, UsageCache, UsageScan

__all__ = [
    "DEFAULT_MAX_AGE",
    "DESCRIBE_SERVICES_BATCH_SIZE",
    "DESCRIBE_TASKS_BATCH_SIZE",
    "BoundedSnapshot",
    "ImageReference",
    "LocalUsage",
    "UsageCache",
    "UsageCollector",
    "UsageError",
    "UsageScan",
    "parse_reference",
    "parse_references",
    "resolve_in_use",
]
