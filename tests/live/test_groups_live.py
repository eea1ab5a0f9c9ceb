"""Multi-arch images, referrers and the pre-delete re-check, against moto."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import pytest

from ecr_cleanup.cleanup import RECHECK_AFTER_SECONDS, clean_repository
from ecr_cleanup.ecr import EcrRegistry
from ecr_cleanup.plan import Image
from ecr_cleanup.policy import parse_policy
from tests.support.aws import ApiCalls
from tests.support.ecr_seed import (
    SIGNATURE_ARTIFACT,
    create_repository,
    days_ago,
    push_image,
    push_multi_platform_image,
    push_referrer,
    remaining_digests,
)

OLDER_THAN_30 = parse_policy({"rules": [{"older_than_days": 30}], "protect": {"tag_patterns": ["keep-*"]}})
UNTAGGED = parse_policy({"rules": [{"tag_status": "untagged", "older_than_days": 1}]})


@pytest.fixture
def multi_arch(aws: None) -> dict[str, str]:
    """An old index with two children and a signature, and a recent one: name -> digest."""
    create_repository("app")
    old, [amd64, arm64] = push_multi_platform_image("app", tags=["v1"], pushed_at=days_ago(90))
    signature = push_referrer("app", old, artifact_type=SIGNATURE_ARTIFACT, pushed_at=days_ago(90))
    new, [new_amd64, new_arm64] = push_multi_platform_image("app", tags=["v2"], pushed_at=days_ago(2))
    return {
        "old": old,
        "amd64": amd64,
        "arm64": arm64,
        "signature": signature,
        "new": new,
        "new-amd64": new_amd64,
        "new-arm64": new_arm64,
    }


def test_index_manifests_are_read_in_batches(multi_arch: dict[str, str], api_calls: ApiCalls) -> None:
    children = EcrRegistry().manifests("app", [multi_arch["old"], multi_arch["new"]])
    assert sorted(children[multi_arch["old"]]) == sorted([multi_arch["amd64"], multi_arch["arm64"]])
    assert api_calls["BatchGetImage"] == 1


def test_a_deleted_index_takes_its_children_and_signature(multi_arch: dict[str, str]) -> None:
    outcome = clean_repository(EcrRegistry(), OLDER_THAN_30, "app", datetime.now(UTC), execute=True)
    assert outcome.failures == ()
    expected = {multi_arch[name] for name in ("old", "amd64", "arm64", "signature")}
    assert set(outcome.deleted) == expected
    assert remaining_digests("app") == {multi_arch[name] for name in ("new", "new-amd64", "new-arm64")}


def test_an_untagged_rule_never_sweeps_up_children_or_signatures(multi_arch: dict[str, str]) -> None:
    lonely = push_image("app", pushed_at=days_ago(30))
    outcome = clean_repository(EcrRegistry(), UNTAGGED, "app", datetime.now(UTC), execute=True)
    assert outcome.deleted == (lonely,)
    assert remaining_digests("app") == set(multi_arch.values())


class RetaggingRegistry(EcrRegistry):
    """Moves a protected tag onto `victim` after the plan read the repository and before the
    pre-delete re-check reads it again (by listing or describing), as a racing CI job would."""

    def __init__(self, victim: str) -> None:
        super().__init__()
        self.victim = victim
        self.listings = 0

    def _retag(self, repository: str) -> None:
        manifest = self.client.batch_get_image(
            repositoryName=repository, imageIds=[{"imageDigest": self.victim}]
        )["images"][0]["imageManifest"]
        self.client.put_image(repositoryName=repository, imageManifest=manifest, imageTag="keep-me")

    def images(self, repository: str) -> list[Image]:
        self.listings += 1
        if self.listings == 2:
            self._retag(repository)
        return super().images(repository)

    def describe(self, repository: str, digests: Sequence[str]) -> dict[str, Image]:
        if self.victim in digests:
            self._retag(repository)
        return super().describe(repository, digests)


def aging_clock() -> Callable[[], float]:
    """A clock on which every reading is later than the re-check window after the one before."""
    ticks = itertools.count(step=RECHECK_AFTER_SECONDS + 1)
    return lambda: float(next(ticks))


def test_an_image_retagged_between_plan_and_delete_survives(aws: None) -> None:
    create_repository("app")
    victim = push_image("app", tags=["dev-1"], pushed_at=days_ago(90))
    other = push_image("app", tags=["dev-2"], pushed_at=days_ago(90))
    outcome = clean_repository(
        RetaggingRegistry(victim), OLDER_THAN_30, "app", datetime.now(UTC), execute=True, clock=aging_clock()
    )
    assert outcome.deleted == (other,)
    assert [digest for digest, _ in outcome.skipped] == [victim]
    assert "tags changed since it was planned" in outcome.skipped[0][1]
    assert remaining_digests("app") == {victim}


def test_a_retagged_index_keeps_its_children_and_signature(multi_arch: dict[str, str]) -> None:
    registry = RetaggingRegistry(multi_arch["old"])
    outcome = clean_repository(
        registry, OLDER_THAN_30, "app", datetime.now(UTC), execute=True, clock=aging_clock()
    )
    assert outcome.deleted == ()
    assert remaining_digests("app") == set(multi_arch.values())
