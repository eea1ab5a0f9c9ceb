"""A bad input fails at `terraform plan`, with a message that names the field and the fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.module.conftest import TERRAFORM_ROOTS, run_terraform

pytestmark = pytest.mark.module

ROOT = TERRAFORM_ROOTS / "validation"
GOOD_RULE = {"older_than_days": 30, "keep_latest": 10}


@pytest.fixture(scope="module")
def initialised(terraform_environment: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The validation root, initialised once; returns its data folder."""
    data_dir = tmp_path_factory.mktemp("validation-data")
    result = run_terraform(ROOT, "init", "-input=false", env=terraform_environment, data_dir=data_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    return data_dir


def plan(
    initialised: Path, env: dict[str, str], tmp_path: Path, policy: object, **variables: Any
) -> tuple[int, str]:
    var_file = tmp_path / "test.tfvars.json"
    var_file.write_text(json.dumps({"policy": policy}))
    extra = [f"-var={name}={value}" for name, value in variables.items()]
    result = run_terraform(
        ROOT,
        "plan",
        "-input=false",
        "-refresh=false",
        f"-state={tmp_path / 'terraform.tfstate'}",
        f"-var-file={var_file}",
        *extra,
        env=env,
        data_dir=initialised,
    )
    # Terraform wraps long messages; compare them as one line.
    return result.returncode, " ".join((result.stdout + result.stderr).split())


BAD_POLICIES = [
    ("no rules", {"rules": []}, "policy.rules is required: a list of at least one rule object"),
    ("rules missing", {"protect": {"younger_than_days": 1}}, "policy.rules is required"),
    (
        "rule without condition",
        {"rules": [{"tag_status": "tagged"}]},
        "must set at least one of older_than_days",
    ),
    (
        "unknown tag_status",
        {"rules": [{"tag_status": "all", "keep_latest": 1}]},
        'policy.rules[*].tag_status must be "tagged", "untagged" or "any"',
    ),
    (
        "negative older_than_days",
        {"rules": [{"older_than_days": -1}]},
        "policy.rules[*].older_than_days must be a whole number >= 0",
    ),
    (
        "fractional keep_latest",
        {"rules": [{"keep_latest": 1.5}]},
        "policy.rules[*].keep_latest must be a whole number >= 0",
    ),
    (
        "negative not_pulled_for_days",
        {"rules": [{"not_pulled_for_days": -14}]},
        "policy.rules[*].not_pulled_for_days must be a whole number >= 0",
    ),
    (
        "tag_patterns with untagged",
        {"rules": [{"tag_status": "untagged", "tag_patterns": ["x*"], "keep_latest": 1}]},
        'policy.rules[*].tag_patterns cannot be combined with tag_status = "untagged"',
    ),
    (
        "unclosed pattern",
        {"rules": [GOOD_RULE], "protect": {"tag_patterns": ["v[0-9"]}},
        "policy.protect.tag_patterns, when given, must list at least one glob",
    ),
    (
        "negative younger_than_days",
        {"rules": [GOOD_RULE], "protect": {"younger_than_days": -1}},
        "policy.protect.younger_than_days must be a whole number >= 0",
    ),
    (
        "zero max_deletions",
        {"rules": [GOOD_RULE], "limits": {"max_deletions_per_repository": 0}},
        "policy.limits.max_deletions_per_repository must be a whole number >= 1",
    ),
    (
        "empty include",
        {"rules": [GOOD_RULE], "repositories": {"include": []}},
        "policy.repositories.include and policy.repositories.exclude, when given, must each list",
    ),
    (
        "in_use not a bool",
        {"rules": [GOOD_RULE], "protect": {"in_use": "yes"}},
        "policy.protect.in_use must be true or false",
    ),
    (
        "in_use_sources not a list",
        {"rules": [GOOD_RULE], "protect": {"in_use_sources": "s3://deployments/in-use.json"}},
        "policy.protect.in_use_sources must be a list of sources",
    ),
    (
        "in_use_sources https URL",
        {"rules": [GOOD_RULE], "protect": {"in_use_sources": ["https://example.com/in-use.json"]}},
        "policy.protect.in_use_sources must be a list of sources",
    ),
    (
        "in_use_sources wildcard",
        {"rules": [GOOD_RULE], "protect": {"in_use_sources": ["s3://deployments/*"]}},
        "policy.protect.in_use_sources must be a list of sources",
    ),
    (
        "max_delete_fraction above 1",
        {"rules": [GOOD_RULE], "limits": {"max_delete_fraction": 1.5}},
        "policy.limits.max_delete_fraction must be a number from 0 to 1",
    ),
    (
        "max_delete_fraction as a string",
        {"rules": [GOOD_RULE], "limits": {"max_delete_fraction": "0.5"}},
        "policy.limits.max_delete_fraction must be a number from 0 to 1",
    ),
]


@pytest.mark.parametrize(
    ("policy", "message"), [(p, m) for _, p, m in BAD_POLICIES], ids=[n for n, _, _ in BAD_POLICIES]
)
def test_a_bad_policy_fails_at_plan_with_the_fields_message(
    initialised: Path, terraform_environment: dict[str, str], tmp_path: Path, policy: object, message: str
) -> None:
    status, output = plan(initialised, terraform_environment, tmp_path, policy)
    assert status != 0
    assert "Invalid value for variable" in output
    assert message in output, output


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (
            {"rules": [GOOD_RULE], "protect": {"tag_pattern": ["latest"]}},
            "policy.protect must be an object with only the attributes tag_patterns, younger_than_days, "
            "in_use and in_use_sources; unknown: tag_pattern.",
        ),
        ({"rules": [GOOD_RULE], "limit": {}}, "unknown: limit."),
        ({"rules": [{**GOOD_RULE, "older_than": 3}]}, "policy.rules[*] may only have the attributes"),
        ({"rules": [GOOD_RULE], "repositories": {"includes": ["a*"]}}, "unknown: includes."),
        ({"rules": [GOOD_RULE], "limits": {"max_deletions": 5}}, "unknown: max_deletions."),
        (
            {"rules": [GOOD_RULE], "limits": {"max_delete_ratio": 0.5}},
            "policy.limits must be an object with only the attributes max_deletions_per_repository and "
            "max_delete_fraction; unknown: max_delete_ratio.",
        ),
    ],
    ids=["protect", "top level", "rule", "repositories", "limits", "max_delete_fraction"],
)
def test_a_misspelt_attribute_is_refused_by_name_not_dropped(
    initialised: Path, terraform_environment: dict[str, str], tmp_path: Path, policy: object, message: str
) -> None:
    status, output = plan(initialised, terraform_environment, tmp_path, policy)
    assert status != 0
    assert message in output, output


BAD_VARIABLES = [
    ("upper-case bucket", {"report_bucket": "Reports_Bucket"}, "report_bucket must be an S3 bucket name"),
    ("prefix with leading slash", {"report_prefix": "/reports/"}, 'must not start with "/"'),
    (
        "FIFO topic",
        {"notification_topic_arn": "arn:aws:sns:us-east-1:123456789012:cleanup.fifo"},
        "notification_topic_arn must be the ARN of a standard SNS topic",
    ),
    ("AWS namespace", {"metrics_namespace": "AWS/ECR"}, 'must not start with "AWS/"'),
]


@pytest.mark.parametrize(
    ("variables", "message"), [(v, m) for _, v, m in BAD_VARIABLES], ids=[n for n, _, _ in BAD_VARIABLES]
)
def test_a_bad_report_topic_or_metrics_setting_fails_at_plan(
    initialised: Path,
    terraform_environment: dict[str, str],
    tmp_path: Path,
    variables: dict[str, str],
    message: str,
) -> None:
    status, output = plan(initialised, terraform_environment, tmp_path, {"rules": [GOOD_RULE]}, **variables)
    assert status != 0
    assert "Invalid value for variable" in output
    assert message in output, output


def test_a_good_policy_plans(
    initialised: Path, terraform_environment: dict[str, str], tmp_path: Path
) -> None:
    policy = {
        "repositories": {"include": ["app-*"], "exclude": ["app-legacy"]},
        "rules": [{"tag_patterns": ["dev-*"], "older_than_days": 30, "keep_latest": 10}],
        "protect": {
            "tag_patterns": ["latest"],
            "younger_than_days": 1,
            "in_use": True,
            "in_use_sources": [
                "s3://deployments/ecr/in-use.json",
                "ssm:/ecr-cleanup/images-in-use",
                "arn:aws:ssm:us-east-1:123456789012:parameter/shared/images",
            ],
        },
        "limits": {"max_deletions_per_repository": 100, "max_delete_fraction": 0.5},
    }
    status, output = plan(
        initialised,
        terraform_environment,
        tmp_path,
        policy,
        report_bucket="audit.reports-2024",
        report_prefix="ecr-cleanup/reports/",
        notification_topic_arn="arn:aws:sns:us-east-1:123456789012:ecr-cleanup",
        metrics_namespace="Platform/ECR Cleanup",
    )
    assert status == 0, output
    assert "aws_sfn_state_machine.this will be created" in output
