"""The HTML report: one page that loads nothing, whose totals are the summary's, whose every text is
escaped, failures first, and small enough for 10,000 repositories."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest

from ecr_cleanup.html import TOP_REPOSITORIES, render_run, render_stopped
from ecr_cleanup.money import GIB, Prices, savings
from tests.support.browser import page_totals

HOSTILE = "<script>alert('x')</script> & \"quoted\""


class Page(HTMLParser):
    """Every start tag with its attributes, and the page's text."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.texts: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        self.texts.append(data)


def result(
    name: str, *, region: str = "us-east-1", deleted: int = 1, size: int = GIB, **extra: Any
) -> dict[str, Any]:
    return {
        "repository": name,
        "region": region,
        "status": "ok",
        "images": deleted + 2,
        "delete": deleted,
        "deleted": deleted,
        "kept": 2,
        "bytes": size,
        "kept_by": {"protected tag": 1, "among the latest of a rule": 1},
        "savings_per_month": savings(Prices(), size, 0)["per_month"],
        **extra,
    }


def summary_of(results: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    total = sum(r["bytes"] for r in results)
    return {
        "now": "2026-11-28T22:00:00Z",
        "dry_run": False,
        "repositories": len(results),
        "images": sum(r["images"] for r in results),
        "delete": sum(r["delete"] for r in results),
        "deleted": sum(r["deleted"] for r in results),
        "archive": 0,
        "archived": 0,
        "untag": 0,
        "untagged": 0,
        "deferred": 0,
        "failed_count": sum(1 for r in results if r["status"] != "ok"),
        "bytes": total,
        "message": "deleted things",
        "savings": savings(Prices(), total, 0),
        **extra,
    }


def test_the_page_loads_nothing_from_anywhere() -> None:
    results = [result(f"app-{n}") for n in range(30)]
    page = Page(render_run(summary_of(results), results))
    assert not [
        tag
        for tag, _ in page.tags
        if tag in {"script", "link", "img", "iframe", "object", "embed", "video", "audio", "source", "frame"}
    ]
    assert not [attrs for _, attrs in page.tags if {"src", "srcset", "background", "poster"} & set(attrs)]
    hrefs = [attrs["href"] or "" for tag, attrs in page.tags if "href" in attrs]
    assert hrefs, "the rows link to their reports"
    assert all(not re.match(r"^[a-z]+:", href) and not href.startswith("//") for href in hrefs), hrefs
    style = "".join(text for text in page.texts if "{" in text)
    assert "url(" not in style
    assert "@import" not in style


def test_the_totals_on_the_page_are_the_summarys() -> None:
    results = [result("app", deleted=3), result("web", deleted=2, size=2 * GIB)]
    summary = summary_of(results)
    text = render_run(summary, results)
    shown = page_totals(text)
    for key in (
        "repositories",
        "images",
        "deleted",
        "archived",
        "untagged",
        "deferred",
        "failed_count",
        "bytes",
    ):
        assert shown[key] == str(summary[key]), key
    assert f'data-savings="per_month" data-value="{summary["savings"]["per_month"]:.2f}"' in text


def test_every_text_is_escaped() -> None:
    hostile = result(HOSTILE, region=HOSTILE, status="failed", error={"Error": HOSTILE, "Cause": HOSTILE})
    hostile["kept_by"] = {HOSTILE: 2}
    results = [hostile, result("app")]
    summary = summary_of(results, message=HOSTILE, notes=[HOSTILE], regions={HOSTILE: {"images": 1}})
    page = Page(render_run(summary, results))
    assert [tag for tag, _ in page.tags if tag == "script"] == []
    texts = "".join(page.texts)
    assert texts.count(HOSTILE) >= 5, "the name, reason, message, note and region read as text"


def test_failures_come_before_the_totals() -> None:
    results = [
        result("app"),
        result("broken", status="failed", error={"Error": "AccessDenied", "Cause": "no"}),
    ]
    text = render_run(summary_of(results), results)
    assert text.index('id="failures"') < text.index('id="totals"')
    assert "broken" in text[text.index('id="failures"') : text.index('id="totals"')]


def test_a_run_without_failures_shows_none() -> None:
    results = [result("app")]
    assert 'id="failures"' not in render_run(summary_of(results), results)


def test_the_reclaimed_chart_shows_the_top_repositories_largest_first() -> None:
    results = [result(f"app-{n:02d}", size=(n + 1) * GIB) for n in range(TOP_REPOSITORIES + 5)]
    text = render_run(summary_of(results), results)
    chart = text[text.index('id="reclaimed"') : text.index('id="kept"')]
    bars = re.findall(r'<rect class="bar"[^>]*><title>([^:]+):', chart)
    assert len(bars) == TOP_REPOSITORIES
    assert bars[0] == "app-24 (us-east-1)"
    assert "app-04" not in bars


def test_the_kept_chart_adds_up_the_reasons_of_every_repository() -> None:
    results = [result("app"), result("web")]
    text = render_run(summary_of(results), results)
    chart = text[text.index('id="kept"') :]
    assert "protected tag: 2 images" in chart
    assert "among the latest of a rule: 2 images" in chart


def test_a_dry_run_says_what_it_would_do() -> None:
    results = [result("app")]
    text = render_run(summary_of(results, dry_run=True), results)
    assert "Would save up to" in text
    assert "Images to delete" in text


def test_ten_thousand_repositories_make_a_page_under_2_mb() -> None:
    results = [
        result(f"team-{n % 40:02d}/service-{n:05d}-api", region=("us-east-1", "eu-west-1")[n % 2])
        for n in range(10_000)
    ]
    text = render_run(summary_of(results), results)
    assert len(text.encode()) < 2 * 1024 * 1024, len(text.encode())
    assert text.count("<tr>") >= 10_000


def test_a_stopped_run_says_why() -> None:
    text = render_stopped({"now": "2026-11-28T22:00:00Z", "message": f"Nothing was deleted: {HOSTILE}"})
    page = Page(text)
    assert f"Nothing was deleted: {HOSTILE}" in "".join(page.texts)
    assert 'data-total="deleted">0<' in text


@pytest.mark.parametrize("links", [True, False])
def test_links_to_reports_only_where_the_page_sits_beside_them(links: bool) -> None:
    results = [result("team/app")]
    text = render_run(summary_of(results), results, links=links)
    assert ('href="repositories/us-east-1/team/app.json"' in text) is links
