output "role_arn" {
  description = "The ARN of the read-only role."
  value       = aws_iam_role.this.arn
}

output "role_name" {
  description = "The name of the read-only role."
  value       = aws_iam_role.this.name
}

output "in_use_account" {
  description = "The entry for the cleanup policy's protect.in_use_accounts that reads this account through this role."
  # Built from the name, so that it is known at plan time: the cleanup's IAM
  # grant and state machine then show it in the plan.
  value = {
    role_arn    = "arn:${local.partition}:iam::${local.account_id}:role/${var.name}"
    external_id = var.external_id
    regions     = local.regions
    ecs         = var.read_ecs
    lambda      = var.read_lambda
    eks         = var.read_eks && length(var.eks_access_clusters) > 0 ? var.eks_access_clusters : null
    sagemaker   = var.read_sagemaker
    codebuild   = var.read_codebuild
  }
}
