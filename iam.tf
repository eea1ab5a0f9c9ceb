################################################################################
# Lambda functions
################################################################################

# No aws:SourceAccount condition here: Lambda does not document confused-deputy
# condition keys for execution roles, and only this module's functions use the role.
data "aws_iam_policy_document" "lambda_assume" {
  statement {
    sid     = "LambdaAssumesRole"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "lambda" {
  name               = "${var.name}-lambda"
  description        = "Lets the ${var.name} Lambda functions read and delete images in the ECR repositories its policy selects."
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "lambda" {
  #checkov:skip=CKV_AWS_356:Only ecr:DescribeRepositories is on "*" (see ListRepositories below); every image action is on repository ARNs.

  # Listing runs before any repository is known: DescribeRepositories without
  # repository names is authorised account-wide. It is read-only and returns
  # repository metadata, never image contents.
  statement {
    sid       = "ListRepositories"
    actions   = ["ecr:DescribeRepositories"]
    resources = ["*"]
  }

  # Everything that touches images, deletion included, only on the repositories
  # that policy.repositories.include can select (see local.repository_arns).
  # These are the only image calls the engine makes (ecr_cleanup/ecr.py).
  statement {
    sid       = "CleanUpSelectedRepositories"
    actions   = ["ecr:BatchDeleteImage", "ecr:DescribeImages"]
    resources = local.repository_arns
  }

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [for group in aws_cloudwatch_log_group.lambda : "${group.arn}:*"]
  }
}

resource "aws_iam_role_policy" "lambda" {
  name   = "ecr-cleanup"
  role   = aws_iam_role.lambda.id
  policy = data.aws_iam_policy_document.lambda.json
}

################################################################################
# State machine
################################################################################

data "aws_iam_policy_document" "states_assume" {
  statement {
    sid     = "StepFunctionsAssumesRole"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [local.state_machine_arn]
    }
  }
}

resource "aws_iam_role" "states" {
  name               = "${var.name}-states"
  description        = "Lets the ${var.name} state machine invoke its three Lambda functions."
  assume_role_policy = data.aws_iam_policy_document.states_assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "states" {
  statement {
    sid     = "InvokeOwnFunctions"
    actions = ["lambda:InvokeFunction"]
    resources = flatten([
      for function in aws_lambda_function.this : [function.arn, "${function.arn}:*"]
    ])
  }
}

resource "aws_iam_role_policy" "states" {
  name   = "invoke-functions"
  role   = aws_iam_role.states.id
  policy = data.aws_iam_policy_document.states.json
}

################################################################################
# Schedule
################################################################################

data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    sid     = "SchedulerAssumesRole"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${var.name}-scheduler"
  description        = "Lets EventBridge Scheduler start the ${var.name} state machine."
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    sid       = "StartCleanup"
    actions   = ["states:StartExecution"]
    resources = [aws_sfn_state_machine.this.arn]
  }
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "start-execution"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}
