data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  # `id` is the region's name in provider 5 and 6 alike (6 deprecates `name`).
  region = data.aws_region.current.id

  # The three Lambda functions, all from the one `ecr_cleanup` package. The keys
  # are part of every derived name and of the map outputs.
  functions = {
    list = {
      handler     = "ecr_cleanup.handlers.list_repositories"
      description = "Lists the ECR repositories the cleanup policy selects."
    }
    cleanup = {
      handler     = "ecr_cleanup.handlers.cleanup_repository"
      description = "Applies the cleanup policy to one ECR repository."
    }
    summarise = {
      handler     = "ecr_cleanup.handlers.summarise"
      description = "Adds up the per-repository results of one cleanup run."
    }
  }

  function_names = { for key, _ in local.functions : key => "${var.name}-${key}" }

  # Built from the name rather than read from the resource, so that the trust
  # policy of the state machine's role can name the state machine before it exists.
  state_machine_arn = "arn:${local.partition}:states:${local.region}:${local.account_id}:stateMachine:${var.name}"

  # The repositories the cleanup function may read and delete from: the policy's
  # `repositories.include` patterns turned into ECR repository ARNs. IAM wildcards
  # know `*` and `?` like the policy does; a `[...]` class has no IAM equivalent
  # and becomes `?`, which matches the same character and more. The result is a
  # superset of what the engine selects, never a subset. `exclude` is not
  # subtracted: IAM cannot express "all but", and a Deny built from it could
  # over-match and block repositories the policy includes.
  repository_patterns = coalescelist(try(tolist(var.policy.repositories.include), []), ["*"])
  repository_arn_patterns = contains(local.repository_patterns, "*") ? ["*"] : distinct([
    for pattern in local.repository_patterns : replace(pattern, "/\\[!?\\]?[^\\]]*\\]/", "?")
  ])
  repository_arns = [
    for pattern in local.repository_arn_patterns :
    "arn:${local.partition}:ecr:${local.region}:${local.account_id}:repository/${pattern}"
  ]
}
