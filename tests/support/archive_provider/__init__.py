"""A stand-in for the ``hashicorp/archive`` Terraform provider, for machines that cannot download it.

Only the ``archive_file`` data source exists, with the 2.7.x schema and the same zip layout rules
as the real provider (walk order, excludes, fixed timestamps, file modes). Its zips are not
byte-identical to the real provider's, because Go's deflate and zlib compress differently, but
they are deterministic: the same sources always give the same bytes and hashes.

``archiver`` holds the zip logic (no Terraform involved), ``provider`` the plugin-protocol glue
built on the ``tf`` package, and ``__main__`` the entry point that Terraform starts.
``tests/support/terraform_cli.py`` installs that entry point into a provider mirror.

This module stays import-light on purpose: the harness reads the constants below without loading
gRPC.
"""

PROVIDER_ADDRESS = "registry.terraform.io/hashicorp/archive"
PROVIDER_VERSION = "2.7.1"
