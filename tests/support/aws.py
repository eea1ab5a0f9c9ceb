"""Fixtures for tests that talk to an in-process moto (`mock_aws`) with every patch applied."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from ecr_cleanup import handlers
from tests.support import moto_patches
from tests.support.ecr_seed import DEFAULT_REGION


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A fresh, empty moto account in `us-east-1`, with dummy credentials and no real endpoint."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_ECR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", DEFAULT_REGION)
    monkeypatch.setenv("AWS_REGION", DEFAULT_REGION)
    moto_patches.apply_all()
    # The handlers keep their clients for the life of a Lambda execution environment; each test
    # starts a new one.
    handlers._client.cache_clear()
    with mock_aws():
        boto3.setup_default_session()
        yield


class ApiCalls(Counter[str]):
    """Counts the ECR operations every boto3 client made after it was installed."""

    def __call__(self, model: Any, **_: Any) -> None:
        self[model.name] += 1


@pytest.fixture
def api_calls(aws: None) -> ApiCalls:
    """ECR API calls made through the default boto3 session (what `EcrRegistry()` uses)."""
    calls = ApiCalls()
    boto3.DEFAULT_SESSION.events.register("before-call.ecr", calls)  # type: ignore[union-attr]
    return calls
