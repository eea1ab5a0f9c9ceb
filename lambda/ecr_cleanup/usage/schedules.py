"""Images of ECS tasks that run on a schedule or on an event: the targets of EventBridge rules (every
event bus) and of EventBridge Scheduler schedules (every schedule group). Nothing runs them between
two runs, so no task or service shows them."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from .ecs import task_definition_name, task_definition_references
from .reading import pages, reading
from .references import ImageReference

__all__ = ["event_rule_references", "schedule_references"]

EVENTS_PAGE_SIZE = 100
SCHEDULER_PAGE_SIZE = 100


def event_rule_references(
    events: Any, ecs: Any, task_definitions: MutableMapping[str, list[str]]
) -> list[ImageReference]:
    """The task definition every ECS target of every EventBridge rule starts, on every event bus."""
    buses: list[str] = []
    with reading("EventBridge ListEventBuses"):
        token = None
        while True:
            response = events.list_event_buses(
                Limit=EVENTS_PAGE_SIZE, **({"NextToken": token} if token else {})
            )
            buses += [bus["Name"] for bus in response["EventBuses"]]
            token = response.get("NextToken")
            if not token:
                break
    references: list[ImageReference] = []
    for bus in buses:
        with reading(f"EventBridge ListRules {bus}"):
            rules = [
                rule["Name"]
                for rule in pages(events, "list_rules", "Rules", page_size=EVENTS_PAGE_SIZE, EventBusName=bus)
            ]
        for rule in rules:
            with reading(f"EventBridge ListTargetsByRule {bus}/{rule}"):
                targets = pages(
                    events,
                    "list_targets_by_rule",
                    "Targets",
                    page_size=EVENTS_PAGE_SIZE,
                    Rule=rule,
                    EventBusName=bus,
                )
            for target in targets:
                task_definition = (target.get("EcsParameters") or {}).get("TaskDefinitionArn")
                if task_definition:
                    started = task_definition_name(task_definition)
                    source = f"EventBridge rule {bus}/{rule} -> task definition {started}"
                    references += task_definition_references(ecs, task_definition, source, task_definitions)
    return references


def schedule_references(
    scheduler: Any, ecs: Any, task_definitions: MutableMapping[str, list[str]]
) -> list[ImageReference]:
    """The task definition every schedule that runs an ECS task starts, in every schedule group.

    Only a schedule whose target is an ECS cluster is read in full (GetSchedule): the listing shows the
    target's ARN but not its parameters.
    """
    with reading("Scheduler ListSchedules"):
        schedules = [
            (schedule.get("GroupName") or "default", schedule["Name"])
            for schedule in pages(scheduler, "list_schedules", "Schedules", page_size=SCHEDULER_PAGE_SIZE)
            if ":ecs:" in schedule.get("Target", {}).get("Arn", "")
        ]
    references: list[ImageReference] = []
    for group, name in schedules:
        with reading(f"Scheduler GetSchedule {group}/{name}"):
            target = scheduler.get_schedule(GroupName=group, Name=name)["Target"]
            task_definition = (target.get("EcsParameters") or {}).get("TaskDefinitionArn")
        if task_definition:
            started = task_definition_name(task_definition)
            source = f"Scheduler schedule {group}/{name} -> task definition {started}"
            references += task_definition_references(ecs, task_definition, source, task_definitions)
    return references
