output "state_machine_arn" {
  description = "The ARN of the state machine that cleans both regions."
  value       = module.ecr_cleanup.state_machine_arn
}

output "lambda_role_arn" {
  description = "The role the cleanup reads and deletes with, in both regions."
  value       = module.ecr_cleanup.lambda_role_arn
}

output "report_location" {
  description = "Where each run's reports go: one folder per region under repositories/."
  value       = module.ecr_cleanup.report_location
}
