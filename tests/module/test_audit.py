"""Audit outputs and images in use, as the module wires them: IAM grants, environment, reports, summary.

Two kinds of test. The plan tests plan `tests/terraform/validation` with different inputs and read the
Lambda role's policy and the functions' environment from the plan: every conditional grant appears
exactly when its input asks for it. The execution tests apply `tests/terraform/audit` (a report
bucket, an SNS topic and two usage sources created next to the module), run the state machine and
read what landed in S3 and what SNS received.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from moto.backends import get_backend
from moto.core.models import DEFAULT_ACCOUNT_ID
from pytest_terraform import terraform

from tests.module.conftest import execute, plan_again, plan_cases, wait_for
from tests.support.ecr_seed import (
    DEFAULT_REGION,
    create_repository,
    days_ago,
    ecr_backend,
    push_image,
    remaining_digests,
)
from tests.support.faults import Fault, injecting
from tests.support.moto_server import MotoServer

pytestmark = pytest.mark.module

terraform("audit", scope="session")

ACCOUNT = DEFAULT_ACCOUNT_ID
REGION = DEFAULT_REGION
FUNCTIONS = ("list", "cleanup", "summarise")
RULE = {"tag_patterns": ["dev-*"], "older_than_days": 30}
CSV_HEADER = ["repository", "digest", "action", "tags", "pushed_at", "size", "reason", "removed", "region"]
SUMMARY_KEYS = {
    "now",
    "dry_run",
    "repositories",
    "failed",
    "failed_count",
    "images",
    "delete",
    "deleted",
    "archive",
    "archived",
    "archived_bytes",
    "untag",
    "untagged",
    "tags_removed",
    "deferred",
    "bytes",
    "message",
    "savings",
    "report",
    "report_html",
}

################################################################################
# Plan: the grants and the environment each input produces
################################################################################

TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:cleanup-reports"
OTHER_PARAMETER = "arn:aws:ssm:eu-west-1:210987654321:parameter/shared/images"
READER = "arn:aws:iam::210987654321:role/ecr-cleanup-usage-reader"
OTHER_READER = "arn:aws:iam::310987654321:role/reader"
PLAN_CASES: dict[str, dict[str, Any]] = {
    "default": {"name": "ecr-cleanup", "policy": {"rules": [RULE]}},
    "sources": {
        "policy": {
            "rules": [RULE],
            "protect": {
                "in_use_sources": [
                    "s3://deployments/ecr/in-use.json",
                    "ssm:/team-a/images-in-use",
                    "ssm:images-in-use",
                    OTHER_PARAMETER,
                ]
            },
        }
    },
    "no_in_use": {
        "policy": {"rules": [RULE], "protect": {"in_use": False, "in_use_sources": ["ssm:/ignored"]}}
    },
    "no_revisions": {"policy": {"rules": [RULE], "protect": {"task_definition_revisions": 0}}},
    "archives": {
        "policy": {"rules": [{**RULE, "action": "archive"}, {"image_status": "archived", "keep_latest": 9}]}
    },
    "no_exclusion": {"policy": {"rules": [RULE]}, "exclude_own_pulls": False},
    "dry_run": {"policy": {"rules": [RULE]}, "dry_run": True},
    "eks": {
        "policy": {"rules": [RULE], "protect": {"in_use_eks": ["prod-*"]}},
        "eks_access_clusters": ["prod-eu", "prod-us"],
        "lambda_vpc_config": {"subnet_ids": ["subnet-0a1b2c3d"], "security_group_ids": ["sg-0a1b2c3d"]},
    },
    "accounts": {
        "policy": {
            "rules": [RULE],
            "protect": {
                "in_use_accounts": [
                    {"role_arn": READER},
                    {"role_arn": OTHER_READER, "regions": ["eu-west-1"]},
                ]
            },
        }
    },
    "reports": {
        "policy": {"rules": [RULE]},
        "report_bucket": "audit.example-bucket",
        "report_prefix": "ecr/cleanup/",
        "notification_topic_arn": TOPIC,
        "metrics_namespace": "Platform/ECR",
    },
    "keep_forever": {"policy": {"rules": [RULE]}, "report_retention_days": 0},
    "no_sagemaker_codebuild": {
        "policy": {"rules": [RULE], "protect": {"in_use_sagemaker": False, "in_use_codebuild": False}}
    },
    "own_bucket": {"policy": {"rules": [RULE]}, "report_bucket": "audit-bucket"},
    "no_lifecycle_check": {"policy": {"rules": [RULE]}, "check_native_lifecycle": False},
    "regions": {
        "policy": {"repositories": {"include": ["app-*"]}, "rules": [RULE]},
        "regions": [REGION, "eu-west-1"],
        "replicas_follow_source": True,
    },
}


class Planned:
    """What a plan of one instance of the module would create: the roles' statements, the
    functions' environment, the bucket."""

    def __init__(self, resources: dict[str, dict[str, Any]]) -> None:
        self.resources_planned = resources
        self.statements = _statements_by_sid(resources["aws_iam_role_policy.lambda"]["policy"])
        self.state_machine_statements = _statements_by_sid(resources["aws_iam_role_policy.states"]["policy"])
        self.environments = {
            key: _environment(resources[f'aws_lambda_function.this["{key}"]']) for key in FUNCTIONS
        }

    def actions(self, sid: str) -> set[str]:
        return set(_as_list(self.statements[sid]["Action"]))

    def resources(self, sid: str) -> set[str]:
        return set(_as_list(self.statements[sid]["Resource"]))


def _statements_by_sid(policy: str) -> dict[str, dict[str, Any]]:
    return {statement["Sid"]: statement for statement in json.loads(policy)["Statement"]}


def _environment(function: dict[str, Any]) -> dict[str, str] | None:
    blocks = function.get("environment") or []
    return dict(blocks[0]["variables"]) if blocks else None


@pytest.fixture(scope="module")
def planned(
    terraform_environment: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Planned]:
    """Every case of `PLAN_CASES`, planned in one run."""
    result = plan_cases(terraform_environment, tmp_path_factory.mktemp("audit-plans"), PLAN_CASES)
    assert result.returncode == 0, result.output
    return {case: Planned(resources) for case, resources in result.planned.items()}


ECS_LAMBDA_LISTINGS = {
    "ecs:ListClusters",
    "ecs:ListServices",
    "ecs:ListTasks",
    "ecs:DescribeTaskDefinition",
    "lambda:ListFunctions",
}


OWN_BUCKET = f"ecr-cleanup-{ACCOUNT}-{REGION}"


def test_by_default_the_role_reads_manifests_finds_images_in_use_and_keeps_run_data_in_its_own_bucket(
    planned: dict[str, Planned],
) -> None:
    default = planned["default"]

    assert set(default.statements) == {
        "ListRepositories",
        "CleanUpSelectedRepositories",
        "ReadLifecyclePolicies",
        "WriteOwnLogs",
        "FindImagesInUse",
        "ReadWorkloadsInUse",
        "FindScheduledTasks",
        "ReadScheduledTasks",
        "FindRecentRevisions",
        "ReadServiceDeployments",
        "FindSageMakerImages",
        "ReadSageMakerImages",
        "FindCodeBuildImages",
        "ReadCodeBuildImages",
        "ExcludeOwnPulls",
        "FindRunningExecutions",
        "ReadRunningExecutions",
        "ReadWriteRunData",
        "ListRunResults",
    }
    assert default.resources("ListRepositories") == {f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/*"}
    assert default.actions("CleanUpSelectedRepositories") == {
        "ecr:BatchDeleteImage",
        "ecr:BatchGetImage",
        "ecr:DescribeImages",
    }
    # Read-only, and "*" only for the calls IAM cannot scope.
    assert default.actions("FindImagesInUse") == ECS_LAMBDA_LISTINGS
    assert default.resources("FindImagesInUse") == {"*"}
    assert default.actions("ReadWorkloadsInUse") == {
        "ecs:DescribeServices",
        "ecs:DescribeTasks",
        "lambda:GetFunction",
    }
    assert default.resources("ReadWorkloadsInUse") == {
        f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/*",
        f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/*",
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:*",
    }
    assert default.actions("ReadWriteRunData") == {"s3:GetObject", "s3:PutObject"}
    assert default.resources("ReadWriteRunData") == {f"arn:aws:s3:::{OWN_BUCKET}/ecr-cleanup/*"}
    assert default.actions("ListRunResults") == {"s3:ListBucket"}
    assert default.resources("ListRunResults") == {f"arn:aws:s3:::{OWN_BUCKET}"}
    assert default.statements["ListRunResults"]["Condition"] == {"StringLike": {"s3:prefix": "ecr-cleanup/*"}}
    every_action = {action for sid in default.statements for action in default.actions(sid)}
    assert not {action for action in every_action if action.startswith(("ssm:", "sns:"))}
    expected = {
        "REPORT_BUCKET": OWN_BUCKET,
        "REPORT_PREFIX": "ecr-cleanup/",
        "METRICS_NAMESPACE": "ECRCleanup",
        "USAGE_MAX_AGE_MINUTES": "15",
        "EXCLUDE_OWN_PULLS": "true",
        "LAMBDA_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/ecr-cleanup-{REGION}-lambda",
        "REGIONS": REGION,
        "REPLICAS_FOLLOW_SOURCE": "false",
        "STORAGE_PRICE_PER_GB_MONTH": "0.1",
        "ARCHIVE_PRICE_PER_GB_MONTH": "0.1",
        "CHECK_NATIVE_LIFECYCLE": "true",
    }
    assert list(default.environments.values()) == [expected] * len(FUNCTIONS)


def test_with_regions_every_regional_grant_names_each_listed_region_and_no_other(
    planned: dict[str, Planned],
) -> None:
    regions = planned["regions"]
    both = (REGION, "eu-west-1")
    assert regions.resources("ListRepositories") == {
        f"arn:aws:ecr:{region}:{ACCOUNT}:repository/*" for region in both
    }
    assert regions.resources("CleanUpSelectedRepositories") == {
        f"arn:aws:ecr:{region}:{ACCOUNT}:repository/app-*" for region in both
    }
    assert regions.resources("ReadWorkloadsInUse") == {
        arn
        for region in both
        for arn in (
            f"arn:aws:ecs:{region}:{ACCOUNT}:service/*",
            f"arn:aws:ecs:{region}:{ACCOUNT}:task/*",
            f"arn:aws:lambda:{region}:{ACCOUNT}:function:*",
        )
    }
    assert regions.resources("ReadCodeBuildImages") == {
        f"arn:aws:codebuild:{region}:{ACCOUNT}:project/*" for region in both
    }
    assert regions.actions("ReadReplication") == {"ecr:DescribeRegistry"}
    assert "ReadReplication" not in planned["default"].statements
    assert regions.resources("ReadWriteRunData") == {
        f"arn:aws:s3:::regions-{ACCOUNT}-{REGION}/ecr-cleanup/*"
    }, "one bucket, in the region the module is deployed in"
    environment = regions.environments["list"]
    assert environment is not None
    assert environment["REGIONS"] == f"{REGION},eu-west-1"
    assert environment["REPLICAS_FOLLOW_SOURCE"] == "true"


def test_lifecycle_policies_are_read_on_the_cleaned_repositories_unless_the_check_is_off(
    planned: dict[str, Planned],
) -> None:
    default = planned["default"]
    assert default.actions("ReadLifecyclePolicies") == {"ecr:GetLifecyclePolicy"}
    assert default.resources("ReadLifecyclePolicies") == default.resources("CleanUpSelectedRepositories")
    off = planned["no_lifecycle_check"]
    assert "ReadLifecyclePolicies" not in off.statements
    environment = off.environments["cleanup"]
    assert environment is not None
    assert environment["CHECK_NATIVE_LIFECYCLE"] == "false"


def test_dormant_workloads_are_found_with_read_only_listings_and_reads_in_this_account(
    planned: dict[str, Planned],
) -> None:
    default = planned["default"]
    assert default.actions("FindScheduledTasks") == {
        "events:ListEventBuses",
        "events:ListRules",
        "scheduler:ListSchedules",
    }
    assert default.actions("ReadScheduledTasks") == {"events:ListTargetsByRule", "scheduler:GetSchedule"}
    assert default.resources("ReadScheduledTasks") == {
        f"arn:aws:events:{REGION}:{ACCOUNT}:rule/*",
        f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/*",
    }
    assert default.actions("FindRecentRevisions") == {
        "batch:DescribeJobDefinitions",
        "ecs:ListTaskDefinitionFamilies",
        "ecs:ListTaskDefinitions",
    }


def test_the_digests_ecs_deployments_resolved_are_read_on_this_accounts_services_only(
    planned: dict[str, Planned],
) -> None:
    default = planned["default"]
    assert default.actions("ReadServiceDeployments") == {
        "ecs:ListServiceDeployments",
        "ecs:DescribeServiceDeployments",
        "ecs:DescribeServiceRevisions",
    }
    assert default.resources("ReadServiceDeployments") == {
        f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/*",
        f"arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/*",
        f"arn:aws:ecs:{REGION}:{ACCOUNT}:service-revision/*",
    }


def test_sagemaker_and_codebuild_are_listed_and_read_in_this_account_only(
    planned: dict[str, Planned],
) -> None:
    default = planned["default"]
    assert default.actions("FindSageMakerImages") == {
        "sagemaker:ListModels",
        "sagemaker:ListEndpoints",
        "sagemaker:ListInferenceComponents",
    }
    assert default.resources("FindSageMakerImages") == {"*"}
    assert default.actions("ReadSageMakerImages") == {
        "sagemaker:DescribeModel",
        "sagemaker:DescribeEndpoint",
        "sagemaker:DescribeInferenceComponent",
    }
    assert default.resources("ReadSageMakerImages") == {
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model/*",
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/*",
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:inference-component/*",
    }
    assert default.actions("FindCodeBuildImages") == {"codebuild:ListProjects"}
    assert default.actions("ReadCodeBuildImages") == {"codebuild:BatchGetProjects"}
    assert default.resources("ReadCodeBuildImages") == {f"arn:aws:codebuild:{REGION}:{ACCOUNT}:project/*"}


def test_sagemaker_and_codebuild_turned_off_grant_no_reads(planned: dict[str, Planned]) -> None:
    every_action = {
        action
        for sid in planned["no_sagemaker_codebuild"].statements
        for action in planned["no_sagemaker_codebuild"].actions(sid)
    }
    assert not {action for action in every_action if action.startswith(("sagemaker:", "codebuild:"))}
    assert "ReadServiceDeployments" in planned["no_sagemaker_codebuild"].statements


def test_eks_clusters_are_listed_and_described_and_read_through_access_entries(
    planned: dict[str, Planned],
) -> None:
    eks = planned["eks"]
    assert eks.actions("FindEksClusters") == {"eks:ListClusters"}
    assert eks.actions("ReadEksClusters") == {"eks:DescribeCluster"}
    assert eks.resources("ReadEksClusters") == {f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/*"}
    entries = {
        address: resource
        for address, resource in eks.resources_planned.items()
        if address.startswith("aws_eks_access_policy_association.this")
    }
    assert {resource["cluster_name"] for resource in entries.values()} == {"prod-eu", "prod-us"}
    assert {resource["policy_arn"] for resource in entries.values()} == {
        "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
    }
    assert "aws_iam_role_policy_attachment.vpc[0]" in eks.resources_planned
    assert not {"FindEksClusters", "ReadEksClusters"} & set(planned["default"].statements)
    assert not any(address.startswith("aws_eks_") for address in planned["default"].resources_planned)


def test_other_accounts_are_read_through_exactly_the_roles_the_policy_lists(
    planned: dict[str, Planned],
) -> None:
    accounts = planned["accounts"]
    assert accounts.actions("ReadOtherAccounts") == {"sts:AssumeRole"}
    assert accounts.resources("ReadOtherAccounts") == {READER, OTHER_READER}
    assert "ReadOtherAccounts" not in planned["default"].statements


def test_a_run_may_read_only_the_executions_of_its_own_state_machine(planned: dict[str, Planned]) -> None:
    default = planned["default"]
    assert default.actions("FindRunningExecutions") == {"states:ListExecutions"}
    assert default.resources("FindRunningExecutions") == {
        f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:ecr-cleanup"
    }
    assert default.actions("ReadRunningExecutions") == {"states:DescribeExecution"}
    assert default.resources("ReadRunningExecutions") == {
        f"arn:aws:states:{REGION}:{ACCOUNT}:execution:ecr-cleanup:*"
    }


def test_a_module_that_only_dry_runs_does_not_look_for_other_runs(planned: dict[str, Planned]) -> None:
    statements = planned["dry_run"].statements
    assert "FindRunningExecutions" not in statements
    assert "ReadRunningExecutions" not in statements


def test_without_revisions_the_role_lists_no_task_or_job_definitions(planned: dict[str, Planned]) -> None:
    statements = planned["no_revisions"].statements
    assert "FindRecentRevisions" not in statements
    assert "FindScheduledTasks" in statements


def test_archiving_is_granted_only_when_a_rule_archives_and_only_where_the_policy_deletes(
    planned: dict[str, Planned],
) -> None:
    archives = planned["archives"]
    assert archives.actions("ArchiveInSelectedRepositories") == {"ecr:UpdateImageStorageClass"}
    assert archives.resources("ArchiveInSelectedRepositories") == archives.resources(
        "CleanUpSelectedRepositories"
    )
    assert "ArchiveInSelectedRepositories" not in planned["default"].statements


def test_the_role_keeps_itself_out_of_pull_time_updates_unless_told_not_to(
    planned: dict[str, Planned],
) -> None:
    assert planned["default"].actions("ExcludeOwnPulls") == {
        "ecr:ListPullTimeUpdateExclusions",
        "ecr:RegisterPullTimeUpdateExclusion",
    }
    assert "ExcludeOwnPulls" not in planned["no_exclusion"].statements
    environment = planned["no_exclusion"].environments["list"]
    assert environment is not None
    assert environment["EXCLUDE_OWN_PULLS"] == "false"
    assert "LAMBDA_ROLE_ARN" not in environment


def test_each_usage_source_is_the_only_object_or_parameter_the_role_may_read(
    planned: dict[str, Planned],
) -> None:
    sources = planned["sources"]

    assert sources.actions("ReadInUseObjects") == {"s3:GetObject"}
    assert sources.resources("ReadInUseObjects") == {"arn:aws:s3:::deployments/ecr/in-use.json"}
    assert sources.actions("ReadInUseParameters") == {"ssm:GetParameter"}
    assert sources.resources("ReadInUseParameters") == {
        f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/team-a/images-in-use",
        f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/images-in-use",
        OTHER_PARAMETER,
    }


def test_without_in_use_protection_the_role_reads_no_workloads_and_no_sources(
    planned: dict[str, Planned],
) -> None:
    assert set(planned["no_in_use"].statements) == {
        "ListRepositories",
        "CleanUpSelectedRepositories",
        "ReadLifecyclePolicies",
        "WriteOwnLogs",
        "ExcludeOwnPulls",
        "FindRunningExecutions",
        "ReadRunningExecutions",
        "ReadWriteRunData",
        "ListRunResults",
    }


def test_reports_and_the_summary_are_granted_on_the_prefix_and_the_topic_only(
    planned: dict[str, Planned],
) -> None:
    reports = planned["reports"]

    assert reports.actions("ReadWriteRunData") == {"s3:GetObject", "s3:PutObject"}
    assert reports.resources("ReadWriteRunData") == {"arn:aws:s3:::audit.example-bucket/ecr/cleanup/*"}
    assert reports.resources("ListRunResults") == {"arn:aws:s3:::audit.example-bucket"}
    assert reports.actions("PublishSummary") == {"sns:Publish"}
    assert reports.resources("PublishSummary") == {TOPIC}
    expected = {
        "REPORT_BUCKET": "audit.example-bucket",
        "REPORT_PREFIX": "ecr/cleanup/",
        "NOTIFICATION_TOPIC_ARN": TOPIC,
        "METRICS_NAMESPACE": "Platform/ECR",
        "USAGE_MAX_AGE_MINUTES": "15",
        "EXCLUDE_OWN_PULLS": "true",
        "LAMBDA_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/reports-{REGION}-lambda",
        "REGIONS": REGION,
        "REPLICAS_FOLLOW_SOURCE": "false",
        "STORAGE_PRICE_PER_GB_MONTH": "0.1",
        "ARCHIVE_PRICE_PER_GB_MONTH": "0.1",
        "CHECK_NATIVE_LIFECYCLE": "true",
    }
    assert list(reports.environments.values()) == [expected] * len(FUNCTIONS)


def test_with_a_topic_a_rule_sends_every_execution_that_ends_badly_to_a_notify_function(
    planned: dict[str, Planned],
) -> None:
    resources = planned["reports"].resources_planned
    notify = resources['aws_lambda_function.this["notify"]']
    assert notify["handler"] == "ecr_cleanup.handlers.notify"
    pattern = json.loads(resources["aws_cloudwatch_event_rule.execution_ended"]["event_pattern"])
    assert pattern == {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {
            "stateMachineArn": [f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:reports"],
            "status": ["FAILED", "TIMED_OUT", "ABORTED"],
        },
    }
    permission = resources["aws_lambda_permission.execution_ended"]
    assert (permission["principal"], permission["function_name"]) == (
        "events.amazonaws.com",
        "reports-notify",
    )
    invoked = planned["reports"].state_machine_statements["InvokeOwnFunctions"]["Resource"]
    assert not [arn for arn in _as_list(invoked) if "notify" in arn], "the state machine never invokes it"


def test_by_default_the_module_creates_a_private_bucket_whose_runs_expire(
    planned: dict[str, Planned],
) -> None:
    resources = planned["default"].resources_planned

    assert resources["aws_s3_bucket.this[0]"]["bucket"] == OWN_BUCKET
    assert resources["aws_s3_bucket.this[0]"]["force_destroy"] is False
    blocked = resources["aws_s3_bucket_public_access_block.this[0]"]
    assert all(blocked[flag] for flag in ("block_public_acls", "block_public_policy", "ignore_public_acls"))
    assert blocked["restrict_public_buckets"]
    encryption = resources["aws_s3_bucket_server_side_encryption_configuration.this[0]"]["rule"][0]
    assert encryption["apply_server_side_encryption_by_default"][0]["sse_algorithm"] == "AES256"
    [expiry, _] = resources["aws_s3_bucket_lifecycle_configuration.this[0]"]["rule"]
    assert (expiry["filter"][0]["prefix"], expiry["expiration"][0]["days"]) == ("ecr-cleanup/", 365)
    [deny] = json.loads(resources["aws_s3_bucket_policy.this[0]"]["policy"])["Statement"]
    assert (deny["Effect"], deny["Condition"]) == ("Deny", {"Bool": {"aws:SecureTransport": "false"}})


def test_a_retention_of_zero_keeps_every_run(planned: dict[str, Planned]) -> None:
    resources = planned["keep_forever"].resources_planned

    assert "aws_s3_bucket.this[0]" in resources
    assert "aws_s3_bucket_lifecycle_configuration.this[0]" not in resources


def test_with_a_bucket_of_yours_the_module_creates_none(planned: dict[str, Planned]) -> None:
    own_bucket = planned["own_bucket"]

    assert not [address for address in own_bucket.resources_planned if address.startswith("aws_s3_")]
    assert own_bucket.resources("ReadWriteRunData") == {"arn:aws:s3:::audit-bucket/ecr-cleanup/*"}


def test_the_state_machine_may_run_its_group_executions_and_read_only_its_run_data(
    planned: dict[str, Planned],
) -> None:
    statements = planned["default"].state_machine_statements
    machine = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:ecr-cleanup"

    assert set(statements) == {
        "InvokeOwnFunctions",
        "StartGroupExecutions",
        "FollowGroupExecutions",
        "ReadMapItems",
        "WriteMapResults",
    }
    assert _as_list(statements["StartGroupExecutions"]["Resource"]) == [machine]
    assert _as_list(statements["FollowGroupExecutions"]["Resource"]) == [
        f"arn:aws:states:{REGION}:{ACCOUNT}:execution:ecr-cleanup/*"
    ]
    assert _as_list(statements["ReadMapItems"]["Action"]) == ["s3:GetObject"]
    assert _as_list(statements["ReadMapItems"]["Resource"]) == [f"arn:aws:s3:::{OWN_BUCKET}/ecr-cleanup/*"]
    assert _as_list(statements["WriteMapResults"]["Resource"]) == [
        f"arn:aws:s3:::{OWN_BUCKET}/ecr-cleanup/_map-runs/*"
    ]


################################################################################
# Execution: reports in S3 and the summary on SNS
################################################################################


@pytest.fixture(scope="session")
def audit_module(terraform_environment: dict[str, str], audit: Any) -> Any:
    """The applied audit root (after the environment points Terraform at moto)."""
    return audit


def output(module: Any, name: str) -> Any:
    return module.outputs[name]["value"]


@pytest.fixture
def audit_registry(audit_module: Any, moto_server: MotoServer) -> Iterator[dict[str, dict[str, str]]]:
    """`audit-api` and `audit-web`, seeded: repository -> label -> digest, and no reports yet.

    The reports of earlier runs are removed first rather than afterwards: after the last test the
    session's `terraform destroy` may already have removed the bucket.
    """
    s3 = moto_server.client("s3")
    bucket = output(audit_module, "report_bucket")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="audit/"):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=item["Key"])

    seeded: dict[str, dict[str, str]] = {}

    def push(repository: str, label: str, tags: list[str], days: float) -> None:
        seeded.setdefault(repository, {})[label] = push_image(repository, tags=tags, pushed_at=days_ago(days))

    for name in ("audit-api", "audit-web"):
        create_repository(name)
    push("audit-api", "dev-100", ["dev-100"], 100)
    push("audit-api", "dev-90", ["dev-90"], 90)
    push("audit-api", "dev-5", ["dev-5"], 5)
    push("audit-api", "latest", ["dev-200", "latest"], 200)
    push("audit-api", "pinned-s3", ["dev-80", "pinned-s3"], 80)
    push("audit-api", "pinned-ssm", ["dev-70", "pinned-ssm"], 70)
    push("audit-web", "dev-60", ["dev-60"], 60)
    push("audit-web", "dev-1", ["dev-1"], 1)
    yield seeded
    backend = ecr_backend()
    for name in [name for name in backend.repositories if name.startswith("audit-")]:
        backend.delete_repository(name, None, force=True)


EXPECTED_DELETED = {"audit-api": {"dev-100", "dev-90"}, "audit-web": {"dev-60"}}


def run_folder(execution: dict[str, Any]) -> str:
    """`audit/ecr/<YYYY/MM/DD/HHMMSSZ>-<execution>/`: the prefix, the execution's start in UTC and its
    name."""
    started: datetime = execution["startDate"]
    return f"audit/ecr/{started.astimezone(UTC):%Y/%m/%d/%H%M%S}Z-{execution['name']}/"


def reports(server: MotoServer, module: Any) -> dict[str, str]:
    """Every report object of the bucket (not the runs' working data under `_run/`): key -> body."""
    s3 = server.client("s3")
    bucket = output(module, "report_bucket")
    keys = [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="audit/")
        for item in page.get("Contents", [])
        if "/_" not in item["Key"]
    ]
    return {key: s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode() for key in keys}


class Inbox:
    """What the topic sent, read from the queue subscribed to it (SNS -> SQS), kept across tests."""

    def __init__(self, server: MotoServer, queue_url: str) -> None:
        self.sqs = server.client("sqs")
        self.queue_url = queue_url
        self.received: list[tuple[str | None, str]] = []

    def about(self, execution_name: str) -> list[tuple[str | None, str]]:
        """(subject, message) of every message that names the execution."""
        while batch := self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            for message in batch:
                body = json.loads(message["Body"])
                self.received.append((body.get("Subject"), body["Message"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return [(subject, text) for subject, text in self.received if execution_name in text]


@pytest.fixture(scope="session")
def inbox(audit_module: Any, moto_server: MotoServer) -> Inbox:
    return Inbox(moto_server, output(audit_module, "queue_url"))


def notified(server: MotoServer, function: str, execution_arn: str, timeout: float = 120) -> dict[str, Any]:
    """What the notify function logged about the execution once it has handled its end (it runs
    asynchronously, after the execution ended)."""
    logs = server.client("logs")
    deadline = time.monotonic() + timeout
    while True:
        try:
            pages = logs.get_paginator("filter_log_events").paginate(logGroupName=f"/aws/lambda/{function}")
            lines = [event["message"] for page in pages for event in page["events"]]
        except logs.exceptions.ResourceNotFoundException:
            lines = []
        for line in lines:
            if '"event": "notification"' in line and execution_arn in line:
                return dict(json.loads(line[line.index("{") :]))
        assert time.monotonic() < deadline, f"notify did not handle {execution_arn} within {timeout} s"
        time.sleep(0.2)


def notifications(module: Any) -> list[tuple[str | None, str]]:
    """(subject, message) of every message published to the root's topic, oldest first."""
    topic = output(module, "topic_arn")
    backend = get_backend("sns")[ACCOUNT][REGION]
    return [(subject, message) for _, message, subject, _, _ in backend.topics[topic].sent_notifications]


def test_the_functions_get_the_report_topic_and_metrics_settings(
    audit_module: Any, moto_server: MotoServer
) -> None:
    functions = moto_server.client("lambda")
    for name in output(audit_module, "lambda_function_names").values():
        variables = functions.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
        assert variables == {
            "REPORT_BUCKET": "ecr-cleanup-audit-reports",
            "REPORT_PREFIX": "audit/ecr/",
            "NOTIFICATION_TOPIC_ARN": output(audit_module, "topic_arn"),
            "METRICS_NAMESPACE": "ECRCleanupAudit",
            "USAGE_MAX_AGE_MINUTES": "15",
            "EXCLUDE_OWN_PULLS": "true",
            "LAMBDA_ROLE_ARN": output(audit_module, "lambda_role_arn"),
            "REGIONS": REGION,
            "REPLICAS_FOLLOW_SOURCE": "false",
            "STORAGE_PRICE_PER_GB_MONTH": "0.1",
            "ARCHIVE_PRICE_PER_GB_MONTH": "0.1",
            "CHECK_NATIVE_LIFECYCLE": "true",
        }
    assert output(audit_module, "report_location") == "s3://ecr-cleanup-audit-reports/audit/ecr/"


def test_the_applied_role_holds_every_grant_its_inputs_ask_for(
    audit_module: Any, moto_server: MotoServer
) -> None:
    iam = moto_server.client("iam")
    role = output(audit_module, "lambda_role_arn").rsplit("/", 1)[1]
    statements = {
        statement["Sid"]: statement
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]
        for statement in _document(iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"])[
            "Statement"
        ]
    }
    assert "ecr:BatchGetImage" in _as_list(statements["CleanUpSelectedRepositories"]["Action"])
    assert set(_as_list(statements["FindImagesInUse"]["Action"])) == ECS_LAMBDA_LISTINGS
    assert _as_list(statements["ReadInUseObjects"]["Resource"]) == [
        "arn:aws:s3:::ecr-cleanup-audit-reports/config/images-in-use.txt"
    ]
    assert _as_list(statements["ReadInUseParameters"]["Resource"]) == [
        f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/ecr-cleanup-audit/images-in-use"
    ]
    assert _as_list(statements["ReadWriteRunData"]["Resource"]) == [
        "arn:aws:s3:::ecr-cleanup-audit-reports/audit/ecr/*"
    ]
    assert _as_list(statements["PublishSummary"]["Resource"]) == [output(audit_module, "topic_arn")]


def emitted_metrics(server: MotoServer, functions: Any) -> set[tuple[str, tuple[str, ...], str]]:
    """(namespace, dimension names, metric name) of every EMF record the functions logged."""
    logs = server.client("logs")
    found = set()
    for name in functions.values():
        pages = logs.get_paginator("filter_log_events").paginate(logGroupName=f"/aws/lambda/{name}")
        for line in (event["message"] for page in pages for event in page["events"]):
            if '"_aws"' not in line:
                continue
            record = json.loads(line[line.index("{") :])
            for directive in record["_aws"]["CloudWatchMetrics"]:
                for dimensions in directive["Dimensions"]:
                    for metric in directive["Metrics"]:
                        found.add((directive["Namespace"], tuple(sorted(dimensions)), metric["Name"]))
    return found


def test_the_dashboard_shows_only_metrics_the_functions_emit(
    audit_module: Any, moto_server: MotoServer, audit_registry: dict[str, dict[str, str]]
) -> None:
    execution = execute(moto_server, audit_module, {})
    assert execution["status"] == "SUCCEEDED", execution
    emitted = emitted_metrics(moto_server, output(audit_module, "lambda_function_names"))
    body = json.loads(
        moto_server.client("cloudwatch").get_dashboard(DashboardName=output(audit_module, "dashboard_name"))[
            "DashboardBody"
        ]
    )
    state_machine = output(audit_module, "state_machine_arn")
    named = []
    for widget in body["widgets"]:
        assert {"type", "x", "y", "width", "height", "properties"} <= set(widget), widget
        for metric in widget["properties"].get("metrics", []):
            if isinstance(metric[0], dict):
                query = re.fullmatch(
                    r'SELECT SUM\((\w+)\) FROM SCHEMA\("([^"]+)", ([\w, ]+)\) GROUP BY [\w, ]+ '
                    r"ORDER BY SUM\(\) DESC LIMIT 20",
                    metric[0]["expression"],
                )
                assert query is not None, metric
                named.append((query[2], tuple(sorted(query[3].split(", "))), query[1]))
            elif metric[0] == "AWS/States":
                assert metric[2:] == ["StateMachineArn", state_machine], metric
            else:
                dimensions = metric[2:]
                named.append((metric[0], tuple(sorted(dimensions[0::2])), metric[1]))
    assert named, "the dashboard names metrics"
    assert {metric[0] for metric in named} == {"ECRCleanupAudit"}
    assert set(named) <= emitted, set(named) - emitted


def test_the_alarms_watch_failed_repositories_and_failed_executions_and_notify_the_actions(
    audit_module: Any, moto_server: MotoServer
) -> None:
    arns = output(audit_module, "alarm_arns")
    alarms = {
        alarm["AlarmArn"]: alarm
        for alarm in moto_server.client("cloudwatch").describe_alarms()["MetricAlarms"]
        if alarm["AlarmArn"] in arns.values()
    }
    repositories = alarms[arns["repositories_failed"]]
    assert (repositories["Namespace"], repositories["MetricName"], repositories["Dimensions"]) == (
        "ECRCleanupAudit",
        "RepositoriesFailed",
        [],
    )
    assert (repositories["ComparisonOperator"], repositories["Threshold"]) == ("GreaterThanThreshold", 0)
    executions = alarms[arns["executions_failed"]]
    metrics = {query["Id"]: query for query in executions["Metrics"]}
    assert {metrics[id_]["MetricStat"]["Metric"]["MetricName"] for id_ in ("failed", "timed_out")} == {
        "ExecutionsFailed",
        "ExecutionsTimedOut",
    }
    assert metrics["failed"]["MetricStat"]["Metric"]["Dimensions"] == [
        {"Name": "StateMachineArn", "Value": output(audit_module, "state_machine_arn")}
    ]
    for alarm in (repositories, executions):
        assert alarm["AlarmActions"] == [output(audit_module, "topic_arn")]


def test_a_second_plan_shows_no_changes(audit_module: Any, terraform_environment: dict[str, str]) -> None:
    result = plan_again("audit", audit_module, terraform_environment)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_run_writes_a_json_and_a_csv_report_per_repository_and_a_summary(
    audit_module: Any, moto_server: MotoServer, audit_registry: dict[str, dict[str, str]]
) -> None:
    execution = execute(moto_server, audit_module, {})
    assert execution["status"] == "SUCCEEDED", execution

    objects = reports(moto_server, audit_module)
    folder = run_folder(execution)
    assert set(objects) == {f"{folder}summary.json", f"{folder}report.html"} | {
        f"{folder}repositories/{REGION}/{name}"
        for name in ("audit-api.json", "audit-api.csv", "audit-web.json", "audit-web.csv")
    }, sorted(objects)

    for repository, images in audit_registry.items():
        label_of = {digest: label for label, digest in images.items()}
        report = json.loads(objects[f"{folder}repositories/{REGION}/{repository}.json"])
        assert report["name"] == repository
        assert {label_of[entry["digest"]] for entry in report["delete"]} == EXPECTED_DELETED[repository]
        assert {label_of[digest] for digest in report["deleted"]} == EXPECTED_DELETED[repository]
        assert (report["failures"], report["skipped"], report["deferred"]) == ([], [], [])
        assert {entry["digest"] for entry in report["delete"] + report["keep"]} == set(images.values())
        for entry in report["delete"]:
            assert set(entry) == {"digest", "tags", "pushed_at", "size", "rules", "reason"}
            assert entry["rules"], entry
            assert entry["reason"], entry
        assert remaining_digests(repository) == {
            digest for label, digest in images.items() if label not in EXPECTED_DELETED[repository]
        }

        rows = list(csv.reader(io.StringIO(objects[f"{folder}repositories/{REGION}/{repository}.csv"])))
        assert rows[0] == CSV_HEADER
        by_digest = {row[1]: dict(zip(CSV_HEADER, row, strict=True)) for row in rows[1:]}
        assert len(rows) - 1 == len(by_digest) == len(images)
        assert set(by_digest) == set(images.values())
        assert {row["repository"] for row in by_digest.values()} == {repository}
        assert {label_of[d] for d, row in by_digest.items() if row["action"] == "deleted"} == (
            EXPECTED_DELETED[repository]
        )

    # The usage sources named in the policy protect what they list, and the reports say which.
    api = json.loads(objects[f"{folder}repositories/{REGION}/audit-api.json"])
    kept = {entry["digest"]: entry["reason"] for entry in api["keep"]}
    assert (
        "s3://ecr-cleanup-audit-reports/config/images-in-use.txt"
        in kept[audit_registry["audit-api"]["pinned-s3"]]
    )
    assert "ssm:/ecr-cleanup-audit/images-in-use" in kept[audit_registry["audit-api"]["pinned-ssm"]]
    api_rows = list(csv.DictReader(io.StringIO(objects[f"{folder}repositories/{REGION}/audit-api.csv"])))
    assert {row["tags"] for row in api_rows} >= {"dev-200 latest", "dev-80 pinned-s3"}

    summary = json.loads(objects[f"{folder}summary.json"])
    assert set(summary) == SUMMARY_KEYS
    assert summary == {**summary, **json.loads(execution["output"])}
    assert (summary["repositories"], summary["deleted"], summary["failed"], summary["failed_count"]) == (
        2,
        3,
        [],
        0,
    )


def test_a_run_publishes_its_summary_to_the_topic(
    audit_module: Any, moto_server: MotoServer, audit_registry: dict[str, dict[str, str]]
) -> None:
    before = len(notifications(audit_module))
    execution = execute(moto_server, audit_module, {"dry_run": True})
    assert execution["status"] == "SUCCEEDED", execution

    published = notifications(audit_module)[before:]
    assert len(published) == 1, published
    subject, message = published[0]
    assert subject is not None
    assert subject.startswith("ECR cleanup:"), subject
    assert len(subject) <= 100
    summary = json.loads(execution["output"])
    assert summary["message"] in message
    assert f"Report: {summary['report_html']}" in message
    assert "Failed:" not in message
    assert all(
        remaining_digests(repository) == set(images.values()) for repository, images in audit_registry.items()
    )


def test_a_failed_repository_is_named_in_the_summary_the_notification_and_its_report(
    audit_module: Any, moto_server: MotoServer, audit_registry: dict[str, dict[str, str]], inbox: Inbox
) -> None:
    # Every image of audit-bulk is an old dev build: deleting them all is above
    # limits.max_delete_fraction (0.9), so the guard fails the repository and deletes nothing.
    create_repository("audit-bulk")
    bulk = {push_image("audit-bulk", tags=[f"dev-{day}"], pushed_at=days_ago(day)) for day in (40, 50, 60)}
    before = len(notifications(audit_module))

    execution = execute(moto_server, audit_module, {})

    assert execution["status"] == "FAILED"
    assert execution["error"] == "RepositoriesFailed"
    assert remaining_digests("audit-bulk") == bulk

    objects = reports(moto_server, audit_module)
    folder = run_folder(execution)
    summary = json.loads(objects[f"{folder}summary.json"])
    assert (summary["failed"], summary["failed_count"]) == (["audit-bulk"], 1)
    report = json.loads(objects[f"{folder}repositories/{REGION}/audit-bulk.json"])
    assert report["name"] == "audit-bulk"
    assert report.get("deleted", []) == []
    assert "max_delete_fraction" in json.dumps(report)

    published = notifications(audit_module)[before:]
    assert len(published) == 1, published
    subject, message = published[0]
    assert subject is not None
    assert subject.startswith("ECR cleanup:"), subject
    assert summary["message"] in message
    assert re.search(r"^\s*audit-bulk: .*max_delete_fraction", message, re.MULTILINE), message

    handled = notified(moto_server, "ecr-cleanup-audit-notify", execution["executionArn"])
    assert (handled["published"], handled["reason"]) == (False, "announced by Summarise")
    assert inbox.about(execution["name"]) == [(subject, message)], "exactly one message for the run"


def test_a_run_stopped_in_its_first_step_sends_one_message_naming_the_execution_and_the_error(
    audit_module: Any, moto_server: MotoServer, audit_registry: dict[str, dict[str, str]], inbox: Inbox
) -> None:
    ssm = moto_server.client("ssm")
    parameter = ssm.get_parameter(Name="/ecr-cleanup-audit/images-in-use")["Parameter"]
    ssm.delete_parameter(Name=parameter["Name"])
    try:
        execution = execute(moto_server, audit_module, {})
    finally:
        ssm.put_parameter(Name=parameter["Name"], Type=parameter["Type"], Value=parameter["Value"])
    assert (execution["status"], execution["error"]) == ("FAILED", "UsageError")

    handled = notified(moto_server, "ecr-cleanup-audit-notify", execution["executionArn"])
    assert handled["published"] is True
    [(subject, message)] = inbox.about(execution["name"])
    assert subject == "ECR cleanup: run stopped, nothing deleted"
    assert "Error: UsageError" in message
    assert "/ecr-cleanup-audit/images-in-use" in message
    assert all(
        remaining_digests(repository) == set(images.values()) for repository, images in audit_registry.items()
    )


def test_a_run_that_times_out_sends_one_message_saying_so(
    audit_module: Any, moto_server: MotoServer, inbox: Inbox
) -> None:
    states = moto_server.client("stepfunctions")
    short = output(audit_module, "short_state_machine_arn")
    # The first step takes longer than the execution may run (3 s).
    with injecting(Fault("slow", services="ecr", operations="DescribeRepositories", delay=6)):
        arn = states.start_execution(stateMachineArn=short, input="{}")["executionArn"]
        execution = wait_for(moto_server, arn)
        assert execution["status"] == "TIMED_OUT"
        handled = notified(moto_server, "ecr-cleanup-audit-short-notify", arn)
    assert handled["published"] is True
    [(subject, message)] = inbox.about(execution["name"])
    assert subject == "ECR cleanup: run timed out"
    assert "reached its time limit" in message


def _document(document: Any) -> dict[str, Any]:
    return dict(json.loads(document) if isinstance(document, str) else document)


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)
