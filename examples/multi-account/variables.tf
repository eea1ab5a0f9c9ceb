variable "region" {
  description = "The region of the registry and of the workloads."
  type        = string
  default     = "us-east-1"
}

variable "workload_admin_role_arn" {
  description = "A role in the workload account that Terraform may assume to create the read-only role there."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[\\w-]*:iam::\\d{12}:role/[\\w+=,.@/-]+$", var.workload_admin_role_arn))
    error_message = "workload_admin_role_arn must be the ARN of an IAM role in the workload account."
  }
}

variable "external_id" {
  description = "The external ID the cleanup gives when it assumes the read-only role."
  type        = string
  default     = "central-ecr-cleanup"
}
