"""Every moto 5.2.5 gap the test suite depends on, patched in one package, one module per AWS service.

Each patch is a small function named after the gap it closes, registered in ``PATCHES`` with a one-line
description. They patch moto's classes, so the same patched behaviour serves ``mock_aws`` in-process
and a ``ThreadedMotoServer`` started in this process (see ``tests.support.moto_server``).
``apply_all()`` applies every patch and may be called any number of times.

Each service module holds the named patches of that service; to see how the emulation differs from
a service, read its module:

- ECR (listings, image details, storage classes, pull times, tags moved by a push): ``ecr.py``
- ECS (task definitions, service deployments and revisions): ``ecs.py``
- EventBridge and EventBridge Scheduler: ``events.py``
- AWS Batch job definitions: ``batch.py``
- S3 (bucket policy conditions, URL-encoded listings): ``s3.py``
- IAM (AWS managed policies): ``iam.py``
- Step Functions: ``stepfunctions.py``
- Lambda, run in this process instead of Docker: ``awslambda.py``
- STS (AssumeRole and trust policies): ``sts.py``
- SageMaker (models listed in pages, the images endpoints and inference components resolved):
  ``sagemaker.py``
- CodeBuild (projects listed in pages): ``codebuild.py``

``registry.py`` holds ``PATCHES`` and the machinery that registers and applies them; ``paging.py`` the
cursor paging the services' listings share.

Two patches are moto settings rather than code: they must be in place before the first backend of
their service is created (``apply_all()`` also repairs IAM backends that already exist).
"""

from __future__ import annotations

# isort: off
from tests.support.moto_patches.registry import PATCHES, applied, apply, apply_all

# Importing a service module registers its patches, and ``apply_all()`` applies them in registration
# order: keep the modules in this order (isort must not sort them), the order the patches have always
# been applied in.
from tests.support.moto_patches import (
    ecr,
    ecs,
    events,
    batch,
    s3,
    iam,
    stepfunctions,
    awslambda,
    sts,
    sagemaker,
    codebuild,
)
from tests.support.moto_patches.awslambda import LAMBDA_CODE_CACHE, LambdaContext, SandboxEnded

# isort: on

__all__ = [
    "LAMBDA_CODE_CACHE",
    "PATCHES",
    "LambdaContext",
    "SandboxEnded",
    "applied",
    "apply",
    "apply_all",
    "awslambda",
    "batch",
    "codebuild",
    "ecr",
    "ecs",
    "events",
    "iam",
    "s3",
    "sagemaker",
    "stepfunctions",
    "sts",
]
