"""Images Lambda runs in one region: every version of every function of package type Image."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from .reading import pages, reading
from .references import ImageReference, reference_at

__all__ = ["lambda_references"]

LAMBDA_PAGE_SIZE = 50
LATEST = "$LATEST"


def lambda_references(client: Any, published: MutableMapping[str, list[str]]) -> list[ImageReference]:
    """Every version of every container-image function ($LATEST and published ones): the image URI it
    was given and the digest it resolved to. Aliases point at published versions.

    `published` maps ``name:version`` of a published version to its image URIs; a published version
    never changes, so each one missing from it is read once and added. $LATEST is read every time.
    """
    with reading("Lambda ListFunctions"):
        versions = [
            (function["FunctionName"], function["Version"])
            for function in pages(
                client, "list_functions", "Functions", page_size=LAMBDA_PAGE_SIZE, FunctionVersion="ALL"
            )
            if function.get("PackageType") == "Image"
        ]
    references: list[ImageReference] = []
    for name, version in versions:
        qualified = f"{name}:{version}"
        source = f"Lambda function {qualified}"
        uris = published.get(qualified) if version != LATEST else None
        if uris is None:
            with reading(f"Lambda GetFunction {qualified}"):
                code = client.get_function(FunctionName=name, Qualifier=version)["Code"]
                uris = [uri for uri in (code["ImageUri"], code.get("ResolvedImageUri")) if uri]
            if version != LATEST:
                published[qualified] = uris
        references += [reference_at(uri, source, f"{source}: ") for uri in uris]
    return references
