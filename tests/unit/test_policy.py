"""A bad policy is refused with the JSON path of every wrong field, before anything runs."""

from __future__ import annotations

from typing import Any

import pytest

from ecr_cleanup.policy import POLICY_FIELDS, PolicyError, TagStatus, parse_policy

GOOD_RULE = {"older_than_days": 30}


def errors_of(document: object) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        parse_policy(document)
    return [str(error) for error in caught.value.errors]


ROLE = "arn:aws:iam::210987654321:role/ecr-cleanup-usage-reader"
BAD_POLICIES: list[tuple[str, object, str]] = [
    ("not an object", ["rules"], "the policy must be a JSON object"),
    ("rules missing", {}, "rules: required"),
    ("rules empty", {"rules": []}, "rules: must hold at least one rule"),
    ("rules not a list", {"rules": {"older_than_days": 1}}, "rules: must be a list"),
    ("rule not an object", {"rules": [3]}, "rules[0]: must be an object"),
    ("unknown top-level field", {"rules": [GOOD_RULE], "rule": []}, "rule: unknown field"),
    ("unknown rule field", {"rules": [GOOD_RULE, {"older_than": 3}]}, "rules[1].older_than: unknown field"),
    ("rule without condition", {"rules": [{"tag_status": "tagged"}]}, "rules[0]: gives no condition"),
    (
        "negative older_than_days",
        {"rules": [GOOD_RULE, {"older_than_days": -1}]},
        "rules[1].older_than_days: must be a non-negative whole number",
    ),
    (
        "fractional keep_latest",
        {"rules": [{"keep_latest": 2.5}]},
        "rules[0].keep_latest: must be a whole number >= 0",
    ),
    (
        "string days",
        {"rules": [{"not_pulled_for_days": "14"}]},
        "rules[0].not_pulled_for_days: must be a whole number >= 0",
    ),
    (
        "boolean days",
        {"rules": [{"older_than_days": True}]},
        "rules[0].older_than_days: must be a whole number",
    ),
    (
        "unknown tag_status",
        {"rules": [{"tag_status": "all", "keep_latest": 1}]},
        "rules[0].tag_status: must be one of",
    ),
    (
        "tag_patterns with untagged",
        {"rules": [{"tag_status": "untagged", "tag_patterns": ["x"], "keep_latest": 1}]},
        'rules[0].tag_patterns: cannot be used with tag_status "untagged"',
    ),
    (
        "empty tag_patterns",
        {"rules": [{"tag_patterns": [], "keep_latest": 1}]},
        "rules[0].tag_patterns: must not be empty",
    ),
    (
        "empty pattern",
        {"rules": [{"tag_patterns": [""], "keep_latest": 1}]},
        "rules[0].tag_patterns[0]: must not be an empty string",
    ),
    (
        "unclosed class",
        {"rules": [{"repositories": ["app-[ab"], "keep_latest": 1}]},
        "rules[0].repositories[0]: unclosed '['",
    ),
    (
        "pattern not a string",
        {"rules": [{"tag_patterns": [7], "keep_latest": 1}]},
        "rules[0].tag_patterns[0]: must be a string",
    ),
    (
        "patterns not a list",
        {"rules": [{"tag_patterns": "dev-*", "keep_latest": 1}]},
        "rules[0].tag_patterns: must be a list",
    ),
    (
        "description not a string",
        {"rules": [{"description": 5, "keep_latest": 1}]},
        "rules[0].description: must be a string",
    ),
    (
        "include not a list",
        {"repositories": {"include": "*"}, "rules": [GOOD_RULE]},
        "repositories.include: must be a list",
    ),
    (
        "exclude empty",
        {"repositories": {"exclude": []}, "rules": [GOOD_RULE]},
        "repositories.exclude: must not be empty",
    ),
    (
        "repositories not an object",
        {"repositories": ["*"], "rules": [GOOD_RULE]},
        "repositories: must be an object",
    ),
    (
        "unknown repositories field",
        {"repositories": {"only": ["a"]}, "rules": [GOOD_RULE]},
        "repositories.only: unknown field",
    ),
    (
        "unknown protect field",
        {"protect": {"tags": ["latest"]}, "rules": [GOOD_RULE]},
        "protect.tags: unknown field",
    ),
    (
        "negative younger_than_days",
        {"protect": {"younger_than_days": -2}, "rules": [GOOD_RULE]},
        "protect.younger_than_days: must be a non-negative whole number",
    ),
    (
        "zero pulled_within_days",
        {"protect": {"pulled_within_days": 0}, "rules": [GOOD_RULE]},
        "protect.pulled_within_days: must be a >= 1 whole number",
    ),
    (
        "in_use_sagemaker as text",
        {"protect": {"in_use_sagemaker": "false"}, "rules": [GOOD_RULE]},
        "protect.in_use_sagemaker: must be true or false",
    ),
    (
        "in_use_codebuild as a number",
        {"protect": {"in_use_codebuild": 0}, "rules": [GOOD_RULE]},
        "protect.in_use_codebuild: must be true or false",
    ),
    (
        "an account's sagemaker as text",
        {"protect": {"in_use_accounts": [{"role_arn": ROLE, "sagemaker": "no"}]}, "rules": [GOOD_RULE]},
        "protect.in_use_accounts[0].sagemaker: must be true or false",
    ),
    (
        "negative task_definition_revisions",
        {"protect": {"task_definition_revisions": -1}, "rules": [GOOD_RULE]},
        "protect.task_definition_revisions: must be a non-negative whole number",
    ),
    (
        "task_definition_revisions as text",
        {"protect": {"task_definition_revisions": "5"}, "rules": [GOOD_RULE]},
        'protect.task_definition_revisions: must be a whole number >= 0, got "5"',
    ),
    (
        "protect pattern unclosed",
        {"protect": {"tag_patterns": ["v[0-9"]}, "rules": [GOOD_RULE]},
        "protect.tag_patterns[0]: unclosed '['",
    ),
    (
        "zero max_deletions",
        {"limits": {"max_deletions_per_repository": 0}, "rules": [GOOD_RULE]},
        "limits.max_deletions_per_repository: must be a >= 1 whole number",
    ),
    ("unknown limits field", {"limits": {"max": 3}, "rules": [GOOD_RULE]}, "limits.max: unknown field"),
    ("limits not an object", {"limits": 5, "rules": [GOOD_RULE]}, "limits: must be an object"),
    (
        "account without a role",
        {"rules": [GOOD_RULE], "protect": {"in_use_accounts": [{"regions": ["eu-west-1"]}]}},
        "protect.in_use_accounts[0].role_arn: required",
    ),
    (
        "account role not a role ARN",
        {"rules": [GOOD_RULE], "protect": {"in_use_accounts": [{"role_arn": "arn:aws:iam::12345:user/x"}]}},
        "protect.in_use_accounts[0].role_arn: required",
    ),
    (
        "rule order misspelt",
        {"rules": [GOOD_RULE], "rule_order": "first"},
        'rule_order: must be one of "any", "priority"',
    ),
    (
        "tag_match without tag_patterns",
        {"rules": [{**GOOD_RULE, "tag_match": "all"}]},
        "rules[0].tag_match: needs tag_patterns",
    ),
    (
        "rule region in capitals",
        {"rules": [{**GOOD_RULE, "regions": ["EU-west-1"]}]},
        'rules[0].regions[0]: must be a region name or glob such as "eu-*"',
    ),
    (
        "rule regions empty",
        {"rules": [{**GOOD_RULE, "regions": []}]},
        "rules[0].regions: must not be empty",
    ),
    (
        "account region misspelt",
        {"rules": [GOOD_RULE], "protect": {"in_use_accounts": [{"role_arn": ROLE, "regions": ["eu-west"]}]}},
        "protect.in_use_accounts[0].regions: must be a non-empty list of region names",
    ),
    (
        "account external id too short",
        {"rules": [GOOD_RULE], "protect": {"in_use_accounts": [{"role_arn": ROLE, "external_id": "x"}]}},
        "protect.in_use_accounts[0].external_id: must be 2 to 1224",
    ),
    (
        "account unknown field",
        {"rules": [GOOD_RULE], "protect": {"in_use_accounts": [{"role_arn": ROLE, "region": "eu-west-1"}]}},
        "protect.in_use_accounts[0].region: unknown field",
    ),
    (
        "account listed twice",
        {"rules": [GOOD_RULE], "protect": {"in_use_accounts": [{"role_arn": ROLE}, {"role_arn": ROLE}]}},
        "protect.in_use_accounts: lists a role_arn twice",
    ),
    (
        "accounts not a list",
        {"rules": [GOOD_RULE], "protect": {"in_use_accounts": {"role_arn": ROLE}}},
        "protect.in_use_accounts: must be a list",
    ),
]


@pytest.mark.parametrize(
    ("document", "expected"), [(d, e) for _, d, e in BAD_POLICIES], ids=[n for n, _, _ in BAD_POLICIES]
)
def test_invalid_policy_names_the_field(document: object, expected: str) -> None:
    assert any(error.startswith(expected) for error in errors_of(document)), errors_of(document)


def test_every_problem_is_reported_at_once() -> None:
    document = {
        "rules": [{"older_than_days": -1}, {"tag_status": "x", "keep_latest": 1}],
        "protect": {"bad": 1},
    }
    paths = {error.split(":")[0] for error in errors_of(document)}
    assert paths == {"rules[0].older_than_days", "rules[1].tag_status", "protect.bad"}


def test_error_message_lists_the_allowed_fields() -> None:
    [message] = errors_of({"rules": [{"older_than": 3, "keep_latest": 1}]})
    assert "allowed here: description, repositories, regions, tag_status" in message


def test_policy_error_text_lists_each_problem_on_its_own_line() -> None:
    with pytest.raises(PolicyError, match=r"invalid policy:\n  rules: required"):
        parse_policy({})


def test_the_documented_example_policy_is_valid() -> None:
    policy = parse_policy(
        {
            "repositories": {"include": ["*"], "exclude": ["base/*"]},
            "rules": [
                {
                    "description": "dev builds: older than 30 days AND not among the latest 10",
                    "repositories": ["app-*"],
                    "tag_status": "tagged",
                    "tag_patterns": ["dev-*", "pr-*"],
                    "older_than_days": 30,
                    "keep_latest": 10,
                },
                {
                    "description": "untagged layers nobody pulled for 14 days",
                    "tag_status": "untagged",
                    "not_pulled_for_days": 14,
                },
            ],
            "protect": {"tag_patterns": ["latest", "prod*", "v*"], "younger_than_days": 1},
            "limits": {"max_deletions_per_repository": 500},
        }
    )
    assert [rule.tag_status for rule in policy.rules] == [TagStatus.TAGGED, TagStatus.UNTAGGED]
    assert policy.rules[0].keep_latest == 10
    assert policy.limits.max_deletions_per_repository == 500
    assert policy.protect.younger_than_days == 1


def test_whole_numbers_written_as_floats_are_accepted() -> None:
    assert parse_policy({"rules": [{"older_than_days": 30.0}]}).rules[0].older_than_days == 30


def test_defaults_apply_when_fields_are_left_out() -> None:
    policy = parse_policy({"rules": [{"keep_latest": 3}]})
    [rule] = policy.rules
    assert rule.tag_status is TagStatus.ANY
    assert rule.tag_patterns is None
    assert rule.repositories.patterns == ("*",)
    assert policy.repositories.include.patterns == ("*",)
    assert policy.repositories.exclude.patterns == ()
    assert policy.limits.max_deletions_per_repository is None
    assert policy.protect.task_definition_revisions == 5


def test_field_table_lists_every_accepted_field() -> None:
    """Each field of POLICY_FIELDS is accepted by the parser (the README check relies on this table)."""
    samples: dict[str, Any] = {
        "include": ["*"],
        "exclude": ["x"],
        "description": "d",
        "repositories": ["*"],
        "tag_status": "tagged",
        "tag_patterns": ["v*"],
        "older_than_days": 1,
        "not_pulled_for_days": 1,
        "keep_latest": 1,
        "younger_than_days": 1,
        "max_deletions_per_repository": 1,
        "max_delete_fraction": 0.5,
        "in_use": False,
        "in_use_sources": ["s3://bucket/images.txt", "ssm:/platform/images-in-use"],
        "task_definition_revisions": 3,
        "in_use_accounts": [
            {
                "role_arn": ROLE,
                "external_id": "x-1",
                "regions": ["eu-west-1"],
                "ecs": True,
                "lambda": False,
                "eks": ["prod-*"],
                "sagemaker": False,
                "codebuild": True,
            }
        ],
        "in_use_eks": ["prod-*"],
        "in_use_sagemaker": False,
        "in_use_codebuild": False,
        "pulled_within_days": 7,
        "action": "delete",
        "image_status": "archived",
        "archived_for_days": 365,
        "tag_regex": ["^v[0-9]+$"],
        "regions": ["us-*", "eu-west-1"],
        "group_by": "^(?P<line>[a-z]+)-[0-9]+$",
        "order_by": "version",
        "tag_match": "all",
    }
    # tag_patterns (with tag_match) and tag_regex are alternatives: every other field in each of two rules
    left_out = [{"tag_regex"}, {"tag_patterns", "tag_match"}]
    document = {
        "repositories": {name: samples[name] for name in POLICY_FIELDS["repositories"]},
        "rules": [
            {name: samples[name] for name in POLICY_FIELDS["rules[]"] if name not in names}
            for names in left_out
        ],
        "rule_order": "priority",
        "protect": {name: samples[name] for name in POLICY_FIELDS["protect"] if name != "tag_regex"},
        "limits": {name: samples[name] for name in POLICY_FIELDS["limits"]},
    }
    assert set(document) == set(POLICY_FIELDS[""])
    assert set(samples["in_use_accounts"][0]) == set(POLICY_FIELDS["protect.in_use_accounts[]"])
    parse_policy(document)
    parse_policy({**document, "protect": {"tag_regex": samples["tag_regex"]}})


def test_other_accounts_default_to_ecs_and_lambda_in_the_cleanups_region() -> None:
    [account] = parse_policy(
        {"rules": [GOOD_RULE], "protect": {"in_use_accounts": [{"role_arn": ROLE}]}}
    ).protect.in_use_accounts
    assert (account.account, account.regions, account.ecs, account.functions, account.external_id) == (
        "210987654321",
        (),
        True,
        True,
        None,
    )
