"""SageMaker: the named patches of moto's SageMaker.

Models listed in pages, the images each endpoint variant resolved to digests (`DeployedImages`), and
inference components, which moto does not have, with the image each one resolved.
"""

from __future__ import annotations

import functools
from typing import Any

from tests.support.moto_patches.ecr import resolved_image
from tests.support.moto_patches.paging import Cursor, _max_results, _page
from tests.support.moto_patches.registry import _patch

SAGEMAKER_MAX_RESULTS = 100
SAGEMAKER_DEFAULT_RESULTS = 10
"""ListModels and ListInferenceComponents: MaxResults 1..100, 10 when not given."""

_COMPONENTS_ATTR = "_moto_patches_inference_components"


def _sagemaker_invalid(member: str, constraint: str) -> Exception:
    from moto.sagemaker.exceptions import ValidationError

    return ValidationError(
        message=f"1 validation error detected: Value at '{member}' failed to satisfy constraint: {constraint}"
    )


def deployed_image(image: str, at: Any) -> dict[str, Any]:
    """What SageMaker reports of an image it deployed: as specified, and pinned to its digest."""
    deployed = {"SpecifiedImage": image, "ResolutionTime": at}
    resolved = resolved_image(image)
    if resolved is not None:
        deployed["ResolvedImage"] = resolved
    return deployed


def inference_components(backend: Any) -> dict[str, dict[str, Any]]:
    return vars(backend).setdefault(_COMPONENTS_ATTR, {})  # type: ignore[no-any-return]


def _paged(response: Any, key: str, keyed: list[tuple[Cursor, Any]], scope: str) -> dict[str, Any]:
    max_results = _max_results(
        response._get_param("MaxResults"),
        SAGEMAKER_DEFAULT_RESULTS,
        maximum=SAGEMAKER_MAX_RESULTS,
        invalid=_sagemaker_invalid,
        member="maxResults",
    )
    page, token = _page(
        keyed,
        scope=f"{scope}:{response.current_account}:{response.region}",
        next_token=response._get_param("NextToken"),
        max_results=max_results,
        invalid=_sagemaker_invalid,
    )
    result: dict[str, Any] = {key: page}
    if token:
        result["NextToken"] = token
    return result


@_patch(
    "SageMaker ListModels returns every model at once and ignores MaxResults/NextToken; page it as "
    "SageMaker does: default 10, 1..100, newest first."
)
def sagemaker_list_models_pagination() -> None:
    from moto.core.responses import ActionResult
    from moto.sagemaker.responses import SageMakerResponse

    def list_models(self: SageMakerResponse) -> ActionResult:
        keyed: list[tuple[Cursor, Any]] = [
            ((-round(model.creation_time.timestamp() * 1_000_000), model.model_name), model.response_object)
            for model in self.sagemaker_backend.list_models()
        ]
        return ActionResult(_paged(self, "Models", keyed, "list_models"))

    SageMakerResponse.list_models = list_models  # type: ignore[method-assign]


@_patch(
    "SageMaker DescribeEndpoint reports no DeployedImages; SageMaker resolves each container image of "
    "a variant's model to a digest when the endpoint is created and reports both "
    "(ProductionVariants[].DeployedImages[]: SpecifiedImage, ResolvedImage, ResolutionTime)."
)
def sagemaker_endpoint_deployed_images() -> None:
    from moto.core.utils import utcnow
    from moto.sagemaker.models import SageMakerModelBackend

    original = SageMakerModelBackend.create_endpoint

    @functools.wraps(original)
    def create_endpoint(
        self: SageMakerModelBackend, endpoint_name: str, endpoint_config_name: str, *args: Any, **kwargs: Any
    ) -> Any:
        endpoint = original(self, endpoint_name, endpoint_config_name, *args, **kwargs)
        now = utcnow()
        configured = self.describe_endpoint_config(endpoint_config_name)["ProductionVariants"]
        for variant, config in zip(endpoint.production_variants, configured, strict=True):
            model = self._models.get(config.get("ModelName"))
            containers = [model.primary_container, *model.containers] if model is not None else []
            images = [container["Image"] for container in containers if container and container.get("Image")]
            variant["DeployedImages"] = [deployed_image(image, now) for image in images]
        return endpoint

    SageMakerModelBackend.create_endpoint = create_endpoint  # type: ignore[method-assign]


@_patch(
    "SageMaker inference components: moto has none. Create, describe, list (paged: default 10, "
    "1..100, newest first, EndpointNameEquals) and delete them; a component that runs a container "
    "reports the image it resolved (Specification.Container.DeployedImage)."
)
def sagemaker_inference_components() -> None:
    from moto.core.responses import ActionResult, EmptyResult
    from moto.core.utils import utcnow
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.responses import SageMakerResponse

    def create(self: SageMakerResponse) -> ActionResult:
        backend = self.sagemaker_backend
        name = self._get_param("InferenceComponentName")
        endpoint = self._get_param("EndpointName")
        if endpoint not in backend.endpoints:
            raise ValidationError(message=f"Could not find endpoint '{endpoint}'.")
        if name in inference_components(backend):
            raise ValidationError(message=f"Cannot create already existing inference component '{name}'.")
        now = utcnow()
        specification = dict(self._get_param("Specification") or {})
        container = specification.pop("Container", None)
        if container:
            specification["Container"] = {
                **{key: value for key, value in container.items() if key != "Image"},
                "DeployedImage": deployed_image(container["Image"], now),
            }
        arn = f"arn:aws:sagemaker:{self.region}:{self.current_account}:inference-component/{name}"
        inference_components(backend)[name] = {
            "InferenceComponentName": name,
            "InferenceComponentArn": arn,
            "EndpointName": endpoint,
            "EndpointArn": backend.endpoints[endpoint].arn,
            "VariantName": self._get_param("VariantName"),
            "Specification": specification,
            "RuntimeConfig": self._get_param("RuntimeConfig") or {},
            "CreationTime": now,
            "LastModifiedTime": now,
            "InferenceComponentStatus": "InService",
        }
        return ActionResult({"InferenceComponentArn": arn})

    def describe(self: SageMakerResponse) -> ActionResult:
        name = self._get_param("InferenceComponentName")
        component = inference_components(self.sagemaker_backend).get(name)
        if component is None:
            raise ValidationError(message=f"Could not find inference component '{name}'.")
        return ActionResult(component)

    def listing(self: SageMakerResponse) -> ActionResult:
        endpoint = self._get_param("EndpointNameEquals")
        summary = (
            "CreationTime",
            "InferenceComponentArn",
            "InferenceComponentName",
            "EndpointArn",
            "EndpointName",
            "VariantName",
            "InferenceComponentStatus",
            "LastModifiedTime",
        )
        keyed: list[tuple[Cursor, Any]] = [
            (
                (-round(component["CreationTime"].timestamp() * 1_000_000), name),
                {key: component[key] for key in summary},
            )
            for name, component in inference_components(self.sagemaker_backend).items()
            if endpoint is None or component["EndpointName"] == endpoint
        ]
        return ActionResult(
            _paged(self, "InferenceComponents", keyed, f"list_inference_components:{endpoint}")
        )

    def delete(self: SageMakerResponse) -> Any:
        inference_components(self.sagemaker_backend).pop(self._get_param("InferenceComponentName"), None)
        return EmptyResult()

    SageMakerResponse.create_inference_component = create  # type: ignore[attr-defined]
    SageMakerResponse.describe_inference_component = describe  # type: ignore[attr-defined]
    SageMakerResponse.list_inference_components = listing  # type: ignore[attr-defined]
    SageMakerResponse.delete_inference_component = delete  # type: ignore[attr-defined]
