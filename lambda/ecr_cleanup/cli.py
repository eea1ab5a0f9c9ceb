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
import re
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any, TextIO

import boto3

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
from .doctor import checks
from .ecr import EcrRegistry, client_config, resolve_region
from .explain import ExplainError, explain
from .html import from_report, render_text
from .inventory import InputError, load_image_files, parse_time, paused_gc, read_json
from .lifecycle import LifecycleError, NativeRule, import_policies, parse_lifecycle_policy, to_hcl
from .money import DEFAULT_PRICES, Prices
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


def _price(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < 1000:
        raise argparse.ArgumentTypeError(
            f"must be a price in dollars per GB-month from 0, such as 0.10, got {text!r}"
        )
    return value


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

    def command(
        name: str, help_text: str, formats: tuple[str, ...] = ("table", "json")
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--policy", required=True, type=Path, help="the JSON policy document")
        sub.add_argument(
            "--now",
            type=_instant,
            help="the instant ages are measured from (ISO 8601); default: the current time",
        )
        sub.add_argument(
            "--format",
            choices=formats,
            help="output format; default: table on a terminal, json otherwise"
            + ("; html: one self-contained page" if "html" in formats else ""),
        )
        sub.add_argument(
            "--storage-price",
            type=_price,
            default=DEFAULT_PRICES.storage,
            metavar="USD",
            help="ECR standard storage price per GB-month, for the savings "
            f"(default {DEFAULT_PRICES.storage:.2f})",
        )
        sub.add_argument(
            "--archive-price",
            type=_price,
            default=DEFAULT_PRICES.archive,
            metavar="USD",
            help=f"ECR archive storage price per GB-month (default {DEFAULT_PRICES.archive:.2f}: the same as "
            "standard storage below 150 TB a month, so archiving saves nothing)",
        )
        return sub

    def live(sub: argparse.ArgumentParser) -> None:
        sub.epilog = PULL_TIMES_NOTE
        sub.add_argument(
            "--region",
            action="append",
            metavar="REGION",
            help="AWS region (repeat to clean several); default: AWS_REGION, then AWS_DEFAULT_REGION, "
            "then the profile's region",
        )
        sub.add_argument(
            "--regions",
            metavar="A,B",
            help="the regions whose registries to clean, separated by commas (instead of --region)",
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
    imports = commands.add_parser(
        "import-lifecycle",
        help="Translate ECR lifecycle policies into a policy document that expires and archives the same.",
        description="Read ECR lifecycle policies (live, or saved `aws ecr get-lifecycle-policy` output) and "
        'print one policy document (rule_order "priority") that expires and archives exactly what ECR '
        "would, before this engine's protections.",
    )
    imports.add_argument(
        "--repository",
        action="append",
        metavar="NAME",
        help="a repository to import (repeat for more); live: default every repository of the registry; "
        "with one --file holding a bare lifecycle policy: the repository it belongs to",
    )
    imports.add_argument(
        "--file",
        action="append",
        type=Path,
        metavar="FILE",
        help="`aws ecr get-lifecycle-policy` output (repeat for more), instead of reading ECR",
    )
    imports.add_argument("--region", help="AWS region, live (default: as for plan)")
    imports.add_argument(
        "--format", choices=("json", "hcl"), default="json", help="a JSON document or an HCL value"
    )
    doctor = command(
        "doctor", "Check a set-up before a run: what fails only at run time, and native lifecycle conflicts."
    )
    live(doctor)
    doctor.add_argument(
        "--lambda-role-arn",
        metavar="ARN",
        help="the module's lambda_role_arn: checks its pull-time exclusion",
    )
    doctor.add_argument(
        "--report-bucket", metavar="BUCKET", help="the module's bucket_name: checks it can be written"
    )
    doctor.add_argument(
        "--report-prefix", default="ecr-cleanup/", metavar="PREFIX", help="the module's report_prefix"
    )
    plan = command(
        "plan", "Read live ECR and show what a run would delete; deletes nothing.", ("table", "json", "html")
    )
    live(plan)
    plan.set_defaults(dry_run=True, yes=True)
    run = command(
        "run",
        "Read live ECR, show the plan, and delete what the policy selects once you confirm.",
        ("table", "json", "html"),
    )
    live(run)
    run.add_argument("--dry-run", action="store_true", help="plan and report, but call no delete API")
    run.add_argument("--yes", action="store_true", help="delete without asking for confirmation")
    return parser


class Deleted:
    """What a run deleted, archived or untagged, batch by batch, as the registry confirmed it
    (thread-safe): the partial report of a run that is interrupted or fails part-way."""

    def __init__(self) -> None:
        self.done: list[tuple[BatchDone, datetime, str]] = []
        self.under_way: dict[tuple[str, str, int], BatchDone] = {}
        self._lock = threading.Lock()

    def in_region(self, region: str) -> Callable[[BatchDone], None]:
        """What records the batches of one region's registry."""

        def record(batch: BatchDone) -> None:
            key = (region, batch.repository, threading.get_ident())
            with self._lock:
                if batch.confirmed:
                    self.under_way.pop(key, None)
                    self.done.append((batch, datetime.now(UTC), region))
                else:
                    self.under_way[key] = batch

        return record

    def settle(self, registries: Mapping[str, EcrRegistry]) -> list[str]:
        """Ask ECR what became of the batches under way; returns what could not be checked."""
        unknown = []
        for (region, _, _), batch in list(self.under_way.items()):
            digests = [decision.image.digest for decision in batch.done]
            try:
                now = registries[region].describe(batch.repository, digests)
            except RegistryError as error:
                unknown.append(f"{batch.repository}: {len(digests)} images may or may not be gone ({error})")
                continue
            acted = tuple(
                decision
                for decision in batch.done
                if took_effect(batch.action, now.get(decision.image.digest), decision.removed)
            )
            self.done.append((replace(batch, done=acted, confirmed=True), datetime.now(UTC), region))
        self.under_way.clear()
        return unknown

    def write(self, out: TextIO, output_format: str, now: datetime) -> None:
        records = [{**batch_record(batch, at), "region": region} for batch, at, region in self.done]
        if output_format == "json":
            document = {"now": now.isoformat(), "interrupted": True, "batches": records}
            out.write(json.dumps(document) + "\n")
            return
        lines = ["Deleted, archived or untagged before the run stopped:\n"]
        for record in records:
            for image in record["images"]:
                tags = ",".join(image["tags"]) or "<untagged>"
                lines.append(f"  {record['action']:<8} {record['repository']}  {image['digest']}  {tags}\n")
        text = "".join(lines)
        out.write(render_text("ECR cleanup run interrupted", text) if output_format == "html" else text)

    @property
    def count(self) -> int:
        return sum(len(batch.done) for batch, _, _ in self.done)


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
    args: argparse.Namespace, regions: Sequence[str], now: datetime, deleted: Deleted
) -> tuple[list[RepositoryOutcome], str] | None:
    """The outcomes and the report mode, or None when the user did not confirm the deletions;
    `deleted` sees every batch as it goes. The regions are cleaned one after the other, from one
    reading of the images in use in all of them."""
    policy = load_policy(args.policy)
    mode = {"plan": "plan", "run": "dry-run" if args.dry_run else "run"}[args.command]
    ask = mode == "run" and not args.yes
    if ask and not sys.stdin.isatty():
        raise Refused(
            "run deletes images: pass --yes to run without confirmation, or run it in a terminal to "
            "confirm the plan"
        )
    registries = {region: EcrRegistry(region=region) for region in regions}
    usage = None
    if policy.protect.in_use:
        collector = UsageCollector(region=regions[0])
        usage = LocalUsage(
            lambda: collector.scan(policy, regions=regions), max_age=timedelta(minutes=args.usage_max_age)
        )
        usage.snapshot()
    repositories = {
        region: selected_repositories(policy, registry.repositories())
        for region, registry in registries.items()
    }
    total = sum(len(names) for names in repositories.values())

    def progress(verb: str) -> Progress | None:
        return Progress(sys.stderr, total, verb) if sys.stderr.isatty() else None

    if not ask:
        reporter = progress("cleaning" if mode == "run" else "planning")
        outcomes = [
            outcome
            for region, registry in registries.items()
            for outcome in run_cleanup(
                registry,
                policy,
                now,
                execute=mode == "run",
                usage=usage,
                concurrency=args.concurrency,
                progress=reporter,
                repositories=repositories[region],
                on_batch=deleted.in_region(region),
                region=region,
            )
        ]
        if reporter is not None:
            reporter.finish()
        return outcomes, mode

    reporter = progress("planning")
    plans = [
        plan
        for region, registry in registries.items()
        for plan in plan_repositories(
            registry,
            policy,
            now,
            usage=usage,
            concurrency=args.concurrency,
            progress=reporter,
            repositories=repositories[region],
            region=region,
        )
    ]
    if reporter is not None:
        reporter.finish()
    planned = [
        planned
        if isinstance(planned, RepositoryOutcome)
        else RepositoryOutcome(planned.plan.repository, planned.plan, region=planned.region)
        for planned in plans
    ]
    acting = [decision for outcome in planned if outcome.plan is not None for decision in outcome.plan.acting]
    if not acting:
        return planned, "plan"
    sys.stderr.write(to_table(RunReport(now=now, mode="plan", outcomes=planned, prices=_prices(args))))
    to_delete = sum(len(outcome.plan.delete) for outcome in planned if outcome.plan is not None)
    reclaimed = sum(outcome.plan.bytes for outcome in planned if outcome.plan is not None)
    others = len(acting) - to_delete
    also = f" and archive or untag {others:,} more" if others else ""
    sys.stderr.write(
        f"\nDelete these {to_delete:,} images ({human_bytes(reclaimed)}){also}? Deleting cannot be undone.\n"
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
    outcomes = [
        outcome
        for region, registry in registries.items()
        for outcome in execute_plans(
            registry,
            policy,
            [plan for plan in approved if plan.region == region],
            now,
            usage=usage,
            concurrency=args.concurrency,
            progress=reporter,
            on_batch=deleted.in_region(region),
        )
    ]
    if reporter is not None:
        reporter.finish()
    return outcomes, mode


REGION_NAME = re.compile(r"^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$")


def _regions(args: argparse.Namespace) -> list[str]:
    """`--regions a,b`, or `--region` as often as given, or the one region of the configuration."""
    if args.regions and args.region:
        raise InputError("give the regions with --regions a,b or with --region repeated, not both")
    if args.regions:
        regions = [region.strip() for region in args.regions.split(",") if region.strip()]
    elif args.region:
        regions = list(args.region)
    else:
        return [resolve_region(None)]
    for region in regions:
        if not REGION_NAME.match(region):
            raise InputError(f"{region!r} is not a region name (such as eu-west-1)")
    return list(dict.fromkeys(regions))


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None) -> int:
    """Run the command line; the cyclic collector stays paused, as the data built is acyclic."""
    out = stdout or sys.stdout
    args = _parser().parse_args(argv)
    now: datetime = getattr(args, "now", None) or datetime.now(UTC)
    with paused_gc():
        return _main(args, now, out)


def _main(args: argparse.Namespace, now: datetime, out: TextIO) -> int:
    if args.command == "preview":
        return _preview(args, now, out)
    if args.command == "explain":
        return _explain(args, now, out)
    if args.command == "import-lifecycle":
        return _import_lifecycle(args, out)
    if args.command == "doctor":
        return _doctor(args, now, out)
    deleted = Deleted()
    output_format = args.format or ("table" if out.isatty() else "json")
    regions: list[str] = []
    try:
        regions = _regions(args)
        done = _run(args, regions, now, deleted)
    except (PolicyError, InputError, Refused) as error:
        print(f"ecr-cleanup: {error}", file=sys.stderr)
        return EXIT_INVALID
    except (KeyboardInterrupt, Exception) as error:
        if not deleted.done and not deleted.under_way:
            if isinstance(error, (RegistryError, UsageError)):
                print(f"ecr-cleanup: {error}", file=sys.stderr)
                return EXIT_AWS
            raise
        return _stopped(error, deleted, output_format, now, out, regions=regions)
    if done is None:
        return EXIT_OK
    outcomes, mode = done
    report = RunReport(now=now, mode=mode, outcomes=outcomes, prices=_prices(args))
    try:
        if output_format == "html":
            out.write(from_report(report))
        else:
            write_report(report, output_format, out)
        out.flush()
    except BrokenPipeError:
        sys.stderr.close()
    failed = [outcome for outcome in outcomes if outcome.failed]
    for outcome in failed:
        problem = outcome.error or f"{len(outcome.failures)} images could not be deleted"
        where = f" ({outcome.region})" if len(regions) > 1 else ""
        print(f"ecr-cleanup: {outcome.repository}{where}: {problem}", file=sys.stderr)
    return EXIT_AWS if failed else EXIT_OK


def _stopped(
    error: BaseException,
    deleted: Deleted,
    output_format: str,
    now: datetime,
    out: TextIO,
    *,
    regions: Sequence[str],
) -> int:
    """A run that stopped part-way: say why, and write what it deleted until then."""
    interrupted = isinstance(error, KeyboardInterrupt)
    why = "interrupted" if interrupted else f"stopped by an error: {error}"
    registries = {region: EcrRegistry(region=region) for region in regions}
    unknown = deleted.settle(registries) if deleted.under_way else []
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


def _doctor(args: argparse.Namespace, now: datetime, out: TextIO) -> int:
    """`doctor`: one line per check, exit 0 only when none failed."""
    try:
        policy = load_policy(args.policy)
        regions = _regions(args)
    except (PolicyError, InputError) as error:
        print(f"ecr-cleanup: {error}", file=sys.stderr)
        return EXIT_INVALID

    def clients(service: str, region: str | None = None) -> Any:
        return boto3.client(service, region_name=region or regions[0], config=client_config())

    failed = 0
    out.write(f"✓ policy {args.policy}: valid\n")
    for check in checks(
        policy,
        regions,
        clients=clients,
        now=now,
        role_arn=args.lambda_role_arn,
        bucket=args.report_bucket,
        prefix=args.report_prefix,
        concurrency=args.concurrency,
    ):
        out.write(check.line() + "\n")
        out.flush()
        failed += check.ok is False
    out.write(f"{failed} checks failed\n" if failed else "every check passed\n")
    return EXIT_AWS if failed else EXIT_OK


def _import_lifecycle(args: argparse.Namespace, out: TextIO) -> int:
    """`import-lifecycle`: every lifecycle policy read, translated into one policy document; the
    repositories whose policy cannot be expressed exactly on stderr, with the reason."""
    try:
        texts = _lifecycle_texts(args)
    except (InputError, RegistryError) as error:
        print(f"ecr-cleanup: {error}", file=sys.stderr)
        return EXIT_INVALID if isinstance(error, InputError) else EXIT_AWS
    imported: dict[str, list[NativeRule]] = {}
    refused = 0
    for repository, text in sorted(texts.items()):
        try:
            imported[repository] = parse_lifecycle_policy(text)
        except LifecycleError as error:
            refused += 1
            print(f"ecr-cleanup: {repository}: not imported: {error}", file=sys.stderr)
    if not imported:
        print("ecr-cleanup: no lifecycle policy was imported", file=sys.stderr)
        return EXIT_AWS
    document = import_policies(imported)
    parse_policy(document)
    out.write(to_hcl(document) + "\n" if args.format == "hcl" else json.dumps(document, indent=2) + "\n")
    return EXIT_AWS if refused else EXIT_OK


def _lifecycle_texts(args: argparse.Namespace) -> dict[str, str]:
    """Repository -> lifecycle policy text, from the files given or from ECR."""
    if args.file:
        texts: dict[str, str] = {}
        for path in args.file:
            document = read_json(path)
            if isinstance(document, dict) and "lifecyclePolicyText" in document:
                name = document.get("repositoryName")
                if not isinstance(name, str) or not name:
                    raise InputError(f"{path}: repositoryName: required beside lifecyclePolicyText")
                texts[name] = str(document["lifecyclePolicyText"])
            elif len(args.file) == 1 and args.repository and len(args.repository) == 1:
                texts[args.repository[0]] = json.dumps(document)
            else:
                raise InputError(
                    f"{path}: not `aws ecr get-lifecycle-policy` output; a bare lifecycle policy needs "
                    "--repository NAME (one file, one repository)"
                )
        return texts
    registry = EcrRegistry(region=resolve_region(args.region))
    names = args.repository or list(registry.repositories())
    found = {name: registry.lifecycle_policy(name) for name in names}
    without = sorted(name for name, text in found.items() if text is None)
    if without:
        print(f"ecr-cleanup: no lifecycle policy: {', '.join(without)}", file=sys.stderr)
    return {name: text for name, text in found.items() if text is not None}


def _prices(args: argparse.Namespace) -> Prices:
    return Prices(storage=args.storage_price, archive=args.archive_price)


def _preview(args: argparse.Namespace, now: datetime, out: TextIO) -> int:
    """`preview` reads, plans and writes in one pass over the files, on every core (see `write_preview`)."""
    output_format = args.format or ("table" if out.isatty() else "json")
    try:
        failures = write_preview(
            load_policy(args.policy), args.images, now, output_format, out, prices=_prices(args)
        )
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
