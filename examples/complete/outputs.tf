output "state_machine_arn" {
  description = "The ARN of the state machine that runs a cleanup."
  value       = module.ecr_cleanup.state_machine_arn
}

output "state_machine_name" {
  description = "The name of the state machine that runs a cleanup."
  value       = module.ecr_cleanup.state_machine_name
}

output "schedule_arn" {
  description = "The ARN of the schedule that starts the state machine."
  value       = module.ecr_cleanup.schedule_arn
}

output "lambda_function_arns" {
  description = "The ARNs of the Lambda functions, keyed list, cleanup and summarise."
  value       = module.ecr_cleanup.lambda_function_arns
}

output "lambda_function_names" {
  description = "The names of the Lambda functions, keyed list, cleanup and summarise."
  value       = module.ecr_cleanup.lambda_function_names
}

output "lambda_role_arn" {
  description = "The ARN of the IAM role the Lambda functions run as."
  value       = module.ecr_cleanup.lambda_role_arn
}

output "state_machine_role_arn" {
  description = "The ARN of the IAM role the state machine runs as."
  value       = module.ecr_cleanup.state_machine_role_arn
}

output "scheduler_role_arn" {
  description = "The ARN of the IAM role the schedule uses to start the state machine."
  value       = module.ecr_cleanup.scheduler_role_arn
}

output "log_group_names" {
  description = "The log groups of the Lambda functions, keyed list, cleanup and summarise."
  value       = module.ecr_cleanup.log_group_names
}

output "report_location" {
  description = "Where each run writes its reports: one folder per run, named after its start time."
  value       = module.ecr_cleanup.report_location
}

output "notification_topic_arn" {
  description = "The SNS topic that receives the summary of every run; subscribe to it."
  value       = aws_sns_topic.cleanup.arn
}

output "bucket_name" {
  description = "The bucket the module created for the run data and reports."
  value       = module.ecr_cleanup.bucket_name
}
