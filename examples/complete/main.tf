provider "aws" {
  region = var.region
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

    # Never deleted, whatever the rules say.
    protect = {
      tag_patterns      = ["latest", "stable", "release-*", "v[0-9]*"]
      younger_than_days = 3
    }

    # A run deletes at most this many images per repository; the rest waits for
    # the next run, so a policy mistake cannot empty a repository in one go.
    limits = {
      max_deletions_per_repository = 200
    }
  }

  dry_run = false

  schedule_expression = "cron(0 3 ? * SUN *)"
  schedule_timezone   = "Europe/Berlin"
  schedule_enabled    = true

  max_concurrency = 10

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
