"""Carrying out a plan: early stops, expired usage snapshots, and what the pre-delete re-check costs."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from ecr_cleanup.cleanup import (
    DELETE_BATCH_SIZE,
    NOT_APPROVED,
    RECHECK_AFTER_SECONDS,
    DeleteResult,
    clean_repository,
    execute_plan,
    plan_live,
    run_cleanup,
)
from ecr_cleanup.plan import Image
from ecr_cleanup.policy import parse_policy

NOW = datetime(2026, 11, 28, tzinfo=UTC)
OLD = parse_policy({"rules": [{"older_than_days": 30}]})


def image(number: int, *, days: int = 60, tags: tuple[str, ...] = ()) -> Image:
    return Image(f"sha256:{number:064x}", tags or (f"b{number}",), NOW - timedelta(days=days, minutes=number))


class Registry:
    """A registry in memory that deletes, and counts the calls a real registry would receive."""

    def __init__(self, images: Sequence[Image]) -> None:
        self.held = {item.digest: item for item in images}
        self.calls: Counter[str] = Counter()
        self.deleted: list[str] = []

    def repositories(self) -> list[str]:
        return ["app"]

    def images(self, repository: str) -> list[Image]:
        self.calls["list"] += 1
        return list(self.held.values())

    def manifests(self, repository: str, digests: Sequence[str]) -> dict[str, list[str]]:
        return {}

    def describe(self, repository: str, digests: Sequence[str]) -> dict[str, Image]:
        self.calls["describe"] += 1
        return {digest: self.held[digest] for digest in digests if digest in self.held}

    def delete(self, repository: str, digests: Sequence[str]) -> DeleteResult:
        self.calls["delete"] += 1
        for digest in digests:
            self.held.pop(digest, None)
        self.deleted += digests
        return DeleteResult(tuple(digests))


def steady_clock() -> Callable[[], float]:
    return lambda: 0.0


def aging_clock() -> Callable[[], float]:
    """Every reading is later than the re-check window after the one before."""
    ticks = itertools.count(step=RECHECK_AFTER_SECONDS + 1)
    return lambda: float(next(ticks))


def test_a_plan_read_within_the_window_is_deleted_without_reading_again() -> None:
    registry = Registry([image(n) for n in range(250)])
    clean_repository(registry, OLD, "app", NOW, execute=True, clock=steady_clock())
    assert registry.calls == {"list": 1, "delete": 3}


def test_an_older_view_is_read_again_by_listing_when_that_takes_fewer_calls() -> None:
    registry = Registry([image(n) for n in range(250)])
    clean_repository(registry, OLD, "app", NOW, execute=True, clock=aging_clock())
    assert registry.calls["describe"] == 0
    assert registry.calls["list"] == 1 + 3
    assert len(registry.deleted) == 250


def test_an_older_view_of_a_large_repository_is_read_again_batch_by_batch() -> None:
    kept = [image(n, days=1) for n in range(1000, 3500)]
    registry = Registry([image(n) for n in range(150)] + kept)
    clean_repository(registry, OLD, "app", NOW, execute=True, clock=aging_clock())
    assert (registry.calls["list"], registry.calls["describe"]) == (1, 2)
    assert len(registry.deleted) == 150


def test_an_image_retagged_before_the_re_check_is_skipped() -> None:
    victim, other = image(1), image(2)
    registry = Registry([victim, other])
    clock = aging_clock()
    live = plan_live(registry, OLD, "app", NOW, clock=clock)
    registry.held[victim.digest] = victim._replace(tags=("release",))
    outcome = execute_plan(registry, OLD, live, NOW, execute=True, clock=clock)
    assert outcome.deleted == (other.digest,)
    assert outcome.skipped == (
        (victim.digest, "skipped: its tags changed since it was planned (now: release)"),
    )


def test_a_stop_before_a_batch_leaves_the_rest_for_later_and_says_so() -> None:
    registry = Registry([image(n) for n in range(250)])
    outcome = clean_repository(
        registry, OLD, "app", NOW, execute=True, stop=lambda: len(registry.deleted) >= DELETE_BATCH_SIZE
    )
    assert not outcome.complete
    assert len(outcome.deleted) == DELETE_BATCH_SIZE == outcome.counted
    assert registry.calls["delete"] == 1


def test_the_first_batch_always_runs_so_that_every_call_makes_progress() -> None:
    registry = Registry([image(n) for n in range(250)])
    outcome = clean_repository(registry, OLD, "app", NOW, execute=True, stop=lambda: True)
    assert len(outcome.deleted) == DELETE_BATCH_SIZE
    assert not outcome.complete


def test_a_later_call_counts_earlier_deletions_against_the_limit() -> None:
    policy = parse_policy(
        {"rules": [{"older_than_days": 30}], "limits": {"max_deletions_per_repository": 150}}
    )
    registry = Registry([image(n) for n in range(250)])
    first = clean_repository(registry, policy, "app", NOW, execute=True, stop=lambda: True)
    second = clean_repository(registry, policy, "app", NOW, execute=True, counted=first.counted)
    assert (len(first.deleted), len(second.deleted), second.counted) == (100, 50, 150)
    assert len(second.plan.deferred) == 100 if second.plan else False


class Snapshot:
    """Images in use that expire after `lifetime` questions."""

    def __init__(self, used: Mapping[str, str], lifetime: int) -> None:
        self.used = used
        self.questions = itertools.count()
        self.lifetime = lifetime

    def in_use(
        self, repository: str, images: Sequence[Image], registry: str | None = None
    ) -> Mapping[str, str]:
        return self.used

    def expired(self) -> bool:
        return next(self.questions) >= self.lifetime


class Usage:
    """Hands out the given snapshots in turn."""

    def __init__(self, *snapshots: Snapshot) -> None:
        self.snapshots = list(snapshots)
        self.reads = 0

    def snapshot(self) -> Snapshot:
        self.reads += 1
        return self.snapshots.pop(0)


def test_an_expired_usage_snapshot_makes_the_rest_of_the_plan_be_made_again() -> None:
    images = [image(n) for n in range(250)]
    late_user = images[0].digest
    usage = Usage(Snapshot({}, lifetime=1), Snapshot({late_user: "in use: ECS task t"}, lifetime=99))
    registry = Registry(images)
    outcome = clean_repository(registry, OLD, "app", NOW, execute=True, usage=usage)
    assert usage.reads == 2
    assert late_user not in registry.deleted
    assert len(registry.deleted) == 249
    assert outcome.complete
    assert outcome.plan is not None
    assert [d.reason for d in outcome.plan.keep] == ["protected: in use: ECS task t"]
    assert len(outcome.plan.delete) == 249


def test_a_plan_made_again_deletes_nothing_the_first_plan_did_not() -> None:
    images = [image(n) for n in range(150)]
    usage = Usage(Snapshot({}, lifetime=1), Snapshot({}, lifetime=99))
    registry = Registry(images)
    live = plan_live(registry, OLD, "app", NOW, usage=usage)
    newcomer = image(999, days=90)
    registry.held[newcomer.digest] = newcomer
    outcome = execute_plan(registry, OLD, live, NOW, execute=True, usage=usage)
    assert newcomer.digest in registry.held
    assert outcome.plan is not None
    assert [d.reason for d in outcome.plan.keep if d.image == newcomer] == [NOT_APPROVED]


def test_repositories_cleaned_in_parallel_end_as_if_cleaned_in_turn() -> None:
    policy = parse_policy({"rules": [{"older_than_days": 30, "keep_latest": 3}]})

    class Many(Registry):
        def __init__(self) -> None:
            super().__init__([])
            self.by_repository = {
                f"r{r}": {image(r * 100 + n).digest: image(r * 100 + n) for n in range(20)} for r in range(9)
            }

        def repositories(self) -> list[str]:
            return list(self.by_repository)

        def images(self, repository: str) -> list[Image]:
            return list(self.by_repository[repository].values())

        def delete(self, repository: str, digests: Sequence[str]) -> DeleteResult:
            for digest in digests:
                del self.by_repository[repository][digest]
            return DeleteResult(tuple(digests))

    serial, parallel = Many(), Many()
    one = run_cleanup(serial, policy, NOW, execute=True, concurrency=1)
    four = run_cleanup(parallel, policy, NOW, execute=True, concurrency=4)
    assert [o.repository for o in four] == [o.repository for o in one] == sorted(serial.by_repository)
    assert serial.by_repository == parallel.by_repository
    assert all(len(held) == 3 for held in parallel.by_repository.values())


@pytest.mark.parametrize("execute", [False, True])
def test_a_refused_plan_deletes_nothing(execute: bool) -> None:
    policy = parse_policy({"rules": [{"older_than_days": 30}], "limits": {"max_delete_fraction": 0.5}})
    registry = Registry([image(n) for n in range(10)])
    outcome = clean_repository(registry, policy, "app", NOW, execute=execute)
    assert outcome.error is not None
    assert registry.deleted == []
