# The module as a user calls it, applied by tests/module against a local moto server.
# The provider reaches the server through AWS_ENDPOINT_URL, which the tests set.
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

module "ecr_cleanup" {
  source = "../../.."

  name = "ecr-cleanup-test"

  # Three registries in one run: the scale test spreads its repositories over them.
  regions = ["us-east-1", "eu-west-1", "ap-south-1"]

  policy = {
    repositories = {
      include = ["app-*", "web-*", "broken-*"]
      exclude = ["app-skip*"]
    }
    rules = [
      {
        description     = "dev builds: older than 30 days AND not among the latest 2"
        tag_status      = "tagged"
        tag_patterns    = ["dev-*"]
        older_than_days = 30
        keep_latest     = 2
      },
      {
        description         = "untagged, not pulled for 14 days"
        tag_status          = "untagged"
        not_pulled_for_days = 14
      },
      {
        description     = "web: anything older than 90 days"
        repositories    = ["web-*"]
        older_than_days = 90
      },
      {
        description     = "release candidates: to the archive after 30 days"
        tag_status      = "tagged"
        tag_patterns    = ["rc-*"]
        older_than_days = 30
        action          = "archive"
      },
    ]
    protect = {
      tag_patterns = ["latest", "v*"]
    }
  }

  # The tests destroy this root after runs that wrote reports. The AWS provider
  # waits about a minute for a lifecycle configuration to settle, so this root
  # keeps its reports (no lifecycle); the plan tests check the configuration.
  bucket_force_destroy  = true
  report_retention_days = 0

  schedule_expression = "cron(15 4 ? * MON *)"
  schedule_timezone   = "Europe/Paris"
  max_concurrency     = 2
  log_retention_days  = 7

  tags = {
    Project = "ecr-cleanup-test"
  }
}

output "state_machine_arn" {
  value = module.ecr_cleanup.state_machine_arn
}

output "state_machine_name" {
  value = module.ecr_cleanup.state_machine_name
}

output "schedule_arn" {
  value = module.ecr_cleanup.schedule_arn
}

output "lambda_function_arns" {
  value = module.ecr_cleanup.lambda_function_arns
}

output "lambda_function_names" {
  value = module.ecr_cleanup.lambda_function_names
}

output "lambda_role_arn" {
  value = module.ecr_cleanup.lambda_role_arn
}

output "state_machine_role_arn" {
  value = module.ecr_cleanup.state_machine_role_arn
}

output "scheduler_role_arn" {
  value = module.ecr_cleanup.scheduler_role_arn
}

output "log_group_names" {
  value = module.ecr_cleanup.log_group_names
}

output "bucket_name" {
  value = module.ecr_cleanup.bucket_name
}

output "report_location" {
  value = module.ecr_cleanup.report_location
}

output "execution_ended_rule_arn" {
  value = module.ecr_cleanup.execution_ended_rule_arn
}
