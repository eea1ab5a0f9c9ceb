"""Images in use in other accounts and regions: the same sources, read through a role there.

A central registry's images run in workload accounts. For each `AccountSource` of the policy the
role is assumed once per scan (with its external ID when given) and, in each of its regions, ECS
and Lambda are read as in this account. A reference counts for this registry as any other does (the
parser knows every ECR host form). Failing to assume a role or to read a region raises `UsageError`
naming the account, the region and the cause: the run deletes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from ..policy import AccountSource
from .reading import describe_error
from .references import ImageReference, UsageError
from .snapshot import UsageCache

__all__ = ["SESSION_NAME", "account_references"]

SESSION_NAME = "ecr-cleanup"
"""The role session name, as CloudTrail in the workload account shows it."""

Collect = Callable[[Callable[[str], Any], UsageCache], list[ImageReference]]


def account_references(
    account: AccountSource,
    sts: Any,
    default_region: str,
    cache: UsageCache,
    collect: Collect,
    *,
    client_config: Any = None,
) -> list[ImageReference]:
    """The references in use in `account`'s regions, each source prefixed with the account and region.

    `collect(clients, cache)` reads one region through `clients` (a function of the service name), as
    this account's own scan does. What never changes is cached per account and region in `cache`.
    `default_region` may name several regions, separated by commas (`regions` of the module).
    """
    credentials = assume(account, sts)
    session = boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    references: list[ImageReference] = []
    for region in account.regions or tuple(default_region.split(",")):
        where = f"account {account.account} {region}"

        def clients(service: str, region: str = region) -> Any:
            return session.client(service, region_name=region, config=client_config)

        try:
            found = collect(clients, cache.scoped(f"{account.account}/{region}/"))
        except UsageError as error:
            raise UsageError(f"{where} (through {account.role_arn}): {error}") from error
        references += [replace(reference, source=f"{where} {reference.source}") for reference in found]
    return references


def assume(account: AccountSource, sts: Any) -> dict[str, Any]:
    """The credentials of the account's role, assumed as a run assumes it; `UsageError` saying why not."""
    request: dict[str, Any] = {"RoleArn": account.role_arn, "RoleSessionName": SESSION_NAME}
    if account.external_id is not None:
        request["ExternalId"] = account.external_id
    try:
        return dict(sts.assume_role(**request)["Credentials"])
    except (ClientError, BotoCoreError) as error:
        raise UsageError(
            f"account {account.account}: cannot assume {account.role_arn} ({describe_error(error)}); the "
            "role must trust this cleanup's Lambda role (modules/usage-reader creates such a role), with the "
            "same external ID"
        ) from error
