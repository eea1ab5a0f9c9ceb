"""Images AWS Batch would run: the latest revisions of every ACTIVE job definition."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .reading import pages, reading
from .references import ImageReference, reference_at

__all__ = ["job_definition_references"]

BATCH_PAGE_SIZE = 100


def job_definition_references(batch: Any, keep: int) -> list[ImageReference]:
    """The images of the latest `keep` ACTIVE revisions of every job definition: container, multi-node,
    ECS and EKS properties, init containers included."""
    with reading("Batch DescribeJobDefinitions"):
        definitions = pages(
            batch, "describe_job_definitions", "jobDefinitions", page_size=BATCH_PAGE_SIZE, status="ACTIVE"
        )
        by_name: dict[str, list[dict[str, Any]]] = {}
        for definition in definitions:
            by_name.setdefault(definition["jobDefinitionName"], []).append(definition)
        references: list[ImageReference] = []
        for name, revisions in by_name.items():
            revisions.sort(key=lambda definition: int(definition["revision"]), reverse=True)
            for definition in revisions[:keep]:
                revision = f"{name}:{definition['revision']}"
                source = f"Batch job definition {revision} (one of the latest {keep} revisions)"
                references += [reference_at(image, source, f"{source}: ") for image in _images(definition)]
    return references


def _images(definition: dict[str, Any]) -> Iterator[str]:
    container = definition.get("containerProperties") or {}
    if container.get("image"):
        yield container["image"]
    for node_range in (definition.get("nodeProperties") or {}).get("nodeRangeProperties", []):
        image = (node_range.get("container") or {}).get("image")
        if image:
            yield image
    for task in (definition.get("ecsProperties") or {}).get("taskProperties", []):
        for task_container in task.get("containers", []):
            if task_container.get("image"):
                yield task_container["image"]
    pod = (definition.get("eksProperties") or {}).get("podProperties") or {}
    for pod_container in [*pod.get("containers", []), *pod.get("initContainers", [])]:
        if pod_container.get("image"):
            yield pod_container["image"]
