"""ECR cleanup: a policy engine that decides which container images to delete, and the code that does it.

The core (`policy`, `plan`, `inventory`, `report`, `cleanup`) is pure Python; `ecr` is the only module
that talks to AWS; `cli` and `handlers` are thin edges around them.
"""

__version__ = "0.1.0"
