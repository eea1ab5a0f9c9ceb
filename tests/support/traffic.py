"""What reaches the emulated AWS: every request counted per service and operation, optionally slowed.

It hooks moto's request dispatch, so it sees the same requests whether they arrive through the moto
server (HTTP), in-process under ``mock_aws``, or from the Lambda handlers the harness runs in this
process; counts are what the service would have received, retries included.

    with recording(delay=0.03, services={"ecr"}) as traffic:
        ...
    traffic.of("ecs")["ListClusters"]

Only one recording is active at a time.

The same hook lets one interceptor (``tests.support.faults``) stand between moto's dispatch and the
action: it sees each request after it was counted and decides what is answered (see ``intercepting``).
"""

from __future__ import annotations

import functools
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["Interceptor", "Served", "Traffic", "install", "intercepting", "recording"]

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


class Served:
    """One request moto is about to serve, as an interceptor sees it.

    `service` and `operation` are named as `Traffic` counts them (S3: "GET object", "PUT bucket"...);
    `handler` is moto's response object serving it (a ``BaseResponse``, or the ``S3Response``), and
    `request` the request moto normalised (a werkzeug request, whether in-process or through the
    server); `url` is the request's full URL.
    """

    __slots__ = ("handler", "operation", "request", "service", "url")

    def __init__(self, service: str, operation: str, handler: Any, request: Any, url: str | None) -> None:
        self.service = service
        self.operation = operation
        self.handler = handler
        self.request = request
        self.url = url


Interceptor = Callable[[Served, Callable[[], Any]], Any]
"""Called with the request and a function that serves it (moto's own action); returns the response
(status, headers, body) — moto's, or one of its own — or raises."""


class _Hook:
    """The recording moto's dispatch reports to, if any, the interceptor, and whether the dispatch is
    hooked."""

    active: Traffic | None = None
    interceptor: Interceptor | None = None
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


@contextmanager
def intercepting(interceptor: Interceptor) -> Iterator[None]:
    """Let `interceptor` answer every request moto serves until the block ends (one at a time)."""
    install()
    with _Hook.lock:
        if _Hook.interceptor is not None:
            raise RuntimeError("another interceptor is active")
        _Hook.interceptor = interceptor
    try:
        yield
    finally:
        _Hook.interceptor = None


def _observe(service: str, operation: str) -> tuple[str, str]:
    """Count the request (if recording); returns its service and operation as `Traffic` names them."""
    name = _SERVICE_NAMES.get(service, service)
    operation = _operation_names(name).get(operation.lower(), operation)
    traffic = _Hook.active
    if traffic is not None:
        traffic.served(name, operation)
    return name, operation


def _serve(
    names: tuple[str, str], handler: Any, request: Any, url: str | None, serve: Callable[[], Any]
) -> Any:
    interceptor = _Hook.interceptor
    if interceptor is None:
        return serve()
    return interceptor(Served(*names, handler, request, url), serve)


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
            names = _observe(str(self.service_name), self._get_action())
            request = getattr(self, "normalized_request", None)
            return _serve(names, self, request, getattr(self, "uri", None), lambda: call_action(self))

        def s3_entry(original: Callable[..., Any], kind: str) -> Callable[..., Any]:
            @functools.wraps(original)
            def observed(self: S3Response, request: Any, full_url: str) -> Any:
                names = _observe("s3", f"{request.method} {kind}")
                return _serve(names, self, request, full_url, lambda: original(self, request, full_url))

            return observed

        BaseResponse.call_action = observed_call_action  # type: ignore[method-assign]
        S3Response._key_response = s3_entry(S3Response._key_response, "object")  # type: ignore[method-assign]
        S3Response._bucket_response = s3_entry(S3Response._bucket_response, "bucket")  # type: ignore[method-assign]
        _Hook.installed = True
