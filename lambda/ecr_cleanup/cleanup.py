"""One cleanup run: read a registry, plan every selected repository, and delete what the plan says.

The registry is a protocol, so this module stays free of boto3: `ecr.EcrRegistry` reads and deletes
in Amazon ECR, `InMemoryRegistry` serves saved `describe-images` files for an offline preview.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from .plan import INDEX_MEDIA_TYPES, Image, RepositoryPlan, plan_repository
from .policy import Policy

__all__ = [
    "DeleteFailure",
    "DeleteResult",
    "InMemoryRegistry",
    "InUse",
    "Registry",
    "RegistryError",
    "RepositoryOutcome",
    "clean_repository",
    "run_cleanup",
    "selected_repositories",
]


RECHECK_BATCH_SIZE = 100


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
    def repositories(self) -> Iterable[str]: ...

    def images(self, repository: str) -> list[Image]: ...

    def manifests(self, repository: str, digests: Sequence[str]) -> dict[str, list[str]]: ...

    def describe(self, repository: str, digests: Sequence[str]) -> dict[str, Image]: ...

    def delete(self, repository: str, digests: Sequence[str]) -> DeleteResult: ...


InUse = Callable[[str, Sequence[Image]], Mapping[str, str]]
"""Given a repository and its images, the digests in use there with the reason (see `usage`)."""


@dataclass(frozen=True)
class RepositoryOutcome:
    """What happened in one repository: its plan, and, when the run deleted, what was deleted.

    `plan` is None when the repository could not even be read; `error` then says why.
    """

    repository: str
    plan: RepositoryPlan | None
    executed: bool = False
    deleted: tuple[str, ...] = ()
    failures: tuple[DeleteFailure, ...] = ()
    error: str | None = None
    skipped: tuple[tuple[str, str], ...] = ()

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


class InMemoryRegistry:
    """A registry held in memory, e.g. loaded from saved describe-images files. It cannot delete."""

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


def selected_repositories(policy: Policy, names: Iterable[str]) -> list[str]:
    """The repositories a run visits, by `repositories.include`/`exclude`, sorted by name."""
    return sorted(name for name in set(names) if policy.repositories.selects(name))


def clean_repository(
    registry: Registry,
    policy: Policy,
    repository: str,
    now: datetime,
    *,
    execute: bool,
    in_use: InUse | None = None,
) -> RepositoryOutcome:
    """Plan one repository and, if `execute`, delete its planned images in the plan's order.

    A registry failure while reading propagates as `RegistryError`; per-image delete failures are
    recorded in the outcome instead. Each delete batch is described again first: an image whose tags
    changed since it was planned is skipped, and so is everything that belongs to it.
    """
    images = registry.images(repository)
    indexes = [image.digest for image in images if image.media_type in INDEX_MEDIA_TYPES]
    children = registry.manifests(repository, indexes) if indexes else {}
    used = in_use(repository, images) if in_use is not None and policy.protect.in_use else {}
    plan = plan_repository(policy, repository, images, now, children=children, in_use=used)
    if plan.error is not None:
        return RepositoryOutcome(repository, plan, executed=execute, error=plan.error)
    if not execute or not plan.delete:
        return RepositoryOutcome(repository, plan, executed=execute)
    deleted, failures, skipped = _delete_rechecked(registry, plan)
    return RepositoryOutcome(
        repository, plan, executed=True, deleted=deleted, failures=failures, skipped=skipped
    )


def _delete_rechecked(
    registry: Registry, plan: RepositoryPlan
) -> tuple[tuple[str, ...], tuple[DeleteFailure, ...], tuple[tuple[str, str], ...]]:
    planned = {decision.image.digest: decision.image for decision in plan.delete}
    deleted: list[str] = []
    failures: list[DeleteFailure] = []
    skipped: dict[str, str] = {}
    for start in range(0, len(plan.delete), RECHECK_BATCH_SIZE):
        batch = [decision.image.digest for decision in plan.delete[start : start + RECHECK_BATCH_SIZE]]
        owners = {owner for digest in batch for owner in plan.belongs_to.get(digest, ()) if owner in planned}
        current = registry.describe(plan.repository, list(dict.fromkeys([*batch, *owners])))
        for digest in (*owners, *batch):
            if digest in current and set(current[digest].tags) != set(planned[digest].tags):
                tags = ", ".join(current[digest].tags) or "none"
                skipped.setdefault(digest, f"skipped: its tags changed since it was planned (now: {tags})")
        safe = []
        for digest in batch:
            blocker = next((o for o in plan.belongs_to.get(digest, ()) if o in skipped), None)
            if digest in skipped:
                continue
            if blocker is not None:
                skipped[digest] = f"skipped: it belongs to {blocker[:19]}, which was skipped"
            elif digest not in current:
                deleted.append(digest)
            else:
                safe.append(digest)
        if safe:
            result = registry.delete(plan.repository, safe)
            deleted.extend(result.deleted)
            failures.extend(result.failures)
    return tuple(deleted), tuple(failures), tuple(skipped.items())


def run_cleanup(
    registry: Registry, policy: Policy, now: datetime, *, execute: bool, in_use: InUse | None = None
) -> list[RepositoryOutcome]:
    """Every selected repository in turn; one that fails is recorded and the others still run."""
    outcomes = []
    for repository in selected_repositories(policy, registry.repositories()):
        try:
            outcomes.append(
                clean_repository(registry, policy, repository, now, execute=execute, in_use=in_use)
            )
        except RegistryError as error:
            outcomes.append(RepositoryOutcome(repository, None, executed=execute, error=str(error)))
    return outcomes
