"""Images in use in other accounts and regions: the same sources, read through a role there.

A central registry's images run in workload accounts. For each `AccountSource` of the policy the
role is assumed once per scan (with its external ID when given) and, in each of its regions, ECS
and Lambda are read as in this account. A reference counts for this registry as any other does (the
parser knows every ECR host form). Failing to assume a role or to read a region raises `UsageError`
naming the account, the region and the cause: the run deletes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
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
    """
    credentials = _assume(account, sts)
    session = boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    references: list[ImageReference] = []
    for region in account.regions or (default_region,):
        where = f"account {account.account} {region}"

        def clients(service: str, region: str = region) -> Any:
            return session.client(service, region_name=region, config=client_config)

        try:
            found = collect(clients, _region_cache(cache, account.account, region))
        except UsageError as error:
            raise UsageError(f"{where} (through {account.role_arn}): {error}") from error
        references += [replace(reference, source=f"{where} {reference.source}") for reference in found]
    return references


def _assume(account: AccountSource, sts: Any) -> dict[str, Any]:
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


def _region_cache(cache: UsageCache, account: str, region: str) -> UsageCache:
    """A view of the run's cache for one account and region: Lambda versions are named without their
    account, so they are kept under `<account>/<region>/`; task definitions are named by ARN."""
    versions = _Prefixed(cache.function_versions, f"{account}/{region}/")
    return UsageCache(task_definitions=cache.task_definitions, function_versions=versions)  # type: ignore[arg-type]


class _Prefixed(MutableMapping[str, list[str]]):
    def __init__(self, data: dict[str, list[str]], prefix: str) -> None:
        self.data = data
        self.prefix = prefix

    def __getitem__(self, key: str) -> list[str]:
        return self.data[self.prefix + key]

    def __setitem__(self, key: str, value: list[str]) -> None:
        self.data[self.prefix + key] = value

    def __delitem__(self, key: str) -> None:
        del self.data[self.prefix + key]

    def __iter__(self) -> Iterator[str]:
        return (key.removeprefix(self.prefix) for key in list(self.data) if key.startswith(self.prefix))

    def __len__(self) -> int:
        return sum(1 for _ in self)
