################################################################################
# Notification of runs that end without a summary
################################################################################

# Summarise announces every run that completes, including one that then fails
# with RepositoriesFailed. Every other end of an execution (a stop in the first
# step, a runtime error, a crash of a function, a timeout, an abort) is
# announced by the notify function, which this rule invokes with the execution's
# status change. The function skips RepositoriesFailed (Summarise announced it)
# and claims each run once in its run folder, so a run sends exactly one message.
# Without notification_topic_arn it only logs the run's end.
resource "aws_cloudwatch_event_rule" "execution_ended" {
  name        = "${var.name}-execution-ended"
  description = "Executions of the ${var.name} state machine that failed, timed out or were stopped."
  event_pattern = jsonencode({
    source        = ["aws.states"]
    "detail-type" = ["Step Functions Execution Status Change"]
    detail = {
      stateMachineArn = [local.state_machine_arn]
      status          = ["FAILED", "TIMED_OUT", "ABORTED"]
    }
  })

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "execution_ended" {
  rule = aws_cloudwatch_event_rule.execution_ended.name
  arn  = aws_lambda_function.this["notify"].arn

  retry_policy {
    maximum_event_age_in_seconds = 86400
    maximum_retry_attempts       = 24
  }
}

resource "aws_lambda_permission" "execution_ended" {
  statement_id  = "AllowExecutionEndedRule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this["notify"].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.execution_ended.arn
}
