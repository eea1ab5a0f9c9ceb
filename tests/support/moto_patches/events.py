"""EventBridge and EventBridge Scheduler: the named patches of moto's events and scheduler.

The limits of their listings, ListTargetsByRule paged by target Id, and rules that invoke Lambda.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tests.support.moto_patches.paging import (
    Invalid,
    _max_results,
)
from tests.support.moto_patches.registry import _patch

EVENTS_MAX_LIMIT = 100
"""ListRules, ListTargetsByRule, ListEventBuses: Limit 1..100 (moto's own default page is 50)."""

_log = logging.getLogger(__name__)

SCHEDULER_MAX_RESULTS = 100
"""ListSchedules: MaxResults 1..100 (moto's own default page is 50)."""


def _validation_error(exception: Callable[[str], Exception]) -> Invalid:
    def invalid(member: str, constraint: str) -> Exception:
        return exception(
            f"1 validation error detected: Value at '{member}' failed to satisfy constraint: {constraint}"
        )

    return invalid


@_patch(
    "EventBridge ListRules, ListTargetsByRule and ListEventBuses take any Limit; EventBridge allows "
    "1..100 and refuses more with ValidationException."
)
def events_list_limit() -> None:
    from moto.events.exceptions import ValidationException
    from moto.events.responses import EventsHandler

    invalid = _validation_error(ValidationException)

    def limited(original: Callable[[EventsHandler], Any]) -> Callable[[EventsHandler], Any]:
        @functools.wraps(original)
        def call(self: EventsHandler) -> Any:
            _max_results(
                self._get_param("Limit"),
                EVENTS_MAX_LIMIT,
                maximum=EVENTS_MAX_LIMIT,
                invalid=invalid,
                member="limit",
            )
            return original(self)

        return call

    EventsHandler.list_rules = limited(EventsHandler.list_rules)  # type: ignore[method-assign,assignment]
    EventsHandler.list_targets_by_rule = limited(EventsHandler.list_targets_by_rule)  # type: ignore[method-assign,assignment]
    EventsHandler.list_event_buses = limited(EventsHandler.list_event_buses)  # type: ignore[method-assign,assignment]


@_patch(
    "EventBridge ListTargetsByRule pages by target Arn, so a page of targets sharing an Arn (ECS tasks "
    "on one cluster) is returned again and again; page by target Id, unique within a rule."
)
def events_list_targets_by_rule_pages_by_id() -> None:
    from moto.events.utils import PAGINATION_MODEL

    PAGINATION_MODEL["list_targets_by_rule"]["unique_attribute"] = "Id"


@_patch(
    "EventBridge Scheduler ListSchedules takes any MaxResults; Scheduler allows 1..100 and refuses "
    "more with ValidationException."
)
def scheduler_list_schedules_max_results() -> None:
    from moto.scheduler.exceptions import ValidationException
    from moto.scheduler.responses import EventBridgeSchedulerResponse

    invalid = _validation_error(ValidationException)
    original = EventBridgeSchedulerResponse.list_schedules

    @functools.wraps(original)
    def list_schedules(self: EventBridgeSchedulerResponse) -> str:
        _max_results(
            self._get_param("MaxResults"),
            SCHEDULER_MAX_RESULTS,
            maximum=SCHEDULER_MAX_RESULTS,
            invalid=invalid,
            member="maxResults",
        )
        return original(self)

    EventBridgeSchedulerResponse.list_schedules = list_schedules  # type: ignore[method-assign]


@_patch(
    "EventBridge rules cannot target Lambda in moto (only logs, SQS, archives, buses, API destinations); "
    "invoke a Lambda target asynchronously with the event (or the target's constant Input), and only "
    "when the function's resource policy lets events.amazonaws.com invoke it for this rule, as AWS does. "
    "And a rule with a schedule and no event pattern matches every event in moto, none on AWS."
)
def events_lambda_targets() -> None:
    from moto.events.models import Rule

    original = Rule.send_to_targets

    @functools.wraps(original)
    def send_to_targets(self: Rule, original_event: Any, transform_input: bool = True) -> None:
        if not self.event_pattern.get_pattern():
            return  # a rule with only a schedule receives no event
        functions = [target for target in self.targets if target["Arn"].split(":")[2] == "lambda"]
        others = copy.copy(self)
        others.targets = [target for target in self.targets if target not in functions]
        original(others, original_event, transform_input)
        if self.state != "ENABLED" or not self.event_pattern.matches_event(original_event):
            return
        for target in functions:
            payload = json.loads(target["Input"]) if target.get("Input") else _as_delivered(original_event)
            threading.Thread(
                target=_invoke_lambda_target, args=(self.arn, target["Arn"], payload), daemon=True
            ).start()

    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]


def _as_delivered(event: dict[str, Any]) -> dict[str, Any]:
    """An event as AWS delivers it to a target: `time` in ISO 8601, without moto's ingestion time."""
    delivered = {key: value for key, value in event.items() if key != "ingestion-time"}
    if isinstance(delivered.get("time"), int | float):
        delivered["time"] = datetime.fromtimestamp(delivered["time"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return delivered


def _invoke_lambda_target(rule_arn: str, function_arn: str, event: Any) -> None:
    """An asynchronous invocation by EventBridge: dropped, as on AWS, when the function's policy does
    not allow the rule (AWS retries, then gives up or sends the event to the target's DLQ)."""
    from moto.awslambda.models import lambda_backends

    _, _, _, region, account, _, name = function_arn.split(":")[:7]
    backend = lambda_backends[account][region]
    try:
        function = backend.get_function(name)
        policy = function.policy.get_policy()["Policy"]
    except Exception:
        _log.warning("EventBridge target %s: no such function, or no resource policy", function_arn)
        return
    allowed = any(
        statement.get("Effect") == "Allow"
        and statement.get("Principal", {}).get("Service") == "events.amazonaws.com"
        and statement.get("Action") in ("lambda:InvokeFunction", "lambda:*")
        and statement.get("Condition", {}).get("ArnLike", {}).get("AWS:SourceArn", rule_arn) == rule_arn
        for statement in policy.get("Statement", [])
    )
    if not allowed:
        _log.warning("EventBridge rule %s may not invoke %s: the event is dropped", rule_arn, function_arn)
        return
    response_headers: dict[str, str] = {}
    try:
        result = function.invoke(json.dumps(event), {"x-amz-invocation-type": "Event"}, response_headers)
        if response_headers.get("x-amz-function-error"):
            _log.warning("EventBridge rule %s: %s failed: %s", rule_arn, function_arn, result)
    except Exception:
        _log.exception("EventBridge rule %s: invoking %s failed", rule_arn, function_arn)
