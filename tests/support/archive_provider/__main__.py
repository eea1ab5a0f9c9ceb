"""Entry point that Terraform starts: serve the ``hashicorp/archive`` stand-in over the plugin protocol.

Run as ``python -m tests.support.archive_provider`` from the repository root; the launcher that
``tests/support/terraform_cli.py`` installs in the provider mirror does exactly that.
"""

from tf.runner import run_provider  # type: ignore[import-untyped]

from .provider import ArchiveProvider


def main() -> None:
    run_provider(ArchiveProvider())


if __name__ == "__main__":
    main()
