"""STS: the named patches of moto's STS.

AssumeRole checks that the role exists and that its trust policy allows the caller.
"""

from __future__ import annotations

import json
from typing import Any

from tests.support.moto_patches.registry import _patch


@_patch(
    "moto's AssumeRole issues credentials for any role ARN, existing or not, whoever asks; STS refuses "
    "(AccessDenied) unless the role exists and its trust policy allows the caller: its principal (the "
    "role of an assumed-role session, the account root or id, or *), and sts:ExternalId when the "
    "policy names one. Conditions on the organisation are taken as met."
)
def sts_assume_role_checks_trust() -> None:
    from moto.core.exceptions import AccessDeniedError
    from moto.iam.models import iam_backends
    from moto.sts.responses import TokenResponse

    original = TokenResponse.assume_role

    def assume_role(self: TokenResponse) -> Any:
        role_arn = str(self._get_param("RoleArn") or "")
        external_id = self._get_param("ExternalId")
        _, caller, _ = self.backend.get_caller_identity(self.get_access_key(), self.region)
        parts = role_arn.split(":")
        role = None
        if len(parts) == 6 and parts[5].startswith("role/"):
            backend = iam_backends[parts[4]][parts[1]]
            name = parts[5].rsplit("/", 1)[-1]
            role = next((r for r in backend.roles.values() if r.name == name), None)
        if role is None or not _trusts(role.assume_role_policy_document, caller, external_id):
            raise AccessDeniedError(caller, f"sts:AssumeRole on resource: {role_arn}")
        return original(self)

    TokenResponse.assume_role = assume_role  # type: ignore[method-assign]


def _trusts(document: object, caller: str, external_id: str | None) -> bool:
    """Whether a trust policy lets `caller` (an IAM or STS ARN) assume the role with `external_id`."""
    policy = json.loads(document) if isinstance(document, str) else document
    statements = policy.get("Statement", []) if isinstance(policy, dict) else []
    caller_account = caller.split(":")[4]
    identities = {caller, caller_account, f"arn:aws:iam::{caller_account}:root", "*"}
    if ":assumed-role/" in caller:
        role_name = caller.split(":assumed-role/", 1)[1].split("/", maxsplit=1)[0]
        identities.add(f"arn:aws:iam::{caller_account}:role/{role_name}")
    for statement in statements if isinstance(statements, list) else [statements]:
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if statement.get("Effect") != "Allow" or not {"sts:AssumeRole", "sts:*", "*"} & set(actions):
            continue
        principal = statement.get("Principal", {})
        allowed = principal.get("AWS", []) if isinstance(principal, dict) else principal
        allowed = [allowed] if isinstance(allowed, str) else allowed
        if not identities & set(allowed):
            continue
        wanted = statement.get("Condition", {}).get("StringEquals", {}).get("sts:ExternalId")
        if wanted is not None and external_id not in ([wanted] if isinstance(wanted, str) else wanted):
            continue
        return True
    return False
