# The module with every audit output and every usage source configured, applied by
# tests/module/test_audit.py against a local moto server. The bucket, topic and
# usage sources live in this root, as they would in a user's configuration; the
# topic's ARN is only known after apply, so the module is also planned with
# unknown inputs. The provider reaches the server through AWS_ENDPOINT_URL.
terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.4"
    }
  }
}

provider "aws" {
  region                      = "us-east-1"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
}

# Reports land here; the tests empty it after each run.
resource "aws_s3_bucket" "reports" {
  bucket        = "ecr-cleanup-audit-reports"
  force_destroy = true
}

resource "aws_sns_topic" "summary" {
  name = "ecr-cleanup-audit-summary"
}

# What the topic sends, where a test can read it: every message, with its subject.
resource "aws_sqs_queue" "notifications" {
  name = "ecr-cleanup-audit-notifications"
}

resource "aws_sns_topic_subscription" "notifications" {
  topic_arn = aws_sns_topic.summary.arn
  protocol  = "sqs"
  endpoint  = aws_sqs_queue.notifications.arn
}

# Two lists of images in use that neither ECS nor Lambda knows about.
resource "aws_s3_object" "images_in_use" {
  bucket  = aws_s3_bucket.reports.bucket
  key     = "config/images-in-use.txt"
  content = "# pinned by a deployment outside ECS and Lambda\naudit-api:pinned-s3\n"
}

resource "aws_ssm_parameter" "images_in_use" {
  name  = "/ecr-cleanup-audit/images-in-use"
  type  = "StringList"
  value = "audit-api:pinned-ssm"
}

module "ecr_cleanup" {
  source = "../../.."

  name = "ecr-cleanup-audit"

  policy = {
    repositories = {
      include = ["audit-*"]
    }
    rules = [
      {
        description     = "dev builds older than 30 days"
        tag_status      = "tagged"
        tag_patterns    = ["dev-*"]
        older_than_days = 30
      },
    ]
    protect = {
      tag_patterns = ["latest"]
      in_use_sources = [
        "s3://${aws_s3_object.images_in_use.bucket}/${aws_s3_object.images_in_use.key}",
        "ssm:${aws_ssm_parameter.images_in_use.name}",
      ]
    }
    limits = {
      max_delete_fraction = 0.9
    }
  }

  report_bucket          = aws_s3_bucket.reports.bucket
  report_prefix          = "audit/ecr/"
  notification_topic_arn = aws_sns_topic.summary.arn
  metrics_namespace      = "ECRCleanupAudit"
  create_dashboard       = true
  alarm_actions          = [aws_sns_topic.summary.arn]

  schedule_enabled = false
}

# A second cleanup whose executions time out after three seconds, announced
# through the same topic.
module "short" {
  source = "../../.."

  name = "ecr-cleanup-audit-short"

  policy = {
    repositories = { include = ["audit-short-*"] }
    rules        = [{ older_than_days = 30 }]
  }

  report_bucket             = aws_s3_bucket.reports.bucket
  report_prefix             = "audit/short/"
  notification_topic_arn    = aws_sns_topic.summary.arn
  execution_timeout_minutes = 0.05

  schedule_enabled = false
}

output "short_state_machine_arn" {
  value = module.short.state_machine_arn
}

output "queue_url" {
  value = aws_sqs_queue.notifications.url
}

output "execution_ended_rule_arn" {
  value = module.ecr_cleanup.execution_ended_rule_arn
}

output "state_machine_arn" {
  value = module.ecr_cleanup.state_machine_arn
}

output "dashboard_name" {
  value = module.ecr_cleanup.dashboard_name
}

output "alarm_arns" {
  value = module.ecr_cleanup.alarm_arns
}

output "lambda_function_names" {
  value = module.ecr_cleanup.lambda_function_names
}

output "lambda_role_arn" {
  value = module.ecr_cleanup.lambda_role_arn
}

output "report_location" {
  value = module.ecr_cleanup.report_location
}

output "report_bucket" {
  value = aws_s3_bucket.reports.bucket
}

output "topic_arn" {
  value = aws_sns_topic.summary.arn
}
