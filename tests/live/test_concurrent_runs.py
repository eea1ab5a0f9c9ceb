"""Two runs must not delete at the same time: the first state of a run that may delete stops it while
an earlier execution of the same state machine that may delete is still running.

Here moto does not run the definitions, so an execution stays RUNNING until it is stopped: what a
run in the middle of its cleanups looks like to the other.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from ecr_cleanup.handlers import AnotherRunInProgress, InvalidInput, list_repositories
from tests.support.ecr_seed import create_repository, days_ago, push_image
from tests.support.execution import NOW

BUCKET = "cleanup-runs"
POLICY: dict[str, Any] = {"rules": [{"older_than_days": 30}]}

Start = Callable[..., str]


@pytest.fixture
def state_machine(aws: None, monkeypatch: pytest.MonkeyPatch) -> str:
    from moto.settings import default_user_config

    monkeypatch.setitem(default_user_config.setdefault("stepfunctions", {}), "execute_state_machine", False)
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("REPORT_BUCKET", BUCKET)
    create_repository("app")
    push_image("app", tags=["old"], pushed_at=days_ago(90))
    definition = {"StartAt": "Wait", "States": {"Wait": {"Type": "Pass", "End": True}}}
    return str(
        boto3.client("stepfunctions").create_state_machine(
            name="ecr-cleanup",
            definition=json.dumps(definition),
            roleArn="arn:aws:iam::123456789012:role/states",
        )["stateMachineArn"]
    )


@pytest.fixture
def start(state_machine: str) -> Start:
    """Start an execution (it stays RUNNING) with an input; its ARN."""

    def started(name: str, execution_input: object = None) -> str:
        return str(
            boto3.client("stepfunctions").start_execution(
                stateMachineArn=state_machine,
                name=name,
                input=json.dumps({} if execution_input is None else execution_input),
            )["executionArn"]
        )

    return started


def first_state(state_machine: str, execution_arn: str, execution_input: object = None) -> dict[str, Any]:
    """The list function as the state machine invokes it for that execution."""
    return list_repositories(
        {
            "policy": POLICY,
            "dry_run": False,
            "input": {} if execution_input is None else execution_input,
            "now": NOW,
            "execution": execution_arn.rsplit(":", 1)[1],
            "execution_arn": execution_arn,
            "state_machine": state_machine,
        }
    )


def summary_of(execution: str) -> dict[str, Any]:
    s3 = boto3.client("s3")
    key = next(
        item["Key"]
        for item in s3.list_objects_v2(Bucket=BUCKET)["Contents"]
        if item["Key"].endswith(f"-{execution}/summary.json")
    )
    return dict(json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()))


def test_a_run_stops_while_an_earlier_run_is_in_progress(state_machine: str, start: Start) -> None:
    start("scheduled")
    manual = start("manual")
    with pytest.raises(
        AnotherRunInProgress, match=r"another run of this state machine, scheduled \(started "
    ):
        first_state(state_machine, manual)


def test_the_stopped_run_says_why_and_that_nothing_was_deleted(state_machine: str, start: Start) -> None:
    start("scheduled")
    with pytest.raises(AnotherRunInProgress):
        first_state(state_machine, start("manual"))
    summary = summary_of("manual")
    assert summary["deleted"] == 0
    assert summary["message"].startswith("Nothing was deleted: the run stopped before any repository")
    assert "scheduled" in summary["error"]


def test_the_earlier_run_goes_on_whatever_started_after_it(state_machine: str, start: Start) -> None:
    scheduled = start("scheduled")
    start("manual")
    assert first_state(state_machine, scheduled)["repositories"] == 1


def test_an_earlier_dry_run_does_not_stop_a_run(state_machine: str, start: Start) -> None:
    start("preview", {"dry_run": True})
    assert first_state(state_machine, start("scheduled"))["dry_run"] is False


def test_an_earlier_execution_with_malformed_input_does_not_stop_a_run(
    state_machine: str, start: Start
) -> None:
    start("typo", {"dryrun": False})
    assert first_state(state_machine, start("scheduled"))["repositories"] == 1


def test_a_dry_run_is_never_stopped(state_machine: str, start: Start) -> None:
    start("scheduled")
    assert first_state(state_machine, start("preview"), {"dry_run": True})["dry_run"] is True


def test_a_run_that_has_ended_does_not_stop_the_next(state_machine: str, start: Start) -> None:
    boto3.client("stepfunctions").stop_execution(executionArn=start("yesterday"))
    assert first_state(state_machine, start("today"))["repositories"] == 1


def test_the_state_machine_and_the_execution_are_named_together(state_machine: str, start: Start) -> None:
    with pytest.raises(InvalidInput, match="state_machine and execution_arn: both required together"):
        list_repositories(
            {"policy": POLICY, "input": {}, "now": NOW, "state_machine": state_machine, "execution_arn": None}
        )
