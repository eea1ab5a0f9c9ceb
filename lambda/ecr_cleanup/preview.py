"""The offline preview on every core: saved describe-images files in, the report's text out.

Reading, planning and rendering one repository needs nothing from the others, so the files are cut
into contiguous shares of about the same size, one per core, and each share goes to a worker
process. A worker reads its files, plans and renders every selected repository they hold, writes
the texts to a spool file and hands back only each repository's name, counts and place in that
file; this process merges them in name order and writes the report. A repository whose images are
spread over files of two shares is planned once more here, from every file that names it, so no
share's part of it is used. A small input is planned here, in one share.

The text is what `report.write_report` writes for `run_cleanup` over `load_image_files` of the
same files.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from multiprocessing.connection import Connection
from multiprocessing.context import DefaultContext, ForkContext
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import BinaryIO, NamedTuple, TextIO

from .cleanup import InMemoryRegistry, clean_repository, selected_repositories
from .inventory import InputError, read_image_file
from .money import DEFAULT_PRICES, Prices
from .plan import Image
from .policy import Policy
from .report import report_text, repository_counts, repository_text, summary_of

__all__ = ["MIN_SHARE_BYTES", "write_preview"]

MODE = "preview"
#: Below this much input per process, starting a process costs more than it saves.
MIN_SHARE_BYTES = 16 * 1024**2

ImageFile = Path | str


class _Spooled(NamedTuple):
    """Where a worker process wrote a repository's text: a range of bytes of its spool file."""

    path: str
    offset: int
    length: int


class _RepositoryText(NamedTuple):
    """One planned repository as a share hands it back: its part of the report and of the summary."""

    name: str
    text: str | _Spooled
    counts: tuple[int, ...]
    problem: str | None


class _ShareResult(NamedTuple):
    """What a share planned, and, for each file it read, the repositories the file names.

    The first file that cannot be read stops the share: `error` says why.
    """

    repositories: list[_RepositoryText]
    names: list[set[str]]
    error: str | None


def write_preview(
    policy: Policy,
    image_files: Sequence[ImageFile],
    now: datetime,
    output_format: str,
    out: TextIO,
    *,
    processes: int | None = None,
    prices: Prices = DEFAULT_PRICES,
) -> list[tuple[str, str]]:
    """Plan every selected repository of the saved files and write the report to `out`.

    Returns the repositories that failed, with why. `processes` defaults to one per core, fewer for a
    small input. A file that cannot be read raises `InputError` before anything is written, naming
    the first such file in the order given, as `load_image_files` does.
    """
    shares = _shares(image_files, processes)
    spool_folder: AbstractContextManager[str | None] = (
        tempfile.TemporaryDirectory(prefix="ecr-cleanup-preview-") if len(shares) > 1 else nullcontext()
    )
    with spool_folder as folder:
        results = _plan_shares(policy, shares, now, output_format, folder)
        for result in results:
            if result.error is not None:
                raise InputError(result.error)
        planned = _whole_repositories(policy, shares, results, now, output_format)
        ordered = [planned[name] for name in sorted(planned)]
        summary = summary_of((repository.counts for repository in ordered), executed=False)
        out.writelines(report_text(output_format, now, MODE, _texts(ordered), summary, prices=prices))
    return [(repository.name, repository.problem) for repository in ordered if repository.problem]


def _texts(repositories: list[_RepositoryText]) -> Iterator[str]:
    for repository in repositories:
        text = repository.text
        if isinstance(text, str):
            yield text
        else:
            with open(text.path, "rb") as spool:
                spool.seek(text.offset)
                yield spool.read(text.length).decode("utf-8", "surrogatepass")


def _whole_repositories(
    policy: Policy,
    shares: list[list[ImageFile]],
    results: list[_ShareResult],
    now: datetime,
    output_format: str,
) -> dict[str, _RepositoryText]:
    """Each share's repositories by name; those spread over several shares planned again, whole."""
    share_of: dict[str, int] = {}
    spread: set[str] = set()
    for index, result in enumerate(results):
        for names in result.names:
            for name in names:
                if share_of.setdefault(name, index) != index:
                    spread.add(name)
    planned = {
        repository.name: repository
        for result in results
        for repository in result.repositories
        if repository.name not in spread
    }
    if spread:
        files = [
            path
            for share, result in zip(shares, results, strict=True)
            for path, names in zip(share, result.names, strict=True)
            if not spread.isdisjoint(names)
        ]
        again = _plan_share(policy, files, now, output_format, only=spread)
        if again.error is not None:
            raise InputError(again.error)
        planned.update((repository.name, repository) for repository in again.repositories)
    return planned


def _plan_shares(
    policy: Policy, shares: list[list[ImageFile]], now: datetime, output_format: str, folder: str | None
) -> list[_ShareResult]:
    """Each share's result, in order, up to the first share that could not read a file.

    A single share is planned here. Several are planned by one worker process each, which spools its
    texts in `folder`.
    """
    if folder is None:
        return [_plan_share(policy, share, now, output_format) for share in shares]
    context = _process_context()
    workers: list[tuple[BaseProcess, Connection]] = []
    try:
        for index, share in enumerate(shares):
            receiver, sender = context.Pipe(duplex=False)
            spool = os.path.join(folder, str(index))
            task = _Task(policy, share, now, output_format, spool)
            process: BaseProcess = context.Process(target=_share_worker, args=(sender, task), daemon=True)
            process.start()
            sender.close()
            workers.append((process, receiver))
        results: list[_ShareResult] = []
        for worker, receiver in workers:
            results.append(_received(worker, receiver))
            if results[-1].error is not None:
                break
        return results
    finally:
        for worker, receiver in workers:
            receiver.close()
            if worker.is_alive():
                worker.terminate()
            worker.join()


class _Task(NamedTuple):
    """A share for a worker process: what to plan, and the file to spool its texts in."""

    policy: Policy
    paths: Sequence[ImageFile]
    now: datetime
    output_format: str
    spool: str


def _share_worker(sender: Connection, task: _Task) -> None:
    """Plan one share in a worker process, send back the result (or the exception), and end at once.

    The process ends with `os._exit`: the millions of objects it read are not taken apart one by
    one by the interpreter's teardown; the operating system reclaims the memory whole.
    """
    status = 0
    try:
        repositories, names, error = _read(task.paths)
        planned = (
            []
            if error is not None
            else _render(task.policy, repositories, task.now, task.output_format, spool=task.spool)
        )
        sender.send(_ShareResult(planned, names, error))
    except BaseException as problem:
        status = 1
        sender.send(problem)
    os._exit(status)


def _received(worker: BaseProcess, receiver: Connection) -> _ShareResult:
    try:
        message = receiver.recv()
    except EOFError:
        worker.join()
        raise RuntimeError(
            f"a preview worker process ended unexpectedly (exit status {worker.exitcode})"
        ) from None
    if isinstance(message, BaseException):
        raise message
    assert isinstance(message, _ShareResult)
    return message


def _plan_share(
    policy: Policy,
    paths: Sequence[ImageFile],
    now: datetime,
    output_format: str,
    *,
    only: set[str] | None = None,
) -> _ShareResult:
    """Read the files, then plan and render their selected repositories (those in `only`, if given)."""
    repositories, names, error = _read(paths)
    if error is not None:
        return _ShareResult([], names, error)
    return _ShareResult(_render(policy, repositories, now, output_format, only=only), names, None)


def _read(paths: Sequence[ImageFile]) -> tuple[dict[str, dict[str, Image]], list[set[str]], str | None]:
    """The images of the files by repository, the repositories each file names, and why the first
    file that could not be read could not (the files after it are not read)."""
    repositories: dict[str, dict[str, Image]] = {}
    names: list[set[str]] = []
    try:
        for path in paths:
            names.append(read_image_file(path, repositories))
    except InputError as error:
        return repositories, names, str(error)
    return repositories, names, None


def _render(
    policy: Policy,
    repositories: dict[str, dict[str, Image]],
    now: datetime,
    output_format: str,
    *,
    only: set[str] | None = None,
    spool: str | None = None,
) -> list[_RepositoryText]:
    """Plan and render each selected repository (of `only`, if given); with `spool`, the texts are
    written to that file instead of being handed back."""
    planned = []
    with open(spool, "wb") if spool is not None else nullcontext() as spool_file:
        for name in selected_repositories(policy, repositories if only is None else only):
            images = list(repositories[name].values())
            outcome = clean_repository(InMemoryRegistry({name: images}), policy, name, now, execute=False)
            text = repository_text(outcome, output_format, now, MODE)
            planned.append(
                _RepositoryText(
                    name,
                    text if spool_file is None else _spool(text, spool_file),
                    repository_counts(outcome, executed=False),
                    outcome.error if outcome.failed else None,
                )
            )
    return planned


def _spool(text: str, file: BinaryIO) -> _Spooled:
    data = text.encode("utf-8", "surrogatepass")
    spooled = _Spooled(file.name, file.tell(), len(data))
    file.write(data)
    return spooled


def _shares(paths: Sequence[ImageFile], processes: int | None) -> list[list[ImageFile]]:
    """The files cut, in order, into at most `processes` runs of about the same number of bytes."""
    sizes = [_size(path) for path in paths]
    total = sum(sizes)
    if processes is None:
        processes = min(_cores(), total // MIN_SHARE_BYTES)
    count = max(1, min(processes, len(paths)))
    shares: list[list[ImageFile]] = [[] for _ in range(count)]
    before = 0
    for index, (path, size) in enumerate(zip(paths, sizes, strict=True)):
        middle = (before + size / 2) / total if total else (index + 0.5) / len(paths)
        shares[min(count - 1, int(middle * count))].append(path)
        before += size
    return [share for share in shares if share]


def _size(path: ImageFile) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _process_context() -> DefaultContext | ForkContext:
    """Fork where it is safe and cheap (Linux): the workers start without importing anything again."""
    if sys.platform == "linux":
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()
