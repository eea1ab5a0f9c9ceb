"""Images ECS runs in one region: running and pending tasks, every task definition a service runs or
deploys (its current one, its deployments, its task sets), and the digests its current revisions and
unfinished deployments resolved (`deployments`)."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from .deployments import RevisionImages, service_revision_arns, service_revision_references
from .reading import batches, pages, reading
from .references import ImageReference, UsageError, container_references, reference_at

__all__ = [
    "DESCRIBE_SERVICES_BATCH_SIZE",
    "DESCRIBE_TASKS_BATCH_SIZE",
    "ecs_references",
    "revision_references",
    "task_definition_name",
    "task_definition_references",
]

DESCRIBE_TASKS_BATCH_SIZE = 100
DESCRIBE_SERVICES_BATCH_SIZE = 10
ECS_PAGE_SIZE = 100


def ecs_references(
    ecs: Any,
    task_definitions: MutableMapping[str, list[str]],
    service_revisions: MutableMapping[str, RevisionImages],
) -> list[ImageReference]:
    """Every image reference ECS runs or deploys in the client's region.

    `task_definitions` maps a task definition ARN to its container images, `service_revisions` a
    service revision ARN to what it runs; neither ever changes, so each one missing is read once and
    added.
    """
    with reading("ECS ListClusters"):
        clusters = pages(ecs, "list_clusters", "clusterArns", page_size=ECS_PAGE_SIZE)
    references: list[ImageReference] = []
    for cluster in clusters:
        references += _task_references(ecs, cluster)
        references += _service_references(ecs, cluster, task_definitions, service_revisions)
    return references


def _failures(response: dict[str, Any]) -> list[str]:
    """DescribeTasks/DescribeServices failures other than MISSING (gone since it was listed)."""
    return [
        f"{failure.get('arn', '?')}: {failure.get('reason', '')} {failure.get('detail', '')}".rstrip()
        for failure in response.get("failures", [])
        if failure.get("reason") != "MISSING"
    ]


def _task_references(ecs: Any, cluster: str) -> list[ImageReference]:
    """Running and pending tasks (desired status RUNNING): each container's image and digest."""
    with reading(f"ECS ListTasks {cluster}"):
        tasks = pages(
            ecs, "list_tasks", "taskArns", page_size=ECS_PAGE_SIZE, cluster=cluster, desiredStatus="RUNNING"
        )
    references: list[ImageReference] = []
    for batch in batches(tasks, DESCRIBE_TASKS_BATCH_SIZE):
        with reading(f"ECS DescribeTasks {cluster}"):
            response = ecs.describe_tasks(cluster=cluster, tasks=list(batch))
            if failed := _failures(response):
                raise UsageError(f"ECS DescribeTasks {cluster}: {'; '.join(failed)}")
            for task in response["tasks"]:
                source = f"ECS task {task['taskArn']}"
                for container in task["containers"]:
                    references += container_references(container, source)
    return references


def _service_references(
    ecs: Any,
    cluster: str,
    task_definitions: MutableMapping[str, list[str]],
    service_revisions: MutableMapping[str, RevisionImages],
) -> list[ImageReference]:
    with reading(f"ECS ListServices {cluster}"):
        services = pages(ecs, "list_services", "serviceArns", page_size=ECS_PAGE_SIZE, cluster=cluster)
    references: list[ImageReference] = []
    described: list[dict[str, Any]] = []
    for batch in batches(services, DESCRIBE_SERVICES_BATCH_SIZE):
        with reading(f"ECS DescribeServices {cluster}"):
            response = ecs.describe_services(cluster=cluster, services=list(batch))
            if failed := _failures(response):
                raise UsageError(f"ECS DescribeServices {cluster}: {'; '.join(failed)}")
            described += response["services"]
            for service in response["services"]:
                definitions = [service.get("taskDefinition")]
                definitions += [item.get("taskDefinition") for item in service.get("deployments", [])]
                definitions += [item.get("taskDefinition") for item in service.get("taskSets", [])]
                source = f"ECS service {service['serviceArn']}"
                for definition in dict.fromkeys(filter(None, definitions)):
                    for image in task_definition_images(ecs, definition, task_definitions):
                        references.append(reference_at(image, source, f"{source}: "))
    arns = service_revision_arns(ecs, cluster, described)
    return references + service_revision_references(ecs, cluster, arns, service_revisions)


def task_definition_images(ecs: Any, arn: str, task_definitions: MutableMapping[str, list[str]]) -> list[str]:
    """The container images of a task definition revision, read once and kept in `task_definitions`."""
    images = task_definitions.get(arn)
    if images is None:
        with reading(f"ECS DescribeTaskDefinition {arn}"):
            definition = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
            images = [container["image"] for container in definition["containerDefinitions"]]
        task_definitions[arn] = images
    return images


def task_definition_name(arn: str) -> str:
    """``family:revision`` (or ``family``) of a task definition ARN, or the text itself."""
    return arn.rsplit("task-definition/", 1)[-1]


def revision_references(
    ecs: Any, keep: int, task_definitions: MutableMapping[str, list[str]]
) -> list[ImageReference]:
    """The images of the latest `keep` ACTIVE revisions of every task definition family: what a
    rollback, a deployment circuit breaker or a scaled-to-zero service would start again."""
    with reading("ECS ListTaskDefinitionFamilies"):
        families = pages(
            ecs, "list_task_definition_families", "families", page_size=ECS_PAGE_SIZE, status="ACTIVE"
        )
    references: list[ImageReference] = []
    for family in families:
        with reading(f"ECS ListTaskDefinitions {family}"):
            response = ecs.list_task_definitions(
                familyPrefix=family, status="ACTIVE", sort="DESC", maxResults=min(keep, ECS_PAGE_SIZE)
            )
            arns = list(response["taskDefinitionArns"])
            token = response.get("nextToken")
            while token and len(arns) < keep:
                response = ecs.list_task_definitions(
                    familyPrefix=family, status="ACTIVE", sort="DESC", nextToken=token
                )
                arns += response["taskDefinitionArns"]
                token = response.get("nextToken")
        latest = [arn for arn in arns if task_definition_name(arn).rpartition(":")[0] == family][:keep]
        for arn in latest:
            source = f"task definition {task_definition_name(arn)} (one of the latest {keep} revisions)"
            references += task_definition_references(ecs, arn, source, task_definitions)
    return references


def task_definition_references(
    ecs: Any, task_definition: str, source: str, task_definitions: MutableMapping[str, list[str]]
) -> list[ImageReference]:
    """The images of a task definition named by ARN or ``family[:revision]``; without a revision, its
    latest ACTIVE one (read every time: it changes), with one, the revision (read once)."""
    if task_definition_name(task_definition).count(":") == 1:
        images = task_definition_images(ecs, task_definition, task_definitions)
    else:
        with reading(f"ECS DescribeTaskDefinition {task_definition}"):
            definition = ecs.describe_task_definition(taskDefinition=task_definition)["taskDefinition"]
            images = [container["image"] for container in definition["containerDefinitions"]]
            task_definitions.setdefault(definition["taskDefinitionArn"], images)
    return [reference_at(image, source, f"{source}: ") for image in images]
