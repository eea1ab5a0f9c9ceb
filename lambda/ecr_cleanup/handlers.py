"""Lambda handlers of the state machine: prepare a run, clean groups of repositories, summarise.

- `list_repositories` (the first state) checks the policy and the execution input, lists the selected
  repositories, reads the images in use once for the whole run, and writes both to the run folder
  in S3 (`rundata`): the repositories in groups, which the Distributed Map reads as its items.
- `cleanup_repositories` (one child execution per group) cleans the group's repositories in turn. It
  stops before its time runs out and returns where to continue; the child workflow invokes it again.
  A repository that fails is recorded and the next one still runs. Each delete or archive batch is
  logged and recorded in S3 the moment ECR confirms it, so a function that dies mid-way leaves a
  complete record of what it did; reports and failed results are built from those records.
- `summarise` (the last state) adds up every result, writes summary.json and notifies.

The policy travels in each event (the state machine definition embeds it), never in environment
variables. Every result passed between states stays small and of bounded size, whatever the number of
repositories: the image-by-image record goes to the function's log and to the reports in S3.
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import os
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from .cleanup import (
    BatchDone,
    OnBatch,
    Registry,
    RegistryError,
    RepositoryOutcome,
    clean_repository,
    selected_repositories,
    took_effect,
)
from .ecr import EcrRegistry, client_config
from .inventory import parse_time
from .policy import Policy, parse_policy
from .report import (
    ACTED,
    batch_record,
    emf_record,
    failure_line,
    format_time,
    human_bytes,
    notification,
    recorded_totals,
    repository_json,
    to_csv,
)
from .rundata import (
    SAFE_KEY_CHARACTERS,
    CachedManifests,
    ManifestCache,
    RunData,
    RunDataError,
    SharedUsage,
    group_repositories,
    run_folder,
)
from .usage import DEFAULT_MAX_AGE, UsageCache, UsageCollector, UsageError, UsageScan
from .usage.reading import describe_error

__all__ = [
    "DeletionRefused",
    "InvalidInput",
    "cleanup_repositories",
    "list_repositories",
    "summarise",
]

logger = logging.getLogger("ecr_cleanup")
logger.setLevel(os.environ.get("LOG_LEVEL", "INFO"))

MAX_FAILURES_REPORTED = 10
EXECUTION_INPUT_FIELDS = ("dry_run",)
PULL_TIME_EXCLUSIONS_LIMIT = 100
RESERVE_FRACTION = 0.1
RESERVE_MAX_MS = 60_000
EXECUTION_NAME_FORBIDDEN = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]")
"""What Step Functions refuses in an execution name (1 to 80 characters); the run folder spells the
rest with `rundata.key_segment`."""


class InvalidInput(ValueError):
    """The execution input or a handler event is malformed; nothing was touched."""


class DeletionRefused(RuntimeError):
    """A guard (such as limits.max_delete_fraction) refused a repository's plan; nothing was deleted."""


class AnotherRunInProgress(RuntimeError):
    """An earlier execution of the same state machine that may delete is still running; this one
    touched nothing."""


@functools.cache
def _client(service: str) -> Any:
    """One client per service for the life of the execution environment, as Lambda reuses it."""
    return boto3.client(service, config=client_config())


def _registry() -> Registry:
    return EcrRegistry(_client("ecr"))


def _setting(name: str, default: str = "") -> str:
    return os.environ.get(name) or default


def _s3() -> Any:
    return _client("s3")


def _run_data(event: Mapping[str, Any]) -> RunData:
    run = event.get("run")
    if not isinstance(run, Mapping) or not run.get("bucket") or not run.get("folder"):
        raise InvalidInput('run: required, {"bucket": ..., "folder": ...} as list_repositories returned it')
    return RunData(_s3(), str(run["bucket"]), str(run["folder"]))


def _usage_max_age() -> timedelta:
    minutes = _setting("USAGE_MAX_AGE_MINUTES")
    if not minutes:
        return DEFAULT_MAX_AGE
    try:
        value = float(minutes)
    except ValueError:
        value = 0
    if value <= 0:
        raise InvalidInput(f"USAGE_MAX_AGE_MINUTES: must be a positive number of minutes, got {minutes!r}")
    return timedelta(minutes=value)


def _scanner(policy: Policy) -> Callable[[UsageCache], UsageScan]:
    def scan(cache: UsageCache) -> UsageScan:
        return UsageCollector(clients=_client, cache=cache).scan(policy)

    return scan


def _warn(message: str) -> None:
    logger.warning(json.dumps({"event": "warning", "message": message}))


def _metrics(now: datetime, metrics: dict[str, int], **dimensions: str) -> None:
    print(emf_record(_setting("METRICS_NAMESPACE", "ECRCleanup"), metrics, dimensions=dimensions, now=now))


def list_repositories(event: Mapping[str, Any], context: object = None) -> dict[str, Any]:
    """Validate the policy and the execution input; write the run's items and usage snapshot."""
    policy = parse_policy(event.get("policy"))
    now = _now(event)
    moment = parse_time(now, "now")
    dry_run = bool(_flag(event, "dry_run", "dry_run")) or _execution_dry_run(event.get("input"))
    concurrency = event.get("max_concurrency", 1)
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise InvalidInput(f"max_concurrency: must be a whole number >= 1, got {json.dumps(concurrency)}")
    bucket = _setting("REPORT_BUCKET")
    if not bucket:
        raise InvalidInput("REPORT_BUCKET: the function's environment must name the run data bucket")
    execution = event.get("execution")
    if execution is not None and (
        not isinstance(execution, str)
        or not 1 <= len(execution) <= 80
        or EXECUTION_NAME_FORBIDDEN.search(execution)
    ):
        raise InvalidInput(f"execution: must be the execution's name, got {json.dumps(execution)}")
    prefix = _setting("REPORT_PREFIX", "ecr-cleanup/")
    if not set(prefix) <= SAFE_KEY_CHARACTERS:
        raise InvalidInput(
            f"REPORT_PREFIX: {prefix!r} holds characters that are not safe in S3 keys; use letters, "
            "digits and !-_.*'()/ (report_prefix of the module)"
        )
    run = RunData(_s3(), bucket, run_folder(prefix, moment, execution))
    if not dry_run:
        other = _earlier_run_in_progress(event)
        if other is not None:
            reason = (
                f"another run of this state machine, {other}, is still in progress and two runs must "
                "not delete at the same time; start this one again when that run has ended"
            )
            _report_stopped(run, moment, dry_run, reason)
            raise AnotherRunInProgress(reason)
    repositories = selected_repositories(policy, _registry().repositories())
    groups = group_repositories(repositories, concurrency)
    claim = event.get("execution_arn") or execution or str(uuid.uuid4())
    run.write_items(groups, claim=str(claim))
    notes = _exclude_own_pulls() if _setting("EXCLUDE_OWN_PULLS") == "true" else []
    if notes:
        run.write_notes(notes)
    # Images in use are read once for the whole run, before any repository is touched: a source
    # that cannot be read fails the run here, so nothing at all is deleted, and the report says why.
    if policy.protect.in_use:
        try:
            scan = _scanner(policy)(UsageCache())
        except UsageError as error:
            _report_stopped(run, moment, dry_run, f"images in use could not be read: {error}")
            raise
        run.write_usage(0, scan)
    logger.info(
        json.dumps(
            {
                "event": "repositories",
                "count": len(repositories),
                "items": len(groups),
                "dry_run": dry_run,
                "now": now,
                "folder": f"s3://{bucket}/{run.folder}",
            }
        )
    )
    return {
        "now": now,
        "dry_run": dry_run,
        "run": {"bucket": bucket, "folder": run.folder},
        "items_key": run.items_key,
        "repositories": len(repositories),
        "items": len(groups),
    }


def _earlier_run_in_progress(event: Mapping[str, Any]) -> str | None:
    """The name and start of a running execution of this state machine that started before this one
    and may delete (not a dry run), or None. Of two runs started at once, the one that started
    first (by start time, then by ARN) goes on and the other stops, whichever looks first."""
    state_machine, execution_arn = event.get("state_machine"), event.get("execution_arn")
    if state_machine is None and execution_arn is None:
        return None
    if not isinstance(state_machine, str) or not isinstance(execution_arn, str):
        raise InvalidInput(
            "state_machine and execution_arn: both required together, the ARNs of the state machine "
            f"and of this execution, got {json.dumps(state_machine)} and {json.dumps(execution_arn)}"
        )
    states = _client("stepfunctions")
    running: list[dict[str, Any]] = []
    for page in states.get_paginator("list_executions").paginate(
        stateMachineArn=state_machine, statusFilter="RUNNING"
    ):
        running += page.get("executions", [])
    this = next((e for e in running if e["executionArn"] == execution_arn), None)
    if this is None:
        this = states.describe_execution(executionArn=execution_arn)
    started = (this["startDate"], execution_arn)
    for other in sorted(running, key=lambda e: (e["startDate"], e["executionArn"])):
        if (other["startDate"], other["executionArn"]) >= started:
            break
        described = states.describe_execution(executionArn=other["executionArn"])
        if _may_delete(described.get("input")):
            return f"{other['name']} (started {format_time(other['startDate'])})"
    return None


def _may_delete(execution_input: object) -> bool:
    """Whether an execution started with this input (JSON text) may delete: not a dry run, and an
    input its first state accepts."""
    try:
        return not _execution_dry_run(
            json.loads(execution_input) if isinstance(execution_input, str) else None
        )
    except (ValueError, InvalidInput):
        return False


def _exclude_own_pulls() -> list[str]:
    """Keep the functions' role out of ECR's pull-time updates, so that reading an image index's
    manifest (BatchGetImage is a pull) does not make it look pulled. Returns what the summary must say
    when that cannot be done; the run goes on either way (a refreshed pull time only keeps an index
    longer)."""
    role = _setting("LAMBDA_ROLE_ARN")
    if not role:
        raise InvalidInput(
            "LAMBDA_ROLE_ARN: the function's environment must name its role when EXCLUDE_OWN_PULLS"
        )
    ecr = _client("ecr")
    try:
        excluded: list[str] = []
        token = None
        while True:
            response = ecr.list_pull_time_update_exclusions(**({"nextToken": token} if token else {}))
            excluded += response.get("pullTimeUpdateExclusions", [])
            token = response.get("nextToken")
            if not token:
                break
        if role in excluded:
            return []
        if len(excluded) >= PULL_TIME_EXCLUSIONS_LIMIT:
            return [
                f"{role} is not excluded from pull-time updates: the registry already has "
                f"{len(excluded)} exclusions, the most ECR allows; reading image index manifests may "
                "refresh their pull times"
            ]
        ecr.register_pull_time_update_exclusion(principalArn=role)
    except (ClientError, BotoCoreError) as error:
        return [
            f"{role} could not be excluded from pull-time updates ({describe_error(error)}); reading "
            "image index manifests may refresh their pull times"
        ]
    logger.info(json.dumps({"event": "pull-time-exclusion", "principal": role}))
    return []


def cleanup_repositories(event: Mapping[str, Any], context: object = None) -> dict[str, Any]:
    """Clean one item's repositories from where the last invocation stopped; say where to continue.

    With an `error` (the child workflow caught a failed invocation), record every repository of the
    item that has no result yet as failed with that error, and delete nothing.
    """
    policy: Policy = parse_policy(event.get("policy"))
    if event.get("now") is None:
        raise InvalidInput("now: required, the run's instant in ISO 8601 (the execution start time)")
    now = parse_time(event["now"], "now")
    dry_run = _flag(event, "dry_run", "dry_run")
    if dry_run is None:
        raise InvalidInput("dry_run: required, true or false")
    index, repositories = _item(event.get("item"))
    position = _position(event.get("position"), len(repositories))
    run = _run_data(event)
    if event.get("error") is not None:
        return _record_failure(
            run,
            index=index,
            repositories=repositories,
            position=position,
            error=event["error"],
            dry_run=dry_run,
        )

    usage = SharedUsage(run, _scanner(policy), max_age=_usage_max_age()) if policy.protect.in_use else None
    stop = _time_is_short(context)
    part = f"{position['part']:04d}"
    registry: Registry = CachedManifests(
        _registry(), ManifestCache(_s3(), run.bucket, _setting("REPORT_PREFIX", "ecr-cleanup/")), _warn
    )
    results: list[dict[str, Any]] = []
    carry = position.get("carry") or {}
    invocation = str(getattr(context, "aws_request_id", None) or uuid.uuid4())[:8]
    on_batch = None if dry_run else _recorder(run, f"{part}-{invocation}")
    for number in range(position["next"], len(repositories)):
        repository = repositories[number]
        if results and stop is not None and stop():
            run.write_results(index, part, results)
            return _continue_at(number, position["part"] + 1, None)
        try:
            outcome = clean_repository(
                registry,
                policy,
                repository,
                now,
                execute=not dry_run,
                usage=usage,
                stop=stop,
                counted=int(carry.get("counted", 0)),
                on_batch=on_batch,
            )
        except RegistryError as error:
            results.append(_failed(repository, "RegistryError", str(error), dry_run, run))
            run.write_results(index, part, results)
            carry = {}
            continue
        _log_images(repository, outcome, dry_run)
        if not outcome.complete:
            run.write_results(index, part, results)
            return _continue_at(number, position["part"] + 1, _carried(carry, outcome))
        results.append(_finish(run, now, outcome, dry_run, carry))
        # Each finished repository is on record at once: if the function dies on the next one,
        # the failure is recorded for the repositories it did not finish only.
        run.write_results(index, part, results)
        carry = {}
    if not results:
        run.write_results(index, part, results)
    return {"done": True, "next": len(repositories), "part": position["part"], "carry": None}


def _recorder(run: RunData, name: str) -> OnBatch:
    """Keep each batch's record in the run data: "started" before ECR is called, then "done" under the
    same name with what ECR confirmed, whose images are logged at once. A record that cannot be
    written stops the invocation: no deletion goes unrecorded."""
    numbers = itertools.count()
    started: list[str] = []

    def record(batch: BatchDone) -> None:
        entry = batch_record(batch, datetime.now(UTC))
        key = started.pop() if batch.confirmed and started else f"{name}-{next(numbers):05d}"
        if not batch.confirmed:
            started.append(key)
        if batch.confirmed:
            _log_acted(batch.repository, entry["action"], entry["images"])
        run.write_batch(batch.repository, key, entry)

    return record


def _recorded(run: RunData, repository: str, dry_run: bool) -> dict[str, int]:
    """What the batch records of a repository add up to, for a repository that failed (the result
    fields `images`, `delete`, `deleted`, `bytes`, `archive`, `archived`, `archived_bytes`, `untag`,
    `untagged`).

    A batch recorded as started but never as done (the invocation died while ECR answered) is settled
    here: ECR says which of its images are gone (or archived), and the record is rewritten so."""
    if dry_run:
        return {}
    try:
        records = [_settled(run, record) for record in run.read_batches(repository)]
    except (RunDataError, RegistryError) as error:
        _warn(f"{repository}: what it deleted before it failed could not be read: {error}")
        return {}
    totals = recorded_totals(records)
    if not totals["deleted"] and not totals["archived"] and not totals["untagged"]:
        return {}
    return {**totals, "delete": totals["deleted"], "archive": totals["archived"], "untag": totals["untagged"]}


def _settled(run: RunData, record: dict[str, Any]) -> dict[str, Any]:
    """A batch record as ECR settles it: a started batch becomes done with the images it did act on."""
    if record.get("state") != "started":
        return record
    repository = record["repository"]
    now = _registry().describe(repository, [image["digest"] for image in record["images"]])
    action = {acted: action for action, acted in ACTED.items()}[record["action"]]
    acted = [
        image
        for image in record["images"]
        if took_effect(action, now.get(image["digest"]), image.get("removed", ()))
    ]
    name = str(record.pop("name"))
    settled = {**record, "state": "done", "settled": "after the invocation ended", "images": acted}
    run.write_batch(repository, name, settled)
    _log_acted(repository, record["action"], acted)
    return settled


def _log_acted(repository: str, action: str, images: Sequence[Mapping[str, Any]]) -> None:
    """One log line per image a batch deleted or archived (`action` as the batch record says it)."""
    for image in images:
        logger.info(json.dumps({"event": "image", "repository": repository, "action": action, **image}))


def _item(value: object) -> tuple[int, list[str]]:
    if not isinstance(value, Mapping):
        raise InvalidInput('item: required, {"index": n, "repositories": [...]} from the run\'s items')
    index, repositories = value.get("index"), value.get("repositories")
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise InvalidInput(f"item.index: must be a whole number >= 0, got {json.dumps(index)}")
    if not isinstance(repositories, list) or not all(isinstance(name, str) and name for name in repositories):
        raise InvalidInput("item.repositories: must be a list of repository names")
    return index, repositories


def _position(value: object, count: int) -> dict[str, Any]:
    """Where to start: the first repository (`null`), or what the last invocation returned."""
    if value is None:
        return {"next": 0, "part": 0, "carry": None}
    if not isinstance(value, Mapping):
        raise InvalidInput("position: must be null or what the previous invocation returned")
    position = dict(value)
    for key in ("next", "part"):
        number = position.get(key)
        if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= max(count, 9999):
            raise InvalidInput(f"position.{key}: must be a whole number >= 0, got {json.dumps(number)}")
    return position


def _continue_at(number: int, part: int, carry: dict[str, int] | None) -> dict[str, Any]:
    logger.info(json.dumps({"event": "continue", "next": number, "part": part}))
    return {"done": False, "next": number, "part": part, "carry": carry}


def _carried(carry: Mapping[str, Any], outcome: RepositoryOutcome) -> dict[str, int]:
    """What earlier invocations did in a repository that is still being cleaned."""
    return {
        "counted": outcome.counted,
        "deleted": int(carry.get("deleted", 0)) + len(outcome.deleted),
        "bytes": int(carry.get("bytes", 0)) + outcome.deleted_bytes,
        "archived": int(carry.get("archived", 0)) + len(outcome.archived),
        "archived_bytes": int(carry.get("archived_bytes", 0)) + outcome.archived_bytes,
        "untagged": int(carry.get("untagged", 0)) + len(outcome.untagged),
        "tags_removed": int(carry.get("tags_removed", 0)) + outcome.tags_removed,
    }


def _time_is_short(context: object) -> Callable[[], bool] | None:
    """Whether the invocation should stop now, keeping a reserve to write what it did."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    reserve = min(RESERVE_MAX_MS, RESERVE_FRACTION * remaining())
    return lambda: bool(remaining() < reserve)


def _finish(
    run: RunData, now: datetime, outcome: RepositoryOutcome, dry_run: bool, carry: Mapping[str, Any]
) -> dict[str, Any]:
    """The repository's reports, metrics and result, counting what earlier invocations deleted."""
    repository = outcome.repository
    plan = outcome.plan
    assert plan is not None
    earlier_acted = carry.get("deleted") or carry.get("archived") or carry.get("untagged")
    records = _earlier_records(run, outcome) if earlier_acted else []
    run.put_repository_report(
        repository, "json", json.dumps(repository_json(outcome, records)), "application/json"
    )
    run.put_repository_report(repository, "csv", to_csv(outcome, records), "text/csv")
    earlier = int(carry.get("deleted", 0))
    deleted = len(outcome.deleted) + earlier
    reclaimed = plan.bytes if dry_run else outcome.deleted_bytes + int(carry.get("bytes", 0))
    archived_earlier = int(carry.get("archived", 0))
    archived_bytes = (
        plan.archive_bytes if dry_run else outcome.archived_bytes + int(carry.get("archived_bytes", 0))
    )
    result: dict[str, Any] = {
        "repository": repository,
        "status": "failed" if outcome.failed else "ok",
        "dry_run": dry_run,
        "images": plan.images + earlier,
        "delete": len(plan.delete) + earlier,
        "deleted": deleted,
        "archive": len(plan.archive) + archived_earlier,
        "archived": len(outcome.archived) + archived_earlier,
        "archived_bytes": archived_bytes,
        "untag": len(plan.untag) + int(carry.get("untagged", 0)),
        "untagged": len(outcome.untagged) + int(carry.get("untagged", 0)),
        "tags_removed": plan.tags_removed
        if dry_run
        else outcome.tags_removed + int(carry.get("tags_removed", 0)),
        "deferred": len(plan.deferred),
        "kept": len(plan.keep),
        "skipped": len(outcome.skipped),
        "bytes": reclaimed,
        "failures": [asdict(failure) for failure in outcome.failures[:MAX_FAILURES_REPORTED]],
        "failed_images": len(outcome.failures),
    }
    if outcome.error is not None:
        result["error"] = {"Error": DeletionRefused.__name__, "Cause": f"{repository}: {outcome.error}"}
    logger.info(json.dumps({"event": "repository", **result}))
    _metrics(
        now,
        {
            "ImagesScanned": result["images"],
            "ImagesDeleted": deleted,
            "BytesReclaimed": reclaimed,
            "ImagesArchived": result["archived"],
            "BytesArchived": archived_bytes,
            "ImagesUntagged": result["untag" if dry_run else "untagged"],
            "RepositoriesFailed": int(outcome.failed),
        },
        Repository=repository,
    )
    return result


def _earlier_records(run: RunData, outcome: RepositoryOutcome) -> list[dict[str, Any]]:
    """The batch records of earlier invocations in this repository (this one's are in `outcome`)."""
    now = {*outcome.deleted, *outcome.archived, *outcome.untagged}
    records = []
    for record in run.read_batches(outcome.repository):
        if record.get("state") == "started":
            continue
        images = [image for image in record["images"] if image["digest"] not in now]
        if images:
            records.append({**record, "images": images})
    return records


def _log_images(repository: str, outcome: RepositoryOutcome, dry_run: bool) -> None:
    """One log line per image this invocation would delete, deferred, or planned to delete but did
    not (the images it deleted were logged batch by batch, as they went)."""
    plan = outcome.plan
    assert plan is not None
    deleted = set(outcome.deleted)
    done = {*deleted, *outcome.untagged}
    for decision in plan.delete + plan.untag + plan.deferred:
        image = decision.image
        if image.digest in done:
            continue
        action = decision.action.value
        if dry_run and action in ("delete", "untag"):
            action = f"would {action}"
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


def _failed(repository: str, error: str, cause: str, dry_run: bool, run: RunData) -> dict[str, Any]:
    """The result of a repository that failed, with what it deleted before (from its batch records)."""
    result = {
        "repository": repository,
        "status": "failed",
        "dry_run": dry_run,
        "error": {"Error": error, "Cause": cause},
        **_recorded(run, repository, dry_run),
    }
    logger.info(json.dumps({"event": "repository", **result}))
    return result


def _record_failure(
    run: RunData,
    *,
    index: int,
    repositories: Sequence[str],
    position: Mapping[str, Any],
    error: object,
    dry_run: bool,
) -> dict[str, Any]:
    if not isinstance(error, Mapping):
        raise InvalidInput('error: must be the {"Error": ..., "Cause": ...} the state machine caught')
    finished = {result["repository"] for result in run.read_part(index, f"{position['part']:04d}")}
    failed = [
        {
            "repository": name,
            "status": "failed",
            "dry_run": dry_run,
            "error": dict(error),
            **_recorded(run, name, dry_run),
        }
        for name in repositories[position["next"] :]
        if name not in finished
    ]
    run.write_results(index, "failed", failed)
    logger.info(json.dumps({"event": "failed", "item": index, "repositories": len(failed), "error": error}))
    return {"done": True, "next": len(repositories), "part": position["part"], "carry": None}


def _report_stopped(run: RunData, now: datetime, dry_run: bool, reason: str) -> None:
    """A run that stopped before any repository was touched: its summary and notification say why."""
    message = f"Nothing was deleted: the run stopped before any repository was cleaned; {reason}"
    run.put_report(
        "summary.json",
        json.dumps(
            {"now": format_time(now), "dry_run": dry_run, "deleted": 0, "error": reason, "message": message}
        ),
        "application/json",
    )
    topic = _setting("NOTIFICATION_TOPIC_ARN")
    if topic:
        _client("sns").publish(
            TopicArn=topic, Subject="ECR cleanup: run stopped, nothing deleted", Message=message + "\n"
        )


def summarise(event: Mapping[str, Any], context: object = None) -> dict[str, Any]:
    """Totals of a run and the repositories that failed with their reasons, from the run's results.

    summary.json lists every failed repository; the returned summary (the execution's output) and
    the notification name the first `MAX_FAILURES_REPORTED` and count the rest.
    """
    run = _run_data(event)
    dry_run = bool(event.get("dry_run"))
    expected = [name for group in run.read_items() for name in group]
    recorded = {result["repository"]: result for result in run.read_results()}
    results = [
        recorded.get(name)
        or _failed(
            name, "NoResult", f"{name}: no result was recorded; its cleanup did not finish", dry_run, run
        )
        for name in expected
    ]
    failed = [result for result in results if result.get("status") != "ok"]
    totals = {
        key: sum(int(result.get(key) or 0) for result in results)
        for key in (
            "images",
            "delete",
            "deleted",
            "archive",
            "archived",
            "untag",
            "untagged",
            "tags_removed",
            "deferred",
            "bytes",
            "archived_bytes",
        )
    }
    verb = "would delete" if dry_run else "deleted"
    count = totals["delete"] if dry_run else totals["deleted"]
    message = (
        f"{'Dry run: ' if dry_run else ''}{verb} {count} of {totals['images']} images "
        f"({human_bytes(totals['bytes'])}) in {len(results)} repositories"
    )
    archived = totals["archive"] if dry_run else totals["archived"]
    if archived:
        message += (
            f"; {'would archive' if dry_run else 'archived'} {archived} "
            f"({human_bytes(totals['archived_bytes'])})"
        )
    untagged = totals["untag"] if dry_run else totals["untagged"]
    if untagged:
        message += f"; {'would untag' if dry_run else 'untagged'} {untagged} ({totals['tags_removed']} tags)"
    summary: dict[str, Any] = {
        "now": event.get("now"),
        "dry_run": dry_run,
        "repositories": len(results),
        "failed": [result["repository"] for result in failed],
        "failed_count": len(failed),
        **totals,
        "message": message + _failure_text(failed, len(failed)),
        "report": f"s3://{run.bucket}/{run.folder}summary.json",
    }
    notes = run.read_notes()
    if notes:
        summary["notes"] = notes
    moment = parse_time(event["now"], "now") if event.get("now") else datetime.now().astimezone()
    run.put_report("summary.json", json.dumps(summary), "application/json")
    shown = failed[:MAX_FAILURES_REPORTED]
    summary["failed"] = [result["repository"] for result in shown]
    summary["message"] = message + _failure_text(shown, len(failed))
    logger.info(json.dumps({"event": "summary", **summary}))
    _metrics(
        moment,
        {
            "ImagesScanned": totals["images"],
            "ImagesDeleted": totals["deleted"],
            "BytesReclaimed": totals["bytes"],
            "ImagesArchived": totals["archived"],
            "BytesArchived": totals["archived_bytes"],
            "ImagesUntagged": totals["untag" if dry_run else "untagged"],
            "RepositoriesFailed": len(failed),
        },
    )
    topic = _setting("NOTIFICATION_TOPIC_ARN")
    if topic:
        subject, body = notification(summary, results)
        _client("sns").publish(TopicArn=topic, Subject=subject, Message=body)
    return summary


def _failure_text(shown: Sequence[Mapping[str, Any]], total: int) -> str:
    if not total:
        return ""
    reasons = "; ".join(failure_line(result) for result in shown)
    more = f"; and {total - len(shown)} more (see summary.json)" if total > len(shown) else ""
    return f"; {total} failed: {reasons}{more}"


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
