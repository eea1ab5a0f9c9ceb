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
import json
import logging
import os
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from .cleanup import (
    Registry,
    RegistryError,
    selected_repositories,
)
from .ecr import EcrRegistry, client_config
from .inventory import parse_time
from .invocation import (
    CleanupInvocation,
    DeletionRefused,
    Environment,
    Item,
    report_stopped,
    summarise_run,
    time_is_short,
)
from .money import Prices
from .policy import Policy, parse_policy
from .report import (
    execution_notification,
    format_time,
    notification,
)
from .rundata import (
    SAFE_KEY_CHARACTERS,
    RunData,
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
    "notify",
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


class AnotherRunInProgress(RuntimeError):
    """An earlier execution of the same state machine that may delete is still running; this one
    touched nothing."""


@functools.cache
def _client(service: str, region: str | None = None) -> Any:
    """One client per service and region for the life of the execution environment, as Lambda reuses
    it (region None: the function's own)."""
    return boto3.client(service, region_name=region, config=client_config())


def _registry(region: str | None = None) -> Registry:
    return EcrRegistry(_client("ecr", None if region == _home() else region))


def _home() -> str | None:
    """The function's region (the Lambda runtime sets AWS_REGION)."""
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")


def _regions() -> list[str]:
    """The regions a run cleans: REGIONS (the module's `regions`), else the function's own."""
    listed = [region.strip() for region in _setting("REGIONS").split(",") if region.strip()]
    if listed:
        return list(dict.fromkeys(listed))
    home = _home()
    if not home:
        raise InvalidInput("AWS_REGION: the function's environment must name its region")
    return [home]


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
    """A scan of the images in use in every region of the run (one reading of the external sources)."""
    regions = _regions()

    def scan(cache: UsageCache) -> UsageScan:
        return UsageCollector(clients=_client, cache=cache, region=_home()).scan(policy, regions=regions)

    return scan


def _prices() -> Prices:
    """The storage prices the savings are computed with (the module's storage_price_per_gb_month and
    archive_price_per_gb_month)."""
    given = {}
    for name, field in (("STORAGE_PRICE_PER_GB_MONTH", "storage"), ("ARCHIVE_PRICE_PER_GB_MONTH", "archive")):
        text = _setting(name)
        if not text:
            continue
        try:
            given[field] = float(text)
        except ValueError:
            raise InvalidInput(f"{name}: must be dollars per GB-month such as 0.10, got {text!r}") from None
    try:
        return Prices(**given)
    except ValueError as error:
        raise InvalidInput(f"{error} (STORAGE_PRICE_PER_GB_MONTH, ARCHIVE_PRICE_PER_GB_MONTH)") from None


def _environment() -> Environment:
    return Environment(
        registry=_registry,
        s3=_s3(),
        scanner=_scanner,
        report_prefix=_setting("REPORT_PREFIX", "ecr-cleanup/"),
        metrics_namespace=_setting("METRICS_NAMESPACE", "ECRCleanup"),
        usage_max_age=_usage_max_age(),
        prices=_prices(),
        lifecycle_policy=None if _setting("CHECK_NATIVE_LIFECYCLE") == "false" else _lifecycle_policy,
    )


def _lifecycle_policy(region: str, repository: str) -> str | None:
    return EcrRegistry(_client("ecr", None if region == _home() else region)).lifecycle_policy(repository)


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
    regions = _regions()
    every = {region: list(_registry(region).repositories()) for region in regions}
    repositories = {region: selected_repositories(policy, names) for region, names in every.items()}
    groups = group_repositories(repositories, concurrency)
    claim = event.get("execution_arn") or execution or str(uuid.uuid4())
    sources = _replica_sources(every) if _setting("REPLICAS_FOLLOW_SOURCE") == "true" else {}
    run.write_items(groups, claim=str(claim), sources=sources)
    notes = _exclude_own_pulls(regions) if _setting("EXCLUDE_OWN_PULLS") == "true" else []
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
                "count": sum(len(names) for names in repositories.values()),
                "regions": regions,
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
        "repositories": sum(len(names) for names in repositories.values()),
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


def _exclude_own_pulls(regions: Sequence[str]) -> list[str]:
    """Keep the functions' role out of ECR's pull-time updates in the registry of every region of the
    run, so that reading an image index's manifest (BatchGetImage is a pull) does not make it look
    pulled. Returns what the summary must say where that cannot be done; the run goes on either way
    (a refreshed pull time only keeps an index longer)."""
    role = _setting("LAMBDA_ROLE_ARN")
    if not role:
        raise InvalidInput(
            "LAMBDA_ROLE_ARN: the function's environment must name its role when EXCLUDE_OWN_PULLS"
        )
    notes = []
    for region in regions:
        note = _exclude_in(role, region)
        if note is not None:
            notes.append(note if len(regions) == 1 else f"{region}: {note}")
    return notes


def _exclude_in(role: str, region: str) -> str | None:
    ecr = _client("ecr", None if region == _home() else region)
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
            return None
        if len(excluded) >= PULL_TIME_EXCLUSIONS_LIMIT:
            return (
                f"{role} is not excluded from pull-time updates: the registry already has "
                f"{len(excluded)} exclusions, the most ECR allows; reading image index manifests may "
                "refresh their pull times"
            )
        ecr.register_pull_time_update_exclusion(principalArn=role)
    except (ClientError, BotoCoreError) as error:
        return (
            f"{role} could not be excluded from pull-time updates ({describe_error(error)}); reading "
            "image index manifests may refresh their pull times"
        )
    logger.info(json.dumps({"event": "pull-time-exclusion", "principal": role, "region": region}))
    return None


def _replica_sources(repositories: Mapping[str, Sequence[str]]) -> dict[str, dict[str, str]]:
    """Region -> replica repository -> the region of its source, from each registry's replication
    configuration (DescribeRegistry): a repository of a destination region that a rule of this
    account replicates there, and that its source region holds too."""
    sources: dict[str, dict[str, str]] = {}
    for source, names in repositories.items():
        try:
            registry = _client("ecr", None if source == _home() else source).describe_registry()
        except (ClientError, BotoCoreError) as error:
            raise RegistryError(
                f"{source}: reading the replication configuration failed: {describe_error(error)}"
            ) from error
        account = registry.get("registryId")
        for rule in registry.get("replicationConfiguration", {}).get("rules", []):
            prefixes = [
                f["filter"]
                for f in rule.get("repositoryFilters") or []
                if f.get("filterType") == "PREFIX_MATCH"
            ]
            for destination in rule.get("destinations", []):
                region = destination.get("region")
                if region == source or region not in repositories or destination.get("registryId") != account:
                    continue
                held = set(names)
                for name in repositories[region]:
                    if name in held and (not prefixes or any(name.startswith(prefix) for prefix in prefixes)):
                        sources.setdefault(region, {}).setdefault(name, source)
    return sources


def cleanup_repositories(event: Mapping[str, Any], context: object = None) -> dict[str, Any]:
    """Clean one item's repositories from where the last invocation stopped; say where to continue.

    With an `error` (the child workflow caught a failed invocation), record every repository of the
    item that has no result yet as failed with that error, and delete nothing.
    """
    if event.get("now") is None:
        raise InvalidInput("now: required, the run's instant in ISO 8601 (the execution start time)")
    dry_run = _flag(event, "dry_run", "dry_run")
    if dry_run is None:
        raise InvalidInput("dry_run: required, true or false")
    item = _item(event.get("item"))
    position = _position(event.get("position"), len(item.repositories))
    run = _run_data(event)
    error = event.get("error")
    if error is not None and not isinstance(error, Mapping):
        raise InvalidInput('error: must be the {"Error": ..., "Cause": ...} the state machine caught')
    environment = _environment()
    policy: Policy = parse_policy(event.get("policy"))
    now = parse_time(event["now"], "now")
    invocation = CleanupInvocation(
        environment, run, policy, now, dry_run=dry_run, item=item, position=position
    )
    if error is not None:
        return invocation.record_failure(error)
    request_id = str(getattr(context, "aws_request_id", None) or uuid.uuid4())
    return invocation.clean(time_is_short(context), request_id)


def _item(value: object) -> Item:
    if not isinstance(value, Mapping):
        raise InvalidInput(
            'item: required, {"index": n, "region": "...", "repositories": [...]} from the run\'s items'
        )
    index, repositories = value.get("index"), value.get("repositories")
    region, sources = value.get("region"), value.get("sources") or {}
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise InvalidInput(f"item.index: must be a whole number >= 0, got {json.dumps(index)}")
    if not isinstance(repositories, list) or not all(isinstance(name, str) and name for name in repositories):
        raise InvalidInput("item.repositories: must be a list of repository names")
    if not isinstance(region, str) or not region:
        raise InvalidInput(
            f"item.region: must be the region of the item's repositories, got {json.dumps(region)}"
        )
    if not isinstance(sources, Mapping) or not all(isinstance(v, str) for v in sources.values()):
        raise InvalidInput("item.sources: must map replica repositories to the region of their source")
    return Item(index, region, tuple(repositories), dict(sources))


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


def _report_stopped(run: RunData, now: datetime, dry_run: bool, reason: str) -> None:
    """A run that stopped before any repository was touched: its summary says why (and `notify`
    announces it, as every run that fails)."""
    report_stopped(run, now, dry_run, reason)


def summarise(event: Mapping[str, Any], context: object = None) -> dict[str, Any]:
    """Totals of a run and the repositories that failed with their reasons, from the run's results
    (see `invocation.summarise_run`); the notification."""
    summary, results = summarise_run(
        _environment(), _run_data(event), dry_run=bool(event.get("dry_run")), now=event.get("now")
    )
    topic = _setting("NOTIFICATION_TOPIC_ARN")
    if topic:
        subject, body = notification(summary, results, execution_arn=event.get("execution_arn"))
        _client("sns").publish(TopicArn=topic, Subject=subject, Message=body)
    return summary


ENDED = ("FAILED", "TIMED_OUT", "ABORTED")
ANNOUNCED_BY_SUMMARISE = "RepositoriesFailed"
"""The one error of a run that Summarise announced itself: the state after it fails the execution
when a repository failed. Every other failure ends the run before Summarise published."""


def notify(event: Mapping[str, Any], context: object = None) -> dict[str, Any]:
    """Announce a run that ended without its summary: the target of the EventBridge rule on this state
    machine's executions that FAILED, TIMED_OUT or were ABORTED.

    A run that completed is announced by `summarise` (also when it then fails with
    RepositoriesFailed); everything else (a stop in the first step, a runtime error, a crash of a
    function, a timeout, an abort) only by this, once: a claim in the run folder keeps a second
    delivery of the event from sending a second message.
    """
    detail = event.get("detail")
    if not isinstance(detail, Mapping) or not isinstance(detail.get("executionArn"), str):
        raise InvalidInput("detail: required, the 'Step Functions Execution Status Change' event's detail")
    status, error = detail.get("status"), detail.get("error")
    execution = detail["executionArn"]
    if status not in ENDED or (status == "FAILED" and error == ANNOUNCED_BY_SUMMARISE):
        reason = "announced by Summarise" if error == ANNOUNCED_BY_SUMMARISE else f"status {status}"
        logger.info(
            json.dumps(
                {"event": "notification", "execution": execution, "published": False, "reason": reason}
            )
        )
        return {"published": False, "reason": reason}
    topic = _setting("NOTIFICATION_TOPIC_ARN")
    if not topic:
        logged = {"published": False, "reason": "no topic", "status": status, "error": error}
        logger.info(json.dumps({"event": "notification", "execution": execution, **logged}))
        return {"published": False, "reason": "no topic"}
    bucket = _setting("REPORT_BUCKET")
    if not bucket:
        raise InvalidInput("REPORT_BUCKET: the function's environment must name the run data bucket")
    started = detail.get("startDate")
    if isinstance(started, bool) or not isinstance(started, int | float):
        raise InvalidInput(
            f"detail.startDate: must be the execution's start in epoch milliseconds, got {started!r}"
        )
    moment = datetime.fromtimestamp(started / 1000, UTC)
    run = RunData(
        _s3(), bucket, run_folder(_setting("REPORT_PREFIX", "ecr-cleanup/"), moment, detail.get("name"))
    )
    if not run.claim_notification():
        logger.info(
            json.dumps(
                {
                    "event": "notification",
                    "execution": execution,
                    "published": False,
                    "reason": "already announced",
                }
            )
        )
        return {"published": False, "reason": "already announced"}
    summary = run.read_summary()
    stopped = summary if summary is not None and "error" in summary else None
    subject, body = execution_notification(detail, stopped=stopped, folder=f"s3://{bucket}/{run.folder}")
    _client("sns").publish(TopicArn=topic, Subject=subject, Message=body)
    logger.info(
        json.dumps({"event": "notification", "execution": execution, "published": True, "subject": subject})
    )
    return {"published": True, "subject": subject}


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
