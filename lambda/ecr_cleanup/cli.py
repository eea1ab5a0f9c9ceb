"""`ecr-cleanup`: preview a policy offline, plan it against live ECR, or run it.

Exit status: 0 success, 1 an AWS failure (including images that could not be deleted),
2 an invalid policy or input (the message goes to stderr and nothing is touched).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from .cleanup import InMemoryRegistry, InUse, Registry, RegistryError, RepositoryOutcome, run_cleanup
from .ecr import EcrRegistry
from .inventory import InputError, load_image_files, parse_time, paused_gc, read_json
from .policy import Policy, PolicyError, parse_policy
from .preview import write_preview
from .report import RunReport, write_report
from .usage import UsageError, in_use_checker

__all__ = ["EXIT_AWS", "EXIT_INVALID", "EXIT_OK", "load_policy", "main"]

EXIT_OK = 0
EXIT_AWS = 1
EXIT_INVALID = 2


def load_policy(path: Path | str) -> Policy:
    """Read and validate a JSON policy file; problems raise `PolicyError` or `InputError`."""
    return parse_policy(read_json(path))


def _instant(text: str) -> datetime:
    try:
        return parse_time(text, "--now")
    except InputError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ecr-cleanup",
        description="Delete the ECR images a policy no longer needs; preview and plan before you run.",
    )
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

    preview = command("preview", "Evaluate a policy offline against saved `aws ecr describe-images` output.")
    preview.add_argument(
        "--images",
        required=True,
        action="append",
        type=Path,
        metavar="FILE",
        help="output of `aws ecr describe-images` (repeat for more repositories or pages)",
    )
    plan = command("plan", "Read live ECR and show what a run would delete; deletes nothing.")
    plan.add_argument("--region", help="AWS region; default: boto3's configuration")
    plan.set_defaults(dry_run=True)
    run = command("run", "Read live ECR and delete what the policy selects.")
    run.add_argument("--region", help="AWS region; default: boto3's configuration")
    run.add_argument("--dry-run", action="store_true", help="plan and report, but call no delete API")
    return parser


def _run(args: argparse.Namespace, now: datetime) -> tuple[list[RepositoryOutcome], str]:
    policy = load_policy(args.policy)
    registry: Registry
    in_use: InUse | None = None
    if args.command == "preview":
        registry = InMemoryRegistry(load_image_files(args.images))
        mode = "preview"
    else:
        registry = EcrRegistry(region=args.region)
        mode = {"plan": "plan", "run": "dry-run" if args.dry_run else "run"}[args.command]
        in_use = in_use_checker(policy, region=args.region)
    outcomes = run_cleanup(registry, policy, now, execute=mode == "run", in_use=in_use)
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
    try:
        outcomes, mode = _run(args, now)
    except (PolicyError, InputError) as error:
        print(f"ecr-cleanup: {error}", file=sys.stderr)
        return EXIT_INVALID
    except (RegistryError, UsageError) as error:
        print(f"ecr-cleanup: {error}", file=sys.stderr)
        return EXIT_AWS

    report = RunReport(now=now, mode=mode, outcomes=outcomes)
    output_format = args.format or ("table" if out.isatty() else "json")
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
