################################################################################
# Run data and reports
################################################################################

# Every run keeps its data under <report_prefix><YYYY/MM/DD/HHMMSSZ>-<execution>/ in one
# bucket: the repositories to clean (the Distributed Map reads them from
# there), the snapshot of images in use, each invocation's results, and the
# audit reports. The module creates that bucket unless report_bucket names an
# existing one; its name is <name>-<account>-<region> (see local.bucket_name).

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_18:Access logging would need a second bucket; every write comes from this module's Lambda role and is recorded in the run's own reports and the function logs.
  #checkov:skip=CKV_AWS_144:Reports of a cleanup are not worth a second region; the registry they describe lives in one region too.
  #checkov:skip=CKV_AWS_145:SSE-S3 encrypts every object at rest; a customer managed key would have to be granted to the Lambda and Step Functions roles and is left to users who bring their own bucket.
  #checkov:skip=CKV2_AWS_62:Nothing listens to these objects; the run's summary goes to notification_topic_arn.
  #checkov:skip=CKV_AWS_21:Objects are written once per run (the usage snapshot is replaced by design); versions would only keep superseded snapshots until they expire.
  #checkov:skip=CKV2_AWS_61:The lifecycle configuration exists unless report_retention_days is 0, which asks to keep every report.
  count = local.create_bucket ? 1 : 0

  bucket        = local.bucket_name
  force_destroy = var.bucket_force_destroy

  tags = var.tags
}

resource "aws_s3_bucket_public_access_block" "this" {
  count = local.create_bucket ? 1 : 0

  bucket = aws_s3_bucket.this[0].id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  count = local.create_bucket ? 1 : 0

  bucket = aws_s3_bucket.this[0].id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  count = local.create_bucket ? 1 : 0

  bucket = aws_s3_bucket.this[0].id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

# Runs expire after report_retention_days; 0 keeps them, and then the bucket
# has no lifecycle configuration at all.
resource "aws_s3_bucket_lifecycle_configuration" "this" {
  count = local.create_bucket && var.report_retention_days > 0 ? 1 : 0

  bucket = aws_s3_bucket.this[0].id

  rule {
    id     = "expire-runs"
    status = "Enabled"

    filter {
      prefix = var.report_prefix
    }

    expiration {
      days = var.report_retention_days
    }
  }

  rule {
    id     = "abort-incomplete-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

data "aws_iam_policy_document" "bucket" {
  count = local.create_bucket ? 1 : 0

  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      local.bucket_arn,
      "${local.bucket_arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  count = local.create_bucket ? 1 : 0

  bucket = aws_s3_bucket.this[0].id
  policy = data.aws_iam_policy_document.bucket[0].json

  depends_on = [aws_s3_bucket_public_access_block.this]
}
