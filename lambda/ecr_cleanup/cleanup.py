"""One cleanup run: read a registry, plan every selected repository, and delete what the plan says.

The registry is a protocol, so this module stays free of boto3: `ecr.EcrRegistry` reads and deletes
in Amazon ECR, `InMemoryRegistry` serves saved `describe-images` files for an offline preview.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from .plan import Image, RepositoryPlan, plan_repository
from .policy import Policy

__all__ = [
    "DeleteFailure",
    "DeleteResult",
    "InMemoryRegistry",
    "Registry",
    "RegistryError",
    "RepositoryOutcome",
    "clean_repository",
    "run_cleanup",
    "selected_repositories",
]


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

    def delete(self, repository: str, digests: Sequence[str]) -> DeleteResult: ...


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

    @property
    def failed(self) -> bool:
        return self.error is not None or bool(self.failures)


class InMemoryRegistry:
    """A registry held in memory, e.g. loaded from saved describe-images files. It cannot delete."""

    def __init__(self, images: Mapping[str, Sequence[Image]]) -> None:
        self._images = {name: list(found) for name, found in images.items()}

    def repositories(self) -> list[str]:
        return sorted(self._images)

    def images(self, repository: str) -> list[Image]:
        return list(self._images.get(repository, ()))

    def delete(self, repository: str, digests: Sequence[str]) -> DeleteResult:
        raise RegistryError("an offline preview cannot delete")


def selected_repositories(policy: Policy, names: Iterable[str]) -> list[str]:
    """The repositories a run visits, by `repositories.include`/`exclude`, sorted by name."""
    return sorted(name for name in set(names) if policy.repositories.selects(name))


def clean_repository(
    registry: Registry, policy: Policy, repository: str, now: datetime, *, execute: bool
) -> RepositoryOutcome:
    """Plan one repository and, if `execute`, delete its planned images oldest first.

    A registry failure while reading propagates as `RegistryError`; per-image delete failures are
    recorded in the outcome instead.
    """
    plan = plan_repository(policy, repository, registry.images(repository), now)
    if not execute or not plan.delete:
        return RepositoryOutcome(repository, plan, executed=execute)
    result = registry.delete(repository, [decision.image.digest for decision in plan.delete])
    return RepositoryOutcome(
        repository, plan, executed=True, deleted=result.deleted, failures=result.failures
    )


def run_cleanup(
    registry: Registry, policy: Policy, now: datetime, *, execute: bool
) -> list[RepositoryOutcome]:
    """Every selected repository in turn; one that fails is recorded and the others still run."""
    outcomes = []
    for repository in selected_repositories(policy, registry.repositories()):
        try:
            outcomes.append(clean_repository(registry, policy, repository, now, execute=execute))
        except RegistryError as error:
            outcomes.append(RepositoryOutcome(repository, None, executed=execute, error=str(error)))
    return outcomes
