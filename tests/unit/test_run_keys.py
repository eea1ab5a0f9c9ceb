"""The S3 keys of a run: only characters AWS calls safe, readable, and never two names on one key."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecr_cleanup.rundata import SAFE_KEY_CHARACTERS, ManifestCache, RunData, key_path, key_segment, run_folder

NOW = datetime(2026, 11, 28, 22, tzinfo=UTC)
FOLDER = "ecr-cleanup/2026/11/28/220000Z-run/"

AWKWARD_NAMES = [
    "a",
    "a/b",
    "a/b/c",
    "a.b",
    "a_b",
    "a__b",
    "a-b",
    "a--b",
    "a/b.c",
    "a!b",  # not a valid repository name, but the encoding must hold for any text
    "team",
    "team/api",
    "team/api/v1",
    "teamapi",
    "summary",
    "repositories",
    "repositories/summary",
    "a.json",
    "a.csv",
    "a/0000-abcd1234-00000.json",
    "a/0000-abcd1234-00000",
    "x/summary.json",
]


def decode_segment(segment: str) -> str:
    """The inverse of `key_segment`, written here from its description: proof that it is injective."""
    out = bytearray()
    for token in re.findall(r"\([0-9A-F]{2}\)|.", segment):
        if token.startswith("(") and len(token) == 4:
            out.append(int(token[1:3], 16))
        elif token == "!":
            out += b"/"
        else:
            assert token in "-_." or token.isalnum(), token
            out += token.encode()
    return out.decode()


def is_safe(key: str) -> bool:
    return set(key) <= SAFE_KEY_CHARACTERS


def keys_of(name: str, region: str = "eu-west-1") -> dict[str, str]:
    run = RunData(None, "bucket", FOLDER)
    return {
        "json report": run.repository_report_key(name, "json", region=region),
        "csv report": run.repository_report_key(name, "csv", region=region),
        "batch folder": run.batches_prefix(name, region=region),
        "batch record": f"{run.batches_prefix(name, region=region)}0000-abcd1234-00000.json",
        "index cache": ManifestCache(None, "bucket", "ecr-cleanup/", region=region).key(name),
    }


@pytest.mark.parametrize("name", AWKWARD_NAMES)
def test_every_key_of_a_repository_uses_only_safe_characters(name: str) -> None:
    unsafe = {kind: key for kind, key in keys_of(name).items() if not is_safe(key)}
    assert unsafe == {}


def test_no_two_repositories_share_a_key() -> None:
    keys = [key for name in AWKWARD_NAMES for key in keys_of(name).values()]
    assert len(keys) == len(set(keys))


def test_the_same_repository_in_two_regions_shares_no_key() -> None:
    keys = [key for region in ("us-east-1", "eu-west-1") for key in keys_of("team/api", region).values()]
    assert len(keys) == len(set(keys))


def test_no_repository_report_takes_the_place_of_the_summary() -> None:
    run = RunData(None, "bucket", FOLDER)
    reports = {
        run.repository_report_key(name, extension, region="us-east-1")
        for name in AWKWARD_NAMES
        for extension in ("json", "csv")
    }
    assert f"{FOLDER}summary.json" not in reports
    assert all(key.startswith(f"{FOLDER}repositories/") for key in reports)


def test_no_repository_batch_folder_lies_inside_another() -> None:
    run = RunData(None, "bucket", FOLDER)
    nested = [
        (one, other)
        for one, other in itertools.permutations(AWKWARD_NAMES, 2)
        if run.batches_prefix(other, region="us-east-1").startswith(
            run.batches_prefix(one, region="us-east-1")
        )
    ]
    assert nested == []


def test_a_nested_repository_reads_as_folders_in_its_report_and_as_one_segment_in_its_records() -> None:
    run = RunData(None, "bucket", FOLDER)
    assert run.repository_report_key("team/api", "json", region="eu-west-1") == (
        f"{FOLDER}repositories/eu-west-1/team/api.json"
    )
    assert run.batches_prefix("team/api", region="eu-west-1") == f"{FOLDER}_run/batches/eu-west-1/team!api/"


@pytest.mark.parametrize(
    "name", ["a", "team/api", "a__b--c.d", "0/1/2", "abc-123_def.ghi/jkl"], ids=lambda name: name
)
def test_a_valid_repository_name_is_its_own_key_path(name: str) -> None:
    assert key_path(name) == name


@pytest.mark.parametrize(
    ("execution", "expected"),
    [
        ("run-1", "run-1"),
        ("release@2026+rc=1", "release(40)2026(2B)rc(3D)1"),
        ("it's(ok)!", "it(27)s(28)ok(29)(21)"),
        ("déploiement", "d(C3)(A9)ploiement"),
    ],
)
def test_the_run_folder_spells_any_execution_name_safely(execution: str, expected: str) -> None:
    folder = run_folder("ecr-cleanup/", NOW, execution)
    assert folder == f"ecr-cleanup/2026/11/28/220000Z-{expected}/"
    assert is_safe(folder)


@given(st.text())
def test_a_segment_is_safe_has_no_folder_separator_and_reads_back(text: str) -> None:
    segment = key_segment(text)
    assert is_safe(segment)
    assert "/" not in segment
    assert decode_segment(segment) == text


@given(st.text(), st.text())
def test_two_texts_never_share_a_segment(one: str, other: str) -> None:
    if one != other:
        assert key_segment(one) != key_segment(other)
