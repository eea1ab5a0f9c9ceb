"""One run, several regions: each region's registry cleaned by the same policy, workloads read where
they run and matched to the registry they name, replicas that follow their source, and a source that
cannot be read in any region stopping every deletion in every region. Against moto, which keeps
regions apart, through the handlers (`tests.support.execution`) and the command line."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from ecr_cleanup.cli import EXIT_INVALID, EXIT_OK, main
from ecr_cleanup.usage import UsageError
from tests.support import ecs_seed
from tests.support.ecr_seed import (
    create_repository,
    days_ago,
    image_manifest,
    push_image,
    push_manifest,
    remaining_digests,
)
from tests.support.execution import execute
from tests.support.faults import Fault, fast_retries, injecting

ACCOUNT = "123456789012"
SOURCE, REPLICA, OTHER = "us-east-1", "eu-west-1", "ap-south-1"
REGIONS = (SOURCE, REPLICA, OTHER)
OLD_UNTAGGED = {"rules": [{"older_than_days": 30}], "protect": {"tag_patterns": ["latest"]}}


def host(region: str) -> str:
    return f"{ACCOUNT}.dkr.ecr.{region}.amazonaws.com"


@pytest.fixture
def estate(aws: None, monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, str]]:
    """`app` in us-east-1 replicated to eu-west-1 (the same images in both, as replication writes
    them), and `tools` in ap-south-1; every image old. An ECS service in eu-west-1 runs `app:b2` of
    us-east-1's registry."""
    boto3.client("s3").create_bucket(Bucket="runs")
    monkeypatch.setenv("REPORT_BUCKET", "runs")
    monkeypatch.setenv("REGIONS", ",".join(REGIONS))
    boto3.client("ecr", region_name=SOURCE).put_replication_configuration(
        replicationConfiguration={"rules": [{"destinations": [{"region": REPLICA, "registryId": ACCOUNT}]}]}
    )
    images: dict[str, dict[str, str]] = {SOURCE: {}, REPLICA: {}, OTHER: {}}
    for region in (SOURCE, REPLICA):
        create_repository("app", region=region)
    for build in (1, 2, 3):
        manifest = image_manifest()
        for region in (SOURCE, REPLICA):
            images[region][f"b{build}"] = push_manifest(
                "app", manifest, tags=[f"b{build}"], pushed_at=days_ago(90 - build), region=region
            )
    create_repository("tools", region=OTHER)
    images[OTHER]["t1"] = push_image("tools", tags=["t1"], pushed_at=days_ago(60), region=OTHER)
    ecs_seed.run_service(
        "prod", "api", [f"{host(SOURCE)}/app:b2"], ecs=boto3.client("ecs", region_name=REPLICA)
    )
    return images


def left(region: str, repository: str, images: dict[str, str]) -> set[str]:
    held = remaining_digests(repository, region=region)
    return {label for label, digest in images.items() if digest in held}


def test_one_run_cleans_every_region_and_a_workload_protects_the_registry_it_names(
    estate: dict[str, dict[str, str]],
) -> None:
    execution = execute(OLD_UNTAGGED)
    assert left(SOURCE, "app", estate[SOURCE]) == {"b2"}, "the service in eu-west-1 runs us-east-1's b2"
    assert left(REPLICA, "app", estate[REPLICA]) == set(), "nothing pulls the replica of b2"
    assert left(OTHER, "tools", estate[OTHER]) == set()
    assert execution.summary["deleted"] == 2 + 3 + 1


def test_a_name_in_two_regions_has_a_result_in_each(estate: dict[str, dict[str, str]]) -> None:
    execution = execute(OLD_UNTAGGED)
    assert execution.summary["failed_count"] == 0, execution.summary["message"]
    assert {region: totals["images"] for region, totals in execution.summary["regions"].items()} == {
        SOURCE: 3,
        REPLICA: 3,
        OTHER: 1,
    }
    assert {region: totals["deleted"] for region, totals in execution.summary["regions"].items()} == {
        SOURCE: 2,
        REPLICA: 3,
        OTHER: 1,
    }


def test_each_region_has_its_own_reports_in_the_one_bucket(estate: dict[str, dict[str, str]]) -> None:
    execution = execute(OLD_UNTAGGED)
    source = execution.object(f"repositories/{SOURCE}/app.json")
    replica = execution.object(f"repositories/{REPLICA}/app.json")
    assert source["region"] == SOURCE
    assert replica["region"] == REPLICA
    kept = {entry["digest"]: entry["reason"] for entry in source["keep"]}
    assert kept[estate[SOURCE]["b2"]].startswith(f"protected: in use: {REPLICA} ECS service")


def test_the_map_items_carry_their_region_and_never_mix_two(estate: dict[str, dict[str, str]]) -> None:
    execution = execute({**OLD_UNTAGGED}, max_concurrency=5)
    items = execution.object("_run/items.json")
    assert {(item["region"], name) for item in items for name in item["repositories"]} == {
        (SOURCE, "app"),
        (REPLICA, "app"),
        (OTHER, "tools"),
    }


REPLICA_ONLY = {"rules": [{"older_than_days": 30, "regions": [REPLICA]}]}
"""A policy that keeps everything in the source region and would delete every old replica."""


def test_without_following_its_source_a_replica_is_cleaned_as_any_repository(
    estate: dict[str, dict[str, str]],
) -> None:
    execute(REPLICA_ONLY)
    assert left(SOURCE, "app", estate[SOURCE]) == {"b1", "b2", "b3"}
    assert left(REPLICA, "app", estate[REPLICA]) == set()


def test_a_replica_that_follows_its_source_keeps_what_the_source_holds(
    estate: dict[str, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REPLICAS_FOLLOW_SOURCE", "true")
    execute(REPLICA_ONLY)
    assert left(REPLICA, "app", estate[REPLICA]) == {"b1", "b2", "b3"}


def test_a_replica_goes_once_its_source_no_longer_holds_it(
    estate: dict[str, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REPLICAS_FOLLOW_SOURCE", "true")
    boto3.client("ecr", region_name=SOURCE).batch_delete_image(
        repositoryName="app", imageIds=[{"imageDigest": estate[SOURCE]["b1"]}]
    )
    execute(REPLICA_ONLY)
    assert left(REPLICA, "app", estate[REPLICA]) == {"b2", "b3"}


def test_a_replicas_report_says_its_source_still_holds_the_image(
    estate: dict[str, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REPLICAS_FOLLOW_SOURCE", "true")
    execution = execute(REPLICA_ONLY)
    replica = execution.object(f"repositories/{REPLICA}/app.json")
    reasons = {entry["reason"] for entry in replica["keep"]}
    assert reasons == {f"kept: its source in {SOURCE} still holds it (replicas_follow_source)"}


def test_a_rule_may_apply_in_some_regions_only(estate: dict[str, dict[str, str]]) -> None:
    execute({"rules": [{"older_than_days": 30, "regions": ["ap-*"]}]})
    assert left(OTHER, "tools", estate[OTHER]) == set()
    assert left(SOURCE, "app", estate[SOURCE]) == {"b1", "b2", "b3"}
    assert left(REPLICA, "app", estate[REPLICA]) == {"b1", "b2", "b3"}


@pytest.mark.parametrize("region", REGIONS)
def test_a_workload_source_that_cannot_be_read_in_one_region_stops_every_deletion_everywhere(
    estate: dict[str, dict[str, str]], region: str
) -> None:
    unreadable = Fault(
        "throttle",
        services="ecs",
        operations="ListClusters",
        code="AccessDeniedException",
        status=400,
        when=lambda call: f".{region}." in call.url,
    )
    with (
        fast_retries(),
        injecting(unreadable) as injector,
        pytest.raises(UsageError, match="ECS ListClusters"),
    ):
        execute(OLD_UNTAGGED)
    assert injector.total() > 0
    assert all(
        left(r, repo, estate[r]) == set(estate[r])
        for r, repo in ((SOURCE, "app"), (REPLICA, "app"), (OTHER, "tools"))
    )


# The command line


def cli(tmp_path: Path, *arguments: str) -> tuple[int, dict[str, Any]]:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(OLD_UNTAGGED))
    out = io.StringIO()
    status = main(["plan", "--policy", str(path), "--format", "json", *arguments], stdout=out)
    return status, json.loads(out.getvalue()) if out.getvalue() else {}


def planned(report: dict[str, Any]) -> dict[tuple[str, str], int]:
    return {(entry["region"], entry["name"]): len(entry["delete"]) for entry in report["repositories"]}


@pytest.mark.parametrize(
    "arguments",
    [
        ["--regions", f"{SOURCE},{REPLICA},{OTHER}"],
        ["--region", SOURCE, "--region", REPLICA, "--region", OTHER],
    ],
)
def test_the_cli_plans_every_region_it_is_given(
    estate: dict[str, dict[str, str]], tmp_path: Path, arguments: list[str]
) -> None:
    status, report = cli(tmp_path, *arguments)
    assert status == EXIT_OK
    assert planned(report) == {(SOURCE, "app"): 2, (REPLICA, "app"): 3, (OTHER, "tools"): 1}


def test_the_cli_refuses_both_forms_of_regions_at_once(
    estate: dict[str, dict[str, str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _ = cli(tmp_path, "--regions", SOURCE, "--region", REPLICA)
    assert status == EXIT_INVALID
    assert "not both" in capsys.readouterr().err
