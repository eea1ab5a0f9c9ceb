"""A central registry, workloads in another account: `tests/terraform/accounts` applies the module and
`modules/usage-reader` (in a second moto account, through a role the provider assumes), and an
execution keeps exactly the images the workload account's ECS service runs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.backends import get_backend
from parliament import analyze_policy_string
from pytest_terraform import terraform

from tests.module.conftest import execute
from tests.support.ecr_seed import (
    DEFAULT_REGION,
    create_repository,
    days_ago,
    ecr_backend,
    push_image,
    remaining_digests,
    role_credentials,
)
from tests.support.moto_server import MotoServer

pytestmark = pytest.mark.module

CENTRAL = "123456789012"
WORKLOAD = "210987654321"
HOST = f"{CENTRAL}.dkr.ecr.{DEFAULT_REGION}.amazonaws.com"


@pytest.fixture(scope="session")
def workload_admin(terraform_environment: dict[str, str]) -> str:
    """The role in the workload account that Terraform's second provider assumes."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{CENTRAL}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = get_backend("iam")[WORKLOAD]["aws"].create_role(
        role_name="workload-admin",
        assume_role_policy_document=json.dumps(trust),
        path="/",
        permissions_boundary=None,
        description="",
        tags=[],
        max_session_duration="3600",
        linked_service=None,
    )
    return str(role.arn)


terraform("accounts", scope="session")


@pytest.fixture(scope="session")
def applied(workload_admin: str, accounts: Any) -> Any:
    """The root applied once the workload account's admin role exists."""
    return accounts


@pytest.fixture
def workload_service(applied: Any, moto_server: MotoServer) -> Iterator[dict[str, str]]:
    """`central-app` with three old builds; an ECS service in the workload account runs b2."""
    create_repository("central-app")
    builds = {
        f"b{n}": push_image("central-app", tags=[f"b{n}"], pushed_at=days_ago(100 - n)) for n in (1, 2, 3)
    }
    admin = role_credentials(f"arn:aws:iam::{WORKLOAD}:role/workload-admin")
    ecs = boto3.client("ecs", region_name=DEFAULT_REGION, endpoint_url=moto_server.endpoint_url, **admin)
    ecs.create_cluster(clusterName="prod")
    container = {"name": "main", "image": f"{HOST}/central-app:b2", "memory": 64}
    ecs.register_task_definition(family="api", containerDefinitions=[container])
    ecs.create_service(cluster="prod", serviceName="api", taskDefinition="api", desiredCount=1)
    yield builds
    ecs.delete_service(cluster="prod", service="api", force=True)
    ecs.delete_cluster(cluster="prod")
    ecr_backend().delete_repository("central-app", None, force=True)


def test_the_reader_role_lives_in_the_workload_account_and_trusts_only_the_cleanup(applied: Any) -> None:
    entry = applied.outputs["in_use_account"]["value"]
    assert entry["role_arn"] == f"arn:aws:iam::{WORKLOAD}:role/ecr-cleanup-usage-reader"
    assert entry["external_id"] == "central-ecr-cleanup"
    role = get_backend("iam")[WORKLOAD]["aws"].get_role("ecr-cleanup-usage-reader")
    trust = json.loads(role.assume_role_policy_document)
    [statement] = trust["Statement"]
    assert (
        statement["Principal"]["AWS"] == f"arn:aws:iam::{CENTRAL}:role/ecr-cleanup-accounts-us-east-1-lambda"
    )
    assert statement["Condition"]["StringEquals"]["sts:ExternalId"] == "central-ecr-cleanup"


def test_the_reader_role_reads_what_the_cleanup_reads_and_passes_parliament(applied: Any) -> None:
    role = get_backend("iam")[WORKLOAD]["aws"].get_role("ecr-cleanup-usage-reader")
    document = role.policies["read-images-in-use"]
    statements = {statement["Sid"]: statement for statement in json.loads(document)["Statement"]}
    assert set(statements) >= {
        "FindEcsWorkloads",
        "ReadEcsWorkloads",
        "ReadServiceDeployments",
        "FindSageMakerImages",
        "ReadSageMakerImages",
        "FindCodeBuildImages",
        "ReadCodeBuildImages",
        "FindFunctions",
        "ReadFunctions",
    }
    assert set(statements["ReadServiceDeployments"]["Action"]) == {
        "ecs:ListServiceDeployments",
        "ecs:DescribeServiceDeployments",
        "ecs:DescribeServiceRevisions",
    }
    entry = applied.outputs["in_use_account"]["value"]
    assert (entry["sagemaker"], entry["codebuild"]) == (True, True)
    findings = analyze_policy_string(document, ignore_private_auditors=True).findings
    assert [f"{f.issue}: {f.detail}" for f in findings if f.issue != "RESOURCE_STAR"] == []


def test_an_execution_keeps_what_the_workload_account_runs(
    applied: Any, moto_server: MotoServer, workload_service: dict[str, str]
) -> None:
    execution = execute(moto_server, applied, {})
    assert execution["status"] == "SUCCEEDED", execution
    assert remaining_digests("central-app") == {workload_service["b2"]}
