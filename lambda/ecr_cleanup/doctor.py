"""`ecr-cleanup doctor`: the set-up checks that otherwise fail only when a run starts, and the native
lifecycle conflict check, from the command line. One line per check: a tick or a cross with the fix.

Each check reads only (the report bucket check writes one object and deletes it again).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .cleanup import LivePlan, RegistryError, plan_repositories, selected_repositories
from .ecr import EcrRegistry
from .lifecycle import LifecycleError, conflicts, parse_lifecycle_policy
from .policy import Policy
from .usage import LocalUsage, UsageCollector, UsageError
from .usage.accounts import assume
from .usage.eks import eks_references
from .usage.external import source_reader
from .usage.reading import describe_error

__all__ = ["Check", "checks"]

Clients = Callable[..., Any]
"""A boto3 client by service name and region (None: the configured one)."""


@dataclass(frozen=True)
class Check:
    """One line of the report: `ok` None when the check was not made (and fails nothing)."""

    ok: bool | None
    text: str

    def line(self) -> str:
        mark = {True: "✓", False: "✗", None: "-"}[self.ok]
        return f"{mark} {self.text}"


def checks(
    policy: Policy,
    regions: Sequence[str],
    *,
    clients: Clients,
    now: datetime,
    role_arn: str | None = None,
    bucket: str | None = None,
    prefix: str = "ecr-cleanup/",
    concurrency: int = 8,
) -> Iterator[Check]:
    """Every check, in the order a run would meet them."""
    registries = {region: EcrRegistry(clients("ecr", region), region=region) for region in regions}
    selected: dict[str, list[str]] = {}
    for region, registry in registries.items():
        try:
            names = list(registry.repositories())
        except RegistryError as error:
            yield Check(False, f"ECR in {region}: {error}; the credentials need ecr:DescribeRepositories")
            continue
        selected[region] = selected_repositories(policy, names)
        yield Check(
            True,
            f"ECR in {region}: {len(names)} repositories, {len(selected[region])} selected by the policy",
        )
    yield from _exclusions(registries, role_arn)
    readable = True
    if policy.protect.in_use:
        for check in (
            *_sources(policy, clients),
            *_accounts(policy, clients),
            *_clusters(policy, regions, clients),
        ):
            readable = readable and check.ok is not False
            yield check
    yield _bucket(clients, bucket, prefix)
    yield from _lifecycle(
        policy, registries, selected=selected, now=now, concurrency=concurrency, readable=readable
    )


def _exclusions(registries: dict[str, EcrRegistry], role_arn: str | None) -> Iterator[Check]:
    if role_arn is None:
        yield Check(
            None,
            "pull-time update exclusion: not checked; give --lambda-role-arn "
            "(the module's lambda_role_arn output)",
        )
        return
    for region, registry in registries.items():
        try:
            excluded = _pages(registry.client, "list_pull_time_update_exclusions", "pullTimeUpdateExclusions")
        except (ClientError, BotoCoreError) as error:
            yield Check(False, f"pull-time update exclusions in {region}: {describe_error(error)}")
            continue
        if role_arn in excluded:
            yield Check(True, f"pull-time update exclusion of {role_arn} in {region}")
        else:
            yield Check(
                False,
                f"{role_arn} is not excluded from pull-time updates in {region}: reading image index "
                "manifests refreshes their pull times; run once with exclude_own_pulls, or `aws ecr "
                f"register-pull-time-update-exclusion --principal-arn {role_arn} --region {region}`",
            )


def _pages(client: Any, operation: str, key: str) -> list[str]:
    found: list[str] = []
    token = None
    while True:
        response = getattr(client, operation)(**({"nextToken": token} if token else {}))
        found += response.get(key, [])
        token = response.get("nextToken")
        if not token:
            return found


def _sources(policy: Policy, clients: Clients) -> Iterator[Check]:
    for source in policy.protect.in_use_sources:
        try:
            references = source_reader(source, lambda service: clients(service, None))()
        except UsageError as error:
            yield Check(False, f"protect.in_use_sources {source}: {error}")
            continue
        yield Check(True, f"protect.in_use_sources {source}: {len(references)} images listed")


def _accounts(policy: Policy, clients: Clients) -> Iterator[Check]:
    for account in policy.protect.in_use_accounts:
        try:
            assume(account, clients("sts", None))
        except UsageError as error:
            yield Check(False, f"protect.in_use_accounts {account.role_arn}: {error}")
            continue
        yield Check(True, f"protect.in_use_accounts {account.role_arn}: assumed")


def _clusters(policy: Policy, regions: Sequence[str], clients: Clients) -> Iterator[Check]:
    patterns = policy.protect.in_use_eks
    if not patterns:
        return
    for region in regions:
        try:
            references = eks_references(
                clients("eks", region), lambda region=region: clients("sts", region), patterns, region=region
            )
        except UsageError as error:
            yield Check(
                False,
                f"protect.in_use_eks in {region}: {error}; the role needs an access entry on each cluster "
                "(eks_access_clusters) and the cluster's API must be reachable (lambda_vpc_config)",
            )
            continue
        yield Check(
            True,
            f"protect.in_use_eks in {region}: {', '.join(patterns)} readable, "
            f"{len(references)} images in use",
        )


def _bucket(clients: Clients, bucket: str | None, prefix: str) -> Check:
    if bucket is None:
        return Check(
            None, "report bucket: not checked; give --report-bucket (the module's bucket_name output)"
        )
    key = f"{prefix}_doctor/{uuid.uuid4()}"
    s3 = clients("s3", None)
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=b"")
        s3.delete_object(Bucket=bucket, Key=key)
    except (ClientError, BotoCoreError) as error:
        return Check(
            False,
            f"report bucket s3://{bucket}/{prefix}: {describe_error(error)}; the Lambda role needs "
            "s3:PutObject there (the module grants it on report_prefix)",
        )
    return Check(True, f"report bucket s3://{bucket}/{prefix}: writable")


def _lifecycle(
    policy: Policy,
    registries: dict[str, EcrRegistry],
    *,
    selected: dict[str, list[str]],
    now: datetime,
    concurrency: int,
    readable: bool,
) -> Iterator[Check]:
    if not readable:
        yield Check(
            None, "native lifecycle policies: not checked, as the images in use could not all be read"
        )
        return
    usage = None
    if policy.protect.in_use:
        collector = UsageCollector(region=next(iter(registries), None))
        usage = LocalUsage(
            lambda: collector.scan(policy, regions=list(registries)), max_age=timedelta(hours=1)
        )
        try:
            usage.snapshot()
        except UsageError as error:
            yield Check(False, f"images in use: {error}")
            return
    warnings: list[str] = []
    with_policy = 0
    for region, registry in registries.items():
        names = selected.get(region, [])
        policies: dict[str, str] = {}
        for name in names:
            try:
                text = registry.lifecycle_policy(name)
            except RegistryError as error:
                warnings.append(str(error))
                continue
            if text is not None:
                policies[name] = text
        with_policy += len(policies)
        if not policies:
            continue
        plans = plan_repositories(
            registry,
            policy,
            now,
            usage=usage,
            concurrency=concurrency,
            repositories=sorted(policies),
            region=region,
        )
        for planned in plans:
            if not isinstance(planned, LivePlan):
                warnings.append(f"{planned.repository}: {planned.error}")
                continue
            name = planned.plan.repository
            try:
                warnings += conflicts(name, parse_lifecycle_policy(policies[name]), planned.plan, now)
            except LifecycleError as error:
                warnings.append(f"native lifecycle policy of {name} could not be evaluated: {error}")
    if not warnings:
        yield Check(
            True, f"native lifecycle policies: {with_policy} read, none would expire an image that runs"
        )
        return
    for warning in warnings:
        yield Check(
            False,
            f"{warning}; change that lifecycle policy (or remove it and let this cleanup apply its rules, "
            "see `ecr-cleanup import-lifecycle`)",
        )
