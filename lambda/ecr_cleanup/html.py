"""The HTML report of a run: one page that loads nothing (no script, style, font, image or frame from
another address), with its charts drawn in inline SVG.

It reads what `summary.json` and each repository's result hold: totals first, failures before
anything else, the storage cost removed, the bytes reclaimed by the top repositories, why images were
kept, and a table of every repository, one row each (the images are in each repository's JSON and CSV
report, which the rows link to). A row is about 140 bytes, so 10,000 repositories make a page of
about 1.4 MB. Every text is escaped: a name or a reason is data, never markup.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any
from urllib.parse import quote

from .money import Prices, money, savings
from .report import RunReport, failure_reason, human_bytes, kept_by, summary_savings

__all__ = [
    "MAX_FAILURES_SHOWN",
    "TOP_REPOSITORIES",
    "from_report",
    "render_run",
    "render_stopped",
    "render_text",
]

TOP_REPOSITORIES = 20
MAX_FAILURES_SHOWN = 200

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#1b1f24}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #d0d7de}
table{border-collapse:collapse}td,th{padding:2px 10px;text-align:right;border-bottom:1px solid #eaeef2}
td:first-child,th:first-child{text-align:left}
.failed{background:#fff1f0;border:1px solid #cf222e;padding:0 1em}.failed li{margin:.3em 0}
.note{color:#57606a}.bar{fill:#0969da}.kept{fill:#8250df}svg text{font:12px sans-serif}
tr.f td{color:#cf222e}summary{cursor:pointer;font-weight:600;margin:.5em 0}.money{font-size:1.3em}
"""


def _text(value: object) -> str:
    return escape(str(value), quote=True)


def _int(value: object) -> int:
    try:
        return int(value)  # type: ignore[call-overload, no-any-return]
    except (TypeError, ValueError):
        return 0


def _page(title: str, body: Iterable[str]) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{_text(title)}</title><style>{_STYLE}</style></head><body>\n"
        + "".join(body)
        + "</body></html>\n"
    )


def _bars(rows: Sequence[tuple[str, float, str]], css: str, label: str) -> str:
    """A horizontal bar chart: one bar per (label, value, value as text), longest value full width."""
    if not rows:
        return '<p class="note">Nothing to show.</p>\n'
    width, label_width, bar, gap = 900, 300, 18, 6
    top = max(value for _, value, _ in rows) or 1
    height = len(rows) * (bar + gap)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{_text(label)}" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
    ]
    for index, (name, value, text) in enumerate(rows):
        y = index * (bar + gap)
        length = max(1.0, (width - label_width - 120) * value / top)
        shown = name if len(name) <= 44 else name[:43] + "…"
        parts.append(
            f'<text x="0" y="{y + 13}">{_text(shown)}</text>'
            f'<rect class="{css}" x="{label_width}" y="{y}" width="{length:.1f}" height="{bar}"><title>'
            f"{_text(name)}: {_text(text)}</title></rect>"
            f'<text x="{label_width + length + 6:.1f}" y="{y + 13}">{_text(text)}</text>'
        )
    parts.append("</svg>\n")
    return "".join(parts)


def _totals(summary: Mapping[str, Any]) -> str:
    dry_run = bool(summary.get("dry_run"))
    rows = [
        ("Repositories", "repositories"),
        ("Images scanned", "images"),
        ("Images to delete" if dry_run else "Images deleted", "delete" if dry_run else "deleted"),
        ("Images to archive" if dry_run else "Images archived", "archive" if dry_run else "archived"),
        ("Images to untag" if dry_run else "Images untagged", "untag" if dry_run else "untagged"),
        ("Deferred to a later run", "deferred"),
        ("Repositories failed", "failed_count"),
    ]
    cells = [
        f'<tr><th>{label}</th><td data-total="{key}">{_int(summary.get(key))}</td></tr>'
        for label, key in rows
    ]
    reclaimed = _int(summary.get("bytes"))
    cells.append(
        f"<tr><th>{'Space to reclaim' if dry_run else 'Space reclaimed'}</th>"
        f'<td data-total="bytes" data-value="{reclaimed}">{human_bytes(reclaimed)}</td></tr>'
    )
    return '<section id="totals"><h2>Totals</h2><table>' + "".join(cells) + "</table></section>\n"


def _money(summary: Mapping[str, Any]) -> str:
    saved = summary.get("savings")
    if not isinstance(saved, Mapping):
        return ""
    verb = "Would save" if summary.get("dry_run") else "Saves"
    per_month = float(saved.get("per_month") or 0)
    storage = float(saved.get("storage_price_per_gb_month") or 0)
    archive = float(saved.get("archive_price_per_gb_month") or 0)
    return (
        '<section id="money"><h2>Storage cost</h2>'
        f'<p class="money">{verb} up to <span data-savings="per_month" data-value="{per_month:.2f}">'
        f"{money(per_month)}</span> per month</p>"
        f"<p>Deleted images: {money(float(saved.get('deleted_per_month') or 0))} per month at "
        f"{money(storage)} per GB-month; archived images: "
        f"{money(float(saved.get('archived_per_month') or 0))} per month at {money(storage)} minus "
        f"{money(archive)} per GB-month.</p>"
        f'<p class="note">Up to: ECR reports compressed sizes, and a layer shared by several images is '
        f"stored and billed once but counted in each.</p></section>\n"
    )


def _failures(summary: Mapping[str, Any], results: Sequence[Mapping[str, Any]]) -> str:
    failed = [result for result in results if result.get("status") != "ok"]
    if not failed:
        return ""
    shown = failed[:MAX_FAILURES_SHOWN]
    items = "".join(
        f"<li><b>{_text(result.get('repository'))}</b>"
        f"{' (' + _text(result['region']) + ')' if result.get('region') else ''}: "
        f"{_text(failure_reason(result))}</li>"
        for result in shown
    )
    more = (
        f"<p>… and {len(failed) - len(shown)} more; summary.json lists every one.</p>"
        if len(failed) > len(shown)
        else ""
    )
    return (
        f'<section id="failures" class="failed"><h2>{len(failed)} repositories failed</h2>'
        f"<ul>{items}</ul>{more}</section>\n"
    )


def _warnings(summary: Mapping[str, Any]) -> str:
    warnings = summary.get("warnings") or []
    if not warnings:
        return ""
    count = _int(summary.get("warnings_count")) or len(warnings)
    items = "".join(f"<li>{_text(warning)}</li>" for warning in warnings[:MAX_FAILURES_SHOWN])
    more = (
        f"<p>… and {count - len(warnings[:MAX_FAILURES_SHOWN])} more in summary.json.</p>"
        if count > len(warnings[:MAX_FAILURES_SHOWN])
        else ""
    )
    return (
        f'<section id="warnings" class="failed"><h2>{count} warnings</h2>'
        "<p>Native lifecycle policies would expire images this run keeps because they run or a kept "
        f"image needs them.</p><ul>{items}</ul>{more}</section>\n"
    )


def _reclaimed(summary: Mapping[str, Any], results: Sequence[Mapping[str, Any]]) -> str:
    ranked = sorted(
        (result for result in results if _int(result.get("bytes")) > 0),
        key=lambda result: (-_int(result.get("bytes")), str(result.get("repository"))),
    )[:TOP_REPOSITORIES]
    rows = [
        (
            f"{result.get('repository')}" + (f" ({result['region']})" if result.get("region") else ""),
            float(_int(result.get("bytes"))),
            human_bytes(_int(result.get("bytes"))),
        )
        for result in ranked
    ]
    verb = "to reclaim" if summary.get("dry_run") else "reclaimed"
    return (
        f'<section id="reclaimed"><h2>Space {verb}: the top {TOP_REPOSITORIES} repositories</h2>'
        + _bars(rows, "bar", f"space {verb} per repository")
        + "</section>\n"
    )


def _kept(results: Sequence[Mapping[str, Any]]) -> str:
    reasons: dict[str, int] = {}
    for result in results:
        for category, count in (result.get("kept_by") or {}).items():
            reasons[category] = reasons.get(category, 0) + _int(count)
    rows = [
        (category, float(count), f"{count} images")
        for category, count in sorted(reasons.items(), key=lambda item: (-item[1], item[0]))
    ]
    return (
        '<section id="kept"><h2>Why images were kept</h2>'
        + _bars(rows, "kept", "images kept, by reason")
        + '<p class="note">Each repository\'s report gives every kept image and the exact rule, protection '
        "or workload that kept it.</p></section>\n"
    )


def _regions(summary: Mapping[str, Any]) -> str:
    regions = summary.get("regions")
    if not isinstance(regions, Mapping) or not regions:
        return ""
    dry_run = bool(summary.get("dry_run"))
    key = "delete" if dry_run else "deleted"
    rows = "".join(
        f"<tr><td>{_text(region)}</td><td>{_int(totals.get('images'))}</td><td>{_int(totals.get(key))}</td>"
        f"<td>{human_bytes(_int(totals.get('bytes')))}</td><td>{_int(totals.get('failed_count'))}</td></tr>"
        for region, totals in sorted(regions.items())
    )
    return (
        '<section id="regions"><h2>Regions</h2><table><tr><th>Region</th><th>Images</th>'
        f"<th>{'To delete' if dry_run else 'Deleted'}</th><th>Space</th><th>Failed</th></tr>"
        f"{rows}</table></section>\n"
    )


def _notes(summary: Mapping[str, Any]) -> str:
    notes = summary.get("notes") or []
    if not notes:
        return ""
    items = "".join(f"<li>{_text(note)}</li>" for note in notes)
    return f'<section id="notes"><h2>Notes</h2><ul>{items}</ul></section>\n'


def _repositories(summary: Mapping[str, Any], results: Sequence[Mapping[str, Any]], link: bool) -> str:
    """One collapsible table per region, a row per repository, failed ones marked; each name links to
    its JSON report (relative to the run folder, where the page is)."""
    dry_run = bool(summary.get("dry_run"))
    by_region: dict[str, list[Mapping[str, Any]]] = {}
    for result in results:
        by_region.setdefault(str(result.get("region") or ""), []).append(result)
    key = "delete" if dry_run else "deleted"
    parts = ['<section id="repositories"><h2>Repositories</h2>']
    for region in sorted(by_region):
        rows = sorted(by_region[region], key=lambda result: str(result.get("repository")))
        where = f"{region}: " if region else ""
        parts.append(
            f"<details><summary>{_text(where)}{len(rows)} repositories</summary><table>"
            f"<tr><th>Repository</th><th>Images</th><th>{'To delete' if dry_run else 'Deleted'}</th>"
            "<th>Space</th><th>Kept</th><th>$/month</th></tr>"
        )
        for result in rows:
            name = str(result.get("repository"))
            cell = _text(name)
            if link and region:
                href = quote(f"repositories/{region}/{name}.json")
                cell = f'<a href="{_text(href)}">{cell}</a>'
            css = ' class="f"' if result.get("status") != "ok" else ""
            # HTML lets a row's cells go unclosed: a fifth of each row's bytes
            parts.append(
                f"<tr{css}><td>{cell}<td>{_int(result.get('images'))}<td>{_int(result.get(key))}"
                f"<td>{human_bytes(_int(result.get('bytes')))}<td>{_int(result.get('kept'))}"
                f"<td>{float(result.get('savings_per_month') or 0):.2f}\n"
            )
        parts.append("</table></details>\n")
    parts.append("</section>\n")
    return "".join(parts)


def render_run(
    summary: Mapping[str, Any], results: Sequence[Mapping[str, Any]], *, links: bool = True
) -> str:
    """The page of a run from its summary and every repository's result (as summary.json and the
    run's results hold them). `links`: the repository names link to their reports in the run folder."""
    dry_run = bool(summary.get("dry_run"))
    title = f"ECR cleanup {'dry run' if dry_run else 'run'} of {summary.get('now')}"
    body = [
        f"<h1>{_text(title)}</h1>\n",
        f'<p id="message">{_text(summary.get("message", ""))}</p>\n',
        _failures(summary, results),
        _warnings(summary),
        _totals(summary),
        _money(summary),
        _reclaimed(summary, results),
        _kept(results),
        _regions(summary),
        _notes(summary),
        _repositories(summary, results, links),
    ]
    if links:
        body.append(
            '<footer><p><a href="summary.json">summary.json</a>: the totals and every failure.</p></footer>\n'
        )
    return _page(title, body)


def render_stopped(summary: Mapping[str, Any]) -> str:
    """The page of a run that stopped before it cleaned anything: why."""
    title = f"ECR cleanup run of {summary.get('now')}: stopped, nothing deleted"
    body = [
        f"<h1>{_text(title)}</h1>\n",
        '<section id="failures" class="failed"><h2>The run stopped before any repository was cleaned</h2>',
        f'<p id="message">{_text(summary.get("message", ""))}</p></section>\n',
        '<section id="totals"><h2>Totals</h2><table><tr><th>Images deleted</th>'
        '<td data-total="deleted">0</td></tr></table></section>\n',
    ]
    return _page(title, body)


def render_text(title: str, text: str) -> str:
    """A page holding preformatted text, such as what an interrupted run did."""
    return _page(title, [f"<h1>{_text(title)}</h1>\n<pre>{_text(text)}</pre>\n"])


def from_report(report: RunReport) -> str:
    """The page of a run of the command line (`--format html`), from its outcomes."""
    executed = report.executed
    prices: Prices = report.prices
    counts = report.summary()
    results: list[dict[str, Any]] = []
    for outcome in report.outcomes:
        plan = outcome.plan
        result: dict[str, Any] = {
            "repository": outcome.repository,
            "region": outcome.region,
            "status": "failed" if outcome.failed else "ok",
        }
        if plan is not None:
            reclaimed = outcome.deleted_bytes if executed else plan.bytes
            archived = outcome.archived_bytes if executed else plan.archive_bytes
            result.update(
                images=plan.images,
                delete=len(plan.delete),
                deleted=len(outcome.deleted),
                kept=len(plan.keep),
                bytes=reclaimed,
                kept_by=kept_by(plan.keep),
                savings_per_month=savings(prices, reclaimed, archived)["per_month"],
            )
        if outcome.error is not None:
            result["error"] = {"Error": "RepositoryFailed", "Cause": outcome.error}
        elif outcome.failures:
            result["failures"] = [
                {"digest": failure.digest, "code": failure.code, "message": failure.message}
                for failure in outcome.failures
            ]
            result["failed_images"] = len(outcome.failures)
        results.append(result)
    verb = "deleted" if executed else "would delete"
    summary = {
        "now": report.now.isoformat().replace("+00:00", "Z"),
        "dry_run": not executed,
        "repositories": counts["repositories"],
        "images": counts["images"],
        "delete": counts["delete"],
        "deleted": counts.get("deleted", 0),
        "archive": counts["archive"],
        "archived": counts.get("archived", 0),
        "untag": counts["untag"],
        "untagged": counts.get("untagged", 0),
        "deferred": counts["deferred"],
        "failed_count": counts["failed_repositories"],
        "bytes": counts["deleted_bytes"] if executed else counts["bytes"],
        "savings": summary_savings(counts, executed=executed, prices=prices),
    }
    summary["message"] = (
        f"{report.mode}: {verb} {summary['deleted'] if executed else summary['delete']} of "
        f"{summary['images']} images in {summary['repositories']} repositories"
    )
    return render_run(summary, results, links=False)
