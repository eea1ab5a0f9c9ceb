"""`ecr-cleanup doctor`: one line per check, a tick or a cross with the fix, exit 0 only when every
check passes; on a healthy set-up and on a broken one (no pull-time exclusion, a role that cannot be
assumed, a bucket that is not there, a lifecycle policy that would expire what a service runs)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from ecr_cleanup.cli import EXIT_AWS, EXIT_INVALID, EXIT_OK, main
from tests.support import ecs_seed
from tests.support.ecr_seed import create_repository, days_ago, push_image

ACCOUNT = "123456789012"
WORKLOAD = "210987654321"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/ecr-cleanup-us-east-1-lambda"
READER = f"arn:aws:iam::{WORKLOAD}:role/reader"


@pytest.fixture
def healthy(aws: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A registry, a usage source, a reader role this account may assume, the role excluded from
    pull-time updates, the report bucket: the policy file."""
    create_repository("app")
    push_image("app", tags=["r1"], pushed_at=days_ago(40))
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="reports")
    s3.put_object(Bucket="reports", Key="config/in-use.txt", Body=b"app:r1\n")
    boto3.client("ecr").register_pull_time_update_exclusion(principalArn=ROLE)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    with monkeypatch.context() as scoped:
        scoped.setenv("MOTO_ACCOUNT_ID", WORKLOAD)
        boto3.client("iam").create_role(RoleName="reader", AssumeRolePolicyDocument=json.dumps(trust))
    policy = {
        "rules": [{"older_than_days": 30}],
        "protect": {
            "in_use_sources": ["s3://reports/config/in-use.txt"],
            "in_use_accounts": [{"role_arn": READER}],
        },
    }
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(policy))
    return path


def doctor(policy: Path, *extra: str) -> tuple[int, list[str]]:
    out = io.StringIO()
    status = main(
        ["doctor", "--policy", str(policy), "--lambda-role-arn", ROLE, "--report-bucket", "reports", *extra],
        stdout=out,
    )
    return status, out.getvalue().splitlines()


def test_a_healthy_set_up_passes_every_check(healthy: Path) -> None:
    status, lines = doctor(healthy)
    assert status == EXIT_OK, lines
    assert lines[-1] == "every check passed"
    assert [line[0] for line in lines[:-1]] == ["✓"] * (len(lines) - 1)
    assert any(line.startswith("✓ ECR in us-east-1: 1 repositories, 1 selected") for line in lines)
    assert f"✓ pull-time update exclusion of {ROLE} in us-east-1" in lines
    assert f"✓ protect.in_use_accounts {READER}: assumed" in lines
    assert "✓ protect.in_use_sources s3://reports/config/in-use.txt: 1 images listed" in lines
    assert "✓ report bucket s3://reports/ecr-cleanup/: writable" in lines
    assert any(line.startswith("✓ native lifecycle policies: 0 read") for line in lines)


def test_a_broken_set_up_fails_each_broken_check_with_its_fix(
    healthy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    boto3.client("ecr").deregister_pull_time_update_exclusion(principalArn=ROLE)
    policy: dict[str, Any] = json.loads(healthy.read_text())
    policy["protect"]["in_use_accounts"] = [{"role_arn": f"arn:aws:iam::{WORKLOAD}:role/missing"}]
    healthy.write_text(json.dumps(policy))

    status, lines = doctor(healthy, "--report-prefix", "x/")
    failed = [line for line in lines if line.startswith("✗")]

    assert status == EXIT_AWS
    assert lines[-1] == "2 checks failed"
    assert failed[0].startswith(f"✗ {ROLE} is not excluded from pull-time updates in us-east-1")
    assert "register-pull-time-update-exclusion" in failed[0]
    assert failed[1].startswith(f"✗ protect.in_use_accounts arn:aws:iam::{WORKLOAD}:role/missing: ")
    assert "must trust this cleanup's Lambda role" in failed[1]
    assert any(line.startswith("- native lifecycle policies: not checked") for line in lines)


def test_a_lifecycle_policy_that_would_expire_what_a_service_runs_fails_the_check(healthy: Path) -> None:
    lifecycle = {
        "rules": [
            {
                "rulePriority": 1,
                "selection": {
                    "tagStatus": "any",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": 7,
                },
                "action": {"type": "expire"},
            }
        ]
    }
    boto3.client("ecr").put_lifecycle_policy(repositoryName="app", lifecyclePolicyText=json.dumps(lifecycle))
    ecs_seed.run_service("prod", "app", ["app:r1"])

    status, lines = doctor(healthy)

    assert status == EXIT_AWS
    [conflict] = [line for line in lines if "native lifecycle policy of app" in line]
    assert conflict.startswith("✗ native lifecycle policy of app rule 1 would expire sha256:")
    assert "in use by ECS service" in conflict
    assert "import-lifecycle" in conflict


def test_a_missing_bucket_is_a_failed_check(healthy: Path) -> None:
    status, lines = doctor(healthy, "--report-bucket", "no-such-bucket")
    assert status == EXIT_AWS
    assert any(line.startswith("✗ report bucket s3://no-such-bucket/ecr-cleanup/: ") for line in lines)


def test_an_invalid_policy_is_refused_before_any_check(aws: None, tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"rules": [{"older_than_day": 3}]}))
    status, lines = doctor(path)
    assert (status, lines) == (EXIT_INVALID, [])
