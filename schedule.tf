################################################################################
# Schedule
################################################################################

# Always created, so that turning the schedule off and on again keeps its ARN
# and settings; schedule_enabled only switches its state.
resource "aws_scheduler_schedule" "this" {
  #checkov:skip=CKV_AWS_297:The schedule's only data is the target input "{}"; a customer managed key would protect nothing.
  name        = var.name
  description = "Starts the ${var.name} ECR cleanup."

  schedule_expression          = var.schedule_expression
  schedule_expression_timezone = var.schedule_timezone
  state                        = var.schedule_enabled ? "ENABLED" : "DISABLED"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_sfn_state_machine.this.arn
    role_arn = aws_iam_role.scheduler.arn
    input    = jsonencode({})
  }
}
