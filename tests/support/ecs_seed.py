"""ECS workloads for tests: a service running an ECR image, and its deployments in the states a cleanup
must respect (in progress, rolling back, older than ListServiceDeployments remembers, revisions ECS
cannot describe).

The emulation records a service revision, with the digest each tag resolved to, and a deployment
whenever a service is created or redeployed (``moto_patches.ecs.ecs_service_deployments_and_revisions``);
a deployment finishes at once. The helpers here change that recorded state as time and ECS would.
Clients go through boto3's default session (in-process ``mock_aws``) unless one is given.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3
from moto.backends import get_backend
from moto.core.models import DEFAULT_ACCOUNT_ID

from tests.support.ecr_seed import DEFAULT_REGION
from tests.support.moto_patches.ecs import service_deployments, service_revisions

ECR_HOST = f"{DEFAULT_ACCOUNT_ID}.dkr.ecr.{DEFAULT_REGION}.amazonaws.com"


def ecs_backend(region: str = DEFAULT_REGION, account_id: str = DEFAULT_ACCOUNT_ID) -> Any:
    return get_backend("ecs")[account_id][region]


def run_service(
    cluster: str,
    service: str,
    images: list[str],
    *,
    desired_count: int = 1,
    ecs: Any = None,
    version_consistency: str | None = None,
) -> str:
    """A service in `cluster` (created if need be) running a task definition of the family `service`
    whose containers run `images` (``repository:tag`` in this account's registry, or full
    references); returns the task definition's ARN."""
    ecs = ecs or boto3.client("ecs")
    ecs.create_cluster(clusterName=cluster)
    arn = register(service, images, ecs=ecs, version_consistency=version_consistency)
    ecs.create_service(cluster=cluster, serviceName=service, taskDefinition=arn, desiredCount=desired_count)
    return arn


def register(
    family: str, images: list[str], *, ecs: Any = None, version_consistency: str | None = None
) -> str:
    """A new revision of `family` with one container per image; its ARN."""
    ecs = ecs or boto3.client("ecs")
    containers = []
    for number, image in enumerate(images):
        container: dict[str, Any] = {"name": f"c{number}", "image": _full(image), "memory": 64}
        if version_consistency is not None:
            container["versionConsistency"] = version_consistency
        containers.append(container)
    return str(
        ecs.register_task_definition(family=family, containerDefinitions=containers)["taskDefinition"][
            "taskDefinitionArn"
        ]
    )


def redeploy(cluster: str, service: str, *, ecs: Any = None, task_definition: str | None = None) -> None:
    """A new deployment of the service: to `task_definition`, or of the same one (force new
    deployment), which resolves its tags again."""
    ecs = ecs or boto3.client("ecs")
    if task_definition is None:
        ecs.update_service(cluster=cluster, service=service, forceNewDeployment=True)
    else:
        ecs.update_service(cluster=cluster, service=service, taskDefinition=task_definition)


def scale(cluster: str, service: str, desired_count: int, *, ecs: Any = None) -> None:
    (ecs or boto3.client("ecs")).update_service(cluster=cluster, service=service, desiredCount=desired_count)


def current_deployment(cluster: str, service: str, *, backend: Any = None) -> dict[str, Any]:
    backend = backend or ecs_backend()
    arn = _service(backend, cluster, service).current_service_deployment
    return service_deployments(backend)[arn]


def deployment_in_progress(cluster: str, service: str, *, backend: Any = None) -> None:
    """The service's last deployment has not finished: its source and target revisions both run."""
    backend = backend or ecs_backend()
    deployment = current_deployment(cluster, service, backend=backend)
    deployment.update(status="IN_PROGRESS", finishedAt=None)
    _service(backend, cluster, service).current_service_revisions = [
        *deployment["sourceServiceRevisions"],
        deployment["targetServiceRevision"],
    ]


def rollback_in_progress(cluster: str, service: str, *, backend: Any = None) -> None:
    """The service's last deployment failed and is rolling back to the revision it replaced."""
    backend = backend or ecs_backend()
    deployment = current_deployment(cluster, service, backend=backend)
    source = deployment["sourceServiceRevisions"][0]["arn"]
    deployment.update(
        status="ROLLBACK_IN_PROGRESS",
        finishedAt=None,
        rollback={
            "reason": "circuit breaker",
            "startedAt": deployment["createdAt"],
            "serviceRevisionArn": source,
        },
    )


def age_deployments(cluster: str, service: str, days: float, *, backend: Any = None) -> None:
    """Every deployment and revision of the service happened `days` earlier than recorded."""
    backend = backend or ecs_backend()
    arn = _service(backend, cluster, service).arn
    shift = timedelta(days=days)
    for record in [*service_deployments(backend).values(), *service_revisions(backend).values()]:
        if record["serviceArn"] == arn:
            for key in ("createdAt", "startedAt", "finishedAt", "updatedAt"):
                if record.get(key) is not None:
                    record[key] -= shift


def forget_current_revisions(cluster: str, service: str, *, backend: Any = None) -> list[str]:
    """ECS can no longer describe the service's current revisions (a revision from before 25 October
    2024 answers MISSING); their ARNs."""
    backend = backend or ecs_backend()
    arns = [summary["arn"] for summary in _service(backend, cluster, service).current_service_revisions]
    for arn in arns:
        service_revisions(backend).pop(arn, None)
    return arns


def _service(backend: Any, cluster: str, service: str) -> Any:
    return backend.services[f"{cluster}:{service}"]


def _full(image: str) -> str:
    return image if "." in image.split("/", maxsplit=1)[0] else f"{ECR_HOST}/{image}"
