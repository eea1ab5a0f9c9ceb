"""Lists of images in use kept outside the engine's sight: S3 objects and SSM parameters."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .reading import reading
from .references import ImageReference, UsageError, parse_references

__all__ = ["source_reader"]

Reader = Callable[[], list[ImageReference]]


def source_reader(source: str, client: Callable[[str], Any]) -> Reader:
    """The reader of `source`, chosen before anything is read so that a typo costs no API calls.

    Sources are ``s3://bucket/key``, ``ssm:<parameter name>`` or an SSM parameter ARN; see
    `parse_references` for their content. `client` gives a boto3 client by service name.
    """
    if source.startswith("s3://"):
        bucket, _, key = source.removeprefix("s3://").partition("/")
        if not bucket or not key:
            raise UsageError(f"{source}: an S3 source is s3://<bucket>/<key>")
        return lambda: _s3_references(client("s3"), source, bucket, key)
    if source.startswith("ssm:") or re.match(r"arn:[\w-]+:ssm:", source):
        name = source.removeprefix("ssm:")
        if not name:
            raise UsageError(f"{source}: an SSM source is ssm:<parameter name> or a parameter ARN")
        return lambda: _ssm_references(client("ssm"), source, name)
    raise UsageError(
        f"{source!r}: unknown usage source; use s3://<bucket>/<key>, ssm:<parameter name> "
        "or an SSM parameter ARN"
    )


def _s3_references(s3: Any, source: str, bucket: str, key: str) -> list[ImageReference]:
    with reading(source):
        body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    try:
        content = body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UsageError(f"{source}: not UTF-8 text: {error}") from None
    return parse_references(content, source)


def _ssm_references(ssm: Any, source: str, name: str) -> list[ImageReference]:
    with reading(source):
        parameter = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]
        content: str = parameter["Value"]
        if parameter.get("Type") == "StringList":
            content = "\n".join(content.split(","))
    return parse_references(content, source)
