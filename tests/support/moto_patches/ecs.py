"""ECS task definitions: the named patches of moto's ECS.

Families and revisions listed in pages, revisions kept DELETE_IN_PROGRESS once deleted, and
DescribeTaskDefinition of a family without a revision.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from tests.support.moto_patches.paging import (
    Cursor,
    _listing,
    _max_results,
    _page,
)
from tests.support.moto_patches.registry import _patch

ECS_MAX_RESULTS = 100
"""ListTaskDefinitionFamilies and ListTaskDefinitions: maxResults 1..100, 100 when not given."""


def _ecs_invalid(member: str, constraint: str) -> Exception:
    from moto.ecs.exceptions import InvalidParameterException

    return InvalidParameterException(
        f"Invalid parameter at '{member}' failed to satisfy constraint: '{constraint}'"
    )


def _family_status(revisions: Iterable[Any]) -> str | None:
    """ACTIVE when a family has an ACTIVE revision, INACTIVE when it has revisions but none ACTIVE
    (DELETE_IN_PROGRESS ones count: ECS still returns the family), None when it has none left."""
    statuses = {revision.status for revision in revisions}
    if not statuses:
        return None
    return "ACTIVE" if "ACTIVE" in statuses else "INACTIVE"


@_patch(
    "ECS ListTaskDefinitionFamilies ignores maxResults/nextToken and status (returns every family); "
    "page it like ECS: default 100, 1..100, cursor tokens, status ACTIVE (a family with an ACTIVE "
    "revision) | INACTIVE (one without) | ALL, both ACTIVE and INACTIVE when not given."
)
def ecs_list_task_definition_families_pagination() -> None:
    from moto.core.responses import ActionResult
    from moto.ecs.responses import EC2ContainerServiceResponse

    def list_task_definition_families(self: EC2ContainerServiceResponse) -> ActionResult:
        family_prefix = self._get_param("familyPrefix")
        status = self._get_param("status") or "ALL"
        max_results = _max_results(
            self._get_param("maxResults"), ECS_MAX_RESULTS, maximum=ECS_MAX_RESULTS, invalid=_ecs_invalid
        )
        backend = self.ecs_backend
        keyed: list[tuple[Cursor, str]] = []
        for family in backend.list_task_definition_families(family_prefix):
            family_status = _family_status(backend.task_definitions.get(family, {}).values())
            if family_status is not None and status in ("ALL", family_status):
                keyed.append(((family,), family))
        page, token = _page(
            keyed,
            scope=f"list_task_definition_families:{self.current_account}:{self.region}:{family_prefix}:{status}",
            next_token=self._get_param("nextToken"),
            max_results=max_results,
            invalid=_ecs_invalid,
        )
        return ActionResult(_listing("families", page, token))

    EC2ContainerServiceResponse.list_task_definition_families = list_task_definition_families  # type: ignore[method-assign]


@_patch(
    "ECS ListTaskDefinitions ignores maxResults/nextToken and sort (returns every revision in "
    "registration order); page it like ECS: default 100, 1..100, cursor tokens, by family name then "
    "revision number, ASC by default, DESC lists the newest revision of a family first."
)
def ecs_list_task_definitions_pagination() -> None:
    from moto.core.responses import ActionResult
    from moto.ecs.responses import EC2ContainerServiceResponse

    def list_task_definitions(self: EC2ContainerServiceResponse) -> ActionResult:
        family_prefix = self._get_param("familyPrefix")
        status = self._get_param("status") or "ACTIVE"
        sort = self._get_param("sort") or "ASC"
        if sort not in ("ASC", "DESC"):
            raise _ecs_invalid("sort", "Member must satisfy enum value set: [ASC, DESC]")
        max_results = _max_results(
            self._get_param("maxResults"), ECS_MAX_RESULTS, maximum=ECS_MAX_RESULTS, invalid=_ecs_invalid
        )
        keyed: list[tuple[Cursor, str]] = []
        for arn in self.ecs_backend.list_task_definitions(family_prefix, status):
            family, _, revision = arn.rpartition("/")[2].rpartition(":")
            keyed.append(((family, int(revision)), arn))
        page, token = _page(
            keyed,
            scope=f"list_task_definitions:{self.current_account}:{self.region}:{family_prefix}:{status}:{sort}",
            next_token=self._get_param("nextToken"),
            max_results=max_results,
            descending=sort == "DESC",
            invalid=_ecs_invalid,
        )
        return ActionResult(_listing("taskDefinitionArns", page, token))

    EC2ContainerServiceResponse.list_task_definitions = list_task_definitions  # type: ignore[method-assign]


@_patch(
    "ECS DeleteTaskDefinitions forgets a revision at once: it is never listed or described as "
    "DELETE_IN_PROGRESS and its number is given to the next revision; ECS keeps it DELETE_IN_PROGRESS "
    "(listed, described, its family still listed) and never reuses the number."
)
def ecs_delete_task_definitions_in_progress() -> None:
    from moto.ecs.models import EC2ContainerServiceBackend

    original = EC2ContainerServiceBackend.delete_task_definitions

    @functools.wraps(original)
    def delete_task_definitions(self: EC2ContainerServiceBackend, task_definitions: list[str]) -> Any:
        deleted, failures = original(self, task_definitions)
        for task_definition in deleted:
            self.task_definitions.setdefault(task_definition.family, {})[task_definition.revision] = (
                task_definition
            )
        return deleted, failures

    EC2ContainerServiceBackend.delete_task_definitions = delete_task_definitions  # type: ignore[method-assign]


@_patch(
    "ECS DescribeTaskDefinition of a family without a revision describes its highest revision, "
    "INACTIVE or not; ECS describes the family's latest ACTIVE revision (and fails without one)."
)
def ecs_describe_task_definition_latest_active() -> None:
    from moto.ecs.exceptions import TaskDefinitionNotFoundException
    from moto.ecs.models import EC2ContainerServiceBackend

    original = EC2ContainerServiceBackend.describe_task_definition

    @functools.wraps(original)
    def describe_task_definition(self: EC2ContainerServiceBackend, task_definition_str: str) -> Any:
        family = task_definition_str.rsplit("/", maxsplit=1)[-1]
        if ":" in family:
            return original(self, task_definition_str)
        revisions = self.task_definitions.get(family, {})
        active = [number for number, revision in revisions.items() if revision.status == "ACTIVE"]
        if not active:
            raise TaskDefinitionNotFoundException()
        return original(self, f"{family}:{max(active)}")

    EC2ContainerServiceBackend.describe_task_definition = describe_task_definition  # type: ignore[method-assign]
