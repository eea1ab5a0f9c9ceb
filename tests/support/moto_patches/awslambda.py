"""Lambda: run the deployed zip in this process instead of a Docker container.

The named patches of moto's Lambda, and the in-process runner they use (``invoke_in_process``).
``lambda`` is a Python keyword, hence the module's name.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import importlib.abc
import importlib.machinery
import io
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
import traceback
import types
import uuid
import zipfile
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.support.moto_patches.registry import _patch

LAMBDA_CODE_CACHE = Path(tempfile.gettempdir()) / "moto-lambda-code"
"""Where deployed zips are extracted, one directory per code sha256."""

RUNTIME_PROVIDED_PACKAGES = frozenset(
    {"boto3", "botocore", "s3transfer", "urllib3", "dateutil", "jmespath", "six", "awslambdaric"}
)
"""Top-level names a zip may vendor that keep resolving to this interpreter's copy: moto itself runs
on them in this process, so they cannot be swapped out for the duration of an invocation."""

_invoke_lock = threading.RLock()
_INVOKE_LOCK_TIMEOUT_SECONDS = 600
_extract_lock = threading.Lock()
_log = logging.getLogger(__name__)


class LambdaContext:
    """The attributes and method of the Lambda Python runtime's context object that handlers use."""

    def __init__(
        self,
        *,
        function_name: str,
        function_version: str,
        invoked_function_arn: str,
        memory_limit_in_mb: int,
        timeout_seconds: float,
        log_group_name: str,
        log_stream_name: str,
        aws_request_id: str,
    ) -> None:
        self.function_name = function_name
        self.function_version = function_version
        self.invoked_function_arn = invoked_function_arn
        self.memory_limit_in_mb = memory_limit_in_mb
        self.aws_request_id = aws_request_id
        self.log_group_name = log_group_name
        self.log_stream_name = log_stream_name
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class _CodeDirFinder(importlib.abc.MetaPathFinder):
    """Resolves the zip's top-level names from the extracted code only.

    Without it, a module missing from the zip would quietly be found elsewhere (the project's own
    ``lambda/`` directory on ``sys.path`` or an editable install's finder) and the test would run code
    that was never deployed.
    """

    def __init__(self, code_dir: str, names: frozenset[str]) -> None:
        self.code_dir = code_dir
        self.names = names

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.partition(".")[0] not in self.names:
            return None
        search = [self.code_dir] if "." not in fullname else list(path or [])
        spec = importlib.machinery.PathFinder.find_spec(fullname, search)
        if spec is None:
            raise ModuleNotFoundError(f"No module named '{fullname}' in the deployed code", name=fullname)
        return spec


def _extract_code(function: Any) -> Path:
    """The function's zip extracted once per code sha256 (shared by versions with the same code).

    The cache is shared by every process on the machine (pytest-xdist's workers, two test runs), so
    another process may finish extracting the same code first: its copy is then used and ours dropped.
    """
    digest = hashlib.sha256(function.code_bytes).hexdigest()
    target = LAMBDA_CODE_CACHE / digest
    with _extract_lock:
        if not target.is_dir():
            LAMBDA_CODE_CACHE.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{digest[:12]}-", dir=LAMBDA_CODE_CACHE))
            with zipfile.ZipFile(io.BytesIO(function.code_bytes)) as archive:
                archive.extractall(staging)
            try:
                staging.rename(target)
            except OSError:
                if not target.is_dir():
                    raise
                shutil.rmtree(staging, ignore_errors=True)
    return target


def _top_level_names(code_dir: Path) -> frozenset[str]:
    names = set()
    for entry in code_dir.iterdir():
        if entry.name.startswith(".") or entry.name.endswith((".dist-info", ".egg-info")):
            continue
        if entry.is_dir() and entry.name.isidentifier() and entry.name != "__pycache__":
            names.add(entry.name)
        elif entry.suffix in {".py", ".so", ".pyd"}:
            names.add(entry.name.split(".")[0])
    return frozenset(names - RUNTIME_PROVIDED_PACKAGES)


def _shadows(path_entry: str, names: frozenset[str]) -> bool:
    base = Path(path_entry or ".")
    return any((base / name).exists() or (base / f"{name}.py").exists() for name in names)


_serving = threading.local()
"""Whether this thread runs a handler whose requests moto's stubber answers (see below)."""


@contextlib.contextmanager
def _served_in_process() -> Iterator[None]:
    """Let the handler's AWS requests reach moto's backends in this process, without HTTP.

    A function on AWS calls the regional endpoints with no endpoint override; here its requests to
    those endpoints are answered by the same backends the moto server serves (moto's botocore
    stubber, as under ``mock_aws``), for this thread only: the server's other threads (Step
    Functions deciding where to send its own requests, among them) see the stubber as it was.
    """
    from botocore.awsrequest import AWSResponse
    from moto.core.botocore_stubber import BotocoreStubber, MockRawResponse

    if not getattr(BotocoreStubber, "_serves_threads", False):
        answer = BotocoreStubber.__call__

        @functools.wraps(answer)
        def __call__(self: BotocoreStubber, event_name: str, request: Any, **kwargs: Any) -> Any:
            if self.enabled or not getattr(_serving, "active", False):
                return answer(self, event_name, request, **kwargs)
            response = self.process_request(request)
            if response is None:
                return None
            status, headers, body = response
            return AWSResponse(request.url, status, headers, MockRawResponse(body))

        BotocoreStubber.__call__ = __call__  # type: ignore[method-assign]
        BotocoreStubber._serves_threads = True  # type: ignore[attr-defined]
    _serving.active = True
    try:
        yield
    finally:
        _serving.active = False


LAMBDA_CREDENTIALS_SECONDS = 12 * 3600
"""How long the execution role's session lasts (Lambda renews it; a test never outlives it)."""

_container_credentials: dict[tuple[Any, ...], dict[str, str]] = {}
"""Per warm container: the execution role session's credentials its environment was given."""


def _execution_role_credentials(function: Any, container: tuple[Any, ...]) -> dict[str, str]:
    """The function's execution role assumed in moto's STS, as the Lambda service does for each
    execution environment (session name: the function name), as the runtime's variables.

    A warm container keeps its credentials. When moto no longer knows them (its backends were reset
    since), the container starts cold with a new session: the modules and boto3 session it kept
    would still sign with the old keys.
    """
    from moto.sts.models import sts_backends
    from moto.utilities.utils import get_partition

    role_account = str(function.role).split(":")[4] or function.account_id  # where STS keeps its sessions
    sts = sts_backends[role_account][get_partition(function.region)]
    known = _container_credentials.get(container)
    if known is not None and sts.get_assumed_role_from_access_key(known["AWS_ACCESS_KEY_ID"]) is not None:
        return known
    _warm_containers.pop(container, None)
    session = sts.assume_role(
        region_name=function.region,
        role_session_name=function.function_name,
        role_arn=function.role,
        policy=None,  # type: ignore[arg-type]
        duration=LAMBDA_CREDENTIALS_SECONDS,
        external_id=None,  # type: ignore[arg-type]
    )
    credentials = {
        "AWS_ACCESS_KEY_ID": session.access_key_id,
        "AWS_SECRET_ACCESS_KEY": session.secret_access_key,
        "AWS_SESSION_TOKEN": session.session_token,
    }
    _container_credentials[container] = credentials
    return credentials


def _function_environment(
    function: Any, code_dir: Path, log_stream: str, credentials: dict[str, str]
) -> dict[str, str]:
    env = {
        "AWS_REGION": function.region,
        "AWS_DEFAULT_REGION": function.region,
        **credentials,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.run_time}",
        "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": str(function.version),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
        "AWS_LAMBDA_LOG_GROUP_NAME": function.logs_group_name,
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        "LAMBDA_TASK_ROOT": str(code_dir),
        "_HANDLER": function.handler or "",
    }
    env.update({key: str(value) for key, value in (function.environment_vars or {}).items()})
    return env


@contextlib.contextmanager
def _environment(overrides: dict[str, str]) -> Iterator[None]:
    """Apply ``overrides`` to ``os.environ``, hiding profile and per-service endpoint settings."""
    hidden = [
        key
        for key in os.environ
        if key in {"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"}
        or key.startswith("AWS_ENDPOINT_URL_")
    ]
    saved = {key: os.environ[key] for key in {*hidden, *overrides} if key in os.environ}
    for key in hidden:
        del os.environ[key]
    os.environ.update(overrides)
    try:
        yield
    finally:
        for key in {*hidden, *overrides}:
            os.environ.pop(key, None)
        os.environ.update(saved)


_warm_containers: dict[tuple[Any, ...], tuple[dict[str, types.ModuleType], Any]] = {}
"""Per function configuration: the modules its handler imported and its boto3 default session."""


def _container_key(function: Any, code_dir: Path) -> tuple[Any, ...]:
    """What makes Lambda start a new execution environment: another function, version, code or
    configuration (its environment, handler or execution role)."""
    environment = frozenset((function.environment_vars or {}).items())
    return (
        function.function_arn,
        str(function.version),
        code_dir.name,
        function.handler,
        environment,
        function.role,
    )


@contextlib.contextmanager
def _isolated_imports(code_dir: Path, container: tuple[Any, ...]) -> Iterator[None]:
    """Import the zip's modules from ``code_dir`` and put the process's own ones back after.

    As in a warm Lambda execution environment, the next invocation of the same function
    configuration finds what this one imported (module-level state and clients included), and so
    does boto3's default session; any other configuration starts cold.
    """
    import boto3

    names = _top_level_names(code_dir)

    def ours(module_name: str) -> bool:
        return module_name.partition(".")[0] in names

    saved_modules = {name: sys.modules.pop(name) for name in list(sys.modules) if ours(name)}
    saved_session = boto3.DEFAULT_SESSION
    warm_modules, warm_session = _warm_containers.get(container, ({}, None))
    sys.modules.update(warm_modules)
    boto3.DEFAULT_SESSION = warm_session
    saved_path = list(sys.path)
    finder = _CodeDirFinder(str(code_dir), names)
    sys.path[:] = [str(code_dir), *(entry for entry in saved_path if not _shadows(entry, names))]
    sys.meta_path.insert(0, finder)
    importlib.invalidate_caches()
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        sys.path[:] = saved_path
        imported = {name: sys.modules.pop(name) for name in list(sys.modules) if ours(name)}
        _warm_containers[container] = (imported, boto3.DEFAULT_SESSION)
        sys.modules.update(saved_modules)
        boto3.DEFAULT_SESSION = saved_session
        importlib.invalidate_caches()


def _not_moto(record: logging.LogRecord) -> bool:
    """Drop what the moto server logs while serving the handler's own requests."""
    return not record.name.startswith(("werkzeug", "moto"))


@contextlib.contextmanager
def _captured_output() -> Iterator[io.StringIO]:
    """Collect what the handler prints or logs, as the Lambda runtime sends it to CloudWatch."""
    buffer = io.StringIO()
    root = logging.getLogger()
    saved_level, saved_handlers = root.level, list(root.handlers)
    capture = logging.StreamHandler(buffer)
    capture.addFilter(_not_moto)
    capture.setFormatter(logging.Formatter("[%(levelname)s]\t%(asctime)s\t%(name)s\t%(message)s"))
    root.addHandler(capture)
    try:
        with contextlib.redirect_stdout(buffer):
            yield buffer
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


class SandboxEnded(BaseException):
    """Raised from inside a handler (by a test) to end the invocation as Lambda ends one that runs
    out of time: no more of the handler runs (a BaseException, so its own `except Exception` cannot
    catch it), the caller gets the runtime's `Sandbox.Timedout` error, and the next invocation
    starts in a fresh execution environment."""

    error_type = "Sandbox.Timedout"


def _error_payload(error_type: str, message: str, request_id: str, trace: list[str]) -> str:
    return json.dumps(
        {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": trace}
    )


def _call_handler(function: Any, event: Any, context: LambdaContext) -> tuple[str, bool]:
    """Import and call the handler: (JSON payload, whether it is a function error)."""
    module_name, _, attribute = (function.handler or "").rpartition(".")
    request_id = context.aws_request_id
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        message = f"Unable to import module '{module_name}': {error}"
        return _error_payload("Runtime.ImportModuleError", message, request_id, []), True
    handler = getattr(module, attribute, None)
    if not callable(handler):
        message = f"Handler '{attribute}' missing on module '{module_name}'"
        return _error_payload("Runtime.HandlerNotFound", message, request_id, []), True
    try:
        result = handler(event, context)
    except SystemExit as error:
        message = f"RequestId: {request_id} Error: Runtime exited with error: exit status {error.code}"
        return _error_payload("Runtime.ExitError", message, request_id, []), True
    except Exception as error:
        frames = traceback.extract_tb(error.__traceback__)[1:]
        trace = traceback.format_list([frame for frame in frames if frame.filename != __file__])
        return _error_payload(type(error).__name__, str(error), request_id, trace), True
    try:
        return json.dumps(result), False
    except (TypeError, ValueError) as error:
        message = f"Unable to marshal response: {error}"
        return _error_payload("Runtime.MarshalError", message, request_id, []), True


def invoke_in_process(function: Any, event: Any) -> tuple[str, bool, str]:
    """Run a moto ``LambdaFunction``'s deployed handler here: (payload, errored, log text).

    Invocations are serialised: ``os.environ``, ``sys.modules`` and ``sys.path`` are process-wide.
    The handler's requests reach moto's backends directly (see ``_served_in_process``), signed with
    credentials of a session of the function's execution role (see ``_execution_role_credentials``);
    a later invocation of the same configuration starts warm (see ``_isolated_imports``).
    """
    request_id = str(uuid.uuid4())
    log_stream = f"{datetime.now():%Y/%m/%d}/[{function.version}]{uuid.uuid4().hex}"
    qualified_arn = function.function_arn
    if str(function.version) != "$LATEST":
        qualified_arn = f"{qualified_arn}:{function.version}"
    try:
        code_dir = _extract_code(function)
    except zipfile.BadZipFile as error:
        message = f"The function's code is not a zip archive: {error}"
        return _error_payload("Runtime.InvalidEntrypoint", message, request_id, []), True, ""
    if not _invoke_lock.acquire(timeout=_INVOKE_LOCK_TIMEOUT_SECONDS):
        message = "Another in-process invocation held the lock too long (synchronous Lambda->Lambda?)"
        return _error_payload("Moto.InvokeLockTimeout", message, request_id, []), True, ""
    clock = time.monotonic()
    context = LambdaContext(
        function_name=function.function_name,
        function_version=str(function.version),
        invoked_function_arn=qualified_arn,
        memory_limit_in_mb=int(function.memory_size),
        timeout_seconds=float(function.timeout),
        log_group_name=function.logs_group_name,
        log_stream_name=log_stream,
        aws_request_id=request_id,
    )
    container = _container_key(function, code_dir)
    output = io.StringIO()
    try:
        credentials = _execution_role_credentials(function, container)
        with (
            _environment(_function_environment(function, code_dir, log_stream, credentials)),
            _isolated_imports(code_dir, container),
            _served_in_process(),
            _captured_output() as output,
        ):
            payload, errored = _call_handler(function, event, context)
    except SandboxEnded:
        _warm_containers.pop(container, None)
        message = f"RequestId: {request_id} Error: Task timed out after {float(function.timeout):.2f} seconds"
        payload, errored = _error_payload(SandboxEnded.error_type, message, request_id, []), True
    finally:
        _invoke_lock.release()
    duration_ms = (time.monotonic() - clock) * 1000
    logs = (
        f"START RequestId: {request_id} Version: {function.version}\n"
        f"{output.getvalue()}"
        f"END RequestId: {request_id}\n"
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
        f"Memory Size: {function.memory_size} MB\n"
    )
    return payload, errored, logs


@_patch(
    "moto runs Lambda handlers in Docker (unavailable here); import the handler from the function's "
    "deployed zip and call it in this process, errors becoming Lambda function errors, warm between "
    "invocations of one configuration, its AWS requests answered by the backends in this process and "
    "signed with a session of its execution role."
)
def lambda_invoke_in_process() -> None:
    from moto.awslambda.models import LambdaFunction

    def _invoke_lambda(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
        self.logs_backend.ensure_log_group(self.logs_group_name)
        # moto hands over the parsed payload, or the text "{}" when the request had no body
        payload, errored, logs = invoke_in_process(self, {} if event in (None, "{}") else event)
        try:
            self.save_logs(logs)
        except Exception:
            _log.exception("could not write the invocation's logs to moto CloudWatch Logs")
        return payload, errored, logs

    LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign]
    _environ_copies_atomically()


def _environ_copies_atomically() -> None:
    """An in-process invocation sets and removes the function's variables in ``os.environ`` while
    other server threads run (a Distributed Map's children). ``os.environ.copy()``, which botocore
    calls when it makes a client, reads the keys and then each value, so a key removed in between
    fails it with KeyError; copy the underlying dict in one step instead."""
    environ_type = type(os.environ)

    def copy(self: Any) -> dict[str, str]:
        data = dict(self._data)
        return {self.decodekey(key): self.decodevalue(value) for key, value in data.items()}

    environ_type.copy = copy  # type: ignore[method-assign]


@_patch(
    "moto marks every failed invocation X-Amz-Function-Error: Handled; the Python runtime reports an "
    "exception the handler raised as Unhandled."
)
def lambda_unhandled_function_error() -> None:
    from moto.awslambda.models import LambdaFunction

    original = LambdaFunction.invoke

    @functools.wraps(original)
    def invoke(self: LambdaFunction, body: str, request_headers: Any, response_headers: Any) -> Any:
        payload = original(self, body, request_headers, response_headers)
        if response_headers.get("x-amz-function-error") == "Handled":
            response_headers["x-amz-function-error"] = "Unhandled"
        return payload

    LambdaFunction.invoke = invoke  # type: ignore[method-assign]
