"""The policy document: its model, and the validation that turns JSON into it.

A policy is read once, checked completely, and either becomes a `Policy` or raises `PolicyError`
listing every problem with the JSON path of the field (``rules[1].older_than_days``). A JSON
``null`` always means "not given": Terraform encodes unset ``optional()`` attributes that way.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from .regexes import RegexError, compile_checked

__all__ = [
    "GROUP_NAME",
    "POLICY_FIELDS",
    "VERSION_GROUP",
    "AccountSource",
    "FieldError",
    "ImageStatus",
    "Limits",
    "OrderBy",
    "Pattern",
    "Policy",
    "PolicyError",
    "Protect",
    "RegexSet",
    "RepositorySelection",
    "Rule",
    "RuleAction",
    "TagFilter",
    "TagStatus",
    "parse_policy",
]


class TagStatus(StrEnum):
    TAGGED = "tagged"
    UNTAGGED = "untagged"
    ANY = "any"


class RuleAction(StrEnum):
    """What a rule does to the images it matches."""

    DELETE = "delete"
    ARCHIVE = "archive"
    UNTAG = "untag"


class OrderBy(StrEnum):
    """How `keep_latest` ranks a rule's selection: by push time, or by the version its tags spell."""

    PUSHED = "pushed"
    VERSION = "version"


GROUP_NAME = "line"
"""The named capture group of `group_by` that names the group, when it has one."""
VERSION_GROUP = "version"
"""The named capture group of `group_by` that holds the version, for `order_by: "version"`."""


class RuleOrder(StrEnum):
    """How rules combine: an image goes when any rule matches it, or (as ECR lifecycle policies
    evaluate) the first rule whose selection holds the image decides it alone."""

    ANY = "any"
    PRIORITY = "priority"


class TagMatch(StrEnum):
    """Whether an image needs a tag matching any entry of `tag_patterns`, or one matching each entry."""

    ANY = "any"
    ALL = "all"


class ImageStatus(StrEnum):
    """Which storage class a rule looks at: images in ECR's standard storage, or in its archive."""

    ACTIVE = "active"
    ARCHIVED = "archived"


#: Every field the engine accepts, by the object that holds it. The README's policy reference is
#: checked against this table, so a field cannot be added without documenting it.
POLICY_FIELDS: Mapping[str, tuple[str, ...]] = {
    "": ("repositories", "rules", "rule_order", "protect", "limits"),
    "repositories": ("include", "exclude"),
    "rules[]": (
        "description",
        "repositories",
        "regions",
        "tag_status",
        "tag_patterns",
        "tag_match",
        "tag_regex",
        "group_by",
        "order_by",
        "older_than_days",
        "not_pulled_for_days",
        "archived_for_days",
        "keep_latest",
        "action",
        "image_status",
    ),
    "protect": (
        "tag_patterns",
        "tag_regex",
        "younger_than_days",
        "in_use",
        "in_use_sources",
        "task_definition_revisions",
        "in_use_accounts",
        "in_use_eks",
        "in_use_sagemaker",
        "in_use_codebuild",
        "pulled_within_days",
    ),
    "protect.in_use_accounts[]": (
        "role_arn",
        "external_id",
        "regions",
        "ecs",
        "lambda",
        "eks",
        "sagemaker",
        "codebuild",
    ),
    "limits": ("max_deletions_per_repository", "max_delete_fraction"),
}

_CONDITIONS = ("older_than_days", "not_pulled_for_days", "archived_for_days", "keep_latest")
_ROLE_ARN = re.compile(r"^arn:aws[\w-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_REGION_GLOB = re.compile(r"^[a-z0-9*?\[\]!-]+$")
_EXTERNAL_ID = re.compile(r"^[\w+=,.@:/-]{2,1224}$")
_SOURCE = re.compile(r"^(s3://[^/\s]+/\S+|ssm:\S+|arn:[\w-]+:ssm:[\w-]+:\d{12}:parameter/\S+)$")


@dataclass(frozen=True)
class FieldError:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class PolicyError(ValueError):
    """A policy that must not run. Carries every problem found, each with the path of its field."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        self.errors = tuple(errors)
        super().__init__("invalid policy:\n" + "\n".join(f"  {error}" for error in self.errors))


class Pattern:
    """A set of glob patterns with `fnmatch.fnmatchcase` semantics, compiled once into one regex."""

    __slots__ = ("_match", "patterns")

    def __init__(self, patterns: Sequence[str]) -> None:
        self.patterns = tuple(patterns)
        if self.patterns:
            regex = re.compile("|".join(fnmatch.translate(p) for p in self.patterns))
            self._match: Callable[[str], object] = regex.match
        else:
            self._match = _never

    def matches(self, text: str) -> bool:
        return self._match(text) is not None

    def first_match(self, texts: Sequence[str]) -> str | None:
        """The first of `texts` that any pattern matches."""
        for text in texts:
            if self._match(text) is not None:
                return text
        return None

    def pattern_for(self, text: str) -> str:
        """The first pattern that matches `text` (for reports)."""
        for pattern in self.patterns:
            if fnmatch.fnmatchcase(text, pattern):
                return pattern
        raise ValueError(f"{text!r} matches none of {self.patterns}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Pattern) and other.patterns == self.patterns

    def __hash__(self) -> int:
        return hash(self.patterns)

    def __repr__(self) -> str:
        return f"Pattern({list(self.patterns)!r})"


def _never(_: str) -> None:
    return None


class RegexSet:
    """Regular expressions, each matched against the whole tag (`re.fullmatch`); the same interface
    as `Pattern`, so that a rule or a protection filters tags by either."""

    __slots__ = ("_fullmatches", "expressions")

    def __init__(self, expressions: Sequence[re.Pattern[str]]) -> None:
        self.expressions = tuple(expressions)
        self._fullmatches = tuple(expression.fullmatch for expression in self.expressions)

    @property
    def patterns(self) -> tuple[str, ...]:
        return tuple(expression.pattern for expression in self.expressions)

    def matches(self, text: str) -> bool:
        for fullmatch in self._fullmatches:  # noqa: SIM110 (a loop: any() would build a generator per tag)
            if fullmatch(text) is not None:
                return True
        return False

    def first_match(self, texts: Sequence[str]) -> str | None:
        if len(self._fullmatches) == 1:
            fullmatch = self._fullmatches[0]
            for text in texts:
                if fullmatch(text) is not None:
                    return text
            return None
        for text in texts:
            if self.matches(text):
                return text
        return None

    def pattern_for(self, text: str) -> str:
        for expression in self.expressions:
            if expression.fullmatch(text):
                return expression.pattern
        raise ValueError(f"{text!r} matches none of {self.patterns}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RegexSet) and other.patterns == self.patterns

    def __hash__(self) -> int:
        return hash(self.patterns)

    def __repr__(self) -> str:
        return f"RegexSet({list(self.patterns)!r})"


TagFilter = Pattern | RegexSet


@dataclass(frozen=True)
class RepositorySelection:
    include: Pattern = field(default_factory=lambda: Pattern(["*"]))
    exclude: Pattern = field(default_factory=lambda: Pattern([]))

    def selects(self, repository: str) -> bool:
        return self.include.matches(repository) and not self.exclude.matches(repository)


@dataclass(frozen=True)
class Rule:
    index: int
    description: str | None = None
    repositories: Pattern = field(default_factory=lambda: Pattern(["*"]))
    regions: Pattern = field(default_factory=lambda: Pattern(["*"]))
    tag_status: TagStatus = TagStatus.ANY
    tag_patterns: TagFilter | None = None
    older_than_days: int | None = None
    not_pulled_for_days: int | None = None
    keep_latest: int | None = None
    archived_for_days: int | None = None
    action: RuleAction = RuleAction.DELETE
    image_status: ImageStatus = ImageStatus.ACTIVE
    group_by: re.Pattern[str] | None = None
    order_by: OrderBy = OrderBy.PUSHED
    tag_match: TagMatch = TagMatch.ANY
    each_tag_pattern: tuple[Pattern, ...] = ()
    """With `tag_match` "all", one `Pattern` per entry of `tag_patterns`: each must match a tag."""

    @property
    def group_key(self) -> str | int:
        """Which capture group of `group_by` names an image's group: `line`, else the only other one."""
        assert self.group_by is not None
        names = self.group_by.groupindex
        if GROUP_NAME in names:
            return GROUP_NAME
        return next(n for n in range(1, self.group_by.groups + 1) if n != names.get(VERSION_GROUP))

    @property
    def label(self) -> str:
        """How reports name the rule: ``rules[0]`` plus its description when it has one."""
        name = f"rules[{self.index}]"
        return f'{name} "{self.description}"' if self.description else name


DEFAULT_TASK_DEFINITION_REVISIONS = 5


@dataclass(frozen=True)
class AccountSource:
    """Another account (and regions) whose workloads may run this registry's images: read through the
    role `role_arn` (assumed with `external_id` when given), in `regions` (empty: the cleanup's own
    region). `ecs` reads ECS tasks and services, task definition revisions, the ECS targets of
    EventBridge rules and Scheduler schedules, and Batch job definitions; `functions` Lambda; `eks`
    the EKS clusters whose names match; `sagemaker` SageMaker models, endpoints and inference
    components; `codebuild` CodeBuild projects."""

    role_arn: str
    external_id: str | None = None
    regions: tuple[str, ...] = ()
    ecs: bool = True
    functions: bool = True
    eks: tuple[str, ...] = ()
    sagemaker: bool = True
    codebuild: bool = True

    @property
    def account(self) -> str:
        return self.role_arn.split(":")[4]


@dataclass(frozen=True)
class Protect:
    tag_patterns: TagFilter = field(default_factory=lambda: Pattern([]))
    younger_than_days: int | None = None
    in_use: bool = True
    in_use_sources: tuple[str, ...] = ()
    task_definition_revisions: int = DEFAULT_TASK_DEFINITION_REVISIONS
    in_use_accounts: tuple[AccountSource, ...] = ()
    in_use_eks: tuple[str, ...] = ()
    in_use_sagemaker: bool = True
    in_use_codebuild: bool = True
    pulled_within_days: int | None = None


@dataclass(frozen=True)
class Limits:
    max_deletions_per_repository: int | None = None
    max_delete_fraction: float | None = None


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...]
    repositories: RepositorySelection = field(default_factory=RepositorySelection)
    rule_order: RuleOrder = RuleOrder.ANY
    protect: Protect = field(default_factory=Protect)
    limits: Limits = field(default_factory=Limits)


def parse_policy(document: object) -> Policy:
    """Validate a decoded JSON policy document and build the `Policy`; raise `PolicyError` otherwise."""
    reader = _Reader()
    root = reader.mapping(document, "", POLICY_FIELDS[""], required=True)
    if root is None:
        raise PolicyError(reader.errors)

    repositories = reader.mapping(root.get("repositories"), "repositories", POLICY_FIELDS["repositories"])
    include = reader.patterns(_get(repositories, "include"), "repositories.include", default=["*"])
    exclude = reader.patterns(_get(repositories, "exclude"), "repositories.exclude", default=[])

    rules = _read_rules(reader, root.get("rules"))
    rule_order = reader.choice(root.get("rule_order"), "rule_order", RuleOrder, RuleOrder.ANY)

    protect = reader.mapping(root.get("protect"), "protect", POLICY_FIELDS["protect"])
    protect_tags = reader.patterns(_get(protect, "tag_patterns"), "protect.tag_patterns", default=[])
    protect_regex = reader.regexes(_get(protect, "tag_regex"), "protect.tag_regex")
    if _get(protect, "tag_regex") is not None and _get(protect, "tag_patterns") is not None:
        reader.error("protect.tag_regex", "cannot be used with protect.tag_patterns; give one of them")
    younger = reader.count(_get(protect, "younger_than_days"), "protect.younger_than_days", minimum=0)
    in_use = reader.flag(_get(protect, "in_use"), "protect.in_use", default=True)
    in_use_sources = reader.sources(_get(protect, "in_use_sources"), "protect.in_use_sources")
    revisions = reader.count(
        _get(protect, "task_definition_revisions"), "protect.task_definition_revisions", minimum=0
    )
    accounts = _read_accounts(reader, _get(protect, "in_use_accounts"))
    eks = reader.patterns(_get(protect, "in_use_eks"), "protect.in_use_eks", default=[])
    sagemaker = reader.flag(_get(protect, "in_use_sagemaker"), "protect.in_use_sagemaker", default=True)
    codebuild = reader.flag(_get(protect, "in_use_codebuild"), "protect.in_use_codebuild", default=True)
    pulled = reader.count(_get(protect, "pulled_within_days"), "protect.pulled_within_days", minimum=1)

    limits = reader.mapping(root.get("limits"), "limits", POLICY_FIELDS["limits"])
    max_deletions = reader.count(
        _get(limits, "max_deletions_per_repository"), "limits.max_deletions_per_repository", minimum=1
    )
    max_fraction = reader.fraction(_get(limits, "max_delete_fraction"), "limits.max_delete_fraction")

    if reader.errors:
        raise PolicyError(reader.errors)
    return Policy(
        rules=tuple(rules),
        rule_order=rule_order or RuleOrder.ANY,
        repositories=RepositorySelection(include=Pattern(include or []), exclude=Pattern(exclude or [])),
        protect=Protect(
            tag_patterns=RegexSet(protect_regex) if protect_regex else Pattern(protect_tags or []),
            younger_than_days=younger,
            in_use=in_use,
            in_use_sources=tuple(in_use_sources),
            task_definition_revisions=DEFAULT_TASK_DEFINITION_REVISIONS if revisions is None else revisions,
            in_use_accounts=tuple(accounts),
            in_use_eks=tuple(eks or []),
            in_use_sagemaker=sagemaker,
            in_use_codebuild=codebuild,
            pulled_within_days=pulled,
        ),
        limits=Limits(max_deletions_per_repository=max_deletions, max_delete_fraction=max_fraction),
    )


def _read_accounts(reader: _Reader, value: object) -> list[AccountSource]:
    path = "protect.in_use_accounts"
    if value is None:
        return []
    if not isinstance(value, list):
        reader.error(
            path, 'must be a list of objects such as {"role_arn": "arn:aws:iam::<account>:role/<name>"}'
        )
        return []
    accounts = []
    for index, item in enumerate(value):
        where = f"{path}[{index}]"
        body = reader.mapping(item, where, POLICY_FIELDS["protect.in_use_accounts[]"], required=True)
        if body is None:
            continue
        role_arn = body.get("role_arn")
        if not isinstance(role_arn, str) or not _ROLE_ARN.match(role_arn):
            reader.error(
                f"{where}.role_arn",
                "required: the ARN of the role to read that account through, "
                '"arn:aws:iam::<account id>:role/<name>" (modules/usage-reader makes it), '
                f"got {_describe(role_arn)}",
            )
            role_arn = None
        external_id = body.get("external_id")
        if external_id is not None and (
            not isinstance(external_id, str) or not _EXTERNAL_ID.match(external_id)
        ):
            reader.error(
                f"{where}.external_id",
                "must be 2 to 1224 letters, digits or +=,.@:/-_ (what STS accepts), "
                f"got {_describe(external_id)}",
            )
        regions = body.get("regions")
        if regions is not None and (
            not isinstance(regions, list)
            or not regions
            or not all(isinstance(region, str) and _REGION.match(region) for region in regions)
        ):
            reader.error(
                f"{where}.regions",
                'must be a non-empty list of region names such as ["eu-west-1"]; leave it out for the '
                f"cleanup's own region, got {_describe(regions)}",
            )
            regions = None
        ecs = reader.flag(body.get("ecs"), f"{where}.ecs", default=True)
        functions = reader.flag(body.get("lambda"), f"{where}.lambda", default=True)
        eks = reader.patterns(body.get("eks"), f"{where}.eks", default=[])
        sagemaker = reader.flag(body.get("sagemaker"), f"{where}.sagemaker", default=True)
        codebuild = reader.flag(body.get("codebuild"), f"{where}.codebuild", default=True)
        if role_arn is not None:
            accounts.append(
                AccountSource(
                    role_arn=role_arn,
                    external_id=external_id if isinstance(external_id, str) else None,
                    regions=tuple(dict.fromkeys(regions or [])),
                    ecs=ecs,
                    functions=functions,
                    eks=tuple(eks or []),
                    sagemaker=sagemaker,
                    codebuild=codebuild,
                )
            )
    if len({account.role_arn for account in accounts}) < len(accounts):
        reader.error(path, "lists a role_arn twice; give each role once with all its regions")
    return accounts


def _read_rules(reader: _Reader, value: object) -> list[Rule]:
    if value is None:
        reader.error("rules", "required: give a list of at least one rule")
        return []
    if not isinstance(value, list):
        reader.error("rules", "must be a list of rule objects")
        return []
    if not value:
        reader.error("rules", "must hold at least one rule; a policy without rules would delete nothing")
        return []
    rules = []
    for index, item in enumerate(value):
        path = f"rules[{index}]"
        body = reader.mapping(item, path, POLICY_FIELDS["rules[]"], required=True)
        if body is None:
            continue
        description = reader.text(body.get("description"), f"{path}.description")
        repositories = reader.patterns(body.get("repositories"), f"{path}.repositories", default=["*"])
        regions = reader.region_patterns(body.get("regions"), f"{path}.regions")
        tag_status = reader.choice(body.get("tag_status"), f"{path}.tag_status", TagStatus, TagStatus.ANY)
        action = reader.choice(body.get("action"), f"{path}.action", RuleAction, RuleAction.DELETE)
        image_status = reader.choice(
            body.get("image_status"), f"{path}.image_status", ImageStatus, ImageStatus.ACTIVE
        )
        tag_patterns = reader.patterns(body.get("tag_patterns"), f"{path}.tag_patterns", default=None)
        tag_regex = reader.regexes(body.get("tag_regex"), f"{path}.tag_regex")
        group_by = reader.group_by(body.get("group_by"), f"{path}.group_by")
        order_by = reader.choice(body.get("order_by"), f"{path}.order_by", OrderBy, OrderBy.PUSHED)
        tag_match = reader.choice(body.get("tag_match"), f"{path}.tag_match", TagMatch, TagMatch.ANY)
        if body.get("tag_match") is not None and body.get("tag_patterns") is None:
            reader.error(
                f"{path}.tag_match",
                "needs tag_patterns: it says whether an image needs a tag matching any of them or each",
            )
        conditions = {name: reader.count(body.get(name), f"{path}.{name}", minimum=0) for name in _CONDITIONS}
        if all(body.get(name) is None for name in _CONDITIONS):
            reader.error(
                path,
                "gives no condition: set at least one of older_than_days, not_pulled_for_days, "
                "archived_for_days, keep_latest",
            )
        if action is RuleAction.ARCHIVE and image_status is ImageStatus.ARCHIVED:
            reader.error(
                f"{path}.action",
                '"archive" cannot be used with image_status "archived" (those images are archived '
                'already); use action "delete" to delete from the archive',
            )
        if body.get("archived_for_days") is not None and image_status is not ImageStatus.ARCHIVED:
            reader.error(
                f"{path}.archived_for_days",
                'needs image_status "archived": only archived images have been archived for some days',
            )
        for name in ("tag_patterns", "tag_regex", "group_by", "order_by"):
            if tag_status is TagStatus.UNTAGGED and body.get(name) is not None:
                reader.error(
                    f"{path}.{name}",
                    'cannot be used with tag_status "untagged" (untagged images have no tags to match); '
                    f'remove {name} or use tag_status "tagged"',
                )
        if body.get("tag_regex") is not None and body.get("tag_patterns") is not None:
            reader.error(f"{path}.tag_regex", "cannot be used with tag_patterns; give one of them")
        for name in ("group_by", "order_by"):
            if body.get(name) is not None and body.get("keep_latest") is None:
                reader.error(f"{path}.{name}", "needs keep_latest: it says how keep_latest ranks the images")
        if action is RuleAction.UNTAG:
            if all(body.get(name) is None for name in ("tag_patterns", "tag_regex", "group_by")):
                reader.error(
                    f"{path}.action",
                    '"untag" needs tag_patterns, tag_regex or group_by: the tags it removes (an image\'s '
                    "last tag is never removed, so without them it could never act)",
                )
            if tag_status is TagStatus.UNTAGGED:
                reader.error(f"{path}.action", '"untag" cannot be used with tag_status "untagged"')
            if image_status is ImageStatus.ARCHIVED:
                reader.error(f"{path}.action", '"untag" cannot be used with image_status "archived"')
        rules.append(
            Rule(
                index=index,
                description=description,
                repositories=Pattern(repositories or []),
                regions=Pattern(regions or []),
                tag_status=tag_status or TagStatus.ANY,
                tag_patterns=(
                    RegexSet(tag_regex) if tag_regex else Pattern(tag_patterns) if tag_patterns else None
                ),
                older_than_days=conditions["older_than_days"],
                not_pulled_for_days=conditions["not_pulled_for_days"],
                keep_latest=conditions["keep_latest"],
                archived_for_days=conditions["archived_for_days"],
                action=action or RuleAction.DELETE,
                image_status=image_status or ImageStatus.ACTIVE,
                group_by=group_by,
                order_by=order_by or OrderBy.PUSHED,
                tag_match=tag_match or TagMatch.ANY,
                each_tag_pattern=(
                    tuple(Pattern([pattern]) for pattern in tag_patterns or [])
                    if tag_match is TagMatch.ALL
                    else ()
                ),
            )
        )
    return rules


_Choice = TypeVar("_Choice", TagStatus, RuleAction, ImageStatus, OrderBy, RuleOrder, TagMatch)


def _get(body: Mapping[str, Any] | None, key: str) -> object:
    return None if body is None else body.get(key)


class _Reader:
    """Reads typed values out of a JSON document, collecting errors instead of stopping at the first."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def error(self, path: str, message: str) -> None:
        self.errors.append(FieldError(path, message))

    def mapping(
        self, value: object, path: str, allowed: Sequence[str], *, required: bool = False
    ) -> dict[str, Any] | None:
        if value is None and not required:
            return {}
        if not isinstance(value, dict):
            self.error(path, "must be an object" if path else "the policy must be a JSON object")
            return None
        for key in value:
            if key not in allowed:
                prefix = f"{path}." if path else ""
                self.error(f"{prefix}{key}", f"unknown field; allowed here: {', '.join(allowed)}")
        return value

    def text(self, value: object, path: str) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            self.error(path, "must be a string")
            return None
        return value

    def count(self, value: object, path: str, *, minimum: int) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.error(path, f"must be a whole number >= {minimum}, got {_describe(value)}")
            return None
        if isinstance(value, float) and not value.is_integer():
            self.error(path, f"must be a whole number >= {minimum}, got {value}")
            return None
        if value < minimum:
            kind = "non-negative" if minimum == 0 else f">= {minimum}"
            self.error(path, f"must be a {kind} whole number, got {int(value)}")
            return None
        return int(value)

    def flag(self, value: object, path: str, *, default: bool) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            self.error(path, f"must be true or false, got {_describe(value)}")
            return default
        return value

    def fraction(self, value: object, path: str) -> float | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            self.error(
                path,
                f"must be a number from 0 to 1 (a share of a repository's images), got {_describe(value)}",
            )
            return None
        return float(value)

    def sources(self, value: object, path: str) -> list[str]:
        """Where an external list of images in use is read: `s3://bucket/key` or `ssm:<parameter>`."""
        if value is None:
            return []
        if not isinstance(value, list):
            self.error(path, 'must be a list of sources such as "s3://bucket/key" or "ssm:/name"')
            return []
        sources = []
        for index, source in enumerate(value):
            if not isinstance(source, str) or not _SOURCE.match(source):
                self.error(
                    f"{path}[{index}]",
                    f'must be "s3://<bucket>/<key>", "ssm:<parameter name>" or an SSM parameter ARN, '
                    f"got {_describe(source)}",
                )
            else:
                sources.append(source)
        return sources

    def choice(self, value: object, path: str, enum: type[_Choice], default: _Choice) -> _Choice | None:
        if value is None:
            return default
        allowed = ", ".join(f'"{member.value}"' for member in enum)
        if not isinstance(value, str) or value not in {member.value for member in enum}:
            self.error(path, f"must be one of {allowed}, got {_describe(value)}")
            return None
        return enum(value)

    def patterns(self, value: object, path: str, *, default: list[str] | None) -> list[str] | None:
        if value is None:
            return default
        if not isinstance(value, list):
            self.error(path, "must be a list of glob patterns")
            return default
        if not value:
            self.error(path, "must not be empty; leave the field out (or null) to use the default")
            return default
        patterns = []
        for index, pattern in enumerate(value):
            item = f"{path}[{index}]"
            if not isinstance(pattern, str):
                self.error(item, f"must be a string glob pattern, got {_describe(pattern)}")
            elif not pattern:
                self.error(item, "must not be an empty string")
            elif (problem := _pattern_problem(pattern)) is not None:
                self.error(item, problem)
            else:
                patterns.append(pattern)
        return patterns

    def region_patterns(self, value: object, path: str) -> list[str] | None:
        """Region name globs: a region is lower-case, so a pattern that is not matches nothing."""
        patterns = self.patterns(value, path, default=["*"])
        for index, pattern in enumerate(patterns or []):
            if not _REGION_GLOB.match(pattern):
                self.error(
                    f"{path}[{index}]",
                    f'must be a region name or glob such as "eu-*" (lower-case letters, digits, "-" '
                    f"and the wildcards), got {pattern!r}",
                )
        return patterns

    def regexes(self, value: object, path: str) -> list[re.Pattern[str]] | None:
        """A list of regular expressions, each checked (see `regexes.compile_checked`)."""
        if value is None:
            return None
        if not isinstance(value, list) or not value:
            self.error(path, 'must be a non-empty list of regular expressions such as ["^v[0-9]+$"]')
            return None
        compiled = [self.regex(text, f"{path}[{index}]") for index, text in enumerate(value)]
        return [expression for expression in compiled if expression is not None]

    def regex(self, value: object, path: str) -> re.Pattern[str] | None:
        if not isinstance(value, str) or not value:
            self.error(path, f"must be a non-empty regular expression, got {_describe(value)}")
            return None
        try:
            return compile_checked(value)
        except RegexError as error:
            self.error(path, f"{error} (in {value!r})")
            return None

    def group_by(self, value: object, path: str) -> re.Pattern[str] | None:
        """A regular expression whose capture group names an image's group: `(?P<line>...)`, or the
        only capture group other than `(?P<version>...)`."""
        if value is None:
            return None
        expression = self.regex(value, path)
        if expression is None:
            return None
        names = expression.groupindex
        others = expression.groups - (VERSION_GROUP in names)
        if GROUP_NAME not in names and others != 1:
            problem = "holds no capture group" if others == 0 else f"holds {others} capture groups"
            self.error(
                path,
                f"{problem}: give one group, or name the one that names the group (?P<{GROUP_NAME}>...), "
                'as in "^(?P<line>[a-z0-9-]+)-[0-9a-f]{7,40}$"',
            )
            return None
        return expression


def _pattern_problem(pattern: str) -> str | None:
    """Find a '[' that fnmatch would silently treat as a literal because its class never closes."""
    i, n = 0, len(pattern)
    while i < n:
        if pattern[i] == "[":
            j = i + 1
            if j < n and pattern[j] == "!":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 1
            if j >= n:
                return f"unclosed '[' in pattern {pattern!r}; to match a literal '[' write '[[]'"
            i = j
        i += 1
    return None


def _describe(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return repr(value)
