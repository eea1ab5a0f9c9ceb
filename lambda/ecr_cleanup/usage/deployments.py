"""The digests ECS services will start again: their current revisions and unfinished deployments.

ECS resolves each container's tag to a digest once per deployment ("container image resolution") and
starts every later task of that deployment — a scale-out, a replaced task, a service scaled up from
zero — from that digest, even after the tag has moved. A service revision records those digests
(`containerImages[].imageDigest`). Protected here:

- the revisions `DescribeServices` names as current (`currentServiceRevisions`), whatever the age of
  the deployment that made them: `ListServiceDeployments` only remembers 90 days, and a service
  scaled to zero long ago is exactly the one that breaks;
- every revision of an unfinished deployment (`ListServiceDeployments` by status, and the service's
  `currentServiceDeployment`): its target, its sources, and a rollback's target.

A revision ECS cannot describe (`MISSING`: created before 25 October 2024) leaves the service with
the protection of its task definitions, which `ecs` reads anyway; any other failure stops the run.
A revision never changes, so each is described once per run (`revisions`, kept in the run's cache).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from typing import Any

from .reading import batches, reading
from .references import ImageReference, UsageError, reference_at, valid_digest

__all__ = ["DESCRIBE_ARNS_BATCH_SIZE", "UNFINISHED", "service_revision_arns", "service_revision_references"]

DESCRIBE_ARNS_BATCH_SIZE = 20
"""DescribeServiceDeployments and DescribeServiceRevisions take at most 20 ARNs."""
DEPLOYMENTS_PAGE_SIZE = 100
UNFINISHED = ("PENDING", "IN_PROGRESS", "STOP_REQUESTED", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS")
MISSING = "MISSING"

RevisionImages = list[list[str | None]]
"""What a revision runs, as the run's cache keeps it: [image, digest or None] per container."""


def service_revision_arns(ecs: Any, cluster: str, services: Sequence[Mapping[str, Any]]) -> list[str]:
    """The revisions the described `services` of `cluster` run or are deploying, in order."""
    arns: list[str] = []
    deployments: list[str] = []
    for service in services:
        arns += [summary["arn"] for summary in service.get("currentServiceRevisions") or []]
        if service.get("currentServiceDeployment"):
            deployments.append(service["currentServiceDeployment"])
        deployments += _unfinished_deployments(ecs, cluster, service["serviceArn"])
    for batch in batches(list(dict.fromkeys(deployments)), DESCRIBE_ARNS_BATCH_SIZE):
        with reading(f"ECS DescribeServiceDeployments {cluster}"):
            response = ecs.describe_service_deployments(serviceDeploymentArns=list(batch))
            _refuse_failures(response, "DescribeServiceDeployments", cluster)
            for deployment in response["serviceDeployments"]:
                if deployment.get("status") in UNFINISHED:
                    arns += _deployment_revisions(deployment)
    return list(dict.fromkeys(arns))


def _unfinished_deployments(ecs: Any, cluster: str, service: str) -> list[str]:
    """`ListServiceDeployments` of one service, unfinished ones only (it has no paginator)."""
    found: list[str] = []
    token: str | None = None
    with reading(f"ECS ListServiceDeployments {service}"):
        while True:
            response = ecs.list_service_deployments(
                cluster=cluster,
                service=service,
                status=list(UNFINISHED),
                maxResults=DEPLOYMENTS_PAGE_SIZE,
                **({"nextToken": token} if token else {}),
            )
            found += [deployment["serviceDeploymentArn"] for deployment in response["serviceDeployments"]]
            token = response.get("nextToken")
            if not token:
                return found


def _deployment_revisions(deployment: Mapping[str, Any]) -> list[str]:
    target = deployment.get("targetServiceRevision") or {}
    rollback = deployment.get("rollback") or {}
    arns = [
        target.get("arn"),
        *(source.get("arn") for source in deployment.get("sourceServiceRevisions") or []),
    ]
    arns.append(rollback.get("serviceRevisionArn"))
    return [arn for arn in arns if arn]


def service_revision_references(
    ecs: Any, cluster: str, arns: Iterable[str], revisions: MutableMapping[str, RevisionImages]
) -> list[ImageReference]:
    """The images of each revision in `arns`: by the digest ECS resolved, else (version consistency
    disabled) by the image as configured. Revisions not in `revisions` are described and added."""
    wanted = list(dict.fromkeys(arns))
    unknown = [arn for arn in wanted if arn not in revisions]
    for batch in batches(unknown, DESCRIBE_ARNS_BATCH_SIZE):
        with reading(f"ECS DescribeServiceRevisions {cluster}"):
            response = ecs.describe_service_revisions(serviceRevisionArns=list(batch))
            _refuse_failures(response, "DescribeServiceRevisions", cluster)
            for revision in response["serviceRevisions"]:
                revisions[revision["serviceRevisionArn"]] = [
                    [image["image"], image.get("imageDigest")]
                    for image in revision.get("containerImages") or []
                ]
    references: list[ImageReference] = []
    for arn in wanted:
        for image, digest in revisions.get(arn, []):
            references.append(_reference(arn, str(image), digest))
    return references


def _reference(arn: str, image: str, digest: str | None) -> ImageReference:
    cluster, service, revision = _names(arn)
    where = f"ECS service {cluster}/{service} revision {revision}"
    configured = reference_at(image, where, f"{where}: ")
    if digest is None or digest == configured.digest:
        return configured
    if not valid_digest(digest):
        raise UsageError(f"{where}: invalid imageDigest {digest!r}")
    resolved_from = f"{configured.repository}:{configured.tag or 'latest'}"
    source = f"{where} (digest resolved from {resolved_from})"
    return ImageReference(configured.repository, None, digest, configured.registry, source)


def _names(arn: str) -> tuple[str, str, str]:
    """Cluster, service and revision id of `arn:…:service-revision/<cluster>/<service>/<id>`."""
    parts = arn.rsplit(":", 1)[-1].split("/")
    if len(parts) == 4:
        return parts[1], parts[2], parts[3]
    return "?", "?", arn


def _refuse_failures(response: Mapping[str, Any], operation: str, cluster: str) -> None:
    """MISSING (a revision from before 25 October 2024, or a deployment gone) keeps the protection of
    the task definitions; any other failure means the answer is incomplete."""
    failed = [
        f"{failure.get('arn', '?')}: {failure.get('reason', '')} {failure.get('detail', '')}".rstrip()
        for failure in response.get("failures") or []
        if failure.get("reason") != MISSING
    ]
    if failed:
        raise UsageError(f"ECS {operation} {cluster}: {'; '.join(failed)}")
