"""What faults cost a run of the state machine's handlers, and that they never delete what they should not.

The registry and the policy of bench/api_calls.py (12 repositories x 2,500 images, keep the 10 most
recent), every request slowed by 30 ms. Each scenario starts from the same seeded registry and runs
the handlers as the state machine does (`tests.support.execution.execute`), with faults injected at
moto's dispatch (`tests.support.faults`):

- clean: no fault;
- 30% throttled: 30% of every ECR, ECS and Lambda request answered with the service's throttling error;
- deletions failing: every BatchDeleteImage of one repository answered with a 500;
- killed + next run: the sandbox cleaning one repository ends right after its 2nd delete batch was
  served (Sandbox.Timedout), then the next run (new execution, new sandboxes) cleans again;
- resets: 10% of ECR requests lose their connection before an answer (and 2% time out).

For each: the requests served (retries included) and the extra ones over the clean run, the wall time
(botocore's backoff and rate-limiter waits are recorded, not slept: `fast_retries`; they are printed
apart), the faults injected, the repositories reported failed, and the images wrongly deleted: digests
gone that the clean run kept.

    python bench/faults.py [--repositories 12] [--images 2500] [--latency 0.03] [--seed 1]
"""

from __future__ import annotations

import argparse
import copy
import io
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "lambda"), str(ROOT)]

BUCKET = "ecr-cleanup-bench"
FAILING = "service-03"
"""The repository whose deletions always fail."""
KILLED = "service-05"
"""The repository whose cleanup is killed after its 2nd delete batch."""


@dataclass
class Scenario:
    name: str
    runs: list[tuple[Any, ...]]
    """The faults of each run, in order (more than one: the next runs, each in new sandboxes)."""


@dataclass
class Result:
    calls: Counter[tuple[str, str]]
    seconds: float
    injected: int
    retries: int
    waited: float
    failed: list[list[str]]
    errors: list[str]
    remaining: dict[str, frozenset[str]]
    deleted: int
    by_kind: Counter[str] = field(default_factory=Counter)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repositories", type=int, default=12)
    parser.add_argument("--images", type=int, default=2500)
    parser.add_argument("--latency", type=float, default=0.03, help="seconds added to every request")
    parser.add_argument("--seed", type=int, default=1, help="what the faults' random choices start from")
    args = parser.parse_args()

    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        REPORT_BUCKET=BUCKET,
        REPORT_PREFIX="runs/",
    )
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "NOTIFICATION_TOPIC_ARN"):
        os.environ.pop(name, None)
    import boto3
    from moto import mock_aws

    from bench.api_calls import KEEP, POLICY
    from ecr_cleanup import handlers
    from tests.support import moto_patches
    from tests.support.ecr_seed import create_repository, days_ago, ecr_backend, push_images
    from tests.support.execution import execute
    from tests.support.faults import Call, Fault, fast_retries, injecting
    from tests.support.traffic import recording

    moto_patches.apply_all()

    def repository(name: str) -> Callable[[Call], bool]:
        return lambda call: call.params.get("repositoryName") == name

    def remaining() -> dict[str, frozenset[str]]:
        return {
            name: frozenset(image.get_image_digest() for image in repo.images)
            for name, repo in ecr_backend().repositories.items()
        }

    scenarios = [
        Scenario("clean", [()]),
        Scenario(
            "30% throttled (ECR, ECS, Lambda)",
            [(Fault("throttle", services=("ecr", "ecs", "lambda"), share=0.3),)],
        ),
        Scenario(
            f"deletions failing in {FAILING}",
            [(Fault("server", services="ecr", operations="BatchDeleteImage", when=repository(FAILING)),)],
        ),
        Scenario(
            f"killed in {KILLED} + next run",
            [
                (
                    Fault(
                        "kill",
                        services="ecr",
                        operations="BatchDeleteImage",
                        when=repository(KILLED),
                        after=1,
                        first=1,
                    ),
                ),
                (),
            ],
        ),
        Scenario(
            "resets 10% + timeouts 2% (ECR)",
            [(Fault("reset", services="ecr", share=0.1), Fault("timeout", services="ecr", share=0.02))],
        ),
    ]

    with mock_aws():
        boto3.setup_default_session()
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        started = time.perf_counter()
        names = [f"service-{r:02d}" for r in range(args.repositories)]
        for name in names:  # the registry of bench/api_calls.py
            create_repository(name)
            push_images(
                name, args.images, tags=lambda i: [f"build-{i}"], pushed_at=lambda i: days_ago(i / 10)
            )
        seeded_in = time.perf_counter() - started
        snapshot = copy.deepcopy(ecr_backend().repositories)
        seeded = remaining()

        def empty_bucket() -> None:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
                keys = [{"Key": entry["Key"]} for entry in page.get("Contents", [])]
                if keys:
                    s3.delete_objects(Bucket=BUCKET, Delete={"Objects": keys})

        def play(scenario: Scenario) -> Result:
            ecr_backend().repositories = copy.deepcopy(snapshot)
            empty_bucket()
            failed: list[list[str]] = []
            errors: list[str] = []
            injected = 0
            by_kind: Counter[str] = Counter()
            deleted = 0
            with recording(delay=args.latency) as traffic, fast_retries() as waits:
                started = time.perf_counter()
                for number, faults in enumerate(scenario.runs):
                    handlers._client.cache_clear()  # a run starts in new sandboxes
                    # the handlers print their metrics (EMF lines) to stdout: not part of the figures
                    with injecting(*faults, seed=args.seed) as injector, redirect_stdout(io.StringIO()):
                        try:
                            execution = execute(POLICY, execution=f"run-{number}")
                        except Exception as error:
                            errors.append(f"{type(error).__name__}: {error}")
                        else:
                            failed.append(list(execution.summary["failed"]))
                            errors += [failure["Error"] for failure in execution.failures]
                            deleted += int(execution.summary["deleted"])
                    injected += injector.total()
                    by_kind.update(kind for (_, _, kind), n in injector.injected.items() for _ in range(n))
                seconds = time.perf_counter() - started
            return Result(
                Counter(traffic.calls),
                seconds,
                injected,
                waits.retries,
                waits.waited,
                failed,
                errors,
                remaining(),
                deleted,
                by_kind,
            )

        results = [(scenario, play(scenario)) for scenario in scenarios]

    clean = results[0][1]
    total = args.repositories * args.images
    print(
        f"registry: {args.repositories} repositories x {args.images:,} images, keep the {KEEP} most recent; "
        f"{args.latency * 1000:.0f} ms per request (seeded in {seeded_in:.0f} s); fault seed {args.seed}"
    )
    clean_calls = sum(clean.calls.values())
    for scenario, result in results:
        calls = sum(result.calls.values())
        wrongly = sum(len(clean.remaining[name] - result.remaining.get(name, frozenset())) for name in seeded)
        undone = sum(len(result.remaining.get(name, frozenset()) - clean.remaining[name]) for name in seeded)
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(result.by_kind.items())) or "none"
        print(f"\n  {scenario.name}")
        print(
            f"    {calls:6,} calls ({calls - clean_calls:+,} vs clean)   wall {result.seconds:6.1f} s   "
            f"botocore would also have waited {result.waited:7.1f} s over {result.retries} retries"
        )
        print(f"    faults injected: {result.injected} ({kinds})")
        for number, failed in enumerate(result.failed):
            run_name = "run" if len(result.failed) == 1 else f"run {number + 1}"
            print(f"    {run_name}: repositories failed: {len(failed)} {failed if failed else ''}".rstrip())
        for error in result.errors:
            print(f"    error: {error[:160]}")
        print(
            f"    deleted {result.deleted:,} of {total:,} (clean: {clean.deleted:,}); "
            f"left that the clean run deleted: {undone:,}"
        )
        print(f"    images wrongly deleted: {wrongly}")
        extra = {
            key: result.calls[key] - clean.calls[key]
            for key in sorted(set(result.calls) | set(clean.calls))
            if result.calls[key] != clean.calls[key]
        }
        if extra and scenario is not scenarios[0]:
            print(
                "    extra calls: "
                + ", ".join(f"{service}:{operation} {n:+}" for (service, operation), n in extra.items())
            )


if __name__ == "__main__":
    main()
