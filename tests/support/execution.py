"""The state machine's control flow around the handlers, in this process: for handler tests.

`statemachine.asl.json` runs `list_repositories`, then one child per item of the run's items, which
invokes `cleanup_repositories` until it answers `done` (and once more with the caught error if an
invocation fails), then `summarise`. `execute` does the same with plain calls, so handler tests can
drive whole runs against in-process moto; the module tests run the real definition.

An invocation fails with an exception, or by its sandbox ending (`faults.InvocationKilled`, which
Step Functions reports as `Sandbox.Timedout`). What the harness reads in place of Step Functions (the
Map's items, run objects) is never subject to injected faults.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3

from ecr_cleanup.handlers import cleanup_repositories, list_repositories, summarise
from tests.support.faults import InvocationKilled, suspended

NOW = "2026-11-28T22:00:00Z"


@dataclass
class Execution:
    """What one run did: the first state's result, every cleanup invocation, and the summary."""

    prepared: dict[str, Any]
    invocations: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def bucket(self) -> str:
        return str(self.prepared["run"]["bucket"])

    @property
    def folder(self) -> str:
        return str(self.prepared["run"]["folder"])

    def object(self, name: str) -> Any:
        """A JSON object of the run folder, e.g. "summary.json" or "_run/items.json"."""
        with suspended():
            body = boto3.client("s3").get_object(Bucket=self.bucket, Key=f"{self.folder}{name}")["Body"]
            return json.loads(body.read())


def items(prepared: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The Distributed Map's items, read as its ItemReader reads them."""
    with suspended():
        body = boto3.client("s3").get_object(Bucket=prepared["run"]["bucket"], Key=prepared["items_key"])
        return list(json.loads(body["Body"].read()))


def execute(
    policy: Mapping[str, Any],
    *,
    execution_input: Mapping[str, Any] | None = None,
    dry_run: bool = False,
    now: str = NOW,
    max_concurrency: int = 1,
    context: Callable[[], object] = lambda: None,
    after_prepare: Callable[[Execution], None] | None = None,
    execution: str | None = None,
) -> Execution:
    """One run through the handlers; `context` makes the Lambda context of each cleanup invocation,
    `after_prepare` sees the run between the first state and the cleanups. `execution` names the
    execution (as Step Functions passes it), so that two runs at the same `now` use two folders."""
    event: dict[str, Any] = {
        "policy": policy,
        "dry_run": dry_run,
        "input": dict(execution_input or {}),
        "now": now,
        "max_concurrency": max_concurrency,
    }
    if execution is not None:
        event["execution"] = execution
    prepared = list_repositories(event)
    run = Execution(prepared)
    if after_prepare is not None:
        after_prepare(run)
    base = {"policy": policy, "now": prepared["now"], "dry_run": prepared["dry_run"], "run": prepared["run"]}
    for item in items(prepared):
        position: dict[str, Any] | None = None
        while True:
            invocation = {**base, "item": item, "position": position}
            try:
                position = cleanup_repositories(invocation, context())
            except (Exception, InvocationKilled) as error:  # the child workflow catches States.ALL
                caught = _caught(error)
                run.failures.append(caught)
                try:
                    cleanup_repositories({**invocation, "error": caught})
                except (Exception, InvocationKilled) as unrecorded:  # the child fails; the Map goes on
                    run.failures.append(_caught(unrecorded))
                break
            run.invocations.append(position)
            if position["done"]:
                break
    run.summary = summarise({"now": prepared["now"], "dry_run": prepared["dry_run"], "run": prepared["run"]})
    return run


def _caught(error: BaseException) -> dict[str, str]:
    """What a Catch puts in `$.error` for a failed Lambda task: the error name (the exception's type,
    or `Sandbox.Timedout` for a sandbox that ended) and the function's error payload as the cause."""
    name = error.error_type if isinstance(error, InvocationKilled) else type(error).__name__
    return {"Error": name, "Cause": json.dumps({"errorType": name, "errorMessage": str(error)})}


class TimeBudget:
    """Lambda contexts whose remaining time shrinks by `cost_ms` for every AWS call made through the
    default boto3 session (what the handlers use), so that a test can run an invocation out of time
    deterministically. Each `context()` starts a fresh invocation with `budget_ms`."""

    def __init__(self, budget_ms: int, cost_ms: int) -> None:
        self.budget_ms = budget_ms
        self.cost_ms = cost_ms
        self.calls = 0
        boto3.DEFAULT_SESSION.events.register("before-call", self._count)  # type: ignore[union-attr]

    def _count(self, **_: Any) -> None:
        self.calls += 1

    def context(self) -> object:
        return _Context(self, self.calls)


@dataclass
class _Context:
    budget: TimeBudget
    started_at_call: int

    def get_remaining_time_in_millis(self) -> int:
        spent = (self.budget.calls - self.started_at_call) * self.budget.cost_ms
        return max(0, self.budget.budget_ms - spent)
