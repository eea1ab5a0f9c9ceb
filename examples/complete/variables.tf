variable "region" {
  description = "The AWS region to deploy the cleanup to. It cleans the ECR repositories of this region."
  type        = string
  default     = "us-east-1"
}
