"""ECR lifecycle policies, read and translated into this engine's policy document.

A native rule becomes a rule of a `rule_order: "priority"` policy that expires (deletes) or transitions
(archives) exactly the images ECR would, before protections: `sinceImagePushed` is `older_than_days`,
`imageCountMoreThan` is `keep_latest`, a tag prefix `p` is the glob `p*`, a `tagPatternList` entry is a
glob already (its only wildcard is `*`), several entries are `tag_match: "all"` (ECR selects an image
only when every entry matches one of its tags), a `transition` to the archive by `sinceImagePulled` is
`action: "archive"` with `not_pulled_for_days`, and expiring archived images (`storageClass: archive`)
by `sinceImageTransitioned` is `image_status: "archived"` with `archived_for_days`. Each imported rule
is scoped to its repository; repositories whose policies are the same share one list of rules.

Run by this engine, the imported policy keeps what its protections keep (images in use, protected tags,
the children of a kept image index), which the native policy would expire.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .plan import Action, RepositoryPlan, plan_repository
from .policy import parse_policy

__all__ = ["LifecycleError", "NativeRule", "conflicts", "import_policies", "parse_lifecycle_policy", "to_hcl"]

MAX_WILDCARDS = 4


class LifecycleError(ValueError):
    """A lifecycle policy this engine cannot express exactly; the message says why."""


@dataclass(frozen=True)
class NativeRule:
    """One rule of an ECR lifecycle policy, as `GetLifecyclePolicy` returns it."""

    priority: int
    description: str | None
    tag_status: str
    prefixes: tuple[str, ...]
    patterns: tuple[str, ...]
    storage_class: str
    count_type: str
    count_number: int
    action: str

    @property
    def tag_globs(self) -> tuple[str, ...]:
        return tuple(f"{prefix}*" for prefix in self.prefixes) or self.patterns


def parse_lifecycle_policy(text: str | Mapping[str, Any]) -> list[NativeRule]:
    """The rules of a lifecycle policy (its JSON text, or decoded), ordered by `rulePriority`; raise
    `LifecycleError` for a document ECR would not accept or this engine cannot translate."""
    try:
        document = json.loads(text) if isinstance(text, str) else text
    except ValueError as error:
        raise LifecycleError(f"not JSON: {error}") from None
    if (
        not isinstance(document, Mapping)
        or not isinstance(document.get("rules"), list)
        or not document["rules"]
    ):
        raise LifecycleError('must be an object with a non-empty "rules" list')
    rules = [_rule(item, index) for index, item in enumerate(document["rules"])]
    priorities = [rule.priority for rule in rules]
    if len(set(priorities)) != len(priorities):
        raise LifecycleError("rulePriority: every rule needs a priority of its own")
    rules.sort(key=lambda rule: rule.priority)
    for storage in ("standard", "archive"):
        of_class = [rule for rule in rules if rule.storage_class == storage]
        if any(rule.tag_status == "any" for rule in of_class[:-1]):
            raise LifecycleError(
                'a rule with tagStatus "any" must have the highest rulePriority of its storage class'
            )
    return rules


def _rule(item: object, index: int) -> NativeRule:
    where = f"rules[{index}]"
    if not isinstance(item, Mapping):
        raise LifecycleError(f"{where}: must be an object")
    priority = item.get("rulePriority")
    if isinstance(priority, bool) or not isinstance(priority, int) or priority < 1:
        raise LifecycleError(f"{where}.rulePriority: must be a whole number >= 1")
    selection, action = item.get("selection"), item.get("action")
    if not isinstance(selection, Mapping) or not isinstance(action, Mapping):
        raise LifecycleError(f"{where}: needs a selection and an action")
    where = f"rule {priority}"
    tag_status = selection.get("tagStatus")
    if tag_status not in ("tagged", "untagged", "any"):
        raise LifecycleError(f'{where}: tagStatus must be "tagged", "untagged" or "any"')
    prefixes = _strings(selection.get("tagPrefixList"), f"{where}: tagPrefixList")
    patterns = _strings(selection.get("tagPatternList"), f"{where}: tagPatternList")
    if prefixes and patterns:
        raise LifecycleError(f"{where}: give tagPrefixList or tagPatternList, not both")
    if tag_status == "tagged" and not (prefixes or patterns):
        raise LifecycleError(f'{where}: tagStatus "tagged" needs a tagPrefixList or a tagPatternList')
    if tag_status != "tagged" and (prefixes or patterns):
        raise LifecycleError(f'{where}: only tagStatus "tagged" takes tag lists')
    for pattern in patterns:
        if pattern.count("*") > MAX_WILDCARDS:
            raise LifecycleError(f"{where}: {pattern!r} has more than {MAX_WILDCARDS} wildcards")
        if any(character in pattern for character in "?[]"):
            raise LifecycleError(f"{where}: {pattern!r}: a tag pattern's only wildcard is *")
    storage = selection.get("storageClass", "standard")
    if storage not in ("standard", "archive"):
        raise LifecycleError(f'{where}: storageClass must be "standard" or "archive"')
    count_type, number = selection.get("countType"), selection.get("countNumber")
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise LifecycleError(f"{where}: countNumber must be a whole number >= 1")
    if count_type != "imageCountMoreThan" and selection.get("countUnit") != "days":
        raise LifecycleError(f'{where}: {count_type} needs countUnit "days"')
    kind = action.get("type")
    if kind == "transition" and action.get("targetStorageClass") != "archive":
        raise LifecycleError(f'{where}: a transition needs targetStorageClass "archive"')
    paired = {
        ("expire", "standard", "imageCountMoreThan"),
        ("expire", "standard", "sinceImagePushed"),
        ("transition", "standard", "sinceImagePulled"),
        ("expire", "archive", "sinceImageTransitioned"),
    }
    if (kind, storage, count_type) not in paired:
        raise LifecycleError(
            f"{where}: {kind} by {count_type} of {storage} images is not a pairing ECR documents "
            "(expire standard images by imageCountMoreThan or sinceImagePushed, transition them to the "
            "archive by sinceImagePulled, expire archived images by sinceImageTransitioned)"
        )
    description = item.get("description")
    return NativeRule(
        priority=priority,
        description=str(description) if description else None,
        tag_status=str(tag_status),
        prefixes=tuple(prefixes),
        patterns=tuple(patterns),
        storage_class=str(storage),
        count_type=str(count_type),
        count_number=number,
        action=str(kind),
    )


def _strings(value: object, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise LifecycleError(f"{where}: must be a non-empty list of strings")
    return list(value)


def _translated(rule: NativeRule, repositories: Sequence[str]) -> dict[str, Any]:
    translated: dict[str, Any] = {
        "description": f"lifecycle rule {rule.priority}"
        + (f": {rule.description}" if rule.description else ""),
        "repositories": list(repositories),
        "tag_status": rule.tag_status,
    }
    if rule.tag_globs:
        translated["tag_patterns"] = list(rule.tag_globs)
        if len(rule.tag_globs) > 1:
            translated["tag_match"] = "all"
    if rule.count_type == "imageCountMoreThan":
        translated["keep_latest"] = rule.count_number
    elif rule.count_type == "sinceImagePushed":
        translated["older_than_days"] = rule.count_number
    elif rule.count_type == "sinceImagePulled":
        translated["not_pulled_for_days"] = rule.count_number
        translated["action"] = "archive"
    else:
        translated["archived_for_days"] = rule.count_number
        translated["image_status"] = "archived"
    return translated


def import_policies(policies: Mapping[str, Sequence[NativeRule]]) -> dict[str, Any]:
    """One policy document (`rule_order: "priority"`) for the repositories' lifecycle policies
    (repository -> rules): the repositories with the same rules share them, in the order of their
    first repository."""
    shared: dict[tuple[NativeRule, ...], list[str]] = {}
    for repository in sorted(policies):
        shared.setdefault(tuple(policies[repository]), []).append(repository)
    rules = [_translated(rule, repositories) for native, repositories in shared.items() for rule in native]
    return {
        "rule_order": "priority",
        "repositories": {"include": sorted(policies)},
        "rules": rules,
    }


def to_hcl(value: Any, indent: int = 0) -> str:
    """A JSON value written as a Terraform (HCL) expression, for `policy = ...`."""
    pad = "  " * indent
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        width = max(len(key) for key in value)
        lines = [f"{pad}  {key.ljust(width)} = {to_hcl(item, indent + 1)}" for key, item in value.items()]
        return "{\n" + "\n".join(lines) + f"\n{pad}}}"
    if isinstance(value, list):
        if all(isinstance(item, str | int | float) for item in value):
            return "[" + ", ".join(to_hcl(item) for item in value) + "]"
        return "[\n" + ",\n".join(f"{pad}  {to_hcl(item, indent + 1)}" for item in value) + f",\n{pad}]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value).replace("${", "$${").replace("%{", "%%{")
    return json.dumps(value)


_VERBS = {Action.DELETE: "expire", Action.ARCHIVE: "archive"}


def _what_breaks(reason: str | None) -> str | None:
    """Why this policy keeps an image, when expiring it would break something that runs: in use, or
    part of an image kept (a child of an index, a referrer)."""
    if reason is None:
        return None
    if reason.startswith("protected: in use: "):
        return "in use by " + reason.removeprefix("protected: in use: ")
    for relation in ("child of kept image", "referrer of kept image"):
        if reason.startswith(relation):
            return "a " + reason
    if reason.startswith("may be a child of an image index"):
        return "possibly a child of an image index whose manifest was not read"
    return None


def conflicts(repository: str, rules: Sequence[NativeRule], plan: RepositoryPlan, now: datetime) -> list[str]:
    """What the repository's native lifecycle policy (`rules`) would expire or archive that this plan
    keeps because a workload runs it or a kept image needs it: one warning per image, naming the
    native rule, the image and what keeps it. The native rules are evaluated as ECR does, on every
    image alike (an image index's children and referrers are images like any to ECR)."""
    document = import_policies({repository: rules})
    document["protect"] = {"in_use": False}
    policy = parse_policy(document)
    decisions = (*plan.delete, *plan.archive, *plan.untag, *plan.keep, *plan.deferred)
    kept = {decision.image.digest: decision.reason for decision in plan.keep}
    plain = [
        decision.image._replace(media_type=None, artifact_media_type=None, subject_digest=None)
        for decision in decisions
    ]
    native = plan_repository(policy, repository, plain, now, children={})
    warnings = []
    for decision in native.acting:
        why = _what_breaks(kept.get(decision.image.digest))
        if why is None or not decision.rules:
            continue
        rule = rules[decision.rules[0]]
        warnings.append(
            f"native lifecycle policy of {repository} rule {rule.priority} would "
            f"{_VERBS.get(decision.action, 'expire')} {decision.image.digest} {why}"
        )
    return warnings
