"""EventBridge and EventBridge Scheduler: the named patches of moto's events and scheduler.

The limits of their listings, and ListTargetsByRule paged by target Id.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from tests.support.moto_patches.paging import (
    Invalid,
    _max_results,
)
from tests.support.moto_patches.registry import _patch

EVENTS_MAX_LIMIT = 100
"""ListRules, ListTargetsByRule, ListEventBuses: Limit 1..100 (moto's own default page is 50)."""

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
