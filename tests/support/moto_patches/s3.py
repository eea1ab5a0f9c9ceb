"""S3: the named patches of moto's S3.

Bucket policy conditions (Bool, with every request made over TLS).
"""

from __future__ import annotations

import functools

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

