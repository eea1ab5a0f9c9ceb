"""Specification of ``archive_file`` as the module's tests get it: through real ``terraform`` runs.

By default Terraform gets the Python stand-in of ``tests/support/archive_provider``; with
``ECR_CLEANUP_REAL_ARCHIVE=1`` it gets the real ``hashicorp/archive`` and the Terraform tests must
pass unchanged. The last tests pin the stand-in's exclude matcher and walk directly.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import textwrap
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.module.conftest import run_terraform
from tests.support.archive_provider import archiver
from tests.support.terraform_cli import find_aws_plugin_mirror, terraform_env, write_cli_config

PROVIDERS_TF = """
terraform {
  required_providers {
    archive = { source = "hashicorp/archive", version = "~> 2.7" }
  }
}
"""

ARCHIVES_TF = """
data "archive_file" "dir" {
  type        = "zip"
  source_dir  = "${path.module}/src"
  excludes    = ["**/__pycache__/**", "notes.md"]
  output_path = "${path.module}/build/dir.zip"
}

data "archive_file" "file" {
  type             = "zip"
  source_file      = "${path.module}/src/handler.py"
  output_file_mode = "0644"
  output_path      = "${path.module}/build/file.zip"
}

data "archive_file" "blocks" {
  type        = "zip"
  output_path = "${path.module}/build/blocks.zip"

  source {
    filename = "b.txt"
    content  = "bee"
  }
  source {
    filename = "a/a.txt"
    content  = "ay"
  }
}

output "dir" {
  value = data.archive_file.dir
}

output "file" {
  value = data.archive_file.file
}

output "blocks" {
  value = data.archive_file.blocks
}
"""

SOURCES = {
    "handler.py": "def handler(event, context):\n    return event\n",
    "notes.md": "not shipped\n",
    "ecr_cleanup/__init__.py": "",
    "ecr_cleanup/policy.py": "KEEP = 10\n",
    "ecr_cleanup/__pycache__/policy.cpython-311.pyc": "bytecode",
    "__pycache__/handler.cpython-311.pyc": "bytecode",
}


COMPUTED_ATTRIBUTES = (
    "id",
    "output_size",
    "output_md5",
    "output_sha",
    "output_sha256",
    "output_base64sha256",
    "output_sha512",
    "output_base64sha512",
)


def outputs(env: dict[str, str], cwd: Path) -> dict[str, Any]:
    raw = json.loads(run_terraform(cwd, "output", "-json", env=env, timeout=300, check=True).stdout)
    return {name: value["value"] for name, value in raw.items()}


def write_tree(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def entry_names(zip_path: Path) -> list[str]:
    with zipfile.ZipFile(zip_path) as archive:
        return archive.namelist()


def entry_texts(zip_path: Path) -> dict[str, str]:
    with zipfile.ZipFile(zip_path) as archive:
        return {name: archive.read(name).decode() for name in archive.namelist()}


@dataclass(frozen=True)
class Applied:
    """A root module with three ``archive_file`` data sources, applied once."""

    root: Path
    env: dict[str, str]
    outputs: dict[str, Any]

    def zip_path(self, name: str) -> Path:
        return self.root / "build" / f"{name}.zip"


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return terraform_env(write_cli_config(tmp_path_factory.mktemp("terraform-cli")))


@pytest.fixture(scope="module")
def applied(cli_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Applied:
    root = tmp_path_factory.mktemp("archives")
    write_tree(root / "src", SOURCES)
    (root / "main.tf").write_text(PROVIDERS_TF + ARCHIVES_TF)
    run_terraform(root, "init", env=cli_env, timeout=300, check=True)
    run_terraform(root, "apply", "-auto-approve", env=cli_env, timeout=300, check=True)
    return Applied(root=root, env=cli_env, outputs=outputs(cli_env, root))


@pytest.fixture(scope="module")
def scratch(cli_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An initialised root module whose ``archive.tf`` each test rewrites to plan one configuration."""
    root = tmp_path_factory.mktemp("scratch")
    (root / "providers.tf").write_text(PROVIDERS_TF)
    run_terraform(root, "init", env=cli_env, timeout=300, check=True)
    return root


def error_text(result: subprocess.CompletedProcess[str]) -> str:
    """Terraform's error output with its line wrapping undone."""
    return " ".join(result.stderr.split())


def plan_archive(cli_env: dict[str, str], root: Path, body: str) -> subprocess.CompletedProcess[str]:
    """Plan ``data "archive_file" "this" { body }`` in ``root``."""
    config = 'data "archive_file" "this" {\n' + textwrap.indent(textwrap.dedent(body), "  ") + "}\n"
    (root / "archive.tf").write_text(config)
    return run_terraform(root, "plan", env=cli_env, timeout=300)


# --------------------------------------------------------------------------- through Terraform


def test_source_dir_zip_holds_the_files_left_after_excludes_in_walk_order(applied: Applied) -> None:
    assert entry_names(applied.zip_path("dir")) == [
        "ecr_cleanup/__init__.py",
        "ecr_cleanup/policy.py",
        "handler.py",
    ]


def test_source_dir_zip_entries_hold_the_source_bytes(applied: Applied) -> None:
    texts = entry_texts(applied.zip_path("dir"))

    assert texts == {name: SOURCES[name] for name in texts}


def test_source_dir_entries_carry_the_fixed_timestamp_of_the_real_provider(applied: Applied) -> None:
    with zipfile.ZipFile(applied.zip_path("dir")) as archive:
        assert {info.date_time for info in archive.infolist()} == {(2049, 1, 1, 0, 0, 0)}


def test_source_file_zip_holds_only_that_file_under_its_base_name(applied: Applied) -> None:
    assert entry_texts(applied.zip_path("file")) == {"handler.py": SOURCES["handler.py"]}


def test_output_file_mode_sets_the_unix_mode_of_archived_files(applied: Applied) -> None:
    with zipfile.ZipFile(applied.zip_path("file")) as archive:
        assert oct(archive.getinfo("handler.py").external_attr >> 16) == oct(0o100644)


def test_source_blocks_become_entries_sorted_by_filename(applied: Applied) -> None:
    zip_path = applied.zip_path("blocks")

    assert entry_names(zip_path) == ["a/a.txt", "b.txt"]
    assert entry_texts(zip_path) == {"a/a.txt": "ay", "b.txt": "bee"}


@pytest.mark.parametrize("name", ["dir", "file", "blocks"])
def test_computed_attributes_describe_the_zip_on_disk(applied: Applied, name: str) -> None:
    data = applied.zip_path(name).read_bytes()
    sha256 = hashlib.sha256(data).digest()
    sha512 = hashlib.sha512(data).digest()

    computed = {key: applied.outputs[name][key] for key in COMPUTED_ATTRIBUTES}
    assert computed == {
        "id": hashlib.sha1(data).hexdigest(),
        "output_size": len(data),
        "output_md5": hashlib.md5(data).hexdigest(),
        "output_sha": hashlib.sha1(data).hexdigest(),
        "output_sha256": sha256.hex(),
        "output_base64sha256": base64.b64encode(sha256).decode(),
        "output_sha512": sha512.hex(),
        "output_base64sha512": base64.b64encode(sha512).decode(),
    }


def test_a_second_plan_shows_no_changes(applied: Applied) -> None:
    result = run_terraform(applied.root, "plan", "-detailed-exitcode", env=applied.env, timeout=300)

    assert result.returncode == 0, result.stdout + result.stderr


def test_reading_again_after_touching_the_sources_gives_the_same_hashes(applied: Applied) -> None:
    for path in (applied.root / "src").rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))

    run_terraform(applied.root, "apply", "-auto-approve", env=applied.env, timeout=300, check=True)

    again = outputs(applied.env, applied.root)
    assert {name: again[name]["output_base64sha256"] for name in again} == {
        name: applied.outputs[name]["output_base64sha256"] for name in applied.outputs
    }


def test_an_unsupported_type_is_an_error(cli_env: dict[str, str], scratch: Path) -> None:
    result = plan_archive(
        cli_env,
        scratch,
        """
        type                    = "rar"
        source_content          = "x"
        source_content_filename = "x.txt"
        output_path             = "${path.module}/build/rar.zip"
        """,
    )

    assert result.returncode == 1
    assert "archive type not supported: rar" in error_text(result)


def test_two_kinds_of_source_are_rejected(cli_env: dict[str, str], scratch: Path) -> None:
    write_tree(scratch / "two", {"one.txt": "1"})
    result = plan_archive(
        cli_env,
        scratch,
        """
        type        = "zip"
        source_dir  = "${path.module}/two"
        source_file = "${path.module}/two/one.txt"
        output_path = "${path.module}/build/two.zip"
        """,
    )

    assert result.returncode == 1
    assert "Invalid Attribute Combination" in error_text(result)


def test_a_missing_source_dir_is_an_error(cli_env: dict[str, str], scratch: Path) -> None:
    result = plan_archive(
        cli_env,
        scratch,
        """
        type        = "zip"
        source_dir  = "${path.module}/nowhere"
        output_path = "${path.module}/build/nowhere.zip"
        """,
    )

    assert result.returncode == 1
    assert "could not archive missing directory" in error_text(result)


def test_a_source_dir_with_every_file_excluded_is_an_error(cli_env: dict[str, str], scratch: Path) -> None:
    write_tree(scratch / "cache_only", {"__pycache__/m.pyc": "bytecode"})
    result = plan_archive(
        cli_env,
        scratch,
        """
        type        = "zip"
        source_dir  = "${path.module}/cache_only"
        excludes    = ["**/__pycache__/**"]
        output_path = "${path.module}/build/empty.zip"
        """,
    )

    assert result.returncode == 1
    assert "archive has not been created as it would be empty" in error_text(result)
    assert not (scratch / "build" / "empty.zip").exists()


def test_the_cli_config_installs_aws_from_the_local_mirror(cli_env: dict[str, str], tmp_path: Path) -> None:
    mirror = find_aws_plugin_mirror()
    assert mirror is not None, "no filesystem mirror of hashicorp/aws: set ECR_CLEANUP_TF_PLUGIN_MIRROR"
    mirrored = {path.name for path in (mirror / "registry.terraform.io/hashicorp/aws").iterdir()}
    (tmp_path / "main.tf").write_text(
        'terraform {\n  required_providers {\n    aws = { source = "hashicorp/aws" }\n  }\n}\n'
    )

    run_terraform(tmp_path, "init", env=cli_env, timeout=300, check=True)

    lock = (tmp_path / ".terraform.lock.hcl").read_text()
    locked = re.search(r'provider "registry.terraform.io/hashicorp/aws" \{\s*version\s*=\s*"([^"]+)"', lock)
    assert locked is not None, lock
    assert locked.group(1) in mirrored


# --------------------------------------------------------------------------- the stand-in's own rules


@pytest.mark.parametrize(
    ("pattern", "path", "excluded"),
    [
        ("notes.md", "notes.md", True),
        ("notes.md", "docs/notes.md", False),
        ("*.md", "docs/notes.md", False),
        ("**/*.md", "notes.md", True),
        ("**/*.md", "docs/deep/notes.md", True),
        ("**/__pycache__/**", "__pycache__", True),
        ("**/__pycache__/**", "pkg/__pycache__", True),
        ("**/__pycache__/**", "pkg/__pycache__/m.pyc", True),
        ("**/__pycache__/**", "pkg/__pycache__x", False),
        ("docs/**", "docs", True),
        ("a/**/b", "a/b", True),
        ("a/**/b", "a/x/y/b", True),
        ("a/**/b", "a/x/yb", False),
        ("?.txt", "a.txt", True),
        ("?.txt", "ab.txt", False),
        ("[ab].txt", "b.txt", True),
        ("[!ab].txt", "b.txt", False),
        ("[a-c].txt", "c.txt", True),
        ("*.{py,pyc}", "m.pyc", True),
        ("*.{py,pyc}", "m.pyo", False),
        ("a\\*b", "a*b", True),
        ("a\\*b", "axb", False),
        ("abc**", "abcdef", True),
        ("**", ".", True),
    ],
)
def test_excludes_follow_doublestar_path_matching(pattern: str, path: str, excluded: bool) -> None:
    assert archiver.is_excluded(path, [archiver.compile_exclude(pattern)]) is excluded


def test_a_symlinked_directory_is_archived_under_the_link_name(tmp_path: Path) -> None:
    write_tree(tmp_path / "target", {"inner.txt": "in"})
    write_tree(tmp_path / "src", {"z.txt": "z"})
    (tmp_path / "src" / "linked").symlink_to(tmp_path / "target", target_is_directory=True)

    entries = archiver.dir_entries(tmp_path / "src")

    assert [entry.name for entry in entries] == ["linked/inner.txt", "z.txt"]


def test_exclude_symlink_directories_skips_the_rest_of_that_directory_like_go_filepath_walk(
    tmp_path: Path,
) -> None:
    write_tree(tmp_path / "target", {"inner.txt": "in"})
    write_tree(tmp_path / "src", {"a.txt": "a", "z.txt": "z"})
    (tmp_path / "src" / "linked").symlink_to(tmp_path / "target", target_is_directory=True)

    entries = archiver.dir_entries(tmp_path / "src", exclude_symlink_directories=True)

    assert [entry.name for entry in entries] == ["a.txt"]


def test_the_same_sources_give_byte_identical_zips(tmp_path: Path) -> None:
    write_tree(tmp_path / "src", SOURCES)
    first = archiver.write_zip(tmp_path / "first.zip", archiver.dir_entries(tmp_path / "src"))
    for path in (tmp_path / "src").rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))

    second = archiver.write_zip(tmp_path / "second.zip", archiver.dir_entries(tmp_path / "src"))

    assert second == first
