# One deployment per region, twice in one account with the default name: the
# pattern for those who prefer a cleanup per region (examples/multi-region), and
# the proof that no account-global name collides. The eu-west-1 instance also
# cleans ap-south-1 through `regions`. Applied by tests/module/test_regions.py.
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
  alias                       = "eu"
  region                      = "eu-west-1"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
}

module "us" {
  source = "../../.."

  policy = {
    repositories = { include = ["regional-*"] }
    rules        = [{ older_than_days = 30 }]
    protect      = { in_use = false }
  }

  bucket_force_destroy  = true
  report_retention_days = 0
  exclude_own_pulls     = false
}

module "eu" {
  source    = "../../.."
  providers = { aws = aws.eu }

  regions = ["eu-west-1", "ap-south-1"]

  policy = {
    repositories = { include = ["regional-*"] }
    rules        = [{ older_than_days = 30 }]
    protect      = { in_use = false }
  }

  bucket_force_destroy  = true
  report_retention_days = 0
  exclude_own_pulls     = false
}

output "us" {
  value = {
    state_machine_arn = module.us.state_machine_arn
    lambda_role_arn   = module.us.lambda_role_arn
    bucket_name       = module.us.bucket_name
  }
}

output "eu" {
  value = {
    state_machine_arn = module.eu.state_machine_arn
    lambda_role_arn   = module.eu.lambda_role_arn
    bucket_name       = module.eu.bucket_name
  }
}
