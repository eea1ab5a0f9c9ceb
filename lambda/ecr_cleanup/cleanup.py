"""Cleaning repositories: read a registry, plan every selected repository, delete what the plan says.

The registry and the images in use are protocols, so this module stays free of boto3: `ecr.EcrRegistry`
reads and deletes in Amazon ECR, `InMemoryRegistry` serves saved `describe-images` files for an
offline preview; `usage` provides the snapshots of images in use.

A repository is cleaned in two steps, `plan_live` then `execute_plan`, so that a caller can show every
plan and ask before anything is deleted. `execute_plan` deletes in batches and, before each batch:
- stops when the caller says so, reporting the work left: `stop` (a Lambda function about to run out
  of time) lets each call make at least one batch, `cancelled` (a Ctrl-C, another worker's error) is
  final and is asked again right before each batch is sent;
- re-plans from what the registry holds now when the snapshot of images in use the plan relied on has
  expired, deleting only what the first plan also deleted;
- re-reads the images of the batch when what the plan saw is older than `RECHECK_AFTER_SECONDS`, by
  re-listing the repository when that takes fewer calls than describing the remaining batches, and
  skips an image whose tags changed since it was planned, with everything that belongs to it.
Around each batch it hands the caller a `BatchDone` twice: before the call to the registry, with
what the batch is about to delete or archive (`confirmed` False), and after, with what the registry
confirmed; so that what was deleted is on record even if the process never returns (a Lambda
function that runs out of time between the registry's answer and the next line, a Ctrl-C).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol, TypeVar

from .plan import ARCHIVED, INDEX_MEDIA_TYPES, Action, Decision, Image, RepositoryPlan, plan_repository
from .policy import Policy

__all__ = [
    "DELETE_BATCH_SIZE",
    "LISTING_PAGE_SIZE",
    "RECHECK_AFTER_SECONDS",
    "BatchDone",
    "Cancellation",
    "DeleteFailure",
    "DeleteResult",
    "InMemoryRegistry",
    "LivePlan",
    "OnBatch",
    "Registry",
    "RegistryError",
    "RepositoryOutcome",
    "UsageSnapshot",
    "UsageSource",
    "clean_repository",
    "execute_plan",
    "execute_plans",
    "in_parallel",
    "plan_live",
    "plan_repositories",
    "run_cleanup",
    "selected_repositories",
    "took_effect",
]

DELETE_BATCH_SIZE = 100
"""BatchDeleteImage and DescribeImages take at most 100 image ids."""
LISTING_PAGE_SIZE = 1000
"""DescribeImages returns at most 1000 images per page."""
RECHECK_AFTER_SECONDS = 5.0
"""A batch is deleted only if the registry was read at most this long before; otherwise it is re-read."""
NOT_APPROVED = "kept: not in the plan approved for this run"


class Cancellation(threading.Event):
    """Set once a run of several repositories must stop: a Ctrl-C in the waiting thread, or an error
    in any worker. Every worker asks it before each batch and right before sending it."""


class RegistryError(Exception):
    """Reading or deleting in the registry failed for a whole repository (or the whole listing)."""


@dataclass(frozen=True)
class DeleteFailure:
    digest: str
    code: str
    message: str


@dataclass(frozen=True)
class DeleteResult:
    """`deleted` holds every digest that is gone, including those that were already gone."""

    deleted: tuple[str, ...]
    failures: tuple[DeleteFailure, ...] = ()


class Registry(Protocol):
    """A registry of one region. `identity` is its host (`<account>.dkr.ecr.<region>.amazonaws.com`)
    once known, so that an image reference that names another registry protects nothing here; None
    when unknown (every reference then counts, the safe reading)."""

    @property
    def identity(self) -> str | None: ...

    def repositories(self) -> Iterable[str]: ...

    def images(self, repository: str) -> list[Image]: ...

    def manifests(self, repository: str, digests: Sequence[str]) -> dict[str, list[str]]: ...

    def describe(self, repository: str, digests: Sequence[str]) -> dict[str, Image]: ...

    def delete(self, repository: str, digests: Sequence[str]) -> DeleteResult: ...

    def archive(self, repository: str, digests: Sequence[str]) -> DeleteResult:
        """Move images to the archive storage class; `deleted` of the result holds the archived ones."""
        ...

    def untag(self, repository: str, removals: Sequence[tuple[str, Sequence[str]]]) -> DeleteResult:
        """Remove tags from images, (digest, tags) each; `deleted` of the result holds the digests that
        lost every tag asked. Each tag must be one the image has at least one more than."""
        ...


class UsageSnapshot(Protocol):
    """The images in use as read at one moment, valid for a bounded time."""

    def in_use(
        self, repository: str, images: Sequence[Image], registry: str | None = None
    ) -> Mapping[str, str]:
        """Digest -> reason for the images of `repository` (of the registry whose host is `registry`,
        or of any when None) that run somewhere."""
        ...

    def expired(self) -> bool:
        """Whether the snapshot is older than its bound: a deletion may no longer rely on it."""
        ...


class UsageSource(Protocol):
    def snapshot(self) -> UsageSnapshot:
        """A snapshot that has not expired (read again, or taken from another reader, when needed)."""
        ...


@dataclass(frozen=True)
class BatchDone:
    """One batch in a repository: before the registry is called (`confirmed` False), the decisions of
    the images it is about to delete or archive; after, those of the images it deleted (or found
    already gone) or archived, with the failures. `images` is the number of images the plan saw.
    """

    repository: str
    action: Action
    done: tuple[Decision, ...]
    failures: tuple[DeleteFailure, ...]
    images: int
    confirmed: bool = True


OnBatch = Callable[[BatchDone], None]


def took_effect(action: Action, image_now: Image | None, removed: Sequence[str] = ()) -> bool:
    """Whether a delete (the image is gone), an archive (it is archived) or an untag (it is there
    without the `removed` tags) happened, from the image as the registry describes it now (None:
    gone): how a batch whose answer was lost is settled."""
    if action is Action.DELETE:
        return image_now is None
    if action is Action.UNTAG:
        return image_now is not None and not set(removed) & set(image_now.tags)
    return image_now is not None and image_now.status == ARCHIVED


_T = TypeVar("_T")
_R = TypeVar("_R")
Clock = Callable[[], float]
Stop = Callable[[], bool]


@dataclass(frozen=True)
class RepositoryOutcome:
    """What happened in one repository: its plan, and, when the run deleted, what was deleted.

    `plan` is None when the repository could not even be read; `error` then says why. `complete` is
    False when the run stopped before the plan was carried out (see `execute_plan`); `counted` is the
    number of deletions that count against `limits.max_deletions_per_repository`.
    """

    repository: str
    plan: RepositoryPlan | None
    executed: bool = False
    deleted: tuple[str, ...] = ()
    failures: tuple[DeleteFailure, ...] = ()
    error: str | None = None
    skipped: tuple[tuple[str, str], ...] = ()
    complete: bool = True
    counted: int = 0
    archived: tuple[str, ...] = ()
    untagged: tuple[str, ...] = ()
    region: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None or bool(self.failures)

    @property
    def deleted_bytes(self) -> int:
        """The bytes of the planned images that were deleted (or found already gone)."""
        if self.plan is None:
            return 0
        deleted = set(self.deleted)
        return sum(decision.image.size for decision in self.plan.delete if decision.image.digest in deleted)

    @property
    def tags_removed(self) -> int:
        """The tags removed from the images that were untagged."""
        if self.plan is None:
            return 0
        untagged = set(self.untagged)
        return sum(len(decision.removed) for decision in self.plan.untag if decision.image.digest in untagged)

    @property
    def archived_bytes(self) -> int:
        if self.plan is None:
            return 0
        archived = set(self.archived)
        return sum(decision.image.size for decision in self.plan.archive if decision.image.digest in archived)


@dataclass(frozen=True)
class LivePlan:
    """A repository's plan with what it relied on: when the registry was read, and the usage snapshot."""

    plan: RepositoryPlan
    images: int
    listed_at: float
    usage: UsageSnapshot | None
    view: Mapping[str, Image] = field(default_factory=dict)
    region: str | None = None
    held: Mapping[str, str] | None = None


class InMemoryRegistry:
    """A registry held in memory, e.g. loaded from saved describe-images files. It cannot delete."""

    identity = None

    def __init__(self, images: Mapping[str, Sequence[Image]]) -> None:
        self._images = {name: list(found) for name, found in images.items()}

    def repositories(self) -> list[str]:
        return sorted(self._images)

    def images(self, repository: str) -> list[Image]:
        return list(self._images.get(repository, ()))

    def manifests(self, repository: str, digests: Sequence[str]) -> dict[str, list[str]]:
        """Saved describe-images output holds no manifests: every index stays unread."""
        return {}

    def describe(self, repository: str, digests: Sequence[str]) -> dict[str, Image]:
        wanted = set(digests)
        return {image.digest: image for image in self._images.get(repository, ()) if image.digest in wanted}

    def delete(self, repository: str, digests: Sequence[str]) -> DeleteResult:
        raise RegistryError("an offline preview cannot delete")

    def archive(self, repository: str, digests: Sequence[str]) -> DeleteResult:
        raise RegistryError("an offline preview cannot archive")

    def untag(self, repository: str, removals: Sequence[tuple[str, Sequence[str]]]) -> DeleteResult:
        raise RegistryError("an offline preview cannot untag")


def selected_repositories(policy: Policy, names: Iterable[str]) -> list[str]:
    """The repositories a run visits, by `repositories.include`/`exclude`, sorted by name."""
    return sorted(name for name in set(names) if policy.repositories.selects(name))


def plan_live(
    registry: Registry,
    policy: Policy,
    repository: str,
    now: datetime,
    *,
    usage: UsageSource | None = None,
    counted: int = 0,
    clock: Clock = time.monotonic,
    region: str | None = None,
    held: Mapping[str, str] | None = None,
) -> LivePlan:
    """Read one repository (its images, the manifests of its image indexes) and plan it.

    `counted` deletions already made in this run (by an earlier invocation) count against
    `limits.max_deletions_per_repository`; `region` and `held` as for `plan_repository`. A registry
    failure propagates as `RegistryError`.
    """
    listed_at = clock()
    images = registry.images(repository)
    indexes = [image.digest for image in images if image.media_type in INDEX_MEDIA_TYPES]
    children = registry.manifests(repository, indexes) if indexes else {}
    snapshot = usage.snapshot() if usage is not None and policy.protect.in_use else None
    identity = getattr(registry, "identity", None)
    used = snapshot.in_use(repository, images, identity) if snapshot is not None else {}
    plan = plan_repository(
        policy,
        repository,
        images,
        now,
        children=children,
        in_use=used,
        deletions_made=counted,
        region=region,
        held=held,
    )
    view = {image.digest: image for image in images}
    return LivePlan(plan, len(images), listed_at, snapshot, view, region, held)


def execute_plan(
    registry: Registry,
    policy: Policy,
    live: LivePlan,
    now: datetime,
    *,
    execute: bool,
    usage: UsageSource | None = None,
    stop: Stop | None = None,
    cancelled: Stop | None = None,
    counted: int = 0,
    clock: Clock = time.monotonic,
    on_batch: OnBatch | None = None,
) -> RepositoryOutcome:
    """Carry out a plan (see the module's description); per-image failures are recorded.

    `stop` is asked before every batch but the first, so each call makes progress; `cancelled` before
    every batch and again right before it is sent. When either answers True the outcome is returned
    with `complete=False`. A registry failure while re-reading
    propagates as `RegistryError`.
    """
    plan = live.plan
    if plan.error is not None:
        return RepositoryOutcome(
            plan.repository, plan, executed=execute, error=plan.error, region=live.region
        )
    if not execute or not plan.acting:
        return RepositoryOutcome(plan.repository, plan, executed=execute, counted=counted, region=live.region)
    approved = {decision.image.digest: decision.action for decision in plan.acting}
    done: list[Decision] = []
    deleted: list[str] = []
    archived: list[str] = []
    untagged: list[str] = []
    failures: list[DeleteFailure] = []
    skipped: dict[str, str] = {}
    current = live
    while True:
        progress = _Deletion(registry, current, clock, on_batch)
        state = progress.run(
            stop if deleted or archived or untagged or failures or skipped else _first_batch(stop), cancelled
        )
        deleted += progress.deleted
        archived += progress.archived
        untagged += progress.untagged
        failures += progress.failures
        skipped.update(progress.skipped)
        acted = {*progress.deleted, *progress.archived, *progress.untagged}
        acting = current.plan.acting
        done += [decision for decision in acting if decision.image.digest in acted]
        counted += sum(1 for decision in acting if decision.rules and decision.image.digest in acted)
        if state != "expired":
            break
        current = plan_live(
            registry,
            policy,
            plan.repository,
            now,
            usage=usage,
            counted=counted,
            clock=clock,
            region=live.region,
            held=live.held,
        )
        current = replace(current, plan=_restricted(current.plan, approved))
        if current.plan.error is not None:
            break
    return RepositoryOutcome(
        plan.repository,
        _merged(done, current.plan),
        executed=True,
        deleted=tuple(deleted),
        failures=tuple(failures),
        error=current.plan.error,
        skipped=tuple(skipped.items()),
        complete=state == "done" or current.plan.error is not None,
        counted=counted,
        archived=tuple(archived),
        untagged=tuple(untagged),
        region=live.region,
    )


def _first_batch(stop: Stop | None) -> Stop | None:
    """`stop`, except that the first batch of a call always runs."""
    if stop is None:
        return None
    asked = [False]

    def first_then_stop() -> bool:
        if not asked[0]:
            asked[0] = True
            return False
        return stop()

    return first_then_stop


class _Deletion:
    """Deletes and archives what one plan says, batch by batch; see `execute_plan`."""

    def __init__(self, registry: Registry, live: LivePlan, clock: Clock, on_batch: OnBatch | None) -> None:
        self.registry = registry
        self.live = live
        self.clock = clock
        self.on_batch = on_batch
        self.deleted: list[str] = []
        self.archived: list[str] = []
        self.untagged: list[str] = []
        self.failures: list[DeleteFailure] = []
        self.skipped: dict[str, str] = {}
        self.view = live.view
        self.viewed_at = live.listed_at

    def run(self, stop: Stop | None, cancelled: Stop | None) -> str:
        """ "done", "stopped" (asked to stop) or "expired" (the usage snapshot expired).

        Deletions go first, then archiving, then untagging, each in the plan's order and in batches of
        100 images. An untag batch is always read again right before it is sent, however fresh the
        view: removing a tag that moved to another image could delete that image.
        `cancelled` is asked before each batch is read again and once more right before it is sent:
        a cancellation set while a batch was being checked sends nothing more.
        """
        plan = self.live.plan
        planned = {decision.image.digest: decision.image for decision in plan.acting}
        batches = [
            (action, decisions[start : start + DELETE_BATCH_SIZE])
            for action, decisions in (
                (Action.DELETE, plan.delete),
                (Action.ARCHIVE, plan.archive),
                (Action.UNTAG, plan.untag),
            )
            for start in range(0, len(decisions), DELETE_BATCH_SIZE)
        ]
        for number, (action, decisions) in enumerate(batches):
            if (cancelled is not None and cancelled()) or (stop is not None and stop()):
                return "stopped"
            if self.live.usage is not None and self.live.usage.expired():
                return "expired"
            batch = [decision.image.digest for decision in decisions]
            owners = {o for digest in batch for o in plan.belongs_to.get(digest, ()) if o in planned}
            current = self._current(
                list(dict.fromkeys([*batch, *owners])), len(batches) - number, fresh=action is Action.UNTAG
            )
            for digest in (*owners, *batch):
                if digest in current and set(current[digest].tags) != set(planned[digest].tags):
                    tags = ", ".join(current[digest].tags) or "none"
                    self.skipped.setdefault(
                        digest, f"skipped: its tags changed since it was planned (now: {tags})"
                    )
            safe = []
            gone: list[str] = []
            for digest in batch:
                blocker = next((o for o in plan.belongs_to.get(digest, ()) if o in self.skipped), None)
                if digest in self.skipped:
                    continue
                if blocker is not None:
                    self.skipped[digest] = f"skipped: it belongs to {blocker[:19]}, which was skipped"
                elif digest not in current:
                    if action is Action.DELETE:
                        gone.append(digest)
                    else:
                        self.skipped[digest] = "skipped: it is gone since it was planned"
                else:
                    safe.append(digest)
            result = DeleteResult(tuple(gone))
            if safe and cancelled is not None and cancelled():
                return "stopped"
            if safe and self.on_batch is not None:
                about = set(safe)
                chosen = tuple(decision for decision in decisions if decision.image.digest in about)
                self.on_batch(
                    BatchDone(plan.repository, action, chosen, (), self.live.images, confirmed=False)
                )
            if safe and action is Action.DELETE:
                answer = self.registry.delete(plan.repository, safe)
                result = DeleteResult((*gone, *answer.deleted), answer.failures)
            elif safe and action is Action.ARCHIVE:
                result = self.registry.archive(plan.repository, safe)
            elif safe:
                removing = {decision.image.digest: decision.removed for decision in decisions}
                result = self.registry.untag(plan.repository, [(digest, removing[digest]) for digest in safe])
            {Action.DELETE: self.deleted, Action.ARCHIVE: self.archived, Action.UNTAG: self.untagged}[
                action
            ].extend(result.deleted)
            self.failures.extend(result.failures)
            if self.on_batch is not None and (result.deleted or result.failures):
                acted = set(result.deleted)
                self.on_batch(
                    BatchDone(
                        plan.repository,
                        action,
                        tuple(decision for decision in decisions if decision.image.digest in acted),
                        result.failures,
                        self.live.images,
                    )
                )
        return "done"

    def _current(self, digests: list[str], batches_left: int, *, fresh: bool = False) -> Mapping[str, Image]:
        """The images of `digests` as the registry holds them, read again if the view is too old (or
        always, when `fresh`)."""
        if fresh:
            return self.registry.describe(self.live.plan.repository, digests)
        if self.clock() - self.viewed_at > RECHECK_AFTER_SECONDS:
            if math.ceil(self.live.images / LISTING_PAGE_SIZE) <= batches_left:
                self.viewed_at = self.clock()
                self.view = {image.digest: image for image in self.registry.images(self.live.plan.repository)}
            else:
                return self.registry.describe(self.live.plan.repository, digests)
        return {digest: self.view[digest] for digest in digests if digest in self.view}


def _restricted(plan: RepositoryPlan, approved: Mapping[str, Action]) -> RepositoryPlan:
    """`plan` doing only what was `approved` to each image; everything else it would do is kept."""
    acting = plan.acting
    allowed = [decision for decision in acting if approved.get(decision.image.digest) is decision.action]
    if len(allowed) == len(acting):
        return plan
    refused = tuple(
        Decision(decision.image, Action.KEEP, NOT_APPROVED, decision.rules)
        for decision in acting
        if approved.get(decision.image.digest) is not decision.action
    )
    return replace(
        plan,
        delete=tuple(decision for decision in allowed if decision.action is Action.DELETE),
        archive=tuple(decision for decision in allowed if decision.action is Action.ARCHIVE),
        untag=tuple(decision for decision in allowed if decision.action is Action.UNTAG),
        keep=plan.keep + refused,
    )


def _merged(done: list[Decision], plan: RepositoryPlan) -> RepositoryPlan:
    """The last plan, with what earlier rounds of the same call deleted or archived in place of what
    the last plan says of those images (an archived image is still listed, as archived)."""
    if not done:
        return plan
    acted = {decision.image.digest for decision in done}

    def others(decisions: tuple[Decision, ...]) -> tuple[Decision, ...]:
        return tuple(decision for decision in decisions if decision.image.digest not in acted)

    return replace(
        plan,
        delete=tuple(d for d in done if d.action is Action.DELETE) + others(plan.delete),
        archive=tuple(d for d in done if d.action is Action.ARCHIVE) + others(plan.archive),
        untag=tuple(d for d in done if d.action is Action.UNTAG) + others(plan.untag),
        keep=others(plan.keep),
        deferred=others(plan.deferred),
    )


def clean_repository(
    registry: Registry,
    policy: Policy,
    repository: str,
    now: datetime,
    *,
    execute: bool,
    usage: UsageSource | None = None,
    stop: Stop | None = None,
    cancelled: Stop | None = None,
    counted: int = 0,
    clock: Clock = time.monotonic,
    on_batch: OnBatch | None = None,
    region: str | None = None,
    held: Mapping[str, str] | None = None,
) -> RepositoryOutcome:
    """Plan one repository and, if `execute`, carry the plan out (see `plan_live`, `execute_plan`)."""
    live = plan_live(
        registry, policy, repository, now, usage=usage, counted=counted, clock=clock, region=region, held=held
    )
    return execute_plan(
        registry,
        policy,
        live,
        now,
        execute=execute,
        usage=usage,
        stop=stop,
        cancelled=cancelled,
        counted=counted,
        clock=clock,
        on_batch=on_batch,
    )


def run_cleanup(
    registry: Registry,
    policy: Policy,
    now: datetime,
    *,
    execute: bool,
    usage: UsageSource | None = None,
    concurrency: int = 1,
    progress: Callable[[RepositoryOutcome], None] | None = None,
    repositories: Sequence[str] | None = None,
    on_batch: OnBatch | None = None,
    region: str | None = None,
) -> list[RepositoryOutcome]:
    """Every selected repository (or the given `repositories`) of `registry` (of `region`),
    `concurrency` at a time, in name order in the result.

    A repository that fails is recorded and the others still run. `progress` is called as each
    repository ends (from the worker threads). An exception in the caller's thread (a Ctrl-C) stops
    every repository before its next batch (see `in_parallel`).
    """
    cancelled = Cancellation()

    def clean(repository: str) -> RepositoryOutcome:
        try:
            outcome = clean_repository(
                registry,
                policy,
                repository,
                now,
                execute=execute,
                usage=usage,
                cancelled=cancelled.is_set,
                on_batch=on_batch,
                region=region,
            )
        except RegistryError as error:
            outcome = RepositoryOutcome(repository, None, executed=execute, error=str(error), region=region)
        if progress is not None:
            progress(outcome)
        return outcome

    if repositories is None:
        repositories = selected_repositories(policy, registry.repositories())
    return in_parallel(clean, repositories, concurrency, cancelled)


def plan_repositories(
    registry: Registry,
    policy: Policy,
    now: datetime,
    *,
    usage: UsageSource | None = None,
    concurrency: int = 1,
    progress: Callable[[RepositoryOutcome], None] | None = None,
    repositories: Sequence[str] | None = None,
    region: str | None = None,
) -> list[LivePlan | RepositoryOutcome]:
    """Every selected repository (or the given `repositories`) planned, `concurrency` at a time; one
    that cannot be read becomes a failed outcome. Nothing is deleted."""

    def plan(repository: str) -> LivePlan | RepositoryOutcome:
        try:
            live = plan_live(registry, policy, repository, now, usage=usage, region=region)
        except RegistryError as error:
            failed = RepositoryOutcome(repository, None, error=str(error), region=region)
            if progress is not None:
                progress(failed)
            return failed
        if progress is not None:
            progress(RepositoryOutcome(repository, live.plan, error=live.plan.error, region=region))
        return live

    if repositories is None:
        repositories = selected_repositories(policy, registry.repositories())
    return in_parallel(plan, repositories, concurrency)


def execute_plans(
    registry: Registry,
    policy: Policy,
    plans: Sequence[LivePlan | RepositoryOutcome],
    now: datetime,
    *,
    usage: UsageSource | None = None,
    concurrency: int = 1,
    progress: Callable[[RepositoryOutcome], None] | None = None,
    on_batch: OnBatch | None = None,
) -> list[RepositoryOutcome]:
    """Carry out plans made by `plan_repositories` (deleting nothing they did not plan); cancelled as
    `run_cleanup` is."""
    cancelled = Cancellation()

    def carry_out(planned: LivePlan | RepositoryOutcome) -> RepositoryOutcome:
        if isinstance(planned, RepositoryOutcome):
            return replace(planned, executed=True)
        try:
            outcome = execute_plan(
                registry,
                policy,
                planned,
                now,
                execute=True,
                usage=usage,
                cancelled=cancelled.is_set,
                on_batch=on_batch,
            )
        except RegistryError as error:
            outcome = RepositoryOutcome(
                planned.plan.repository, planned.plan, executed=True, error=str(error), region=planned.region
            )
        if progress is not None:
            progress(outcome)
        return outcome

    return in_parallel(carry_out, plans, concurrency, cancelled)


def in_parallel(
    work: Callable[[_T], _R],
    items: Sequence[_T],
    concurrency: int,
    cancelled: threading.Event | None = None,
) -> list[_R]:
    """`work` on every item, at most `concurrency` at a time; results in the order of `items`.

    When the waiting thread is interrupted (a Ctrl-C) or a worker fails, `cancelled` is set at once
    (by the failing worker itself), items not started are dropped, and the call returns (raising)
    only once the items under way have stopped, so that nothing goes on deleting behind the
    caller's back: each worker asks `cancelled` right before every batch, so at most the batch each
    worker had already sent completes.
    """
    if concurrency <= 1 or len(items) <= 1:
        return [work(item) for item in items]

    def work_or_cancel(item: _T) -> _R:
        try:
            return work(item)
        except BaseException:
            # Set here, in the failing worker, before the waiting thread even wakes: the others
            # must not start another batch in the meantime.
            if cancelled is not None:
                cancelled.set()
            raise

    pool = ThreadPoolExecutor(max_workers=min(concurrency, len(items)))
    try:
        futures = [pool.submit(work_or_cancel, item) for item in items]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        failed = next((future for future in futures if future in done and future.exception()), None)
        if failed is not None:
            failed.result()
        return [future.result() for future in futures]
    except BaseException:
        if cancelled is not None:
            cancelled.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=True)
