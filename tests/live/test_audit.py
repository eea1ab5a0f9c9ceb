"""Every run is auditable: reports in S3 (JSON and CSV), an SNS summary, EMF metrics; usage fails closed."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns.models import sns_backends

from ecr_cleanup.cleanup import RegistryError
from ecr_cleanup.ecr import EcrRegistry
from ecr_cleanup.handlers import InvalidInput, list_repositories
from ecr_cleanup.report import CSV_HEADER
from ecr_cleanup.usage import UsageError
from tests.support.ecr_seed import DEFAULT_REGION, create_repository, days_ago, push_image, remaining_digests
from tests.support.execution import Execution, execute

NOW = "2026-11-28T22:00:00Z"
POLICY: dict[str, Any] = {"rules": [{"older_than_days": 30}], "protect": {"tag_patterns": ["keep"]}}


@pytest.fixture
def audit(aws: None, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A report bucket and a topic, configured the way the module configures the functions."""
    boto3.client("s3").create_bucket(Bucket="reports")
    topic = boto3.client("sns").create_topic(Name="cleanup")["TopicArn"]
    monkeypatch.setenv("REPORT_BUCKET", "reports")
    monkeypatch.setenv("REPORT_PREFIX", "audit/")
    monkeypatch.setenv("NOTIFICATION_TOPIC_ARN", topic)
    monkeypatch.setenv("METRICS_NAMESPACE", "Test/ECRCleanup")
    return {"topic": topic}


@pytest.fixture
def repository(audit: dict[str, str]) -> dict[str, str]:
    create_repository("team/app")
    return {
        "old": push_image("team/app", tags=["dev-1"], pushed_at=days_ago(90)),
        "kept": push_image("team/app", tags=["keep"], pushed_at=days_ago(90)),
        "new": push_image("team/app", tags=["dev-2"], pushed_at=days_ago(3)),
    }


def report_object(key: str) -> str:
    return boto3.client("s3").get_object(Bucket="reports", Key=key)["Body"].read().decode()


def run_cleanup() -> Execution:
    return execute(POLICY, now=NOW)


def test_each_repository_report_lands_in_s3_as_json(
    audit: dict[str, str], repository: dict[str, str]
) -> None:
    run_cleanup()
    report = json.loads(report_object("audit/2026/11/28/220000Z/repositories/us-east-1/team/app.json"))
    assert report["name"] == "team/app"
    assert report["deleted"] == [repository["old"]]
    assert {entry["digest"] for entry in report["keep"]} == {repository["kept"], repository["new"]}


def test_each_repository_report_lands_in_s3_as_csv(audit: dict[str, str], repository: dict[str, str]) -> None:
    run_cleanup()
    rows = list(
        csv.reader(io.StringIO(report_object("audit/2026/11/28/220000Z/repositories/us-east-1/team/app.csv")))
    )
    assert tuple(rows[0]) == CSV_HEADER
    actions = {row[1]: row[2] for row in rows[1:]}
    assert actions == {repository["old"]: "deleted", repository["kept"]: "keep", repository["new"]: "keep"}
    assert {row[CSV_HEADER.index("region")] for row in rows[1:]} == {"us-east-1"}


def test_a_repository_prints_valid_emf_metrics(
    audit: dict[str, str], repository: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    run_cleanup()
    [record, _] = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert_valid_emf(record)
    assert record["Repository"] == "team/app"
    assert (record["ImagesScanned"], record["ImagesDeleted"]) == (3, 1)
    assert record["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Test/ECRCleanup"


def test_a_dry_run_emits_metrics_of_nothing_done(
    audit: dict[str, str], repository: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    execute(POLICY, now=NOW, dry_run=True)
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert {
        (record["ImagesScanned"], record["ImagesDeleted"], record["BytesReclaimed"]) for record in records
    } == {(3, 0, 0)}


def assert_valid_emf(record: dict[str, Any]) -> None:
    """The Embedded Metric Format's rules: a timestamp, and names that point at top-level values."""
    metadata = record["_aws"]
    assert isinstance(metadata["Timestamp"], int)
    for directive in metadata["CloudWatchMetrics"]:
        assert isinstance(directive["Namespace"], str)
        assert directive["Namespace"]
        for dimension_set in directive["Dimensions"]:
            assert all(isinstance(record[name], str) for name in dimension_set)
        for metric in directive["Metrics"]:
            assert isinstance(record[metric["Name"]], int | float)
            assert metric["Unit"] in {"Count", "Bytes"}


def test_the_summary_lands_in_s3_and_goes_to_the_topic(
    audit: dict[str, str], repository: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    create_repository("team/broken")
    read = EcrRegistry.images

    def images(self: EcrRegistry, name: str) -> Any:
        if name == "team/broken":
            raise RegistryError("denied")
        return read(self, name)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(EcrRegistry, "images", images)
        summary = run_cleanup().summary
    stored = json.loads(report_object("audit/2026/11/28/220000Z/summary.json"))
    assert stored == summary
    [(_, message, subject, _, _)] = (
        sns_backends[DEFAULT_ACCOUNT_ID][DEFAULT_REGION].topics[audit["topic"]].sent_notifications
    )
    assert subject.startswith("ECR cleanup: deleted 1 images")
    assert "1 repositories failed" in subject
    assert "team/app: 1 images" in message
    assert "team/broken: RegistryError: denied" in message
    [record] = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line][-1:]
    assert_valid_emf(record)
    assert record["RepositoriesFailed"] == 1


def test_the_summary_and_the_notification_give_the_storage_cost_removed(
    audit: dict[str, str], repository: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STORAGE_PRICE_PER_GB_MONTH", "100")
    summary = run_cleanup().summary
    assert summary["savings"]["per_month"] == 0.78, "8 MiB at $100 per GiB-month"
    assert "saves up to $0.78 per month in storage" in summary["message"]
    [(_, message, _, _, _)] = (
        sns_backends[DEFAULT_ACCOUNT_ID][DEFAULT_REGION].topics[audit["topic"]].sent_notifications
    )
    assert "Storage cost: Saves up to $0.78 per month in storage (at $100.00 per GB-month)" in message
    report = json.loads(report_object("audit/2026/11/28/220000Z/repositories/us-east-1/team/app.json"))
    assert report["savings"]["per_month"] == 0.78


def test_a_dry_run_would_save(audit: dict[str, str], repository: dict[str, str]) -> None:
    summary = execute(POLICY, now=NOW, dry_run=True).summary
    assert "would save up to $0.00 per month in storage" in summary["message"]


def test_a_run_that_archives_says_archiving_saves_nothing_at_the_default_prices(
    audit: dict[str, str], repository: dict[str, str]
) -> None:
    policy = {**POLICY, "rules": [{"older_than_days": 30, "action": "archive"}]}
    summary = execute(policy, now=NOW).summary
    assert summary["archived"] == 1
    assert summary["savings"]["archived_per_month"] == 0.0
    assert any("archiving saves nothing" in note for note in summary["notes"])


def test_a_price_that_is_not_a_number_stops_the_summary_with_its_name(
    audit: dict[str, str], repository: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARCHIVE_PRICE_PER_GB_MONTH", "ten cents")
    with pytest.raises(InvalidInput, match="ARCHIVE_PRICE_PER_GB_MONTH"):
        run_cleanup()


def test_an_image_an_ecs_task_runs_is_not_deleted(repository: dict[str, str]) -> None:
    ecs = boto3.client("ecs")
    ecs.create_cluster(clusterName="prod")
    image = f"{DEFAULT_ACCOUNT_ID}.dkr.ecr.{DEFAULT_REGION}.amazonaws.com/team/app:dev-1"
    ecs.register_task_definition(
        family="app", containerDefinitions=[{"name": "app", "image": image, "memory": 128}]
    )
    ecs.create_service(cluster="prod", serviceName="app", taskDefinition="app", desiredCount=1)
    summary = run_cleanup().summary
    assert (summary["delete"], summary["deleted"]) == (0, 0)


def test_a_usage_source_that_cannot_be_read_stops_the_run_before_anything_is_deleted(
    repository: dict[str, str],
) -> None:
    policy = {**POLICY, "protect": {"in_use_sources": ["s3://missing-bucket/images.txt"]}}
    with pytest.raises(UsageError, match=r"s3://missing-bucket/images\.txt"):
        list_repositories({"policy": policy, "input": {}, "now": NOW})
    assert remaining_digests("team/app") == set(repository.values())


def test_a_run_stopped_by_an_unreadable_usage_source_says_why_in_its_summary_and_publishes_nothing(
    audit: dict[str, str], repository: dict[str, str]
) -> None:
    policy = {**POLICY, "protect": {"in_use_sources": ["ssm:/platform/missing"]}}
    with pytest.raises(UsageError):
        list_repositories({"policy": policy, "input": {}, "now": NOW})
    summary = json.loads(report_object("audit/2026/11/28/220000Z/summary.json"))
    assert summary["deleted"] == 0
    assert "ssm:/platform/missing" in summary["error"]
    topic = sns_backends[DEFAULT_ACCOUNT_ID][DEFAULT_REGION].topics[audit["topic"]]
    assert topic.sent_notifications == [], "the failed execution's notify announces it, once"
