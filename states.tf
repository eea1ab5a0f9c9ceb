################################################################################
# State machine
################################################################################

# The policy travels inside the definition: rendered once into the payload of
# the list task and once into the ItemSelector of the Distributed Map, from
# where each child execution's cleanup invocations receive it. Execution input
# {} applies it as configured; {"dry_run": true} makes that one run a dry run.
resource "aws_sfn_state_machine" "this" {
  #checkov:skip=CKV_AWS_285:A STANDARD state machine keeps 90 days of execution history; log delivery would need logs:*Delivery on "*" in its role.
  #checkov:skip=CKV_AWS_284:A scheduled batch job; its execution history and the function logs show each run, X-Ray would add cost and permissions.
  name     = var.name
  type     = "STANDARD"
  role_arn = aws_iam_role.states.arn

  definition = templatefile("${path.module}/statemachine.asl.json", {
    partition              = local.partition
    list_function_arn      = local.function_arns["list"]
    cleanup_function_arn   = local.function_arns["cleanup"]
    summarise_function_arn = local.function_arns["summarise"]
    policy                 = jsonencode(var.policy)
    dry_run                = jsonencode(var.dry_run)
    max_concurrency        = var.max_concurrency
    bucket                 = local.bucket_name
    map_results_prefix     = local.map_results_prefix
    timeout_seconds        = max(1, ceil(var.execution_timeout_minutes * 60))
  })

  tags = var.tags

  # The definition names the functions by ARN, built from their names so that
  # a plan shows it whole; they and the permission to invoke them must exist
  # before the first run.
  depends_on = [aws_lambda_function.this, aws_iam_role_policy.states]
}
