output "state_machine_arn" {
  description = "The ARN of the state machine that runs a cleanup."
  value       = module.ecr_cleanup.state_machine_arn
}

output "lambda_role_arn" {
  description = "The role the cleanup reads and deletes with; the workload account's role trusts it."
  value       = module.ecr_cleanup.lambda_role_arn
}

output "usage_reader_role_arn" {
  description = "The read-only role in the workload account."
  value       = module.usage_reader.role_arn
}
