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

  # Images in use are protected unless the policy says `protect.in_use = false`;
  # only then does the engine read ECS, Lambda and the listed sources. Each source
  # becomes the one object or parameter the role may read: "s3://bucket/key" is
  # arn:...:s3:::bucket/key, "ssm:/a/b" and "ssm:a" are arn:...:parameter/a/b and
  # arn:...:parameter/a in this account and region, an ARN stays as it is.
  in_use         = try(var.policy.protect.in_use, null) != false
  in_use_sources = local.in_use ? distinct(try(tolist(coalesce(var.policy.protect.in_use_sources, [])), [])) : []
  in_use_object_arns = [
    for source in local.in_use_sources :
    "arn:${local.partition}:s3:::${trimprefix(source, "s3://")}" if startswith(source, "s3://")
  ]
  in_use_parameter_arns = [
    for source in local.in_use_sources : (
      startswith(trimprefix(source, "ssm:"), "arn:")
      ? trimprefix(source, "ssm:")
      : "arn:${local.partition}:ssm:${local.region}:${local.account_id}:parameter/${trimprefix(trimprefix(source, "ssm:"), "/")}"
    ) if !startswith(source, "s3://")
  ]

  # Where the reports go, and the only keys the role may write.
  report_location   = var.report_bucket == null ? null : "s3://${var.report_bucket}/${var.report_prefix}"
  report_object_arn = var.report_bucket == null ? null : "arn:${local.partition}:s3:::${var.report_bucket}/${var.report_prefix}*"

  # The settings the handlers read from their environment (ecr_cleanup/handlers.py);
  # one left unset is left out, so the handler uses its default or skips that output.
  lambda_environment = {
    for key, value in {
      REPORT_BUCKET          = var.report_bucket
      REPORT_PREFIX          = var.report_bucket == null ? null : var.report_prefix
      NOTIFICATION_TOPIC_ARN = var.notification_topic_arn
      METRICS_NAMESPACE      = var.metrics_namespace
    } : key => value if value != null
  }
}
