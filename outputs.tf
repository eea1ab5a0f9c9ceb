output "state_machine_arn" {
  description = "The ARN of the state machine that runs a cleanup. Start it with {} to apply the policy, or {\"dry_run\": true} to only report."
  value       = try(aws_sfn_state_machine.this.arn, "")
}

output "state_machine_name" {
  description = "The name of the state machine that runs a cleanup."
  value       = try(aws_sfn_state_machine.this.name, "")
}

output "schedule_arn" {
  description = "The ARN of the EventBridge Scheduler schedule that starts the state machine."
  value       = try(aws_scheduler_schedule.this.arn, "")
}

output "lambda_function_arns" {
  description = "The ARNs of the Lambda functions, keyed list, cleanup, summarise and notify."
  value       = try({ for key, function in aws_lambda_function.this : key => function.arn }, {})
}

output "lambda_function_names" {
  description = "The names of the Lambda functions, keyed list, cleanup, summarise and notify."
  value       = try({ for key, function in aws_lambda_function.this : key => function.function_name }, {})
}

output "lambda_role_arn" {
  description = "The ARN of the IAM role the Lambda functions run as."
  value       = try(aws_iam_role.lambda.arn, "")
}

output "state_machine_role_arn" {
  description = "The ARN of the IAM role the state machine runs as."
  value       = try(aws_iam_role.states.arn, "")
}

output "scheduler_role_arn" {
  description = "The ARN of the IAM role EventBridge Scheduler uses to start the state machine."
  value       = try(aws_iam_role.scheduler.arn, "")
}

output "log_group_names" {
  description = "The names of the CloudWatch log groups of the Lambda functions, keyed list, cleanup and summarise."
  value       = try({ for key, group in aws_cloudwatch_log_group.lambda : key => group.name }, {})
}

output "report_location" {
  description = "The S3 URI under which each run writes its data and reports, one folder per run named after its start time and execution (<YYYY/MM/DD/HHMMSSZ>-<execution name>/)."
  value       = local.report_location
}

output "bucket_name" {
  description = "The name of the bucket that holds the run data and reports: the one the module created, or report_bucket."
  value       = local.bucket_name
}

output "bucket_arn" {
  description = "The ARN of the bucket that holds the run data and reports."
  value       = local.bucket_arn
}

output "execution_ended_rule_arn" {
  description = "The ARN of the EventBridge rule that sends executions that failed, timed out or were stopped to the notify function."
  value       = aws_cloudwatch_event_rule.execution_ended.arn
}

output "dashboard_name" {
  description = "The name of the CloudWatch dashboard (null unless create_dashboard)."
  value       = try(aws_cloudwatch_dashboard.this[0].dashboard_name, null)
}

output "alarm_arns" {
  description = "The ARNs of the alarms, keyed repositories_failed and executions_failed (empty without alarm_actions)."
  value = length(var.alarm_actions) > 0 ? {
    repositories_failed = aws_cloudwatch_metric_alarm.repositories_failed[0].arn
    executions_failed   = aws_cloudwatch_metric_alarm.executions_failed[0].arn
  } : {}
}
