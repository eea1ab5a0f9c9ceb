################################################################################
# Package
################################################################################

# One zip for the three functions. Its root is `lambda/`, so it holds
# `ecr_cleanup/...` and the handlers are `ecr_cleanup.handlers.<name>`. The only
# dependency, boto3, ships with the Lambda Python runtime.
#
# The archive provider zeroes modification times and output_file_mode fixes the
# permissions, so the same sources give the same hash on every machine and a
# second plan shows no change. It is written next to the root configuration, not
# into the module, which may be read-only or shared by several configurations,
# under a name of its own for each instance (two instances in one root, in two
# regions, must not write one file).
data "archive_file" "this" {
  type             = "zip"
  source_dir       = "${path.module}/lambda"
  output_path      = "${path.root}/builds/${var.name}-${local.region}-lambda.zip"
  output_file_mode = "0644"
  excludes         = ["**/__pycache__", "**/*.pyc", "**/*.egg-info"]
}

################################################################################
# Functions
################################################################################

resource "aws_cloudwatch_log_group" "lambda" {
  #checkov:skip=CKV_AWS_158:The logs hold repository names, tags and digests, no secrets; CloudWatch Logs encrypts them at rest without a customer key.
  #checkov:skip=CKV_AWS_338:Retention is the user's choice (log_retention_days); a year is not needed to audit a weekly cleanup.
  for_each = local.functions

  name              = "/aws/lambda/${local.function_names[each.key]}"
  retention_in_days = var.log_retention_days

  tags = var.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously by Step Functions, which retries and catches; a DLQ only serves asynchronous invocations.
  #checkov:skip=CKV_AWS_115:Concurrency is bounded by the Map state's MaxConcurrency; reserving it would take capacity from the account's pool.
  #checkov:skip=CKV_AWS_117:The functions only call AWS APIs; lambda_vpc_config puts them in a VPC where an EKS cluster's API is private.
  #checkov:skip=CKV_AWS_272:The package is built from source at plan time (archive_file); there is no signing step to verify.
  #checkov:skip=CKV_AWS_50:A scheduled batch job; each run is recorded by Step Functions and in the function logs, X-Ray would add cost and permissions.
  #checkov:skip=CKV_AWS_173:The environment names a bucket, a key prefix, a topic ARN and a metrics namespace, no secrets; Lambda encrypts it at rest with its AWS managed key.
  for_each = local.functions

  function_name = local.function_names[each.key]
  description   = each.value.description
  role          = aws_iam_role.lambda.arn

  filename         = data.archive_file.this.output_path
  source_code_hash = data.archive_file.this.output_base64sha256
  handler          = each.value.handler
  runtime          = var.lambda_runtime
  architectures    = [var.lambda_architecture]
  memory_size      = var.lambda_memory_size
  timeout          = var.lambda_timeout

  # The policy is not passed here: it travels in the state machine's payloads
  # (see statemachine.asl.json), which have no 4 KB limit. The environment only
  # says where run data, the summary and metrics go.
  environment {
    variables = local.lambda_environment
  }

  dynamic "vpc_config" {
    for_each = var.lambda_vpc_config == null ? [] : [var.lambda_vpc_config]

    content {
      subnet_ids         = vpc_config.value.subnet_ids
      security_group_ids = vpc_config.value.security_group_ids
    }
  }

  tags = var.tags

  # The log groups must exist first, or Lambda creates them without retention
  # on the first invocation; the permissions must exist before the first run.
  depends_on = [
    aws_cloudwatch_log_group.lambda,
    aws_iam_role_policy.lambda,
    aws_iam_role_policy_attachment.vpc,
  ]
}
