provider "aws" {
  region = "us-east-1"
}

# Every repository of the account and region; every Friday at 22:00 UTC.
module "ecr_cleanup" {
  source = "../.."

  policy = {
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

  # The module creates a private bucket for the run data and reports. This
  # example is meant to be destroyed again, reports and all; leave this false
  # where the reports are an audit record.
  bucket_force_destroy = true
}
