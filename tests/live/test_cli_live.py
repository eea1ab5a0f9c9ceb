"""`ecr-cleanup plan` and `run` against moto: what the plan says is exactly what a run deletes."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from ecr_cleanup.cleanup import RegistryError
from ecr_cleanup.cli import EXIT_AWS, EXIT_INVALID, EXIT_OK, main
from ecr_cleanup.ecr import EcrRegistry
from tests.support.aws import ApiCalls
from tests.support.ecr_seed import create_repository, days_ago, push_image, remaining_digests

POLICY = {
    "repositories": {"exclude": ["base/*"]},
    "rules": [
        {"tag_patterns": ["dev-*"], "older_than_days": 30, "keep_latest": 2},
        {"tag_status": "untagged", "not_pulled_for_days": 14},
    ],
    "protect": {"tag_patterns": ["latest", "v*"]},
}


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(POLICY))
    return path


@pytest.fixture
def registry(aws: None) -> dict[str, dict[str, str]]:
    """Two repositories with known images (name -> digest), and one the policy excludes."""
    seeded: dict[str, dict[str, str]] = {"app": {}, "web": {}, "base/python": {}}
    for name in seeded:
        create_repository(name)
    app = seeded["app"]
    for day in (100, 90, 80, 5):
        app[f"dev-{day}"] = push_image("app", tags=[f"dev-{day}"], pushed_at=days_ago(day))
    app["latest"] = push_image("app", tags=["dev-200", "latest"], pushed_at=days_ago(200))
    app["untagged-old"] = push_image("app", pushed_at=days_ago(60))
    app["untagged-pulled"] = push_image("app", pushed_at=days_ago(60), last_pulled_at=days_ago(2))
    seeded["web"]["v1"] = push_image("web", tags=["v1"], pushed_at=days_ago(400))
    seeded["web"]["untagged"] = push_image("web", pushed_at=days_ago(30))
    seeded["base/python"]["untagged"] = push_image("base/python", pushed_at=days_ago(300))
    return seeded


EXPECTED_DELETIONS = {"app": {"dev-100", "dev-90", "untagged-old"}, "web": {"untagged"}}


def cli(*args: str) -> tuple[int, dict[str, Any]]:
    out = io.StringIO()
    status = main([*args, "--format", "json"], stdout=out)
    return status, json.loads(out.getvalue()) if out.getvalue() else {}


def planned(report: dict[str, Any]) -> dict[str, set[str]]:
    return {r["name"]: {image["digest"] for image in r["delete"]} for r in report["repositories"]}


def test_plan_lists_what_the_policy_deletes(registry: dict[str, dict[str, str]], policy_file: Path) -> None:
    status, report = cli("plan", "--policy", str(policy_file))
    assert status == EXIT_OK
    assert report["mode"] == "plan"
    assert planned(report) == {
        name: {registry[name][label] for label in labels} for name, labels in EXPECTED_DELETIONS.items()
    }


def test_run_deletes_exactly_the_planned_images(
    registry: dict[str, dict[str, str]], policy_file: Path
) -> None:
    _, plan = cli("plan", "--policy", str(policy_file))
    status, report = cli("run", "--yes", "--policy", str(policy_file))
    assert status == EXIT_OK
    for name, images in registry.items():
        gone = set(images.values()) - remaining_digests(name)
        assert gone == planned(plan).get(name, set()), name
    assert report["summary"]["deleted"] == 4
    assert {r["name"]: set(r["deleted"]) for r in report["repositories"]} == planned(plan)


def test_plan_and_dry_run_call_no_delete_api(
    registry: dict[str, dict[str, str]], policy_file: Path, api_calls: ApiCalls
) -> None:
    assert cli("plan", "--policy", str(policy_file))[0] == EXIT_OK
    status, report = cli("run", "--dry-run", "--policy", str(policy_file))
    assert status == EXIT_OK
    assert report["mode"] == "dry-run"
    assert report["summary"]["delete"] == 4
    assert api_calls["DescribeImages"] > 0
    assert api_calls["BatchDeleteImage"] == 0
    assert all(remaining_digests(name) == set(images.values()) for name, images in registry.items())


def test_invalid_policy_touches_nothing(
    registry: dict[str, dict[str, str]], tmp_path: Path, api_calls: ApiCalls
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"rules": [{"older_than_days": 1, "tag_status": "none"}]}))
    assert cli("run", "--yes", "--policy", str(bad))[0] == EXIT_INVALID
    assert sum(api_calls.values()) == 0


def test_a_repository_that_cannot_be_read_exits_1_after_the_others_ran(
    registry: dict[str, dict[str, str]],
    policy_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    read = EcrRegistry.images

    def images(self: EcrRegistry, repository: str) -> Any:
        if repository == "app":
            raise RegistryError("app: describing images failed: AccessDeniedException: denied")
        return read(self, repository)

    monkeypatch.setattr(EcrRegistry, "images", images)
    status, report = cli("run", "--yes", "--policy", str(policy_file))
    assert status == EXIT_AWS
    assert "app: describing images failed" in capsys.readouterr().err
    assert remaining_digests("web") == {registry["web"]["v1"]}
    assert report["summary"]["failed_repositories"] == 1


def test_a_usage_source_that_cannot_be_read_exits_1_and_deletes_nothing(
    registry: dict[str, dict[str, str]],
    tmp_path: Path,
    api_calls: ApiCalls,
    capsys: pytest.CaptureFixture[str],
) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({**POLICY, "protect": {"in_use_sources": ["ssm:/platform/missing"]}}))
    status, report = cli("run", "--yes", "--policy", str(policy))
    assert status == EXIT_AWS
    assert report == {}
    assert "ssm:/platform/missing" in capsys.readouterr().err
    assert api_calls["BatchDeleteImage"] == 0


def test_an_image_a_service_runs_survives_a_run(
    registry: dict[str, dict[str, str]], policy_file: Path
) -> None:
    ecs = boto3.client("ecs")
    ecs.create_cluster(clusterName="prod")
    container = {
        "name": "app",
        "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:dev-100",
        "memory": 128,
    }
    ecs.register_task_definition(family="app", containerDefinitions=[container])
    ecs.create_service(cluster="prod", serviceName="app", taskDefinition="app", desiredCount=1)
    status, report = cli("run", "--yes", "--policy", str(policy_file))
    assert status == EXIT_OK
    assert registry["app"]["dev-100"] in remaining_digests("app")
    [app] = [r for r in report["repositories"] if r["name"] == "app"]
    [kept] = [k for k in app["keep"] if k["digest"] == registry["app"]["dev-100"]]
    assert kept["reason"].startswith("protected: in use: ECS service")


class Terminal(io.StringIO):
    """Standard input or error of a person at a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def answer(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Terminal]:
    """Make `run` read this answer from a terminal; returns what it wrote to stderr."""

    def type_answer(text: str) -> Terminal:
        monkeypatch.setattr("sys.stdin", Terminal(text))
        errors = Terminal()
        monkeypatch.setattr("sys.stderr", errors)
        return errors

    return type_answer


def test_run_without_a_terminal_or_yes_refuses_and_touches_nothing(
    registry: dict[str, dict[str, str]],
    policy_file: Path,
    api_calls: ApiCalls,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("yes\n"))
    status, report = cli("run", "--policy", str(policy_file))
    assert (status, report) == (EXIT_INVALID, {})
    assert "pass --yes" in capsys.readouterr().err
    assert sum(api_calls.values()) == 0


def test_run_shows_the_plan_and_deletes_after_yes(
    registry: dict[str, dict[str, str]], policy_file: Path, answer: Callable[[str], Terminal]
) -> None:
    errors = answer("yes\n")
    status, report = cli("run", "--policy", str(policy_file))
    assert status == EXIT_OK
    assert report["summary"]["deleted"] == 4
    shown = errors.getvalue()
    assert "ECR cleanup plan" in shown
    assert registry["app"]["dev-100"][:19] in shown
    assert "Delete these 4 images" in shown
    assert registry["app"]["dev-100"] not in remaining_digests("app")


@pytest.mark.parametrize("reply", ["no\n", "y\n", "YES please\n", ""])
def test_run_deletes_nothing_unless_the_answer_is_yes(
    registry: dict[str, dict[str, str]], policy_file: Path, answer: Callable[[str], Terminal], reply: str
) -> None:
    errors = answer(reply)
    status, report = cli("run", "--policy", str(policy_file))
    assert (status, report) == (EXIT_OK, {})
    assert "Cancelled: nothing was deleted." in errors.getvalue()
    assert all(remaining_digests(name) == set(images.values()) for name, images in registry.items())


def test_a_run_confirmed_later_re_reads_and_spares_an_image_retagged_meanwhile(
    registry: dict[str, dict[str, str]], policy_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    victim = registry["app"]["dev-100"]

    class Retagging(Terminal):
        def readline(self, size: int | None = -1) -> str:
            ecr = boto3.client("ecr")
            manifest = ecr.batch_get_image(repositoryName="app", imageIds=[{"imageDigest": victim}])
            ecr.put_image(
                repositoryName="app", imageManifest=manifest["images"][0]["imageManifest"], imageTag="v9"
            )
            return "yes\n"

    monkeypatch.setattr("sys.stdin", Retagging())
    monkeypatch.setattr("sys.stderr", Terminal())
    status, report = cli("run", "--policy", str(policy_file))
    assert status == EXIT_OK
    assert victim in remaining_digests("app")
    [app] = [r for r in report["repositories"] if r["name"] == "app"]
    assert [entry["digest"] for entry in app["skipped"]] == [victim]


def test_progress_goes_to_a_terminal_on_stderr(
    registry: dict[str, dict[str, str]], policy_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    errors = Terminal()
    monkeypatch.setattr("sys.stderr", errors)
    assert cli("run", "--yes", "--policy", str(policy_file))[0] == EXIT_OK
    assert "2/2 repositories, 9 images read, 4 deleted" in errors.getvalue()


def test_repositories_cleaned_in_parallel_end_as_if_cleaned_in_turn(
    registry: dict[str, dict[str, str]], policy_file: Path
) -> None:
    status, report = cli("run", "--yes", "--concurrency", "4", "--policy", str(policy_file))
    assert status == EXIT_OK
    assert {r["name"]: len(r["deleted"]) for r in report["repositories"]} == {"app": 3, "web": 1}


# Regions: --region, then AWS_REGION, then AWS_DEFAULT_REGION, then the profile's region.


@pytest.fixture
def regional_registries(aws: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A repository per region, named after it, and an AWS configuration file with no region."""
    for region in ("us-east-1", "eu-west-1", "ap-south-1", "sa-east-1"):
        boto3.client("ecr", region_name=region).create_repository(repositoryName=f"in-{region}")
    config = tmp_path / "config"
    config.write_text("[default]\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")


def planned_repositories(policy_file: Path, *args: str) -> list[str]:
    status, report = cli("plan", "--policy", str(policy_file), *args)
    assert status == EXIT_OK
    return [repository["name"] for repository in report["repositories"]]


def test_the_cli_reads_aws_region(
    regional_registries: None, policy_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert planned_repositories(policy_file) == ["in-eu-west-1"]


def test_aws_region_comes_before_aws_default_region(
    regional_registries: None, policy_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    assert planned_repositories(policy_file) == ["in-eu-west-1"]


def test_the_region_option_comes_before_the_environment(
    regional_registries: None, policy_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert planned_repositories(policy_file, "--region", "sa-east-1") == ["in-sa-east-1"]


def test_the_profile_region_comes_last(
    regional_registries: None, policy_file: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "config").write_text("[default]\nregion = ap-south-1\n")
    assert planned_repositories(policy_file) == ["in-ap-south-1"]
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert planned_repositories(policy_file) == ["in-eu-west-1"]


def test_without_a_region_the_error_names_every_way_to_give_one(
    regional_registries: None, policy_file: Path, api_calls: ApiCalls, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _ = cli("plan", "--policy", str(policy_file))
    assert status == EXIT_INVALID
    error = capsys.readouterr().err
    for way in ("--region", "AWS_REGION", "AWS_DEFAULT_REGION", "profile"):
        assert way in error
    assert sum(api_calls.values()) == 0
