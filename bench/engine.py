"""Offline preview speed and memory: 1,000,000 images in 1,000 repositories.

Prints the time to merely `json.load` the saved describe-images files, the time of the real
`ecr-cleanup preview` command over the same files (read, plan, report as a table or as JSON, written
to /dev/null), their ratio (targets: table <= 2x, JSON <= 3x) and the peak memory of each, and the
same JSON preview with a policy that ranks per release line (`group_by`, `order_by: "version"`;
target: <= 3x). Each
measurement runs in a fresh process so that peak RSS is its own; the preview's worker processes
are its children, and their RSS is added (see `TreeMemory`). `--repeat N` keeps the fastest of
N runs of each measurement (and the peak of that run); `--data DIR` keeps the generated files there
and reuses them on the next call.

    python bench/engine.py [--repositories 1000] [--images 1000] [--repeat 1] [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 28, tzinfo=UTC)
POLICY = {
    "repositories": {"include": ["*"], "exclude": ["base/*"]},
    "rules": [
        {
            "description": "dev builds: older than 30 days AND not among the latest 10",
            "tag_status": "tagged",
            "tag_patterns": ["dev-*", "pr-*"],
            "older_than_days": 30,
            "keep_latest": 10,
        },
        {
            "description": "untagged, not pulled for 14 days",
            "tag_status": "untagged",
            "not_pulled_for_days": 14,
        },
    ],
    "protect": {"tag_patterns": ["latest", "prod*", "v*"], "younger_than_days": 1},
    "limits": {"max_deletions_per_repository": 500},
}
GROUPED_POLICY = {
    "rules": [
        {
            "description": "the latest 10 of each kind of build, after 30 days",
            "group_by": "^(?P<line>dev|pr)-[0-9]+$",
            "keep_latest": 10,
            "older_than_days": 30,
        },
        {
            "description": "the 5 highest releases of each major version",
            "tag_regex": ["^v\\d+\\.\\d+$"],
            "group_by": "^v(?P<line>\\d+)\\.\\d+$",
            "order_by": "version",
            "keep_latest": 5,
        },
        {
            "description": "untagged, not pulled for 14 days",
            "tag_status": "untagged",
            "not_pulled_for_days": 14,
        },
    ],
    "protect": {"tag_patterns": ["latest"], "younger_than_days": 1},
}


def generate(folder: Path, repositories: int, images: int) -> list[Path]:
    """Write one describe-images file per repository, shaped like the AWS CLI's output."""
    rng = random.Random(42)
    paths = []
    for r in range(repositories):
        name = f"team-{r % 17}/service-{r}"
        details = []
        for i in range(images):
            pushed = NOW - timedelta(seconds=rng.randrange(0, 400 * 86400))
            kind = rng.random()
            tags = (
                []
                if kind < 0.3
                else [f"dev-{i}"]
                if kind < 0.8
                else [f"pr-{i}"]
                if kind < 0.95
                else [f"v1.{i}"]
            )
            detail = {
                "registryId": "123456789012",
                "repositoryName": name,
                "imageDigest": f"sha256:{rng.getrandbits(256):064x}",
                "imageSizeInBytes": rng.randrange(10_000_000, 900_000_000),
                "imagePushedAt": pushed.isoformat(),
                "imageManifestMediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "artifactMediaType": "application/vnd.docker.container.image.v1+json",
            }
            if tags:
                detail["imageTags"] = tags
            if rng.random() < 0.5:
                detail["lastRecordedPullTime"] = (pushed + timedelta(days=rng.randrange(0, 30))).isoformat()
            details.append(detail)
        path = folder / f"repo-{r:04d}.json"
        path.write_text(json.dumps({"imageDetails": details}))
        paths.append(path)
    (folder / "policy.json").write_text(json.dumps(POLICY))
    return paths


def write_policies(folder: Path) -> None:
    (folder / "policy.json").write_text(json.dumps(POLICY))
    (folder / "policy-grouped.json").write_text(json.dumps(GROUPED_POLICY))


def measure(task: str, folder: Path, repeat: int) -> tuple[float, float, float, float]:
    """Run one task in a fresh interpreter `repeat` times; the fastest run's seconds and, in MiB,
    the sampled peak of the RSS summed over the process and its workers, the process's own
    high-water mark and that of its largest worker."""
    runs = []
    for _ in range(repeat):
        completed = subprocess.run(
            [sys.executable, __file__, "--task", task, "--folder", str(folder)],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONPATH": str(ROOT / "lambda")},
        )
        seconds, tree, own, child = completed.stdout.split()
        runs.append((float(seconds), float(tree), float(own), float(child)))
    return min(runs)


class TreeMemory(threading.Thread):
    """Samples the RSS of this process plus that of all its descendants, every 10 ms (Linux)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = 0
        self.stopped = threading.Event()
        self.page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096

    def run(self) -> None:
        while not self.stopped.wait(0.01):
            self.peak = max(self.peak, sum(self.rss(pid) for pid in self.tree(os.getpid())))

    def tree(self, pid: int) -> list[int]:
        pids = [pid]
        for children in Path(f"/proc/{pid}/task").glob("*/children"):
            try:
                pids += [p for child in children.read_text().split() for p in self.tree(int(child))]
            except OSError:
                continue
        return pids

    def rss(self, pid: int) -> int:
        try:
            return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * self.page
        except (OSError, IndexError, ValueError):
            return 0


SPIN = "for _ in range(8_000_000): pass"


def cores_available() -> float:
    """How many cores two busy processes get right now: about 2.0 on two free cores, 1.0 when they
    share one (a loaded host). The preview's speed-up from its worker processes is bounded by it."""

    def spin(count: int) -> float:
        started = time.perf_counter()
        spinners = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(count)]
        for spinner in spinners:
            spinner.wait()
        return time.perf_counter() - started

    return 2 * min(spin(1) for _ in range(3)) / min(spin(2) for _ in range(3))


def run_task(task: str, folder: Path) -> None:
    """`load` decodes the files and drops them; `preview-*` runs the real command into /dev/null."""
    paths = sorted(folder.glob("repo-*.json"))
    memory = TreeMemory()
    memory.start()
    start = time.perf_counter()
    if task == "load":
        for path in paths:
            with open(path, "rb") as handle:
                json.load(handle)
    else:
        from ecr_cleanup.cli import main as cli

        grouped = task.endswith("-grouped")
        policy = folder / ("policy-grouped.json" if grouped else "policy.json")
        images = [argument for path in paths for argument in ("--images", str(path))]
        output_format = task.removeprefix("preview-").removesuffix("-grouped")
        with open("/dev/null", "w") as sink:
            cli(
                [
                    "preview",
                    "--policy",
                    str(policy),
                    *images,
                    "--now",
                    NOW.isoformat(),
                    "--format",
                    output_format,
                ],
                sink,
            )
    elapsed = time.perf_counter() - start
    memory.stopped.set()
    memory.join()
    # ru_maxrss of RUSAGE_CHILDREN is the high-water mark of the largest child waited for, not a sum.
    own_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"{elapsed:.3f} {memory.peak / 1024**2:.1f} {own_mib:.1f} {child_mib:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repositories", type=int, default=1000)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=1, help="keep the fastest of this many runs")
    parser.add_argument("--data", type=Path, help="keep the generated files in this folder, and reuse them")
    parser.add_argument("--task", choices=("load", "preview-table", "preview-json", "preview-json-grouped"))
    parser.add_argument("--folder", type=Path)
    args = parser.parse_args()
    if args.task:
        run_task(args.task, args.folder)
        return

    with tempfile.TemporaryDirectory(prefix="ecr-cleanup-bench-") as tmp:
        folder = args.data or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        if not (folder / "policy.json").exists():
            generate(folder, args.repositories, args.images)
        write_policies(folder)
        paths = sorted(folder.glob("repo-*.json"))
        size = sum(path.stat().st_size for path in paths) / 1024**2
        print(f"input: {len(paths):,} files of describe-images output, {size:,.0f} MiB of JSON")
        print(f"  (ready in {time.perf_counter() - started:.1f} s; {os.cpu_count()} cores)")
        cores_before = cores_available()
        load = measure("load", folder, args.repeat)
        table = measure("preview-table", folder, args.repeat)
        json_ = measure("preview-json", folder, args.repeat)
        grouped = measure("preview-json-grouped", folder, args.repeat)
        cores_after = cores_available()
    load_s, load_tree, load_own, _ = load
    print(f"{'json.load of every file':36} {load_s:7.2f} s   peak {max(load_tree, load_own):5.0f} MiB")
    for label, (seconds, tree, own, child) in (
        ("ecr-cleanup preview --format table", table),
        ("ecr-cleanup preview --format json", json_),
        ("  the same, per release line", grouped),
    ):
        peak = max(tree, own)
        print(
            f"{label:36} {seconds:7.2f} s   peak {peak:5.0f} MiB   {seconds / load_s:.2f}x json.load"
            f"   (high-water marks: command {own:.0f} MiB, largest worker {child:.0f} MiB)"
        )
    print("peak: RSS of the command plus all its worker processes, summed, sampled every 10 ms, or the")
    print("  command's own high-water mark if higher (RUSAGE_SELF; the sampler cannot run while one long")
    print("  C call holds the GIL). RUSAGE_CHILDREN gives the largest worker's high-water mark, not a sum.")
    print(f"cores two busy processes got: {cores_before:.1f} before the runs, {cores_after:.1f} after")
    print("target: preview --format table <= 2x json.load, --format json <= 3x (per release line too)")


if __name__ == "__main__":
    main()
