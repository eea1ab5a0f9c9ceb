# Plans the module with a policy given on the command line, to check that a bad policy
# fails at `terraform plan` with the module's message.
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

variable "policy" {
  description = "The policy under test, passed straight to the module."
  type        = any
}

# The other inputs under test; null leaves the module's default.
variable "report_bucket" {
  description = "Passed straight to the module."
  type        = string
  default     = null
}

variable "report_prefix" {
  description = "Passed straight to the module."
  type        = string
  default     = null
}

variable "notification_topic_arn" {
  description = "Passed straight to the module."
  type        = string
  default     = null
}

variable "metrics_namespace" {
  description = "Passed straight to the module."
  type        = string
  default     = null
}

variable "report_retention_days" {
  description = "Passed straight to the module."
  type        = number
  default     = null
}

variable "max_concurrency" {
  description = "Passed straight to the module."
  type        = number
  default     = null
}

variable "usage_max_age_minutes" {
  description = "Passed straight to the module."
  type        = number
  default     = null
}

module "ecr_cleanup" {
  source = "../../.."
  policy = var.policy

  report_retention_days = var.report_retention_days
  max_concurrency       = var.max_concurrency
  usage_max_age_minutes = var.usage_max_age_minutes

  report_bucket          = var.report_bucket
  report_prefix          = var.report_prefix
  notification_topic_arn = var.notification_topic_arn
  metrics_namespace      = var.metrics_namespace
}
