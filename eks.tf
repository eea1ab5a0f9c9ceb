# Read access for the Lambda role in the EKS clusters named in
# eks_access_clusters: what protect.in_use_eks needs to list the workloads
# (pods, pod templates) of every namespace. AmazonEKSViewPolicy is read-only
# and does not show Secrets.

resource "aws_eks_access_entry" "this" {
  for_each = toset(var.eks_access_clusters)

  cluster_name  = each.value
  principal_arn = aws_iam_role.lambda.arn
  type          = "STANDARD"

  tags = var.tags
}

resource "aws_eks_access_policy_association" "this" {
  for_each = toset(var.eks_access_clusters)

  cluster_name  = each.value
  principal_arn = aws_iam_role.lambda.arn
  policy_arn    = "arn:${local.partition}:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"

  access_scope {
    type = "cluster"
  }

  depends_on = [aws_eks_access_entry.this]
}

# Functions in a VPC (lambda_vpc_config) manage their network interfaces with
# the AWS managed policy Lambda documents for this.
resource "aws_iam_role_policy_attachment" "vpc" {
  count = var.lambda_vpc_config == null ? 0 : 1

  role       = aws_iam_role.lambda.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}
