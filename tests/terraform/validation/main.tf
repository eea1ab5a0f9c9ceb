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

module "ecr_cleanup" {
  source = "../../.."
  policy = var.policy
}
