data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  # `id` is the region's name in provider 5 and 6 alike (6 deprecates `name`).
  region = data.aws_region.current.id

  # The regions whose registries a run cleans and whose workloads it reads: the
  # functions run in `region` and call the others' APIs.
  regions = var.regions == null ? [local.region] : distinct(var.regions)

  # IAM role names are global to the account: each embeds the region, so that
  # one account holds an instance of the module per region (variables.tf keeps
  # `name` short enough for the longest region name).
  role_prefix = "${var.name}-${local.region}"

  # The Lambda functions the state machine invokes, all from the one
  # `ecr_cleanup` package. The keys are part of every derived name and of the
  # map outputs.
  run_functions = {
    list = {
      handler     = "ecr_cleanup.handlers.list_repositories"
      description = "Lists the ECR repositories the cleanup policy selects and reads the images in use once per run."
    }
    cleanup = {
      handler     = "ecr_cleanup.handlers.cleanup_repositories"
      description = "Applies the cleanup policy to a group of ECR repositories."
    }
    summarise = {
      handler     = "ecr_cleanup.handlers.summarise"
      description = "Adds up the per-repository results of one cleanup run and reports them."
    }
  }

  # A fourth function announces every run that ends without its summary
  # (notify.tf); the state machine never invokes it. It exists with or without
  # notification_topic_arn, whose value may only be known after apply.
  functions = merge(local.run_functions, {
    notify = {
      handler     = "ecr_cleanup.handlers.notify"
      description = "Announces a cleanup run that failed, timed out or was stopped before its summary."
    }
  })

  function_names = { for key, _ in local.functions : key => "${var.name}-${key}" }
  function_arns = {
    for key, name in local.function_names :
    key => "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${name}"
  }

  # Built from the name rather than read from the resource, so that the trust
  # policy of the state machine's role can name the state machine before it exists.
  state_machine_arn = "arn:${local.partition}:states:${local.region}:${local.account_id}:stateMachine:${var.name}"
  lambda_role_arn   = "arn:${local.partition}:iam::${local.account_id}:role/${local.role_prefix}-lambda"

  # The roles of protect.in_use_accounts, which the Lambda role may assume (iam.tf).
  usage_reader_roles = local.in_use ? distinct(
    try([for account in var.policy.protect.in_use_accounts : account.role_arn], [])
  ) : []

  # EKS clusters whose workloads keep their images (iam.tf, eks.tf).
  in_use_eks = local.in_use && try(length(var.policy.protect.in_use_eks), 0) > 0

  # Rules that archive need ecr:UpdateImageStorageClass (iam.tf).
  archives = anytrue([for rule in try(var.policy.rules, []) : try(rule.action, null) == "archive"])

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
  repository_arns = flatten([
    for region in local.regions : [
      for pattern in local.repository_arn_patterns :
      "arn:${local.partition}:ecr:${region}:${local.account_id}:repository/${pattern}"
    ]
  ])

  # Images in use are protected unless the policy says `protect.in_use = false`;
  # only then does the engine read ECS, Lambda and the listed sources. Each source
  # becomes the one object or parameter the role may read: "s3://bucket/key" is
  # arn:...:s3:::bucket/key, "ssm:/a/b" and "ssm:a" are arn:...:parameter/a/b and
  # arn:...:parameter/a in this account and region, an ARN stays as it is.
  in_use           = try(var.policy.protect.in_use, null) != false
  in_use_sagemaker = local.in_use && try(var.policy.protect.in_use_sagemaker, null) != false
  in_use_codebuild = local.in_use && try(var.policy.protect.in_use_codebuild, null) != false
  revisions        = local.in_use ? coalesce(try(var.policy.protect.task_definition_revisions, null), 5) : 0
  in_use_sources   = local.in_use ? distinct(try(tolist(coalesce(var.policy.protect.in_use_sources, [])), [])) : []
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

  # Where each run keeps its data and reports (storage.tf): the bucket the
  # module creates, or the one report_bucket names. Roles get access to
  # report_prefix only. The Distributed Map writes its own record of each map
  # run under map_results_prefix (<prefix>/<map run id>/manifest.json and
  # result files).
  #
  # The bucket the module creates is named after the cleanup, the account and
  # the region (the name cut to fit S3's 63 characters), so that its name and
  # every grant on it are known at plan time.
  create_bucket      = var.report_bucket == null
  bucket_suffix      = "-${local.account_id}-${local.region}"
  bucket_label       = trim(substr(trim(lower(replace(var.name, "_", "-")), "-"), 0, 63 - length(local.bucket_suffix)), "-")
  bucket_name        = local.create_bucket ? "${local.bucket_label}${local.bucket_suffix}" : var.report_bucket
  bucket_arn         = "arn:${local.partition}:s3:::${local.bucket_name}"
  run_data_arn       = "${local.bucket_arn}/${var.report_prefix}*"
  map_results_prefix = "${var.report_prefix}_map-runs"
  report_location    = "s3://${local.bucket_name}/${var.report_prefix}"

  # The settings the handlers read from their environment (ecr_cleanup/handlers.py);
  # one left unset is left out, so the handler uses its default.
  lambda_environment = {
    for key, value in {
      REPORT_BUCKET              = local.bucket_name
      REPORT_PREFIX              = var.report_prefix
      NOTIFICATION_TOPIC_ARN     = var.notification_topic_arn
      METRICS_NAMESPACE          = var.metrics_namespace
      USAGE_MAX_AGE_MINUTES      = tostring(var.usage_max_age_minutes)
      EXCLUDE_OWN_PULLS          = tostring(var.exclude_own_pulls)
      LAMBDA_ROLE_ARN            = var.exclude_own_pulls ? local.lambda_role_arn : null
      REGIONS                    = join(",", local.regions)
      REPLICAS_FOLLOW_SOURCE     = tostring(var.replicas_follow_source)
      STORAGE_PRICE_PER_GB_MONTH = tostring(var.storage_price_per_gb_month)
      ARCHIVE_PRICE_PER_GB_MONTH = tostring(var.archive_price_per_gb_month)
      CHECK_NATIVE_LIFECYCLE     = tostring(var.check_native_lifecycle)
    } : key => value if value != null
  }
}
