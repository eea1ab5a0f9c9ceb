"""API calls of a live run: 20 repositories x 2,500 images against moto, against the minimum.

The minimum per repository is ceil(images / 1000) DescribeImages plus ceil(deletions / 100)
BatchDeleteImage, plus one DescribeRepositories page per 1000 repositories for the whole run.
Target: calls made <= 1.1 x the minimum. The re-check of every delete batch right before it is
deleted (a guard against tags moved onto a planned image) costs one more DescribeImages per batch;
it is counted apart and shown with and without.

    python bench/api_calls.py [--repositories 20] [--images 2500]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "lambda"), str(ROOT)]

POLICY = {
    "rules": [
        {"tag_patterns": ["dev-*"], "older_than_days": 30, "keep_latest": 10},
        {"tag_status": "untagged", "older_than_days": 14},
    ],
    "protect": {"tag_patterns": ["latest", "v*"]},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repositories", type=int, default=20)
    parser.add_argument("--images", type=int, default=2500)
    args = parser.parse_args()

    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1"
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    import boto3
    from moto import mock_aws

    from ecr_cleanup.cleanup import run_cleanup
    from ecr_cleanup.ecr import EcrRegistry
    from ecr_cleanup.policy import parse_policy
    from tests.support import moto_patches
    from tests.support.ecr_seed import create_repository, days_ago, push_images

    moto_patches.apply_all()
    with mock_aws():
        started = time.perf_counter()
        for r in range(args.repositories):
            name = f"service-{r:02d}"
            create_repository(name)
            push_images(
                name,
                args.images,
                tags=lambda i: [] if i % 4 == 0 else ["latest"] if i == 1 else [f"dev-{i}"],
                pushed_at=lambda i: days_ago(i % 120),
            )
        seeded = time.perf_counter() - started

        calls: Counter[str] = Counter()

        def count(model: Any, params: dict[str, Any], **_: Any) -> None:
            recheck = model.name == "DescribeImages" and "imageIds" in params
            calls["DescribeImages (re-check)" if recheck else model.name] += 1

        boto3.setup_default_session()
        boto3.DEFAULT_SESSION.events.register("before-parameter-build.ecr", count)
        started = time.perf_counter()
        outcomes = run_cleanup(EcrRegistry(), parse_policy(POLICY), datetime.now(UTC), execute=True)
        elapsed = time.perf_counter() - started

    deletions = [len(outcome.deleted) for outcome in outcomes]
    minimum = {
        "DescribeRepositories": math.ceil(args.repositories / 1000),
        "DescribeImages": sum(math.ceil(args.images / 1000) for _ in outcomes),
        "BatchDeleteImage": sum(math.ceil(count / 100) for count in deletions),
    }
    rechecks = calls["DescribeImages (re-check)"]
    made = sum(calls.values()) - rechecks
    least = sum(minimum.values())
    total_images = args.repositories * args.images
    print(f"registry: {args.repositories} repositories x {args.images:,} images (seeded in {seeded:.1f} s)")
    print(f"run: deleted {sum(deletions):,} of {total_images:,} images in {elapsed:.1f} s")
    for operation in sorted(set(calls) | set(minimum)):
        print(f"  {operation:26} made {calls[operation]:5}   minimum {minimum.get(operation, 0):5}")
    print(f"listing and deleting: {made} calls, minimum {least}: {made / least:.3f}x (target <= 1.1x)")
    print(
        f"with the pre-delete re-check (one DescribeImages per delete batch, a safety guard): "
        f"{made + rechecks} calls, {(made + rechecks) / least:.3f}x"
    )


if __name__ == "__main__":
    main()
