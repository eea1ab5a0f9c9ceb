"""The HTML report of a run, as the functions and the command line write it, and as a real browser
renders it: nothing loaded, nothing said on the console, the totals of summary.json in its DOM."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path
from typing import Any

import boto3
import pytest

from ecr_cleanup.cli import EXIT_OK, main
from ecr_cleanup.handlers import list_repositories
from ecr_cleanup.usage import UsageError
from tests.support.browser import page_totals, render
from tests.support.demo import seed
from tests.support.execution import execute

NOW = "2026-11-28T22:00:00Z"
FOLDER = "audit/2026/11/28/220000Z/"
#: Rules and protections like those of examples/complete, which `make demo` applies to the same registry.
DEMO_POLICY: dict[str, Any] = {
    "repositories": {"include": ["app-*", "service-*", "tools/*"], "exclude": ["*-prod", "tools/base-*"]},
    "rules": [
        {"tag_patterns": ["dev-*", "pr-[0-9]*"], "older_than_days": 14, "keep_latest": 5},
        {"tag_status": "untagged", "not_pulled_for_days": 14},
        {"repositories": ["app-*"], "older_than_days": 365, "keep_latest": 20},
    ],
    "protect": {"tag_patterns": ["latest", "stable", "release-*", "v[0-9]*"], "younger_than_days": 3},
}


@pytest.fixture
def bucket(aws: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="reports")
    monkeypatch.setenv("REPORT_BUCKET", "reports")
    monkeypatch.setenv("REPORT_PREFIX", "audit/")
    return s3


def stored(s3: Any, key: str) -> str:
    return str(s3.get_object(Bucket="reports", Key=key)["Body"].read().decode())


@pytest.fixture
def demo_run(bucket: Any) -> tuple[str, dict[str, Any]]:
    """The demo's registry cleaned by a policy like the complete example's: report.html and summary.json."""
    seed(random.Random(7))
    execute(DEMO_POLICY, now=NOW)
    return stored(bucket, f"{FOLDER}report.html"), json.loads(stored(bucket, f"{FOLDER}summary.json"))


def test_a_run_writes_its_page_beside_its_summary(demo_run: tuple[str, dict[str, Any]]) -> None:
    page, summary = demo_run
    assert summary["report_html"] == f"s3://reports/{FOLDER}report.html"
    shown = page_totals(page)
    assert summary["deleted"] > 0
    assert shown["deleted"] == str(summary["deleted"])
    assert shown["bytes"] == str(summary["bytes"])


def test_the_summary_notification_names_the_page(bucket: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    topic = boto3.client("sns").create_topic(Name="cleanup")["TopicArn"]
    monkeypatch.setenv("NOTIFICATION_TOPIC_ARN", topic)
    seed(random.Random(7))
    execute(DEMO_POLICY, now=NOW)
    [(_, message, _, _, _)] = sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].topics[topic].sent_notifications
    assert f"Report: s3://reports/{FOLDER}report.html" in message


def test_a_run_stopped_before_cleaning_writes_a_page_that_says_why(bucket: Any) -> None:
    policy = {**DEMO_POLICY, "protect": {"in_use_sources": ["ssm:/platform/missing"]}}
    with pytest.raises(UsageError):
        list_repositories({"policy": policy, "input": {}, "now": NOW})
    page = stored(bucket, f"{FOLDER}report.html")
    assert "stopped, nothing deleted" in page
    assert "ssm:/platform/missing" in page


def test_the_command_line_writes_the_page_of_a_plan(aws: None, tmp_path: Path) -> None:
    seed(random.Random(7))
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps(DEMO_POLICY))
    out = io.StringIO()
    assert main(["plan", "--policy", str(policy), "--now", NOW, "--format", "html"], stdout=out) == EXIT_OK
    json_out = io.StringIO()
    main(["plan", "--policy", str(policy), "--now", NOW, "--format", "json"], stdout=json_out)
    planned = json.loads(json_out.getvalue())["summary"]
    shown = page_totals(out.getvalue())
    assert (shown["delete"], shown["images"], shown["bytes"]) == (
        str(planned["delete"]),
        str(planned["images"]),
        str(planned["bytes"]),
    )
    assert "Would save up to" in out.getvalue()


def test_a_browser_renders_the_demos_page_without_errors_or_requests(
    demo_run: tuple[str, dict[str, Any]], tmp_path: Path
) -> None:
    page, summary = demo_run
    path = tmp_path / "report.html"
    path.write_text(page)
    shot = tmp_path / "report.png"

    rendered = render(path, screenshot=shot)

    assert rendered.console == []
    assert rendered.requests == []
    shown = page_totals(rendered.dom)
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
    assert f'data-value="{summary["savings"]["per_month"]:.2f}"' in rendered.dom
    assert shot.read_bytes().startswith(b"\x89PNG")


def test_the_browser_check_sees_a_console_error_and_an_outside_request(tmp_path: Path) -> None:
    path = tmp_path / "bad.html"
    path.write_text(
        '<!doctype html><html><body><script>console.error("boom")</script>'
        '<img src="http://images.example.com/a.png"></body></html>'
    )
    rendered = render(path)
    assert any("boom" in line for line in rendered.console)
    assert any("images.example.com" in line for line in rendered.requests)
