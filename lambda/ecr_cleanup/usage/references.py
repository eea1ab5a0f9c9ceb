"""Image references: their grammar, and which images of a repository they name. Pure.

`parse_reference` reads ``[registry/]repository[:tag][@digest]``; `resolve_in_use` turns references into
the protected digests of one repository. A reference that cannot be parsed raises `UsageError`: the
run must then delete nothing (fail closed).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..plan import Image

__all__ = [
    "ImageReference",
    "UsageError",
    "container_references",
    "is_ecr_registry",
    "parse_reference",
    "parse_references",
    "reference_at",
    "resolve_in_use",
    "valid_digest",
]

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


def is_ecr_registry(host: str) -> bool:
    """Whether `host` is a registry of Amazon ECR (any account, region or endpoint kind)."""
    return _ECR_HOST.fullmatch(host.lower()) is not None


def valid_digest(digest: str) -> bool:
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
    if at and not valid_digest(digest):
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


def reference_at(text: str, source: str, where: str) -> ImageReference:
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
    return reference_at(text, source, f"{source}: " if source else "")


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
            references.append(reference_at(entry, source, f"{source}: line {number}: "))
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
        references.append(reference_at(entry.strip(), source, where))
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


def container_references(container: dict[str, object], source: str) -> list[ImageReference]:
    """A container's image as configured, and the digest it runs when the platform reports one."""
    where = f"{source}: container {container.get('name', '?')!r}: "
    image = container.get("image")
    if not isinstance(image, str):
        raise UsageError(f"{where}no image")
    configured = reference_at(image, source, where)
    references = [configured]
    digest = container.get("imageDigest")
    if isinstance(digest, str) and digest and digest != configured.digest:
        if not valid_digest(digest):
            raise UsageError(f"{where}invalid imageDigest {digest!r}")
        references.append(ImageReference(configured.repository, None, digest, configured.registry, source))
    return references
