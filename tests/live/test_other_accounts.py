"""Images in use in other accounts and regions (`protect.in_use_accounts`): a central registry's images
that workloads in a workload account run are kept; a role that cannot be assumed deletes nothing.

moto keeps one backend per account, and credentials of an assumed role act in the role's account, as
on AWS; `moto_patches.sts.sts_assume_role_checks_trust` makes AssumeRole check the role's trust policy.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest

from ecr_cleanup.cli import EXIT_AWS, EXIT_OK, main
from tests.support.ecr_seed import DEFAULT_REGION, create_repository, days_ago, push_image, remaining_digests

CENTRAL = "123456789012"
WORKLOAD = "210987654321"
HOST = f"{CENTRAL}.dkr.ecr.{DEFAULT_REGION}.amazonaws.com"
READER = f"arn:aws:iam::{WORKLOAD}:role/ecr-cleanup-usage-reader"
EXTERNAL_ID = "central-ecr-cleanup"
OLDER_THAN_30: dict[str, Any] = {"rules": [{"older_than_days": 30}]}


@contextmanager
def in_account(account: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Requests made in the block act in `account` (moto reads MOTO_ACCOUNT_ID)."""
    with monkeypatch.context() as scoped:
        scoped.setenv("MOTO_ACCOUNT_ID", account)
        yield


@pytest.fixture
def builds(aws: None) -> dict[str, str]:
    """Four old builds of the central registry's `app`: label -> digest."""
    create_repository("app")
    return {f"b{n}": push_image("app", tags=[f"b{n}"], pushed_at=days_ago(100 - n)) for n in range(1, 5)}


@pytest.fixture
def reader_role(aws: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """The workload account's read-only role, trusting the central account with an external ID."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{CENTRAL}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}},
            }
        ],
    }
    with in_account(WORKLOAD, monkeypatch):
        boto3.client("iam").create_role(
            RoleName="ecr-cleanup-usage-reader", AssumeRolePolicyDocument=json.dumps(trust)
        )
    return READER


def run_service(image: str, monkeypatch: pytest.MonkeyPatch, region: str = DEFAULT_REGION) -> None:
    """An ECS service in the workload account running `image` of the central registry."""
    with in_account(WORKLOAD, monkeypatch):
        ecs = boto3.client("ecs", region_name=region)
        ecs.create_cluster(clusterName="prod")
        container = {"name": "main", "image": f"{HOST}/{image}", "memory": 64}
        ecs.register_task_definition(family="api", containerDefinitions=[container])
        ecs.create_service(cluster="prod", serviceName="api", taskDefinition="api", desiredCount=1)


def run(policy: dict[str, Any], tmp_path: Path) -> tuple[int, dict[str, Any]]:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(policy))
    out = io.StringIO()
    status = main(["run", "--yes", "--policy", str(path), "--format", "json"], stdout=out)
    return status, json.loads(out.getvalue()) if out.getvalue() else {}


def with_accounts(*accounts: dict[str, Any]) -> dict[str, Any]:
    return {**OLDER_THAN_30, "protect": {"in_use_accounts": list(accounts)}}


def kept_reasons(report: dict[str, Any]) -> dict[str, str]:
    [entry] = [r for r in report["repositories"] if r["name"] == "app"]
    return {image["digest"]: image["reason"] for image in entry["keep"]}


def test_an_image_an_ecs_service_in_another_account_runs_is_kept(
    builds: dict[str, str], reader_role: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run_service("app:b2", monkeypatch)
    status, report = run(with_accounts({"role_arn": reader_role, "external_id": EXTERNAL_ID}), tmp_path)
    assert status == EXIT_OK
    assert remaining_digests("app") == {builds["b2"]}
    assert f"in use: account {WORKLOAD} {DEFAULT_REGION} ECS service" in kept_reasons(report)[builds["b2"]]


def test_without_the_account_in_the_policy_that_image_is_deleted(
    builds: dict[str, str], reader_role: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run_service("app:b2", monkeypatch)
    status, _ = run(OLDER_THAN_30, tmp_path)
    assert status == EXIT_OK
    assert remaining_digests("app") == set()


def test_the_regions_of_an_account_are_read(
    builds: dict[str, str], reader_role: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run_service("app:b3", monkeypatch, region="eu-west-1")
    account = {"role_arn": reader_role, "external_id": EXTERNAL_ID, "regions": ["eu-west-1", DEFAULT_REGION]}
    status, report = run(with_accounts(account), tmp_path)
    assert status == EXIT_OK
    assert remaining_digests("app") == {builds["b3"]}
    assert f"in use: account {WORKLOAD} eu-west-1 ECS service" in kept_reasons(report)[builds["b3"]]


def test_a_role_that_cannot_be_assumed_deletes_nothing(
    builds: dict[str, str], reader_role: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _ = run(with_accounts({"role_arn": reader_role, "external_id": "wrong-id"}), tmp_path)
    assert status == EXIT_AWS
    assert remaining_digests("app") == set(builds.values())
    error = capsys.readouterr().err
    assert f"account {WORKLOAD}: cannot assume {reader_role}" in error
    assert "AccessDenied" in error


def test_a_role_that_does_not_exist_deletes_nothing(builds: dict[str, str], tmp_path: Path) -> None:
    missing = f"arn:aws:iam::{WORKLOAD}:role/not-there"
    status, _ = run(with_accounts({"role_arn": missing}), tmp_path)
    assert status == EXIT_AWS
    assert remaining_digests("app") == set(builds.values())


def test_an_image_function_in_another_account_is_kept(
    builds: dict[str, str], reader_role: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with in_account(WORKLOAD, monkeypatch):
        iam = boto3.client("iam")
        trust = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}]}
        role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        boto3.client("lambda").create_function(
            FunctionName="worker", Role=role, PackageType="Image", Code={"ImageUri": f"{HOST}/app:b4"}
        )
    account = {"role_arn": reader_role, "external_id": EXTERNAL_ID, "ecs": False}
    status, report = run(with_accounts(account), tmp_path)
    assert status == EXIT_OK
    assert remaining_digests("app") == {builds["b4"]}
    assert "Lambda function worker" in kept_reasons(report)[builds["b4"]]
