variable "region" {
  description = "The source region: where images are pushed, and where the cleanup runs."
  type        = string
  default     = "us-east-1"
}

variable "replica_region" {
  description = "The region that ECR replication copies the source region's app-* repositories to."
  type        = string
  default     = "eu-west-1"
}

variable "manage_replication" {
  description = "Whether this configuration sets the registry's replication configuration. A registry has one: set false when it is managed elsewhere, and keep replica_region one of its destinations."
  type        = bool
  default     = true
}
