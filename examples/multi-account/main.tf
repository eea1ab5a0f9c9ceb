# One central registry, workloads in another account: the cleanup in the
# registry's account keeps every image that ECS or Lambda in the workload
# account runs, read through a role that modules/usage-reader creates there.

provider "aws" {
  region = var.region
}

# The workload account, reached through a role you may assume there (for
# instance the one AWS Organizations creates in member accounts).
provider "aws" {
  alias  = "workload"
  region = var.region

  assume_role {
    role_arn = var.workload_admin_role_arn
  }
}

module "usage_reader" {
  source    = "../../modules/usage-reader"
  providers = { aws = aws.workload }

  cleanup_role_arn = module.ecr_cleanup.lambda_role_arn
  external_id      = var.external_id
  regions          = [var.region]
}

module "ecr_cleanup" {
  source = "../.."

  name = "central-ecr-cleanup"

  policy = {
    rules = [
      {
        description     = "Images older than 30 days that are not among the 10 most recent"
        older_than_days = 30
        keep_latest     = 10
      },
    ]
    protect = {
      tag_patterns    = ["latest"]
      in_use_accounts = [module.usage_reader.in_use_account]
    }
  }

  bucket_force_destroy = true
}
