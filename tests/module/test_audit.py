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
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from moto.backends import get_backend
from moto.core.models import DEFAULT_ACCOUNT_ID
from pytest_terraform import terraform

from tests.module.conftest import TERRAFORM_ROOTS, execute, plan_again, run_terraform
from tests.support.ecr_seed import (
    DEFAULT_REGION,
    create_repository,
    days_ago,
    ecr_backend,
    push_image,
    remaining_digests,
)
from tests.support.moto_server import MotoServer

pytestmark = pytest.mark.module

terraform("audit", scope="session")

ACCOUNT = DEFAULT_ACCOUNT_ID
REGION = DEFAULT_REGION
FUNCTIONS = ("list", "cleanup", "summarise")
RULE = {"tag_patterns": ["dev-*"], "older_than_days": 30}
CSV_HEADER = ["repository", "digest", "action", "tags", "pushed_at", "size", "reason"]
SUMMARY_KEYS = {
    "now",
    "dry_run",
    "repositories",
    "failed",
    "failed_count",
    "images",
    "delete",
    "deleted",
    "deferred",
    "bytes",
    "message",
}

################################################################################
# Plan: the grants and the environment each input produces
################################################################################

VALIDATION_ROOT = TERRAFORM_ROOTS / "validation"


@pytest.fixture(scope="module")
def initialised(terraform_environment: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("audit-plan-data")
    result = run_terraform(
        VALIDATION_ROOT, "init", "-input=false", env=terraform_environment, data_dir=data_dir
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return data_dir


class Planned:
    """What a plan of the module would create: the Lambda role's statements and the functions."""

    def __init__(self, plan: dict[str, Any]) -> None:
        resources = {
            resource["address"]: resource["values"]
            for module in plan["planned_values"]["root_module"]["child_modules"]
            for resource in module["resources"]
        }
        policy = resources["module.ecr_cleanup.aws_iam_role_policy.lambda"]["policy"]
        self.statements: dict[str, dict[str, Any]] = {
            statement["Sid"]: statement for statement in json.loads(policy)["Statement"]
        }
        self.environments = {
            key: _environment(resources[f'module.ecr_cleanup.aws_lambda_function.this["{key}"]'])
            for key in FUNCTIONS
        }

    def actions(self, sid: str) -> set[str]:
        return set(_as_list(self.statements[sid]["Action"]))

    def resources(self, sid: str) -> set[str]:
        return set(_as_list(self.statements[sid]["Resource"]))


def _environment(function: dict[str, Any]) -> dict[str, str] | None:
    blocks = function.get("environment") or []
    return dict(blocks[0]["variables"]) if blocks else None


def plan(initialised: Path, env: dict[str, str], tmp_path: Path, policy: object, **variables: Any) -> Planned:
    var_file = tmp_path / "test.tfvars.json"
    var_file.write_text(json.dumps({"policy": policy, **variables}))
    plan_file = tmp_path / "test.tfplan"
    result = run_terraform(
        VALIDATION_ROOT,
        "plan",
        "-input=false",
        "-refresh=false",
        f"-state={tmp_path / 'terraform.tfstate'}",
        f"-var-file={var_file}",
        f"-out={plan_file}",
        env=env,
        data_dir=initialised,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    shown = run_terraform(VALIDATION_ROOT, "show", "-json", str(plan_file), env=env, data_dir=initialised)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    return Planned(json.loads(shown.stdout))


ECS_LAMBDA_LISTINGS = {
    "ecs:ListClusters",
    "ecs:ListServices",
    "ecs:ListTasks",
    "ecs:DescribeTaskDefinition",
    "lambda:ListFunctions",
}


def test_by_default_the_role_may_read_manifests_and_find_images_in_use_but_not_write_reports(
    initialised: Path, terraform_environment: dict[str, str], tmp_path: Path
) -> None:
    planned = plan(initialised, terraform_environment, tmp_path, {"rules": [RULE]})

    assert set(planned.statements) == {
        "ListRepositories",
        "CleanUpSelectedRepositories",
        "WriteOwnLogs",
        "FindImagesInUse",
        "ReadWorkloadsInUse",
    }
    assert planned.actions("CleanUpSelectedRepositories") == {
        "ecr:BatchDeleteImage",
        "ecr:BatchGetImage",
        "ecr:DescribeImages",
    }
    # Read-only, and "*" only for the calls IAM cannot scope.
    assert planned.actions("FindImagesInUse") == ECS_LAMBDA_LISTINGS
    assert planned.resources("FindImagesInUse") == {"*"}
    assert planned.actions("ReadWorkloadsInUse") == {
        "ecs:DescribeServices",
        "ecs:DescribeTasks",
        "lambda:GetFunction",
    }
    assert planned.resources("ReadWorkloadsInUse") == {
        f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/*",
        f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/*",
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:*",
    }
    every_action = {action for sid in planned.statements for action in planned.actions(sid)}
    assert not {action for action in every_action if action.startswith(("s3:", "ssm:", "sns:"))}
    # Only the metrics namespace is set; no report bucket, prefix or topic.
    assert list(planned.environments.values()) == [{"METRICS_NAMESPACE": "ECRCleanup"}] * len(FUNCTIONS)


def test_each_usage_source_is_the_only_object_or_parameter_the_role_may_read(
    initialised: Path, terraform_environment: dict[str, str], tmp_path: Path
) -> None:
    other = "arn:aws:ssm:eu-west-1:210987654321:parameter/shared/images"
    policy = {
        "rules": [RULE],
        "protect": {
            "in_use_sources": [
                "s3://deployments/ecr/in-use.json",
                "ssm:/team-a/images-in-use",
                "ssm:images-in-use",
                other,
            ]
        },
    }
    planned = plan(initialised, terraform_environment, tmp_path, policy)

    assert planned.actions("ReadInUseObjects") == {"s3:GetObject"}
    assert planned.resources("ReadInUseObjects") == {"arn:aws:s3:::deployments/ecr/in-use.json"}
    assert planned.actions("ReadInUseParameters") == {"ssm:GetParameter"}
    assert planned.resources("ReadInUseParameters") == {
        f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/team-a/images-in-use",
        f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/images-in-use",
        other,
    }


def test_without_in_use_protection_the_role_reads_no_workloads_and_no_sources(
    initialised: Path, terraform_environment: dict[str, str], tmp_path: Path
) -> None:
    policy = {"rules": [RULE], "protect": {"in_use": False, "in_use_sources": ["ssm:/ignored"]}}
    planned = plan(initialised, terraform_environment, tmp_path, policy)

    assert set(planned.statements) == {"ListRepositories", "CleanUpSelectedRepositories", "WriteOwnLogs"}


def test_reports_and_the_summary_are_granted_on_the_prefix_and_the_topic_only(
    initialised: Path, terraform_environment: dict[str, str], tmp_path: Path
) -> None:
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:cleanup-reports"
    planned = plan(
        initialised,
        terraform_environment,
        tmp_path,
        {"rules": [RULE]},
        report_bucket="audit.example-bucket",
        report_prefix="ecr/cleanup/",
        notification_topic_arn=topic,
        metrics_namespace="Platform/ECR",
    )

    assert planned.actions("WriteReports") == {"s3:PutObject"}
    assert planned.resources("WriteReports") == {"arn:aws:s3:::audit.example-bucket/ecr/cleanup/*"}
    assert planned.actions("PublishSummary") == {"sns:Publish"}
    assert planned.resources("PublishSummary") == {topic}
    expected = {
        "REPORT_BUCKET": "audit.example-bucket",
        "REPORT_PREFIX": "ecr/cleanup/",
        "NOTIFICATION_TOPIC_ARN": topic,
        "METRICS_NAMESPACE": "Platform/ECR",
    }
    assert list(planned.environments.values()) == [expected] * len(FUNCTIONS)


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
    """`audit/ecr/<YYYY/MM/DD/HHMMSSZ of the run>/`: the prefix, then the execution's start in UTC."""
    started: datetime = execution["startDate"]
    return f"audit/ecr/{started.astimezone(UTC):%Y/%m/%d/%H%M%S}Z/"


def reports(server: MotoServer, module: Any) -> dict[str, str]:
    """Every report object of the bucket: key -> body."""
    s3 = server.client("s3")
    bucket = output(module, "report_bucket")
    keys = [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="audit/")
        for item in page.get("Contents", [])
    ]
    return {key: s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode() for key in keys}


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
    assert _as_list(statements["WriteReports"]["Resource"]) == [
        "arn:aws:s3:::ecr-cleanup-audit-reports/audit/ecr/*"
    ]
    assert _as_list(statements["PublishSummary"]["Resource"]) == [output(audit_module, "topic_arn")]


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
    assert set(objects) == {
        f"{folder}{name}"
        for name in ("audit-api.json", "audit-api.csv", "audit-web.json", "audit-web.csv", "summary.json")
    }, sorted(objects)

    for repository, images in audit_registry.items():
        label_of = {digest: label for label, digest in images.items()}
        report = json.loads(objects[f"{folder}{repository}.json"])
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

        rows = list(csv.reader(io.StringIO(objects[f"{folder}{repository}.csv"])))
        assert rows[0] == CSV_HEADER
        by_digest = {row[1]: dict(zip(CSV_HEADER, row, strict=True)) for row in rows[1:]}
        assert len(rows) - 1 == len(by_digest) == len(images)
        assert set(by_digest) == set(images.values())
        assert {row["repository"] for row in by_digest.values()} == {repository}
        assert {label_of[d] for d, row in by_digest.items() if row["action"] == "deleted"} == (
            EXPECTED_DELETED[repository]
        )

    # The usage sources named in the policy protect what they list, and the reports say which.
    api = json.loads(objects[f"{folder}audit-api.json"])
    kept = {entry["digest"]: entry["reason"] for entry in api["keep"]}
    assert (
        "s3://ecr-cleanup-audit-reports/config/images-in-use.txt"
        in kept[audit_registry["audit-api"]["pinned-s3"]]
    )
    assert "ssm:/ecr-cleanup-audit/images-in-use" in kept[audit_registry["audit-api"]["pinned-ssm"]]
    api_rows = list(csv.DictReader(io.StringIO(objects[f"{folder}audit-api.csv"])))
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
    assert "Failed:" not in message
    assert all(
        remaining_digests(repository) == set(images.values()) for repository, images in audit_registry.items()
    )


def test_a_failed_repository_is_named_in_the_summary_the_notification_and_its_report(
    audit_module: Any, moto_server: MotoServer, audit_registry: dict[str, dict[str, str]]
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
    report = json.loads(objects[f"{folder}audit-bulk.json"])
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


def _document(document: Any) -> dict[str, Any]:
    return dict(json.loads(document) if isinstance(document, str) else document)


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)
