variable "name" {
  description = "Name of the read-only role this module creates in the workload account."
  type        = string
  default     = "ecr-cleanup-usage-reader"
  nullable    = false

  validation {
    condition     = can(regex("^[\\w+=,.@-]{1,64}$", var.name))
    error_message = "name must be 1 to 64 letters, digits or +=,.@-_ (an IAM role name)."
  }
}

variable "cleanup_role_arn" {
  description = "The ARN of the role the cleanup reads with: the `lambda_role_arn` output of the cleanup module in the registry's account. Only this role (and `additional_principal_arns`) may assume the role this module creates."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^arn:aws[\\w-]*:iam::\\d{12}:role/[\\w+=,.@/-]+$", var.cleanup_role_arn))
    error_message = "cleanup_role_arn must be the ARN of an IAM role, \"arn:aws:iam::<account id>:role/<name>\": the cleanup module's lambda_role_arn output."
  }
}

variable "additional_principal_arns" {
  description = "Other roles or users that may assume the role, such as the role people run `ecr-cleanup plan` and `run` with."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for arn in var.additional_principal_arns : can(regex("^arn:aws[\\w-]*:iam::\\d{12}:(role|user)/[\\w+=,.@/-]+$", arn))])
    error_message = "additional_principal_arns must list ARNs of IAM roles or users, without wildcards."
  }
}

variable "external_id" {
  description = "An external ID the cleanup must give to assume the role (the trust policy then requires sts:ExternalId). Null: none."
  type        = string
  default     = null

  validation {
    condition     = var.external_id == null ? true : can(regex("^[\\w+=,.@:/-]{2,}$", var.external_id)) && length(var.external_id) <= 1224
    error_message = "external_id must be 2 to 1224 letters, digits or +=,.@:/-_ (what STS accepts), or null."
  }
}

variable "organization_id" {
  description = "When set, the trust policy also requires the caller to belong to this AWS Organization (aws:PrincipalOrgID)."
  type        = string
  default     = null

  validation {
    condition     = var.organization_id == null ? true : can(regex("^o-[a-z0-9]{10,32}$", var.organization_id))
    error_message = "organization_id must be an AWS Organizations ID such as \"o-a1b2c3d4e5\", or null."
  }
}

variable "regions" {
  description = "The regions of this account the cleanup reads, for the `in_use_account` output. Null: the region of this module's provider."
  type        = list(string)
  default     = null

  validation {
    condition     = var.regions == null ? true : length(var.regions) > 0 && alltrue([for region in var.regions : can(regex("^[a-z]{2}(-[a-z]+)+-\\d{1,2}$", region))])
    error_message = "regions must be a non-empty list of region names such as [\"eu-west-1\"], or null."
  }
}

variable "read_ecs" {
  description = "Whether the role may read ECS (tasks, services with their deployments and revisions, task definitions), the ECS targets of EventBridge rules and Scheduler schedules, and Batch job definitions."
  type        = bool
  default     = true
  nullable    = false
}

variable "read_lambda" {
  description = "Whether the role may read Lambda functions."
  type        = bool
  default     = true
  nullable    = false
}

variable "read_sagemaker" {
  description = "Whether the role may read SageMaker models, endpoints and inference components (protect.in_use_accounts[].sagemaker, true unless set to false)."
  type        = bool
  default     = true
  nullable    = false
}

variable "read_codebuild" {
  description = "Whether the role may read CodeBuild projects (protect.in_use_accounts[].codebuild, true unless set to false)."
  type        = bool
  default     = true
  nullable    = false
}

variable "read_eks" {
  description = "Whether the role may list and describe EKS clusters (protect.in_use_accounts[].eks). The role also needs read access inside each cluster: an access entry with AmazonEKSViewPolicy, which `eks_access_clusters` creates."
  type        = bool
  default     = false
  nullable    = false
}

variable "eks_access_clusters" {
  description = "EKS clusters of this account (exact names, in the provider's region) in which the role gets read access: an access entry with AmazonEKSViewPolicy at cluster scope."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for name in var.eks_access_clusters : can(regex("^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$", name))])
    error_message = "eks_access_clusters must list EKS cluster names, without wildcards."
  }
}

variable "tags" {
  description = "Tags for the role."
  type        = map(string)
  default     = {}
  nullable    = false
}
