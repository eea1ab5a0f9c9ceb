"""``terraform init`` and ``terraform validate`` of the module and of every example, offline.

They run in a copy of the repository in a temporary folder, so that no ``.terraform`` folder or lock
file lands in the checkout and the examples' ``source = "../.."`` still finds the module. Providers
come from the test harness's CLI configuration (``tests/support/terraform_cli.py``): ``hashicorp/aws``
from the local mirror, ``hashicorp/archive`` from its stand-in.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.module.conftest import NOT_CONFIGURATION, run_terraform
from tests.support.terraform_cli import terraform_env, write_cli_config

ROOT = Path(__file__).resolve().parents[2]

#: Root configurations: the module itself and each example.
ROOTS = [".", *sorted(str(path.parent.relative_to(ROOT)) for path in ROOT.glob("examples/*/main.tf"))]


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("validate") / "repo"
    shutil.copytree(ROOT, target, ignore=NOT_CONFIGURATION, symlinks=True)
    return target


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return terraform_env(write_cli_config(tmp_path_factory.mktemp("terraform-cli")))


def diagnostics(validation: dict[str, Any]) -> str:
    """Terraform's diagnostics, one a line: severity, summary, detail and where."""
    lines = []
    for item in validation["diagnostics"]:
        where = item.get("range", {})
        place = f"{where.get('filename', '?')}:{where.get('start', {}).get('line', '?')}"
        lines.append(f"{item['severity']}: {item['summary']} {item.get('detail', '')} ({place})")
    return "\n".join(lines)


def test_every_example_is_validated() -> None:
    assert {"examples/basic", "examples/complete"} <= set(ROOTS)


@pytest.mark.parametrize("root", ROOTS)
def test_configuration_is_valid_without_warnings(copy: Path, env: dict[str, str], root: str) -> None:
    workdir = copy / root

    run_terraform(workdir, "init", "-backend=false", "-input=false", env=env, timeout=300, check=True)
    validation = json.loads(run_terraform(workdir, "validate", "-json", env=env, timeout=300).stdout)

    assert validation["valid"], diagnostics(validation)
    assert validation["warning_count"] == 0, diagnostics(validation)


#: Configurations the examples' READMEs give in full, in ```hcl blocks: each must validate as written.
README_CONFIGURATIONS = ["examples/multi-region/README.md"]


@pytest.mark.parametrize("readme", README_CONFIGURATIONS)
def test_a_configuration_in_an_examples_readme_is_valid_as_written(
    copy: Path, env: dict[str, str], readme: str
) -> None:
    text = (copy / readme).read_text(encoding="utf-8")
    blocks = re.findall(r"^```hcl\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)
    assert blocks, f"{readme} has no hcl block"
    workdir = (copy / readme).parent / "readme-configuration"
    workdir.mkdir()
    configuration = re.sub(r'(source\s*=\s*)"\.\./\.\."', r'\1"../../.."', "\n".join(blocks))
    assert configuration.count('"../../.."') == "".join(blocks).count('"../.."'), "every module source"
    (workdir / "main.tf").write_text(configuration)
    shutil.copy(copy / "examples" / "basic" / "versions.tf", workdir / "versions.tf")

    run_terraform(workdir, "init", "-backend=false", "-input=false", env=env, timeout=300, check=True)
    validation = json.loads(run_terraform(workdir, "validate", "-json", env=env, timeout=300).stdout)

    assert validation["valid"], diagnostics(validation)
    assert validation["warning_count"] == 0, diagnostics(validation)
