"""S3: the named patches of moto's S3.

Bucket policy conditions (Bool, with every request made over TLS), and listings that URL-encode
what they return when asked to (`encoding-type=url`), as S3 does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus

from tests.support.moto_patches.registry import _patch


@_patch(
    "S3 bucket policies: moto ignores every condition operator but StringEquals and knows no request "
    "context, so the usual TLS-only statement (Deny when Bool aws:SecureTransport is false) refuses "
    "every request; evaluate Bool conditions, with every request made over TLS, as SDK requests to "
    "AWS are."
)
def s3_bucket_policy_conditions() -> None:
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult

    original = IAMPolicyStatement.is_action_permitted

    @functools.wraps(original)
    def is_action_permitted(
        self: IAMPolicyStatement,
        action: str,
        resource: str = "*",
        principal: str | None = None,
        incoming_condition_values: dict[str, str] | None = None,
    ) -> PermissionResult:
        context = {"aws:SecureTransport": "true", **(incoming_condition_values or {})}
        for key, expected in (self._statement.get("Condition") or {}).get("Bool", {}).items():
            allowed = {
                str(value).lower() for value in (expected if isinstance(expected, list) else [expected])
            }
            if str(context.get(key, "")).lower() not in allowed:
                return PermissionResult.NEUTRAL
        return original(self, action, resource, principal, incoming_condition_values)

    IAMPolicyStatement.is_action_permitted = is_action_permitted  # type: ignore[method-assign]


S3_URL_ENCODED_FIELDS = {
    "ListObjects": (("Prefix", "Delimiter", "Marker", "NextMarker"), (("Contents", "Key"),)),
    "ListObjectsV2": (("Prefix", "Delimiter", "StartAfter"), (("Contents", "Key"),)),
    "ListObjectVersions": (
        ("Prefix", "Delimiter", "KeyMarker", "NextKeyMarker"),
        (("Versions", "Key"), ("DeleteMarkers", "Key")),
    ),
}
"""The fields each listing URL-encodes under `encoding-type=url` (the API reference's lists), besides
`CommonPrefixes[].Prefix`; continuation tokens and version ids stay as they are."""


def s3_url_encode(text: str) -> str:
    """A key as S3 writes it under `encoding-type=url` (measured on S3): UTF-8 percent-encoding with
    `/` kept and a space as `+`, so that `a b`, `a+b` and `100%` read `a+b`, `a%2Bb` and `100%25`."""
    return quote_plus(text, safe="/")


def _url_encoded(result: dict[str, Any], action: str) -> None:
    top_level, nested = S3_URL_ENCODED_FIELDS[action]
    for field in top_level:
        if result.get(field):
            result[field] = s3_url_encode(str(result[field]))
    for listing, field in (*nested, ("CommonPrefixes", "Prefix")):
        for entry in result.get(listing) or []:
            entry[field] = s3_url_encode(str(entry[field]))
    result["EncodingType"] = "url"


@_patch(
    "S3 listings with encoding-type=url: moto's ListObjectVersions returns keys raw, and its ListObjects "
    "and ListObjectsV2 encode the keys but not the markers, delimiter or (v1) prefixes. A client that "
    "decodes, as Terraform's bucket force_destroy does, then reads a key holding `%` as another key, "
    "deletes a key that does not exist, and lists again forever. Encode every field the API reference "
    "names, as S3 does (`quote_plus` with `/` kept)."
)
def s3_list_encoding_type_url() -> None:
    from moto.core.responses import ActionResult
    from moto.s3.responses import S3Response

    def encoding(action: str, original: Callable[[S3Response], Any]) -> Callable[[S3Response], Any]:
        @functools.wraps(original)
        def listing(self: S3Response) -> Any:
            if self.querystring.get("encoding-type", [None])[0] != "url":
                return original(self)
            # moto's own encoding is partial: list raw, then encode everything once.
            del self.querystring["encoding-type"]
            serialized = self.serialized

            def encoded(action_result: ActionResult) -> Any:
                if isinstance(action_result.result, dict):
                    _url_encoded(action_result.result, action)
                return serialized(action_result)

            self.serialized = encoded  # type: ignore[method-assign]
            try:
                return original(self)
            finally:
                del self.serialized

        return listing

    S3Response.list_objects = encoding("ListObjects", S3Response.list_objects)  # type: ignore[method-assign]
    S3Response.list_objects_v2 = encoding(  # type: ignore[method-assign]
        "ListObjectsV2", S3Response.list_objects_v2
    )
    S3Response.list_object_versions = encoding(  # type: ignore[method-assign]
        "ListObjectVersions", S3Response.list_object_versions
    )
