"""Images CodeBuild builds with in one region: every project whose build environment is an ECR
image (`environment.image`). Curated CodeBuild images and images of other registries are not ECR's
and are left out."""

from __future__ import annotations

from typing import Any

from .reading import batches, reading
from .references import ImageReference, is_ecr_registry, reference_at

__all__ = ["codebuild_references"]

BATCH_GET_PROJECTS_SIZE = 100
"""BatchGetProjects takes at most 100 names."""


def codebuild_references(client: Any) -> list[ImageReference]:
    with reading("CodeBuild ListProjects"):
        names = [
            name for page in client.get_paginator("list_projects").paginate() for name in page["projects"]
        ]
    references: list[ImageReference] = []
    for batch in batches(names, BATCH_GET_PROJECTS_SIZE):
        with reading("CodeBuild BatchGetProjects"):
            projects = client.batch_get_projects(names=list(batch))["projects"]
        for project in projects:
            image = (project.get("environment") or {}).get("image")
            if not image:
                continue
            source = f"CodeBuild project {project['name']}"
            reference = reference_at(str(image), source, f"{source}: ")
            if reference.registry is not None and is_ecr_registry(reference.registry):
                references.append(reference)
    return references
