"""A Terraform CLI configuration that lets the tests run ``terraform init`` without a registry.

Why this exists: the machines that run this project's tests reach PyPI, npm and Debian only, not
the Terraform registry. ``hashicorp/aws`` is preinstalled in a local filesystem mirror (for
example ``/opt/tf-plugins``), but ``hashicorp/archive`` cannot be downloaded at all. So the
configuration written here resolves:

* ``hashicorp/aws`` from that mirror (``$ECR_CLEANUP_TF_PLUGIN_MIRROR``, or the first well-known
  folder holding ``registry.terraform.io/hashicorp/aws``); when no mirror exists, from the registry;
* ``hashicorp/archive`` from a private mirror holding the Python stand-in of
  ``tests/support/archive_provider`` as version 2.7.1, but only where the real provider cannot be
  installed: with ``ECR_CLEANUP_REAL_ARCHIVE=1`` the stand-in is left out and the real provider
  comes from the registry, so the very same tests run against it;
* everything else directly from its registry.

Usage from a fixture::

    cli_config = write_cli_config(tmp_path_factory.mktemp("terraform-cli"))
    env = terraform_env(cli_config)
    subprocess.run(["terraform", "init"], cwd=root_module, env=env, check=True)

Keep each root module's ``.terraform.lock.hcl`` out of git (``.gitignore`` does): its checksums
record whichever ``hashicorp/archive`` the machine installed, and the stand-in's differ from the
real provider's.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Mapping
from pathlib import Path

from . import archive_provider

PLUGIN_MIRROR_ENV = "ECR_CLEANUP_TF_PLUGIN_MIRROR"
REAL_ARCHIVE_ENV = "ECR_CLEANUP_REAL_ARCHIVE"

AWS_PROVIDER = "registry.terraform.io/hashicorp/aws"
ARCHIVE_PROVIDER = archive_provider.PROVIDER_ADDRESS
ARCHIVE_STANDIN_VERSION = archive_provider.PROVIDER_VERSION

CLI_CONFIG_NAME = "terraform.rc"
STANDIN_MIRROR_DIR = "plugin-mirror"
PLUGIN_CACHE_DIR = "plugin-cache"

_MIRROR_CANDIDATES = (
    Path("/opt/tf-plugins"),
    Path.home() / ".terraform.d" / "plugins",
    Path.home() / ".local" / "share" / "terraform" / "plugins",
    Path("/usr/local/share/terraform/plugins"),
    Path("/usr/share/terraform/plugins"),
)

_GOARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "i686": "386"}


def terraform_platform() -> str:
    """This machine as Terraform names platforms, e.g. ``linux_amd64``."""
    machine = platform.machine().lower()
    return f"{platform.system().lower()}_{_GOARCH.get(machine, machine)}"


def find_aws_plugin_mirror(environ: Mapping[str, str] | None = None) -> Path | None:
    """The filesystem mirror holding ``hashicorp/aws``, or None when the machine has none.

    ``$ECR_CLEANUP_TF_PLUGIN_MIRROR`` wins and must then be such a mirror.
    """
    environ = os.environ if environ is None else environ
    configured = environ.get(PLUGIN_MIRROR_ENV)
    if configured:
        mirror = Path(configured)
        if not (mirror / AWS_PROVIDER).is_dir():
            raise FileNotFoundError(f"${PLUGIN_MIRROR_ENV}={configured} holds no {AWS_PROVIDER}")
        return mirror
    return next((folder for folder in _MIRROR_CANDIDATES if (folder / AWS_PROVIDER).is_dir()), None)


def uses_archive_standin(environ: Mapping[str, str] | None = None) -> bool:
    """False when ``$ECR_CLEANUP_REAL_ARCHIVE=1`` asks for the real ``hashicorp/archive``."""
    environ = os.environ if environ is None else environ
    return environ.get(REAL_ARCHIVE_ENV) != "1"


def install_archive_standin(mirror: Path) -> Path:
    """Install the stand-in into ``mirror`` (unpacked layout) and return its executable.

    The executable is a launcher whose shebang is the interpreter running the tests, so the
    provider gets the same virtualenv (and the ``tf`` package) wherever the checkout lives.
    """
    package_dir = Path(archive_provider.__file__).resolve().parent
    import_root = package_dir.parents[archive_provider.__name__.count(".")]
    target = mirror / ARCHIVE_PROVIDER / ARCHIVE_STANDIN_VERSION / terraform_platform()
    target.mkdir(parents=True, exist_ok=True)
    launcher = target / f"terraform-provider-archive_v{ARCHIVE_STANDIN_VERSION}"
    launcher.write_text(
        f"#!{sys.executable}\n"
        f'"""Starts the hashicorp/archive stand-in; written by {__name__}."""\n'
        "import runpy\n"
        "import sys\n\n"
        f"sys.path.insert(0, {str(import_root)!r})\n"
        f"runpy.run_module({archive_provider.__name__!r}, run_name='__main__', alter_sys=True)\n"
    )
    launcher.chmod(0o755)
    return launcher


def _hcl_string(value: str | Path) -> str:
    return json.dumps(str(value)).replace("${", "$${").replace("%{", "%%{")


def _hcl_list(values: list[str]) -> str:
    return "[" + ", ".join(_hcl_string(value) for value in values) + "]"


def render_cli_config(aws_mirror: Path | None, standin_mirror: Path | None, plugin_cache: Path) -> str:
    """The text of the CLI configuration; a None mirror sends that provider to the registry.

    ``plugin_cache_may_break_dependency_lock_file`` lets a fresh root module, which has no lock
    file yet, take providers from the cache instead of installing them again.
    """
    blocks: list[str] = []
    direct_excludes: list[str] = []
    for mirror, provider in ((aws_mirror, AWS_PROVIDER), (standin_mirror, ARCHIVE_PROVIDER)):
        if mirror is None:
            continue
        blocks.append(
            "  filesystem_mirror {\n"
            f"    path    = {_hcl_string(mirror)}\n"
            f"    include = {_hcl_list([provider])}\n"
            "  }\n"
        )
        direct_excludes.append(provider)
    direct = (
        f"  direct {{\n    exclude = {_hcl_list(direct_excludes)}\n  }}\n"
        if direct_excludes
        else "  direct {}\n"
    )
    return (
        f"plugin_cache_dir = {_hcl_string(plugin_cache)}\n"
        "plugin_cache_may_break_dependency_lock_file = true\n"
        "disable_checkpoint = true\n\n"
        "provider_installation {\n" + "".join(blocks) + direct + "}\n"
    )


def write_cli_config(workdir: Path, environ: Mapping[str, str] | None = None) -> Path:
    """Write ``workdir/terraform.rc``, its stand-in mirror and plugin cache; return the file's path.

    ``workdir`` should be a temporary folder kept for the whole test session or module: the plugin
    cache in it is what makes repeated ``terraform init`` runs fast.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    plugin_cache = workdir / PLUGIN_CACHE_DIR
    plugin_cache.mkdir(exist_ok=True)
    standin_mirror: Path | None = None
    if uses_archive_standin(environ):
        standin_mirror = workdir / STANDIN_MIRROR_DIR
        install_archive_standin(standin_mirror)
    config = workdir / CLI_CONFIG_NAME
    config.write_text(render_cli_config(find_aws_plugin_mirror(environ), standin_mirror, plugin_cache))
    return config


def terraform_env(cli_config: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment to run ``terraform`` with ``cli_config``: ``base`` (default ``os.environ``) plus
    ``TF_CLI_CONFIG_FILE``, ``TF_IN_AUTOMATION=1``, ``TF_INPUT=0`` and no checkpoint calls.

    An inherited ``TF_PLUGIN_CACHE_DIR`` is dropped so the cache named in ``cli_config`` applies.
    """
    env = dict(os.environ if base is None else base)
    env.pop("TF_PLUGIN_CACHE_DIR", None)
    env.update(
        TF_CLI_CONFIG_FILE=str(cli_config),
        TF_IN_AUTOMATION="1",
        TF_INPUT="0",
        CHECKPOINT_DISABLE="1",
    )
    return env
