# A read-only role in a workload account through which the cleanup of a
# central registry finds the images that run here (policy
# protect.in_use_accounts). It reads; it never writes or deletes.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.id
  regions    = coalesce(var.regions, [local.region])
}

data "aws_iam_policy_document" "trust" {
  statement {
    sid     = "CleanupReadsHere"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = concat([var.cleanup_role_arn], var.additional_principal_arns)
    }

    dynamic "condition" {
      for_each = var.external_id == null ? [] : [var.external_id]

      content {
        test     = "StringEquals"
        variable = "sts:ExternalId"
        values   = [condition.value]
      }
    }

    dynamic "condition" {
      for_each = var.organization_id == null ? [] : [var.organization_id]

      content {
        test     = "StringEquals"
        variable = "aws:PrincipalOrgID"
        values   = [condition.value]
      }
    }
  }
}

# The same read-only calls the cleanup makes in its own account (see iam.tf of
# the root module): the listings take no resource ARN; the reads that do are
# scoped to this account.
data "aws_iam_policy_document" "read" {
  dynamic "statement" {
    for_each = var.read_ecs ? [1] : []

    content {
      sid = "FindEcsWorkloads"
      actions = [
        "batch:DescribeJobDefinitions",
        "ecs:DescribeTaskDefinition",
        "ecs:ListClusters",
        "ecs:ListServices",
        "ecs:ListTaskDefinitionFamilies",
        "ecs:ListTaskDefinitions",
        "ecs:ListTasks",
        "events:ListEventBuses",
        "events:ListRules",
        "scheduler:ListSchedules",
      ]
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = var.read_ecs ? [1] : []

    content {
      sid     = "ReadEcsWorkloads"
      actions = ["ecs:DescribeServices", "ecs:DescribeTasks", "events:ListTargetsByRule", "scheduler:GetSchedule"]
      resources = [
        "arn:${local.partition}:ecs:*:${local.account_id}:service/*",
        "arn:${local.partition}:ecs:*:${local.account_id}:task/*",
        "arn:${local.partition}:events:*:${local.account_id}:rule/*",
        "arn:${local.partition}:scheduler:*:${local.account_id}:schedule/*",
      ]
    }
  }

  dynamic "statement" {
    for_each = var.read_ecs ? [1] : []

    content {
      sid     = "ReadServiceDeployments"
      actions = ["ecs:DescribeServiceDeployments", "ecs:DescribeServiceRevisions", "ecs:ListServiceDeployments"]
      resources = [
        "arn:${local.partition}:ecs:*:${local.account_id}:service/*",
        "arn:${local.partition}:ecs:*:${local.account_id}:service-deployment/*",
        "arn:${local.partition}:ecs:*:${local.account_id}:service-revision/*",
      ]
    }
  }

  dynamic "statement" {
    for_each = var.read_sagemaker ? [1] : []

    content {
      sid       = "FindSageMakerImages"
      actions   = ["sagemaker:ListEndpoints", "sagemaker:ListInferenceComponents", "sagemaker:ListModels"]
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = var.read_sagemaker ? [1] : []

    content {
      sid     = "ReadSageMakerImages"
      actions = ["sagemaker:DescribeEndpoint", "sagemaker:DescribeInferenceComponent", "sagemaker:DescribeModel"]
      resources = [
        "arn:${local.partition}:sagemaker:*:${local.account_id}:endpoint/*",
        "arn:${local.partition}:sagemaker:*:${local.account_id}:inference-component/*",
        "arn:${local.partition}:sagemaker:*:${local.account_id}:model/*",
      ]
    }
  }

  dynamic "statement" {
    for_each = var.read_codebuild ? [1] : []

    content {
      sid       = "FindCodeBuildImages"
      actions   = ["codebuild:ListProjects"]
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = var.read_codebuild ? [1] : []

    content {
      sid       = "ReadCodeBuildImages"
      actions   = ["codebuild:BatchGetProjects"]
      resources = ["arn:${local.partition}:codebuild:*:${local.account_id}:project/*"]
    }
  }

  dynamic "statement" {
    for_each = var.read_lambda ? [1] : []

    content {
      sid       = "FindFunctions"
      actions   = ["lambda:ListFunctions"]
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = var.read_lambda ? [1] : []

    content {
      sid       = "ReadFunctions"
      actions   = ["lambda:GetFunction"]
      resources = ["arn:${local.partition}:lambda:*:${local.account_id}:function:*"]
    }
  }

  dynamic "statement" {
    for_each = var.read_eks ? [1] : []

    content {
      sid       = "FindEksClusters"
      actions   = ["eks:ListClusters"]
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = var.read_eks ? [1] : []

    content {
      sid       = "ReadEksClusters"
      actions   = ["eks:DescribeCluster"]
      resources = ["arn:${local.partition}:eks:*:${local.account_id}:cluster/*"]
    }
  }
}

resource "aws_iam_role" "this" {
  name                 = var.name
  description          = "Read-only: lets the ECR cleanup of ${var.cleanup_role_arn} find the images that run in this account."
  assume_role_policy   = data.aws_iam_policy_document.trust.json
  max_session_duration = 3600
  tags                 = var.tags
}

resource "aws_iam_role_policy" "this" {
  name   = "read-images-in-use"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.read.json

  lifecycle {
    precondition {
      condition     = var.read_ecs || var.read_lambda || var.read_eks || var.read_sagemaker || var.read_codebuild
      error_message = "read_ecs, read_lambda, read_eks, read_sagemaker and read_codebuild are all false: the role would read nothing; set one to true or do not use this module."
    }
  }
}

resource "aws_eks_access_entry" "this" {
  for_each = toset(var.eks_access_clusters)

  cluster_name  = each.value
  principal_arn = aws_iam_role.this.arn
  type          = "STANDARD"

  tags = var.tags
}

resource "aws_eks_access_policy_association" "this" {
  for_each = toset(var.eks_access_clusters)

  cluster_name  = each.value
  principal_arn = aws_iam_role.this.arn
  policy_arn    = "arn:${local.partition}:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"

  access_scope {
    type = "cluster"
  }

  depends_on = [aws_eks_access_entry.this]
}
