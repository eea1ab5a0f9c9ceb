################################################################################
# Dashboard and alarms (opt-in)
################################################################################

locals {
  # The metrics the functions print in the embedded metric format
  # (ecr_cleanup/invocation.py): per run without dimensions, per region with
  # Region, per repository with Region and Repository.
  metric_namespace = var.metrics_namespace
  run_metric = {
    for name in ["ImagesScanned", "ImagesDeleted", "BytesReclaimed", "ImagesArchived", "BytesArchived", "ImagesUntagged", "RepositoriesFailed"] :
    name => [local.metric_namespace, name]
  }
  state_machine_metric = {
    for name in ["ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted", "ExecutionTime"] :
    name => ["AWS/States", name, "StateMachineArn", local.state_machine_arn]
  }

  # One week a point: a run is weekly by default; shorter schedules add up.
  dashboard_period = 604800
  time_series = {
    region  = local.region
    view    = "timeSeries"
    stacked = false
    period  = local.dashboard_period
  }

  dashboard_widgets = [
    {
      type   = "text"
      x      = 0
      y      = 0
      width  = 24
      height = 2
      properties = {
        markdown = "## ECR cleanup `${var.name}`\nWhat each run did, from the metrics the functions emit in `${local.metric_namespace}`; every image and why it went or stayed are in the run reports under ${local.report_location}. A dry run adds nothing here."
      }
    },
    {
      type   = "metric"
      x      = 0
      y      = 2
      width  = 12
      height = 6
      properties = merge(local.time_series, {
        title   = "Images deleted, archived and untagged per week"
        stat    = "Sum"
        metrics = [local.run_metric["ImagesDeleted"], local.run_metric["ImagesArchived"], local.run_metric["ImagesUntagged"], local.run_metric["ImagesScanned"]]
      })
    },
    {
      type   = "metric"
      x      = 12
      y      = 2
      width  = 12
      height = 6
      properties = merge(local.time_series, {
        title   = "Bytes reclaimed and archived per week"
        stat    = "Sum"
        metrics = [local.run_metric["BytesReclaimed"], local.run_metric["BytesArchived"]]
      })
    },
    {
      type   = "metric"
      x      = 0
      y      = 8
      width  = 12
      height = 6
      properties = merge(local.time_series, {
        title   = "Failures: repositories and executions"
        stat    = "Sum"
        metrics = [local.run_metric["RepositoriesFailed"], local.state_machine_metric["ExecutionsFailed"], local.state_machine_metric["ExecutionsTimedOut"], local.state_machine_metric["ExecutionsAborted"]]
      })
    },
    {
      type   = "metric"
      x      = 12
      y      = 8
      width  = 12
      height = 6
      properties = merge(local.time_series, {
        title   = "Run duration (ms)"
        stat    = "Maximum"
        metrics = [local.state_machine_metric["ExecutionTime"]]
      })
    },
    {
      type   = "metric"
      x      = 0
      y      = 14
      width  = 24
      height = 8
      properties = {
        title  = "Top 20 repositories by bytes reclaimed"
        region = local.region
        view   = "bar"
        period = local.dashboard_period
        metrics = [[{
          id         = "top"
          label      = "BytesReclaimed"
          expression = "SELECT SUM(BytesReclaimed) FROM SCHEMA(\"${local.metric_namespace}\", Region, Repository) GROUP BY Region, Repository ORDER BY SUM() DESC LIMIT 20"
        }]]
      }
    },
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  count = var.create_dashboard ? 1 : 0

  dashboard_name = var.name
  dashboard_body = jsonencode({ widgets = local.dashboard_widgets })
}

# A run in which a repository failed: the run's RepositoriesFailed, printed by
# the summarise function.
resource "aws_cloudwatch_metric_alarm" "repositories_failed" {
  count = length(var.alarm_actions) > 0 ? 1 : 0

  alarm_name          = "${var.name}-repositories-failed"
  alarm_description   = "A run of the ${var.name} ECR cleanup could not clean a repository; summary.json of the run lists each one and why."
  namespace           = local.metric_namespace
  metric_name         = "RepositoriesFailed"
  statistic           = "Maximum"
  period              = 3600
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions

  tags = var.tags
}

# An execution that failed or timed out: whatever stopped it, including a
# function that crashed before it could emit a metric.
resource "aws_cloudwatch_metric_alarm" "executions_failed" {
  count = length(var.alarm_actions) > 0 ? 1 : 0

  alarm_name          = "${var.name}-executions-failed"
  alarm_description   = "An execution of the ${var.name} ECR cleanup state machine failed or timed out."
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions

  metric_query {
    id          = "ended"
    expression  = "FILL(failed, 0) + FILL(timed_out, 0)"
    label       = "Executions failed or timed out"
    return_data = true
  }

  metric_query {
    id = "failed"

    metric {
      namespace   = "AWS/States"
      metric_name = "ExecutionsFailed"
      dimensions  = { StateMachineArn = local.state_machine_arn }
      stat        = "Sum"
      period      = 300
    }
  }

  metric_query {
    id = "timed_out"

    metric {
      namespace   = "AWS/States"
      metric_name = "ExecutionsTimedOut"
      dimensions  = { StateMachineArn = local.state_machine_arn }
      stat        = "Sum"
      period      = 300
    }
  }

  tags = var.tags
}
