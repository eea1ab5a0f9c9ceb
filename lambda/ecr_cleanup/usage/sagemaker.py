"""Images SageMaker runs in one region: models, and the digests endpoints and inference components
resolved.

A model names its images (`PrimaryContainer`, which is optional, and every entry of `Containers`);
a model never changes, so each is described once per run. An endpoint, like an ECS deployment, pins
each image of its variants to a digest when it is created or updated
(`ProductionVariants[].DeployedImages[].ResolvedImage`, and its shadow variants), and so does an
inference component (`Specification.Container.DeployedImage`); both are read every scan. A model,
endpoint or component deleted between its listing and its description is no longer in use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, MutableMapping
from typing import Any

from botocore.exceptions import ClientError

from .reading import pages, reading
from .references import ImageReference, reference_at

__all__ = ["sagemaker_references"]

SAGEMAKER_PAGE_SIZE = 100


def sagemaker_references(client: Any, models: MutableMapping[str, list[str]]) -> list[ImageReference]:
    """Every image of every model, endpoint and inference component in the client's region.

    `models` maps a model's ARN and creation time to its images, read once per model and kept.
    """
    return [
        *_model_references(client, models),
        *_endpoint_references(client),
        *_component_references(client),
    ]


def _gone(error: ClientError) -> bool:
    """SageMaker answers a describe of something deleted with a ValidationException "Could not find"."""
    details = error.response.get("Error", {})
    return details.get("Code") == "ValidationException" and "Could not find" in str(details.get("Message"))


def _describe(
    describe: Callable[..., Any], operation: str, what: str, **parameters: Any
) -> dict[str, Any] | None:
    """`describe(**parameters)`, or None when what it describes is gone."""
    with reading(f"SageMaker {operation} {what}"):
        try:
            return dict(describe(**parameters))
        except ClientError as error:
            if _gone(error):
                return None
            raise


def _model_references(client: Any, models: MutableMapping[str, list[str]]) -> list[ImageReference]:
    with reading("SageMaker ListModels"):
        summaries = pages(client, "list_models", "Models", page_size=SAGEMAKER_PAGE_SIZE)
    references: list[ImageReference] = []
    for summary in summaries:
        name = summary["ModelName"]
        key = f"{summary['ModelArn']}@{summary['CreationTime'].isoformat()}"
        images = models.get(key)
        if images is None:
            model = _describe(client.describe_model, "DescribeModel", name, ModelName=name)
            if model is None:
                continue
            containers = [model.get("PrimaryContainer"), *(model.get("Containers") or [])]
            images = models[key] = [str(c["Image"]) for c in containers if c and c.get("Image")]
        source = f"SageMaker model {name}"
        references += [reference_at(image, source, f"{source}: ") for image in images]
    return references


def _endpoint_references(client: Any) -> list[ImageReference]:
    with reading("SageMaker ListEndpoints"):
        names = [
            e["EndpointName"]
            for e in pages(client, "list_endpoints", "Endpoints", page_size=SAGEMAKER_PAGE_SIZE)
        ]
    references: list[ImageReference] = []
    for name in names:
        endpoint = _describe(client.describe_endpoint, "DescribeEndpoint", name, EndpointName=name)
        for variant in [
            *(endpoint or {}).get("ProductionVariants", []),
            *(endpoint or {}).get("ShadowProductionVariants", []),
        ]:
            source = f"SageMaker endpoint {name} variant {variant.get('VariantName', '?')}"
            references += _deployed(variant.get("DeployedImages") or [], source)
    return references


def _component_references(client: Any) -> list[ImageReference]:
    with reading("SageMaker ListInferenceComponents"):
        names = [
            c["InferenceComponentName"]
            for c in pages(
                client, "list_inference_components", "InferenceComponents", page_size=SAGEMAKER_PAGE_SIZE
            )
        ]
    references: list[ImageReference] = []
    for name in names:
        component = (
            _describe(
                client.describe_inference_component,
                "DescribeInferenceComponent",
                name,
                InferenceComponentName=name,
            )
            or {}
        )
        specifications = [component.get("Specification"), *(component.get("Specifications") or [])]
        source = f"SageMaker inference component {name}"
        for specification in filter(None, specifications):
            deployed = (specification.get("Container") or {}).get("DeployedImage")
            references += _deployed([deployed] if deployed else [], source)
    return references


def _deployed(images: Iterable[Mapping[str, Any]], source: str) -> list[ImageReference]:
    """The image as specified (its tag) and as resolved (its digest)."""
    references = []
    for image in images:
        for text in (image.get("SpecifiedImage"), image.get("ResolvedImage")):
            if text:
                references.append(reference_at(str(text), source, f"{source}: "))
    return references
