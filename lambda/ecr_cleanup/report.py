"""Reports of a run: one JSON document for machines, a table that reads like `terraform plan` for people."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .cleanup import RepositoryOutcome
from .plan import Decision

__all__ = [
    "CSV_HEADER",
    "RunReport",
    "emf_record",
    "failure_reason",
    "format_time",
    "human_bytes",
    "notification",
    "repository_json",
    "to_csv",
    "to_json",
    "to_table",
]


@dataclass(frozen=True)
class RunReport:
    """A whole run. `mode` is "preview" (offline), "plan", "dry-run" or "run" (deletes)."""

    now: datetime
    mode: str
    outcomes: Sequence[RepositoryOutcome]

    @property
    def executed(self) -> bool:
        return self.mode == "run"

    def summary(self) -> dict[str, int]:
        plans = [outcome.plan for outcome in self.outcomes if outcome.plan is not None]
        summary = {
            "repositories": len(self.outcomes),
            "images": sum(plan.images for plan in plans),
            "delete": sum(len(plan.delete) for plan in plans),
            "keep": sum(len(plan.keep) for plan in plans),
            "deferred": sum(len(plan.deferred) for plan in plans),
            "bytes": sum(plan.bytes for plan in plans),
            "failed_repositories": sum(1 for outcome in self.outcomes if outcome.failed),
        }
        if self.executed:
            summary["deleted"] = sum(len(outcome.deleted) for outcome in self.outcomes)
            summary["delete_failures"] = sum(len(outcome.failures) for outcome in self.outcomes)
            summary["skipped"] = sum(len(outcome.skipped) for outcome in self.outcomes)
            summary["deleted_bytes"] = sum(outcome.deleted_bytes for outcome in self.outcomes)
        return summary


def format_time(moment: datetime) -> str:
    """ISO 8601 in UTC with a `Z`, as ECR writes times."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.isoformat()[:-6] + "Z"


def human_bytes(size: float) -> str:
    if 1048576 <= size < 1073741824:
        return f"{size / 1048576:.1f} MiB"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def to_json(report: RunReport) -> dict[str, Any]:
    """The JSON document of a run; every image of a visited repository appears exactly once."""
    return {
        "now": format_time(report.now),
        "mode": report.mode,
        "repositories": [_repository_entry(outcome) for outcome in report.outcomes],
        "summary": report.summary(),
    }


def _repository_entry(outcome: RepositoryOutcome) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": outcome.repository}
    if outcome.plan is not None:
        entry["delete"] = [_decision(decision, rules=True) for decision in outcome.plan.delete]
        entry["keep"] = [_decision(decision) for decision in outcome.plan.keep]
        entry["deferred"] = [_decision(decision, rules=True) for decision in outcome.plan.deferred]
    if outcome.executed:
        entry["deleted"] = list(outcome.deleted)
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
    entry: dict[str, Any] = {
        "digest": image.digest,
        "tags": list(image.tags),
        "pushed_at": format_time(image.pushed_at),
        "size": image.size,
    }
    if rules:
        entry["rules"] = list(decision.rules)
    entry["reason"] = decision.reason
    return entry


_TITLES = {
    "preview": "ECR cleanup preview (offline; nothing is deleted)",
    "plan": "ECR cleanup plan (nothing is deleted)",
    "dry-run": "ECR cleanup dry run (nothing is deleted)",
    "run": "ECR cleanup run",
}


def to_table(report: RunReport) -> str:
    """A report for people: per repository what goes and why, then the totals."""
    verb = "deleted" if report.executed else "to delete"
    lines = [f"{_TITLES.get(report.mode, report.mode)} at {format_time(report.now)}", ""]
    for outcome in report.outcomes:
        plan = outcome.plan
        if plan is None:
            lines += [f"! {outcome.repository}: failed: {outcome.error}", ""]
            continue
        header = f"  {outcome.repository}: {plan.images} images, {len(plan.delete)} {verb}"
        if plan.deferred:
            header += f", {len(plan.deferred)} deferred"
        lines.append(header + (f" ({human_bytes(plan.bytes)})" if plan.delete else ""))
        if outcome.error is not None:
            lines.append(f"    ! {outcome.error}")
        failed = {failure.digest: failure for failure in outcome.failures}
        skipped = dict(outcome.skipped)
        for decision in plan.delete:
            mark = "!" if decision.image.digest in failed else "-"
            lines.append(f"    {mark} {_image_line(report.now, decision)}")
            if decision.image.digest in failed:
                failure = failed[decision.image.digest]
                lines.append(f"        delete failed: {failure.code}: {failure.message}")
            elif decision.image.digest in skipped:
                lines.append(f"        {skipped[decision.image.digest]}")
        if plan.deferred:
            lines.append(f"    ~ {len(plan.deferred)} deferred: {plan.deferred[0].reason}")
        protected = sum(1 for decision in plan.keep if decision.reason.startswith("protected"))
        if plan.keep:
            lines.append(f"    keep {len(plan.keep)} ({protected} protected)")
        lines.append("")
    summary = report.summary()
    totals = (
        f"{'Deleted' if report.executed else 'Plan'}: "
        f"{summary['deleted'] if report.executed else summary['delete']} {verb} "
        f"({human_bytes(summary['deleted_bytes' if report.executed else 'bytes'])} reclaimed), "
        f"{summary['keep']} to keep, "
        f"{summary['deferred']} deferred, across {summary['repositories']} repositories "
        f"and {summary['images']} images."
    )
    lines.append(totals)
    if summary["failed_repositories"]:
        lines.append(f"Failures in {summary['failed_repositories']} repositories: see the lines marked '!'.")
    return "\n".join(lines) + "\n"


def _image_line(now: datetime, decision: Decision) -> str:
    image = decision.image
    tags = ", ".join(image.tags) if image.tags else "<untagged>"
    age = (now - image.pushed_at).days
    return f"{image.digest[:19]}  {tags}  {age} days old  {human_bytes(image.size)}  {decision.reason}"


CSV_HEADER = ("repository", "digest", "action", "tags", "pushed_at", "size", "reason")


def to_csv(outcome: RepositoryOutcome) -> str:
    """One row per image of the repository: what happened to it and why (tags joined by spaces)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    if outcome.plan is None:
        return buffer.getvalue()
    deleted = set(outcome.deleted)
    skipped = dict(outcome.skipped)
    failed = {failure.digest: failure for failure in outcome.failures}
    for decision in (*outcome.plan.delete, *outcome.plan.keep, *outcome.plan.deferred):
        image = decision.image
        action, reason = decision.action.value, decision.reason
        if outcome.executed and decision.action.value == "delete":
            if image.digest in skipped:
                action, reason = "skipped", skipped[image.digest]
            elif image.digest in failed:
                action, reason = "failed", f"{failed[image.digest].code}: {failed[image.digest].message}"
            elif image.digest in deleted:
                action = "deleted"
        writer.writerow(
            (
                outcome.repository,
                image.digest,
                action,
                " ".join(image.tags),
                format_time(image.pushed_at),
                image.size,
                reason,
            )
        )
    return buffer.getvalue()


def repository_json(outcome: RepositoryOutcome) -> dict[str, Any]:
    """The report of one repository: its entry of the run document."""
    return _repository_entry(outcome)


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


def notification(summary: Mapping[str, Any], results: Sequence[Mapping[str, Any]]) -> tuple[str, str]:
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
    succeeded = [result for result in results if result.get("status") == "ok" and result.get(key)]
    most = sorted(succeeded, key=lambda result: -int(result.get(key) or 0))[:10]
    if most:
        lines += ["", f"Most {verb}:"]
        lines += [
            f"  {r['repository']}: {r[key]} images ({human_bytes(int(r.get('bytes') or 0))})" for r in most
        ]
    failed = [result for result in results if result.get("status") != "ok"]
    if failed:
        lines += ["", "Failed:"]
        lines += [f"  {result.get('repository')}: {failure_reason(result)}" for result in failed]
    return subject[:100], "\n".join(lines) + "\n"


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
    return f"{len(failures)} images could not be deleted" if failures else "unknown failure"
