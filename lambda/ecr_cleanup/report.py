"""Reports of a run: one JSON document for machines, a table that reads like `terraform plan` for people."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii
from typing import Any, TextIO

from .cleanup import BatchDone, RepositoryOutcome
from .money import DEFAULT_PRICES, Prices, archive_note, money, savings, savings_text
from .plan import ACTIVE, Action, Decision

__all__ = [
    "CSV_HEADER",
    "RunReport",
    "batch_record",
    "console_link",
    "emf_record",
    "execution_notification",
    "failure_line",
    "failure_reason",
    "format_time",
    "human_bytes",
    "keep_category",
    "kept_by",
    "notification",
    "readable_cause",
    "recorded_totals",
    "report_text",
    "repository_counts",
    "repository_json",
    "repository_text",
    "summary_of",
    "summary_savings",
    "to_csv",
    "to_json",
    "to_table",
    "write_report",
]


@dataclass(frozen=True)
class RunReport:
    """A whole run. `mode` is "preview" (offline), "plan", "dry-run" or "run" (deletes)."""

    now: datetime
    mode: str
    outcomes: Sequence[RepositoryOutcome]
    prices: Prices = DEFAULT_PRICES

    @property
    def executed(self) -> bool:
        return self.mode == "run"

    def summary(self) -> dict[str, int]:
        executed = self.executed
        return summary_of(
            (repository_counts(outcome, executed=executed) for outcome in self.outcomes), executed=executed
        )


_PLAN_TOTALS = (
    "repositories",
    "images",
    "delete",
    "archive",
    "untag",
    "tags_removed",
    "keep",
    "deferred",
    "bytes",
    "archive_bytes",
    "failed_repositories",
)
_RUN_TOTALS = (
    "deleted",
    "archived",
    "untagged",
    "delete_failures",
    "skipped",
    "deleted_bytes",
    "archived_bytes",
)


def repository_counts(outcome: RepositoryOutcome, *, executed: bool) -> tuple[int, ...]:
    """One repository's part of the run summary, in the order of `summary_of`'s keys."""
    plan = outcome.plan
    failed = int(outcome.failed)
    if plan is None:
        counts: tuple[int, ...] = (1, 0, 0, 0, 0, 0, 0, 0, 0, 0, failed)
    else:
        counts = (
            1,
            plan.images,
            len(plan.delete),
            len(plan.archive),
            len(plan.untag),
            plan.tags_removed,
            len(plan.keep),
            len(plan.deferred),
            plan.bytes,
            plan.archive_bytes,
            failed,
        )
    if executed:
        counts += (
            len(outcome.deleted),
            len(outcome.archived),
            len(outcome.untagged),
            len(outcome.failures),
            len(outcome.skipped),
            outcome.deleted_bytes,
            outcome.archived_bytes,
        )
    return counts


def summary_of(counts: Iterable[Sequence[int]], *, executed: bool) -> dict[str, int]:
    """The summary of a run from each repository's `repository_counts`."""
    keys = _PLAN_TOTALS + _RUN_TOTALS if executed else _PLAN_TOTALS
    totals = [0] * len(keys)
    for row in counts:
        for position, count in enumerate(row):
            totals[position] += count
    return dict(zip(keys, totals, strict=True))


def summary_savings(summary: Mapping[str, int], *, executed: bool, prices: Prices) -> dict[str, Any]:
    """The `savings` of a report's summary: of what was deleted and archived, or would be."""
    if executed:
        return savings(prices, summary["deleted_bytes"], summary["archived_bytes"])
    return savings(prices, summary["bytes"], summary["archive_bytes"])


_IN_USE_KINDS = (
    ("ECS service", "ECS service"),
    ("ECS task", "ECS task"),
    ("task definition", "ECS task definition"),
    ("Lambda function", "Lambda"),
    ("EKS ", "EKS"),
    ("Batch job definition", "AWS Batch"),
    ("EventBridge rule", "EventBridge schedule"),
    ("Scheduler schedule", "EventBridge schedule"),
    ("SageMaker", "SageMaker"),
    ("CodeBuild", "CodeBuild"),
)


def keep_category(reason: str) -> str:
    """What kind of reason kept an image, in a few words: the bars of the HTML report's "why kept"
    chart (the reports give each image's exact reason)."""
    if reason.startswith("protected: in use: "):
        source = reason.removeprefix("protected: in use: ")
        for marker, kind in _IN_USE_KINDS:
            if marker in source:
                return f"in use: {kind}"
        return "in use: protect.in_use_sources"
    if reason.startswith("protected: tag "):
        return "protected tag"
    if reason.startswith(("protected: pushed within", "protected: pulled")):
        return "pushed or pulled recently"
    if reason.startswith("protected: "):
        return "protected: other"
    if reason.startswith("kept: its source"):
        return "replica of an image its source holds"
    if "among the latest" in reason or "highest version" in reason:
        return "among the latest of a rule"
    if any(words in reason for words in ("not older than", "pulled within the last", "never pulled, and")):
        return "too recent for a rule"
    if "archived within the last" in reason:
        return "archived too recently for a rule"
    if reason == "no rule selects it":
        return "no rule selects it"
    if "image index" in reason or "referrer" in reason or "refers to itself" in reason:
        return "part of a kept image"
    return "other"


def kept_by(decisions: Iterable[Decision]) -> dict[str, int]:
    """How many kept images each `keep_category` holds, most first."""
    counts: dict[str, int] = {}
    for decision in decisions:
        category = keep_category(decision.reason)
        counts[category] = counts.get(category, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Reports format one time per image: each distinct date and each second of the day is formatted
# once, as "2026-11-28T" and "12:00:00Z".
_DATES: dict[int, str] = {}
_CLOCKS: list[str | None] = [None] * 86400


def format_time(moment: datetime) -> str:
    """ISO 8601 in UTC with a `Z`, as ECR writes times: `isoformat()` with `Z` for `+00:00`."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    since = moment - _EPOCH
    date = _DATES.get(since.days)
    if date is None:
        date = _DATES[since.days] = moment.date().isoformat() + "T"
    clock = _CLOCKS[since.seconds]
    if clock is None:
        clock = _CLOCKS[since.seconds] = moment.time().replace(microsecond=0).isoformat() + "Z"
    if since.microseconds:
        return f"{date}{clock[:-1]}.{since.microseconds:06d}Z"
    return date + clock


def human_bytes(size: float) -> str:
    if 1048576 <= size < 1073741824:
        return f"{size / 1048576:.1f} MiB"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def to_json(report: RunReport) -> dict[str, Any]:
    """The JSON document of a run; every image of a visited repository appears exactly once.

    `write_report` writes the same document as text without building it.
    """
    summary = report.summary()
    return {
        "now": format_time(report.now),
        "mode": report.mode,
        "repositories": [_repository_entry(outcome) for outcome in report.outcomes],
        "summary": {
            **summary,
            "savings": summary_savings(summary, executed=report.executed, prices=report.prices),
        },
    }


def _repository_entry(outcome: RepositoryOutcome) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": outcome.repository}
    if outcome.region is not None:
        entry["region"] = outcome.region
    if outcome.plan is not None:
        entry["delete"] = [_decision(decision, rules=True) for decision in outcome.plan.delete]
        entry["archive"] = [_decision(decision, rules=True) for decision in outcome.plan.archive]
        entry["untag"] = [_decision(decision, rules=True) for decision in outcome.plan.untag]
        entry["keep"] = [_decision(decision) for decision in outcome.plan.keep]
        entry["deferred"] = [_decision(decision, rules=True) for decision in outcome.plan.deferred]
    entry.update(_execution_entry(outcome))
    return entry


def _execution_entry(outcome: RepositoryOutcome) -> dict[str, Any]:
    """The fields of a repository's entry that follow its plan: what the run did, and the error."""
    entry: dict[str, Any] = {}
    if outcome.executed:
        entry["deleted"] = list(outcome.deleted)
        entry["archived"] = list(outcome.archived)
        entry["untagged"] = list(outcome.untagged)
        entry["failures"] = [
            {"digest": failure.digest, "code": failure.code, "message": failure.message}
            for failure in outcome.failures
        ]
        entry["skipped"] = [{"digest": digest, "reason": reason} for digest, reason in outcome.skipped]
    if outcome.error is not None:
        entry["error"] = outcome.error
    return entry


def _decision(decision: Decision, *, rules: bool = False) -> dict[str, Any]:
    image = decision.image
    entry: dict[str, Any] = {"digest": image.digest, "tags": list(image.tags)}
    if decision.action is Action.UNTAG:
        entry["removed"] = list(decision.removed)
    entry["pushed_at"] = format_time(image.pushed_at)
    entry["size"] = image.size
    if image.status != ACTIVE:
        entry["status"] = image.status
    if rules:
        entry["rules"] = list(decision.rules)
    entry["reason"] = decision.reason
    return entry


def write_report(report: RunReport, output_format: str, out: TextIO) -> None:
    """Write a run as the CLI prints it: `to_table`, or the `to_json` document on one line."""
    now, mode = report.now, report.mode
    sections = (repository_text(outcome, output_format, now, mode) for outcome in report.outcomes)
    out.writelines(report_text(output_format, now, mode, sections, report.summary(), prices=report.prices))


def report_text(
    output_format: str,
    now: datetime,
    mode: str,
    sections: Iterable[str],
    summary: Mapping[str, int],
    *,
    prices: Prices = DEFAULT_PRICES,
) -> Iterator[str]:
    """The text of a report in pieces: its opening, each repository's `repository_text` in the order
    given, and its totals. The JSON text is `json.dumps` of the `to_json` document, and a newline."""
    executed = mode == "run"
    if output_format == "json":
        yield f'{{"now": "{format_time(now)}", "mode": {encode_basestring_ascii(mode)}, "repositories": ['
        separator = ""
        for section in sections:
            yield separator
            yield section
            separator = ", "
        saved = summary_savings(summary, executed=executed, prices=prices)
        yield f'], "summary": {json.dumps({**summary, "savings": saved})}}}\n'
        return
    yield f"{_TITLES.get(mode, mode)} at {format_time(now)}\n\n"
    yield from sections
    yield _table_totals(summary, executed=executed, prices=prices)


def repository_text(outcome: RepositoryOutcome, output_format: str, now: datetime, mode: str) -> str:
    """One repository's part of a report: its JSON entry, or its lines of the table."""
    if output_format == "json":
        return _repository_json_text(outcome)
    return _table_section(outcome, now, executed=mode == "run")


def _repository_json_text(outcome: RepositoryOutcome) -> str:
    """`json.dumps(repository_json(outcome))`, written directly: a repository can hold many images."""
    text = f'{{"name": {encode_basestring_ascii(outcome.repository)}'
    if outcome.region is not None:
        text += f', "region": {encode_basestring_ascii(outcome.region)}'
    plan = outcome.plan
    if plan is not None:
        text += (
            f', "delete": [{_decisions_json(plan.delete, rules=True)}], '
            f'"archive": [{_decisions_json(plan.archive, rules=True)}], '
            f'"untag": [{_decisions_json(plan.untag, rules=True)}], '
            f'"keep": [{_decisions_json(plan.keep, rules=False)}], '
            f'"deferred": [{_decisions_json(plan.deferred, rules=True)}]'
        )
    execution = _execution_entry(outcome)
    if execution:
        text += ", " + json.dumps(execution)[1:-1]
    return text + "}"


def _decisions_json(decisions: Sequence[Decision], *, rules: bool) -> str:
    """The entries of `_decision` as JSON text, separated by commas.

    Reasons and rule lists are shared by many decisions, so each distinct one is encoded once.
    """
    escape = encode_basestring_ascii
    encoded: dict[object, str] = {}
    entries = []
    for image, action, reason, matched, removed in decisions:
        tags_text = _strings_json(image.tags)
        reason_text = encoded.get(reason)
        if reason_text is None:
            reason_text = encoded[reason] = escape(reason)
        start = f'{{"digest": {escape(image.digest)}, "tags": {tags_text}, '
        if action is Action.UNTAG:
            start += f'"removed": {_strings_json(removed)}, '
        start += f'"pushed_at": "{format_time(image.pushed_at)}", "size": {image.size}, '
        if image.status != ACTIVE:
            start += f'"status": "{image.status}", '

        if rules:
            rules_text = encoded.get(matched)
            if rules_text is None:
                rules_text = encoded[matched] = json.dumps(matched)
            entries.append(f'{start}"rules": {rules_text}, "reason": {reason_text}}}')
        else:
            entries.append(f'{start}"reason": {reason_text}}}')
    return ", ".join(entries)


def _strings_json(texts: Sequence[str]) -> str:
    escape = encode_basestring_ascii
    if not texts:
        return "[]"
    if len(texts) == 1:
        return f"[{escape(texts[0])}]"
    return f"[{', '.join(map(escape, texts))}]"


_TITLES = {
    "preview": "ECR cleanup preview (offline; nothing is deleted)",
    "plan": "ECR cleanup plan (nothing is deleted)",
    "dry-run": "ECR cleanup dry run (nothing is deleted)",
    "run": "ECR cleanup run",
}


def to_table(report: RunReport) -> str:
    """A report for people: per repository what goes and why, then the totals."""
    return "".join(
        report_text(
            "table",
            report.now,
            report.mode,
            (_table_section(outcome, report.now, executed=report.executed) for outcome in report.outcomes),
            report.summary(),
            prices=report.prices,
        )
    )


def _table_section(outcome: RepositoryOutcome, now: datetime, *, executed: bool) -> str:
    """A repository's lines of the table, and the blank line that ends them."""
    plan = outcome.plan
    if plan is None:
        where = f" ({outcome.region})" if outcome.region is not None else ""
        return f"! {outcome.repository}{where}: failed: {outcome.error}\n\n"
    verb = "deleted" if executed else "to delete"
    where = f" ({outcome.region})" if outcome.region is not None else ""
    header = f"  {outcome.repository}{where}: {plan.images} images, {len(plan.delete)} {verb}"
    header += f" ({human_bytes(plan.bytes)})" if plan.delete else ""
    if plan.archive:
        archived = "archived" if executed else "to archive"
        header += f", {len(plan.archive)} {archived} ({human_bytes(plan.archive_bytes)})"
    if plan.untag:
        untagged = "untagged" if executed else "to untag"
        header += f", {len(plan.untag)} {untagged} ({plan.tags_removed} tags)"
    if plan.deferred:
        header += f", {len(plan.deferred)} deferred"
    lines = [header]
    if outcome.error is not None:
        lines.append(f"    ! {outcome.error}")
    failed = {failure.digest: failure for failure in outcome.failures}
    skipped = dict(outcome.skipped)
    for decisions, mark, doing in (
        (plan.delete, "-", "delete"),
        (plan.archive, ">", "archive"),
        (plan.untag, "x", "untag"),
    ):
        if not failed and not skipped:
            lines += [_image_line(now, decision, mark) for decision in decisions]
            continue
        for decision in decisions:
            lines.append(_image_line(now, decision, "!" if decision.image.digest in failed else mark))
            if decision.image.digest in failed:
                failure = failed[decision.image.digest]
                lines.append(f"        {doing} failed: {failure.code}: {failure.message}")
            elif decision.image.digest in skipped:
                lines.append(f"        {skipped[decision.image.digest]}")
    if plan.deferred:
        lines.append(f"    ~ {len(plan.deferred)} deferred: {plan.deferred[0].reason}")
    if plan.keep:
        protected = sum(1 for decision in plan.keep if decision.reason.startswith("protected"))
        lines.append(f"    keep {len(plan.keep)} ({protected} protected)")
    lines.append("\n")
    return "\n".join(lines)


def _table_totals(summary: Mapping[str, int], *, executed: bool, prices: Prices) -> str:
    verb = "deleted" if executed else "to delete"
    archiving = ""
    if summary["archive"]:
        count = summary["archived"] if executed else summary["archive"]
        size = human_bytes(summary["archived_bytes" if executed else "archive_bytes"])
        archiving = f"{count} {'archived' if executed else 'to archive'} ({size}), "
    if summary["untag"]:
        count = summary["untagged"] if executed else summary["untag"]
        archiving += f"{count} {'untagged' if executed else 'to untag'} ({summary['tags_removed']} tags), "
    totals = (
        f"{'Deleted' if executed else 'Plan'}: "
        f"{summary['deleted'] if executed else summary['delete']} {verb} "
        f"({human_bytes(summary['deleted_bytes' if executed else 'bytes'])} reclaimed), "
        f"{archiving}{summary['keep']} to keep, "
        f"{summary['deferred']} deferred, across {summary['repositories']} repositories "
        f"and {summary['images']} images.\n"
    )
    saved = summary_savings(summary, executed=executed, prices=prices)
    sentence = savings_text(saved, dry_run=not executed)
    totals += (
        f"{sentence[0].upper()}{sentence[1:]} "
        f"(at {money(prices.storage)} per GB-month; sizes are compressed, and layers shared between "
        "images are counted in each).\n"
    )
    note = archive_note(prices) if summary["archive"] else None
    if note is not None:
        totals += f"Note: {note}.\n"
    if summary["failed_repositories"]:
        totals += f"Failures in {summary['failed_repositories']} repositories: see the lines marked '!'.\n"
    return totals


def _image_line(now: datetime, decision: Decision, mark: str) -> str:
    image = decision.image
    tags = ", ".join(image.tags) if image.tags else "<untagged>"
    age = (now - image.pushed_at).days
    size = human_bytes(image.size)
    removes = f"  removes {', '.join(decision.removed)}" if decision.removed else ""
    return f"    {mark} {image.digest[:19]}  {tags}  {age} days old  {size}{removes}  {decision.reason}"


CSV_HEADER = ("repository", "digest", "action", "tags", "pushed_at", "size", "reason", "removed", "region")
"""`removed`: the tags an untag removes (or removed), joined by spaces; `region`: the registry's, so
that the reports of a run's regions can be read as one table."""


def to_csv(outcome: RepositoryOutcome, earlier: Sequence[Mapping[str, Any]] = ()) -> str:
    """One row per image of the repository: what happened to it and why (tags joined by spaces).
    `earlier` as for `repository_json`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for record in earlier:
        for image in record["images"]:
            writer.writerow(
                (
                    outcome.repository,
                    image["digest"],
                    record["action"],
                    " ".join(image.get("tags", [])),
                    image.get("pushed_at"),
                    image.get("size"),
                    image.get("reason"),
                    " ".join(image.get("removed", [])),
                    outcome.region,
                )
            )
    if outcome.plan is None:
        return buffer.getvalue()
    done = dict.fromkeys(outcome.deleted, "deleted")
    done.update((digest, "archived") for digest in outcome.archived)
    done.update((digest, "untagged") for digest in outcome.untagged)
    skipped = dict(outcome.skipped)
    failed = {failure.digest: failure for failure in outcome.failures}
    plan = outcome.plan
    for decision in (*plan.delete, *plan.archive, *plan.untag, *plan.keep, *plan.deferred):
        image = decision.image
        action, reason = decision.action.value, decision.reason
        if outcome.executed and decision.action in (Action.DELETE, Action.ARCHIVE, Action.UNTAG):
            if image.digest in skipped:
                action, reason = "skipped", skipped[image.digest]
            elif image.digest in failed:
                action, reason = "failed", f"{failed[image.digest].code}: {failed[image.digest].message}"
            elif image.digest in done:
                action = done[image.digest]
        writer.writerow(
            (
                outcome.repository,
                image.digest,
                action,
                " ".join(image.tags),
                format_time(image.pushed_at),
                image.size,
                reason,
                " ".join(decision.removed),
                outcome.region,
            )
        )
    return buffer.getvalue()


def repository_json(outcome: RepositoryOutcome, earlier: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """The report of one repository: its entry of the run document. `earlier` holds the batch records
    (`batch_record`) of earlier invocations of the run in this repository, so that a repository
    cleaned in several invocations has one report."""
    entry = _repository_entry(outcome)
    for record in reversed(earlier):
        acted = str(record["action"])
        planned = _PLANNED[acted]
        images = [dict(image) for image in record["images"]]
        entry[planned] = [*images, *entry.get(planned, [])]
        entry[acted] = [*(image["digest"] for image in images), *entry.get(acted, [])]
    return entry


ACTED = {Action.DELETE: "deleted", Action.ARCHIVE: "archived", Action.UNTAG: "untagged"}
"""How a batch record names what its batch did."""
_PLANNED = {"deleted": "delete", "archived": "archive", "untagged": "untag"}


def batch_record(batch: BatchDone, at: datetime) -> dict[str, Any]:
    """The record of one batch, as the run data keeps it: what it deleted or archived, and why.
    `state` is "started" (about to call the registry: these images may be gone) or "done"."""
    return {
        "repository": batch.repository,
        "action": ACTED[batch.action],
        "state": "done" if batch.confirmed else "started",
        "at": format_time(at),
        "images_seen": batch.images,
        "images": [_decision(decision, rules=True) for decision in batch.done],
        "failures": [
            {"digest": failure.digest, "code": failure.code, "message": failure.message}
            for failure in batch.failures
        ],
    }


def recorded_totals(records: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """What batch records add up to: the result fields of a repository (see the summary)."""
    totals = {"images": 0, "deleted": 0, "bytes": 0, "archived": 0, "archived_bytes": 0, "untagged": 0}
    sizes_of = {"deleted": "bytes", "archived": "archived_bytes", "untagged": None}
    for record in records:
        if record.get("state") == "started":
            continue
        sizes = [int(image.get("size") or 0) for image in record.get("images", [])]
        acted = str(record.get("action"))
        totals[acted] += len(sizes)
        size = sizes_of[acted]
        if size is not None:
            totals[size] += sum(sizes)
        totals["images"] = max(totals["images"], int(record.get("images_seen") or 0))
    return totals


def emf_record(namespace: str, metrics: dict[str, int], *, dimensions: dict[str, str], now: datetime) -> str:
    """One CloudWatch Embedded Metric Format line: printed to the log, it becomes metrics, no API call."""
    units = {name: "Bytes" if name.startswith("Bytes") else "Count" for name in metrics}
    document: dict[str, Any] = {
        "_aws": {
            "Timestamp": int(now.timestamp() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [sorted(dimensions)],
                    "Metrics": [{"Name": name, "Unit": unit} for name, unit in units.items()],
                }
            ],
        },
        **dimensions,
        **metrics,
    }
    return json.dumps(document)


NOTIFIED_FAILURES = 50
"""Failed repositories a notification names one by one; SNS takes at most 256 KB."""


def notification(
    summary: Mapping[str, Any], results: Sequence[Mapping[str, Any]], *, execution_arn: str | None = None
) -> tuple[str, str]:
    """The subject (at most 100 characters, as SNS allows) and body of the message a run sends."""
    dry_run = bool(summary.get("dry_run"))
    verb, key = ("would delete", "delete") if dry_run else ("deleted", "deleted")
    count = int(summary.get(key) or 0)
    reclaimed = human_bytes(int(summary.get("bytes") or 0))
    subject = f"ECR cleanup: {verb} {count} images ({reclaimed})"
    if summary.get("failed_count"):
        subject += f", {summary['failed_count']} repositories failed"
    lines = [
        f"ECR cleanup run of {summary.get('now')}{' (dry run)' if dry_run else ''}",
        "",
        str(summary.get("message", "")),
        "",
        f"Repositories: {summary.get('repositories', 0)}",
        f"Images scanned: {summary.get('images', 0)}",
        f"Images {verb}: {count}",
        f"Deferred to a later run: {summary.get('deferred', 0)}",
        f"Space reclaimed: {reclaimed}",
    ]
    saved = summary.get("savings")
    if saved:
        text = savings_text(saved, dry_run=dry_run)
        lines.append(
            f"Storage cost: {text[0].upper()}{text[1:]} "
            f"(at {money(float(saved['storage_price_per_gb_month']))} per GB-month)"
        )
    archived = int(summary.get("archive" if dry_run else "archived") or 0)
    if archived:
        moved = human_bytes(int(summary.get("archived_bytes") or 0))
        lines.append(f"Images {'to archive' if dry_run else 'archived'}: {archived} ({moved})")
    untagged = int(summary.get("untag" if dry_run else "untagged") or 0)
    if untagged:
        removed = int(summary.get("tags_removed") or 0)
        lines.append(f"Images {'to untag' if dry_run else 'untagged'}: {untagged} ({removed} tags removed)")
    succeeded = [result for result in results if result.get("status") == "ok" and result.get(key)]
    most = sorted(succeeded, key=lambda result: -int(result.get(key) or 0))[:10]
    if most:
        lines += ["", f"Most {verb}:"]
        lines += [
            f"  {r['repository']}: {r[key]} images ({human_bytes(int(r.get('bytes') or 0))})" for r in most
        ]
    warnings = summary.get("warnings") or []
    if warnings:
        count = int(summary.get("warnings_count") or len(warnings))
        lines += ["", f"Warnings ({count}):", *(f"  {warning}" for warning in warnings[:NOTIFIED_FAILURES])]
        if count > min(len(warnings), NOTIFIED_FAILURES):
            lines.append(f"  ... and {count - min(len(warnings), NOTIFIED_FAILURES)} more in summary.json")
    notes = summary.get("notes") or []
    if notes:
        lines += ["", "Notes:", *(f"  {note}" for note in notes)]
    failed = [result for result in results if result.get("status") != "ok"]
    if failed:
        lines += ["", "Failed:"]
        shown = failed[:NOTIFIED_FAILURES]
        lines += [f"  {failure_line(result)}" for result in shown]
        if len(failed) > len(shown):
            where = f" in {summary['report']}" if summary.get("report") else ""
            lines.append(f"  ... and {len(failed) - len(shown)} more, every one listed{where}")
    link = console_link(execution_arn) if execution_arn else None
    if execution_arn:
        lines += ["", f"Execution: {link or execution_arn}"]
    if summary.get("report_html"):
        lines.append(f"Report: {summary['report_html']}")
    if summary.get("report"):
        lines.append(f"Summary: {summary['report']}")
    return subject[:100], "\n".join(lines) + "\n"


_ENDINGS = {"FAILED": "failed", "TIMED_OUT": "timed out", "ABORTED": "was stopped"}
_CONSOLES = {
    "aws": "console.aws.amazon.com",
    "aws-cn": "console.amazonaws.cn",
    "aws-us-gov": "console.amazonaws-us-gov.com",
}
CAUSE_LENGTH = 2000
"""The most of an error's cause a notification quotes."""


def readable_cause(cause: object) -> str:
    """An execution's cause in one readable line: a Lambda error's JSON (message, type, stack trace)
    becomes `<type>: <message>`, other text is kept; both cut to `CAUSE_LENGTH`."""
    if not isinstance(cause, str) or not cause.strip():
        return ""
    text = cause
    try:
        parsed = json.loads(cause)
    except ValueError:
        parsed = None
    if isinstance(parsed, Mapping) and parsed.get("errorMessage") is not None:
        kind = parsed.get("errorType")
        text = f"{kind}: {parsed['errorMessage']}" if kind else str(parsed["errorMessage"])
    text = " ".join(text.split())
    return text if len(text) <= CAUSE_LENGTH else text[: CAUSE_LENGTH - 1] + "…"


def console_link(execution_arn: str) -> str | None:
    """The execution's page in the Step Functions console, or None for a partition without one."""
    parts = execution_arn.split(":")
    if len(parts) < 8 or parts[1] not in _CONSOLES:
        return None
    region = parts[3]
    return (
        f"https://{region}.{_CONSOLES[parts[1]]}/states/home?region={region}"
        f"#/v2/executions/details/{execution_arn}"
    )


def execution_notification(
    detail: Mapping[str, Any], *, stopped: Mapping[str, Any] | None, folder: str | None
) -> tuple[str, str]:
    """The message of a run that ended without its summary: it failed, timed out or was stopped
    (`detail`: the "Step Functions Execution Status Change" event's). `stopped` is the summary the
    first step wrote when it stopped the run before cleaning anything; `folder` the run folder."""
    status = str(detail.get("status"))
    name = detail.get("name")
    if stopped is not None:
        subject = "ECR cleanup: run stopped, nothing deleted"
    else:
        subject = f"ECR cleanup: run {_ENDINGS.get(status, status.lower())}"
    lines = [f"ECR cleanup run {name}: {status}", ""]
    if stopped is not None and stopped.get("message"):
        lines += [str(stopped["message"]), ""]
    elif status == "TIMED_OUT":
        lines += ["The execution reached its time limit (execution_timeout_hours) before it ended.", ""]
    elif status == "ABORTED":
        lines += ["The execution was stopped before it ended (StopExecution).", ""]
    if detail.get("error"):
        lines.append(f"Error: {detail['error']}")
    cause = readable_cause(detail.get("cause"))
    if cause:
        lines.append(f"Cause: {cause}")
    for label, key in (("Started", "startDate"), ("Ended", "stopDate")):
        moment = detail.get(key)
        if isinstance(moment, int | float):
            lines.append(f"{label}: {format_time(datetime.fromtimestamp(moment / 1000, UTC))}")
    if stopped is None:
        lines += [
            "",
            "Images deleted before the run ended are recorded, batch by batch, under _run/batches/ in "
            "the run folder; the next run carries on where this one stopped.",
        ]
    link = console_link(str(detail.get("executionArn", "")))
    lines.append("")
    if link:
        lines.append(f"Execution: {link}")
    if folder:
        if stopped is not None:
            lines.append(f"Report: {folder}report.html")
        lines.append(f"Run folder: {folder}")
    return subject[:100], "\n".join(lines) + "\n"


def failure_line(result: Mapping[str, Any]) -> str:
    """A failed repository in one line: its name, why, and what it deleted or archived before."""
    line = f"{result.get('repository')}: {failure_reason(result)}"
    done = [
        f"{verb} {int(result.get(key) or 0)}"
        for key, verb in (("deleted", "deleted"), ("archived", "archived"), ("untagged", "untagged"))
        if not result.get("dry_run") and result.get(key)
    ]
    if not done:
        return line
    return f"{line} ({' and '.join(done)}{' before it failed' if result.get('error') else ''})"


def failure_reason(result: Mapping[str, Any]) -> str:
    """Why a repository failed, from its result or from the error the state machine caught."""
    error = result.get("error")
    if isinstance(error, Mapping):
        cause = error.get("Cause")
        try:
            decoded = json.loads(cause) if isinstance(cause, str) else None
        except json.JSONDecodeError:
            decoded = None
        if isinstance(decoded, dict) and "errorMessage" in decoded:
            return f"{decoded.get('errorType', error.get('Error'))}: {decoded['errorMessage']}"
        return f"{error.get('Error')}: {cause}"
    failures = result.get("failures") or []
    if not failures:
        return "unknown failure"
    count = int(result.get("failed_images") or len(failures))
    first = failures[0]
    return f"{count} images could not be deleted (first: {first.get('code')}: {first.get('message')})"
