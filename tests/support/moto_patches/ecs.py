"""ECS: the named patches of moto's ECS.

Task definition families and revisions listed in pages, revisions kept DELETE_IN_PROGRESS once
deleted, DescribeTaskDefinition of a family without a revision, and service deployments and
revisions with the digests each deployment resolved (`ecs_service_deployments_and_revisions`;
`tests.support.ecs_seed` puts a deployment in progress, rolls it back or ages it).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

from tests.support.moto_patches.ecr import resolved_digest
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


# Service deployments and revisions: how ECS resolves a tag once per deployment

ECS_DEPLOYMENTS_DEFAULT_RESULTS = 20
ECS_DEPLOYMENTS_MAX_RESULTS = 100
"""ListServiceDeployments: maxResults 1..100, 20 when not given."""
ECS_DESCRIBE_MAX_ARNS = 20
"""DescribeServiceDeployments and DescribeServiceRevisions take at most 20 ARNs."""
ECS_DEPLOYMENT_HISTORY_DAYS = 90
"""ListServiceDeployments lists the deployments of the last 90 days only."""
ECS_UNFINISHED_DEPLOYMENTS = frozenset(
    {"PENDING", "IN_PROGRESS", "STOP_REQUESTED", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"}
)

_REVISIONS_ATTR = "_moto_patches_service_revisions"
_DEPLOYMENTS_ATTR = "_moto_patches_service_deployments"


def service_revisions(backend: Any) -> dict[str, dict[str, Any]]:
    """Every service revision an ECS backend recorded, by ARN."""
    return vars(backend).setdefault(_REVISIONS_ATTR, {})  # type: ignore[no-any-return]


def service_deployments(backend: Any) -> dict[str, dict[str, Any]]:
    """Every service deployment an ECS backend recorded, by ARN."""
    return vars(backend).setdefault(_DEPLOYMENTS_ATTR, {})  # type: ignore[no-any-return]


def _revision_summary(arn: str, service: Any) -> dict[str, Any]:
    return {
        "arn": arn,
        "requestedTaskCount": service.desired_count,
        "runningTaskCount": service.running_count,
        "pendingTaskCount": service.pending_count,
    }


def _deploy(backend: Any, service: Any) -> None:
    """A new deployment of `service`: a revision whose container images ECS resolved now, replacing
    the current revisions. It finishes at once (SUCCESSFUL); an unfinished earlier one is STOPPED."""
    from moto.core.utils import utcnow
    from moto.moto_api._internal import mock_random

    now = utcnow()
    definition = backend.describe_task_definition(service.task_definition)
    images = []
    for container in definition.container_definitions:
        entry = {"containerName": container["name"], "image": container["image"]}
        digest = (
            None if container.get("versionConsistency") == "disabled" else resolved_digest(entry["image"])
        )
        if digest is not None:
            entry["imageDigest"] = digest
        images.append(entry)
    prefix = f"arn:aws:ecs:{service.region_name}:{backend.account_id}"
    where = f"{service.cluster_name}/{service.name}"
    revision_arn = f"{prefix}:service-revision/{where}/{mock_random.randint(10**18, 10**19 - 1)}"
    service_revisions(backend)[revision_arn] = {
        "serviceRevisionArn": revision_arn,
        "serviceArn": service.arn,
        "clusterArn": service.cluster_arn,
        "taskDefinition": definition.arn,
        "launchType": service.launch_type,
        "containerImages": images,
        "createdAt": now,
    }
    deployments = service_deployments(backend)
    for deployment in deployments.values():
        if deployment["serviceArn"] == service.arn and deployment["status"] in ECS_UNFINISHED_DEPLOYMENTS:
            deployment.update(status="STOPPED", stoppedAt=now, updatedAt=now)
    deployment_arn = f"{prefix}:service-deployment/{where}/{mock_random.get_random_string(20)}"
    deployments[deployment_arn] = {
        "serviceDeploymentArn": deployment_arn,
        "serviceArn": service.arn,
        "clusterArn": service.cluster_arn,
        "createdAt": now,
        "startedAt": now,
        "finishedAt": now,
        "updatedAt": now,
        "sourceServiceRevisions": list(getattr(service, "current_service_revisions", [])),
        "targetServiceRevision": _revision_summary(revision_arn, service),
        "status": "SUCCESSFUL",
    }
    service.current_service_deployment = deployment_arn
    service.current_service_revisions = [_revision_summary(revision_arn, service)]


def _brief(deployment: dict[str, Any]) -> dict[str, Any]:
    fields = ("serviceDeploymentArn", "serviceArn", "clusterArn", "startedAt", "createdAt", "finishedAt")
    brief = {key: deployment[key] for key in fields if deployment.get(key) is not None}
    return {
        **brief,
        "targetServiceRevisionArn": deployment["targetServiceRevision"]["arn"],
        "status": deployment["status"],
    }


def _epoch(value: Any) -> float:
    return value.timestamp() if hasattr(value, "timestamp") else float(value)


@_patch(
    "ECS service deployments and revisions (container image resolution): moto has neither. Model "
    "them as ECS does: creating a service, or updating its task definition or forcing a new "
    "deployment, records a revision whose containerImages carry the digest each tag points to then "
    "(none with versionConsistency disabled, or for an image outside ECR), and a deployment from the "
    "current revisions to it; DescribeServices names the current deployment and revisions; "
    "ListServiceDeployments pages (default 20, 1..100) and keeps 90 days; both describes refuse more "
    "than 20 ARNs and answer an unknown one with a MISSING failure."
)
def ecs_service_deployments_and_revisions() -> None:
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow
    from moto.ecs.models import EC2ContainerServiceBackend
    from moto.ecs.responses import EC2ContainerServiceResponse

    create_service = EC2ContainerServiceBackend.create_service
    update_service = EC2ContainerServiceBackend.update_service

    @functools.wraps(create_service)
    def create(self: EC2ContainerServiceBackend, *args: Any, **kwargs: Any) -> Any:
        service = create_service(self, *args, **kwargs)
        if service.task_definition and service.deployment_controller.get("type", "ECS") == "ECS":
            _deploy(self, service)
        return service

    @functools.wraps(update_service)
    def update(self: EC2ContainerServiceBackend, service_properties: dict[str, Any]) -> Any:
        redeploys = bool(
            service_properties.get("task_definition") or service_properties.get("force_new_deployment")
        )
        service = update_service(self, service_properties)
        if redeploys and service.deployment_controller.get("type", "ECS") == "ECS":
            _deploy(self, service)
        return service

    def list_service_deployments(self: EC2ContainerServiceResponse) -> ActionResult:
        service = self.ecs_backend._get_service(
            self._get_param("cluster") or "default", self._get_param("service")
        )
        statuses = set(self._get_param("status") or ())
        created = self._get_param("createdAt") or {}
        max_results = _max_results(
            self._get_param("maxResults"),
            ECS_DEPLOYMENTS_DEFAULT_RESULTS,
            maximum=ECS_DEPLOYMENTS_MAX_RESULTS,
            invalid=_ecs_invalid,
        )
        horizon = _epoch(utcnow()) - ECS_DEPLOYMENT_HISTORY_DAYS * 86400
        keyed: list[tuple[Cursor, dict[str, Any]]] = []
        for arn, deployment in service_deployments(self.ecs_backend).items():
            at = _epoch(deployment["createdAt"])
            if (
                deployment["serviceArn"] != service.arn
                or at < horizon
                or (statuses and deployment["status"] not in statuses)
                or ("before" in created and at >= _epoch(created["before"]))
                or ("after" in created and at <= _epoch(created["after"]))
            ):
                continue
            keyed.append(((-round(at * 1_000_000), arn), _brief(deployment)))
        page, token = _page(
            keyed,
            scope=f"list_service_deployments:{self.current_account}:{self.region}:{service.arn}:{sorted(statuses)}",
            next_token=self._get_param("nextToken"),
            max_results=max_results,
            invalid=_ecs_invalid,
        )
        return ActionResult(_listing("serviceDeployments", page, token))

    def describing(member: str, store: Callable[[Any], dict[str, dict[str, Any]]], key: str) -> Any:
        def describe(self: EC2ContainerServiceResponse) -> ActionResult:
            arns = self._get_param(member) or []
            if len(arns) > ECS_DESCRIBE_MAX_ARNS:
                raise _ecs_invalid(
                    member, f"Member must have length less than or equal to {ECS_DESCRIBE_MAX_ARNS}"
                )
            known = store(self.ecs_backend)
            found = [known[arn] for arn in arns if arn in known]
            failures = [{"arn": arn, "reason": "MISSING"} for arn in arns if arn not in known]
            return ActionResult({key: found, "failures": failures})

        return describe

    EC2ContainerServiceBackend.create_service = create  # type: ignore[method-assign]
    EC2ContainerServiceBackend.update_service = update  # type: ignore[method-assign]
    EC2ContainerServiceResponse.list_service_deployments = list_service_deployments  # type: ignore[attr-defined]
    EC2ContainerServiceResponse.describe_service_deployments = describing(  # type: ignore[attr-defined]
        "serviceDeploymentArns", service_deployments, "serviceDeployments"
    )
    EC2ContainerServiceResponse.describe_service_revisions = describing(  # type: ignore[attr-defined]
        "serviceRevisionArns", service_revisions, "serviceRevisions"
    )
