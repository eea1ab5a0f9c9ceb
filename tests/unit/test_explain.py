"""`ecr-cleanup explain`: why one image goes or stays — the decision, and what each rule says of it."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from ecr_cleanup.cli import EXIT_INVALID, EXIT_OK, main

NOW = "2026-11-28T00:00:00Z"
POLICY = {
    "rules": [
        {
            "description": "per branch",
            "group_by": "^(?P<line>[a-z]+)-[0-9a-f]{7}$",
            "keep_latest": 2,
            "older_than_days": 30,
        },
        {"tag_status": "untagged", "older_than_days": 1},
    ]
}
IMAGES = [
    ("1", ["main-0000001"], "2026-11-27"),
    ("2", ["main-0000002"], "2026-11-26"),
    ("3", ["main-0000003", "feature-0000003"], "2026-10-01"),
    ("4", ["main-0000004"], "2026-09-01"),
]


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    details = [
        {
            "repositoryName": "app",
            "imageDigest": f"sha256:{digit * 64}",
            "imageTags": tags,
            "imagePushedAt": f"{day}T00:00:00Z",
            "imageSizeInBytes": 10,
        }
        for digit, tags, day in IMAGES
    ]
    (tmp_path / "images.json").write_text(json.dumps({"imageDetails": details}))
    (tmp_path / "policy.json").write_text(json.dumps(POLICY))
    return tmp_path / "policy.json", tmp_path / "images.json"


def explain(files: tuple[Path, Path], *which: str) -> tuple[int, list[str]]:
    out = io.StringIO()
    policy, images = files
    status = main(
        ["explain", "--policy", str(policy), "--images", str(images), "--now", NOW, *which], stdout=out
    )
    return status, out.getvalue().splitlines()


def test_a_deleted_image_is_explained_by_its_rank_in_its_group(files: tuple[Path, Path]) -> None:
    status, lines = explain(files, "--tag", "main-0000004")
    assert status == EXIT_OK
    assert lines[1] == '  decision: delete: matched rules[0] "per branch": 4th newest of group "main"'
    assert '    ranked (keep_latest 2): group "main" 4 of 4' in lines
    assert "  rules[1]: does not select it" in lines


def test_a_kept_image_names_the_group_that_kept_it_and_every_group_it_is_in(files: tuple[Path, Path]) -> None:
    status, lines = explain(files, "--digest", "sha256:3333")
    assert status == EXIT_OK
    assert lines[1] == '  decision: keep: rules[0] "per branch": among the latest 2 of group "feature"'
    assert '    ranked (keep_latest 2): group "feature" 1 of 1; group "main" 3 of 4' in lines


def test_an_image_a_condition_spares_says_which_condition(files: tuple[Path, Path]) -> None:
    _, lines = explain(files, "--tag", "main-0000001")
    assert '  rules[0] "per branch": spares it: not older than 30 days' in lines


@pytest.mark.parametrize("which", [["--tag", "nope"], ["--digest", "sha256:"]])
def test_no_image_or_several_is_refused(
    files: tuple[Path, Path], which: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    status, _ = explain(files, *which)
    assert status == EXIT_INVALID
    assert "ecr-cleanup: " in capsys.readouterr().err
