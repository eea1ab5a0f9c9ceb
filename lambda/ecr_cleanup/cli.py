"""`ecr-cleanup`: preview a policy offline, plan it against live ECR, or run it.

`run` plans every repository first, shows the plan and asks before deleting, as `terraform apply`
does: only `yes` proceeds; `--yes` skips the question, and without a terminal to ask on, `run`
refuses unless `--yes` is given.

Exit status: 0 success (or a run not confirmed), 1 an AWS failure (including images that could not
be deleted), 2 an invalid policy or input (the message goes to stderr and nothing is touched), 130
interrupted (Ctrl-C).

A run that is interrupted or fails part-way stops before its next delete batch and, instead of the
report, writes what it deleted until then (`Deleted`), from the batches ECR confirmed; a batch under
way at that moment is checked against ECR.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import TextIO

from .cleanup import (
    BatchDone,
    LivePlan,
    RegistryError,
    RepositoryOutcome,
    execute_plans,
    plan_repositories,
    run_cleanup,
    selected_repositories,
    took_effect,
)
from .ecr import EcrRegistry, resolve_region
from .explain import ExplainError, explain
from .inventory import InputError, load_image_files, parse_time, paused_gc, read_json
from .policy import Policy, PolicyError, parse_policy
from .preview import write_preview
from .report import RunReport, batch_record, human_bytes, to_table, write_report
from .usage import DEFAULT_MAX_AGE, LocalUsage, UsageCollector, UsageError

__all__ = ["DEFAULT_CONCURRENCY", "EXIT_AWS", "EXIT_INVALID", "EXIT_OK", "load_policy", "main"]

EXIT_OK = 0
EXIT_AWS = 1
EXIT_INVALID = 2
EXIT_INTERRUPTED = 130
DEFAULT_CONCURRENCY = 8
CONFIRMATION = "yes"


class Refused(Exception):
    """`run` cannot ask for confirmation and was not given `--yes`; nothing was touched."""


def load_policy(path: Path | str) -> Policy:
    """Read and validate a JSON policy file; problems raise `PolicyError` or `InputError`."""
    return parse_policy(read_json(path))


def _instant(text: str) -> datetime:
    try:
        return parse_time(text, "--now")
    except InputError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _positive(kind: type[int] | type[float]) -> Callable[[str], int | float]:
    def read(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
        return value

    return read


def _version() -> str:
    try:
        return metadata.version("ecr-cleanup")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


PULL_TIMES_NOTE = (
    "Pull times: reading an image index's manifest (BatchGetImage) is a pull, so each run would make "
    "multi-arch images look pulled to not_pulled_for_days. Keep the role you run this as out of "
    "ECR's pull-time updates with `aws ecr register-pull-time-update-exclusion --principal-arn "
    "<role ARN>` (one of at most 100 per registry; the module does this for its own role)."
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ecr-cleanup",
        description="Delete the ECR images a policy no longer needs; preview and plan before you run.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--policy", required=True, type=Path, help="the JSON policy document")
        sub.add_argument(
            "--now",
            type=_instant,
            help="the instant ages are measured from (ISO 8601); default: the current time",
        )
        sub.add_argument(
            "--format",
            choices=("table", "json"),
            help="output format; default: table on a terminal, json otherwise",
        )
        return sub

    def live(sub: argparse.ArgumentParser) -> None:
        sub.epilog = PULL_TIMES_NOTE
        sub.add_argument(
            "--region",
            help="AWS region; default: AWS_REGION, then AWS_DEFAULT_REGION, then the profile's region",
        )
        sub.add_argument(
            "--concurrency",
            type=_positive(int),
            default=DEFAULT_CONCURRENCY,
            metavar="N",
            help=f"repositories read and cleaned at the same time (default {DEFAULT_CONCURRENCY})",
        )
        sub.add_argument(
            "--usage-max-age",
            type=_positive(float),
            default=DEFAULT_MAX_AGE.total_seconds() / 60,
            metavar="MINUTES",
            help="read the images in use again when the last reading is older than this before a "
            f"deletion (default {DEFAULT_MAX_AGE.total_seconds() / 60:g})",
        )

    preview = command("preview", "Evaluate a policy offline against saved `aws ecr describe-images` output.")
    preview.add_argument(
        "--images",
        required=True,
        action="append",
        type=Path,
        metavar="FILE",
        help="output of `aws ecr describe-images` (repeat for more repositories or pages)",
    )
    explain = command("explain", "Say why one image of saved `aws ecr describe-images` output goes or stays.")
    explain.add_argument(
        "--images",
        required=True,
        action="append",
        type=Path,
        metavar="FILE",
        help="output of `aws ecr describe-images` holding the image (repeat for more pages)",
    )
    which = explain.add_mutually_exclusive_group(required=True)
    which.add_argument("--digest", help="the image's digest (or its start)")
    which.add_argument("--tag", help="a tag the image holds")
    plan = command("plan", "Read live ECR and show what a run would delete; deletes nothing.")
    live(plan)
    plan.set_defaults(dry_run=True, yes=True)
    run = command("run", "Read live ECR, show the plan, and delete what the policy selects once you confirm.")
    live(run)
    run.add_argument("--dry-run", action="store_true", help="plan and report, but call no delete API")
    run.add_argument("--yes", action="store_true", help="delete without asking for confirmation")
    return parser


class Deleted:
    """What a run deleted or archived, batch by batch, as the registry confirmed it (thread-safe):
    the partial report of a run that is interrupted or fails part-way."""

    def __init__(self) -> None:
        self.done: list[tuple[BatchDone, datetime]] = []
        self.under_way: dict[tuple[str, int], BatchDone] = {}
        self._lock = threading.Lock()

    def __call__(self, batch: BatchDone) -> None:
        key = (batch.repository, threading.get_ident())
        with self._lock:
            if batch.confirmed:
                self.under_way.pop(key, None)
                self.done.append((batch, datetime.now(UTC)))
            else:
                self.under_way[key] = batch

    def settle(self, registry: EcrRegistry) -> list[str]:
        """Ask ECR what became of the batches under way; returns what could not be checked."""
        unknown = []
        for batch in list(self.under_way.values()):
            digests = [decision.image.digest for decision in batch.done]
            try:
                now = registry.describe(batch.repository, digests)
            except RegistryError as error:
                unknown.append(f"{batch.repository}: {len(digests)} images may or may not be gone ({error})")
                continue
            acted = tuple(
                decision
                for decision in batch.done
                if took_effect(batch.action, now.get(decision.image.digest), decision.removed)
            )
            self.done.append((replace(batch, done=acted, confirmed=True), datetime.now(UTC)))
        self.under_way.clear()
        return unknown

    def write(self, out: TextIO, output_format: str, now: datetime) -> None:
        records = [batch_record(batch, at) for batch, at in self.done]
        if output_format == "json":
            document = {"now": now.isoformat(), "interrupted": True, "batches": records}
            out.write(json.dumps(document) + "\n")
            return
        out.write("Deleted, archived or untagged before the run stopped:\n")
        for record in records:
            for image in record["images"]:
                tags = ",".join(image["tags"]) or "<untagged>"
                out.write(f"  {record['action']:<8} {record['repository']}  {image['digest']}  {tags}\n")

    @property
    def count(self) -> int:
        return sum(len(batch.done) for batch, _ in self.done)


class Progress:
    """Repositories done of total, images read, deleted and time elapsed, on one line of a terminal."""

    def __init__(self, stream: TextIO, total: int, verb: str) -> None:
        self.stream = stream
        self.total = total
        self.verb = verb
        self.started = time.monotonic()
        self.done = self.images = self.deleted = 0
        self._lock = threading.Lock()

    def __call__(self, outcome: RepositoryOutcome) -> None:
        with self._lock:
            self.done += 1
            self.images += outcome.plan.images if outcome.plan is not None else 0
            self.deleted += len(outcome.deleted)
            elapsed = time.monotonic() - self.started
            self.stream.write(
                f"\r{self.verb}: {self.done}/{self.total} repositories, {self.images:,} images read, "
                f"{self.deleted:,} deleted, {elapsed:.0f} s "
            )
            self.stream.flush()

    def finish(self) -> None:
        if self.done:
            self.stream.write("\n")
            self.stream.flush()


def _run(
    args: argparse.Namespace, region: str, now: datetime, deleted: Deleted
) -> tuple[list[RepositoryOutcome], str] | None:
    """The outcomes and the report mode, or None when the user did not confirm the deletions;
    `deleted` sees every batch as it goes."""
    policy = load_policy(args.policy)
    mode = {"plan": "plan", "run": "dry-run" if args.dry_run else "run"}[args.command]
    ask = mode == "run" and not args.yes
    if ask and not sys.stdin.isatty():
        raise Refused(
            "run deletes images: pass --yes to run without confirmation, or run it in a terminal to "
            "confirm the plan"
        )
    ecr = EcrRegistry(region=region)
    usage = None
    if policy.protect.in_use:
        collector = UsageCollector(region=region)
        usage = LocalUsage(lambda: collector.scan(policy), max_age=timedelta(minutes=args.usage_max_age))
        usage.snapshot()
    repositories = selected_repositories(policy, ecr.repositories())

    def progress(verb: str) -> Progress | None:
        return Progress(sys.stderr, len(repositories), verb) if sys.stderr.isatty() else None

    if not ask:
        reporter = progress("cleaning" if mode == "run" else "planning")
        outcomes = run_cleanup(
            ecr,
            policy,
            now,
            execute=mode == "run",
            usage=usage,
            concurrency=args.concurrency,
            progress=reporter,
            repositories=repositories,
            on_batch=deleted,
        )
        if reporter is not None:
            reporter.finish()
        return outcomes, mode

    reporter = progress("planning")
    plans = plan_repositories(
        ecr,
        policy,
        now,
        usage=usage,
        concurrency=args.concurrency,
        progress=reporter,
        repositories=repositories,
    )
    if reporter is not None:
        reporter.finish()
    planned = [
        planned
        if isinstance(planned, RepositoryOutcome)
        else RepositoryOutcome(planned.plan.repository, planned.plan)
        for planned in plans
    ]
    to_delete = sum(len(outcome.plan.delete) for outcome in planned if outcome.plan is not None)
    if not to_delete:
        return planned, "plan"
    sys.stderr.write(to_table(RunReport(now=now, mode="plan", outcomes=planned)))
    reclaimed = sum(outcome.plan.bytes for outcome in planned if outcome.plan is not None)
    sys.stderr.write(
        f"\nDelete these {to_delete:,} images ({human_bytes(reclaimed)})? Deleting cannot be undone.\n"
        f"  Only '{CONFIRMATION}' will be accepted to approve.\n\n  Enter a value: "
    )
    sys.stderr.flush()
    if sys.stdin.readline().strip() != CONFIRMATION:
        sys.stderr.write("\nCancelled: nothing was deleted.\n")
        return None
    # What a person approved was read before they answered: every batch is read again before it is
    # deleted (see cleanup.RECHECK_AFTER_SECONDS).
    approved = [replace(plan, listed_at=-math.inf) if isinstance(plan, LivePlan) else plan for plan in plans]
    reporter = progress("deleting")
    outcomes = execute_plans(
        ecr,
        policy,
        approved,
        now,
        usage=usage,
        concurrency=args.concurrency,
        progress=reporter,
        on_batch=deleted,
    )
    if reporter is not None:
        reporter.finish()
    return outcomes, mode


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None) -> int:
    """Run the command line; the cyclic collector stays paused, as the data built is acyclic."""
    out = stdout or sys.stdout
    args = _parser().parse_args(argv)
    now: datetime = args.now or datetime.now(UTC)
    with paused_gc():
        return _main(args, now, out)


def _main(args: argparse.Namespace, now: datetime, out: TextIO) -> int:
    if args.command == "preview":
        return _preview(args, now, out)
    if args.command == "explain":
        return _explain(args, now, out)
    deleted = Deleted()
    output_format = args.format or ("table" if out.isatty() else "json")
    region = None
    try:
        region = resolve_region(args.region)
        done = _run(args, region, now, deleted)
    except (PolicyError, InputError, Refused) as error:
        print(f"ecr-cleanup: {error}", file=sys.stderr)
        return EXIT_INVALID
    except (KeyboardInterrupt, Exception) as error:
        if not deleted.done and not deleted.under_way:
            if isinstance(error, (RegistryError, UsageError)):
                print(f"ecr-cleanup: {error}", file=sys.stderr)
                return EXIT_AWS
            raise
        return _stopped(error, deleted, output_format, now, out, region=region)
    if done is None:
        return EXIT_OK
    outcomes, mode = done
    report = RunReport(now=now, mode=mode, outcomes=outcomes)
    try:
        write_report(report, output_format, out)
        out.flush()
    except BrokenPipeError:
        sys.stderr.close()
    failed = [outcome for outcome in outcomes if outcome.failed]
    for outcome in failed:
        problem = outcome.error or f"{len(outcome.failures)} images could not be deleted"
        print(f"ecr-cleanup: {outcome.repository}: {problem}", file=sys.stderr)
    return EXIT_AWS if failed else EXIT_OK


def _stopped(
    error: BaseException,
    deleted: Deleted,
    output_format: str,
    now: datetime,
    out: TextIO,
    *,
    region: str | None,
) -> int:
    """A run that stopped part-way: say why, and write what it deleted until then."""
    interrupted = isinstance(error, KeyboardInterrupt)
    why = "interrupted" if interrupted else f"stopped by an error: {error}"
    unknown = deleted.settle(EcrRegistry(region=region)) if deleted.under_way else []
    out.flush()
    deleted.write(out, output_format, now)
    out.flush()
    print(
        f"\necr-cleanup: {why}. {deleted.count:,} images were deleted, archived or untagged before it "
        "stopped (listed above); the rest of the plan was not carried out. Run it again to finish.",
        file=sys.stderr,
    )
    for line in unknown:
        print(f"ecr-cleanup: {line}", file=sys.stderr)
    return EXIT_INTERRUPTED if interrupted else EXIT_AWS


def _explain(args: argparse.Namespace, now: datetime, out: TextIO) -> int:
    """`explain`: the decision about one image, and what each rule says of it."""
    try:
        policy = load_policy(args.policy)
        found = [
            (repository, images, image)
            for repository, images in sorted(load_image_files(args.images).items())
            for image in images
            if (args.digest and image.digest.startswith(args.digest)) or (args.tag and args.tag in image.tags)
        ]
        if len(found) != 1:
            what = f"digest {args.digest}" if args.digest else f"tag {args.tag}"
            raise ExplainError(
                f"{what}: {'no image has it' if not found else f'{len(found)} images match it'}"
            )
    except (PolicyError, InputError, ExplainError) as error:
        print(f"ecr-cleanup: {error}", file=sys.stderr)
        return EXIT_INVALID
    repository, images, image = found[0]
    out.write("\n".join(explain(policy, repository, images, now, image)) + "\n")
    return EXIT_OK


def _preview(args: argparse.Namespace, now: datetime, out: TextIO) -> int:
    """`preview` reads, plans and writes in one pass over the files, on every core (see `write_preview`)."""
    output_format = args.format or ("table" if out.isatty() else "json")
    try:
        failures = write_preview(load_policy(args.policy), args.images, now, output_format, out)
        out.flush()
    except (PolicyError, InputError) as error:
        print(f"ecr-cleanup: {error}", file=sys.stderr)
        return EXIT_INVALID
    except BrokenPipeError:
        sys.stderr.close()
        return EXIT_OK
    for repository, problem in failures:
        print(f"ecr-cleanup: {repository}: {problem}", file=sys.stderr)
    return EXIT_AWS if failures else EXIT_OK
