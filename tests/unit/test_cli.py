"""`ecr-cleanup preview`: the offline command, its output formats and its exit statuses."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ecr_cleanup.cli import EXIT_INVALID, EXIT_OK, main
from ecr_cleanup.report import human_bytes

NOW = "2026-11-28T12:00:00Z"
ROOT = Path(__file__).resolve().parents[2]

POLICY = {
    "rules": [
        {"description": "dev builds", "tag_patterns": ["dev-*"], "older_than_days": 30, "keep_latest": 1},
        {"description": "untagged", "tag_status": "untagged", "not_pulled_for_days": 14},
    ],
    "protect": {"tag_patterns": ["latest"]},
}

APP_IMAGES = {
    "imageDetails": [
        {
            "repositoryName": "app",
            "imageDigest": "sha256:aaa1",
            "imageTags": ["dev-1"],
            "imagePushedAt": "2026-09-01T00:00:00+00:00",
            "imageSizeInBytes": 1048576,
        },
        {
            "repositoryName": "app",
            "imageDigest": "sha256:aaa2",
            "imageTags": ["dev-2"],
            "imagePushedAt": 1761955200,  # 2025-11-01, as epoch seconds
            "imageSizeInBytes": 2097152,
        },
        {
            "repositoryName": "app",
            "imageDigest": "sha256:aaa3",
            "imageTags": ["dev-3", "latest"],
            "imagePushedAt": "2025-01-01T00:00:00Z",
            "imageSizeInBytes": 10,
        },
        {
            "repositoryName": "app",
            "imageDigest": "sha256:aaa4",
            "imagePushedAt": "2026-10-01T00:00:00Z",
            "lastRecordedPullTime": "2026-11-27T00:00:00Z",
            "imageSizeInBytes": 10,
        },
    ]
}
WEB_IMAGES = {
    "imageDetails": [
        {
            "repositoryName": "web",
            "imageDigest": "sha256:bbb1",
            "imagePushedAt": "2026-01-01T00:00:00Z",
            "imageSizeInBytes": 512,
        }
    ]
}


def write(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document))
    return path


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    return write(tmp_path / "policy.json", POLICY)


@pytest.fixture
def image_files(tmp_path: Path) -> list[str]:
    app = write(tmp_path / "app.json", APP_IMAGES)
    web = write(tmp_path / "web.json", WEB_IMAGES)
    return ["--images", str(app), "--images", str(web)]


def preview(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    status = main(["preview", *args], stdout=out)
    return status, out.getvalue()


def test_preview_json_puts_every_image_in_delete_keep_or_deferred(
    policy_file: Path, image_files: list[str]
) -> None:
    status, output = preview("--policy", str(policy_file), *image_files, "--now", NOW, "--format", "json")
    assert status == EXIT_OK
    report = json.loads(output)
    by_name = {repository["name"]: repository for repository in report["repositories"]}
    app = by_name["app"]
    assert [image["digest"] for image in app["delete"]] == ["sha256:aaa2"]
    assert app["delete"][0]["rules"] == [0]
    assert {image["digest"] for image in app["keep"]} == {"sha256:aaa1", "sha256:aaa3", "sha256:aaa4"}
    assert [image["digest"] for image in by_name["web"]["delete"]] == ["sha256:bbb1"]
    saved = report["summary"].pop("savings")
    assert (saved["currency"], saved["per_month"], saved["storage_price_per_gb_month"]) == ("USD", 0.0, 0.1)
    assert report["summary"] == {
        "repositories": 2,
        "images": 5,
        "delete": 2,
        "archive": 0,
        "untag": 0,
        "tags_removed": 0,
        "keep": 3,
        "deferred": 0,
        "bytes": 2097152 + 512,
        "archive_bytes": 0,
        "failed_repositories": 0,
    }
    assert report["now"] == NOW


def test_preview_reports_the_reason_for_each_kept_image(policy_file: Path, image_files: list[str]) -> None:
    _, output = preview("--policy", str(policy_file), *image_files, "--now", NOW, "--format", "json")
    [app] = [r for r in json.loads(output)["repositories"] if r["name"] == "app"]
    reasons = {image["digest"]: image["reason"] for image in app["keep"]}
    assert reasons["sha256:aaa3"] == "protected: tag 'latest' matches protect.tag_patterns 'latest'"
    assert reasons["sha256:aaa1"] == 'rules[0] "dev builds": among the latest 1 of its selection'
    assert reasons["sha256:aaa4"] == 'rules[1] "untagged": pulled within the last 14 days'


def test_preview_table_reads_like_a_terraform_plan(policy_file: Path, image_files: list[str]) -> None:
    status, output = preview("--policy", str(policy_file), *image_files, "--now", NOW, "--format", "table")
    assert status == EXIT_OK
    assert "app: 4 images, 1 to delete (2.0 MiB)" in output
    assert "- sha256:aaa2  dev-2  392 days old  2.0 MiB" in output
    assert 'matched rules[0] "dev builds"' in output
    assert "across 2 repositories and 5 images.\nWould save up to $0.00 per month in storage" in output
    assert "Plan: 2 to delete (2.0 MiB reclaimed)" in output


def test_preview_defaults_to_json_when_not_on_a_terminal(policy_file: Path, image_files: list[str]) -> None:
    _, output = preview("--policy", str(policy_file), *image_files, "--now", NOW)
    assert json.loads(output)["summary"]["delete"] == 2


def test_repositories_outside_the_policys_selection_are_not_visited(
    tmp_path: Path, image_files: list[str]
) -> None:
    policy = write(tmp_path / "only-web.json", {**POLICY, "repositories": {"exclude": ["app"]}})
    _, output = preview("--policy", str(policy), *image_files, "--now", NOW, "--format", "json")
    assert [r["name"] for r in json.loads(output)["repositories"]] == ["web"]


def test_invalid_policy_exits_2_and_names_the_field(
    tmp_path: Path, image_files: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    policy = write(tmp_path / "bad.json", {"rules": [{"older_than_days": -3}]})
    status, output = preview("--policy", str(policy), *image_files)
    assert status == EXIT_INVALID
    assert output == ""
    assert "rules[0].older_than_days: must be a non-negative whole number, got -3" in capsys.readouterr().err


def test_policy_that_is_not_json_exits_2(
    tmp_path: Path, image_files: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "broken.json"
    policy.write_text("{rules: ")
    assert preview("--policy", str(policy), *image_files)[0] == EXIT_INVALID
    assert "not valid JSON" in capsys.readouterr().err


def test_images_file_without_repository_name_exits_2(
    tmp_path: Path, policy_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    images = write(tmp_path / "i.json", {"imageDetails": [{"imageDigest": "sha256:x", "imagePushedAt": 0}]})
    assert preview("--policy", str(policy_file), "--images", str(images))[0] == EXIT_INVALID
    assert "imageDetails[0].repositoryName: required" in capsys.readouterr().err


def test_images_file_with_a_bad_time_exits_2(
    tmp_path: Path, policy_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    detail = {"repositoryName": "a", "imageDigest": "sha256:x", "imagePushedAt": "yesterday"}
    images = write(tmp_path / "i.json", {"imageDetails": [detail]})
    assert preview("--policy", str(policy_file), "--images", str(images))[0] == EXIT_INVALID
    assert "imagePushedAt: not an ISO 8601 time: 'yesterday'" in capsys.readouterr().err


def test_an_image_listed_in_two_files_keeps_all_its_tags(tmp_path: Path, policy_file: Path) -> None:
    first = {"repositoryName": "a", "imageDigest": "sha256:x", "imageTags": ["dev-1"], "imagePushedAt": 0}
    second = {**first, "imageTags": ["latest"]}
    one = write(tmp_path / "1.json", {"imageDetails": [first]})
    two = write(tmp_path / "2.json", {"imageDetails": [second]})
    _, output = preview(
        "--policy", str(policy_file), "--images", str(one), "--images", str(two), "--now", NOW
    )
    [repository] = json.loads(output)["repositories"]
    assert repository["delete"] == []
    assert repository["keep"][0]["tags"] == ["dev-1", "latest"]


def test_python_dash_m_runs_with_only_the_lambda_folder_on_the_path(
    policy_file: Path, image_files: list[str]
) -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "ecr_cleanup",
            "preview",
            "--policy",
            str(policy_file),
            *image_files,
            "--now",
            NOW,
        ],
        env={"PYTHONPATH": str(ROOT / "lambda"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
        cwd="/",
    )
    assert completed.returncode == EXIT_OK, completed.stderr
    assert json.loads(completed.stdout)["summary"]["delete"] == 2


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (1536 * 1024, "1.5 MiB"), (5 * 1024**4, "5.0 TiB")],
)
def test_sizes_are_shown_in_human_units(size: int, text: str) -> None:
    assert human_bytes(size) == text


def test_the_version_is_the_installed_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"ecr-cleanup {version('ecr-cleanup')}"


@pytest.mark.parametrize("option", ["--concurrency=0", "--usage-max-age=-1", "--concurrency=two"])
def test_a_bad_live_option_is_refused_before_anything_runs(
    option: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps(POLICY))
    with pytest.raises(SystemExit) as exited:
        main(["plan", "--policy", str(policy), option])
    assert exited.value.code == 2
    assert "must be a positive number" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["plan", "run"])
def test_the_live_commands_help_says_how_to_keep_the_callers_reads_from_counting_as_pulls(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "aws ecr register-pull-time-update-exclusion --principal-arn <role ARN>" in help_text
