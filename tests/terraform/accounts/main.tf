# A central registry whose images run in another account: the cleanup in the
# default account reads the workload account through the role that
# modules/usage-reader creates there, as examples/multi-account does. Applied by
# tests/module/test_accounts.py against a local moto server, which keeps one
# backend per account; the workload provider assumes a role the test creates.
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

provider "aws" {
  alias                       = "workload"
  region                      = "us-east-1"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true

  assume_role {
    role_arn = "arn:aws:iam::210987654321:role/workload-admin"
  }
}

module "usage_reader" {
  source    = "../../../modules/usage-reader"
  providers = { aws = aws.workload }

  cleanup_role_arn = module.ecr_cleanup.lambda_role_arn
  external_id      = "central-ecr-cleanup"
}

module "ecr_cleanup" {
  source = "../../.."

  name = "ecr-cleanup-accounts"

  policy = {
    repositories = { include = ["central-*"] }
    rules        = [{ older_than_days = 30 }]
    protect = {
      in_use_accounts = [module.usage_reader.in_use_account]
    }
  }

  bucket_force_destroy  = true
  report_retention_days = 0
  exclude_own_pulls     = false
}

output "state_machine_arn" {
  value = module.ecr_cleanup.state_machine_arn
}

output "in_use_account" {
  value = module.usage_reader.in_use_account
}

output "usage_reader_role_arn" {
  value = module.usage_reader.role_arn
}
