"""Faults in what the emulated AWS answers: a chosen share of calls to chosen operations fails, from a seed.

The injector stands where `tests.support.traffic` counts requests (moto's dispatch), so it works alike
for in-process ``mock_aws``, for the moto server, and for the Lambda handlers the harness runs in this
process; a request it fails still counts as one the service received (a retry is a new request).

    with fast_retries() as waits, injecting(Fault("throttle", services="ecr", share=0.3), seed=7) as faults:
        execute(policy)
    faults.injected[("ecr", "DescribeImages", "throttle")], waits.retries

Kinds of fault:

- ``throttle``: the service's own throttling error, as its protocol carries it: ``ThrottlingException``
  (400, JSON services: ECR, ECS, SSM, EventBridge, Step Functions, Batch; 429 for EventBridge
  Scheduler), ``TooManyRequestsException`` (429, Lambda), ``SlowDown`` (503, S3), ``Throttling``
  (400, the query services: SNS, STS).
- ``server``: the service's internal error (500): ``ServerException`` (ECR, ECS, Batch),
  ``ServiceException`` (Lambda), ``InternalError`` (S3, SNS), ``InternalServerError`` (SSM),
  ``InternalException`` (EventBridge), ``InternalServerException`` (Scheduler), else ``InternalFailure``.
- ``unavailable``: ``ServiceUnavailable`` (503).
- ``reset`` / ``timeout``: the connection fails before an answer arrives. In-process the client gets
  what botocore raises for it, ``ConnectionClosedError`` / ``ReadTimeoutError`` (both retried, as
  transient errors); through the server the connection is dropped (``timeout`` after holding the
  request ``delay`` seconds, 1 s by default: give the client a shorter ``read_timeout``). With
  ``served=True`` moto serves the request first: the answer is lost, what it did is done.
- ``slow``: the answer comes ``delay`` seconds late.
- ``kill``: the Lambda sandbox running the caller ends (``InvocationKilled``, which Step Functions
  reports as ``Sandbox.Timedout``) right after moto served the request: what the call did is done,
  the invocation never hears of it. In-process only (the exception is raised on the caller's thread);
  `tests.support.execution.execute` catches it as the Map child's Catch does.

Errors carry a body botocore parses (``{"__type": code, "message": ...}`` and ``x-amzn-ErrorType``
for JSON protocols, an XML ``ErrorResponse`` for query, an XML ``Error`` for S3), so the client sees
the code and retries exactly as it would against AWS.

How faults pick calls: a call matches a fault when its service and operation are among the fault's
(every one when None) and `when` (a predicate on the `Call`) holds. The first `after` matching calls
are let through; after those, each matching call fails with probability `share`, drawn from a random
generator seeded by `seed` and the fault's position, until `first` calls failed. Faults that answer
instead of moto are tried in the order given and the first that fires answers; faults that strike after
the request was served (``kill``, and ``reset``/``timeout`` with ``served=True``) count only requests moto
answered with success. In a single-threaded run the same seed fails the same calls.

`fast_retries()` lets botocore retry without waiting: the backoff sleeps of its endpoint and the waits
of the adaptive mode's client-side rate limiter are recorded, not slept, so a run at 30% throttling
takes seconds. The adaptive mode's clock is advanced by what it would have waited, so its rate
calculations see the time pass; the engine's own clocks do not.
"""

from __future__ import annotations

import contextlib
import functools
import json
import random
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

from tests.support import traffic
from tests.support.moto_patches import SandboxEnded

__all__ = [
    "KINDS",
    "Call",
    "Fault",
    "Injector",
    "InvocationKilled",
    "Waits",
    "error_response",
    "fast_retries",
    "injecting",
    "suspended",
    "throttling_code",
]

KINDS = ("throttle", "server", "unavailable", "reset", "timeout", "slow", "kill")
ANSWERING = frozenset({"throttle", "server", "unavailable"})
"""Kinds whose error answers instead of moto."""
SERVER_TIMEOUT_SECONDS = 1.0
"""How long the server holds a request that times out when the fault gives no `delay`."""

_THROTTLING: dict[str, tuple[str, int]] = {
    "lambda": ("TooManyRequestsException", 429),
    "s3": ("SlowDown", 503),
    "scheduler": ("ThrottlingException", 429),
}
_THROTTLING_BY_PROTOCOL = {
    "json": ("ThrottlingException", 400),
    "rest-json": ("ThrottlingException", 400),
    "query": ("Throttling", 400),
    "rest-xml": ("SlowDown", 503),
}
_SERVER: dict[str, str] = {
    "ecr": "ServerException",
    "ecs": "ServerException",
    "batch": "ServerException",
    "lambda": "ServiceException",
    "s3": "InternalError",
    "sns": "InternalError",
    "ssm": "InternalServerError",
    "events": "InternalException",
    "scheduler": "InternalServerException",
}
_MESSAGES = {
    "throttle": "Rate exceeded",
    "server": "We encountered an internal error. Please try again.",
    "unavailable": "Service Unavailable. Please try again later.",
}
_S3_THROTTLE_MESSAGE = "Please reduce your request rate."


class InvocationKilled(SandboxEnded):
    """The Lambda sandbox ended mid-invocation (a timeout, an out-of-memory kill): no handler code runs
    after it, so it is a BaseException that the handlers' ``except Exception`` cannot catch. Step
    Functions reports it as `error_type`; in a function the moto server runs, the in-process Lambda
    (`moto_patches.SandboxEnded`) answers with that error."""

    def __init__(self, message: str | None = None) -> None:
        request_id = uuid.uuid4()
        super().__init__(message or f"RequestId: {request_id} Error: Task timed out after 900.00 seconds")


@functools.cache
def _model(service: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


def _protocol(service: str) -> str:
    try:
        return str(_model(service).protocol)
    except Exception:  # a service botocore does not know: answer as JSON
        return "json"


def throttling_code(service: str) -> tuple[str, int]:
    """The error code and HTTP status `service` throttles with."""
    return _THROTTLING.get(service) or _THROTTLING_BY_PROTOCOL.get(_protocol(service), ("Throttling", 400))


def _error_shape(kind: str, service: str) -> tuple[str, int]:
    if kind == "throttle":
        return throttling_code(service)
    if kind == "server":
        return _SERVER.get(service, "InternalFailure"), 500
    if kind == "unavailable":
        return "ServiceUnavailable", 503
    raise ValueError(f"{kind} is not an error answer")


def error_response(
    service: str, code: str, status: int, message: str, *, head: bool = False
) -> tuple[int, dict[str, str], str]:
    """An error as `service` answers it on the wire: (status, headers, body), protocol-correct."""
    request_id = str(uuid.uuid4())
    protocol = _protocol(service)
    if protocol in ("json", "rest-json"):
        version = _model(service).metadata.get("jsonVersion") or "1.1"
        content_type = f"application/x-amz-json-{version}" if protocol == "json" else "application/json"
        headers = {"Content-Type": content_type, "x-amzn-ErrorType": code, "x-amzn-RequestId": request_id}
        return status, headers, json.dumps({"__type": code, "message": message})
    if protocol == "query":
        fault = "Receiver" if status >= 500 else "Sender"
        namespace = f"https://{service}.amazonaws.com/doc/{_model(service).api_version}/"
        body = (
            f'<ErrorResponse xmlns="{namespace}"><Error><Type>{fault}</Type><Code>{escape(code)}</Code>'
            f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return status, {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}, body
    headers = {"Content-Type": "application/xml", "x-amz-request-id": request_id, "x-amz-id-2": request_id}
    if head:  # a HEAD answer has no body: the client reads the status
        return status, headers, ""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
        f"<RequestId>{request_id}</RequestId><HostId>{request_id}</HostId></Error>"
    )
    return status, headers, body


_S3_OBJECT_OPERATIONS = {
    "GET": "GetObject",
    "PUT": "PutObject",
    "HEAD": "HeadObject",
    "DELETE": "DeleteObject",
    "POST": "PostObject",
}
_S3_BUCKET_OPERATIONS = {"PUT": "CreateBucket", "HEAD": "HeadBucket", "DELETE": "DeleteBucket"}


def _s3_operation(label: str, query: Mapping[str, Any], bucket: str) -> str:
    """The S3 API operation of a request `Traffic` labels "GET object", "PUT bucket"... (the common ones;
    a sub-resource request keeps its label)."""
    method, _, kind = label.partition(" ")
    if not bucket:
        return "ListBuckets" if method == "GET" else label
    if kind == "object":
        if method == "PUT" and "partNumber" in query:
            return "UploadPart"
        if any(
            name in query for name in ("tagging", "acl", "retention", "legal-hold", "uploads", "uploadId")
        ):
            return label
        return _S3_OBJECT_OPERATIONS.get(method, label)
    if method == "GET":
        if query.get("list-type") == "2":
            return "ListObjectsV2"
        return "ListObjects" if not query else label
    if method == "POST" and "delete" in query:
        return "DeleteObjects"
    return _S3_BUCKET_OPERATIONS.get(method, label) if not query else label


class Call:
    """A request as a fault's `when` sees it: service and operation (S3: the API operation, e.g.
    "PutObject"), the request's parameters, and who sent it."""

    def __init__(self, served: traffic.Served) -> None:
        self._served = served
        self.service = served.service
        self.label = served.operation
        self.method = str(getattr(served.request, "method", ""))
        self.url = served.url or str(getattr(served.request, "url", ""))
        self.operation = (
            _s3_operation(self.label, self.query, str(self.params.get("Bucket", "")))
            if self.service == "s3"
            else served.operation
        )

    @functools.cached_property
    def query(self) -> dict[str, str]:
        return {key: values[0] for key, values in parse_qs(urlsplit(self.url).query, True).items()}

    @functools.cached_property
    def headers(self) -> dict[str, str]:
        headers = getattr(self._served.request, "headers", None) or {}
        return {str(key).lower(): str(value) for key, value in dict(headers).items()}

    @property
    def user_agent(self) -> str:
        return self.headers.get("user-agent", "")

    @functools.cached_property
    def params(self) -> dict[str, Any]:
        """The request's parameters: the JSON body (JSON protocols), the form or query string (query
        protocol), S3's Bucket and Key; the query string is merged in (REST protocols)."""
        params: dict[str, Any] = dict(self.query)
        if self.service == "s3":
            parts = urlsplit(self.url)
            host, path = parts.hostname or "", parts.path.lstrip("/")
            if ".s3." in host or host.endswith(".s3.amazonaws.com"):
                bucket, key = host.split(".s3", 1)[0], path
            else:
                bucket, _, key = path.partition("/")
            params.update({"Bucket": bucket, **({"Key": key} if key else {})})
            return params
        handler = self._served.handler
        body = getattr(handler, "body", None)
        if _protocol(self.service) == "query":
            querystring = getattr(handler, "querystring", {}) or {}
            params.update({key: values[0] for key, values in querystring.items() if values})
            return params
        if isinstance(body, bytes):
            body = body.decode(errors="replace")
        if body:
            try:
                decoded = json.loads(body)
            except ValueError:
                decoded = None
            if isinstance(decoded, dict):
                params.update(decoded)
        return params

    def __repr__(self) -> str:
        return f"Call({self.service}:{self.operation})"


def from_engine(call: Call) -> bool:
    """Whether the engine's clients (``ecr.client_config()``: user agent "ecr-cleanup") sent the call."""
    return "ecr-cleanup" in call.user_agent


@dataclass(frozen=True)
class Fault:
    """What fails, how, and how often (see the module's description)."""

    kind: str
    services: str | Collection[str] | None = None
    operations: str | Collection[str] | None = None
    share: float = 1.0
    after: int = 0
    first: int | None = None
    when: Callable[[Call], bool] | None = None
    delay: float = 0.0
    served: bool | None = None
    code: str | None = None
    status: int | None = None
    message: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind: one of {', '.join(KINDS)}, got {self.kind!r}")
        if not 0.0 <= self.share <= 1.0:
            raise ValueError(f"share: between 0 and 1, got {self.share}")
        if self.after < 0 or (self.first is not None and self.first < 0) or self.delay < 0:
            raise ValueError("after, first and delay: must not be negative")
        if self.kind in ANSWERING and self.served:
            raise ValueError(
                f"{self.kind}: an error answer replaces the service's answer; served=True is void"
            )
        if self.kind == "slow" and self.served is False:
            raise ValueError("slow: the request is always served")
        for name in ("services", "operations"):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, frozenset({value}))
            elif value is not None:
                object.__setattr__(self, name, frozenset(value))

    @property
    def after_serving(self) -> bool:
        """Whether the fault strikes after moto served the request."""
        if self.kind == "kill":
            return self.served is not False
        return self.kind in ("reset", "timeout") and bool(self.served)

    def matches(self, call: Call) -> bool:
        services, operations = self.services, self.operations
        if services is not None and call.service not in services:
            return False
        if operations is not None and call.operation not in operations and call.label not in operations:
            return False
        return self.when is None or bool(self.when(call))


@dataclass
class _Tally:
    random: random.Random
    matched: int = 0
    fired: int = 0


class Injector:
    """The faults of one `injecting` block and what they did: `injected` counts the failed calls by
    (service, operation, kind); `seen` counts every request by (service, operation)."""

    def __init__(self, faults: tuple[Fault, ...], seed: int) -> None:
        self.faults = faults
        self.seed = seed
        self.injected: Counter[tuple[str, str, str]] = Counter()
        self.seen: Counter[tuple[str, str]] = Counter()
        self._tallies = [_Tally(random.Random(f"{seed}/{number}")) for number in range(len(faults))]
        self._lock = threading.Lock()

    def total(self, *kinds: str) -> int:
        """Calls failed (of `kinds`, or of every kind)."""
        return sum(n for (_, _, kind), n in self.injected.items() if not kinds or kind in kinds)

    def of(self, service: str) -> Counter[str]:
        """The operations of one service that were failed and how often."""
        counted: Counter[str] = Counter()
        for (name, operation, _), n in self.injected.items():
            if name == service:
                counted[operation] += n
        return counted

    def _fires(self, call: Call, *, after_serving: bool) -> Fault | None:
        with self._lock:
            for fault, tally in zip(self.faults, self._tallies, strict=True):
                if fault.after_serving is not after_serving or not fault.matches(call):
                    continue
                tally.matched += 1
                if tally.matched <= fault.after:
                    continue
                if fault.first is not None and tally.fired >= fault.first:
                    continue
                if fault.share < 1.0 and tally.random.random() >= fault.share:
                    continue
                tally.fired += 1
                self.injected[call.service, call.operation, fault.kind] += 1
                return fault
        return None

    def __call__(self, served: traffic.Served, serve: Callable[[], Any]) -> Any:
        if getattr(_suspension, "depth", 0):
            return serve()
        call = Call(served)
        with self._lock:
            self.seen[call.service, call.operation] += 1
        fault = self._fires(call, after_serving=False)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.kind in ANSWERING:
                code, status = _error_shape(fault.kind, call.service)
                code, status = fault.code or code, fault.status or status
                message = fault.message or (
                    _S3_THROTTLE_MESSAGE if code == "SlowDown" else _MESSAGES[fault.kind]
                )
                return error_response(call.service, code, status, message, head=call.method == "HEAD")
            if fault.kind in ("reset", "timeout"):
                _drop(served, call, fault)
                return 500, {}, ""  # through the server: never delivered
            # slow: served late
        response = serve()
        if _succeeded(response):
            fault = self._fires(call, after_serving=True)
            if fault is not None:
                if fault.delay:
                    time.sleep(fault.delay)
                if fault.kind == "kill":
                    raise InvocationKilled()
                _drop(served, call, fault)
        return response


def _succeeded(response: Any) -> bool:
    status = response[0] if isinstance(response, tuple) and len(response) == 3 else 200
    try:
        return 200 <= int(status) < 300
    except (TypeError, ValueError):
        return False


def _drop(served: traffic.Served, call: Call, fault: Fault) -> None:
    """Fail the connection: raise what botocore raises (in-process), or drop it (through the server)."""
    from botocore.exceptions import ConnectionClosedError, ReadTimeoutError

    environ = getattr(served.request, "environ", None) or {}
    connection = environ.get("werkzeug.socket")
    if connection is None:
        if fault.kind == "timeout":
            raise ReadTimeoutError(endpoint_url=call.url, error="injected read timeout")
        raise ConnectionClosedError(endpoint_url=call.url, error="injected connection reset")
    if fault.kind == "timeout" and not fault.delay:
        time.sleep(SERVER_TIMEOUT_SECONDS)
    # werkzeug then fails to write whatever is answered, and takes it for a dropped connection
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)


class _Suspension(threading.local):
    depth = 0


_suspension = _Suspension()


@contextmanager
def suspended() -> Iterator[None]:
    """No fault for the requests this thread makes in the block (what the harness reads in place of
    Step Functions, say)."""
    _suspension.depth += 1
    try:
        yield
    finally:
        _suspension.depth -= 1


@contextmanager
def injecting(*faults: Fault, seed: int = 0) -> Iterator[Injector]:
    """Inject `faults` into every request moto serves until the block ends (one injector at a time)."""
    injector = Injector(tuple(faults), seed)
    with traffic.intercepting(injector):
        yield injector


# Retries without waiting


@dataclass
class Waits:
    """What botocore would have slept: `backoff` before `retries` retries, `throttled` in the adaptive
    mode's rate limiter."""

    backoff: float = 0.0
    retries: int = 0
    throttled: float = 0.0
    limited: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def waited(self) -> float:
        return self.backoff + self.throttled


class _Fast:
    active: Waits | None = None
    skew = 0.0
    """Seconds the adaptive mode's clock is ahead of the real one: what it would have waited. It only
    grows, so no client's clock ever goes back."""
    installed = False
    lock = threading.Lock()


def _advance(seconds: float) -> None:
    with _Fast.lock:
        _Fast.skew += max(0.0, seconds)


class _EndpointTime:
    """`time` as botocore's endpoint sees it: its `sleep` (the retry backoff) is skipped while
    `fast_retries` is active."""

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    @staticmethod
    def sleep(seconds: float) -> None:
        waits = _Fast.active
        if waits is None:
            time.sleep(seconds)
            return
        with waits._lock:
            waits.backoff += seconds
            waits.retries += 1
        _advance(seconds)


def _install_fast() -> None:
    with _Fast.lock:
        if _Fast.installed:
            return
        import botocore.endpoint
        from botocore.exceptions import CapacityNotAvailableError
        from botocore.retries import bucket

        botocore.endpoint.time = _EndpointTime()

        def current_time(self: bucket.Clock) -> float:
            return time.time() + _Fast.skew

        def sleep(self: bucket.Clock, amount: float) -> None:
            if _Fast.active is None:
                time.sleep(amount)
            else:
                _advance(amount)

        acquire = bucket.TokenBucket._acquire

        def _acquire(self: bucket.TokenBucket, amount: float, block: bool) -> bool:
            waits = _Fast.active
            if waits is None:
                return bool(acquire(self, amount, block))
            self._refill()
            if amount > self._current_capacity:
                if not block:
                    raise CapacityNotAvailableError()
                wait = self._sleep_amount(amount)
                with waits._lock:
                    waits.throttled += wait
                    waits.limited += 1
                _advance(wait)
                self._refill()
                self._current_capacity = max(self._current_capacity, amount)
            self._current_capacity -= amount
            return True

        bucket.Clock.current_time = current_time
        bucket.Clock.sleep = sleep
        bucket.TokenBucket._acquire = _acquire
        _Fast.installed = True


@contextmanager
def fast_retries() -> Iterator[Waits]:
    """Let botocore retry at once until the block ends; the `Waits` say what it would have slept."""
    _install_fast()
    if _Fast.active is not None:
        raise RuntimeError("fast_retries is already active")
    waits = Waits()
    _Fast.active = waits
    try:
        yield waits
    finally:
        _Fast.active = None
