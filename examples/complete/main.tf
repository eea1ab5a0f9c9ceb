provider "aws" {
  region = var.region
}

# Receives the summary of every run; subscribe an e-mail address, a chat
# integration or a queue to it.
resource "aws_sns_topic" "cleanup" {
  name = "ecr-cleanup-complete"
}

# Images that run where the cleanup cannot see them (EKS, EC2, another
# account): a deployment pipeline keeps this list, one image reference per
# entry, and the cleanup never deletes what it names.
resource "aws_ssm_parameter" "images_in_use" {
  name  = "/ecr-cleanup-complete/images-in-use"
  type  = "StringList"
  value = "service-search:build-1842,app-checkout:build-977"

  lifecycle {
    ignore_changes = [value]
  }
}

# Every input of the module set, with a policy that uses every part of the
# policy document. The endpoint is not configured here: point the provider at
# an emulator with AWS_ENDPOINT_URL (see README.md).
module "ecr_cleanup" {
  source = "../.."

  name = "ecr-cleanup-complete"

  policy = {
    # Only application, service and tool repositories; never production mirrors
    # or the base images.
    repositories = {
      include = ["app-*", "service-*", "tools/*"]
      exclude = ["*-prod", "tools/base-*"]
    }

    # An image is deleted when any rule selects it; within a rule every condition
    # must hold.
    rules = [
      {
        description     = "Development builds older than 14 days, beyond the 5 most recent"
        tag_status      = "tagged"
        tag_patterns    = ["dev-*", "pr-[0-9]*"]
        older_than_days = 14
        keep_latest     = 5
      },
      {
        description         = "Untagged images nobody pulled for 14 days"
        tag_status          = "untagged"
        not_pulled_for_days = 14
      },
      {
        description     = "Application images older than a year, beyond the 20 most recent"
        repositories    = ["app-*"]
        older_than_days = 365
        keep_latest     = 20
      },
    ]

    # Never deleted, whatever the rules say: these tags, recent pushes, images
    # that ECS tasks and services or Lambda functions use (in_use), and the
    # images the parameter above lists.
    protect = {
      tag_patterns      = ["latest", "stable", "release-*", "v[0-9]*"]
      younger_than_days = 3
      in_use            = true
      in_use_sources    = ["ssm:${aws_ssm_parameter.images_in_use.name}"]
    }

    # A run deletes at most this many images per repository; the rest waits for
    # the next run. A repository whose plan would delete more than 90% of its
    # images is left alone and reported as failed: a policy mistake cannot
    # empty a repository.
    limits = {
      max_deletions_per_repository = 200
      max_delete_fraction          = 0.9
    }
  }

  dry_run = false

  # The module creates a private bucket for the run data and audit reports
  # (report_bucket = null); each run's folder expires after two years. This
  # example is meant to be destroyed again, reports and all: leave
  # bucket_force_destroy false where the reports are an audit record.
  report_bucket          = null
  report_prefix          = "ecr-cleanup/"
  report_retention_days  = 731
  bucket_force_destroy   = true
  notification_topic_arn = aws_sns_topic.cleanup.arn
  metrics_namespace      = "ECRCleanup"

  schedule_expression = "cron(0 3 ? * SUN *)"
  schedule_timezone   = "Europe/Berlin"
  schedule_enabled    = true

  max_concurrency       = 10
  usage_max_age_minutes = 15

  lambda_runtime      = "python3.12"
  lambda_architecture = "arm64"
  lambda_memory_size  = 512
  lambda_timeout      = 900
  log_retention_days  = 90

  tags = {
    Project   = "ecr-cleanup"
    ManagedBy = "terraform"
  }
}
