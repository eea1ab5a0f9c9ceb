"""API calls and wall time of `ecr-cleanup run` against a serial cleaner, with a region's latency.

The registry: 12 repositories x 2,500 images; the policy keeps the 10 most recent of each. Every
request to the emulated AWS (moto, in this process) is slowed by 30 ms, as a real region answers.

The baseline is the pattern of the most used peer: repositories one after the other, images listed
in pages of 100, deleted in batches of 100, no re-check before deleting. It is written out below.
Targets: `ecr-cleanup run` makes <= 0.6x its calls and takes <= 0.3x its wall time.

    python bench/api_calls.py [--repositories 12] [--images 2500] [--latency 0.03]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "lambda"), str(ROOT)]

KEEP = 10
POLICY = {"rules": [{"keep_latest": KEEP, "description": "all but the 10 most recent"}]}
BASELINE_PAGE_SIZE = 100
BATCH = 100


def serial_cleaner(ecr: Any, repositories: list[str]) -> int:
    """The baseline: one repository after the other, pages of 100, batches of 100, no re-check."""
    deleted = 0
    for repository in repositories:
        images = []
        for page in ecr.get_paginator("describe_images").paginate(
            repositoryName=repository, PaginationConfig={"PageSize": BASELINE_PAGE_SIZE}
        ):
            images += page["imageDetails"]
        images.sort(key=lambda image: image["imagePushedAt"], reverse=True)
        doomed = [image["imageDigest"] for image in images[KEEP:]]
        for start in range(0, len(doomed), BATCH):
            batch = doomed[start : start + BATCH]
            ecr.batch_delete_image(repositoryName=repository, imageIds=[{"imageDigest": d} for d in batch])
            deleted += len(batch)
    return deleted


def measure(
    seed: Callable[[], list[str]], clean: Callable[[list[str]], int], latency: float
) -> dict[str, Any]:
    from moto import mock_aws

    from tests.support.ecr_seed import remaining_digests
    from tests.support.traffic import recording

    with mock_aws():
        started = time.perf_counter()
        repositories = seed()
        seeded = time.perf_counter() - started
        with recording(delay=latency) as traffic:
            started = time.perf_counter()
            deleted = clean(repositories)
            elapsed = time.perf_counter() - started
        left = {len(remaining_digests(name)) for name in repositories}
        assert left == {KEEP}, f"every repository must keep exactly {KEEP} images, found {left}"
    return {"seeded": seeded, "seconds": elapsed, "deleted": deleted, "calls": dict(traffic.calls)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repositories", type=int, default=12)
    parser.add_argument("--images", type=int, default=2500)
    parser.add_argument("--latency", type=float, default=0.03, help="seconds added to every request")
    args = parser.parse_args()

    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1"
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    import boto3

    from ecr_cleanup.cli import main as ecr_cleanup
    from tests.support import moto_patches
    from tests.support.ecr_seed import create_repository, days_ago, push_images

    moto_patches.apply_all()

    def seed() -> list[str]:
        names = [f"service-{r:02d}" for r in range(args.repositories)]
        for name in names:
            create_repository(name)
            push_images(
                name, args.images, tags=lambda i: [f"build-{i}"], pushed_at=lambda i: days_ago(i / 10)
            )
        return names

    def baseline(repositories: list[str]) -> int:
        return serial_cleaner(boto3.client("ecr"), repositories)

    with tempfile.TemporaryDirectory() as folder:
        policy = Path(folder) / "policy.json"
        policy.write_text(json.dumps(POLICY))

        def ours(repositories: list[str]) -> int:
            out = io.StringIO()
            status = ecr_cleanup(["run", "--yes", "--policy", str(policy), "--format", "json"], out)
            assert status == 0, status
            return int(json.loads(out.getvalue())["summary"]["deleted"])

        peer = measure(seed, baseline, args.latency)
        cli = measure(seed, ours, args.latency)

    total = args.repositories * args.images
    print(
        f"registry: {args.repositories} repositories x {args.images:,} images, keep the {KEEP} most recent; "
        f"{args.latency * 1000:.0f} ms per request (seeded in {peer['seeded']:.0f} s)"
    )
    for label, run in (("serial cleaner (baseline)", peer), ("ecr-cleanup run --yes", cli)):
        calls = sum(run["calls"].values())
        print(
            f"  {label:28} {calls:5} calls  {run['seconds']:6.1f} s  deleted {run['deleted']:,} of {total:,}"
        )
        for (service, operation), count in sorted(run["calls"].items()):
            print(f"      {service}:{operation:24} {count:5}")
    assert peer["deleted"] == cli["deleted"], "both must delete the same images"
    call_ratio = sum(cli["calls"].values()) / sum(peer["calls"].values())
    time_ratio = cli["seconds"] / peer["seconds"]
    print(f"calls: {call_ratio:.2f}x the baseline (target <= 0.6x)")
    print(f"wall time: {time_ratio:.2f}x the baseline (target <= 0.3x)")


if __name__ == "__main__":
    main()
