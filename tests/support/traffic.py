"""What reaches the emulated AWS: every request counted per service and operation, optionally slowed.

It hooks moto's request dispatch, so it sees the same requests whether they arrive through the moto
server (HTTP), in-process under ``mock_aws``, or from the Lambda handlers the harness runs in this
process; counts are what the service would have received, retries included.

    with recording(delay=0.03, services={"ecr"}) as traffic:
        ...
    traffic.of("ecs")["ListClusters"]

Only one recording is active at a time.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["Traffic", "install", "recording"]

_SERVICE_NAMES = {"awslambda": "lambda"}


class Traffic:
    """Requests counted by (service, operation); `delay` seconds added to each request of `services`
    (every service when None), as a real region's latency would."""

    def __init__(self, *, delay: float = 0.0, services: set[str] | None = None) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()
        self.delay = delay
        self.services = services
        self._lock = threading.Lock()

    def served(self, service: str, operation: str) -> None:
        with self._lock:
            self.calls[service, operation] += 1
        if self.delay and (self.services is None or service in self.services):
            time.sleep(self.delay)

    def of(self, service: str) -> Counter[str]:
        """The operations of one service and how often each was called."""
        return Counter({operation: n for (name, operation), n in self.calls.items() if name == service})

    def total(self, *services: str) -> int:
        return sum(n for (name, _), n in self.calls.items() if name in services)

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()


class _Hook:
    """The recording moto's dispatch reports to, if any, and whether the dispatch is hooked."""

    active: Traffic | None = None
    installed = False
    lock = threading.Lock()


@contextmanager
def recording(*, delay: float = 0.0, services: set[str] | None = None) -> Iterator[Traffic]:
    """Count (and slow down) every request moto serves until the block ends."""
    install()
    traffic = Traffic(delay=delay, services=services)
    _Hook.active = traffic
    try:
        yield traffic
    finally:
        _Hook.active = None


def _observe(service: str, operation: str) -> None:
    traffic = _Hook.active
    if traffic is not None:
        name = _SERVICE_NAMES.get(service, service)
        traffic.served(name, _operation_names(name).get(operation.lower(), operation))


@functools.cache
def _operation_names(service: str) -> dict[str, str]:
    """The service's operation names by their lower-case form (moto names some REST actions so)."""
    import botocore.session

    try:
        model = botocore.session.get_session().get_service_model(service)
    except Exception:  # an unknown service keeps the names moto gives
        return {}
    return {name.lower(): name for name in model.operation_names}


def install() -> None:
    """Hook moto's dispatch (idempotent): the operation of every service, and S3's by method."""
    with _Hook.lock:
        if _Hook.installed:
            return
        from moto.core.responses import BaseResponse
        from moto.s3.responses import S3Response

        call_action = BaseResponse.call_action

        @functools.wraps(call_action)
        def observed_call_action(self: BaseResponse) -> Any:
            _observe(str(self.service_name), self._get_action())
            return call_action(self)

        def s3_entry(original: Callable[..., Any], kind: str) -> Callable[..., Any]:
            @functools.wraps(original)
            def observed(self: S3Response, request: Any, full_url: str) -> Any:
                _observe("s3", f"{request.method} {kind}")
                return original(self, request, full_url)

            return observed

        BaseResponse.call_action = observed_call_action  # type: ignore[method-assign]
        S3Response._key_response = s3_entry(S3Response._key_response, "object")  # type: ignore[method-assign]
        S3Response._bucket_response = s3_entry(S3Response._bucket_response, "bucket")  # type: ignore[method-assign]
        _Hook.installed = True
