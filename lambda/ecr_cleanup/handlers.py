"""Lambda handlers of the state machine: list the repositories, clean one repository, summarise.

The policy travels in each event (the state machine definition embeds it), never in environment
variables. Results stay small (counts, bytes, a few failures) so that the Map state's output stays
far below Step Functions' 256 KB payload limit; the image-by-image record goes to the function's log.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime
from typing import Any

import boto3

from .cleanup import Registry, RepositoryOutcome, clean_repository, selected_repositories
from .ecr import EcrRegistry, client_config
from .inventory import parse_time
from .policy import Policy, parse_policy
from .report import (
    emf_record,
    failure_reason,
    format_time,
    human_bytes,
    notification,
    repository_json,
    to_csv,
)
from .usage import UsageError, in_use_checker

__all__ = ["DeletionRefused", "InvalidInput", "cleanup_repository", "list_repositories", "summarise"]

logger = logging.getLogger("ecr_cleanup")
logger.setLevel(os.environ.get("LOG_LEVEL", "INFO"))

MAX_FAILURES_REPORTED = 10
EXECUTION_INPUT_FIELDS = ("dry_run",)


class InvalidInput(ValueError):
    """The execution input or a handler event is malformed; nothing was touched."""


class DeletionRefused(RuntimeError):
    """A guard (such as limits.max_delete_fraction) refused a repository's plan; nothing was deleted."""


def _registry() -> Registry:
    return EcrRegistry()


def _setting(name: str, default: str = "") -> str:
    return os.environ.get(name) or default


def _report_folder(now: datetime) -> str:
    """Where one run's reports go: `REPORT_PREFIX` + the run's start time."""
    return f"{_setting('REPORT_PREFIX', 'ecr-cleanup/')}{now:%Y/%m/%d/%H%M%SZ}/"


def _put_report(now: datetime, name: str, body: str, content_type: str) -> None:
    bucket = _setting("REPORT_BUCKET")
    if bucket:
        boto3.client("s3", config=client_config()).put_object(
            Bucket=bucket, Key=f"{_report_folder(now)}{name}", Body=body.encode(), ContentType=content_type
        )


def _metrics(now: datetime, metrics: dict[str, int], **dimensions: str) -> None:
    print(emf_record(_setting("METRICS_NAMESPACE", "ECRCleanup"), metrics, dimensions=dimensions, now=now))


def list_repositories(event: Mapping[str, Any], context: object = None) -> dict[str, Any]:
    """Validate the policy and the execution input, and list the repositories this run visits."""
    policy = parse_policy(event.get("policy"))
    now = _now(event)
    dry_run = bool(_flag(event, "dry_run", "dry_run")) or _execution_dry_run(event.get("input"))
    repositories = selected_repositories(policy, _registry().repositories())
    # Read every usage source once before any repository is touched: one that cannot be read
    # fails the run here, so nothing at all is deleted, and the report and the topic say why.
    try:
        in_use_checker(policy)
    except UsageError as error:
        _report_stopped(parse_time(now, "now"), dry_run, f"images in use could not be read: {error}")
        raise
    logger.info(
        json.dumps({"event": "repositories", "count": len(repositories), "dry_run": dry_run, "now": now})
    )
    return {"now": now, "dry_run": dry_run, "repositories": repositories}


def cleanup_repository(event: Mapping[str, Any], context: object = None) -> dict[str, Any]:
    """Plan one repository and, unless this is a dry run, delete what the plan says."""
    policy: Policy = parse_policy(event.get("policy"))
    repository = event.get("repository")
    if not isinstance(repository, str) or not repository:
        raise InvalidInput("repository: required, the name of one repository")
    if event.get("now") is None:
        raise InvalidInput("now: required, the run's instant in ISO 8601 (the execution start time)")
    now = parse_time(event["now"], "now")
    dry_run = _flag(event, "dry_run", "dry_run")
    if dry_run is None:
        raise InvalidInput("dry_run: required, true or false")

    outcome = clean_repository(
        _registry(), policy, repository, now, execute=not dry_run, in_use=in_use_checker(policy)
    )
    plan = outcome.plan
    assert plan is not None
    _write_reports(now, outcome)
    if outcome.error is not None:
        raise DeletionRefused(f"{repository}: {outcome.error}")
    deleted = set(outcome.deleted)
    for decision in plan.delete + plan.deferred:
        image = decision.image
        action = "deleted" if image.digest in deleted else decision.action.value
        if action == "delete" and dry_run:
            action = "would delete"
        logger.info(
            json.dumps(
                {
                    "event": "image",
                    "repository": repository,
                    "action": action,
                    "digest": image.digest,
                    "tags": list(image.tags),
                    "pushed_at": format_time(image.pushed_at),
                    "size": image.size,
                    "reason": decision.reason,
                }
            )
        )
    reclaimed = plan.bytes if dry_run else outcome.deleted_bytes
    result: dict[str, Any] = {
        "repository": repository,
        "status": "failed" if outcome.failures else "ok",
        "dry_run": dry_run,
        "images": plan.images,
        "delete": len(plan.delete),
        "deleted": len(outcome.deleted),
        "deferred": len(plan.deferred),
        "kept": len(plan.keep),
        "skipped": len(outcome.skipped),
        "bytes": reclaimed,
        "failures": [asdict(failure) for failure in outcome.failures[:MAX_FAILURES_REPORTED]],
    }
    logger.info(json.dumps({"event": "repository", **result}))
    _metrics(
        now,
        {
            "ImagesScanned": plan.images,
            "ImagesDeleted": len(outcome.deleted),
            "BytesReclaimed": reclaimed,
            "RepositoriesFailed": int(outcome.failed),
        },
        Repository=repository,
    )
    return result


def _report_stopped(now: datetime, dry_run: bool, reason: str) -> None:
    """A run that stopped before any repository was touched: its summary and notification say why."""
    message = f"Nothing was deleted: the run stopped before any repository was cleaned; {reason}"
    _put_report(
        now,
        "summary.json",
        json.dumps(
            {"now": format_time(now), "dry_run": dry_run, "deleted": 0, "error": reason, "message": message}
        ),
        "application/json",
    )
    topic = _setting("NOTIFICATION_TOPIC_ARN")
    if topic:
        boto3.client("sns", config=client_config()).publish(
            TopicArn=topic, Subject="ECR cleanup: run stopped, nothing deleted", Message=message + "\n"
        )


def _write_reports(now: datetime, outcome: RepositoryOutcome) -> None:
    name = outcome.repository
    _put_report(now, f"{name}.json", json.dumps(repository_json(outcome)), "application/json")
    _put_report(now, f"{name}.csv", to_csv(outcome), "text/csv")


def summarise(event: Mapping[str, Any], context: object = None) -> dict[str, Any]:
    """Totals of a run, and the repositories that failed with their reasons."""
    results = event.get("results")
    if not isinstance(results, list):
        raise InvalidInput("results: required, the list of per-repository results")
    dry_run = bool(event.get("dry_run"))
    failed = [result for result in results if result.get("status") != "ok"]
    totals = {
        key: sum(int(result.get(key) or 0) for result in results)
        for key in ("images", "delete", "deleted", "deferred", "bytes")
    }
    verb = "would delete" if dry_run else "deleted"
    count = totals["delete"] if dry_run else totals["deleted"]
    message = (
        f"{'Dry run: ' if dry_run else ''}{verb} {count} of {totals['images']} images "
        f"({human_bytes(totals['bytes'])}) in {len(results)} repositories"
    )
    if failed:
        reasons = "; ".join(f"{result.get('repository')}: {failure_reason(result)}" for result in failed)
        message += f"; {len(failed)} failed: {reasons}"
    summary = {
        "now": event.get("now"),
        "dry_run": dry_run,
        "repositories": len(results),
        "failed": [result.get("repository") for result in failed],
        "failed_count": len(failed),
        **totals,
        "message": message,
    }
    logger.info(json.dumps({"event": "summary", **summary}))
    moment = parse_time(event["now"], "now") if event.get("now") else datetime.now().astimezone()
    _put_report(moment, "summary.json", json.dumps(summary), "application/json")
    _metrics(
        moment,
        {
            "ImagesScanned": totals["images"],
            "ImagesDeleted": totals["deleted"],
            "BytesReclaimed": totals["bytes"],
            "RepositoriesFailed": len(failed),
        },
    )
    topic = _setting("NOTIFICATION_TOPIC_ARN")
    if topic:
        subject, body = notification(summary, results)
        boto3.client("sns", config=client_config()).publish(TopicArn=topic, Subject=subject, Message=body)
    return summary


def _now(event: Mapping[str, Any]) -> str:
    value = event.get("now")
    moment = datetime.now().astimezone() if value is None else parse_time(value, "now")
    return format_time(moment)


def _flag(event: Mapping[str, Any], key: str, path: str) -> bool | None:
    value = event.get(key)
    if value is not None and not isinstance(value, bool):
        raise InvalidInput(f"{path}: must be true or false, got {json.dumps(value)}")
    return value


def _execution_dry_run(execution_input: object) -> bool:
    """Read the execution input. An unknown field is refused: a misspelt `dry_run` must not delete."""
    if execution_input is None:
        return False
    if not isinstance(execution_input, Mapping):
        raise InvalidInput('execution input: must be a JSON object, e.g. {} or {"dry_run": true}')
    unknown = sorted(set(execution_input) - set(EXECUTION_INPUT_FIELDS))
    if unknown:
        raise InvalidInput(
            f"execution input: unknown field {unknown[0]!r}; allowed: {', '.join(EXECUTION_INPUT_FIELDS)}"
        )
    return bool(_flag(execution_input, "dry_run", "execution input.dry_run"))
