"""AWS Batch job definitions: the named patches of moto's Batch.

DescribeJobDefinitions paged and by name:revision, and each revision kept as registered.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from tests.support.moto_patches.paging import (
    _SEQ_ATTR,
    _listing,
    _max_results,
    _page,
    _stamp,
)
from tests.support.moto_patches.registry import _patch

BATCH_MAX_RESULTS = 100
"""DescribeJobDefinitions: maxResults 1..100, 100 when not given; jobDefinitions lists up to 100."""


def _batch_invalid(member: str, constraint: str) -> Exception:
    from moto.batch.exceptions import ClientException

    return ClientException(f"Invalid parameter at '{member}' failed to satisfy constraint: '{constraint}'")


@_patch(
    "Batch DescribeJobDefinitions ignores maxResults/nextToken (returns every revision) and takes "
    "jobDefinitions with other parameters or above 100 entries; page it like Batch: default 100, "
    "1..100, cursor tokens, jobDefinitions (up to 100) only on its own."
)
def batch_describe_job_definitions_pagination() -> None:
    from moto.batch.responses import BatchResponse

    def describejobdefinitions(self: BatchResponse) -> str:
        name = self._get_param("jobDefinitionName")
        listed = self._get_param("jobDefinitions")
        status = self._get_param("status")
        raw_max_results = self._get_param("maxResults")
        next_token = self._get_param("nextToken")
        if listed:
            if len(listed) > BATCH_MAX_RESULTS:
                raise _batch_invalid(
                    "jobDefinitions", f"Member must have length less than or equal to {BATCH_MAX_RESULTS}"
                )
            if name is not None or status is not None or raw_max_results is not None or next_token:
                raise _batch_invalid("jobDefinitions", "Cannot be used with other parameters")
        max_results = _max_results(
            raw_max_results, BATCH_MAX_RESULTS, maximum=BATCH_MAX_RESULTS, invalid=_batch_invalid
        )
        backend = self.batch_backend
        found = backend.describe_job_definitions(name, listed, status)
        _stamp(backend._job_definitions.values())
        page, token = _page(
            (((getattr(definition, _SEQ_ATTR),), definition) for definition in found),
            scope=f"describe_job_definitions:{self.current_account}:{self.region}:{name}:{status}",
            next_token=next_token,
            max_results=max_results,
            invalid=_batch_invalid,
        )
        return json.dumps(_listing("jobDefinitions", [definition.describe() for definition in page], token))

    BatchResponse.describejobdefinitions = describejobdefinitions  # type: ignore[method-assign]


@_patch(
    "Batch DescribeJobDefinitions finds no jobDefinitions entry of the form name:revision (only ARNs); "
    "Batch takes either."
)
def batch_describe_job_definitions_by_name_revision() -> None:
    from moto.batch.models import BatchBackend

    original = BatchBackend.describe_job_definitions

    @functools.wraps(original)
    def describe_job_definitions(
        self: BatchBackend,
        job_def_name: str | None = None,
        job_def_list: list[str] | None = None,
        status: str | None = None,
    ) -> Any:
        if job_def_list:
            resolved = []
            for entry in job_def_list:
                name, _, revision = entry.partition(":")
                found = None
                if not entry.startswith("arn:") and revision.isdigit():
                    found = self.get_job_definition_by_name_revision(name, revision)
                resolved.append(found.arn if found is not None else entry)
            job_def_list = resolved
        return original(self, job_def_name, job_def_list, status)

    BatchBackend.describe_job_definitions = describe_job_definitions  # type: ignore[method-assign]


@_patch(
    "Batch RegisterJobDefinition does not keep a revision as registered: it inherits the previous "
    "revision's containerProperties, eksProperties, parameters and more, refuses ecsProperties, and "
    "DescribeJobDefinitions leaves out nodeProperties; keep and return each revision as registered."
)
def batch_job_definitions_as_registered() -> None:
    from moto.batch.exceptions import ClientException
    from moto.batch.models import BatchBackend, JobDefinition
    from moto.batch.responses import BatchResponse

    create = JobDefinition.__init__

    @functools.wraps(create)
    def __init__(
        self: JobDefinition, *args: Any, ecs_properties: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        self.ecs_properties = ecs_properties  # type: ignore[attr-defined]
        create(self, *args, **kwargs)

    validate = JobDefinition._validate

    def _validate(self: JobDefinition) -> None:
        ecs_properties = getattr(self, "ecs_properties", None)
        if (
            self.type != "container"
            or ecs_properties is None
            or self.container_properties
            or self.eks_properties
        ):
            validate(self)
            return
        containers = [
            container
            for task in ecs_properties.get("taskProperties", [])
            for container in task.get("containers", [])
        ]
        if not containers or any("image" not in container for container in containers):
            raise ClientException("ecsProperties.taskProperties must contain containers, each with an image")

    describe = JobDefinition.describe

    def describe_definition(self: JobDefinition) -> dict[str, Any]:
        result = describe(self)
        for member, value in (
            ("nodeProperties", self.node_properties),
            ("ecsProperties", getattr(self, "ecs_properties", None)),
        ):
            if value is not None:
                result[member] = value
        return result

    def register_job_definition(
        self: BatchBackend,
        *,
        def_name: str,
        parameters: dict[str, Any],
        _type: str,
        tags: dict[str, str],
        retry_strategy: dict[str, Any],
        container_properties: dict[str, Any] | None,
        node_properties: dict[str, Any] | None,
        eks_properties: dict[str, Any] | None,
        timeout: dict[str, int],
        platform_capabilities: list[str],
        propagate_tags: bool,
        ecs_properties: dict[str, Any] | None = None,
    ) -> JobDefinition:
        if def_name is None:
            raise ClientException("jobDefinitionName must be provided")
        if retry_strategy is not None:
            for strategy in retry_strategy.get("evaluateOnExit", []):
                if "action" in strategy:
                    strategy["action"] = strategy["action"].lower()  # as moto does
        latest = self.get_job_definition_by_name(def_name)
        definition = JobDefinition(  # type: ignore[abstract,call-arg]
            def_name,
            parameters,
            _type,
            container_properties,
            node_properties=node_properties,
            eks_properties=eks_properties,
            ecs_properties=ecs_properties,
            tags=tags or {},
            retry_strategy=retry_strategy,
            timeout=timeout,
            backend=self,
            platform_capabilities=platform_capabilities,
            propagate_tags=propagate_tags,
            revision=latest.revision if latest is not None else 0,
        )
        self._job_definitions[definition.arn] = definition
        return definition

    def registerjobdefinition(self: BatchResponse) -> str:
        definition = self.batch_backend.register_job_definition(  # type: ignore[call-arg]
            def_name=self._get_param("jobDefinitionName"),
            parameters=self._get_param("parameters"),
            _type=self._get_param("type"),
            tags=self._get_param("tags"),
            retry_strategy=self._get_param("retryStrategy"),
            container_properties=self._get_param("containerProperties"),
            node_properties=self._get_param("nodeProperties"),
            eks_properties=self._get_param("eksProperties"),
            ecs_properties=self._get_param("ecsProperties"),
            timeout=self._get_param("timeout"),
            platform_capabilities=self._get_param("platformCapabilities"),
            propagate_tags=self._get_param("propagateTags"),
        )
        return json.dumps(
            {
                "jobDefinitionArn": definition.arn,
                "jobDefinitionName": definition.name,
                "revision": definition.revision,
            }
        )

    JobDefinition.__init__ = __init__  # type: ignore[method-assign]
    JobDefinition._validate = _validate  # type: ignore[method-assign]
    JobDefinition.describe = describe_definition  # type: ignore[method-assign]
    BatchBackend.register_job_definition = register_job_definition  # type: ignore[method-assign,assignment]
    BatchResponse.registerjobdefinition = registerjobdefinition  # type: ignore[method-assign]
