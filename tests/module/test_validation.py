"""A bad input fails at `terraform plan`, with a message that names the field and the fix.

Every case is an instance of the module in one generated root, planned once (`plan_cases`):
Terraform reports each instance's invalid inputs in the same run, and each test reads its own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.docs.test_readme import README, recipes
from tests.module.conftest import PlannedCases, plan_cases

pytestmark = pytest.mark.module

GOOD_RULE = {"older_than_days": 30, "keep_latest": 10}


READER = "arn:aws:iam::210987654321:role/ecr-cleanup-usage-reader"
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
        "archive from the archive",
        {"rules": [{"action": "archive", "image_status": "archived", "keep_latest": 1}]},
        'policy.rules[*].action = "archive" cannot be combined with image_status = "archived"',
    ),
    (
        "archived_for_days of active images",
        {"rules": [{"archived_for_days": 30}]},
        'policy.rules[*].archived_for_days needs image_status = "archived"',
    ),
    (
        "unknown action",
        {"rules": [{"action": "compress", "keep_latest": 1}]},
        'policy.rules[*].action must be "delete", "archive" or "untag"',
    ),
    (
        "unknown image_status",
        {"rules": [{"image_status": "frozen", "keep_latest": 1}]},
        'policy.rules[*].image_status must be "active" or "archived"',
    ),
    (
        "negative task_definition_revisions",
        {"rules": [GOOD_RULE], "protect": {"task_definition_revisions": -1}},
        "policy.protect.task_definition_revisions must be a whole number >= 0",
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
        "in_use_accounts without a role",
        {"rules": [GOOD_RULE], "protect": {"in_use_accounts": [{"regions": ["eu-west-1"]}]}},
        "policy.protect.in_use_accounts must be a list of objects",
    ),
    (
        "in_use_accounts role wildcard",
        {
            "rules": [GOOD_RULE],
            "protect": {"in_use_accounts": [{"role_arn": "arn:aws:iam::210987654321:role/*"}]},
        },
        "policy.protect.in_use_accounts must be a list of objects",
    ),
    (
        "in_use_accounts region misspelt",
        {
            "rules": [GOOD_RULE],
            "protect": {"in_use_accounts": [{"role_arn": READER, "regions": ["eu-west"]}]},
        },
        "policy.protect.in_use_accounts must be a list of objects",
    ),
    (
        "in_use_accounts unknown attribute",
        {"rules": [GOOD_RULE], "protect": {"in_use_accounts": [{"role_arn": READER, "region": "eu-west-1"}]}},
        "policy.protect.in_use_accounts must be a list of objects",
    ),
    (
        "in_use_accounts role twice",
        {"rules": [GOOD_RULE], "protect": {"in_use_accounts": [{"role_arn": READER}, {"role_arn": READER}]}},
        "policy.protect.in_use_accounts must be a list of objects",
    ),
    (
        "in_use_eks empty",
        {"rules": [GOOD_RULE], "protect": {"in_use_eks": []}},
        "policy.protect.in_use_eks, when given, must list at least one EKS cluster name",
    ),
    (
        "in_use_accounts eks not a list of patterns",
        {"rules": [GOOD_RULE], "protect": {"in_use_accounts": [{"role_arn": READER, "eks": [""]}]}},
        "policy.protect.in_use_accounts must be a list of objects",
    ),
    (
        "group_by without a group",
        {"rules": [{"group_by": "^main-.*$", "keep_latest": 3}]},
        "policy.rules[*].group_by must be a valid regular expression",
    ),
    (
        "group_by with two unnamed groups",
        {"rules": [{"group_by": "^(main)-([0-9a-f]+)$", "keep_latest": 3}]},
        "policy.rules[*].group_by must be a valid regular expression",
    ),
    (
        "tag_regex with tag_patterns",
        {"rules": [{"tag_regex": ["^v.*$"], "tag_patterns": ["v*"], "keep_latest": 3}]},
        "policy.rules[*].tag_regex cannot be combined with tag_patterns",
    ),
    (
        "evil tag_regex (a+)+",
        {"rules": [{"tag_regex": ["(a+)+$"], "keep_latest": 3}]},
        "policy.rules[*].tag_regex, when given, must list at least one regular expression",
    ),
    (
        "evil tag_regex (a|aa)*",
        {"rules": [{"tag_regex": ["(a|aa)*"], "keep_latest": 3}]},
        "policy.rules[*].tag_regex, when given, must list at least one regular expression",
    ),
    (
        "invalid tag_regex",
        {"rules": [{"tag_regex": ["[a-"], "keep_latest": 3}]},
        "policy.rules[*].tag_regex, when given, must list at least one regular expression",
    ),
    (
        "order_by without keep_latest",
        {"rules": [{"order_by": "version", "older_than_days": 3}]},
        "policy.rules[*].group_by and order_by need keep_latest",
    ),
    (
        "group_by without keep_latest",
        {"rules": [{"group_by": "^(main)-.*$", "older_than_days": 3}]},
        "policy.rules[*].group_by and order_by need keep_latest",
    ),
    (
        "untag without a tag filter",
        {"rules": [{"action": "untag", "older_than_days": 3}]},
        'policy.rules[*].action = "untag" needs tag_patterns, tag_regex or group_by',
    ),
    (
        "group_by on untagged images",
        {"rules": [{"tag_status": "untagged", "group_by": "^(main)-.*$", "keep_latest": 3}]},
        'cannot be combined with tag_status = "untagged"',
    ),
    (
        "evil protect tag_regex",
        {"rules": [GOOD_RULE], "protect": {"tag_regex": ["(x+)*y"]}},
        "policy.protect.tag_regex, when given, must list at least one valid regular expression",
    ),
    (
        "in_use_sagemaker not a bool",
        {"rules": [GOOD_RULE], "protect": {"in_use_sagemaker": "no"}},
        "policy.protect.in_use_sagemaker must be true or false",
    ),
    (
        "in_use_codebuild not a bool",
        {"rules": [GOOD_RULE], "protect": {"in_use_codebuild": 0}},
        "policy.protect.in_use_codebuild must be true or false",
    ),
    ("rule order misspelt", {"rules": [GOOD_RULE], "rule_order": "first"}, "policy.rule_order must be"),
    (
        "tag_match without tag_patterns",
        {"rules": [{**GOOD_RULE, "tag_match": "all"}]},
        "policy.rules[*].tag_match must be",
    ),
    (
        "rule region in capitals",
        {"rules": [{**GOOD_RULE, "regions": ["EU-west-1"]}]},
        "policy.rules[*].regions, when given, must list at least one region name or glob",
    ),
    (
        "pulled_within_days zero",
        {"rules": [GOOD_RULE], "protect": {"pulled_within_days": 0}},
        "policy.protect.pulled_within_days must be a whole number >= 1",
    ),
    (
        "pulled_within_days fraction",
        {"rules": [GOOD_RULE], "protect": {"pulled_within_days": 2.5}},
        "policy.protect.pulled_within_days must be a whole number >= 1",
    ),
    (
        "in_use_accounts sagemaker not a bool",
        {"rules": [GOOD_RULE], "protect": {"in_use_accounts": [{"role_arn": READER, "sagemaker": "off"}]}},
        "policy.protect.in_use_accounts must be a list of objects",
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


MISSPELT = [
    (
        "protect",
        {"rules": [GOOD_RULE], "protect": {"tag_pattern": ["latest"]}},
        "policy.protect must be an object with only the attributes tag_patterns, younger_than_days, "
        "in_use, in_use_sources, task_definition_revisions, in_use_accounts, in_use_eks, in_use_sagemaker, "
        "in_use_codebuild and pulled_within_days; unknown: tag_pattern.",
    ),
    ("top level", {"rules": [GOOD_RULE], "limit": {}}, "unknown: limit."),
    ("rule", {"rules": [{**GOOD_RULE, "older_than": 3}]}, "policy.rules[*] may only have the attributes"),
    ("rule action", {"rules": [{**GOOD_RULE, "actions": "archive"}]}, "unknown: actions."),
    ("repositories", {"rules": [GOOD_RULE], "repositories": {"includes": ["a*"]}}, "unknown: includes."),
    ("limits", {"rules": [GOOD_RULE], "limits": {"max_deletions": 5}}, "unknown: max_deletions."),
    (
        "max_delete_fraction",
        {"rules": [GOOD_RULE], "limits": {"max_delete_ratio": 0.5}},
        "policy.limits must be an object with only the attributes max_deletions_per_repository and "
        "max_delete_fraction; unknown: max_delete_ratio.",
    ),
]

BAD_VARIABLES = [
    ("upper-case bucket", {"report_bucket": "Reports_Bucket"}, "report_bucket must be an S3 bucket name"),
    ("prefix with leading slash", {"report_prefix": "/reports/"}, 'must not start with "/"'),
    ("prefix with an unsafe character", {"report_prefix": "reports=2026/"}, "the characters safe in S3 keys"),
    (
        "FIFO topic",
        {"notification_topic_arn": "arn:aws:sns:us-east-1:123456789012:cleanup.fifo"},
        "notification_topic_arn must be the ARN of a standard SNS topic",
    ),
    ("AWS namespace", {"metrics_namespace": "AWS/ECR"}, 'must not start with "AWS/"'),
    (
        "EKS access by pattern",
        {"eks_access_clusters": ["prod-*"]},
        "eks_access_clusters must list EKS cluster names",
    ),
    (
        "VPC without security groups",
        {"lambda_vpc_config": {"subnet_ids": ["subnet-0a1b2c3d"], "security_group_ids": []}},
        "lambda_vpc_config needs at least one subnet ID",
    ),
    ("no concurrency", {"max_concurrency": 0}, "max_concurrency must be a whole number from 1 to 1000"),
    (
        "usage bound below a minute",
        {"usage_max_age_minutes": 0.5},
        "usage_max_age_minutes must be a whole number of minutes from 1 to 1440",
    ),
    ("negative retention", {"report_retention_days": -1}, "report_retention_days must be a whole number"),
    ("negative price", {"storage_price_per_gb_month": -0.1}, "storage_price_per_gb_month must be a price"),
    ("alarm action by name", {"alarm_actions": ["alerts"]}, "alarm_actions must list ARNs"),
    (
        "no time to run",
        {"execution_timeout_minutes": 0},
        "execution_timeout_minutes must be a number of minutes",
    ),
    (
        "archive price in cents",
        {"archive_price_per_gb_month": 1000},
        "archive_price_per_gb_month must be a price",
    ),
    ("no regions", {"regions": []}, "regions must be a non-empty list of distinct region names"),
    (
        "a region twice",
        {"regions": ["eu-west-1", "eu-west-1"]},
        "regions must be a non-empty list of distinct region names",
    ),
    ("a region glob", {"regions": ["eu-*"]}, "regions must be a non-empty list of distinct region names"),
    ("name too long for the role names", {"name": "n" * 38}, "use at most 37 letters"),
]

GOOD_POLICY = {
    "repositories": {"include": ["app-*"], "exclude": ["app-legacy"]},
    "rules": [
        {
            "tag_patterns": ["dev-*"],
            "tag_match": "all",
            "older_than_days": 30,
            "keep_latest": 10,
            "regions": ["us-*"],
        },
        {
            "tag_regex": [r"^v?\d+\.\d+\.\d+(?:-[0-9a-z.]+)?$"],
            "group_by": r"^v?(?P<line>\d+\.\d+)\.(?P<version>.+)$",
            "order_by": "version",
            "keep_latest": 2,
        },
        {"group_by": "^([a-z0-9-]+)-[0-9a-f]{7,40}$", "keep_latest": 3, "action": "untag"},
    ],
    "protect": {
        "tag_patterns": ["latest"],
        "younger_than_days": 1,
        "in_use": True,
        "in_use_sources": [
            "s3://deployments/ecr/in-use.json",
            "ssm:/ecr-cleanup/images-in-use",
            "arn:aws:ssm:us-east-1:123456789012:parameter/shared/images",
        ],
        "in_use_accounts": [
            {"role_arn": READER, "external_id": "central-cleanup", "regions": ["eu-west-1"], "ecs": True},
            {"role_arn": "arn:aws:iam::310987654321:role/reader", "lambda": False},
        ],
    },
    "limits": {"max_deletions_per_repository": 100, "max_delete_fraction": 0.5},
    "rule_order": "priority",
}


def _case(kind: str, number: int) -> str:
    return f"{kind}_{number}"


@pytest.fixture(scope="module")
def planned(terraform_environment: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> PlannedCases:
    """Every case of this file in one plan."""
    cases: dict[str, dict[str, Any]] = {}
    for number, (_, policy, _) in enumerate(BAD_POLICIES):
        cases[_case("policy", number)] = {"policy": policy}
    for number, (_, policy, _) in enumerate(MISSPELT):
        cases[_case("misspelt", number)] = {"policy": policy}
    for number, (_, variables, _) in enumerate(BAD_VARIABLES):
        cases[_case("input", number)] = {"policy": {"rules": [GOOD_RULE]}, **variables}
    for number, (json_text, _) in enumerate(recipes(README.read_text(encoding="utf-8"))):
        cases[_case("recipe", number)] = {"policy": json.loads(json_text)}
    cases["good"] = {
        "policy": GOOD_POLICY,
        "report_bucket": "audit.reports-2024",
        "report_prefix": "ecr-cleanup/reports/",
        "notification_topic_arn": "arn:aws:sns:us-east-1:123456789012:ecr-cleanup",
        "metrics_namespace": "Platform/ECR Cleanup",
        "regions": ["us-east-1", "eu-west-1"],
        "replicas_follow_source": True,
        "create_dashboard": True,
        "alarm_actions": ["arn:aws:sns:us-east-1:123456789012:alerts"],
        "storage_price_per_gb_month": 0.1,
        "archive_price_per_gb_month": 0.07,
        "execution_timeout_minutes": 120,
    }
    return plan_cases(terraform_environment, tmp_path_factory.mktemp("validation"), cases)


def assert_refused(planned: PlannedCases, case: str, message: str) -> None:
    assert planned.returncode != 0
    diagnostics = planned.diagnostics[case]
    assert "Invalid value for variable" in diagnostics, planned.output
    assert message in diagnostics, diagnostics


@pytest.mark.parametrize(
    ("number", "message"),
    [(n, m) for n, (_, _, m) in enumerate(BAD_POLICIES)],
    ids=[name for name, _, _ in BAD_POLICIES],
)
def test_a_bad_policy_fails_at_plan_with_the_fields_message(
    planned: PlannedCases, number: int, message: str
) -> None:
    assert_refused(planned, _case("policy", number), message)


@pytest.mark.parametrize(
    ("number", "message"),
    [(n, m) for n, (_, _, m) in enumerate(MISSPELT)],
    ids=[name for name, _, _ in MISSPELT],
)
def test_a_misspelt_attribute_is_refused_by_name_not_dropped(
    planned: PlannedCases, number: int, message: str
) -> None:
    assert_refused(planned, _case("misspelt", number), message)


@pytest.mark.parametrize(
    ("number", "message"),
    [(n, m) for n, (_, _, m) in enumerate(BAD_VARIABLES)],
    ids=[name for name, _, _ in BAD_VARIABLES],
)
def test_a_bad_input_fails_at_plan_with_its_message(planned: PlannedCases, number: int, message: str) -> None:
    assert_refused(planned, _case("input", number), message)


def test_a_good_policy_with_every_input_raises_nothing(planned: PlannedCases) -> None:
    assert "Error" in planned.output
    assert planned.diagnostics["good"] == ""


def test_every_recipe_of_the_readme_passes_the_modules_checks(planned: PlannedCases) -> None:
    recipes_planned = {case: text for case, text in planned.diagnostics.items() if case.startswith("recipe_")}
    assert len(recipes_planned) == 5
    assert recipes_planned == dict.fromkeys(recipes_planned, "")


def test_a_good_policy_plans(terraform_environment: dict[str, str], tmp_path: Path) -> None:
    alone = plan_cases(terraform_environment, tmp_path, {"good": {"policy": GOOD_POLICY}})
    assert alone.returncode == 0, alone.output
    assert "aws_sfn_state_machine.this" in alone.planned["good"]
