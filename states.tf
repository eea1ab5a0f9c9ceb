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
    list_function_arn      = aws_lambda_function.this["list"].arn
    cleanup_function_arn   = aws_lambda_function.this["cleanup"].arn
    summarise_function_arn = aws_lambda_function.this["summarise"].arn
    policy                 = jsonencode(var.policy)
    dry_run                = jsonencode(var.dry_run)
    max_concurrency        = var.max_concurrency
    bucket                 = local.bucket_name
    map_results_prefix     = local.map_results_prefix
  })

  tags = var.tags

  # The first scheduled run must find the state machine allowed to invoke.
  depends_on = [aws_iam_role_policy.states]
}
