"""IAM settings: the named patches of moto's IAM.

AWS managed policies, parsed once per process and loaded into every IAM backend (a setting that must
be in place before the first IAM backend is created; ``iam_load_aws_managed_policies`` also repairs
backends that already exist).
"""

from __future__ import annotations

import functools
import json
from typing import Any

from tests.support.moto_patches.registry import _patch


@_patch(
    "moto re-parses its 1,582 AWS managed policies (~0.1 s) for each of 6 partitions' IAM backends, "
    "twice per reset; parse them once per process and build them for the `aws` partition only."
)
def iam_managed_policies_once() -> None:
    from moto.iam import models as iam_models
    from moto.iam.aws_managed_policies import aws_managed_policies_data
    from moto.settings import load_iam_aws_managed_policies

    @functools.cache
    def parsed() -> dict[str, Any]:
        return dict(json.loads(aws_managed_policies_data))

    def _init_aws_policies(self: iam_models.IAMBackend) -> list[iam_models.ManagedPolicy]:
        if self.region_name != "aws" or not load_iam_aws_managed_policies():
            return []
        return [
            iam_models.AWSManagedPolicy.from_data(name, self.account_id, self.region_name, data)
            for name, data in parsed().items()
        ]

    iam_models.IAMBackend._init_aws_policies = _init_aws_policies  # type: ignore[method-assign]


@_patch(
    "moto IAM has no AWS managed policies unless configured before the IAM backend exists (Terraform "
    "attaches e.g. AWSLambdaBasicExecutionRole); turn them on and load them into existing backends."
)
def iam_load_aws_managed_policies() -> None:
    from moto.core.config import default_user_config

    default_user_config.setdefault("iam", {})["load_aws_managed_policies"] = True
    from moto.iam.models import iam_backends

    for account_id in list(iam_backends.keys()):
        for backend in list(iam_backends[account_id].values()):
            if not backend.aws_managed_policies:
                backend.aws_managed_policies = backend._init_aws_policies()
                backend.managed_policies.update(backend._init_managed_policies())
