"""A moto server in this process, with every patch of ``tests.support.moto_patches`` applied.

``ThreadedMotoServer`` serves the same backends as in-process ``mock_aws``, so tests can seed ECR
through ``tests.support.ecr_seed`` and then point Terraform, the CLI or boto3 at ``endpoint_url``.

    with MotoServer() as server:
        ecr = server.client("ecr")
        ...
        server.reset()
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

from tests.support import moto_patches

DEFAULT_REGION = "us-east-1"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


class MotoServer:
    """``ThreadedMotoServer`` on 127.0.0.1 and a free port, patched, with ``MOTO_PORT`` pointing at it.

    Moto's Step Functions interpreter calls Lambda at ``localhost:$MOTO_PORT``, and the in-process
    Lambda runner points the handler's boto3 there, so ``MOTO_PORT`` is set while the server runs
    (and restored on ``stop()``). Only one server should run at a time.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, verbose: bool = False) -> None:
        self.host = host
        self._requested_port = port
        self._verbose = verbose
        self._server: Any = None
        self._port: int | None = None
        self._saved_moto_port: str | None = None
        self._saved_werkzeug_level: int | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the moto server is not running: call start() first")
        return self._port

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> MotoServer:
        if self._server is not None:
            return self
        moto_patches.apply_all()
        from moto.server import ThreadedMotoServer

        if not self._verbose:
            werkzeug_log = logging.getLogger("werkzeug")
            self._saved_werkzeug_level = werkzeug_log.level
            werkzeug_log.setLevel(logging.WARNING)

        server = ThreadedMotoServer(ip_address=self.host, port=self._requested_port, verbose=self._verbose)
        server.start()
        self._server = server
        self._port = server.get_host_and_port()[1]
        self._saved_moto_port = os.environ.get("MOTO_PORT")
        os.environ["MOTO_PORT"] = str(self._port)
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.stop()
        self._server = None
        if self._saved_werkzeug_level is not None:
            logging.getLogger("werkzeug").setLevel(self._saved_werkzeug_level)
            self._saved_werkzeug_level = None
        self._port = None
        if self._saved_moto_port is None:
            os.environ.pop("MOTO_PORT", None)
        else:
            os.environ["MOTO_PORT"] = self._saved_moto_port

    def reset(self) -> None:
        """Forget every resource in every backend (the in-process equivalent of POST /moto-api/reset)."""
        from moto.moto_api._internal.models import moto_api_backend

        moto_api_backend.reset()

    def environment(self, region: str = DEFAULT_REGION) -> dict[str, str]:
        """Variables that point an AWS SDK, the AWS CLI or Terraform's AWS provider at this server."""
        return {
            **CREDENTIALS,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
        }

    def client(self, service: str, region: str = DEFAULT_REGION, **kwargs: Any) -> Any:
        """A boto3 client for ``service`` bound to this server with dummy credentials."""
        import boto3

        return boto3.client(
            service,
            region_name=region,
            endpoint_url=self.endpoint_url,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=CREDENTIALS["AWS_SESSION_TOKEN"],
            **kwargs,
        )

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


@contextmanager
def running_moto_server(host: str = "127.0.0.1", port: int = 0) -> Iterator[MotoServer]:
    """A started ``MotoServer``, stopped on exit."""
    with MotoServer(host, port) as server:
        yield server
