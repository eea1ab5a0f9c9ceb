"""Runs through faults: throttling, server errors, lost connections, a killed sandbox, bad input.

Each scenario runs the handlers as the state machine does (`execute`) on the same seeded registry
(restored image by image before every run, with an empty run bucket and new clients, as a cold
start) and compares what is left, image by image, with what a clean run of the same policy left.
Whatever happens, no protected image, image in use or child of a kept index may be gone. A scenario
runs once (a class-scoped fixture); its tests each check one thing of what it did.

The retry budget, as botocore 1.44.8 (the version in .venv) implements it for the engine's clients
(`ecr.client_config()`: adaptive mode, ``max_attempts`` = `RETRY_ATTEMPTS` = 20):

- ``max_attempts`` counts retries, not attempts: botocore turns it into ``total_max_attempts`` = 21
  (``args.py`` ``_compute_retry_max_attempts``). A call throttled 20 times in a row still succeeds on
  its 21st attempt; throttled 21 times it fails with the service's error.
- Retried: throttling codes (``ThrottlingException``, ``Throttling``, ``TooManyRequestsException``,
  ``SlowDown``, ...), HTTP 500/502/503/504, 429 when the code is not a modeled error, connection errors
  (``ConnectionClosedError``, ``ReadTimeoutError``), modeled retryable errors
  (``retries/standard.py`` ``StandardRetryConditions``).
- Backoff before retry i (1-based): rand(0, 1) x min(base x 2^(i-1), 20 s), base 1 s after a throttling
  error and 0.05 s after any other (``ExponentialBackoff``); an ``x-amz-retry-after`` header raises it.
- Retry quota (``RetryQuotaChecker``, ``quota.RetryQuota``): 500 tokens per client. A retry after a
  throttling error takes 5, after any other error (5xx, reset, timeout) 14; when the tokens are
  short the call fails at once, without retrying (``RetryQuotaReached``). A call that succeeds
  without a retry gives 1 back, one that succeeds after retries gives back what its last retry took;
  a call that fails gives nothing back. So a call throttled 20 times costs 100; one that fails with
  server errors 21 times costs 280, and a second such call in the same client gets only 15 retries
  (210 tokens), after which every non-throttling error fails at once until successes refill the
  quota, one token per call. The handlers keep one client per service for the life of the Lambda
  execution environment (``handlers._client``): the quota is shared by every repository and every
  invocation a warm sandbox serves.
- Expected change of the quota per call when a share s of attempts fails and the quota is not full:
  (1 - s) x (1 - c x s^2 / (1 - s)^2), c the cost of one retry. Throttling (c = 5): +0.06 at s = 0.3,
  -0.73 at s = 0.4. Resets and timeouts (c = 14): +0.10 at s = 0.2, -1.10 at s = 0.3, so at 30%
  lost connections a client runs out of retries after about 450 calls.
- Adaptive mode (``retries/adaptive.py``, ``bucket.py``, ``throttling.py``): the first throttling
  answer turns on a client-side token bucket; every throttling answer cuts the send rate to 0.7 x
  the measured rate (CUBIC), every other answer lets it grow back; the rate never drops below
  0.5 requests/s nor exceeds twice the measured rate. Only throttling answers slow a client down.

`fast_retries` skips every one of those waits (and records them), so these runs take seconds.
"""

from __future__ import annotations

import copy
import functools
import itertools
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError
from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID

from ecr_cleanup import handlers
from ecr_cleanup.ecr import RETRY_ATTEMPTS, client_config
from ecr_cleanup.handlers import InvalidInput, list_repositories
from ecr_cleanup.policy import PolicyError
from ecr_cleanup.usage import UsageError
from tests.support import ecr_seed, moto_patches
from tests.support.ecr_seed import (
    DEFAULT_REGION,
    create_repository,
    push_image,
    push_images,
    push_multi_platform_image,
)
from tests.support.execution import NOW, Execution, execute
from tests.support.faults import (
    Call,
    Fault,
    Injector,
    InvocationKilled,
    Waits,
    error_response,
    fast_retries,
    injecting,
    throttling_code,
)
from tests.support.moto_server import MotoServer

MOMENT = datetime.fromisoformat(NOW)
ECR = f"{DEFAULT_ACCOUNT_ID}.dkr.ecr.{DEFAULT_REGION}.amazonaws.com"
BUCKET = "cleanup-runs"
PREFIX = "runs/"
FOLDER = f"{PREFIX}{MOMENT:%Y/%m/%d/%H%M%SZ}/"
TOPIC = f"arn:aws:sns:{DEFAULT_REGION}:{DEFAULT_ACCOUNT_ID}:ecr-cleanup"
PARAMETER = "/ecr-cleanup/in-use"
POLICY: dict[str, Any] = {
    "rules": [
        {"description": "untagged after a week", "tag_status": "untagged", "older_than_days": 7},
        {
            "description": "old builds",
            "tag_status": "tagged",
            "tag_patterns": ["build-*"],
            "older_than_days": 30,
            "keep_latest": 3,
        },
    ],
    "protect": {"tag_patterns": ["release-*", "latest"], "in_use_sources": [f"ssm:{PARAMETER}"]},
}
BULK_BUILDS = 330
"""Tagged builds of the repository "bulk": all but the 3 latest are deleted, in 4 batches of <= 100."""
BULK_DELETIONS = BULK_BUILDS - 3
SERVICES = 12
"""Small repositories "svc-00".. of 4 builds and an untagged image: 2 deletions each."""
ECR_READS = frozenset({"DescribeRepositories", "DescribeImages", "BatchGetImage"})
WEB_DELETIONS = ("build-1", "build-1/0", "build-1/1", "build-2")
"""What the policy deletes in "web": an old index with its two children, an old build."""
UNKNOWN_MEDIA_TYPE = "application/vnd.example.manifest.v9+json"

Remaining = dict[str, frozenset[str]]


def days_ago(days: float) -> datetime:
    return MOMENT - timedelta(days=days)


def repository(name: str) -> Callable[[Call], bool]:
    """A fault's `when`: calls about the repository `name`."""
    return lambda call: call.params.get("repositoryName") == name


# The registry


@dataclass
class Registry:
    """What was seeded: every digest by repository, and by label ("api:build-4", "web:build-1/0")."""

    seeded: Remaining = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    must_stay: dict[str, set[str]] = field(default_factory=dict)
    """What no run may delete: protected tags, images in use, children of kept indexes, the newest."""

    def label(self, repository: str, label: str, digest: str, *, stays: bool = False) -> str:
        self.labels[f"{repository}:{label}"] = digest
        if stays:
            self.must_stay.setdefault(repository, set()).add(digest)
        return digest

    def digests(self, repository: str, *labels: str) -> frozenset[str]:
        return frozenset(self.labels[f"{repository}:{label}"] for label in labels)


def seed_registry() -> Registry:
    """Repositories with tagged and untagged images, multi-arch indexes, protected tags, images in
    use by an ECS service, a Lambda function and an SSM parameter, an empty repository, small ones,
    and one with more deletions than a batch holds."""
    registry = Registry()

    create_repository("api")
    for number in range(10):
        digest = push_image("api", tags=[f"build-{number}"], pushed_at=days_ago(100 - 5 * number))
        registry.label("api", f"build-{number}", digest, stays=number >= 7)
    registry.label(
        "api", "release", push_image("api", tags=["release-1"], pushed_at=days_ago(120)), stays=True
    )
    registry.label("api", "latest", push_image("api", tags=["latest"], pushed_at=days_ago(2)), stays=True)
    for age in (20, 15, 3):
        registry.label("api", f"untagged-{age}", push_image("api", pushed_at=days_ago(age)), stays=age < 7)

    create_repository("web")
    for number, age in enumerate((80, 60, 50, 45, 3, 2, 1)):
        if number == 1:
            index, children = push_multi_platform_image("web", tags=["build-1"], pushed_at=days_ago(age))
            registry.label("web", "build-1", index)
            for position, child in enumerate(children):
                registry.label("web", f"build-1/{position}", child)
        else:
            digest = push_image("web", tags=[f"build-{number}"], pushed_at=days_ago(age))
            registry.label("web", f"build-{number}", digest, stays=number >= 4)
    index, children = push_multi_platform_image("web", tags=["release-2"], pushed_at=days_ago(90))
    registry.label("web", "release-2", index, stays=True)
    for position, child in enumerate(children):
        registry.label("web", f"release-2/{position}", child, stays=True)

    create_repository("worker")
    for age in (30, 20, 10, 5, 1):
        registry.label(
            "worker", f"untagged-{age}", push_image("worker", pushed_at=days_ago(age)), stays=age < 7
        )
    registry.label(
        "worker", "latest", push_image("worker", tags=["latest"], pushed_at=days_ago(100)), stays=True
    )

    create_repository("empty")

    for service in range(SERVICES):
        name = f"svc-{service:02d}"
        create_repository(name)
        for number, age in enumerate((60, 50, 40, 2)):
            digest = push_image(name, tags=[f"build-{number}"], pushed_at=days_ago(age))
            registry.label(name, f"build-{number}", digest, stays=number >= 1)
        registry.label(name, "untagged-10", push_image(name, pushed_at=days_ago(10)))

    create_repository("bulk")
    builds = push_images(
        "bulk", BULK_BUILDS, tags=lambda i: [f"build-{i}"], pushed_at=lambda i: days_ago(400 - i)
    )
    for number, digest in enumerate(builds):
        registry.label("bulk", f"build-{number}", digest, stays=number >= BULK_DELETIONS)

    # in use: api:build-4 by an ECS service, web:build-0 by a Lambda function, web:build-3 by SSM
    for name, label in (("api", "build-4"), ("web", "build-0"), ("web", "build-3")):
        registry.must_stay[name].add(registry.labels[f"{name}:{label}"])
    ecs = boto3.client("ecs")
    ecs.create_cluster(clusterName="prod")
    ecs.register_task_definition(
        family="api", containerDefinitions=[{"name": "api", "image": f"{ECR}/api:build-4", "memory": 64}]
    )
    ecs.create_service(cluster="prod", serviceName="api", taskDefinition="api", desiredCount=1)
    role = boto3.client("iam").create_role(RoleName="web-fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    boto3.client("lambda").create_function(
        FunctionName="web", Role=role, PackageType="Image", Code={"ImageUri": f"{ECR}/web:build-0"}
    )
    boto3.client("ssm").put_parameter(Name=PARAMETER, Type="String", Value=f"{ECR}/web:build-3\n")

    registry.seeded = remaining()
    return registry


def remaining() -> Remaining:
    """The digests left in every repository, straight from moto's backend."""
    backend = ecr_seed.ecr_backend()
    return {
        name: frozenset(image.get_image_digest() for image in repo.images)
        for name, repo in backend.repositories.items()
    }


def read_object(name: str) -> Any:
    """A JSON object of the run folder, or None when there is none."""
    try:
        body = boto3.client("s3").get_object(Bucket=BUCKET, Key=f"{FOLDER}{name}")["Body"].read()
    except ClientError:
        return None
    return json.loads(body)


def bucket_keys() -> list[str]:
    listed = boto3.client("s3").list_objects_v2(Bucket=BUCKET)
    return [entry["Key"] for entry in listed.get("Contents", [])]


def notifications() -> int:
    from moto.sns.models import sns_backends

    return len(sns_backends[DEFAULT_ACCOUNT_ID][DEFAULT_REGION].topics[TOPIC].sent_notifications)


@dataclass
class World:
    """One moto account, seeded once, its registry restored before each run."""

    registry: Registry
    snapshot: dict[str, Any]
    clean: Outcome | None = None

    def fresh(self) -> Registry:
        """The registry as seeded, an empty run bucket, no notification sent, and handlers that make
        new clients (a cold sandbox: a full retry quota)."""
        ecr_seed.ecr_backend().repositories = copy.deepcopy(self.snapshot)
        s3 = boto3.client("s3")
        for key in bucket_keys():
            s3.delete_object(Bucket=BUCKET, Key=key)
        from moto.sns.models import sns_backends

        sns_backends[DEFAULT_ACCOUNT_ID][DEFAULT_REGION].topics[TOPIC].sent_notifications.clear()
        handlers._client.cache_clear()
        return self.registry


@dataclass
class Outcome:
    """What one run did and left."""

    execution: Execution | None
    error: BaseException | None
    injected: Injector
    waits: Waits
    remaining: Remaining
    summary: dict[str, Any] | None
    """summary.json, as the run folder holds it."""
    reports: dict[str, Any]
    notifications: int

    @property
    def result(self) -> dict[str, Any]:
        """What the run returned (the execution's output)."""
        assert self.execution is not None, f"the run failed: {self.error!r}"
        return self.execution.summary

    @property
    def failures(self) -> list[dict[str, Any]]:
        assert self.execution is not None, f"the run failed: {self.error!r}"
        return self.execution.failures


def run(
    world: World,
    *faults: Fault,
    seed: int = 0,
    policy: Mapping[str, Any] = POLICY,
    reports: tuple[str, ...] = (),
    fresh: bool = True,
    **arguments: Any,
) -> Outcome:
    """One run of `policy` with `faults`, from the seeded registry unless `fresh` is False."""
    if fresh:
        world.fresh()
    execution: Execution | None = None
    error: BaseException | None = None
    with fast_retries() as waits, injecting(*faults, seed=seed) as injected:
        try:
            execution = execute(policy, **arguments)
        except Exception as raised:
            error = raised
    return Outcome(
        execution,
        error,
        injected,
        waits,
        remaining(),
        read_object("summary.json"),
        {name: read_object(name) for name in reports},
        notifications(),
    )


@contextmanager
def own_account(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A moto account of its own, as the `aws` fixture makes one, with the functions' environment."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_ECR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": DEFAULT_REGION,
        "AWS_REGION": DEFAULT_REGION,
        "REPORT_BUCKET": BUCKET,
        "REPORT_PREFIX": PREFIX,
        "NOTIFICATION_TOPIC_ARN": TOPIC,
        "MOTO_LAMBDA_STUB_ECR": "false",
    }.items():
        monkeypatch.setenv(name, value)
    # the same manifests, so the same digests, in every process
    monkeypatch.setattr(ecr_seed, "_unique", itertools.count())
    monkeypatch.setattr(ecr_seed, "_run", "test_faults")
    moto_patches.apply_all()
    handlers._client.cache_clear()
    with mock_aws():
        boto3.setup_default_session()
        try:
            yield
        finally:
            handlers._client.cache_clear()


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with pytest.MonkeyPatch.context() as monkeypatch, own_account(monkeypatch):
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        boto3.client("sns").create_topic(Name=TOPIC.rsplit(":", 1)[1])
        registry = seed_registry()
        seeded = World(registry, copy.deepcopy(ecr_seed.ecr_backend().repositories))
        seeded.clean = run(seeded, reports=("repositories/us-east-1/empty.json",))
        yield seeded


@pytest.fixture(scope="module")
def clean(world: World) -> Outcome:
    assert world.clean is not None
    return world.clean


def expected(clean: Outcome, **besides: frozenset[str] | None) -> Remaining:
    """Every repository as the clean run left it, but those named (None: the repository is gone)."""
    left = {**clean.remaining, **besides}
    return {name: digests for name, digests in left.items() if digests is not None}


def gone_but_must_stay(registry: Registry, left: Remaining) -> list[str]:
    return sorted(
        label
        for label, digest in registry.labels.items()
        if digest in registry.must_stay.get(label.split(":", 1)[0], set())
        and digest not in left.get(label.split(":", 1)[0], frozenset())
    )


# The baseline


class TestCleanRun:
    def test_deletes_what_the_policy_says_and_keeps_the_rest(self, world: World, clean: Outcome) -> None:
        labels = world.registry.labels
        deleted = {
            label for label, digest in labels.items() if digest not in clean.remaining[label.split(":")[0]]
        }
        assert deleted == {
            *(f"api:build-{n}" for n in (0, 1, 2, 3, 5, 6)),
            "api:untagged-20",
            "api:untagged-15",
            *(f"web:{label}" for label in WEB_DELETIONS),
            "worker:untagged-30",
            "worker:untagged-20",
            "worker:untagged-10",
            *(f"bulk:build-{n}" for n in range(BULK_DELETIONS)),
            *(f"svc-{n:02d}:{label}" for n in range(SERVICES) for label in ("build-0", "untagged-10")),
        }
        assert clean.result["deleted"] == len(deleted)

    def test_keeps_protected_images_in_use_and_children_of_kept_indexes(
        self, world: World, clean: Outcome
    ) -> None:
        assert gone_but_must_stay(world.registry, clean.remaining) == []

    def test_fails_nowhere_and_notifies_once(self, clean: Outcome) -> None:
        assert (clean.failures, clean.result["failed_count"], clean.notifications) == ([], 0, 1)

    def test_cleans_an_empty_repository_with_nothing_deleted(self, clean: Outcome) -> None:
        assert "empty" not in clean.result["failed"]
        report = clean.reports["repositories/us-east-1/empty.json"]
        assert (report["delete"], report["keep"], report["deleted"], report["failures"]) == ([], [], [], [])


# a. Throttling


class TestThirtyPercentOfReadsThrottled:
    @pytest.fixture(scope="class")
    @classmethod
    def outcome(cls, world: World) -> Outcome:
        return run(
            world,
            Fault("throttle", services="ecr", operations=ECR_READS, share=0.3),
            Fault("throttle", services=("ecs", "lambda"), share=0.3),
            seed=7,
        )

    def test_ends_as_the_clean_run(self, outcome: Outcome, clean: Outcome) -> None:
        assert outcome.remaining == clean.remaining

    def test_fails_nowhere(self, outcome: Outcome) -> None:
        assert (outcome.failures, outcome.result["failed_count"]) == ([], 0)

    def test_throttled_registry_and_usage_reads(self, outcome: Outcome) -> None:
        assert outcome.injected.total() >= 5
        assert outcome.injected.of("ecr")["DescribeImages"] > 0
        assert outcome.injected.of("ecs") or outcome.injected.of("lambda")

    def test_retried_every_throttled_call(self, outcome: Outcome) -> None:
        assert outcome.waits.retries == outcome.injected.total()
        assert outcome.waits.waited > 0


class TestReadThrottledAsOftenAsTheClientRetries:
    @pytest.fixture(scope="class")
    @classmethod
    def outcome(cls, world: World) -> Outcome:
        fault = Fault(
            "throttle",
            services="ecr",
            operations="DescribeImages",
            when=repository("web"),
            first=RETRY_ATTEMPTS,
        )
        return run(world, fault)

    def test_was_retried_that_many_times(self, outcome: Outcome) -> None:
        assert outcome.injected.total() == outcome.waits.retries == RETRY_ATTEMPTS

    def test_still_succeeds(self, outcome: Outcome, clean: Outcome) -> None:
        assert outcome.result["failed_count"] == 0
        assert outcome.remaining == clean.remaining


class TestListingThrottledOnceMoreThanTheClientRetries:
    @pytest.fixture(scope="class")
    @classmethod
    def outcome(cls, world: World) -> Outcome:
        fault = Fault(
            "throttle",
            services="ecr",
            operations="DescribeImages",
            when=repository("web"),
            first=RETRY_ATTEMPTS + 1,
        )
        return run(world, fault)

    def test_gave_up_after_the_last_attempt(self, outcome: Outcome) -> None:
        assert outcome.injected.total() == RETRY_ATTEMPTS + 1
        assert outcome.waits.retries == RETRY_ATTEMPTS

    def test_fails_that_repository_with_the_reason(self, outcome: Outcome) -> None:
        assert outcome.result["failed"] == ["web"]
        assert "web: describing images failed: ThrottlingException" in outcome.result["message"]

    def test_cleans_the_others_and_leaves_that_one_untouched(
        self, world: World, outcome: Outcome, clean: Outcome
    ) -> None:
        assert outcome.remaining == expected(clean, web=world.registry.seeded["web"])


class TestUsageReadThrottledOnceMoreThanTheClientRetries:
    @pytest.fixture(scope="class")
    @classmethod
    def outcome(cls, world: World) -> Outcome:
        return run(
            world, Fault("throttle", services="ecs", operations="ListServices", first=RETRY_ATTEMPTS + 1)
        )

    def test_stops_the_run_saying_why(self, outcome: Outcome) -> None:
        assert isinstance(outcome.error, UsageError)
        assert "ECS ListServices" in str(outcome.error)
        assert "ThrottlingException" in str(outcome.error)
        assert outcome.injected.total() == RETRY_ATTEMPTS + 1

    def test_deletes_nothing_anywhere(self, world: World, outcome: Outcome) -> None:
        assert outcome.remaining == world.registry.seeded
        assert outcome.summary is not None
        assert outcome.summary["message"].startswith("Nothing was deleted")


class TestDeletionsOfOneRepositoryFailingOnServerErrors:
    """Every BatchDeleteImage of "bulk" (4 batches) fails with a 500."""

    @pytest.fixture(scope="class")
    @classmethod
    def outcome(cls, world: World) -> Outcome:
        return run(
            world, Fault("server", services="ecr", operations="BatchDeleteImage", when=repository("bulk"))
        )

    def test_spend_the_clients_retry_quota(self, outcome: Outcome) -> None:
        """20 retries (280 tokens), 15 (210 of the 220 left), then none: 10 tokens cannot pay 14."""
        assert outcome.injected.total() == (RETRY_ATTEMPTS + 1) + 16 + 1 + 1
        assert outcome.waits.retries == RETRY_ATTEMPTS + 15

    def test_delete_nothing_of_that_repository(self, world: World, outcome: Outcome, clean: Outcome) -> None:
        assert outcome.remaining == expected(clean, bulk=world.registry.seeded["bulk"])

    def test_are_counted_in_the_summary(self, outcome: Outcome) -> None:
        assert f"bulk: {BULK_DELETIONS} images could not be deleted" in outcome.result["message"]


# b. Deletions that always fail in one repository


class TestDeletionsOfOneRepositoryAlwaysFailing:
    """Every BatchDeleteImage of "web" (one batch: an index, its two children, a build) fails."""

    @pytest.fixture(scope="class")
    @classmethod
    def outcome(cls, world: World) -> Outcome:
        fault = Fault("server", services="ecr", operations="BatchDeleteImage", when=repository("web"))
        return run(world, fault, reports=("repositories/us-east-1/web.json",))

    def test_report_that_repository_failed_with_the_count(self, outcome: Outcome) -> None:
        assert outcome.failures == []
        assert outcome.result["failed"] == ["web"]
        assert f"web: {len(WEB_DELETIONS)} images could not be deleted" in outcome.result["message"]

    def test_are_listed_failed_in_summary_json(self, outcome: Outcome) -> None:
        assert outcome.summary is not None
        assert (outcome.summary["failed"], outcome.summary["failed_count"]) == (["web"], 1)

    def test_are_reported_image_by_image_with_the_error(self, world: World, outcome: Outcome) -> None:
        report = outcome.reports["repositories/us-east-1/web.json"]
        assert report["deleted"] == []
        assert {failure["digest"] for failure in report["failures"]} == world.registry.digests(
            "web", *WEB_DELETIONS
        )
        assert {failure["code"] for failure in report["failures"]} == {"ServerException"}

    def test_delete_nothing_of_that_repository_and_clean_the_others(
        self, world: World, outcome: Outcome, clean: Outcome
    ) -> None:
        assert outcome.remaining == expected(clean, web=world.registry.seeded["web"])
        assert outcome.result["deleted"] == clean.result["deleted"] - len(WEB_DELETIONS)


# c. The images in use cannot be read


SOURCE_FAILURES = {
    "lambda-throttled": (
        Fault("throttle", services="lambda", operations="ListFunctions"),
        "Lambda ListFunctions: TooManyRequestsException",
    ),
    "ssm-failing": (
        Fault("server", services="ssm", operations="GetParameter"),
        f"ssm:{PARAMETER}: InternalServerError",
    ),
}


class TestImagesInUseSourceFailing:
    @pytest.fixture(scope="class", params=sorted(SOURCE_FAILURES))
    @classmethod
    def failing(cls, request: pytest.FixtureRequest) -> tuple[Fault, str]:
        return SOURCE_FAILURES[request.param]

    @pytest.fixture(scope="class")
    @classmethod
    def outcome(cls, world: World, failing: tuple[Fault, str]) -> Outcome:
        return run(world, failing[0])

    def test_stops_the_run_saying_why(self, outcome: Outcome, failing: tuple[Fault, str]) -> None:
        assert isinstance(outcome.error, UsageError)
        assert failing[1] in str(outcome.error)
        assert outcome.injected.total() == RETRY_ATTEMPTS + 1

    def test_deletes_nothing_anywhere(self, world: World, outcome: Outcome) -> None:
        assert outcome.remaining == world.registry.seeded

    def test_says_so_in_summary_json(self, outcome: Outcome, failing: tuple[Fault, str]) -> None:
        assert outcome.summary is not None
        assert outcome.summary["deleted"] == 0
        assert f"images in use could not be read: {failing[1]}" in outcome.summary["error"]


# d. A cleanup invocation killed mid-way, and the next run


class TestCleanupKilledAfterTwoOfFourDeleteBatches:
    @pytest.fixture(scope="class")
    @classmethod
    def outcomes(cls, world: World) -> tuple[Outcome, Outcome]:
        kill = Fault(
            "kill", services="ecr", operations="BatchDeleteImage", when=repository("bulk"), after=1, first=1
        )
        killed = run(world, kill)
        following = run(world, fresh=False, execution="next")
        return killed, following

    def test_records_the_failure_as_step_functions_does(self, outcomes: tuple[Outcome, Outcome]) -> None:
        killed, _ = outcomes
        assert killed.injected.total() == 1
        assert [failure["Error"] for failure in killed.failures] == ["Sandbox.Timedout"]

    def test_reports_the_repository_failed_with_the_reason(self, outcomes: tuple[Outcome, Outcome]) -> None:
        killed, _ = outcomes
        assert "bulk" in killed.result["failed"]
        assert "bulk: Sandbox.Timedout: RequestId: " in killed.result["message"]

    def test_deleted_only_what_the_plan_said_before_it_ended(
        self, world: World, outcomes: tuple[Outcome, Outcome], clean: Outcome
    ) -> None:
        killed, _ = outcomes
        seeded = world.registry.seeded["bulk"]
        gone = seeded - killed.remaining["bulk"]
        assert len(gone) == 200, "two batches of 100 were deleted before the sandbox ended"
        assert gone <= seeded - clean.remaining["bulk"]
        assert gone_but_must_stay(world.registry, killed.remaining) == []

    def test_counts_what_it_deleted_before_it_ended(
        self, world: World, outcomes: tuple[Outcome, Outcome]
    ) -> None:
        killed, _ = outcomes
        gone = sum(len(digests - killed.remaining[name]) for name, digests in world.registry.seeded.items())
        assert killed.result["deleted"] == gone

    def test_the_next_run_finishes_the_work(self, outcomes: tuple[Outcome, Outcome], clean: Outcome) -> None:
        _, following = outcomes
        assert (following.failures, following.result["failed_count"]) == ([], 0)
        assert following.remaining == clean.remaining


def test_a_killed_sandbox_is_not_caught_by_the_code_it_interrupts(world: World) -> None:
    world.fresh()
    with injecting(Fault("kill", services="ecr", operations="CreateRepository")):
        try:
            boto3.client("ecr").create_repository(repositoryName="made")
        except Exception:  # what the handlers catch
            pytest.fail("an ended sandbox runs no more handler code")
        except InvocationKilled:
            pass
    assert "made" in remaining(), "the request it was killed after was served"


# e. Transient faults of the run data, the notification and the parameter


class TestTransientFaultsOfRunDataNotificationAndParameter:
    @pytest.fixture(scope="class")
    @classmethod
    def outcome(cls, world: World) -> Outcome:
        faults = (
            Fault("throttle", services="s3", share=0.3),
            Fault("server", services="s3", share=0.1),
            Fault("throttle", services="ssm", first=2),
            Fault("unavailable", services="sns", first=1),
        )
        return run(world, *faults, seed=3)

    def test_end_as_the_clean_run(self, outcome: Outcome, clean: Outcome) -> None:
        assert (outcome.failures, outcome.result["failed_count"]) == ([], 0)
        assert outcome.remaining == clean.remaining

    def test_were_injected_and_retried(self, outcome: Outcome) -> None:
        assert outcome.injected.of("s3").total() >= 5
        assert (outcome.injected.of("ssm"), outcome.injected.of("sns")) == (
            {"GetParameter": 2},
            {"Publish": 1},
        )
        assert outcome.waits.retries == outcome.injected.total()

    def test_still_notify_once(self, outcome: Outcome) -> None:
        assert outcome.notifications == 1


class TestLostAnswerToTheWriteThatClaimsTheRunFolder:
    """The items are written only if absent (If-None-Match: *); the answer to that write is lost, so
    the client's retry finds the object its first attempt wrote."""

    @pytest.fixture(scope="class")
    @classmethod
    def outcome(cls, world: World) -> Outcome:
        lost = Fault(
            "timeout",
            services="s3",
            operations="PutObject",
            served=True,
            first=1,
            when=lambda call: str(call.params.get("Key", "")).endswith("_run/items.json"),
        )
        return run(world, lost)

    def test_does_not_stop_the_run(self, outcome: Outcome) -> None:
        assert outcome.injected.total() == 1
        assert outcome.error is None, f"the run stopped: {outcome.error}"

    def test_ends_as_the_clean_run(self, outcome: Outcome, clean: Outcome) -> None:
        assert outcome.remaining == clean.remaining


# f. Lost connections


class TestResetsAndTimeoutsOfRegistryReads:
    @pytest.fixture(scope="class")
    @classmethod
    def outcome(cls, world: World) -> Outcome:
        faults = (
            Fault("reset", services="ecr", operations=ECR_READS, share=0.15),
            Fault("timeout", services="ecr", operations=ECR_READS, share=0.1),
        )
        return run(world, *faults, seed=11)

    def test_are_retried(self, outcome: Outcome) -> None:
        assert outcome.injected.total("reset") > 0
        assert outcome.injected.total("timeout") > 0
        assert outcome.waits.retries == outcome.injected.total()

    def test_end_as_the_clean_run(self, outcome: Outcome, clean: Outcome) -> None:
        assert (outcome.failures, outcome.result["failed_count"]) == ([], 0)
        assert outcome.remaining == clean.remaining


class TestDeleteBatchWhoseAnswerWasLost:
    """The first BatchDeleteImage of "web" is carried out, but its answer never arrives."""

    @pytest.fixture(scope="class")
    @classmethod
    def outcome(cls, world: World) -> Outcome:
        lost = Fault(
            "timeout",
            services="ecr",
            operations="BatchDeleteImage",
            served=True,
            first=1,
            when=repository("web"),
        )
        return run(world, lost)

    def test_counts_its_images_as_deleted(self, outcome: Outcome, clean: Outcome) -> None:
        assert outcome.injected.total() == 1
        assert outcome.result["failed_count"] == 0
        assert outcome.result["deleted"] == clean.result["deleted"]

    def test_ends_as_the_clean_run(self, outcome: Outcome, clean: Outcome) -> None:
        assert outcome.remaining == clean.remaining


# g. Bad input


@pytest.mark.parametrize(
    ("execution_input", "message"),
    [
        (["dry_run"], "execution input: must be a JSON object"),
        ("dry_run", "execution input: must be a JSON object"),
        (1, "execution input: must be a JSON object"),
        ({"dryrun": True}, "execution input: unknown field 'dryrun'; allowed: dry_run"),
        ({"dry_run": "no"}, 'execution input.dry_run: must be true or false, got "no"'),
    ],
)
def test_a_malformed_execution_input_is_refused_by_name_before_anything_is_touched(
    world: World, execution_input: object, message: str
) -> None:
    registry = world.fresh()
    with pytest.raises(InvalidInput, match=message):
        list_repositories({"policy": POLICY, "dry_run": False, "input": execution_input, "now": NOW})
    assert remaining() == registry.seeded
    assert bucket_keys() == []


def test_a_negative_age_in_a_rule_is_refused_by_its_field_before_anything_is_touched(world: World) -> None:
    registry = world.fresh()
    policy = {**POLICY, "rules": [{"tag_status": "any", "older_than_days": -1}]}
    with pytest.raises(
        PolicyError, match=r"rules\[0\]\.older_than_days: must be a non-negative whole number"
    ):
        execute(policy)
    assert remaining() == registry.seeded
    assert bucket_keys() == []


@contextmanager
def described(changes: Mapping[str, Callable[[dict[str, Any]], None]]) -> Iterator[None]:
    """DescribeImages says of the image of each digest what `changes` make of its description."""
    from moto.ecr.responses import ECRResponse

    original = ECRResponse.describe_images

    @functools.wraps(original)
    def describe_images(self: ECRResponse) -> Any:
        answer: Any = original(self)  # (status, headers, body): moto_patches answers DescribeImages so
        status, headers, body = answer
        document = json.loads(body)
        for detail in document.get("imageDetails", []):
            change = changes.get(detail.get("imageDigest"))
            if change is not None:
                change(detail)
        return status, headers, json.dumps(document)

    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(ECRResponse, "describe_images", describe_images)
        yield


class TestImageDescribedWithoutItsPushTime:
    @pytest.fixture(scope="class")
    @classmethod
    def outcome(cls, world: World) -> Outcome:
        digest = world.registry.labels["worker:untagged-30"]
        with described({digest: lambda detail: detail.pop("imagePushedAt")}):
            return run(world)

    def test_fails_its_repository_with_the_reason(self, outcome: Outcome) -> None:
        assert outcome.result["failed"] == ["worker"]
        assert "worker: unexpected image description: imagePushedAt: required" in outcome.result["message"]

    def test_deletes_nothing_there_and_cleans_the_others(
        self, world: World, outcome: Outcome, clean: Outcome
    ) -> None:
        assert outcome.remaining == expected(clean, worker=world.registry.seeded["worker"])


def test_an_image_described_without_its_size_is_cleaned_as_any_other(world: World, clean: Outcome) -> None:
    digest = world.registry.labels["worker:untagged-30"]
    with described({digest: lambda detail: detail.pop("imageSizeInBytes")}):
        outcome = run(world)
    assert outcome.result["failed_count"] == 0
    assert outcome.remaining == clean.remaining


def test_an_image_of_an_unknown_manifest_media_type_is_not_deleted(world: World, clean: Outcome) -> None:
    """Kept, or its repository fails untouched; the other repositories are cleaned either way."""
    digest = world.registry.labels["api:build-0"]
    with described({digest: lambda detail: detail.update(imageManifestMediaType=UNKNOWN_MEDIA_TYPE)}):
        outcome = run(world)
    assert outcome.remaining["api"] in (clean.remaining["api"] | {digest}, world.registry.seeded["api"])
    assert outcome.remaining == expected(clean, api=outcome.remaining["api"])


class TestRepositoryDeletedBetweenListingAndCleaning:
    @pytest.fixture(scope="class")
    @classmethod
    def outcome(cls, world: World) -> Outcome:
        def delete_worker(_: Execution) -> None:
            boto3.client("ecr").delete_repository(repositoryName="worker", force=True)

        return run(world, after_prepare=delete_worker)

    def test_is_reported_with_the_reason(self, outcome: Outcome) -> None:
        assert outcome.result["failed"] == ["worker"]
        assert "worker: " in outcome.result["message"]
        assert "RepositoryNotFoundException" in outcome.result["message"]

    def test_does_not_stop_the_others(self, outcome: Outcome, clean: Outcome) -> None:
        assert outcome.remaining == expected(clean, worker=None)


# The injector itself


SERVICE_CALLS: dict[str, Callable[[Any], Any]] = {
    "ecr": lambda client: client.describe_repositories(),
    "ecs": lambda client: client.list_clusters(),
    "lambda": lambda client: client.list_functions(),
    "s3": lambda client: client.list_buckets(),
    "ssm": lambda client: client.describe_parameters(),
    "sns": lambda client: client.list_topics(),
    "sts": lambda client: client.get_caller_identity(),
    "events": lambda client: client.list_rules(),
    "scheduler": lambda client: client.list_schedules(),
    "batch": lambda client: client.describe_job_definitions(),
}
EXPECTED_THROTTLING = {
    "ecr": ("ThrottlingException", 400),
    "ecs": ("ThrottlingException", 400),
    "lambda": ("TooManyRequestsException", 429),
    "s3": ("SlowDown", 503),
    "ssm": ("ThrottlingException", 400),
    "sns": ("Throttling", 400),
    "sts": ("Throttling", 400),
    "events": ("ThrottlingException", 400),
    "scheduler": ("ThrottlingException", 429),
    "batch": ("ThrottlingException", 400),
}
NO_RETRY = Config(retries={"total_max_attempts": 1})


def error_of(call: Callable[[], Any]) -> tuple[str, int]:
    with pytest.raises(ClientError) as raised:
        call()
    return raised.value.response["Error"]["Code"], raised.value.response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.mark.parametrize("service", sorted(SERVICE_CALLS))
def test_each_service_throttles_with_its_own_error_and_botocore_reads_it(world: World, service: str) -> None:
    client = boto3.client(service, config=NO_RETRY)
    assert throttling_code(service) == EXPECTED_THROTTLING[service]
    with injecting(Fault("throttle", services=service)):
        assert error_of(lambda: SERVICE_CALLS[service](client)) == EXPECTED_THROTTLING[service]
    with injecting(Fault("server", services=service)):
        assert error_of(lambda: SERVICE_CALLS[service](client))[1] == 500
    with injecting(Fault("unavailable", services=service)):
        assert error_of(lambda: SERVICE_CALLS[service](client))[1] == 503


@pytest.mark.parametrize(
    ("kind", "raised"), [("reset", ConnectionClosedError), ("timeout", ReadTimeoutError)]
)
def test_a_lost_connection_raises_what_botocore_raises(
    world: World, kind: str, raised: type[Exception]
) -> None:
    with injecting(Fault(kind, services="ecr")), pytest.raises(raised):
        boto3.client("ecr", config=NO_RETRY).describe_repositories()


def test_faults_reach_clients_of_the_moto_server_too() -> None:
    with MotoServer() as server:
        ecr = server.client("ecr", config=NO_RETRY)
        with injecting(Fault("throttle", services="ecr")):
            assert error_of(ecr.describe_repositories) == ("ThrottlingException", 400)
        with injecting(Fault("reset", services="ecr")), pytest.raises(ConnectionClosedError):
            ecr.describe_repositories()


def test_the_same_seed_fails_the_same_calls(world: World) -> None:
    client = boto3.client("ecs", config=NO_RETRY)

    def failed_calls(seed: int) -> list[int]:
        failed = []
        with injecting(Fault("throttle", services="ecs", share=0.3), seed=seed):
            for number in range(40):
                try:
                    client.list_clusters()
                except ClientError:
                    failed.append(number)
        return failed

    assert failed_calls(1) == failed_calls(1)
    assert failed_calls(1) != failed_calls(2)
    assert 4 <= len(failed_calls(1)) <= 20


def test_after_and_first_choose_which_matching_calls_fail(world: World) -> None:
    client = boto3.client("ecs", config=NO_RETRY)
    outcomes = []
    with injecting(Fault("server", services="ecs", operations="ListClusters", after=2, first=3)) as injected:
        for _ in range(7):
            try:
                client.list_clusters()
                outcomes.append("ok")
            except ClientError:
                outcomes.append("failed")
            client.list_task_definitions()
    assert outcomes == ["ok", "ok", "failed", "failed", "failed", "ok", "ok"]
    assert injected.injected == {("ecs", "ListClusters", "server"): 3}


def test_fast_retries_record_the_backoff_instead_of_sleeping(world: World) -> None:
    client = boto3.client("ecr", config=client_config())
    with fast_retries() as waits, injecting(Fault("throttle", services="ecr", first=RETRY_ATTEMPTS)):
        client.describe_repositories()
    assert waits.retries == RETRY_ATTEMPTS
    assert waits.waited > 10  # up to 20 s per retry, had it slept


def test_an_error_answer_follows_the_protocol_of_the_service() -> None:
    status, headers, body = error_response("ecr", "ThrottlingException", 400, "Rate exceeded")
    assert (status, headers["x-amzn-ErrorType"], json.loads(body)["__type"]) == (
        400,
        *["ThrottlingException"] * 2,
    )
    assert "<Code>Throttling</Code>" in error_response("sns", "Throttling", 400, "Rate exceeded")[2]
    assert "<Error><Code>SlowDown</Code>" in error_response("s3", "SlowDown", 503, "Slow down")[2]
