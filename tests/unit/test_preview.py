"""The preview pipeline writes what the reference path renders: `run_cleanup` over `load_image_files`.

Every test runs with the files split over one process and over several, so that repositories spread
over files of different processes are covered.
"""

from __future__ import annotations

import io
import json
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecr_cleanup.cleanup import InMemoryRegistry, run_cleanup
from ecr_cleanup.cli import EXIT_AWS, EXIT_INVALID, load_policy, main
from ecr_cleanup.inventory import InputError, load_image_files
from ecr_cleanup.plan import INDEX_MEDIA_TYPES
from ecr_cleanup.preview import write_preview
from ecr_cleanup.report import RunReport, to_json, to_table
from tests.support.images import NOW, digest_of

INDEX = sorted(INDEX_MEDIA_TYPES)[0]
MANIFEST = "application/vnd.oci.image.manifest.v1+json"

POLICY = {
    "repositories": {"exclude": ["skipped/*"]},
    "rules": [
        {"description": "dev", "tag_patterns": ["dev-*"], "older_than_days": 10, "keep_latest": 1},
        {"description": "untagged", "tag_status": "untagged", "not_pulled_for_days": 14},
        {"repositories": ["guarded"], "older_than_days": 0},
    ],
    "protect": {"tag_patterns": ["v*", "latest"], "younger_than_days": 2},
    "limits": {"max_deletions_per_repository": 4, "max_delete_fraction": 0.9},
}


def detail(
    repository: str, name: str, days: float, tags: list[str] | None = None, **fields: Any
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "registryId": "123456789012",
        "repositoryName": repository,
        "imageDigest": digest_of(f"{repository}/{name}"),
        "imageSizeInBytes": 1_000_003 * (len(name) + int(days)),
        "imagePushedAt": (NOW - timedelta(days=days)).isoformat(),
        "imageManifestMediaType": MANIFEST,
    }
    if tags:
        entry["imageTags"] = tags
    entry.update(fields)
    return entry


def varied_files(folder: Path) -> list[Path]:
    """Several repositories; one spread over the first and the last file, two sharing a file."""
    app_first = [detail("app", f"dev-{n}", 20 + n, [f"dev-{n}"]) for n in range(8)]
    app_first += [
        detail("app", "release", 300, ["v1.0", "dev-r\u00e9"]),
        detail("app", "fresh", 1, ["dev-new"]),
        detail("app", "pulled", 60, lastRecordedPullTime=(NOW - timedelta(days=3)).isoformat()),
        detail("app", "stale", 60, imagePushedAt=(NOW - timedelta(days=60)).timestamp()),
        detail("app", "offset", 40, ["dev-x"], imagePushedAt="2026-10-01T12:30:00.250000+02:00"),
    ]
    app_second = [detail("app", f"old-{n}", 90 + n) for n in range(3)]
    # Listed again with one more tag: the union of the tags counts, and "latest" protects it.
    app_second.append(detail("app", "dev-3", 23, ["latest"]))
    multi = [
        detail("multi", "index", 50, ["dev-multi"], imageManifestMediaType=INDEX),
        detail("multi", "amd64", 50),
        detail("multi", "signature", 49, subjectManifestDigest=digest_of("multi/index")),
        detail("multi", "orphan", 49, subjectManifestDigest=digest_of("multi/gone")),
    ]
    guarded = [detail("guarded", f"g{n}", 30 + n, [f"g{n}"]) for n in range(4)]
    mixed = [detail("web", "w1", 45), detail("team/api", "a1", 45, ["dev-\u2603"]), detail("web", "w2", 1)]
    excluded = [detail("skipped/base", "b1", 400)]
    documents = [app_first, multi, guarded, mixed, excluded, app_second]
    paths = []
    for index, details in enumerate(documents):
        path = folder / f"images-{index}.json"
        path.write_text(json.dumps({"imageDetails": details}))
        paths.append(path)
    return paths


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    return varied_files(tmp_path)


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(POLICY))
    return path


def reference(policy_file: Path, files: list[Path], now: datetime) -> RunReport:
    registry = InMemoryRegistry(load_image_files(files))
    return RunReport(now, "preview", run_cleanup(registry, load_policy(policy_file), now, execute=False))


@pytest.mark.parametrize("processes", [1, 2, 6])
def test_preview_json_is_the_reference_document(policy_file: Path, files: list[Path], processes: int) -> None:
    out = io.StringIO()
    write_preview(load_policy(policy_file), files, NOW, "json", out, processes=processes)
    report = reference(policy_file, files, NOW)
    assert json.loads(out.getvalue()) == to_json(report)
    assert out.getvalue() == json.dumps(to_json(report)) + "\n"


@pytest.mark.parametrize("processes", [1, 2, 6])
def test_preview_table_is_the_reference_table(policy_file: Path, files: list[Path], processes: int) -> None:
    out = io.StringIO()
    write_preview(load_policy(policy_file), files, NOW, "table", out, processes=processes)
    assert out.getvalue() == to_table(reference(policy_file, files, NOW))


def test_the_varied_input_covers_what_it_is_meant_to(policy_file: Path, files: list[Path]) -> None:
    document = to_json(reference(policy_file, files, NOW))
    by_name = {repository["name"]: repository for repository in document["repositories"]}
    assert sorted(by_name) == ["app", "guarded", "multi", "team/api", "web"]
    reasons = [
        image["reason"] for entry in by_name.values() for key in ("keep", "deferred") for image in entry[key]
    ]
    assert any(reason.startswith("protected: tag") for reason in reasons)
    assert any(reason.startswith("protected: pushed within") for reason in reasons)
    assert any("referrer of" in reason or "child of" in reason for reason in reasons)
    assert by_name["app"]["deferred"]
    assert by_name["guarded"]["error"].startswith("limits.max_delete_fraction")
    assert len([image for key in ("delete", "keep", "deferred") for image in by_name["app"][key]]) == 16
    assert ["dev-3", "latest"] in [image["tags"] for image in by_name["app"]["keep"]]


def test_the_command_reports_a_guarded_repository_as_failed(
    policy_file: Path, files: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = [argument for path in files for argument in ("--images", str(path))]
    out = io.StringIO()
    status = main(
        ["preview", "--policy", str(policy_file), *arguments, "--now", NOW.isoformat(), "--format", "table"],
        out,
    )
    assert status == EXIT_AWS
    assert out.getvalue() == to_table(reference(policy_file, files, NOW))
    assert "ecr-cleanup: guarded: limits.max_delete_fraction (0.9)" in capsys.readouterr().err


@pytest.mark.parametrize("processes", [1, 3])
def test_the_first_unreadable_file_is_the_one_reported(
    policy_file: Path, files: list[Path], tmp_path: Path, processes: int
) -> None:
    bad_time = tmp_path / "bad-time.json"
    bad_time.write_text(json.dumps({"imageDetails": [detail("x", "x", 1, imagePushedAt="yesterday")]}))
    out = io.StringIO()
    with pytest.raises(InputError, match=r"bad-time\.json: imageDetails\[0\]\.imagePushedAt"):
        write_preview(
            load_policy(policy_file),
            [*files[:2], bad_time, files[2], tmp_path / "missing.json"],
            NOW,
            "json",
            out,
            processes=processes,
        )
    assert out.getvalue() == ""


def test_an_unreadable_file_exits_2_before_anything_is_written(
    policy_file: Path, files: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = io.StringIO()
    missing = str(tmp_path / "missing.json")
    status = main(
        ["preview", "--policy", str(policy_file), "--images", str(files[0]), "--images", missing], out
    )
    assert (status, out.getvalue()) == (EXIT_INVALID, "")
    assert f"ecr-cleanup: {missing}: No such file or directory" in capsys.readouterr().err


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "c/d", "\u00e9"]), st.integers(0, 5), st.integers(0, 60)),
        min_size=1,
        max_size=40,
    ),
    st.integers(min_value=1, max_value=8),
    st.integers(min_value=1, max_value=4),
)
def test_any_spread_of_repositories_over_files_and_processes_gives_the_reference(
    images: list[tuple[str, int, int]], files: int, processes: int
) -> None:
    """Images (repository, name, age) dealt over `files` files in turn; the same image may recur."""
    with tempfile.TemporaryDirectory() as folder:
        documents: list[list[dict[str, Any]]] = [[] for _ in range(files)]
        for position, (repository, name, days) in enumerate(images):
            tags = [f"dev-{name}"] if name % 2 else ["v1"] if name == 4 else None
            documents[position % files].append(detail(repository, str(name), days + position % 3, tags))
        paths = []
        for index, details in enumerate(documents):
            paths.append(Path(folder, f"{index}.json"))
            paths[-1].write_text(json.dumps({"imageDetails": details}))
        policy_file = Path(folder, "policy.json")
        policy_file.write_text(json.dumps(POLICY))
        out = io.StringIO()
        write_preview(load_policy(policy_file), paths, NOW, "json", out, processes=processes)
        assert out.getvalue() == json.dumps(to_json(reference(policy_file, paths, NOW))) + "\n"
