"""Which images are in use, so that no run deletes them; any doubt stops the run (fail closed).

`parse_reference` and `resolve_in_use` are pure: references in, protected digests out.
`UsageCollector` reads the references that run somewhere in a region (ECS tasks and services,
Lambda functions and their published versions) and those listed in S3 objects or SSM parameters.
It either returns every reference or raises `UsageError`: a partial answer would let a run delete
an image that is in use.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from .cleanup import InUse
from .ecr import client_config
from .plan import Image
from .policy import Policy

__all__ = [
    "DESCRIBE_SERVICES_BATCH_SIZE",
    "DESCRIBE_TASKS_BATCH_SIZE",
    "ImageReference",
    "UsageCollector",
    "UsageError",
    "parse_reference",
    "parse_references",
    "resolve_in_use",
]

DESCRIBE_TASKS_BATCH_SIZE = 100
DESCRIBE_SERVICES_BATCH_SIZE = 10
ECS_PAGE_SIZE = 100
LAMBDA_PAGE_SIZE = 50
NAME_MAX_LENGTH = 255
DEFAULT_TAG = "latest"


class UsageError(Exception):
    """A usage source could not be read or understood; the run must delete nothing (fail closed)."""


@dataclass(frozen=True)
class ImageReference:
    """One image reference and who uses it, as written: no Docker Hub normalisation."""

    repository: str
    tag: str | None
    digest: str | None
    registry: str | None
    source: str


# The grammar of github.com/distribution/reference, with its rule for telling a registry host
# from the first component of a repository path.
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_REGISTRY = re.compile(rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?")
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = re.compile(rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*")
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
_SHA256 = re.compile(r"sha256:[0-9a-f]{64}")
_ECR_HOST = re.compile(
    r"(\d{12})\.dkr[.-]ecr(?:-fips)?\.([a-z0-9-]+)\."
    r"(?:amazonaws\.com(?:\.cn)?|on\.aws|c2s\.ic\.gov|sc2s\.sgov\.gov)(?::443)?"
)


def _is_registry(component: str) -> bool:
    return "." in component or ":" in component or component == "localhost"


def _valid_digest(digest: str) -> bool:
    if digest.startswith("sha256:"):
        return _SHA256.fullmatch(digest) is not None
    return _DIGEST.fullmatch(digest) is not None


def _parse(text: str) -> tuple[str | None, str, str | None, str | None]:
    """(registry, repository, tag, digest) of `text`; ValueError says what is wrong."""
    if not text:
        raise ValueError("empty reference")
    if any(character.isspace() for character in text):
        raise ValueError("contains whitespace")
    name, at, digest = text.partition("@")
    if at and not _valid_digest(digest):
        raise ValueError(f"invalid digest {digest!r}")
    tag: str | None = None
    colon = name.rfind(":")
    if colon != -1 and "/" not in name[colon + 1 :]:
        name, tag = name[:colon], name[colon + 1 :]
        if not _TAG.fullmatch(tag):
            raise ValueError(f"invalid tag {tag!r}")
    if len(name) > NAME_MAX_LENGTH:
        raise ValueError(f"name longer than {NAME_MAX_LENGTH} characters")
    registry: str | None = None
    first, slash, rest = name.partition("/")
    if slash and _is_registry(first):
        registry, name = first, rest
        if not _REGISTRY.fullmatch(registry):
            raise ValueError(f"invalid registry host {registry!r}")
    if not _REPOSITORY.fullmatch(name):
        raise ValueError(
            f"invalid repository name {name!r} (lowercase letters and digits, separated by '.', '_', "
            "'__', '-' or '/')"
        )
    return registry, name, tag, digest if at else None


def _reference(text: str, source: str, where: str) -> ImageReference:
    try:
        registry, repository, tag, digest = _parse(text)
    except ValueError as error:
        raise UsageError(f"{where}cannot parse {text!r}: {error}") from None
    return ImageReference(repository, tag, digest, registry, source)


def parse_reference(text: str, source: str) -> ImageReference:
    """Docker reference grammar: ``[registry/]repository[:tag][@digest]``.

    The first path component is the registry when it contains '.' or ':' or is 'localhost'
    (``localhost:5000/app``, ``123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app``); otherwise it
    belongs to the repository (``team/app``). Raises `UsageError` naming the text when it cannot be
    parsed.
    """
    return _reference(text, source, f"{source}: " if source else "")


def parse_references(content: str, source: str) -> list[ImageReference]:
    """The references listed in an external source's content.

    Either a JSON list of strings, a JSON object ``{"images": [...]}`` (no other keys, so a misspelt
    key is refused instead of dropping its images), or plain text with one reference per line, blank
    lines and lines starting with '#' ignored.
    """
    if content.lstrip().startswith(("[", "{")):
        return _json_references(content, source)
    references = []
    for number, line in enumerate(content.splitlines(), start=1):
        entry = line.strip()
        if entry and not entry.startswith("#"):
            references.append(_reference(entry, source, f"{source}: line {number}: "))
    return references


def _json_references(content: str, source: str) -> list[ImageReference]:
    try:
        document = json.loads(content)
    except ValueError as error:
        raise UsageError(f"{source}: not valid JSON: {error}") from None
    path = ""
    if isinstance(document, dict):
        unknown = sorted(set(document) - {"images"})
        if unknown:
            raise UsageError(f"{source}: unknown key {unknown[0]!r}; the only key is 'images'")
        if "images" not in document:
            raise UsageError(f"{source}: missing key 'images'")
        document, path = document["images"], "images"
    if not isinstance(document, list):
        raise UsageError(f"{source}: {path or 'the document'} must be a list of image references")
    references = []
    for index, entry in enumerate(document):
        where = f"{source}: {path}[{index}]: "
        if not isinstance(entry, str):
            raise UsageError(f"{where}must be a string, not {type(entry).__name__}")
        references.append(_reference(entry.strip(), source, where))
    return references


def _registry_identity(host: str) -> tuple[str, ...]:
    """ECR hosts of one registry (IPv4, dual-stack, FIPS) share an identity: account and region."""
    host = host.lower()
    ecr = _ECR_HOST.fullmatch(host)
    return ("ecr", ecr[1], ecr[2]) if ecr else ("host", host)


def _same_registry(host: str | None, ours: tuple[str, ...] | None) -> bool:
    return host is None or ours is None or _registry_identity(host) == ours


def resolve_in_use(
    references: Iterable[ImageReference],
    repository: str,
    images: Sequence[Image],
    *,
    registry: str | None = None,
) -> dict[str, str]:
    """Digest -> reason (``"in use: <source>"``) for the images of `repository` that references name.

    A reference names the repository when its repository equals `repository` and its registry is
    None or is `registry` (any registry when `registry` is None). A digest protects that image; a tag
    protects the image that holds the tag now; a reference with neither means the tag ``latest``, as
    Docker pulls it. A reference with both protects both images. The first source per digest wins.
    """
    ours = _registry_identity(registry) if registry is not None else None
    present = {image.digest for image in images}
    holders = {tag: image.digest for image in images for tag in image.tags}
    in_use: dict[str, str] = {}
    for reference in references:
        if reference.repository != repository or not _same_registry(reference.registry, ours):
            continue
        digests = []
        if reference.digest is not None and reference.digest in present:
            digests.append(reference.digest)
        tag = reference.tag if reference.tag is not None or reference.digest is not None else DEFAULT_TAG
        if tag is not None and tag in holders:
            digests.append(holders[tag])
        for digest in digests:
            in_use.setdefault(digest, f"in use: {reference.source}")
    return in_use


def _describe(error: ClientError | BotoCoreError) -> str:
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return f"{details.get('Code', 'ClientError')}: {details.get('Message', '')}".rstrip(": ")
    return f"{type(error).__name__}: {error}"


@contextmanager
def _reading(what: str) -> Iterator[None]:
    """Turn every failure while reading `what` into a `UsageError` that names it."""
    try:
        yield
    except UsageError:
        raise
    except (ClientError, BotoCoreError) as error:
        raise UsageError(f"{what}: {_describe(error)}") from error
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        raise UsageError(f"{what}: unexpected response: {type(error).__name__}: {error}") from error


def _batches(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _failures(response: dict[str, Any]) -> list[str]:
    """DescribeTasks/DescribeServices failures other than MISSING (gone since it was listed)."""
    return [
        f"{failure.get('arn', '?')}: {failure.get('reason', '')} {failure.get('detail', '')}".rstrip()
        for failure in response.get("failures", [])
        if failure.get("reason") != "MISSING"
    ]


class UsageCollector:
    """Reads the image references in use in one region through boto3 clients.

    Clients default to boto3 clients for `region`, made with `ecr.client_config()` (adaptive retries,
    so throttling slows a run down and only fails it once the retries are spent).
    """

    def __init__(
        self,
        *,
        ecs: Any = None,
        lambda_client: Any = None,
        s3: Any = None,
        ssm: Any = None,
        region: str | None = None,
    ) -> None:
        self.region = region
        given = {"ecs": ecs, "lambda": lambda_client, "s3": s3, "ssm": ssm}
        self._clients: dict[str, Any] = {name: client for name, client in given.items() if client is not None}
        self._task_definitions: dict[str, list[str]] = {}

    def _client(self, service: str) -> Any:
        client = self._clients.get(service)
        if client is None:
            try:
                client = boto3.client(service, region_name=self.region, config=client_config())
            except BotoCoreError as error:
                raise UsageError(f"cannot create a {service} client: {_describe(error)}") from error
            self._clients[service] = client
        return client

    def collect(
        self, sources: Sequence[str] = (), *, ecs: bool = True, functions: bool = True
    ) -> list[ImageReference]:
        """Every image reference in use in the region, from ECS, Lambda and the external `sources`.

        Sources are ``s3://bucket/key``, ``ssm:<parameter name>`` or an SSM parameter ARN; see
        `parse_references` for their content. Any failure raises `UsageError` naming the source and
        the cause; the references gathered so far are dropped.
        """
        readers = [self._source_reader(source) for source in sources]
        references: list[ImageReference] = []
        if ecs:
            references += self._ecs_references()
        if functions:
            references += self._lambda_references()
        for read in readers:
            references += read()
        return list(dict.fromkeys(references))

    def _source_reader(self, source: str) -> Callable[[], list[ImageReference]]:
        """The reader of `source`, chosen before anything is read so that a typo costs no API calls."""
        if source.startswith("s3://"):
            bucket, _, key = source.removeprefix("s3://").partition("/")
            if not bucket or not key:
                raise UsageError(f"{source}: an S3 source is s3://<bucket>/<key>")
            return lambda: self._s3_references(source, bucket, key)
        if source.startswith("ssm:") or re.match(r"arn:[\w-]+:ssm:", source):
            name = source.removeprefix("ssm:")
            if not name:
                raise UsageError(f"{source}: an SSM source is ssm:<parameter name> or a parameter ARN")
            return lambda: self._ssm_references(source, name)
        raise UsageError(
            f"{source!r}: unknown usage source; use s3://<bucket>/<key>, ssm:<parameter name> "
            "or an SSM parameter ARN"
        )

    def _s3_references(self, source: str, bucket: str, key: str) -> list[ImageReference]:
        with _reading(source):
            body: bytes = self._client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        try:
            content = body.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise UsageError(f"{source}: not UTF-8 text: {error}") from None
        return parse_references(content, source)

    def _ssm_references(self, source: str, name: str) -> list[ImageReference]:
        with _reading(source):
            parameter = self._client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]
            content: str = parameter["Value"]
            if parameter.get("Type") == "StringList":
                content = "\n".join(content.split(","))
        return parse_references(content, source)

    def _ecs_references(self) -> list[ImageReference]:
        ecs = self._client("ecs")
        references: list[ImageReference] = []
        with _reading("ECS ListClusters"):
            clusters = [
                arn
                for page in ecs.get_paginator("list_clusters").paginate(
                    PaginationConfig={"PageSize": ECS_PAGE_SIZE}
                )
                for arn in page["clusterArns"]
            ]
        for cluster in clusters:
            references += self._task_references(ecs, cluster)
            references += self._service_references(ecs, cluster)
        return references

    def _task_references(self, ecs: Any, cluster: str) -> list[ImageReference]:
        """Running and pending tasks (desired status RUNNING): each container's image and digest."""
        with _reading(f"ECS ListTasks {cluster}"):
            tasks = [
                arn
                for page in ecs.get_paginator("list_tasks").paginate(
                    cluster=cluster, desiredStatus="RUNNING", PaginationConfig={"PageSize": ECS_PAGE_SIZE}
                )
                for arn in page["taskArns"]
            ]
        references: list[ImageReference] = []
        for batch in _batches(tasks, DESCRIBE_TASKS_BATCH_SIZE):
            with _reading(f"ECS DescribeTasks {cluster}"):
                response = ecs.describe_tasks(cluster=cluster, tasks=list(batch))
                if failed := _failures(response):
                    raise UsageError(f"ECS DescribeTasks {cluster}: {'; '.join(failed)}")
                for task in response["tasks"]:
                    source = f"ECS task {task['taskArn']}"
                    for container in task["containers"]:
                        references += _container_references(container, source)
        return references

    def _service_references(self, ecs: Any, cluster: str) -> list[ImageReference]:
        """Every task definition a service runs or deploys: its current one, deployments, task sets."""
        with _reading(f"ECS ListServices {cluster}"):
            services = [
                arn
                for page in ecs.get_paginator("list_services").paginate(
                    cluster=cluster, PaginationConfig={"PageSize": ECS_PAGE_SIZE}
                )
                for arn in page["serviceArns"]
            ]
        references: list[ImageReference] = []
        for batch in _batches(services, DESCRIBE_SERVICES_BATCH_SIZE):
            with _reading(f"ECS DescribeServices {cluster}"):
                response = ecs.describe_services(cluster=cluster, services=list(batch))
                if failed := _failures(response):
                    raise UsageError(f"ECS DescribeServices {cluster}: {'; '.join(failed)}")
                for service in response["services"]:
                    definitions = [service.get("taskDefinition")]
                    definitions += [item.get("taskDefinition") for item in service.get("deployments", [])]
                    definitions += [item.get("taskDefinition") for item in service.get("taskSets", [])]
                    source = f"ECS service {service['serviceArn']}"
                    for definition in dict.fromkeys(filter(None, definitions)):
                        for image in self._task_definition_images(ecs, definition):
                            references.append(_reference(image, source, f"{source}: "))
        return references

    def _task_definition_images(self, ecs: Any, arn: str) -> list[str]:
        images = self._task_definitions.get(arn)
        if images is None:
            with _reading(f"ECS DescribeTaskDefinition {arn}"):
                definition = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
                images = [container["image"] for container in definition["containerDefinitions"]]
            self._task_definitions[arn] = images
        return images

    def _lambda_references(self) -> list[ImageReference]:
        """Every version of every container-image function ($LATEST and published ones): the image
        URI it was given and the digest it resolved to. Aliases point at published versions."""
        lambda_client = self._client("lambda")
        with _reading("Lambda ListFunctions"):
            versions = [
                (function["FunctionName"], function["Version"])
                for page in lambda_client.get_paginator("list_functions").paginate(
                    FunctionVersion="ALL", PaginationConfig={"PageSize": LAMBDA_PAGE_SIZE}
                )
                for function in page["Functions"]
                if function.get("PackageType") == "Image"
            ]
        references: list[ImageReference] = []
        for name, version in versions:
            source = f"Lambda function {name}:{version}"
            with _reading(f"Lambda GetFunction {name}:{version}"):
                code = lambda_client.get_function(FunctionName=name, Qualifier=version)["Code"]
                uris = [code["ImageUri"], code.get("ResolvedImageUri")]
            references += [_reference(uri, source, f"{source}: ") for uri in uris if uri]
        return references


def _container_references(container: dict[str, Any], source: str) -> list[ImageReference]:
    """The container's image as configured, and the digest it runs when ECS reports one."""
    where = f"{source}: container {container.get('name', '?')!r}: "
    configured = _reference(container["image"], source, where)
    references = [configured]
    digest = container.get("imageDigest")
    if digest and digest != configured.digest:
        if not _valid_digest(digest):
            raise UsageError(f"{where}invalid imageDigest {digest!r}")
        references.append(ImageReference(configured.repository, None, digest, configured.registry, source))
    return references


def in_use_checker(
    policy: Policy, *, region: str | None = None, collector: UsageCollector | None = None
) -> InUse | None:
    """The images in use, read now (ECS, Lambda, `protect.in_use_sources`), for the planner; None when
    `protect.in_use` is false. Any source that cannot be read raises `UsageError`: nothing is deleted."""
    if not policy.protect.in_use:
        return None
    references = (collector or UsageCollector(region=region)).collect(policy.protect.in_use_sources)
    by_repository: dict[str, list[ImageReference]] = {}
    for reference in references:
        by_repository.setdefault(reference.repository, []).append(reference)

    def in_use(repository: str, images: Sequence[Image]) -> dict[str, str]:
        return resolve_in_use(by_repository.get(repository, ()), repository, images)

    return in_use
