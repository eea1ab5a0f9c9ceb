"""One scan of every images-in-use source a policy names, in one region (fail closed)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError

from ..ecr import client_config
from ..policy import AccountSource, Policy
from .accounts import account_references
from .batch import job_definition_references
from .codebuild import codebuild_references
from .ecs import ecs_references, revision_references
from .eks import eks_references
from .external import source_reader
from .functions import lambda_references
from .reading import describe_error
from .references import ImageReference, UsageError
from .sagemaker import sagemaker_references
from .schedules import event_rule_references, schedule_references
from .snapshot import UsageCache, UsageScan

__all__ = ["UsageCollector"]


class UsageCollector:
    """Reads the image references in use in one region through boto3 clients.

    Clients are the ones given, else made by `clients` (a function of the service name), else boto3
    clients for `region` made with `ecr.client_config()` (adaptive retries, so throttling slows a run
    down and only fails it once the retries are spent); each is made when first needed. What never changes
    (task definition revisions, published Lambda versions) is read once and kept in `cache`, which a
    caller may seed with what an earlier scan of the same run read.
    """

    def __init__(
        self,
        *,
        ecs: Any = None,
        lambda_client: Any = None,
        s3: Any = None,
        ssm: Any = None,
        events: Any = None,
        scheduler: Any = None,
        batch: Any = None,
        sts: Any = None,
        eks: Any = None,
        sagemaker: Any = None,
        codebuild: Any = None,
        region: str | None = None,
        cache: UsageCache | None = None,
        clients: Callable[[str], Any] | None = None,
    ) -> None:
        self.region = region
        self._make_client = clients
        given = {
            "ecs": ecs,
            "lambda": lambda_client,
            "s3": s3,
            "ssm": ssm,
            "events": events,
            "scheduler": scheduler,
            "batch": batch,
            "sts": sts,
            "eks": eks,
            "sagemaker": sagemaker,
            "codebuild": codebuild,
        }
        self._clients: dict[str, Any] = {name: client for name, client in given.items() if client is not None}
        self.cache = cache if cache is not None else UsageCache()

    def _client(self, service: str) -> Any:
        client = self._clients.get(service)
        if client is None and self._make_client is not None:
            client = self._clients[service] = self._make_client(service)
        if client is None:
            try:
                client = boto3.client(service, region_name=self.region, config=client_config())
            except BotoCoreError as error:
                raise UsageError(f"cannot create a {service} client: {describe_error(error)}") from error
            self._clients[service] = client
        return client

    def collect(
        self,
        sources: Sequence[str] = (),
        *,
        ecs: bool = True,
        functions: bool = True,
        revisions: int = 0,
        schedules: bool = False,
        eks: Sequence[str] = (),
        sagemaker: bool = False,
        codebuild: bool = False,
    ) -> list[ImageReference]:
        """Every image reference in use in the region: ECS tasks, services and the digests their
        deployments resolved (`ecs`), Lambda functions (`functions`), the latest `revisions` of every
        ECS task definition family and Batch job definition, the ECS tasks EventBridge rules and
        Scheduler schedules start (`schedules`), the EKS clusters whose names match `eks`, SageMaker
        models, endpoints and inference components (`sagemaker`), CodeBuild projects (`codebuild`),
        and the external `sources`.

        Any failure raises `UsageError` naming the source and the cause; the references gathered so
        far are dropped.
        """
        readers = [source_reader(source, self._client) for source in sources]
        definitions = self.cache.task_definitions
        references: list[ImageReference] = []
        if ecs:
            references += ecs_references(self._client("ecs"), definitions, self.cache.service_revisions)
        if functions:
            references += lambda_references(self._client("lambda"), self.cache.function_versions)
        if revisions:
            references += revision_references(self._client("ecs"), revisions, definitions)
            references += job_definition_references(self._client("batch"), revisions)
        if schedules:
            references += event_rule_references(self._client("events"), self._client("ecs"), definitions)
            references += schedule_references(self._client("scheduler"), self._client("ecs"), definitions)
        if sagemaker:
            references += sagemaker_references(self._client("sagemaker"), self.cache.models)
        if codebuild:
            references += codebuild_references(self._client("codebuild"))
        if eks:
            references += eks_references(
                self._client("eks"), lambda: self._client("sts"), eks, region=self._region()
            )
        for read in readers:
            references += read()
        return list(dict.fromkeys(references))

    def scan(
        self,
        policy: Policy,
        *,
        clock: Callable[[], datetime] | None = None,
        regions: Sequence[str] = (),
    ) -> UsageScan:
        """One scan of what `policy` protects as in use, stamped with the moment it started: this
        account in this collector's region and every other one of `regions` (each reference's source
        then names its region), then every account of `protect.in_use_accounts` (in its regions, or
        in all of `regions`). The external sources are read once."""
        started = (clock or _utc_now)()
        revisions = policy.protect.task_definition_revisions
        own: list[str | None] = [*dict.fromkeys(regions)] or [self.region]
        references: list[ImageReference] = []
        for region in own:
            collector = self if region == self.region else self._in(region)
            found = collector.collect(
                policy.protect.in_use_sources if region == own[0] else (),
                revisions=revisions,
                schedules=True,
                eks=policy.protect.in_use_eks,
                sagemaker=policy.protect.in_use_sagemaker,
                codebuild=policy.protect.in_use_codebuild,
            )
            if len(own) > 1:
                found = [replace(reference, source=f"{region} {reference.source}") for reference in found]
            references += found
        for account in policy.protect.in_use_accounts:

            def collect(
                clients: Callable[[str], Any], cache: UsageCache, account: AccountSource = account
            ) -> list[ImageReference]:
                other = UsageCollector(clients=clients, cache=cache)
                return other.collect(
                    ecs=account.ecs,
                    functions=account.functions,
                    revisions=revisions if account.ecs else 0,
                    schedules=account.ecs,
                    eks=account.eks,
                    sagemaker=account.sagemaker,
                    codebuild=account.codebuild,
                )

            references += account_references(
                account,
                self._client("sts"),
                ",".join(region for region in own if region) if len(own) > 1 else self._region(),
                self.cache,
                collect,
                client_config=client_config(),
            )
        return UsageScan(started, tuple(dict.fromkeys(references)), self.cache)

    def _in(self, region: str | None) -> UsageCollector:
        """A collector of this account in another region, sharing the run's cache (scoped to the
        region for what is named without it)."""
        return UsageCollector(region=region, cache=self.cache.scoped(f"{region}/"))

    def _region(self) -> str:
        """This scan's region: the one given, else that of the STS client's configuration."""
        if self.region:
            return self.region
        region = self._client("sts").meta.region_name
        if not region:
            raise UsageError("protect.in_use_accounts: no region is configured to read other accounts in")
        return str(region)


def _utc_now() -> datetime:
    return datetime.now(UTC)
