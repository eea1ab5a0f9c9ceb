# One cleanup for a registry and its replicas: images pushed to the source
# region are replicated to a second region, and one module block cleans both
# by the same policy. A replica image is deleted only once its source no longer
# holds it (replicas_follow_source), so a replica never outlives or pre-empts
# its source. For one deployment per region instead, see the README.

provider "aws" {
  region = var.region
}

data "aws_caller_identity" "current" {}

# The registry's replication configuration (one per registry and region).
resource "aws_ecr_replication_configuration" "this" {
  count = var.manage_replication ? 1 : 0

  replication_configuration {
    rule {
      destination {
        region      = var.replica_region
        registry_id = data.aws_caller_identity.current.account_id
      }

      repository_filter {
        filter      = "app-"
        filter_type = "PREFIX_MATCH"
      }
    }
  }
}

module "ecr_cleanup" {
  source = "../.."

  name = "ecr-cleanup-regions"

  regions                = [var.region, var.replica_region]
  replicas_follow_source = true

  policy = {
    repositories = { include = ["app-*"] }
    rules = [
      {
        description     = "Images older than 30 days that are not among the 10 most recent"
        older_than_days = 30
        keep_latest     = 10
      },
    ]
    protect = {
      tag_patterns = ["latest"]
    }
  }

  bucket_force_destroy = true
}
