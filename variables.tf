################################################################################
# Naming and tagging
################################################################################

variable "name" {
  description = "Name of the cleanup. It is used as is for the state machine and the schedule, and as the prefix of the Lambda functions and log groups, so it must be unique in the account and region; the IAM roles, which are global to the account, are named <name>-<region>-<role>, so the same name can be deployed in several regions of one account."
  type        = string
  default     = "ecr-cleanup"
  nullable    = false

  # The longest derived name is the scheduler's IAM role, <name>-<region>-scheduler,
  # at most 64 characters with a region name of up to 16 (the longest today has 14).
  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_-]{0,36}$", var.name))
    error_message = "name must start with a letter and use at most 37 letters, digits, hyphens or underscores, so that every derived name (the IAM roles are \"<name>-<region>-lambda\", \"<name>-<region>-states\" and \"<name>-<region>-scheduler\") stays within AWS limits in every region."
  }
}

variable "regions" {
  description = "The regions whose registries one run cleans, null (the default) for the provider's region alone. The functions run in the provider's region and call ECR in each listed region; images in use are read in every listed region (ECS, Lambda, EKS, Batch, the schedules, SageMaker, CodeBuild), and a workload's image reference protects the image of the registry it names, so a workload in one region running another region's image protects that image there. A source that cannot be read in any region stops every deletion in every region. Reports stay in the bucket of the provider's region, one folder per region; the summary, the notification and the metrics (dimension Region) are per region and in total. With exclude_own_pulls the Lambda role is registered in the pull-time update exclusions of every listed region's registry."
  type        = list(string)
  default     = null

  validation {
    condition     = var.regions == null ? true : length(var.regions) > 0 && length(distinct(var.regions)) == length(var.regions) && alltrue([for region in var.regions : can(regex("^[a-z]{2,4}(-[a-z]+)+-[0-9]{1,2}$", region))])
    error_message = "regions must be a non-empty list of distinct region names such as [\"us-east-1\", \"eu-west-1\"], or null for the provider's region."
  }
}

variable "replicas_follow_source" {
  description = "Whether a replica image (in a region that ECR replication writes to, per the registry's replication configuration) is deleted only when its source region no longer holds the same digest, so that a replica never outlives or pre-empts its source because of the policy. The replica's cleanup reads its source repository just before it plans, so an image its source deleted earlier in the run goes with it, and one its source still holds goes in a later run. false (the default): replicas are cleaned by the policy like any repository."
  type        = bool
  default     = false
  nullable    = false
}

variable "tags" {
  description = "Tags to add to every resource the module creates that supports tags."
  type        = map(string)
  default     = {}
  nullable    = false
}

################################################################################
# Cleanup policy
################################################################################

variable "policy" {
  description = <<-EOT
    The cleanup policy: which repositories to look at, which images each rule deletes, which images are never deleted, and how many deletions one run may make per repository. It has exactly the shape of the engine's JSON policy document (see the policy reference in README.md):
    { repositories = { include = [globs], exclude = [globs] }, rules = [{ description, repositories = [globs], regions = [globs], tag_status = "tagged" | "untagged" | "any", tag_patterns = [globs], tag_match = "any" | "all", tag_regex = [regular expressions], group_by = regular expression, order_by = "pushed" | "version", older_than_days, not_pulled_for_days, archived_for_days, keep_latest, action = "delete" | "archive" | "untag", image_status = "active" | "archived" }], rule_order = "any" | "priority", protect = { tag_patterns = [globs], tag_regex = [regular expressions], younger_than_days, in_use = true | false, in_use_sources = ["s3://bucket/key" | "ssm:<parameter name>" | SSM parameter ARN], task_definition_revisions, in_use_accounts = [{ role_arn, external_id, regions = [names], ecs = true | false, lambda = true | false, eks = [globs], sagemaker = true | false, codebuild = true | false }], in_use_eks = [cluster name globs], in_use_sagemaker = true | false, in_use_codebuild = true | false, pulled_within_days }, limits = { max_deletions_per_repository, max_delete_fraction } }.
    Only rules is required; an attribute left out or null means "not given". The type is `any` on purpose: an object type would silently drop a misspelt attribute (a `protect.tag_pattern` would protect nothing), whereas here every unknown attribute is refused by name.
    The policy is embedded in the state machine definition, not in Lambda environment variables, so its size is not bound by their 4 KB limit.
    It also shapes the Lambda role: a rule with action = "archive" adds ecr:UpdateImageStorageClass on the repositories the policy selects; protect.in_use (true unless set to false) adds read-only ECS (tasks, services, their deployments and revisions), Lambda, EventBridge and EventBridge Scheduler permissions to find the images in use, protect.in_use_sagemaker and protect.in_use_codebuild (true unless set to false, with in_use) add the SageMaker model, endpoint and inference component reads and the CodeBuild project reads, protect.task_definition_revisions (5 unless set to 0) adds the ECS task definition and AWS Batch job definition listings, every entry of protect.in_use_sources adds s3:GetObject or ssm:GetParameter on exactly that object or parameter, protect.in_use_accounts adds sts:AssumeRole on exactly the role_arn of each entry (see modules/usage-reader), and protect.in_use_eks adds eks:ListClusters and eks:DescribeCluster (give the role access to each cluster with eks_access_clusters).
  EOT
  type        = any
  nullable    = false

  # Every condition is wrapped in try(..., false): with type `any`, a value of the
  # wrong type must fail with this module's message, not with an evaluation error.

  validation {
    condition     = try(alltrue([for key in keys(var.policy) : contains(["repositories", "rules", "rule_order", "protect", "limits"], key)]), false)
    error_message = "policy must be an object with only the attributes repositories, rules, rule_order, protect and limits; unknown: ${try(join(", ", [for key in keys(var.policy) : key if !contains(["repositories", "rules", "rule_order", "protect", "limits"], key)]), "(not an object)")}."
  }

  validation {
    condition = try(alltrue([
      for key in keys(try(coalesce(var.policy.repositories, {}), {})) : contains(["include", "exclude"], key)
    ]), false)
    error_message = "policy.repositories must be an object with only the attributes include and exclude; unknown: ${try(join(", ", [for key in keys(var.policy.repositories) : key if !contains(["include", "exclude"], key)]), "(not an object)")}."
  }

  validation {
    condition = try(alltrue([
      for key in keys(try(coalesce(var.policy.protect, {}), {})) : contains(["tag_patterns", "younger_than_days", "in_use", "in_use_sources", "task_definition_revisions", "in_use_accounts", "in_use_eks", "in_use_sagemaker", "in_use_codebuild", "pulled_within_days"], key)
    ]), false)
    error_message = "policy.protect must be an object with only the attributes tag_patterns, younger_than_days, in_use, in_use_sources, task_definition_revisions, in_use_accounts, in_use_eks, in_use_sagemaker, in_use_codebuild and pulled_within_days; unknown: ${try(join(", ", [for key in keys(var.policy.protect) : key if !contains(["tag_patterns", "younger_than_days", "in_use", "in_use_sources", "task_definition_revisions", "in_use_accounts", "in_use_eks", "in_use_sagemaker", "in_use_codebuild", "pulled_within_days"], key)]), "(not an object)")}."
  }

  validation {
    condition = try(alltrue([
      for key in keys(try(coalesce(var.policy.limits, {}), {})) : contains(["max_deletions_per_repository", "max_delete_fraction"], key)
    ]), false)
    error_message = "policy.limits must be an object with only the attributes max_deletions_per_repository and max_delete_fraction; unknown: ${try(join(", ", [for key in keys(var.policy.limits) : key if !contains(["max_deletions_per_repository", "max_delete_fraction"], key)]), "(not an object)")}."
  }

  validation {
    condition     = try(length(var.policy.rules) > 0 && alltrue([for r in var.policy.rules : length(keys(r)) >= 0]), false)
    error_message = "policy.rules is required: a list of at least one rule object."
  }

  validation {
    condition = try(alltrue([
      for r in var.policy.rules : alltrue([
        for key in keys(r) : contains(["description", "repositories", "tag_status", "tag_patterns", "tag_regex", "group_by", "order_by", "older_than_days", "not_pulled_for_days", "archived_for_days", "keep_latest", "action", "image_status", "regions", "tag_match"], key)
      ])
    ]), false)
    error_message = "policy.rules[*] may only have the attributes description, repositories, tag_status, tag_patterns, tag_regex, group_by, order_by, older_than_days, not_pulled_for_days, archived_for_days, keep_latest, action, image_status, regions and tag_match; unknown: ${try(join(", ", distinct(flatten([for r in var.policy.rules : [for key in keys(r) : key if !contains(["description", "repositories", "tag_status", "tag_patterns", "tag_regex", "group_by", "order_by", "older_than_days", "not_pulled_for_days", "archived_for_days", "keep_latest", "action", "image_status", "regions", "tag_match"], key)]]))), "(a rule is not an object)")}."
  }

  validation {
    condition = try(alltrue([
      for r in var.policy.rules :
      try(r.older_than_days, null) != null || try(r.not_pulled_for_days, null) != null || try(r.archived_for_days, null) != null || try(r.keep_latest, null) != null
    ]), false)
    error_message = "Every entry of policy.rules must set at least one of older_than_days, not_pulled_for_days, archived_for_days or keep_latest: a rule without a condition would delete every image it selects."
  }

  validation {
    condition = try(alltrue([
      for r in var.policy.rules :
      try(r.tag_status, null) == null ? true : contains(["tagged", "untagged", "any"], r.tag_status)
    ]), false)
    error_message = "policy.rules[*].tag_status must be \"tagged\", \"untagged\" or \"any\" (leave it out for \"any\")."
  }

  validation {
    condition = try(alltrue([
      for r in var.policy.rules :
      try(r.older_than_days, null) == null ? true : (r.older_than_days >= 0 && floor(r.older_than_days) == r.older_than_days)
    ]), false)
    error_message = "policy.rules[*].older_than_days must be a whole number >= 0 (days)."
  }

  validation {
    condition = try(alltrue([
      for r in var.policy.rules :
      try(r.not_pulled_for_days, null) == null ? true : (r.not_pulled_for_days >= 0 && floor(r.not_pulled_for_days) == r.not_pulled_for_days)
    ]), false)
    error_message = "policy.rules[*].not_pulled_for_days must be a whole number >= 0 (days)."
  }

  validation {
    condition = try(alltrue([
      for r in var.policy.rules :
      try(r.keep_latest, null) == null ? true : (r.keep_latest >= 0 && floor(r.keep_latest) == r.keep_latest)
    ]), false)
    error_message = "policy.rules[*].keep_latest must be a whole number >= 0 (images)."
  }

  validation {
    condition = try(alltrue([
      for r in var.policy.rules :
      try(r.archived_for_days, null) == null ? true : (r.archived_for_days >= 0 && floor(r.archived_for_days) == r.archived_for_days)
    ]), false)
    error_message = "policy.rules[*].archived_for_days must be a whole number >= 0 (days)."
  }

  validation {
    condition = try(alltrue([
      for r in var.policy.rules :
      try(r.action, null) == null ? true : contains(["delete", "archive", "untag"], r.action)
    ]), false)
    error_message = "policy.rules[*].action must be \"delete\", \"archive\" or \"untag\" (leave it out for \"delete\")."
  }

  validation {
    condition = try(alltrue([
      for r in var.policy.rules :
      try(r.order_by, null) == null ? true : contains(["pushed", "version"], r.order_by)
    ]), false)
    error_message = "policy.rules[*].order_by must be \"pushed\" or \"version\" (leave it out for \"pushed\")."
  }

  validation {
    condition = try(alltrue([
      for r in var.policy.rules :
      (try(r.group_by, null) == null && try(r.order_by, null) == null) || try(r.keep_latest, null) != null
    ]), false)
    error_message = "policy.rules[*].group_by and order_by need keep_latest: they say how keep_latest ranks the images."
  }

  validation {
    condition = try(alltrue([
      for r in var.policy.rules :
      try(r.action, null) != "untag" ? true : (
        (try(r.tag_patterns, null) != null || try(r.tag_regex, null) != null || try(r.group_by, null) != null) &&
        try(r.tag_status, null) != "untagged" && try(r.image_status, null) != "archived"
      )
    ]), false)
    error_message = "policy.rules[*].action = \"untag\" needs tag_patterns, tag_regex or group_by (the tags it removes; an image's last tag is never removed), and cannot be combined with tag_status \"untagged\" or image_status \"archived\"."
  }

  validation {
    condition = try(alltrue([
      for r in var.policy.rules : try(r.tag_regex, null) == null || try(r.tag_patterns, null) == null
    ]), false)
    error_message = "policy.rules[*].tag_regex cannot be combined with tag_patterns: give one of them."
  }

  # Regular expressions (tag_regex, group_by, protect.tag_regex) must compile
  # here (RE2) as in the engine (Python's re, the syntax both share), and must
  # not backtrack catastrophically: a group holding *, +, {n,} or | directly
  # followed by *, + or {n,} is refused (the engine checks every nesting, and
  # accepts an alternation of single characters, which this test refuses: write
  # [ab]* for (a|b)*).
  validation {
    condition = try(alltrue([
      for r in var.policy.rules :
      try(r.tag_regex, null) == null ? true : length(r.tag_regex) > 0 && alltrue([
        for p in r.tag_regex : length(p) > 0 && can(regexall(p, "")) && length(regexall("\\([^()]*([*+|]|\\{[0-9]+,\\})[^()]*\\)([*+]|\\{[0-9]+,\\})", p)) == 0
      ])
    ]), false)
    error_message = "policy.rules[*].tag_regex, when given, must list at least one regular expression, each valid (the syntax Python's re and RE2 share: no lookarounds or backreferences) and without an unbounded quantifier applied to a group that holds another one or an alternation, as in (a+)+ or (a|aa)*, which can backtrack catastrophically."
  }

  validation {
    condition = try(alltrue([
      for r in var.policy.rules :
      try(r.group_by, null) == null ? true : (
        length(r.group_by) > 0 && can(regexall(r.group_by, "")) &&
        length(regexall("\\([^()]*([*+|]|\\{[0-9]+,\\})[^()]*\\)([*+]|\\{[0-9]+,\\})", r.group_by)) == 0 &&
        (strcontains(r.group_by, "(?P<line>") || length(regexall("\\((\\?P<[A-Za-z_][A-Za-z0-9_]*>|[^?])", r.group_by)) - (strcontains(r.group_by, "(?P<version>") ? 1 : 0) == 1)
      )
    ]), false)
    error_message = "policy.rules[*].group_by must be a valid regular expression (see tag_regex) with one capture group that names an image's group, or a group named line, as in \"^(?P<line>[a-z0-9-]+)-[0-9a-f]{7,40}$\" (a group named version holds the version for order_by \"version\")."
  }

  validation {
    condition = try(alltrue([
      for r in var.policy.rules :
      try(r.tag_status, null) != "untagged" ? true : (try(r.tag_regex, null) == null && try(r.group_by, null) == null && try(r.order_by, null) == null)
    ]), false)
    error_message = "policy.rules[*].tag_regex, group_by and order_by cannot be combined with tag_status = \"untagged\": untagged images have no tag to match or rank."
  }

  validation {
    condition = try(alltrue([
      for r in var.policy.rules :
      try(r.image_status, null) == null ? true : contains(["active", "archived"], r.image_status)
    ]), false)
    error_message = "policy.rules[*].image_status must be \"active\" or \"archived\" (leave it out for \"active\")."
  }

  validation {
    condition = try(alltrue([
      for r in var.policy.rules :
      !(try(r.action, null) == "archive" && try(r.image_status, null) == "archived")
    ]), false)
    error_message = "policy.rules[*].action = \"archive\" cannot be combined with image_status = \"archived\": those images are archived already. Use action \"delete\" to delete from the archive."
  }

  validation {
    condition = try(alltrue([
      for r in var.policy.rules :
      try(r.archived_for_days, null) == null ? true : try(r.image_status, null) == "archived"
    ]), false)
    error_message = "policy.rules[*].archived_for_days needs image_status = \"archived\": only archived images have been archived for some days."
  }

  validation {
    condition = try(alltrue([
      for r in var.policy.rules :
      try(r.tag_status, null) != "untagged" ? true : try(r.tag_patterns, null) == null
    ]), false)
    error_message = "policy.rules[*].tag_patterns cannot be combined with tag_status = \"untagged\": untagged images have no tag to match. Remove tag_patterns or use tag_status \"tagged\"."
  }

  # Pattern lists mirror the engine: a list, when given, holds at least one
  # pattern; a pattern is a non-empty fnmatch glob whose every '[' is closed.
  # Repository patterns also keep to the characters of ECR repository names,
  # because they become IAM resource ARNs (see local.repository_arns).

  validation {
    condition = try(alltrue([
      for r in var.policy.rules :
      try(r.tag_patterns, null) == null ? true : length(r.tag_patterns) > 0 && alltrue([
        for p in r.tag_patterns : length(trimspace(p)) > 0 && can(regex("^([^\\[]|\\[!?\\]?[^\\]]*\\])*$", p))
      ])
    ]), false)
    error_message = "policy.rules[*].tag_patterns, when given, must list at least one glob such as \"dev-*\" or \"pr-[0-9]*\"; no pattern may be empty or leave a '[' unclosed (write '[[]' for a literal '['). Leave it out to match any tag."
  }

  validation {
    condition = try(alltrue([
      for r in var.policy.rules :
      try(r.repositories, null) == null ? true : length(r.repositories) > 0 && alltrue([
        for p in r.repositories : can(regex("^[a-z0-9._/*?\\[\\]!-]+$", p)) && can(regex("^([^\\[]|\\[!?\\]?[^\\]]*\\])*$", p))
      ])
    ]), false)
    error_message = "policy.rules[*].repositories, when given, must list at least one repository name glob such as \"app-*\": lower-case letters, digits, \".\", \"_\", \"-\", \"/\" and the wildcards \"*\", \"?\" and \"[...]\" with every '[' closed. Leave it out for every selected repository."
  }

  validation {
    condition     = try(var.policy.rule_order, null) == null ? true : contains(["any", "priority"], try(var.policy.rule_order, ""))
    error_message = "policy.rule_order must be \"any\" (an image goes when any rule matches it) or \"priority\" (the first rule whose selection holds an image decides it, as ECR lifecycle policies do)."
  }

  validation {
    condition = try(alltrue([
      for r in var.policy.rules :
      try(r.tag_match, null) == null ? true : (contains(["any", "all"], r.tag_match) && try(r.tag_patterns, null) != null)
    ]), false)
    error_message = "policy.rules[*].tag_match must be \"any\" or \"all\", and only with tag_patterns (whether an image needs a tag matching any pattern, or one matching each)."
  }

  validation {
    condition = try(alltrue([
      for r in var.policy.rules :
      try(r.regions, null) == null ? true : length(r.regions) > 0 && alltrue([
        for p in r.regions : can(regex("^[a-z0-9*?\\[\\]!-]+$", p)) && can(regex("^([^\\[]|\\[!?\\]?[^\\]]*\\])*$", p))
      ])
    ]), false)
    error_message = "policy.rules[*].regions, when given, must list at least one region name or glob such as \"eu-*\": lower-case letters, digits, \"-\" and the wildcards \"*\", \"?\" and \"[...]\" with every '[' closed. Leave it out for every region the cleanup runs in."
  }

  validation {
    condition = try(alltrue([
      for patterns in [try(var.policy.repositories.include, null), try(var.policy.repositories.exclude, null)] :
      patterns == null ? true : length(patterns) > 0 && alltrue([
        for p in patterns : can(regex("^[a-z0-9._/*?\\[\\]!-]+$", p)) && can(regex("^([^\\[]|\\[!?\\]?[^\\]]*\\])*$", p))
      ])
    ]), false)
    error_message = "policy.repositories.include and policy.repositories.exclude, when given, must each list at least one repository name glob such as \"team-a/*\": lower-case letters, digits, \".\", \"_\", \"-\", \"/\" and the wildcards \"*\", \"?\" and \"[...]\" with every '[' closed. Leave include out to select every repository."
  }

  validation {
    condition = try(
      try(var.policy.protect.tag_patterns, null) == null ? true :
      length(var.policy.protect.tag_patterns) > 0 && alltrue([
        for p in var.policy.protect.tag_patterns : length(trimspace(p)) > 0 && can(regex("^([^\\[]|\\[!?\\]?[^\\]]*\\])*$", p))
      ]),
      false
    )
    error_message = "policy.protect.tag_patterns, when given, must list at least one glob such as \"latest\" or \"release-*\"; no pattern may be empty or leave a '[' unclosed (write '[[]' for a literal '[')."
  }

  validation {
    condition = try(
      try(var.policy.protect.tag_regex, null) == null ? true :
      try(var.policy.protect.tag_patterns, null) == null && length(var.policy.protect.tag_regex) > 0 && alltrue([
        for p in var.policy.protect.tag_regex : length(p) > 0 && can(regexall(p, "")) && length(regexall("\\([^()]*([*+|]|\\{[0-9]+,\\})[^()]*\\)([*+]|\\{[0-9]+,\\})", p)) == 0
      ]),
      false
    )
    error_message = "policy.protect.tag_regex, when given, must list at least one valid regular expression (see policy.rules[*].tag_regex) and cannot be combined with protect.tag_patterns."
  }

  validation {
    condition = try(
      try(var.policy.protect.younger_than_days, null) == null ? true :
      var.policy.protect.younger_than_days >= 0 && floor(var.policy.protect.younger_than_days) == var.policy.protect.younger_than_days,
      false
    )
    error_message = "policy.protect.younger_than_days must be a whole number >= 0 (days)."
  }

  # `==` never converts types, so a "true" given as a string is refused here,
  # as the engine would refuse it at run time.
  validation {
    condition     = try(try(var.policy.protect.in_use, null) == null ? true : var.policy.protect.in_use == true || var.policy.protect.in_use == false, false)
    error_message = "policy.protect.in_use must be true or false (leave it out for true: images that ECS tasks and services or Lambda functions use are never deleted)."
  }

  # The same forms as the engine accepts (ecr_cleanup/policy.py); each one also
  # becomes the IAM resource of one s3:GetObject or ssm:GetParameter grant, so
  # the IAM wildcards "*" and "?" and policy variables ("${...}") are refused:
  # they would grant more than the one object or parameter.
  validation {
    condition = try(
      try(var.policy.protect.in_use_sources, null) == null ? true : alltrue([
        for source in tolist(var.policy.protect.in_use_sources) :
        can(regex("^(s3://[^/\\s]+/\\S+|ssm:\\S+|arn:[\\w-]+:ssm:[\\w-]+:\\d{12}:parameter/\\S+)$", source)) && !can(regex("[*?]|\\$\\{", source))
      ]),
      false
    )
    error_message = "policy.protect.in_use_sources must be a list of sources, each \"s3://<bucket>/<key>\", \"ssm:<parameter name>\" (such as \"ssm:/ecr-cleanup/images-in-use\") or an SSM parameter ARN (\"arn:aws:ssm:<region>:<account>:parameter/<name>\"), without spaces, IAM wildcards (\"*\", \"?\") or policy variables: each names the one object or parameter the Lambda role may then read."
  }

  validation {
    condition = try(
      try(var.policy.protect.in_use_eks, null) == null ? true :
      length(var.policy.protect.in_use_eks) > 0 && alltrue([for p in var.policy.protect.in_use_eks : length(trimspace(p)) > 0 && can(regex("^([^\\[]|\\[!?\\]?[^\\]]*\\])*$", p))]),
      false
    )
    error_message = "policy.protect.in_use_eks, when given, must list at least one EKS cluster name or glob such as \"prod-*\"; no pattern may be empty or leave a '[' unclosed. Every pattern must match a cluster at run time, or the run deletes nothing."
  }

  # The same checks as the engine's (ecr_cleanup/policy.py). Each role_arn also
  # becomes the resource of the sts:AssumeRole grant, so wildcards are refused.
  validation {
    condition = try(
      try(var.policy.protect.in_use_accounts, null) == null ? true : alltrue([
        for account in var.policy.protect.in_use_accounts :
        alltrue([for key in keys(account) : contains(["role_arn", "external_id", "regions", "ecs", "lambda", "eks", "sagemaker", "codebuild"], key)]) &&
        can(regex("^arn:aws[\\w-]*:iam::\\d{12}:role/[\\w+=,.@/-]{1,512}$", account.role_arn)) &&
        (try(account.external_id, null) == null ? true : can(regex("^[\\w+=,.@:/-]{2,}$", account.external_id)) && length(account.external_id) <= 1224) &&
        (try(account.regions, null) == null ? true : length(account.regions) > 0 && alltrue([for region in account.regions : can(regex("^[a-z]{2}(-[a-z]+)+-\\d{1,2}$", region))])) &&
        (try(account.ecs, null) == null ? true : account.ecs == true || account.ecs == false) &&
        (try(account.lambda, null) == null ? true : account.lambda == true || account.lambda == false) &&
        (try(account.sagemaker, null) == null ? true : account.sagemaker == true || account.sagemaker == false) &&
        (try(account.codebuild, null) == null ? true : account.codebuild == true || account.codebuild == false) &&
        (try(account.eks, null) == null ? true : length(account.eks) > 0 && alltrue([for p in account.eks : length(trimspace(p)) > 0]))
      ]) && length(distinct([for account in var.policy.protect.in_use_accounts : account.role_arn])) == length(var.policy.protect.in_use_accounts),
      false
    )
    error_message = "policy.protect.in_use_accounts must be a list of objects { role_arn, external_id, regions, ecs, lambda, eks, sagemaker, codebuild }, each role once: role_arn the ARN of a role in the workload account (\"arn:aws:iam::<account id>:role/<name>\", no wildcards; modules/usage-reader creates it), external_id 2 to 1224 letters, digits or +=,.@:/-_, regions a non-empty list of region names such as [\"eu-west-1\"] (leave it out for the cleanup's region), ecs, lambda, sagemaker and codebuild true or false, eks a non-empty list of cluster name globs."
  }

  validation {
    condition     = try(try(var.policy.protect.in_use_sagemaker, null) == null ? true : var.policy.protect.in_use_sagemaker == true || var.policy.protect.in_use_sagemaker == false, false)
    error_message = "policy.protect.in_use_sagemaker must be true or false (leave it out for true: SageMaker models, endpoints and inference components keep their images; false for an account that denies those reads)."
  }

  validation {
    condition     = try(try(var.policy.protect.in_use_codebuild, null) == null ? true : var.policy.protect.in_use_codebuild == true || var.policy.protect.in_use_codebuild == false, false)
    error_message = "policy.protect.in_use_codebuild must be true or false (leave it out for true: CodeBuild projects keep their build images; false for an account that denies those reads)."
  }

  validation {
    condition = try(
      try(var.policy.protect.pulled_within_days, null) == null ? true :
      var.policy.protect.pulled_within_days >= 1 && floor(var.policy.protect.pulled_within_days) == var.policy.protect.pulled_within_days,
      false
    )
    error_message = "policy.protect.pulled_within_days must be a whole number >= 1: an image pulled within that many days is never deleted or archived (ECR may record a pull up to a day late, so 2 or more)."
  }

  validation {
    condition = try(
      try(var.policy.protect.task_definition_revisions, null) == null ? true :
      var.policy.protect.task_definition_revisions >= 0 && floor(var.policy.protect.task_definition_revisions) == var.policy.protect.task_definition_revisions,
      false
    )
    error_message = "policy.protect.task_definition_revisions must be a whole number >= 0: how many of the latest revisions of every ECS task definition family and AWS Batch job definition keep their images (leave it out for 5; 0 protects none)."
  }

  validation {
    condition = try(
      try(var.policy.limits.max_deletions_per_repository, null) == null ? true :
      var.policy.limits.max_deletions_per_repository >= 1 && floor(var.policy.limits.max_deletions_per_repository) == var.policy.limits.max_deletions_per_repository,
      false
    )
    error_message = "policy.limits.max_deletions_per_repository must be a whole number >= 1. Leave it out for no limit; use dry_run to delete nothing."
  }

  # Compared with `==` to its own tonumber(), so "0.5" given as a string is refused.
  validation {
    condition = try(
      try(var.policy.limits.max_delete_fraction, null) == null ? true :
      var.policy.limits.max_delete_fraction == tonumber(var.policy.limits.max_delete_fraction) && var.policy.limits.max_delete_fraction >= 0 && var.policy.limits.max_delete_fraction <= 1,
      false
    )
    error_message = "policy.limits.max_delete_fraction must be a number from 0 to 1: the largest share of a repository's images one run may delete (0.5 for half). A plan above it deletes nothing in that repository and fails it. Leave it out for no limit."
  }
}

variable "dry_run" {
  description = "Whether every run only reports what it would delete. When false, a single run can still be made a dry run by starting the state machine with the input {\"dry_run\": true}."
  type        = bool
  default     = false
  nullable    = false
}

################################################################################
# Reports, notifications and metrics
################################################################################

variable "report_bucket" {
  description = "The name of an existing S3 bucket for the data and audit reports of every run, or null (the default) for a private bucket the module creates, named <name>-<account id>-<region> (public access blocked, TLS only, SSE-S3, objects expiring after report_retention_days). Each run writes, under <report_prefix><YYYY/MM/DD/HHMMSSZ>-<execution name>/, a JSON and a CSV report per repository of every image with what happened to it and why (repositories/<repository>.json and .csv), summary.json with the run's totals and every failed repository, and its working data under _run/ (the repositories to clean, the snapshot of images in use, each invocation's results). The Lambda and Step Functions roles may only read and write objects under report_prefix. A bucket of yours encrypted with a customer managed KMS key also needs kms:GenerateDataKey and kms:Decrypt on that key for lambda_role_arn and state_machine_role_arn, which the module does not grant."
  type        = string
  default     = null

  # The S3 bucket naming rules for general purpose buckets.
  validation {
    condition = var.report_bucket == null ? true : (
      can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.report_bucket)) &&
      !strcontains(var.report_bucket, "..") &&
      !can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+$", var.report_bucket)) &&
      !can(regex("^(xn--|sthree-|amzn-s3-demo-)", var.report_bucket)) &&
      !can(regex("(-s3alias|--ol-s3|\\.mrap|--x-s3|--table-s3)$", var.report_bucket))
    )
    error_message = "report_bucket must be an S3 bucket name: 3 to 63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit, without \"..\", not shaped like an IP address, not starting with \"xn--\", \"sthree-\" or \"amzn-s3-demo-\" and not ending with \"-s3alias\", \"--ol-s3\", \".mrap\", \"--x-s3\" or \"--table-s3\". Give the name, not an ARN or s3:// URI; null writes no reports."
  }
}

variable "report_prefix" {
  description = "The key prefix of the run data and reports in the bucket. Each run writes under <report_prefix><YYYY/MM/DD/HHMMSSZ>-<execution name>/, the Distributed Map records its map runs under <report_prefix>_map-runs/, and the roles may read and write objects only under this prefix. End it with \"/\" to make it a folder."
  type        = string
  default     = "ecr-cleanup/"
  nullable    = false

  # The characters AWS's object key guidelines call safe, except "*", which is
  # not literal in an IAM resource: the prefix becomes
  # arn:...:s3:::<bucket>/<prefix>*, where "*", "?" and "$" would widen the
  # grant or start a policy variable.
  validation {
    condition     = can(regex("^[A-Za-z0-9!_.'()-][A-Za-z0-9!_.'()/-]{0,699}$", var.report_prefix))
    error_message = "report_prefix must be 1 to 700 characters from letters, digits, \"/\", \"!\", \"_\", \".\", \"'\", \"(\", \")\" and \"-\" (the characters safe in S3 keys), and must not start with \"/\" (S3 keys have no leading slash), for example \"ecr-cleanup/\" or \"audit/ecr/\"."
  }
}

variable "report_retention_days" {
  description = "How many days the bucket the module creates keeps each run's data and reports before they expire. 0 keeps them forever. Ignored when report_bucket names a bucket of yours: set up its lifecycle yourself."
  type        = number
  default     = 365
  nullable    = false

  validation {
    condition     = var.report_retention_days >= 0 && floor(var.report_retention_days) == var.report_retention_days
    error_message = "report_retention_days must be a whole number of days >= 0 (0 keeps the reports forever)."
  }
}

variable "bucket_force_destroy" {
  description = "Whether terraform destroy also deletes the bucket the module creates when it still holds reports. When false, destroy fails on a bucket that is not empty, so that no audit record is lost by accident. Ignored when report_bucket names a bucket of yours."
  type        = bool
  default     = false
  nullable    = false
}

variable "notification_topic_arn" {
  description = "The ARN of an existing standard SNS topic that receives exactly one message per run: the summary of a run that completed (the subject starts with \"ECR cleanup:\", the body gives the totals, the savings and the repositories that failed, with their reasons), or, from a fourth function that an EventBridge rule on this state machine's executions invokes, why a run failed, timed out or was stopped before its summary. The module does not create the topic; the Lambda role may publish only to it. null sends no notification (the notify function then only logs how each run ended). A topic encrypted with a customer managed KMS key also needs kms:GenerateDataKey and kms:Decrypt on that key for lambda_role_arn, which the module does not grant."
  type        = string
  default     = null

  validation {
    condition     = var.notification_topic_arn == null ? true : can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$", var.notification_topic_arn))
    error_message = "notification_topic_arn must be the ARN of a standard SNS topic, such as \"arn:aws:sns:eu-west-1:123456789012:ecr-cleanup\". FIFO topics (\".fifo\") are not supported: the summary is published without a message group. null sends no notification."
  }
}

variable "metrics_namespace" {
  description = "The CloudWatch namespace of the metrics every run emits (ImagesScanned, ImagesDeleted, BytesReclaimed and RepositoriesFailed, per repository and per run). They are written to the function logs in the CloudWatch embedded metric format, so they need no IAM permission and no API call."
  type        = string
  default     = "ECRCleanup"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9.\\-_/#: ]{1,255}$", var.metrics_namespace)) && trimspace(var.metrics_namespace) != "" && !startswith(var.metrics_namespace, "AWS/")
    error_message = "metrics_namespace must be 1 to 255 characters from letters, digits, spaces and \".\", \"-\", \"_\", \"/\", \"#\" and \":\", not blank, and must not start with \"AWS/\" (reserved for AWS services)."
  }
}

variable "check_native_lifecycle" {
  description = "Whether each run reads the ECR lifecycle policy of every repository it cleans (one GetLifecyclePolicy each) and warns, in summary.json, the notification and the HTML report, about every image that policy would expire or archive and that this cleanup keeps because a workload runs it or a kept image needs it (a child of a kept image index, a referrer of a kept image): a deployment that would fail when ECR acts. Adds ecr:GetLifecyclePolicy on the selected repositories."
  type        = bool
  default     = true
  nullable    = false
}

variable "create_dashboard" {
  description = "Whether to create a CloudWatch dashboard named after the cleanup: images deleted, archived and untagged, bytes reclaimed and archived, failed repositories and executions, run duration, and the top 20 repositories by bytes reclaimed, from the metrics the functions emit in metrics_namespace and Step Functions' own."
  type        = bool
  default     = false
  nullable    = false
}

variable "alarm_actions" {
  description = "ARNs to notify (an SNS topic, for instance) when a run could not clean a repository (RepositoriesFailed above 0) and when an execution failed or timed out (AWS/States ExecutionsFailed and ExecutionsTimedOut of this state machine): one alarm each. Empty (the default) creates no alarm."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for arn in var.alarm_actions : can(regex("^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:[0-9]{0,12}:.+$", arn))])
    error_message = "alarm_actions must list ARNs, such as \"arn:aws:sns:eu-west-1:123456789012:alerts\"."
  }
}

variable "storage_price_per_gb_month" {
  description = "The price of ECR standard storage in US dollars per GB-month (GB = 1024^3 bytes, as AWS bills), for the savings the summary, the reports and the notification give: \"up to\" deleted bytes times this price per month (ECR sizes are compressed, and layers shared between images are stored once). 0.10 is AWS's published price in most regions."
  type        = number
  default     = 0.10
  nullable    = false

  validation {
    condition     = var.storage_price_per_gb_month >= 0 && var.storage_price_per_gb_month < 1000
    error_message = "storage_price_per_gb_month must be a price in US dollars per GB-month from 0, such as 0.10."
  }
}

variable "archive_price_per_gb_month" {
  description = "The price of ECR's archive storage class in US dollars per GB-month: archiving an image saves storage_price_per_gb_month minus this. The default, 0.10, is AWS's published 2026 price for the first 150 TB a month (0.07 above), so archiving saves nothing below that; restoring costs 0.03 per GB and archived images are billed for at least 90 days."
  type        = number
  default     = 0.10
  nullable    = false

  validation {
    condition     = var.archive_price_per_gb_month >= 0 && var.archive_price_per_gb_month < 1000
    error_message = "archive_price_per_gb_month must be a price in US dollars per GB-month from 0, such as 0.10 (0.07 above 150 TB a month)."
  }
}

################################################################################
# Schedule
################################################################################

variable "schedule_expression" {
  description = "When EventBridge Scheduler starts a cleanup: a cron(...), rate(...) or at(...) expression. The default runs every Friday at 22:00 in schedule_timezone."
  type        = string
  default     = "cron(0 22 ? * FRI *)"
  nullable    = false

  validation {
    condition     = can(regex("^(cron|rate|at)\\(.+\\)$", var.schedule_expression))
    error_message = "schedule_expression must be a cron(...), rate(...) or at(...) expression, for example \"cron(0 22 ? * FRI *)\" or \"rate(7 days)\"."
  }
}

variable "schedule_timezone" {
  description = "The time zone of schedule_expression, as an IANA name such as \"UTC\" or \"Europe/Berlin\"."
  type        = string
  default     = "UTC"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_+/-]*$", var.schedule_timezone))
    error_message = "schedule_timezone must be an IANA time zone name, such as \"UTC\" or \"Europe/Berlin\"."
  }
}

variable "schedule_enabled" {
  description = "Whether the schedule starts cleanups. When false the schedule is kept but disabled, and the state machine can still be started by hand."
  type        = bool
  default     = true
  nullable    = false
}

################################################################################
# State machine
################################################################################

variable "max_concurrency" {
  description = "How many groups of repositories one run cleans at the same time. Each one is a child execution of the Distributed Map, a concurrent invocation of the cleanup Lambda function and a share of the ECR API request rate (ECR throttles each account and region)."
  type        = number
  default     = 5
  nullable    = false

  validation {
    condition     = var.max_concurrency >= 1 && var.max_concurrency <= 1000 && floor(var.max_concurrency) == var.max_concurrency
    error_message = "max_concurrency must be a whole number from 1 to 1000; a few tens already reach ECR's request rate limits."
  }
}

variable "exclude_own_pulls" {
  description = "Whether the run keeps the Lambda role out of ECR's pull-time updates. Reading an image index's manifest (BatchGetImage) is a pull, so without this every run would make multi-arch images look pulled and not_pulled_for_days could never match them. When true, each run checks the registry's pull-time update exclusions and registers lambda_role_arn if it is missing (RegisterPullTimeUpdateExclusion, one of at most 100 per registry; the entry stays after a destroy: remove it with DeregisterPullTimeUpdateExclusion). When the registry's limit is reached the run goes on and its summary says so."
  type        = bool
  default     = true
  nullable    = false
}

variable "usage_max_age_minutes" {
  description = "How long a run may rely on one reading of the images in use. A run reads them once, before any repository is touched; a run that lasts longer reads them again, once for all repositories, before its next deletion."
  type        = number
  default     = 15
  nullable    = false

  validation {
    condition     = var.usage_max_age_minutes >= 1 && var.usage_max_age_minutes <= 1440 && floor(var.usage_max_age_minutes) == var.usage_max_age_minutes
    error_message = "usage_max_age_minutes must be a whole number of minutes from 1 to 1440."
  }
}

################################################################################
# Lambda functions
################################################################################

variable "lambda_runtime" {
  description = "The Python runtime of the Lambda functions."
  type        = string
  default     = "python3.12"
  nullable    = false

  validation {
    condition     = contains(["python3.12", "python3.13"], var.lambda_runtime)
    error_message = "lambda_runtime must be \"python3.12\" or \"python3.13\"."
  }
}

variable "lambda_architecture" {
  description = "The instruction set of the Lambda functions. The package is pure Python, so both work; arm64 costs less per second."
  type        = string
  default     = "arm64"
  nullable    = false

  validation {
    condition     = contains(["arm64", "x86_64"], var.lambda_architecture)
    error_message = "lambda_architecture must be \"arm64\" or \"x86_64\"."
  }
}

variable "lambda_memory_size" {
  description = "Memory of each Lambda function, in MB. Lambda gives CPU in proportion to memory."
  type        = number
  default     = 256
  nullable    = false

  validation {
    condition     = var.lambda_memory_size >= 128 && var.lambda_memory_size <= 10240 && floor(var.lambda_memory_size) == var.lambda_memory_size
    error_message = "lambda_memory_size must be a whole number of MB from 128 to 10240."
  }
}

variable "lambda_timeout" {
  description = "How long each Lambda function may run, in seconds. A cleanup invocation stops itself before this, keeping 10% of it (at most 60 s) to record what it did, and the state machine continues it where it stopped; a longer timeout means fewer invocations per run."
  type        = number
  default     = 900
  nullable    = false

  validation {
    condition     = var.lambda_timeout >= 1 && var.lambda_timeout <= 900 && floor(var.lambda_timeout) == var.lambda_timeout
    error_message = "lambda_timeout must be a whole number of seconds from 1 to 900."
  }
}

variable "execution_timeout_minutes" {
  description = "How long one execution may run before Step Functions stops it with TIMED_OUT (the state machine's TimeoutSeconds), in minutes; fractions are allowed. A run stopped this way deletes nothing more, and the next run carries on; with notification_topic_arn set, the timeout is announced. The default, a day, is far above a weekly run of thousands of repositories."
  type        = number
  default     = 1440
  nullable    = false

  validation {
    condition     = var.execution_timeout_minutes > 0 && var.execution_timeout_minutes <= 525600
    error_message = "execution_timeout_minutes must be a number of minutes above 0 and at most 525600 (a year, the longest a standard execution runs)."
  }
}

variable "log_retention_days" {
  description = "How many days the log groups of the Lambda functions keep their events. 0 keeps them forever."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of the values CloudWatch Logs accepts: 0 (forever), 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
  }
}

variable "eks_access_clusters" {
  description = "EKS clusters of this account and region (exact names) in which the module gives the Lambda role read access: an access entry with AmazonEKSViewPolicy at cluster scope, what protect.in_use_eks needs to list workloads. Each cluster's authentication mode must include API (API or API_AND_CONFIG_MAP). Leave empty to manage access yourself."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for name in var.eks_access_clusters : can(regex("^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$", name))])
    error_message = "eks_access_clusters must list EKS cluster names (letters, digits, - and _, up to 100), without wildcards: each gets an access entry."
  }
}

variable "lambda_vpc_config" {
  description = "Run the Lambda functions in these subnets with these security groups, for EKS clusters whose API endpoint is private. The subnets need a route to the AWS APIs (NAT or VPC endpoints for ECR, ECS, Lambda, S3, STS, EKS, Step Functions, EventBridge, Scheduler and Batch) and the security groups egress to the clusters on 443. Null: outside a VPC."
  type = object({
    subnet_ids         = list(string)
    security_group_ids = list(string)
  })
  default = null

  validation {
    condition     = var.lambda_vpc_config == null ? true : length(var.lambda_vpc_config.subnet_ids) > 0 && length(var.lambda_vpc_config.security_group_ids) > 0 && alltrue([for id in var.lambda_vpc_config.subnet_ids : can(regex("^subnet-[0-9a-f]+$", id))]) && alltrue([for id in var.lambda_vpc_config.security_group_ids : can(regex("^sg-[0-9a-f]+$", id))])
    error_message = "lambda_vpc_config needs at least one subnet ID (subnet-...) and one security group ID (sg-...)."
  }
}
