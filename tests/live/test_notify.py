"""Exactly one message per run: `notify`, which the EventBridge rule on the state machine's executions
invokes, announces every run that ended without its summary (a stop in the first step, an error, a
timeout, an abort), skips the runs Summarise announced, and announces each run once."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns.models import sns_backends

from ecr_cleanup.handlers import InvalidInput, list_repositories, notify
from ecr_cleanup.report import readable_cause
from ecr_cleanup.usage import UsageError
from tests.support.ecr_seed import DEFAULT_REGION

NOW = "2026-11-28T22:00:00Z"
STATE_MACHINE = f"arn:aws:states:{DEFAULT_REGION}:{DEFAULT_ACCOUNT_ID}:stateMachine:ecr-cleanup"
LAMBDA_CAUSE = json.dumps(
    {
        "errorMessage": "images in use could not be read: ssm:/platform/missing: ParameterNotFound",
        "errorType": "UsageError",
        "requestId": "8c1f",
        "stackTrace": ['  File "/var/task/ecr_cleanup/handlers.py", line 210, in list_repositories\n'],
    }
)


@pytest.fixture
def topic(aws: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The run data bucket and the topic, configured as the module configures the functions."""
    boto3.client("s3").create_bucket(Bucket="reports")
    arn = boto3.client("sns").create_topic(Name="cleanup")["TopicArn"]
    monkeypatch.setenv("REPORT_BUCKET", "reports")
    monkeypatch.setenv("REPORT_PREFIX", "audit/")
    monkeypatch.setenv("NOTIFICATION_TOPIC_ARN", arn)
    return sns_backends[DEFAULT_ACCOUNT_ID][DEFAULT_REGION].topics[arn]


def messages(topic: Any) -> list[tuple[str, str]]:
    return [(subject, message) for _, message, subject, _, _ in topic.sent_notifications]


def ended(
    status: str, *, name: str = "run-1", error: str | None = None, cause: str | None = None
) -> dict[str, Any]:
    """A 'Step Functions Execution Status Change' event, as EventBridge delivers it."""
    start = int(datetime.fromisoformat(NOW).timestamp() * 1000)
    return {
        "version": "0",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "resources": [f"{STATE_MACHINE.replace('stateMachine', 'execution')}:{name}"],
        "detail": {
            "executionArn": f"{STATE_MACHINE.replace('stateMachine', 'execution')}:{name}",
            "stateMachineArn": STATE_MACHINE,
            "name": name,
            "status": status,
            "startDate": start,
            "stopDate": start + 95_000,
            "error": error,
            "cause": cause,
        },
    }


def test_a_failed_run_is_announced_with_its_error_a_readable_cause_and_where_to_look(topic: Any) -> None:
    result = notify(
        ended(
            "FAILED",
            error="States.Runtime",
            cause="An error occurred while executing the state 'CleanupRepositories'.",
        )
    )

    assert result["published"] is True
    [(subject, message)] = messages(topic)
    assert subject == "ECR cleanup: run failed"
    assert "ECR cleanup run run-1: FAILED" in message
    assert "Error: States.Runtime" in message
    assert "Cause: An error occurred while executing the state 'CleanupRepositories'." in message
    assert "Started: 2026-11-28T22:00:00Z" in message
    assert "Ended: 2026-11-28T22:01:35Z" in message
    assert (
        "Execution: https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1"
        f"#/v2/executions/details/{STATE_MACHINE.replace('stateMachine', 'execution')}:run-1"
    ) in message
    assert "Run folder: s3://reports/audit/2026/11/28/220000Z-run-1/" in message


def test_a_run_stopped_in_its_first_step_is_announced_with_the_reason_its_summary_gives(topic: Any) -> None:
    policy = {"rules": [{"older_than_days": 30}], "protect": {"in_use_sources": ["ssm:/platform/missing"]}}
    with pytest.raises(UsageError):
        list_repositories({"policy": policy, "input": {}, "now": NOW, "execution": "run-1"})
    assert messages(topic) == [], "the first step publishes nothing itself"

    notify(ended("FAILED", error="UsageError", cause=LAMBDA_CAUSE))

    [(subject, message)] = messages(topic)
    assert subject == "ECR cleanup: run stopped, nothing deleted"
    assert "Nothing was deleted: the run stopped before any repository was cleaned" in message
    assert "Cause: UsageError: images in use could not be read: ssm:/platform/missing" in message
    assert "stackTrace" not in message
    assert "/var/task" not in message


@pytest.mark.parametrize(
    ("status", "subject", "says"),
    [
        ("TIMED_OUT", "ECR cleanup: run timed out", "reached its time limit"),
        ("ABORTED", "ECR cleanup: run was stopped", "was stopped before it ended"),
    ],
)
def test_a_run_that_timed_out_or_was_aborted_is_announced(
    topic: Any, status: str, subject: str, says: str
) -> None:
    notify(ended(status))
    [(sent, message)] = messages(topic)
    assert sent == subject
    assert says in message
    assert "_run/batches/" in message, "where to see what it deleted before it ended"


def test_a_run_that_failed_after_its_summary_is_not_announced_twice(topic: Any) -> None:
    result = notify(
        ended("FAILED", error="RepositoriesFailed", cause="deleted 3 of 11 images; 1 failed: app")
    )
    assert result == {"published": False, "reason": "announced by Summarise"}
    assert messages(topic) == []


def test_an_event_delivered_twice_sends_one_message(topic: Any) -> None:
    first = notify(ended("FAILED", error="Lambda.Unknown"))
    second = notify(ended("FAILED", error="Lambda.Unknown"))
    assert (first["published"], second) == (True, {"published": False, "reason": "already announced"})
    assert len(messages(topic)) == 1


def test_two_runs_each_get_their_message(topic: Any) -> None:
    notify(ended("FAILED", name="run-1", error="States.Runtime"))
    notify(ended("FAILED", name="run-2", error="States.Runtime"))
    assert len(messages(topic)) == 2


@pytest.mark.parametrize("status", ["RUNNING", "SUCCEEDED"])
def test_a_run_that_is_running_or_succeeded_is_left_to_summarise(topic: Any, status: str) -> None:
    assert notify(ended(status))["published"] is False
    assert messages(topic) == []


def test_an_event_without_an_execution_is_refused_by_name(topic: Any) -> None:
    with pytest.raises(InvalidInput, match="detail: required"):
        notify({"detail": {"status": "FAILED"}})


def test_a_lambda_errors_cause_reads_as_its_type_and_message() -> None:
    assert readable_cause(LAMBDA_CAUSE) == (
        "UsageError: images in use could not be read: ssm:/platform/missing: ParameterNotFound"
    )


def test_a_long_cause_is_cut_and_says_so() -> None:
    cause = readable_cause("x" * 5000)
    assert len(cause) == 2000
    assert cause.endswith("…")


def test_no_cause_reads_as_nothing() -> None:
    assert readable_cause(None) == ""
    assert readable_cause("  ") == ""


def test_without_a_topic_the_end_of_a_run_is_only_logged(
    topic: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("NOTIFICATION_TOPIC_ARN")
    caplog.set_level("INFO", logger="ecr_cleanup")
    assert notify(ended("TIMED_OUT")) == {"published": False, "reason": "no topic"}
    assert messages(topic) == []
    assert any('"status": "TIMED_OUT"' in record.getMessage() for record in caplog.records)
