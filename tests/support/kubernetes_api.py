"""A local stand-in for an EKS cluster's Kubernetes API, for the EKS usage reader.

`KubernetesApi` serves HTTPS on 127.0.0.1 with a certificate of its own CA (made at start with the
`cryptography` package), checks each bearer token as EKS does (the checks of aws-iam-authenticator's
verifier, and the SigV4 signature of the presigned STS URL recomputed with the cluster's name in the
``x-k8s-aws-id`` header, so a token for another cluster is refused with 401), and serves the
cluster-wide list endpoints from objects held in memory, in the shape the API server returns them:
``<Kind>List`` with ``metadata.continue`` when `limit` leaves objects out, items without their own
kind and apiVersion, Status objects for errors. It can answer 410 Gone to a continue token and 403 to
a path, and records every request.

`patch_describe_cluster` makes moto's DescribeCluster return the stand-in's endpoint and CA. The
builders (`pod`, `deployment`, ...) make objects as the API server stores them.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import ipaddress
import json
import re
import ssl
import tempfile
import threading
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.eks.models import eks_backends

__all__ = [
    "RESOURCES",
    "CertificateAuthority",
    "KubernetesApi",
    "RecordedRequest",
    "controller_revision",
    "cron_job",
    "daemon_set",
    "deployment",
    "job",
    "patch_describe_cluster",
    "pod",
    "replica_set",
    "stateful_set",
    "token_problem",
]

TOKEN_PREFIX = "k8s-aws-v1."
CLUSTER_ID_HEADER = "x-k8s-aws-id"
MAX_TOKEN_LENGTH = 4096
PRESIGNED_URL_LIFETIME = datetime.timedelta(minutes=15)
ALLOWED_QUERY_PARAMETERS = frozenset(
    {
        "action",
        "version",
        "x-amz-algorithm",
        "x-amz-credential",
        "x-amz-date",
        "x-amz-expires",
        "x-amz-security-token",
        "x-amz-signature",
        "x-amz-signedheaders",
    }
)
STS_HOST = re.compile(r"sts(?:\.[a-z0-9-]+)?\.amazonaws\.com(?:\.cn)?")
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


@dataclass(frozen=True)
class Resource:
    path: str
    api_version: str
    kind: str
    plural: str
    group: str


RESOURCES: dict[str, Resource] = {
    resource.kind: resource
    for resource in (
        Resource("/api/v1/pods", "v1", "Pod", "pods", ""),
        Resource("/apis/apps/v1/deployments", "apps/v1", "Deployment", "deployments", "apps"),
        Resource("/apis/apps/v1/replicasets", "apps/v1", "ReplicaSet", "replicasets", "apps"),
        Resource("/apis/apps/v1/statefulsets", "apps/v1", "StatefulSet", "statefulsets", "apps"),
        Resource("/apis/apps/v1/daemonsets", "apps/v1", "DaemonSet", "daemonsets", "apps"),
        Resource(
            "/apis/apps/v1/controllerrevisions",
            "apps/v1",
            "ControllerRevision",
            "controllerrevisions",
            "apps",
        ),
        Resource("/apis/batch/v1/jobs", "batch/v1", "Job", "jobs", "batch"),
        Resource("/apis/batch/v1/cronjobs", "batch/v1", "CronJob", "cronjobs", "batch"),
    )
}
_BY_PATH = {resource.path: resource for resource in RESOURCES.values()}


# --- certificates ------------------------------------------------------------------------------


def _pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


class CertificateAuthority:
    """A CA made on the spot (EC P-256), as EKS makes one per cluster."""

    def __init__(self, name: str = "kubernetes") -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.UTC)
        public = self._key.public_key()
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        self.pem = _pem(self.certificate)

    @property
    def data(self) -> str:
        """The CA as DescribeCluster returns it in certificateAuthority.data: base64 of the PEM."""
        return base64.b64encode(self.pem.encode("ascii")).decode("ascii")

    def issue(self, hosts: Sequence[str]) -> tuple[str, str]:
        """(certificate PEM, key PEM) of a server certificate for `hosts` (names or IP addresses)."""
        key = ec.generate_private_key(ec.SECP256R1())
        names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False
            )
            .sign(self._key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode("ascii")
        return _pem(certificate), key_pem


# --- tokens --------------------------------------------------------------------------------------


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def token_problem(
    token: str,
    cluster: str,
    secret_keys: Mapping[str, str],
    *,
    now: datetime.datetime | None = None,
) -> str | None:
    """Why EKS would refuse `token` for `cluster`, or None when it accepts it.

    The checks of aws-iam-authenticator's verifier (prefix, unpadded base64url, an https URL to an
    STS host at path /, only presign query parameters, Action=GetCallerIdentity, x-k8s-aws-id among
    the signed headers, X-Amz-Expires within 0..900, X-Amz-Date less than 15 minutes old), then
    what STS itself checks when the verifier sends the URL with ``x-k8s-aws-id: <cluster>``: the SigV4
    signature, recomputed with the secret key of the access key in X-Amz-Credential.
    """
    if len(token) > MAX_TOKEN_LENGTH:
        return "token is too large"
    if not token.startswith(TOKEN_PREFIX):
        return f"token is missing the {TOKEN_PREFIX!r} prefix"
    encoded = token.removeprefix(TOKEN_PREFIX)
    if "=" in encoded or not re.fullmatch(r"[A-Za-z0-9_-]*", encoded):
        return "token is not unpadded base64url"
    try:
        url = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except ValueError as error:
        return f"token does not decode: {error}"
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "https":
        return f"unexpected scheme {parts.scheme!r} in pre-signed URL"
    if not STS_HOST.fullmatch(parts.netloc):
        return f"unexpected hostname {parts.netloc!r} in pre-signed URL"
    if parts.path != "/":
        return "unexpected path in pre-signed URL"
    pairs = [pair.partition("=") for pair in parts.query.split("&")]
    query: dict[str, str] = {}
    for key, _, value in pairs:
        name = urllib.parse.unquote(key).lower()
        if name not in ALLOWED_QUERY_PARAMETERS:
            return f"non-whitelisted query parameter {key!r}"
        if name in query:
            return "query parameter with multiple values"
        query[name] = urllib.parse.unquote(value)
    if query.get("action") != "GetCallerIdentity":
        return "unexpected action parameter in pre-signed URL"
    signed = query.get("x-amz-signedheaders", "").split(";")
    if CLUSTER_ID_HEADER not in signed:
        return f"client did not sign the {CLUSTER_ID_HEADER} header in the pre-signed URL"
    expires = query.get("x-amz-expires", "")
    if not expires.isdigit() or int(expires) > 900:
        return f"invalid X-Amz-Expires parameter in pre-signed URL: {expires!r}"
    try:
        date = datetime.datetime.strptime(query.get("x-amz-date", ""), "%Y%m%dT%H%M%SZ").replace(
            tzinfo=datetime.UTC
        )
    except ValueError:
        return "X-Amz-Date parameter must be present in pre-signed URL"
    if (now or datetime.datetime.now(datetime.UTC)) > date + PRESIGNED_URL_LIFETIME:
        return "X-Amz-Date parameter is expired"
    access_key, _, scope = query.get("x-amz-credential", "").partition("/")
    secret = secret_keys.get(access_key)
    if secret is None:
        return f"STS: unknown access key {access_key!r}"
    headers = {"host": parts.netloc, CLUSTER_ID_HEADER: cluster}
    if set(signed) - set(headers):
        return f"STS: signed headers {signed} cannot be reproduced"
    # SigV4 sorts the encoded (name, value) pairs; the URL holds them encoded.
    encoded_pairs = sorted((key, value) for key, _, value in pairs if key != "X-Amz-Signature")
    canonical_query = "&".join(f"{key}={value}" for key, value in encoded_pairs)
    canonical = "\n".join(
        [
            "GET",
            "/",
            canonical_query,
            "".join(f"{name}:{headers[name]}\n" for name in signed),
            ";".join(signed),
            EMPTY_SHA256,
        ]
    )
    day, region, service, terminator = [*scope.split("/"), "", "", ""][:4]
    if service != "sts" or terminator != "aws4_request":
        return f"STS: credential scope {scope!r} is not for sts"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", query["x-amz-date"], scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    signing_key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret}".encode(), day), region), service), terminator)
    signature = hmac.new(signing_key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(signature, query.get("x-amz-signature", "")):
        return "STS: SignatureDoesNotMatch (signed for another cluster?)"
    return None


# --- the server ----------------------------------------------------------------------------------


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    status: int
    token: str | None
    refused: str | None = None
    """Why the token was refused (401)."""


def _status(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details is not None:
        status["details"] = details
    return status


def _continue_token(resource_version: int, start: str) -> str:
    """As the API server encodes it: base64 of ``{"v", "rv", "start"}``."""
    document = {"v": "meta.k8s.io/v1", "rv": resource_version, "start": start + "\x00"}
    return base64.b64encode(json.dumps(document, separators=(",", ":")).encode()).decode()


def _key(item: Mapping[str, Any]) -> str:
    return f"{item['metadata'].get('namespace', '')}/{item['metadata']['name']}"


@dataclass
class KubernetesApi:
    """One cluster's API: start it with `start()` or as a context manager."""

    cluster: str
    secret_keys: Mapping[str, str]
    """Access key -> secret key, to check the tokens' signatures as STS would."""
    identity: str = "arn:aws:sts::123456789012:assumed-role/ecr-cleanup/ecr-cleanup"
    objects: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {p: [] for p in _BY_PATH})
    requests: list[RecordedRequest] = field(default_factory=list)
    forbidden: set[str] = field(default_factory=set)
    expire: dict[str, int] = field(default_factory=dict)
    """Path -> how many of its next requests with a continue token get 410 Gone."""

    def __post_init__(self) -> None:
        self.authority = CertificateAuthority(f"kubernetes-{self.cluster}")
        self.resource_version = 1000
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._directory: tempfile.TemporaryDirectory[str] | None = None

    # Objects

    def add(self, *items: dict[str, Any]) -> None:
        """Store objects made by the builders below (with their kind and apiVersion)."""
        with self._lock:
            for item in items:
                self.resource_version += 1
                item["metadata"].setdefault("resourceVersion", str(self.resource_version))
                self.objects[RESOURCES[item["kind"]].path].append(item)

    def forbid(self, path: str) -> None:
        self.forbidden.add(path)

    def expire_continue(self, path: str, times: int = 1) -> None:
        self.expire[path] = self.expire.get(path, 0) + times

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [request for request in self.requests if request.path == path]

    # Server

    @property
    def endpoint(self) -> str:
        assert self._server is not None, "not started"
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    @property
    def ca_pem(self) -> str:
        return self.authority.pem

    def start(self) -> KubernetesApi:
        self._directory = tempfile.TemporaryDirectory(prefix="kubernetes-api-")
        certificate, key = self.authority.issue(["127.0.0.1", "localhost"])
        chain = Path(self._directory.name, "server.pem")
        chain.write_text(certificate + key)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(chain)
        api = self

        class Handler(_Handler):
            stand_in = api

        server = _Server(("127.0.0.1", 0), Handler)
        # The handshake happens in each request's thread, on its first read.
        server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._directory is not None:
            self._directory.cleanup()

    def __enter__(self) -> KubernetesApi:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # Answers

    def answer(
        self, path: str, query: dict[str, str], token: str | None
    ) -> tuple[int, dict[str, Any], str | None]:
        """(HTTP status, JSON body, why the token was refused) of a GET."""
        refused = "no bearer token" if token is None else token_problem(token, self.cluster, self.secret_keys)
        if refused is not None:
            return 401, _status(401, "Unauthorized", "Unauthorized"), refused
        resource = _BY_PATH.get(path)
        if resource is None:
            return 404, _status(404, "NotFound", "the server could not find the requested resource"), None
        if path in self.forbidden:
            message = (
                f'{resource.plural} is forbidden: User "{self.identity}" cannot list resource '
                f'"{resource.plural}" in API group "{resource.group}" at the cluster scope'
            )
            return 403, _status(403, "Forbidden", message, {"kind": resource.plural}), None
        with self._lock:
            start = query.get("continue")
            if start is not None and self.expire.get(path, 0) > 0:
                self.expire[path] -= 1
                message = (
                    "The provided continue parameter is too old to display a consistent list result. You "
                    "can start a new list without the continue parameter, or use the continue token in this "
                    "response to retrieve the remainder of the results. Continuing with the provided token "
                    "results in an inconsistent list - objects that were created, modified, or deleted "
                    "between the time the first chunk was returned and now may show up in the list."
                )
                status = _status(410, "Expired", message)
                status["metadata"] = {"continue": start}
                return 410, status, None
            items = sorted(self.objects[path], key=_key)
            version = self.resource_version
        if start is not None:
            try:
                position = json.loads(base64.b64decode(start))["start"].rstrip("\x00")
            except (ValueError, KeyError):
                return 400, _status(400, "BadRequest", "continue key is not valid"), None
            items = [item for item in items if _key(item) >= position]
        limit = int(query.get("limit", "0") or 0)
        metadata: dict[str, Any] = {"resourceVersion": str(version)}
        if limit and len(items) > limit:
            metadata["continue"] = _continue_token(version, _key(items[limit]))
            metadata["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        body = {
            "kind": f"{resource.kind}List",
            "apiVersion": resource.api_version,
            "metadata": metadata,
            # The API server leaves out each item's kind and apiVersion in a list.
            "items": [{k: v for k, v in item.items() if k not in ("kind", "apiVersion")} for item in items],
        }
        return 200, body, None


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gives up the TLS handshake (it does not trust our CA) is not an error here."""


class _Handler(BaseHTTPRequestHandler):
    stand_in: KubernetesApi
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        parts = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
        authorization = self.headers.get("Authorization", "")
        token = authorization.removeprefix("Bearer ") if authorization.startswith("Bearer ") else None
        if self.headers.get("Accept") != "application/json":
            code, body, refused = 406, _status(406, "NotAcceptable", "only application/json here"), None
        else:
            code, body, refused = self.stand_in.answer(parts.path, query, token)
        self.stand_in.requests.append(RecordedRequest("GET", parts.path, query, code, token, refused))
        payload = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


# --- moto ----------------------------------------------------------------------------------------


def patch_describe_cluster(
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    endpoint: str,
    ca_pem: str,
    *,
    region: str = "us-east-1",
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> None:
    """Make moto's DescribeCluster of `name` (created with CreateCluster) return `endpoint` and CA."""
    cluster = eks_backends[account_id][region].clusters[name]
    monkeypatch.setattr(cluster, "endpoint", endpoint)
    data = base64.b64encode(ca_pem.encode("ascii")).decode("ascii")
    monkeypatch.setattr(cluster, "certificate_authority", {"data": data})


# --- objects as the API server stores them -------------------------------------------------------

CREATED = "2025-03-01T10:00:00Z"


def _uid(kind: str, namespace: str, name: str) -> str:
    digest = hashlib.sha256(f"{kind}/{namespace}/{name}".encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def _metadata(
    kind: str,
    name: str,
    namespace: str,
    labels: Mapping[str, str],
    *,
    owner: tuple[str, str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "uid": _uid(kind, namespace, name),
        "generation": 1,
        "creationTimestamp": CREATED,
        "labels": dict(labels),
    }
    if annotations:
        metadata["annotations"] = dict(annotations)
    if owner is not None:
        api_version, owner_kind, owner_name = owner
        metadata["ownerReferences"] = [
            {
                "apiVersion": api_version,
                "kind": owner_kind,
                "name": owner_name,
                "uid": _uid(owner_kind, namespace, owner_name),
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    return metadata


def _container(name: str, image: str) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "ports": [{"containerPort": 8080, "protocol": "TCP"}],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent",
    }


def _pod_spec(images: Mapping[str, str], init: Mapping[str, str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": [_container(name, image) for name, image in images.items()],
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "serviceAccountName": "default",
        "securityContext": {},
        "schedulerName": "default-scheduler",
    }
    if init:
        spec["initContainers"] = [_container(name, image) for name, image in init.items()]
    return spec


def _template(app: str, images: Mapping[str, str], init: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": app}}, "spec": _pod_spec(images, init)}


def _container_status(name: str, image: str, image_id: str, *, running: bool = True) -> dict[str, Any]:
    state: dict[str, Any] = (
        {"running": {"startedAt": CREATED}}
        if running
        else {
            "terminated": {"exitCode": 0, "reason": "Completed", "startedAt": CREATED, "finishedAt": CREATED}
        }
    )
    return {
        "name": name,
        "state": state,
        "lastState": {},
        "ready": running,
        "restartCount": 0,
        "image": image,
        "imageID": image_id,
        "containerID": f"containerd://{hashlib.sha256(name.encode()).hexdigest()}",
        "started": running,
    }


def pod(
    name: str,
    namespace: str,
    images: Mapping[str, str],
    *,
    phase: str = "Running",
    image_ids: Mapping[str, str] | None = None,
    init: Mapping[str, str] | None = None,
    ephemeral: Mapping[str, str] | None = None,
    owner: tuple[str, str, str] | None = None,
) -> dict[str, Any]:
    """A pod: container name -> image; `image_ids` gives the runtime's imageID of some containers
    (of any kind), as the kubelet reports it in status."""
    image_ids = image_ids or {}
    spec = _pod_spec(images, init)
    spec["nodeName"] = "ip-10-0-1-23.eu-west-1.compute.internal"
    if ephemeral:
        spec["ephemeralContainers"] = [
            {
                "name": container,
                "image": image,
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
                "imagePullPolicy": "IfNotPresent",
                "stdin": True,
                "tty": True,
            }
            for container, image in ephemeral.items()
        ]
    running = phase == "Running"
    status: dict[str, Any] = {
        "phase": phase,
        "conditions": [
            {"type": "Ready", "status": "True" if running else "False", "lastTransitionTime": CREATED}
        ],
        "hostIP": "10.0.1.23",
        "podIP": "10.0.1.57",
        "startTime": CREATED,
        "qosClass": "Burstable",
    }
    for key, containers, is_running in (
        ("initContainerStatuses", init or {}, False),
        ("containerStatuses", images, running),
        ("ephemeralContainerStatuses", ephemeral or {}, running),
    ):
        if containers and phase != "Pending":
            status[key] = [
                _container_status(container, image, image_ids.get(container, ""), running=is_running)
                for container, image in containers.items()
            ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": _metadata("Pod", name, namespace, {"app": name.partition("-")[0]}, owner=owner),
        "spec": spec,
        "status": status,
    }


def deployment(name: str, namespace: str, images: Mapping[str, str], *, replicas: int = 2) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(
            "Deployment",
            name,
            namespace,
            {"app": name},
            annotations={"deployment.kubernetes.io/revision": "3"},
        ),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": _template(name, images),
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
            },
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
        },
        "status": {"observedGeneration": 1, "replicas": replicas, "readyReplicas": replicas}
        if replicas
        else {"observedGeneration": 1},
    }


def replica_set(
    name: str, namespace: str, images: Mapping[str, str], *, owner: str, replicas: int = 0, revision: int = 1
) -> dict[str, Any]:
    """A Deployment's ReplicaSet; an old one (a rollback target) has 0 replicas."""
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": _metadata(
            "ReplicaSet",
            name,
            namespace,
            {"app": owner, "pod-template-hash": name.rsplit("-", 1)[-1]},
            owner=("apps/v1", "Deployment", owner),
            annotations={"deployment.kubernetes.io/revision": str(revision)},
        ),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": owner, "pod-template-hash": name.rsplit("-", 1)[-1]}},
            "template": _template(owner, images),
        },
        "status": {"replicas": replicas, "observedGeneration": 1},
    }


def stateful_set(
    name: str, namespace: str, images: Mapping[str, str], *, replicas: int = 1
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": _metadata("StatefulSet", name, namespace, {"app": name}),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": _template(name, images),
            "serviceName": name,
            "podManagementPolicy": "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            "revisionHistoryLimit": 10,
        },
        "status": {"replicas": replicas, "currentRevision": f"{name}-5d9c7b8f4", "observedGeneration": 1},
    }


def daemon_set(name: str, namespace: str, images: Mapping[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": _metadata("DaemonSet", name, namespace, {"app": name}),
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": _template(name, images),
            "updateStrategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
            },
            "revisionHistoryLimit": 10,
        },
        "status": {
            "currentNumberScheduled": 3,
            "numberMisscheduled": 0,
            "desiredNumberScheduled": 3,
            "numberReady": 3,
        },
    }


def controller_revision(
    name: str, namespace: str, images: Mapping[str, str], *, owner: tuple[str, str], revision: int
) -> dict[str, Any]:
    """A StatefulSet's or DaemonSet's revision (`owner` = (kind, name)): its pod template kept as the
    strategic merge patch the controller stores in data."""
    owner_kind, owner_name = owner
    template = _template(owner_name, images)
    template["$patch"] = "replace"
    return {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": _metadata(
            "ControllerRevision",
            name,
            namespace,
            {"app": owner_name, "controller-revision-hash": name.rsplit("-", 1)[-1]},
            owner=("apps/v1", owner_kind, owner_name),
        ),
        "data": {"spec": {"template": template}},
        "revision": revision,
    }


def job(name: str, namespace: str, images: Mapping[str, str], *, owner: str | None = None) -> dict[str, Any]:
    template = _template(name, images)
    template["spec"]["restartPolicy"] = "Never"
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _metadata(
            "Job",
            name,
            namespace,
            {"job-name": name},
            owner=("batch/v1", "CronJob", owner) if owner else None,
        ),
        "spec": {
            "parallelism": 1,
            "completions": 1,
            "backoffLimit": 6,
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": _uid("Job", namespace, name)}},
            "template": template,
        },
        "status": {"active": 1, "startTime": CREATED},
    }


def cron_job(
    name: str, namespace: str, images: Mapping[str, str], *, schedule: str = "0 3 * * *"
) -> dict[str, Any]:
    template = _template(name, images)
    template["spec"]["restartPolicy"] = "OnFailure"
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": _metadata("CronJob", name, namespace, {"app": name}),
        "spec": {
            "schedule": schedule,
            "concurrencyPolicy": "Forbid",
            "suspend": False,
            "jobTemplate": {"metadata": {}, "spec": {"backoffLimit": 2, "template": template}},
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 1,
        },
        "status": {"lastScheduleTime": CREATED},
    }


def all_objects(api: KubernetesApi) -> Iterator[tuple[Resource, dict[str, Any]]]:
    """Every stored object with its resource."""
    for path, items in api.objects.items():
        for item in items:
            yield _BY_PATH[path], item
