"""What the module renders, checked by independent tools: the state machine definition by
`asl-validator` (an Amazon States Language checker, npm) and every IAM document by `parliament`
(PyPI). A finding fails the test unless it is accepted below, with its reason.

The module is planned with a lean and a full set of inputs; both render every document at plan time.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from parliament import analyze_policy_string

from tests.module.conftest import MODULE_ROOT, plan_cases

pytestmark = pytest.mark.module

ASL_VALIDATOR_ENV = "ECR_CLEANUP_ASL_VALIDATOR"
ASL_VALIDATOR = MODULE_ROOT / ".tools" / "node_modules" / ".bin" / "asl-validator"

CASES: dict[str, dict[str, Any]] = {
    "lean": {"policy": {"rules": [{"older_than_days": 30}], "protect": {"in_use": False}}},
    "full": {
        "policy": {
            "repositories": {"include": ["app-*", "team/*"]},
            "rules": [
                {"tag_patterns": ["dev-*"], "older_than_days": 30, "keep_latest": 10},
                {"not_pulled_for_days": 90, "action": "archive"},
                {"image_status": "archived", "archived_for_days": 365},
            ],
            "protect": {
                "tag_patterns": ["latest"],
                "in_use_sources": ["s3://deployments/in-use.json", "ssm:/platform/images-in-use"],
            },
            "limits": {"max_deletions_per_repository": 500, "max_delete_fraction": 0.5},
        },
        "notification_topic_arn": "arn:aws:sns:us-east-1:123456789012:ecr-cleanup",
        "dry_run": True,
        "max_concurrency": 20,
    },
}

# parliament's findings that are accepted: (documents, issue, text in its detail) -> why.
ACCEPTED: dict[tuple[tuple[str, ...], str, str], str] = {
    (("lambda trust", "states trust", "scheduler trust"), "MALFORMED", "neither Resource nor NotResource"): (
        "parliament reads every document as an identity policy; a trust policy has no Resource, "
        "its role is the resource"
    ),
    (("lambda",), "RESOURCE_STAR", "ecs:ListTasks"): (
        "ListTasks can only be scoped by container instance, and the engine lists the tasks of every "
        "cluster; the statement FindImagesInUse in iam.tf says which calls take no resource"
    ),
    (("lambda",), "UNKNOWN_ACTION", "PullTimeUpdateExclusion"): (
        "ECR's pull-time update exclusions are newer than parliament's IAM database (1.6.4); the "
        "operations are in botocore's ECR model, and IAM names actions after operations"
    ),
    (("lambda",), "UNKNOWN_ACTION", "ecr:UpdateImageStorageClass"): (
        "ECR's archive storage class is newer than parliament's IAM database (1.6.4); the operation "
        "is in botocore's ECR model, and IAM names actions after operations"
    ),
    (("states",), "RESOURCE_MISMATCH", "states:DescribeExecution"): (
        "execution:<state machine>/* is the form AWS documents for a Distributed Map's child "
        "executions (<state machine>/<map run>:<id>); parliament only knows <state machine>:<id>"
    ),
    (("lambda",), "RESOURCE_MISMATCH", "states:ListExecutions"): (
        "IAM's reference lists a state machine or a map run as ListExecutions' resource, and parliament "
        "wants both; the functions list the executions of their own state machine only"
    ),
    (
        ("lambda",),
        "RESOURCE_MISMATCH",
        "'states:DescribeExecution', 'required_format': 'arn:*:states:*:*:express",
    ): (
        "IAM's reference lists a standard or an express execution as DescribeExecution's resource, and "
        "parliament wants both; the state machine is STANDARD, so its executions are execution:<name>:<id>"
    ),
}


def accepted(document: str, issue: str, detail: object) -> bool:
    return any(
        document in documents and issue == kind and text in str(detail)
        for (documents, kind, text) in ACCEPTED
    )


@pytest.fixture(scope="module")
def rendered(
    terraform_environment: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """Every case's planned resources."""
    result = plan_cases(terraform_environment, tmp_path_factory.mktemp("checkers"), CASES)
    assert result.returncode == 0, result.output
    return result.planned


def documents(planned: dict[str, Any]) -> dict[str, str]:
    """The IAM documents of one case: role policies, trust policies and the bucket policy."""
    found = {
        "lambda": planned["aws_iam_role_policy.lambda"]["policy"],
        "states": planned["aws_iam_role_policy.states"]["policy"],
        "scheduler": planned["aws_iam_role_policy.scheduler"].get("policy"),
        "bucket": planned["aws_s3_bucket_policy.this[0]"]["policy"],
    }
    for role in ("lambda", "states", "scheduler"):
        found[f"{role} trust"] = planned[f"aws_iam_role.{role}"]["assume_role_policy"]
    return {name: document for name, document in found.items() if document}


def asl_validator() -> str:
    command = os.environ.get(ASL_VALIDATOR_ENV) or (str(ASL_VALIDATOR) if ASL_VALIDATOR.exists() else None)
    command = command or shutil.which("asl-validator")
    if command is None:
        pytest.fail(f"asl-validator is not installed: run `make setup` (it installs it into {ASL_VALIDATOR})")
    return command


@pytest.mark.parametrize("case", list(CASES))
def test_the_state_machine_definition_is_valid_amazon_states_language(
    rendered: dict[str, Any], case: str, tmp_path: Path
) -> None:
    definition = rendered[case]["aws_sfn_state_machine.this"]["definition"]
    path = tmp_path / "definition.json"
    path.write_text(definition)
    result = subprocess.run(
        [asl_validator(), "--json-path", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(definition)["States"]["CleanupRepositories"]["ItemProcessor"]["ProcessorConfig"] == {
        "Mode": "DISTRIBUTED",
        "ExecutionType": "STANDARD",
    }


def test_asl_validator_would_refuse_a_broken_definition(rendered: dict[str, Any], tmp_path: Path) -> None:
    definition = json.loads(rendered["lean"]["aws_sfn_state_machine.this"]["definition"])
    definition["States"]["Summarise"]["Next"] = "NoSuchState"
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(definition))
    result = subprocess.run(
        [asl_validator(), "--json-path", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "NoSuchState" in result.stdout + result.stderr


@pytest.mark.parametrize("case", list(CASES))
def test_every_iam_document_passes_parliament(rendered: dict[str, Any], case: str) -> None:
    findings = []
    for name, document in documents(rendered[case]).items():
        for finding in analyze_policy_string(document, ignore_private_auditors=True).findings:
            if not accepted(name, finding.issue, finding.detail):
                findings.append(f"{name}: {finding.issue} ({finding.severity}): {finding.detail}")
    assert not findings, "\n".join(findings)


def test_parliament_would_flag_a_bad_grant() -> None:
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "ecr:DeleteImages", "Resource": "*"}],
        }
    )
    assert [finding.issue for finding in analyze_policy_string(document).findings] != []
