"""One cleanup invocation's life, and the run's summary: what the handlers call.

A Map item is a group of repositories. `CleanupInvocation.clean` cleans them in turn from where the
last invocation of the item stopped, and stops before its time runs out, saying where to continue
(`position`: the next repository, the part it writes, and what earlier invocations did in a repository
still being cleaned). Each delete, archive or untag batch is recorded in the run folder before ECR is
called and again as soon as ECR answers, and its images are logged at once; each finished
repository's reports, metrics and result are written at once. `record_failure` records the
repositories an invocation that died did not finish, settling the batch it had under way against ECR.
`summarise_run` adds every result up.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .cleanup import (
    BatchDone,
    OnBatch,
    Registry,
    RegistryError,
    RepositoryOutcome,
    clean_repository,
    took_effect,
)
from .html import render_run, render_stopped
from .inventory import parse_time
from .lifecycle import LifecycleError, conflicts, parse_lifecycle_policy
from .money import DEFAULT_PRICES, Prices, archive_note, savings, savings_text
from .policy import Policy
from .report import (
    ACTED,
    batch_record,
    emf_record,
    failure_line,
    format_time,
    human_bytes,
    kept_by,
    recorded_totals,
    repository_json,
    to_csv,
)
from .rundata import CachedManifests, ManifestCache, RunData, RunDataError, SharedUsage
from .usage import UsageCache, UsageScan

__all__ = [
    "MAX_FAILURES_REPORTED",
    "CleanupInvocation",
    "DeletionRefused",
    "Environment",
    "Item",
    "failed_result",
    "logger",
    "recorded",
    "report_stopped",
    "summarise_run",
    "time_is_short",
    "warn",
]

logger = logging.getLogger("ecr_cleanup")
logger.setLevel(os.environ.get("LOG_LEVEL", "INFO"))

MAX_FAILURES_REPORTED = 10
RESERVE_FRACTION = 0.1
RESERVE_MAX_MS = 60_000
TOTALS = (
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
"""The result fields a run adds up."""

HTML = "text/html; charset=utf-8"
MAX_WARNINGS_PER_REPOSITORY = 20
MAX_WARNINGS_SUMMARISED = 1000
"""The warnings summary.json lists one by one (each repository's report lists its own)."""


class DeletionRefused(RuntimeError):
    """A guard (such as limits.max_delete_fraction) refused a repository's plan; nothing was deleted."""


@dataclass(frozen=True)
class Environment:
    """What invocations reach AWS through, and the function's settings (the handlers make it)."""

    registry: Callable[[str], Registry]
    """The registry of a region."""
    s3: Any
    scanner: Callable[[Policy], Callable[[UsageCache], UsageScan]]
    report_prefix: str
    metrics_namespace: str
    usage_max_age: timedelta
    prices: Prices = DEFAULT_PRICES
    lifecycle_policy: Callable[[str, str], str | None] | None = None
    """The lifecycle policy text of a repository of a region (None: it has none); None: not checked."""


@dataclass(frozen=True)
class Item:
    """One item of the Distributed Map: a group of repositories of one region, and of those that are
    replicas the region of their source, when replicas follow their source."""

    index: int
    region: str
    repositories: tuple[str, ...]
    sources: Mapping[str, str] = field(default_factory=dict)


def warn(message: str) -> None:
    logger.warning(json.dumps({"event": "warning", "message": message}))


def time_is_short(context: object) -> Callable[[], bool] | None:
    """Whether the invocation should stop now, keeping a reserve to write what it did."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    reserve = min(RESERVE_MAX_MS, RESERVE_FRACTION * remaining())
    return lambda: bool(remaining() < reserve)


class CleanupInvocation:
    """One invocation of the cleanup function for one item, from `position` (see the module)."""

    def __init__(
        self,
        environment: Environment,
        run: RunData,
        policy: Policy,
        now: datetime,
        *,
        dry_run: bool,
        item: Item,
        position: Mapping[str, Any],
    ) -> None:
        self.environment = environment
        self.run = run
        self.policy = policy
        self.now = now
        self.dry_run = dry_run
        self.item = item
        self.position = position

    def clean(self, stop: Callable[[], bool] | None, request_id: str) -> dict[str, Any]:
        """Clean the item's repositories from `position`; the position to continue from."""
        run, position, repositories = self.run, self.position, self.item.repositories
        policy = self.policy
        environment = self.environment
        usage = (
            SharedUsage(run, environment.scanner(policy), max_age=environment.usage_max_age)
            if policy.protect.in_use
            else None
        )
        part = f"{position['part']:04d}"
        region = self.item.region
        cache = ManifestCache(environment.s3, run.bucket, environment.report_prefix, region=region)
        registry: Registry = CachedManifests(environment.registry(region), cache, warn)
        results: list[dict[str, Any]] = []
        carry = position.get("carry") or {}
        on_batch = None if self.dry_run else self._recorder(f"{part}-{request_id[:8]}")
        for number in range(position["next"], len(repositories)):
            repository = repositories[number]
            if results and stop is not None and stop():
                run.write_results(self.item.index, part, results)
                return _continue_at(number, position["part"] + 1, None)
            try:
                outcome = clean_repository(
                    registry,
                    policy,
                    repository,
                    self.now,
                    execute=not self.dry_run,
                    usage=usage,
                    stop=stop,
                    counted=int(carry.get("counted", 0)),
                    on_batch=on_batch,
                    region=region,
                    held=self._held(repository),
                )
            except RegistryError as error:
                results.append(self._failed(repository, "RegistryError", str(error)))
                run.write_results(self.item.index, part, results)
                carry = {}
                continue
            _log_images(repository, outcome, self.dry_run)
            if not outcome.complete:
                run.write_results(self.item.index, part, results)
                return _continue_at(number, position["part"] + 1, _carried(carry, outcome))
            results.append(self._finish(outcome, carry))
            # Each finished repository is on record at once: if the function dies on the next one,
            # the failure is recorded for the repositories it did not finish only.
            run.write_results(self.item.index, part, results)
            carry = {}
        if not results:
            run.write_results(self.item.index, part, results)
        return {"done": True, "next": len(repositories), "part": position["part"], "carry": None}

    def _held(self, repository: str) -> dict[str, str]:
        """The images a replica keeps because its source still holds them (`replicas_follow_source`):
        a replica never outlives or pre-empts its source because of the policy."""
        source = self.item.sources.get(repository)
        if source is None:
            return {}
        reason = f"kept: its source in {source} still holds it (replicas_follow_source)"
        return {image.digest: reason for image in self.environment.registry(source).images(repository)}

    def record_failure(self, error: Mapping[str, Any]) -> dict[str, Any]:
        """Record every repository of the item without a result as failed with `error`; delete nothing."""
        run, position = self.run, self.position
        finished = {
            result["repository"] for result in run.read_part(self.item.index, f"{position['part']:04d}")
        }
        failed = [
            {
                "repository": name,
                "region": self.item.region,
                "status": "failed",
                "dry_run": self.dry_run,
                "error": dict(error),
                **self._recorded(name),
            }
            for name in self.item.repositories[position["next"] :]
            if name not in finished
        ]
        run.write_results(self.item.index, "failed", failed)
        logger.info(
            json.dumps(
                {"event": "failed", "item": self.item.index, "repositories": len(failed), "error": error}
            )
        )
        return {"done": True, "next": len(self.item.repositories), "part": position["part"], "carry": None}

    def _recorder(self, name: str) -> OnBatch:
        """Keep each batch's record in the run data: "started" before ECR is called, then "done" under
        the same name with what ECR confirmed, whose images are logged at once. A record that cannot
        be written stops the invocation: no deletion goes unrecorded."""
        numbers = itertools.count()
        started: list[str] = []
        run = self.run

        def record(batch: BatchDone) -> None:
            entry = batch_record(batch, datetime.now(UTC))
            key = started.pop() if batch.confirmed and started else f"{name}-{next(numbers):05d}"
            if not batch.confirmed:
                started.append(key)
            if batch.confirmed:
                _log_acted(batch.repository, entry["action"], entry["images"])
            run.write_batch(batch.repository, key, entry, region=self.item.region)

        return record

    def _finish(self, outcome: RepositoryOutcome, carry: Mapping[str, Any]) -> dict[str, Any]:
        """The repository's reports, metrics and result, counting what earlier invocations did."""
        run, dry_run = self.run, self.dry_run
        repository = outcome.repository
        plan = outcome.plan
        assert plan is not None
        earlier_acted = carry.get("deleted") or carry.get("archived") or carry.get("untagged")
        records = self._earlier_records(outcome) if earlier_acted else []
        region = self.item.region
        report = repository_json(outcome, records)
        run.put_repository_report(repository, "csv", to_csv(outcome, records), "text/csv", region=region)
        earlier = int(carry.get("deleted", 0))
        deleted = len(outcome.deleted) + earlier
        reclaimed = plan.bytes if dry_run else outcome.deleted_bytes + int(carry.get("bytes", 0))
        archived_earlier = int(carry.get("archived", 0))
        archived_bytes = (
            plan.archive_bytes if dry_run else outcome.archived_bytes + int(carry.get("archived_bytes", 0))
        )
        untagged_earlier = int(carry.get("untagged", 0))
        result: dict[str, Any] = {
            "repository": repository,
            "region": region,
            "status": "failed" if outcome.failed else "ok",
            "dry_run": dry_run,
            "images": plan.images + earlier,
            "delete": len(plan.delete) + earlier,
            "deleted": deleted,
            "archive": len(plan.archive) + archived_earlier,
            "archived": len(outcome.archived) + archived_earlier,
            "archived_bytes": archived_bytes,
            "untag": len(plan.untag) + untagged_earlier,
            "untagged": len(outcome.untagged) + untagged_earlier,
            "tags_removed": (
                plan.tags_removed if dry_run else outcome.tags_removed + int(carry.get("tags_removed", 0))
            ),
            "deferred": len(plan.deferred),
            "kept": len(plan.keep),
            "skipped": len(outcome.skipped),
            "bytes": reclaimed,
            "failures": [asdict(failure) for failure in outcome.failures[:MAX_FAILURES_REPORTED]],
            "failed_images": len(outcome.failures),
        }
        warnings = self._native_conflicts(outcome)
        if warnings:
            for warning in warnings:
                logger.warning(json.dumps({"event": "warning", "repository": repository, "message": warning}))
            result["warnings"] = warnings[:MAX_WARNINGS_PER_REPOSITORY]
            result["warnings_count"] = len(warnings)
            report["warnings"] = warnings
        saved = savings(self.environment.prices, reclaimed, archived_bytes)
        result["savings_per_month"] = saved["per_month"]
        result["kept_by"] = kept_by(plan.keep)
        report["savings"] = saved
        document = json.dumps(report)
        run.put_repository_report(repository, "json", document, "application/json", region=region)
        if outcome.error is not None:
            result["error"] = {"Error": DeletionRefused.__name__, "Cause": f"{repository}: {outcome.error}"}
        logger.info(json.dumps({"event": "repository", **result}))
        # What was done: a dry run did nothing (its report says what it would do).
        acted = 0 if dry_run else 1
        self._metrics(
            {
                "ImagesScanned": result["images"],
                "ImagesDeleted": deleted,
                "BytesReclaimed": reclaimed * acted,
                "ImagesArchived": result["archived"],
                "BytesArchived": archived_bytes * acted,
                "ImagesUntagged": result["untagged"],
                "RepositoriesFailed": int(outcome.failed),
            },
            Repository=repository,
            Region=region,
        )
        return result

    def _native_conflicts(self, outcome: RepositoryOutcome) -> list[str]:
        """What the repository's ECR lifecycle policy would expire that this run keeps because it runs
        or a kept image needs it (`lifecycle.conflicts`); a policy that cannot be read or evaluated is
        a warning too. Nothing when the check is off or the repository has no lifecycle policy."""
        read = self.environment.lifecycle_policy
        plan = outcome.plan
        if read is None or plan is None:
            return []
        repository = outcome.repository
        try:
            text = read(self.item.region, repository)
        except RegistryError as error:
            return [f"{repository}: its native lifecycle policy could not be read: {error}"]
        if text is None:
            return []
        try:
            return conflicts(repository, parse_lifecycle_policy(text), plan, self.now)
        except LifecycleError as error:
            return [f"native lifecycle policy of {repository} could not be evaluated: {error}"]

    def _metrics(self, metrics: dict[str, int], **dimensions: str) -> None:
        print(emf_record(self.environment.metrics_namespace, metrics, dimensions=dimensions, now=self.now))

    def _earlier_records(self, outcome: RepositoryOutcome) -> list[dict[str, Any]]:
        """The batch records of earlier invocations in this repository (this one's are in `outcome`)."""
        now = {*outcome.deleted, *outcome.archived, *outcome.untagged}
        records = []
        for record in self.run.read_batches(outcome.repository, region=self.item.region):
            if record.get("state") == "started":
                continue
            images = [image for image in record["images"] if image["digest"] not in now]
            if images:
                records.append({**record, "images": images})
        return records

    def _failed(self, repository: str, error: str, cause: str) -> dict[str, Any]:
        return failed_result(
            self.environment, self.run, (self.item.region, repository), error, cause, dry_run=self.dry_run
        )

    def _recorded(self, repository: str) -> dict[str, int]:
        return recorded(self.environment, self.run, (self.item.region, repository), self.dry_run)


def failed_result(
    environment: Environment,
    run: RunData,
    where: tuple[str, str],
    error: str,
    cause: str,
    *,
    dry_run: bool,
) -> dict[str, Any]:
    """The result of a repository (`where`: region and name) that failed, with what it did before
    (from its batch records)."""
    region, repository = where
    result = {
        "repository": repository,
        "region": region,
        "status": "failed",
        "dry_run": dry_run,
        "error": {"Error": error, "Cause": cause},
        **recorded(environment, run, where, dry_run),
    }
    logger.info(json.dumps({"event": "repository", **result}))
    return result


def recorded(environment: Environment, run: RunData, where: tuple[str, str], dry_run: bool) -> dict[str, int]:
    """What the batch records of a repository add up to, for a repository that failed (the result
    fields `images`, `delete`, `deleted`, `bytes`, `archive`, `archived`, `archived_bytes`, `untag`,
    `untagged`).

    A batch recorded as started but never as done (the invocation died while ECR answered) is settled
    here: ECR says which of its images are gone (or archived, or untagged), and the record is
    rewritten so."""
    if dry_run:
        return {}
    region, repository = where
    try:
        records = [
            _settled(environment, run, region, record)
            for record in run.read_batches(repository, region=region)
        ]
    except (RunDataError, RegistryError) as error:
        warn(f"{repository}: what it deleted before it failed could not be read: {error}")
        return {}
    totals = recorded_totals(records)
    if not totals["deleted"] and not totals["archived"] and not totals["untagged"]:
        return {}
    return {**totals, "delete": totals["deleted"], "archive": totals["archived"], "untag": totals["untagged"]}


def _settled(environment: Environment, run: RunData, region: str, record: dict[str, Any]) -> dict[str, Any]:
    """A batch record as ECR settles it: a started batch becomes done with the images it did act on."""
    if record.get("state") != "started":
        return record
    repository = record["repository"]
    now = environment.registry(region).describe(repository, [image["digest"] for image in record["images"]])
    action = {acted: action for action, acted in ACTED.items()}[record["action"]]
    acted = [
        image
        for image in record["images"]
        if took_effect(action, now.get(image["digest"]), image.get("removed", ()))
    ]
    name = str(record.pop("name"))
    settled = {**record, "state": "done", "settled": "after the invocation ended", "images": acted}
    run.write_batch(repository, name, settled, region=region)
    _log_acted(repository, record["action"], acted)
    return settled


def _log_acted(repository: str, action: str, images: Sequence[Mapping[str, Any]]) -> None:
    """One log line per image a batch acted on (`action` as the batch record says it)."""
    for image in images:
        logger.info(json.dumps({"event": "image", "repository": repository, "action": action, **image}))


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


def _log_images(repository: str, outcome: RepositoryOutcome, dry_run: bool) -> None:
    """One log line per image this invocation would delete or untag, deferred, or planned to act on
    but did not (the images it acted on were logged batch by batch, as they went)."""
    plan = outcome.plan
    assert plan is not None
    done = {*outcome.deleted, *outcome.untagged}
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


def report_stopped(run: RunData, now: datetime, dry_run: bool, reason: str) -> str:
    """A run that stopped before any repository was touched: its summary says why; the message."""
    message = f"Nothing was deleted: the run stopped before any repository was cleaned; {reason}"
    summary = {"now": format_time(now), "dry_run": dry_run, "deleted": 0, "error": reason, "message": message}
    run.put_report("summary.json", json.dumps(summary), "application/json")
    run.put_report("report.html", render_stopped(summary), HTML)
    return message


def summarise_run(
    environment: Environment, run: RunData, *, dry_run: bool, now: str | None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The run's summary and every repository's result, from what the invocations wrote; writes
    summary.json (every failed repository) and the run's metrics. The summary returned names the
    first `MAX_FAILURES_REPORTED` failed repositories and counts the rest."""
    expected = [(region, name) for region, group in run.read_items() for name in group]
    written = {(result.get("region"), result["repository"]): result for result in run.read_results()}
    results = [
        written.get((region, name))
        or failed_result(
            environment,
            run,
            (region, name),
            "NoResult",
            f"{name}: no result was recorded; its cleanup did not finish",
            dry_run=dry_run,
        )
        for region, name in expected
    ]
    failed = [result for result in results if result.get("status") != "ok"]
    totals = {key: sum(int(result.get(key) or 0) for result in results) for key in TOTALS}
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
    saved = savings(environment.prices, totals["bytes"], totals["archived_bytes"])
    message += f"; {savings_text(saved, dry_run=dry_run)}"
    summary: dict[str, Any] = {
        "now": now,
        "dry_run": dry_run,
        "repositories": len(results),
        "failed": [result["repository"] for result in failed],
        "failed_count": len(failed),
        **totals,
        "message": message + _failure_text(failed, len(failed)),
        "savings": saved,
        "report": f"s3://{run.bucket}/{run.folder}summary.json",
        "report_html": f"s3://{run.bucket}/{run.folder}report.html",
    }
    regions = sorted({region for region, _ in expected})
    if len(regions) > 1:
        summary["regions"] = {
            region: _region_totals([result for result in results if result.get("region") == region])
            for region in regions
        }
        message += "; " + "; ".join(
            f"{region}: {summary['regions'][region]['deleted' if not dry_run else 'delete']} of "
            f"{summary['regions'][region]['images']} images"
            for region in regions
        )
    warnings = [warning for result in results for warning in result.get("warnings") or []]
    warnings_count = sum(int(result.get("warnings_count") or 0) for result in results)
    if warnings_count:
        summary["warnings"] = warnings[:MAX_WARNINGS_SUMMARISED]
        summary["warnings_count"] = warnings_count
        message += (
            f"; {warnings_count} warnings: native lifecycle policies would expire images that run or "
            "that kept images need"
        )
    summary["message"] = message + _failure_text(failed, len(failed))
    notes = run.read_notes()
    if archived and (note := archive_note(environment.prices)) is not None:
        notes.append(note)
    if notes:
        summary["notes"] = notes
    run.put_report("summary.json", json.dumps(summary), "application/json")
    run.put_report("report.html", render_run(summary, results), HTML)
    shown = failed[:MAX_FAILURES_REPORTED]
    summary["failed"] = [result["repository"] for result in shown]
    summary["message"] = message + _failure_text(shown, len(failed))
    if warnings_count:
        summary["warnings"] = warnings[:MAX_FAILURES_REPORTED]
    logger.info(json.dumps({"event": "summary", **summary}))
    for region, totals_of_region in summary.get("regions", {}).items():
        _print_metrics(environment, now, totals_of_region, dry_run, Region=region)
    _print_metrics(environment, now, {**totals, "failed_count": len(failed)}, dry_run)
    return summary, results


def _region_totals(results: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    totals = {key: sum(int(result.get(key) or 0) for result in results) for key in TOTALS}
    totals["failed_count"] = sum(1 for result in results if result.get("status") != "ok")
    return totals


def _print_metrics(
    environment: Environment, now: str | None, totals: Mapping[str, int], dry_run: bool, **dimensions: str
) -> None:
    """The run's metrics (in a region, with the dimension Region), as an EMF record in the log."""
    moment = parse_time(now, "now") if now else datetime.now().astimezone()
    acted = 0 if dry_run else 1
    metrics = {
        "ImagesScanned": totals["images"],
        "ImagesDeleted": totals["deleted"],
        "BytesReclaimed": totals["bytes"] * acted,
        "ImagesArchived": totals["archived"],
        "BytesArchived": totals["archived_bytes"] * acted,
        "ImagesUntagged": totals["untagged"],
        "RepositoriesFailed": totals["failed_count"],
    }
    print(emf_record(environment.metrics_namespace, metrics, dimensions=dimensions, now=moment))


def _failure_text(shown: Sequence[Mapping[str, Any]], total: int) -> str:
    if not total:
        return ""
    reasons = "; ".join(failure_line(result) for result in shown)
    more = f"; and {total - len(shown)} more (see summary.json)" if total > len(shown) else ""
    return f"; {total} failed: {reasons}{more}"
