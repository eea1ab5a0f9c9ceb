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
  name               = "${local.role_prefix}-lambda"
  description        = "Lets the ${var.name} Lambda functions read and delete images in the ECR repositories its policy selects."
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "lambda" {
  #checkov:skip=CKV_AWS_356:Only calls IAM cannot scope are on "*": the read-only listings of FindImagesInUse, FindScheduledTasks, FindRecentRevisions, FindSageMakerImages and FindCodeBuildImages, and the registry-wide pull-time exclusions of ExcludeOwnPulls and replication configuration of ReadReplication; every image action, report and notification is on named ARNs.

  # Listing runs before any repository is known: DescribeRepositories without
  # names describes the repositories of this registry the caller may describe.
  # It is read-only and returns repository metadata, never image contents.
  statement {
    sid       = "ListRepositories"
    actions   = ["ecr:DescribeRepositories"]
    resources = [for region in local.regions : "arn:${local.partition}:ecr:${region}:${local.account_id}:repository/*"]
  }

  # Everything that touches images, deletion included, only on the repositories
  # that policy.repositories.include can select (see local.repository_arns).
  # These are the only image calls the engine makes (ecr_cleanup/ecr.py):
  # BatchGetImage reads image index manifests, DescribeImages lists and re-checks.
  statement {
    sid       = "CleanUpSelectedRepositories"
    actions   = ["ecr:BatchDeleteImage", "ecr:BatchGetImage", "ecr:DescribeImages"]
    resources = local.repository_arns
  }

  # check_native_lifecycle: each cleaned repository's ECR lifecycle policy is read
  # to warn about images it would expire that a workload runs.
  dynamic "statement" {
    for_each = var.check_native_lifecycle ? [1] : []

    content {
      sid       = "ReadLifecyclePolicies"
      actions   = ["ecr:GetLifecyclePolicy"]
      resources = local.repository_arns
    }
  }

  # Rules with action = "archive" move images to the archive storage class, on
  # the same repositories only.
  dynamic "statement" {
    for_each = local.archives ? [1] : []

    content {
      sid       = "ArchiveInSelectedRepositories"
      actions   = ["ecr:UpdateImageStorageClass"]
      resources = local.repository_arns
    }
  }

  # exclude_own_pulls: the list function keeps this role out of the registry's
  # pull-time updates (a registry-wide setting, no resource to name).
  dynamic "statement" {
    for_each = var.exclude_own_pulls ? [1] : []

    content {
      sid       = "ExcludeOwnPulls"
      actions   = ["ecr:ListPullTimeUpdateExclusions", "ecr:RegisterPullTimeUpdateExclusion"]
      resources = ["*"]
    }
  }

  # replicas_follow_source: each listed region's replication configuration
  # says which repositories are replicas, and of which region (a registry-wide
  # setting, no resource to name).
  dynamic "statement" {
    for_each = var.replicas_follow_source ? [1] : []

    content {
      sid       = "ReadReplication"
      actions   = ["ecr:DescribeRegistry"]
      resources = ["*"]
    }
  }

  # Images in use in EKS (policy.protect.in_use_eks): the clusters are listed
  # and described here; what runs in them is read from each cluster's
  # Kubernetes API with a token of this role (access entries: eks.tf).
  dynamic "statement" {
    for_each = local.in_use_eks ? [1] : []

    content {
      sid       = "FindEksClusters"
      actions   = ["eks:ListClusters"]
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = local.in_use_eks ? [1] : []

    content {
      sid       = "ReadEksClusters"
      actions   = ["eks:DescribeCluster"]
      resources = [for region in local.regions : "arn:${local.partition}:eks:${region}:${local.account_id}:cluster/*"]
    }
  }

  # Images in use in other accounts: the read-only roles listed in the policy,
  # and nothing else.
  dynamic "statement" {
    for_each = length(local.usage_reader_roles) > 0 ? [1] : []

    content {
      sid       = "ReadOtherAccounts"
      actions   = ["sts:AssumeRole"]
      resources = local.usage_reader_roles
    }
  }

  # Two runs must not delete at once: the list function of a run that may
  # delete looks for an earlier running execution of this state machine and
  # reads its input (a dry run does not count). A module that only dry-runs
  # never looks.
  dynamic "statement" {
    for_each = var.dry_run ? [] : [1]

    content {
      sid       = "FindRunningExecutions"
      actions   = ["states:ListExecutions"]
      resources = [local.state_machine_arn]
    }
  }

  dynamic "statement" {
    for_each = var.dry_run ? [] : [1]

    content {
      sid       = "ReadRunningExecutions"
      actions   = ["states:DescribeExecution"]
      resources = ["arn:${local.partition}:states:${local.region}:${local.account_id}:execution:${var.name}:*"]
    }
  }

  # Built from the names rather than read from the log groups, so that the
  # whole document is known at plan time and a plan shows every grant.
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [for name in local.function_names : "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/lambda/${name}:*"]
  }

  # Images in use (policy.protect.in_use, on unless false): the engine reads
  # every running ECS task, every ECS service's task definitions and every
  # Lambda function version of this region (ecr_cleanup/usage.py). These calls
  # take no resource ARN IAM could check: ListClusters, ListServices and
  # DescribeTaskDefinition have no resource type, ListTasks is only scoped by a
  # container instance (it is called per cluster) and ListFunctions lists the
  # whole region. All are read-only; note that task definitions and function
  # configurations show their environment variables, where secrets do not belong.
  dynamic "statement" {
    for_each = local.in_use ? [1] : []

    content {
      sid = "FindImagesInUse"
      actions = [
        "ecs:DescribeTaskDefinition",
        "ecs:ListClusters",
        "ecs:ListServices",
        "ecs:ListTasks",
        "lambda:ListFunctions",
      ]
      resources = ["*"]
    }
  }

  # The calls that do take an ARN: only services, tasks and functions of this
  # account and region.
  dynamic "statement" {
    for_each = local.in_use ? [1] : []

    content {
      sid     = "ReadWorkloadsInUse"
      actions = ["ecs:DescribeServices", "ecs:DescribeTasks", "lambda:GetFunction"]
      resources = flatten([
        for region in local.regions : [
          "arn:${local.partition}:ecs:${region}:${local.account_id}:service/*",
          "arn:${local.partition}:ecs:${region}:${local.account_id}:task/*",
          "arn:${local.partition}:lambda:${region}:${local.account_id}:function:*",
        ]
      ])
    }
  }

  # The digests ECS deployments resolved (policy.protect.in_use): each
  # service's deployments are listed (on the service), unfinished ones
  # described, and each current or deploying revision described once per run.
  dynamic "statement" {
    for_each = local.in_use ? [1] : []

    content {
      sid     = "ReadServiceDeployments"
      actions = ["ecs:DescribeServiceDeployments", "ecs:DescribeServiceRevisions", "ecs:ListServiceDeployments"]
      resources = flatten([
        for region in local.regions : [
          "arn:${local.partition}:ecs:${region}:${local.account_id}:service/*",
          "arn:${local.partition}:ecs:${region}:${local.account_id}:service-deployment/*",
          "arn:${local.partition}:ecs:${region}:${local.account_id}:service-revision/*",
        ]
      ])
    }
  }

  # SageMaker (policy.protect.in_use_sagemaker, on unless false): models,
  # endpoints and inference components are listed (no resource) and each one
  # described on this account's and region's ARNs.
  dynamic "statement" {
    for_each = local.in_use_sagemaker ? [1] : []

    content {
      sid       = "FindSageMakerImages"
      actions   = ["sagemaker:ListEndpoints", "sagemaker:ListInferenceComponents", "sagemaker:ListModels"]
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = local.in_use_sagemaker ? [1] : []

    content {
      sid     = "ReadSageMakerImages"
      actions = ["sagemaker:DescribeEndpoint", "sagemaker:DescribeInferenceComponent", "sagemaker:DescribeModel"]
      resources = flatten([
        for region in local.regions : [
          "arn:${local.partition}:sagemaker:${region}:${local.account_id}:endpoint/*",
          "arn:${local.partition}:sagemaker:${region}:${local.account_id}:inference-component/*",
          "arn:${local.partition}:sagemaker:${region}:${local.account_id}:model/*",
        ]
      ])
    }
  }

  # CodeBuild (policy.protect.in_use_codebuild, on unless false): the build
  # image of every project.
  dynamic "statement" {
    for_each = local.in_use_codebuild ? [1] : []

    content {
      sid       = "FindCodeBuildImages"
      actions   = ["codebuild:ListProjects"]
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = local.in_use_codebuild ? [1] : []

    content {
      sid       = "ReadCodeBuildImages"
      actions   = ["codebuild:BatchGetProjects"]
      resources = [for region in local.regions : "arn:${local.partition}:codebuild:${region}:${local.account_id}:project/*"]
    }
  }

  # Workloads that run later (policy.protect.in_use): the ECS tasks that
  # EventBridge rules (every event bus) and EventBridge Scheduler schedules
  # (every group) start. Listing buses, rules and schedules takes no resource;
  # a rule's targets and a schedule's parameters are read on this account's
  # and region's rules and schedules only.
  dynamic "statement" {
    for_each = local.in_use ? [1] : []

    content {
      sid       = "FindScheduledTasks"
      actions   = ["events:ListEventBuses", "events:ListRules", "scheduler:ListSchedules"]
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = local.in_use ? [1] : []

    content {
      sid     = "ReadScheduledTasks"
      actions = ["events:ListTargetsByRule", "scheduler:GetSchedule"]
      resources = flatten([
        for region in local.regions : [
          "arn:${local.partition}:events:${region}:${local.account_id}:rule/*",
          "arn:${local.partition}:scheduler:${region}:${local.account_id}:schedule/*",
        ]
      ])
    }
  }

  # The latest revisions of every task definition family and Batch job
  # definition (policy.protect.task_definition_revisions, 5 unless 0): what a
  # rollback or the next job would run. These listings take no resource.
  dynamic "statement" {
    for_each = local.revisions > 0 ? [1] : []

    content {
      sid       = "FindRecentRevisions"
      actions   = ["batch:DescribeJobDefinitions", "ecs:ListTaskDefinitionFamilies", "ecs:ListTaskDefinitions"]
      resources = ["*"]
    }
  }

  # External lists of images in use (policy.protect.in_use_sources): exactly
  # the objects and parameters named there. A SecureString under the default
  # aws/ssm key needs no kms:Decrypt here.
  dynamic "statement" {
    for_each = length(local.in_use_object_arns) > 0 ? [1] : []

    content {
      sid       = "ReadInUseObjects"
      actions   = ["s3:GetObject"]
      resources = local.in_use_object_arns
    }
  }

  dynamic "statement" {
    for_each = length(local.in_use_parameter_arns) > 0 ? [1] : []

    content {
      sid       = "ReadInUseParameters"
      actions   = ["ssm:GetParameter"]
      resources = local.in_use_parameter_arns
    }
  }

  # Run data and reports: objects under report_prefix only, in the bucket
  # storage.tf creates or report_bucket names (see local.run_data_arn). The
  # functions write the run's items, usage snapshot, results and reports, read
  # the items, snapshot and results back, and list the results to summarise.
  statement {
    sid       = "ReadWriteRunData"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = [local.run_data_arn]
  }

  statement {
    sid       = "ListRunResults"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.report_prefix}*"]
    }
  }

  # The run summary (notification_topic_arn): that topic only.
  dynamic "statement" {
    for_each = var.notification_topic_arn == null ? [] : [var.notification_topic_arn]

    content {
      sid       = "PublishSummary"
      actions   = ["sns:Publish"]
      resources = [statement.value]
    }
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
  name               = "${local.role_prefix}-states"
  description        = "Lets the ${var.name} state machine invoke its three Lambda functions, run its group executions and read and write its run data."
  assume_role_policy = data.aws_iam_policy_document.states_assume.json

  tags = var.tags
}

# Built from names rather than read from the resources, so that a plan shows
# every grant (see also local.state_machine_arn).
data "aws_iam_policy_document" "states" {
  statement {
    sid       = "InvokeOwnFunctions"
    actions   = ["lambda:InvokeFunction"]
    resources = flatten([for key, arn in local.function_arns : [arn, "${arn}:*"] if contains(keys(local.run_functions), key)])
  }

  # The Distributed Map runs each group of repositories as a child execution
  # of this state machine, and follows and stops them.
  statement {
    sid       = "StartGroupExecutions"
    actions   = ["states:StartExecution"]
    resources = [local.state_machine_arn]
  }

  statement {
    sid       = "FollowGroupExecutions"
    actions   = ["states:DescribeExecution", "states:StopExecution"]
    resources = ["arn:${local.partition}:states:${local.region}:${local.account_id}:execution:${var.name}/*"]
  }

  # The Map's items: the groups of repositories the list function wrote.
  statement {
    sid       = "ReadMapItems"
    actions   = ["s3:GetObject"]
    resources = [local.run_data_arn]
  }

  # The Map's own record of each map run (ResultWriter).
  statement {
    sid = "WriteMapResults"
    actions = [
      "s3:AbortMultipartUpload",
      "s3:GetObject",
      "s3:ListMultipartUploadParts",
      "s3:PutObject",
    ]
    resources = ["${local.bucket_arn}/${local.map_results_prefix}/*"]
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
  name               = "${local.role_prefix}-scheduler"
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
