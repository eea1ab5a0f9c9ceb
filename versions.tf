terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
    # 2.5 is the first release whose archive_file `excludes` understands glob
    # patterns such as "**/__pycache__"; older releases would zip the caches and
    # the package hash would change from one machine to the next.
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.5"
    }
  }
}
