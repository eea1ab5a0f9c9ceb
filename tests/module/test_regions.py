"""Deployable anywhere, any number of times: two instances of the module with the default name, in two
regions of one account (`tests/terraform/regions`), apply side by side, and the one whose `regions`
lists two regions cleans both in one execution, with a report folder per region. And
examples/multi-region, applied as written: a registry replicating to a second region, whose replicas
go one run after their source."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_terraform import terraform

from tests.module.conftest import MODULE_ROOT, NOT_CONFIGURATION, TERRAFORM_ROOTS, run_terraform, wait_for
from tests.support import ecs_seed
from tests.support.ecr_seed import (
    create_repository,
    days_ago,
    image_manifest,
    push_image,
    push_manifest,
    remaining_digests,
)
from tests.support.moto_server import MotoServer

pytestmark = pytest.mark.module

ACCOUNT = "123456789012"

terraform("regions", scope="session")


@pytest.fixture(scope="session")
def applied(terraform_environment: dict[str, str], regions: Any) -> Any:
    return regions


def test_two_instances_with_the_default_name_apply_in_two_regions_of_one_account(applied: Any) -> None:
    us, eu = applied.outputs["us"]["value"], applied.outputs["eu"]["value"]
    assert us["lambda_role_arn"].endswith(":role/ecr-cleanup-us-east-1-lambda")
    assert eu["lambda_role_arn"].endswith(":role/ecr-cleanup-eu-west-1-lambda")
    assert ":us-east-1:" in us["state_machine_arn"]
    assert ":eu-west-1:" in eu["state_machine_arn"]
    assert (
        us["state_machine_arn"].rsplit(":", 1)[1]
        == eu["state_machine_arn"].rsplit(":", 1)[1]
        == "ecr-cleanup"
    )


def test_each_instance_writes_its_lambda_package_to_a_file_of_its_own() -> None:
    builds = {path.name for path in (TERRAFORM_ROOTS / "regions" / "builds").glob("*.zip")}
    assert builds == {"ecr-cleanup-us-east-1-lambda.zip", "ecr-cleanup-eu-west-1-lambda.zip"}


def test_one_execution_cleans_every_listed_region_with_a_report_folder_each(
    applied: Any, moto_server: MotoServer
) -> None:
    old = {}
    for region in ("eu-west-1", "ap-south-1", "us-east-1"):
        create_repository("regional-app", region=region)
        old[region] = push_image("regional-app", tags=["b1"], pushed_at=days_ago(60), region=region)
    eu = applied.outputs["eu"]["value"]
    states = moto_server.client("stepfunctions", region="eu-west-1")
    arn = states.start_execution(stateMachineArn=eu["state_machine_arn"], input="{}")["executionArn"]
    execution = wait_for(moto_server, arn)
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    summary = json.loads(execution["output"])
    assert set(summary["regions"]) == {"eu-west-1", "ap-south-1"}
    assert summary["deleted"] == 2
    assert old["us-east-1"] in remaining_digests("regional-app", region="us-east-1"), (
        "not listed: not cleaned"
    )
    assert old["eu-west-1"] not in remaining_digests("regional-app", region="eu-west-1")
    assert old["ap-south-1"] not in remaining_digests("regional-app", region="ap-south-1")
    s3 = moto_server.client("s3", region="eu-west-1")
    keys = [entry["Key"] for entry in s3.list_objects_v2(Bucket=eu["bucket_name"])["Contents"]]
    assert {key.split("/repositories/")[1].split("/")[0] for key in keys if "/repositories/" in key} == {
        "eu-west-1",
        "ap-south-1",
    }


################################################################################
# examples/multi-region: a registry and its replica, cleaned by one module block
################################################################################

EXAMPLE_REGIONS = ("us-east-1", "eu-west-1")


@pytest.fixture(scope="module")
def multi_region_example(
    terraform_environment: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[dict[str, Any], Path]]:
    """examples/multi-region applied as written (in a copy of the checkout, so that no lock file or
    build lands in it); its outputs and its folder. Destroyed at the end."""
    copy = tmp_path_factory.mktemp("multi-region") / "repo"
    shutil.copytree(MODULE_ROOT, copy, ignore=NOT_CONFIGURATION, symlinks=True)
    example = copy / "examples" / "multi-region"
    state = f"-state={copy / 'terraform.tfstate'}"
    run_terraform(example, "init", "-input=false", env=terraform_environment, check=True)
    try:
        run_terraform(
            example, "apply", "-auto-approve", "-input=false", state, env=terraform_environment, check=True
        )
        shown = run_terraform(example, "output", "-json", state, env=terraform_environment, check=True)
        yield {name: value["value"] for name, value in json.loads(shown.stdout).items()}, example
    finally:
        run_terraform(example, "destroy", "-auto-approve", "-input=false", state, env=terraform_environment)


@pytest.fixture
def replicated_builds(multi_region_example: Any) -> dict[str, dict[str, str]]:
    """`app-web` with twelve old builds in the source region and, as replication writes them, the same
    images a few seconds later in the replica region. region -> build -> digest."""
    source, replica = EXAMPLE_REGIONS
    builds: dict[str, dict[str, str]] = {source: {}, replica: {}}
    for region in EXAMPLE_REGIONS:
        create_repository("app-web", region=region)
    for number in range(1, 13):
        manifest = image_manifest()
        pushed = days_ago(90 - number)
        builds[source][f"b{number}"] = push_manifest(
            "app-web", manifest, tags=[f"b{number}"], pushed_at=pushed
        )
        builds[replica][f"b{number}"] = push_manifest(
            "app-web", manifest, tags=[f"b{number}"], pushed_at=pushed + timedelta(seconds=3), region=replica
        )
    return builds


def left(region: str, builds: dict[str, str]) -> set[str]:
    held = remaining_digests("app-web", region=region)
    return {label for label, digest in builds.items() if digest in held}


def test_the_example_sets_replication_to_the_replica_region(
    multi_region_example: Any, moto_server: MotoServer
) -> None:
    registry = moto_server.client("ecr", region=EXAMPLE_REGIONS[0]).describe_registry()
    [rule] = registry["replicationConfiguration"]["rules"]
    assert [destination["region"] for destination in rule["destinations"]] == [EXAMPLE_REGIONS[1]]


def test_a_replica_never_goes_before_its_source(
    multi_region_example: Any, moto_server: MotoServer, replicated_builds: dict[str, dict[str, str]]
) -> None:
    """Two runs; the source keeps b1 because an ECS service in its region runs it, and deletes b2. The
    replica of b1 is not in use (the service names the source's registry) and is old enough to go, but
    follows its source; the replica of b2 goes in the run that finds b2 gone from the source."""
    outputs, _ = multi_region_example
    source, replica = EXAMPLE_REGIONS
    ecs_seed.run_service(
        "prod", "web", [f"{ACCOUNT}.dkr.ecr.{source}.amazonaws.com/app-web:b1"], ecs=moto_server.client("ecs")
    )
    states = moto_server.client("stepfunctions", region=source)
    every = set(replicated_builds[source])
    runs = []
    for _ in range(2):
        arn = states.start_execution(stateMachineArn=outputs["state_machine_arn"])["executionArn"]
        runs.append(execution := wait_for(moto_server, arn))
        assert execution["status"] == "SUCCEEDED", execution.get("cause")
        assert left(source, replicated_builds[source]) == every - {"b2"}
        assert {"b1"} | every - {"b2"} <= left(replica, replicated_builds[replica])

    assert left(replica, replicated_builds[replica]) == every - {"b2"}
    report = replica_report(moto_server, json.loads(runs[-1]["output"])["report"])
    [b1] = [entry for entry in report["keep"] if entry["digest"] == replicated_builds[replica]["b1"]]
    assert b1["reason"] == f"kept: its source in {source} still holds it (replicas_follow_source)"


def replica_report(server: MotoServer, summary_url: str) -> dict[str, Any]:
    """The replica region's report of `app-web` in the run whose summary is at `summary_url`."""
    bucket, key = summary_url.removeprefix("s3://").split("/", 1)
    folder = key.removesuffix("summary.json")
    body = server.client("s3").get_object(
        Bucket=bucket, Key=f"{folder}repositories/{EXAMPLE_REGIONS[1]}/app-web.json"
    )["Body"]
    return dict(json.loads(body.read()))
