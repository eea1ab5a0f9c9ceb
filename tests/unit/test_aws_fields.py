"""Every field the usage readers take from an AWS answer is one that AWS returns: checked against
botocore's service models, so that a reader written against the emulation cannot read a field the
emulation made up."""

from __future__ import annotations

import botocore.session
import pytest

READ_FIELDS = [
    ("ecs", "DescribeServices", "services[].currentServiceDeployment"),
    ("ecs", "DescribeServices", "services[].currentServiceRevisions[].arn"),
    ("ecs", "ListServiceDeployments", "serviceDeployments[].serviceDeploymentArn"),
    ("ecs", "ListServiceDeployments", "nextToken"),
    ("ecs", "DescribeServiceDeployments", "serviceDeployments[].status"),
    ("ecs", "DescribeServiceDeployments", "serviceDeployments[].targetServiceRevision.arn"),
    ("ecs", "DescribeServiceDeployments", "serviceDeployments[].sourceServiceRevisions[].arn"),
    ("ecs", "DescribeServiceDeployments", "serviceDeployments[].rollback.serviceRevisionArn"),
    ("ecs", "DescribeServiceDeployments", "failures[].reason"),
    ("ecs", "DescribeServiceRevisions", "serviceRevisions[].serviceRevisionArn"),
    ("ecs", "DescribeServiceRevisions", "serviceRevisions[].containerImages[].image"),
    ("ecs", "DescribeServiceRevisions", "serviceRevisions[].containerImages[].imageDigest"),
    ("ecs", "DescribeServiceRevisions", "failures[].arn"),
    ("sagemaker", "ListModels", "Models[].ModelName"),
    ("sagemaker", "ListModels", "Models[].ModelArn"),
    ("sagemaker", "ListModels", "Models[].CreationTime"),
    ("sagemaker", "DescribeModel", "PrimaryContainer.Image"),
    ("sagemaker", "DescribeModel", "Containers[].Image"),
    ("sagemaker", "ListEndpoints", "Endpoints[].EndpointName"),
    ("sagemaker", "DescribeEndpoint", "ProductionVariants[].VariantName"),
    ("sagemaker", "DescribeEndpoint", "ProductionVariants[].DeployedImages[].SpecifiedImage"),
    ("sagemaker", "DescribeEndpoint", "ProductionVariants[].DeployedImages[].ResolvedImage"),
    ("sagemaker", "DescribeEndpoint", "ShadowProductionVariants[].DeployedImages[].ResolvedImage"),
    ("sagemaker", "ListInferenceComponents", "InferenceComponents[].InferenceComponentName"),
    ("sagemaker", "DescribeInferenceComponent", "Specification.Container.DeployedImage.ResolvedImage"),
    ("sagemaker", "DescribeInferenceComponent", "Specifications[].Container.DeployedImage.SpecifiedImage"),
    ("codebuild", "ListProjects", "projects[]"),
    ("codebuild", "BatchGetProjects", "projects[].name"),
    ("codebuild", "BatchGetProjects", "projects[].environment.image"),
]


def shape_at(service: str, operation: str, path: str) -> object:
    """The botocore shape at `path` of the operation's output (`[]` steps into a list's member)."""
    model = botocore.session.get_session().get_service_model(service)
    shape = model.operation_model(operation).output_shape
    for step in path.split("."):
        name, _, rest = step.partition("[")
        if name:
            assert shape.type_name == "structure", f"{path}: {name} is not in a structure"
            assert name in shape.members, f"{service} {operation} returns no {path} ({name} unknown)"
            shape = shape.members[name]
        for _ in range(rest.count("]")):
            assert shape.type_name == "list", f"{path}: {name} is not a list"
            shape = shape.member
    return shape


@pytest.mark.parametrize(
    ("service", "operation", "path"), READ_FIELDS, ids=[f"{o} {p}" for _, o, p in READ_FIELDS]
)
def test_each_field_a_reader_takes_is_in_the_answer_aws_documents(
    service: str, operation: str, path: str
) -> None:
    assert shape_at(service, operation, path) is not None


def test_a_made_up_field_is_caught() -> None:
    with pytest.raises(AssertionError, match="returns no services\\[\\]\\.deployedImages"):
        shape_at("ecs", "DescribeServices", "services[].deployedImages")
