"""API calls and wall time of archiving with `ecr-cleanup run`, with a region's latency.

ECR's UpdateImageStorageClass moves one image per call, so archiving costs one request per image,
where deleting costs one per 100. This prints what that means: the calls by operation, the calls per
archived image and the wall time, for a registry whose images are archived all but the newest 10.
Every request to the emulated AWS (moto, in this process) is slowed by the latency given.

    python bench/archive_calls.py [--repositories 8] [--images 500] [--latency 0.03]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "lambda"), str(ROOT)]

KEEP = 10
POLICY = {
    "rules": [{"keep_latest": KEEP, "action": "archive", "description": "archive all but the 10 newest"}]
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repositories", type=int, default=8)
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--latency", type=float, default=0.03, help="seconds added to every request")
    parser.add_argument("--concurrency", type=int, default=8, help="the CLI's --concurrency")
    args = parser.parse_args()

    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1"
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    import boto3
    from moto import mock_aws

    from ecr_cleanup.cli import main as ecr_cleanup
    from tests.support import moto_patches
    from tests.support.ecr_seed import create_repository, days_ago, push_images
    from tests.support.traffic import recording

    moto_patches.apply_all()
    with mock_aws(), tempfile.TemporaryDirectory() as folder:
        names = [f"service-{r:02d}" for r in range(args.repositories)]
        for name in names:
            create_repository(name)
            push_images(
                name, args.images, tags=lambda i: [f"build-{i}"], pushed_at=lambda i: days_ago(i / 10)
            )
        policy = Path(folder) / "policy.json"
        policy.write_text(json.dumps(POLICY))
        out = io.StringIO()
        with recording(delay=args.latency) as traffic:
            started = time.perf_counter()
            status = ecr_cleanup(
                [
                    "run",
                    "--yes",
                    "--policy",
                    str(policy),
                    "--format",
                    "json",
                    f"--concurrency={args.concurrency}",
                ],
                out,
            )
            elapsed = time.perf_counter() - started
        assert status == 0, status
        archived = int(json.loads(out.getvalue())["summary"]["archived"])
        ecr = boto3.client("ecr")
        left = {
            len(ecr.describe_images(repositoryName=name, filter={"imageStatus": "ACTIVE"})["imageDetails"])
            for name in names
        }
        assert left == {KEEP}, f"every repository must keep exactly {KEEP} active images, found {left}"

    calls = sum(traffic.calls.values())
    print(
        f"registry: {args.repositories} repositories x {args.images:,} images, archive all but the {KEEP} "
        f"newest; {args.latency * 1000:.0f} ms per request, --concurrency {args.concurrency}"
    )
    print(f"  archived {archived:,} images in {elapsed:.1f} s with {calls:,} calls")
    for (service, operation), count in sorted(traffic.calls.items()):
        print(f"      {f'{service}:{operation}':40} {count:6}")
    print(f"calls per archived image: {calls / archived:.3f}")
    per_repository = elapsed / -(-args.repositories // args.concurrency)
    print(
        f"one repository's {args.images - KEEP:,} archivals: about {per_repository:.1f} s "
        f"({per_repository / (args.images - KEEP) * 1000:.0f} ms per image)"
    )


if __name__ == "__main__":
    main()
