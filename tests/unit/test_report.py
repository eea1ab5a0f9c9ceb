"""Reports written as text are the reference renderings: `json.dumps(to_json(...))` and `to_table`."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from ecr_cleanup.cleanup import DeleteFailure, RepositoryOutcome
from ecr_cleanup.plan import INDEX_MEDIA_TYPES, Image, plan_repository
from ecr_cleanup.policy import parse_policy
from ecr_cleanup.report import RunReport, format_time, to_json, to_table, write_report
from tests.support.images import NOW, digest_of

POLICY = parse_policy(
    {
        "rules": [
            {"description": 'old \u00e9t\u00e9 "builds"', "tag_patterns": ["dev-*"], "older_than_days": 3},
            {"tag_status": "untagged", "older_than_days": 3},
        ],
        "protect": {"tag_patterns": ["v*"]},
        "limits": {"max_deletions_per_repository": 3},
    }
)


def images(prefix: str) -> list[Image]:
    index = sorted(INDEX_MEDIA_TYPES)[0]
    return [
        Image(
            digest_of(f"{prefix}-dev-{n}"),
            (f"dev-{n}", 'x\u00fc"\\'),
            NOW - timedelta(days=10 + n),
            2**20 * n,
        )
        for n in range(6)
    ] + [
        Image(digest_of(f"{prefix}-untagged"), (), NOW - timedelta(days=5, microseconds=7), 10),
        Image(digest_of(f"{prefix}-v1"), ("v1",), NOW - timedelta(days=50), 10),
        Image(digest_of(f"{prefix}-index"), ("dev-9",), NOW - timedelta(days=40), 10, media_type=index),
        Image(digest_of(f"{prefix}-sig"), (), NOW - timedelta(days=40), 10, subject_digest=digest_of("gone")),
    ]


def outcomes(*, executed: bool) -> list[RepositoryOutcome]:
    first = plan_repository(POLICY, "team/app", images("a"), NOW)
    second = plan_repository(POLICY, "web", images("b")[:6], NOW)
    guarded = plan_repository(
        parse_policy({"rules": [{"older_than_days": 0}], "limits": {"max_delete_fraction": 0.1}}),
        "z",
        images("c"),
        NOW,
    )
    deleted = tuple(decision.image.digest for decision in first.delete[1:])
    return [
        RepositoryOutcome(
            "team/app",
            first,
            executed=executed,
            deleted=deleted if executed else (),
            failures=(DeleteFailure(first.delete[0].image.digest, "Code\u00e9", 'no "way"'),)
            if executed
            else (),
            skipped=((second.delete[0].image.digest, "skipped: tags changed"),) if executed else (),
        ),
        RepositoryOutcome("broken", None, executed=executed, error="AccessDenied: \u2620"),
        RepositoryOutcome("web", second, executed=executed),
        RepositoryOutcome("z", guarded, executed=executed, error=guarded.error),
    ]


@pytest.mark.parametrize("mode", ["preview", "plan", "dry-run", "run"])
@pytest.mark.parametrize("output_format", ["json", "table"])
def test_written_report_is_the_reference_rendering(mode: str, output_format: str) -> None:
    report = RunReport(NOW, mode, outcomes(executed=mode == "run"))
    out = io.StringIO()
    write_report(report, output_format, out)
    if output_format == "json":
        assert out.getvalue() == json.dumps(to_json(report)) + "\n"
    else:
        assert out.getvalue() == to_table(report)


def test_an_empty_report_is_written_too() -> None:
    report = RunReport(NOW, "preview", [])
    out = io.StringIO()
    write_report(report, "json", out)
    assert json.loads(out.getvalue()) == to_json(report)


@pytest.mark.parametrize(
    "moment",
    [
        NOW,
        NOW - timedelta(microseconds=1),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 3, 1, 1, 2, 3, 400, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        datetime(2026, 3, 1, 0, 0, tzinfo=timezone(timedelta(hours=-8))),
    ],
)
def test_times_are_written_as_isoformat_in_utc_with_z(moment: datetime) -> None:
    assert format_time(moment) == moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def test_a_notification_names_the_first_failures_and_says_where_the_rest_are() -> None:
    from ecr_cleanup.report import NOTIFIED_FAILURES, notification

    failed = [
        {"repository": f"app-{n:03d}", "status": "failed", "error": {"Error": "E", "Cause": "denied"}}
        for n in range(NOTIFIED_FAILURES + 7)
    ]
    summary = {"now": "2026-11-28T00:00:00Z", "failed_count": len(failed), "report": "s3://b/r/summary.json"}
    _, body = notification(summary, failed)
    assert f"app-{NOTIFIED_FAILURES - 1:03d}: E: denied" in body
    assert f"app-{NOTIFIED_FAILURES:03d}" not in body
    assert "... and 7 more, every one listed in s3://b/r/summary.json" in body
