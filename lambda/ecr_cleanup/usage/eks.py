"""Images EKS clusters run or may start again, in every namespace of each cluster a policy names.

Each cluster whose name matches one of the glob patterns is described (`DescribeCluster`: API endpoint
and CA), then its Kubernetes API is read over HTTPS, trusting only that CA, with the bearer token
`aws eks get-token` makes (a presigned STS GetCallerIdentity URL that signs the cluster name). It reads
the cluster-wide lists of:

* pods that are not finished (phase Pending, Running or Unknown): the image of every container, init
  container and ephemeral container, and the digest each one runs (``status.*Statuses[].imageID``);
* the pod templates that start pods again: Deployments, every retained ReplicaSet (the rollback
  targets), StatefulSets, DaemonSets, their ControllerRevisions, Jobs and CronJobs.

Each reference's source reads ``EKS <cluster>/<namespace> <Kind> <name>``. A cluster that cannot be
described, reached, authenticated to or read raises `UsageError` naming the cluster, the API path and
the cause (fail closed): the run deletes nothing.
"""

from __future__ import annotations

import base64
import binascii
import http.client
import json
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ..policy import Pattern
from .reading import pages, reading
from .references import ImageReference, UsageError, reference_at

__all__ = [
    "CLUSTER_ID_HEADER",
    "KUBERNETES_PAGE_SIZE",
    "MAX_LIST_ATTEMPTS",
    "TOKEN_PREFIX",
    "WORKLOADS",
    "Workload",
    "eks_references",
    "eks_token",
]

EKS_PAGE_SIZE = 100
"""ListClusters maxResults (its maximum)."""
KUBERNETES_PAGE_SIZE = 500
"""Objects per page of a Kubernetes list (`limit`)."""
MAX_LIST_ATTEMPTS = 3
"""How many times a list is read from its first page when its continue token expires (HTTP 410)."""
REQUEST_TIMEOUT = 30.0
"""Seconds to connect to a cluster's API and to wait for each response."""

TOKEN_PREFIX = "k8s-aws-v1."
CLUSTER_ID_HEADER = "x-k8s-aws-id"
PRESIGNED_URL_EXPIRES = 60
"""X-Amz-Expires of the presigned URL, as `aws eks get-token` sets it (STS honours 15 minutes anyway)."""

FINISHED_PHASES = frozenset({"Succeeded", "Failed"})
"""Pods in these phases run no container again; every other phase (Pending, Running, Unknown, or none
reported yet) counts as in use."""
CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
STATUS_LISTS = ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses")
SKIP_WITHOUT_ENDPOINT = frozenset({"CREATING", "FAILED"})
"""Cluster states with no API endpoint yet, and so no workload: skipped rather than refused."""

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")

ACCESS_FIX = (
    "the cleanup role needs an EKS access entry on the cluster with the AmazonEKSViewPolicy access "
    "policy at cluster scope (aws eks create-access-entry, then associate-access-policy with "
    "--access-scope type=cluster), and the cluster's authentication mode must include API "
    "(API or API_AND_CONFIG_MAP)"
)


@dataclass(frozen=True)
class Workload:
    """One cluster-wide list endpoint and where each of its objects keeps its pod spec."""

    path: str
    kind: str
    pod_spec: tuple[str, ...]
    """Keys from an object to its pod spec."""
    optional: bool = False
    """Objects without a pod spec there are skipped (ControllerRevisions of other controllers)."""


PODS = Workload("/api/v1/pods", "Pod", ("spec",))
WORKLOADS: tuple[Workload, ...] = (
    PODS,
    Workload("/apis/apps/v1/deployments", "Deployment", ("spec", "template", "spec")),
    Workload("/apis/apps/v1/replicasets", "ReplicaSet", ("spec", "template", "spec")),
    Workload("/apis/apps/v1/statefulsets", "StatefulSet", ("spec", "template", "spec")),
    Workload("/apis/apps/v1/daemonsets", "DaemonSet", ("spec", "template", "spec")),
    # StatefulSet and DaemonSet revisions keep their pod template as a patch: data.spec.template.
    Workload(
        "/apis/apps/v1/controllerrevisions",
        "ControllerRevision",
        ("data", "spec", "template", "spec"),
        optional=True,
    ),
    Workload("/apis/batch/v1/jobs", "Job", ("spec", "template", "spec")),
    Workload("/apis/batch/v1/cronjobs", "CronJob", ("spec", "jobTemplate", "spec", "template", "spec")),
)


def eks_references(
    eks: Any,
    sts: Any,
    patterns: Sequence[str],
    *,
    region: str,
    page_size: int = KUBERNETES_PAGE_SIZE,
    timeout: float = REQUEST_TIMEOUT,
) -> list[ImageReference]:
    """Every image reference in use in the EKS clusters of `eks`'s region whose names match `patterns`
    (`fnmatch` globs, as everywhere in a policy).

    `sts` signs the tokens: a boto3 `Session` (an STS client for `region` is made from it) or a function
    that returns an STS client; it is used only when a cluster matches. `region` names the clusters'
    region in errors. Raises `UsageError` naming the cluster, the API path and the cause when a
    cluster cannot be read whole, and when a pattern matches no cluster (a misspelt name must not
    protect nothing).
    """
    pattern = Pattern(patterns)
    if not pattern.patterns:
        return []
    with reading(f"EKS ListClusters ({region})"):
        names = pages(eks, "list_clusters", "clusters", page_size=EKS_PAGE_SIZE)
    matching = [name for name in names if pattern.matches(name)]
    unmatched = [p for p in pattern.patterns if not any(Pattern([p]).matches(name) for name in names)]
    if unmatched:
        raise UsageError(
            f"protect.in_use_eks: no EKS cluster in {region} matches {', '.join(map(repr, unmatched))}; "
            "a misspelt name would protect nothing, so the run stops: fix the pattern or remove it"
        )
    with reading(f"EKS ({region}): STS client to sign cluster tokens"):
        sts_client = (
            sts.client("sts", region_name=region) if callable(getattr(sts, "client", None)) else sts()
        )
    references: list[ImageReference] = []
    for name in matching:
        cluster = _describe(eks, name, region)
        if cluster is not None:
            api = _KubernetesApi(cluster, sts_client, timeout)
            references += _cluster_references(api, page_size)
    return list(dict.fromkeys(references))


def eks_token(sts: Any, cluster: str) -> str:
    """The bearer token EKS accepts for `cluster`, as `aws eks get-token` and aws-iam-authenticator
    make it: ``k8s-aws-v1.`` and the unpadded base64url of a presigned STS GetCallerIdentity URL
    (GET, X-Amz-Expires 60) whose signed headers include ``x-k8s-aws-id: <cluster>``."""
    _sign_cluster_id(sts)
    url = sts.generate_presigned_url(
        "get_caller_identity",
        Params={CLUSTER_ID_HEADER: cluster},
        ExpiresIn=PRESIGNED_URL_EXPIRES,
        HttpMethod="GET",
    )
    return TOKEN_PREFIX + base64.urlsafe_b64encode(str(url).encode()).decode().rstrip("=")


def _sign_cluster_id(sts: Any) -> None:
    """Make `sts` move a ``x-k8s-aws-id`` parameter of GetCallerIdentity into a signed header (once)."""
    events = sts.meta.events
    events.register(
        "provide-client-params.sts.GetCallerIdentity", _take_cluster_id, unique_id="ecr-cleanup-eks-id"
    )
    events.register("before-sign.sts.GetCallerIdentity", _add_cluster_id, unique_id="ecr-cleanup-eks-header")


def _take_cluster_id(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    if CLUSTER_ID_HEADER in params:
        context[CLUSTER_ID_HEADER] = params.pop(CLUSTER_ID_HEADER)


def _add_cluster_id(request: Any, **_: Any) -> None:
    if CLUSTER_ID_HEADER in request.context:
        request.headers[CLUSTER_ID_HEADER] = request.context[CLUSTER_ID_HEADER]


@dataclass(frozen=True)
class _Cluster:
    name: str
    region: str
    endpoint: str
    ca_pem: str
    authentication_mode: str | None
    public_access: bool | None

    @property
    def where(self) -> str:
        return f"EKS cluster {self.name} ({self.region})"


def _describe(eks: Any, name: str, region: str) -> _Cluster | None:
    """The cluster's endpoint and CA; None when it was deleted since it was listed or has no API yet."""
    where = f"EKS cluster {name} ({region})"
    with reading(f"{where}: DescribeCluster"):
        try:
            cluster = eks.describe_cluster(name=name)["cluster"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return None
            raise
        endpoint = cluster.get("endpoint")
        status = cluster.get("status")
        if not endpoint:
            if status in SKIP_WITHOUT_ENDPOINT:
                return None
            raise UsageError(f"{where}: DescribeCluster returned no API endpoint (status {status})")
        data = (cluster.get("certificateAuthority") or {}).get("data")
        if not data:
            raise UsageError(f"{where}: DescribeCluster returned no certificateAuthority.data")
        try:
            ca_pem = base64.b64decode(data, validate=True).decode("ascii")
        except (binascii.Error, UnicodeDecodeError) as error:
            raise UsageError(f"{where}: certificateAuthority.data is not base64 PEM: {error}") from error
        vpc = cluster.get("resourcesVpcConfig") or {}
        access = cluster.get("accessConfig") or {}
        return _Cluster(
            name=name,
            region=region,
            endpoint=str(endpoint).rstrip("/"),
            ca_pem=ca_pem,
            authentication_mode=access.get("authenticationMode"),
            public_access=vpc.get("endpointPublicAccess"),
        )


class _Expired(Exception):
    """HTTP 410 Gone: the continue token is too old; the list must start again."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A cluster API never redirects a list; following one would send the token elsewhere."""

    def redirect_request(self, *_: Any, **__: Any) -> None:
        return None


class _KubernetesApi:
    """GET requests to one cluster's API, trusting only its CA, each with a fresh token."""

    def __init__(self, cluster: _Cluster, sts: Any, timeout: float) -> None:
        self.cluster = cluster
        self._sts = sts
        self._timeout = timeout
        try:
            context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=cluster.ca_pem)
        except (ssl.SSLError, ValueError) as error:
            raise UsageError(
                f"{cluster.where}: certificateAuthority.data is not a usable CA certificate: {error}"
            ) from error
        self._opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context), _NoRedirects)

    def get(self, path: str, query: dict[str, str]) -> dict[str, Any]:
        where = f"{self.cluster.where}: GET {path}"
        with reading(f"{where}: signing the token"):
            token = eks_token(self._sts, self.cluster.name)
        url = f"{self.cluster.endpoint}{path}?{urllib.parse.urlencode(query)}"
        request = urllib.request.Request(
            url,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "User-Agent": "ecr-cleanup",
            },
        )
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                body = response.read()
        except urllib.error.HTTPError as error:
            if error.code == 410 and "continue" in query:
                raise _Expired from error
            raise UsageError(self._refused(where, error)) from error
        except urllib.error.URLError as error:
            raise UsageError(self._unreachable(where, error.reason)) from error
        except (OSError, http.client.HTTPException) as error:
            raise UsageError(self._unreachable(where, error)) from error
        try:
            document = json.loads(body)
        except ValueError as error:
            raise UsageError(f"{where}: response is not JSON: {error}") from error
        if not isinstance(document, dict):
            raise UsageError(f"{where}: response is not a JSON object")
        return document

    def _refused(self, where: str, error: urllib.error.HTTPError) -> str:
        message = f"{where}: HTTP {error.code} {error.reason}{_status_message(error)}"
        if error.code in (401, 403):
            mode = self.cluster.authentication_mode
            now = f" (it is {mode})" if mode == "CONFIG_MAP" else ""
            verb = (
                "did not accept the token" if error.code == 401 else "does not let the cleanup role list it"
            )
            message += f"; the cluster {verb}: {ACCESS_FIX}{now}"
        return message

    def _unreachable(self, where: str, cause: object) -> str:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return (
                f"{where}: TLS verification of {self.cluster.endpoint} failed ({cause}): its certificate is "
                "not signed by the cluster CA that DescribeCluster returns"
            )
        private = " (its public access is off)" if self.cluster.public_access is False else ""
        return (
            f"{where}: cannot connect to {self.cluster.endpoint} ({type(cause).__name__}: {cause}); if the "
            f"cluster's API endpoint is private{private}, the cleanup Lambda must run in the cluster's VPC "
            "with a security group the cluster lets in on port 443; if public access is limited to "
            "publicAccessCidrs, the Lambda's egress address must be one of them"
        )


def _status_message(error: urllib.error.HTTPError) -> str:
    """``: <message>`` of the Kubernetes Status object an error response carries, if any."""
    try:
        status = json.loads(error.read() or b"null")
    except (ValueError, OSError, http.client.HTTPException):
        return ""
    message = status.get("message") if isinstance(status, dict) else None
    return f": {str(message)[:500]}" if message else ""


def _list(api: _KubernetesApi, path: str, page_size: int) -> list[Any]:
    """Every object of a cluster-wide list, page by page; from the first page again (at most
    `MAX_LIST_ATTEMPTS` times in all) when the continue token expires."""
    where = f"{api.cluster.where}: GET {path}"
    for _ in range(MAX_LIST_ATTEMPTS):
        items: list[Any] = []
        token: str | None = None
        try:
            while True:
                query = {"limit": str(page_size)}
                if token is not None:
                    query["continue"] = token
                page = api.get(path, query)
                with reading(where):
                    items += page["items"] or []
                    following = (page.get("metadata") or {}).get("continue")
                if not following:
                    return items
                if following == token:
                    raise UsageError(f"{where}: the API returned the same continue token twice")
                token = str(following)
        except _Expired:
            continue
    raise UsageError(
        f"{where}: the list expired (HTTP 410 Gone) {MAX_LIST_ATTEMPTS} times before it could be read "
        "whole; the cluster changes faster than it can be listed"
    )


def _cluster_references(api: _KubernetesApi, page_size: int) -> list[ImageReference]:
    references: list[ImageReference] = []
    for workload in WORKLOADS:
        items = _list(api, workload.path, page_size)
        with reading(f"{api.cluster.where}: GET {workload.path}"):
            for item in items:
                references += _object_references(api.cluster.name, workload, item)
    return references


def _object_references(cluster: str, workload: Workload, item: dict[str, Any]) -> list[ImageReference]:
    metadata = item["metadata"]
    source = f"EKS {cluster}/{metadata.get('namespace', '')} {workload.kind} {metadata['name']}"
    if workload is PODS and (item.get("status") or {}).get("phase") in FINISHED_PHASES:
        return []
    spec: Any = item
    for key in workload.pod_spec:
        spec = spec.get(key) if isinstance(spec, dict) else None
    if not isinstance(spec, dict):
        if workload.optional:
            return []
        raise UsageError(f"{source}: no {'.'.join(workload.pod_spec)}")
    references = list(_spec_references(spec, source))
    if workload is PODS:
        references += _status_references(item.get("status") or {}, source)
    return references


def _spec_references(spec: dict[str, Any], source: str) -> Iterator[ImageReference]:
    for key in CONTAINER_LISTS:
        for container in spec.get(key) or []:
            where = f"{source}: {key} {container.get('name', '?')!r}: "
            image = container.get("image")
            if not isinstance(image, str) or not image:
                raise UsageError(f"{where}no image")
            yield reference_at(image, source, where)


def _status_references(status: dict[str, Any], source: str) -> Iterator[ImageReference]:
    """The digests the pod's containers run: ``imageID`` as the container runtime reports it,
    ``docker-pullable://repo@sha256:...`` or ``repo@sha256:...``. One without a repository (a local
    image ID, ``sha256:...``) names no registry manifest and is left out; the configured image still
    counts."""
    for key in STATUS_LISTS:
        for container in status.get(key) or []:
            image_id = _SCHEME.sub("", container.get("imageID") or "")
            if "@" in image_id:
                where = f"{source}: {key} {container.get('name', '?')!r} imageID: "
                yield reference_at(image_id, source, where)
