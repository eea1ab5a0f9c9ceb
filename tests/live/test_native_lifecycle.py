"""Conflict warnings: a repository's ECR lifecycle policy that would expire an image this run keeps
because a workload runs it (or a kept image needs it) is a warning in the repository's result and
report, summary.json, the notification and the HTML report; a repository without a lifecycle policy
costs one call and says nothing."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns.models import sns_backends

from tests.support import ecs_seed
from tests.support.ecr_seed import DEFAULT_REGION, create_repository, days_ago, push_image
from tests.support.execution import execute
from tests.support.traffic import recording

NOW = "2026-11-28T22:00:00Z"
FOLDER = "audit/2026/11/28/220000Z/"
POLICY: dict[str, Any] = {"rules": [{"tag_patterns": ["dev-*"], "older_than_days": 30}]}
EXPIRE_BEYOND_TWO = {
    "rules": [
        {
            "rulePriority": 4,
            "description": "keep two",
            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 2},
            "action": {"type": "expire"},
        }
    ]
}


@pytest.fixture
def run_data(aws: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="reports")
    topic = boto3.client("sns").create_topic(Name="cleanup")["TopicArn"]
    monkeypatch.setenv("REPORT_BUCKET", "reports")
    monkeypatch.setenv("REPORT_PREFIX", "audit/")
    monkeypatch.setenv("NOTIFICATION_TOPIC_ARN", topic)
    return sns_backends[DEFAULT_ACCOUNT_ID][DEFAULT_REGION].topics[topic]


def seed_api(running: str) -> dict[str, str]:
    """`api`: four releases, one run by an ECS service; a lifecycle policy keeps the two newest."""
    create_repository("api")
    images = {f"r{n}": push_image("api", tags=[f"r{n}"], pushed_at=days_ago(50 - n)) for n in range(1, 5)}
    boto3.client("ecr").put_lifecycle_policy(
        repositoryName="api", lifecyclePolicyText=json.dumps(EXPIRE_BEYOND_TWO)
    )
    ecs_seed.run_service("prod", "api", [f"api:{running}"])
    return images


@pytest.fixture
def api(run_data: Any) -> dict[str, str]:
    """The service runs the oldest release, which the lifecycle policy would expire."""
    return seed_api("r1")


def stored(key: str) -> Any:
    return json.loads(boto3.client("s3").get_object(Bucket="reports", Key=key)["Body"].read())


def test_a_lifecycle_policy_that_would_expire_what_a_service_runs_is_one_warning(
    api: dict[str, str], run_data: Any
) -> None:
    summary = execute(POLICY, now=NOW).summary
    [warning] = stored(f"{FOLDER}summary.json")["warnings"]
    assert warning.startswith(
        f"native lifecycle policy of api rule 4 would expire {api['r1']} in use by ECS service "
    )
    assert "service/prod/api" in warning
    assert summary["warnings_count"] == 1
    assert "1 warnings" in summary["message"]
    report = stored(f"{FOLDER}repositories/{DEFAULT_REGION}/api.json")
    assert report["warnings"] == [warning]
    [(_, message, _, _, _)] = run_data.sent_notifications
    assert f"Warnings (1):\n  {warning}" in message
    page = boto3.client("s3").get_object(Bucket="reports", Key=f"{FOLDER}report.html")["Body"].read().decode()
    assert 'id="warnings"' in page
    assert api["r1"] in page


def test_images_the_lifecycle_policy_would_expire_that_nothing_runs_are_no_warning(run_data: Any) -> None:
    seed_api("r4")
    summary = execute(POLICY, now=NOW).summary
    assert "warnings" not in summary
    assert "warnings" not in stored(f"{FOLDER}summary.json")


def test_a_repository_without_a_lifecycle_policy_costs_one_call_and_no_warning(run_data: Any) -> None:
    create_repository("web")
    push_image("web", tags=["dev-1"], pushed_at=days_ago(90))
    with recording() as traffic:
        summary = execute(POLICY, now=NOW).summary
    assert traffic.of("ecr")["GetLifecyclePolicy"] == 1
    assert "warnings" not in summary


def test_the_check_can_be_turned_off(
    api: dict[str, str], run_data: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHECK_NATIVE_LIFECYCLE", "false")
    with recording() as traffic:
        summary = execute(POLICY, now=NOW).summary
    assert traffic.of("ecr")["GetLifecyclePolicy"] == 0
    assert "warnings" not in summary


def test_a_child_of_a_kept_index_that_the_lifecycle_policy_would_expire_is_a_warning(run_data: Any) -> None:
    from tests.support.ecr_seed import push_image_index

    create_repository("multi")
    children = [push_image("multi", pushed_at=days_ago(40)) for _ in range(2)]
    push_image_index("multi", children, tags=["v1"], pushed_at=days_ago(40))
    untagged = {
        "rules": [
            {
                "rulePriority": 1,
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": 7,
                },
                "action": {"type": "expire"},
            }
        ]
    }
    boto3.client("ecr").put_lifecycle_policy(repositoryName="multi", lifecyclePolicyText=json.dumps(untagged))
    execute(
        {"rules": [{"tag_status": "untagged", "older_than_days": 30}], "protect": {"tag_patterns": ["v*"]}},
        now=NOW,
    )
    warnings = stored(f"{FOLDER}summary.json")["warnings"]
    assert len(warnings) == 2
    assert all(
        "rule 1 would expire" in warning and "a child of kept image" in warning for warning in warnings
    )
    assert {warning.split(" would expire ")[1].split()[0] for warning in warnings} == set(children)
