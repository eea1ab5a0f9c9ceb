"""CodeBuild: the named patches of moto's CodeBuild.

Projects listed in pages, and BatchGetProjects' limit and `projectsNotFound`.
"""

from __future__ import annotations

import functools
from typing import Any

from tests.support.moto_patches.paging import Cursor, _page
from tests.support.moto_patches.registry import _patch

CODEBUILD_PAGE_SIZE = 100
"""ListProjects answers at most 100 names a page; BatchGetProjects takes at most 100 names."""


def _codebuild_invalid(member: str, constraint: str) -> Exception:
    from moto.codebuild.exceptions import InvalidInputException

    return InvalidInputException(f"Invalid {member}: {constraint}")


@_patch(
    "CodeBuild ListProjects returns every name at once, without nextToken; CodeBuild answers at most "
    "100 names a page, sorted by name (sortOrder ASCENDING by default) and continued with nextToken."
)
def codebuild_list_projects_pagination() -> None:
    from moto.codebuild.responses import CodeBuildResponse
    from moto.core.responses import ActionResult

    def list_projects(self: CodeBuildResponse) -> ActionResult:
        descending = self._get_param("sortOrder") == "DESCENDING"
        keyed: list[tuple[Cursor, Any]] = [((name,), name) for name in self.codebuild_backend.list_projects()]
        page, token = _page(
            keyed,
            scope=f"list_projects:{self.current_account}:{self.region}:{descending}",
            next_token=self._get_param("nextToken"),
            max_results=CODEBUILD_PAGE_SIZE,
            descending=descending,
            invalid=_codebuild_invalid,
        )
        result: dict[str, Any] = {"projects": page}
        if token:
            result["nextToken"] = token
        return ActionResult(result)

    CodeBuildResponse.list_projects = list_projects  # type: ignore[method-assign]


@_patch(
    "CodeBuild BatchGetProjects takes any number of names and leaves out the unknown ones silently; "
    "CodeBuild refuses more than 100 names and lists the unknown ones under projectsNotFound."
)
def codebuild_batch_get_projects_as_codebuild() -> None:
    from moto.codebuild.responses import CodeBuildResponse
    from moto.core.responses import ActionResult

    original = CodeBuildResponse.batch_get_projects

    @functools.wraps(original)
    def batch_get_projects(self: CodeBuildResponse) -> ActionResult:
        names = self._get_param("names") or []
        if len(names) > CODEBUILD_PAGE_SIZE:
            raise _codebuild_invalid("names", f"at most {CODEBUILD_PAGE_SIZE} project names")
        projects = self.codebuild_backend.batch_get_projects(names)
        found = {project["name"] for project in projects} | {project["arn"] for project in projects}
        return ActionResult(
            {"projects": projects, "projectsNotFound": [name for name in names if name not in found]}
        )

    CodeBuildResponse.batch_get_projects = batch_get_projects  # type: ignore[method-assign]
