"""Release lines: `group_by`, `tag_regex`, `order_by: "version"` and `action: "untag"`.

The engine is checked against a reference written here from the policy reference alone (README:
"How a policy is read", and the issue's wording), with no code shared: random registries and policies,
and the engine and the reference must agree on what happens to every image.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecr_cleanup.plan import Image, plan_repository
from ecr_cleanup.policy import PolicyError, parse_policy
from tests.support.images import NOW, digest_of
from tests.support.properties import examples

# --- the reference --------------------------------------------------------------------------------

SEMVER = re.compile(
    r"^(0|[1-9]\d*)(?:\.(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?)?"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?$"
)


def reference_version(text: str) -> tuple[list[int], list[str] | None] | None:
    """(MAJOR, MINOR, PATCH) padded with 0, and the pre-release identifiers, of `[v]version`."""
    if text[:1] in ("v", "V"):
        text = text[1:]
    found = SEMVER.match(text)
    if found is None:
        return None
    numbers = [int(part) if part is not None else 0 for part in found.group(1, 2, 3)]
    pre = found.group(4)
    return numbers, pre.split(".") if pre is not None else None


def compare_versions(a: tuple[list[int], list[str] | None], b: tuple[list[int], list[str] | None]) -> int:
    """SemVer 2.0.0, section 11."""
    if a[0] != b[0]:
        return -1 if a[0] < b[0] else 1
    if a[1] is None or b[1] is None:
        return (a[1] is None) - (b[1] is None)
    for left, right in zip(a[1], b[1], strict=False):
        if left == right:
            continue
        if left.isdigit() and right.isdigit():
            return -1 if int(left) < int(right) else 1
        if left.isdigit() != right.isdigit():
            return -1 if left.isdigit() else 1
        return -1 if left < right else 1
    return (len(a[1]) > len(b[1])) - (len(a[1]) < len(b[1]))


def glob(pattern: str) -> re.Pattern[str]:
    """fnmatchcase's globs, written out again: * any run, ? one character, [..] a class."""
    out, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out += ".*"
        elif c == "?":
            out += "."
        elif c == "[":
            j = pattern.index("]", i + 2 if pattern[i + 1 : i + 2] == "!" else i + 1)
            body = pattern[i + 1 : j]
            out += "[" + ("^" + body[1:] if body.startswith("!") else body) + "]"
            i = j
        else:
            out += re.escape(c)
        i += 1
    return re.compile(out, re.DOTALL)


def tag_filter(rule: dict[str, Any]) -> Any:
    if rule.get("tag_patterns"):
        globs = [glob(p) for p in rule["tag_patterns"]]
        return lambda tag: any(g.fullmatch(tag) for g in globs)
    if rule.get("tag_regex"):
        return lambda tag: any(re.fullmatch(p, tag) for p in rule["tag_regex"])
    return lambda tag: True


def reference_plan(
    document: dict[str, Any], images: Sequence[Image]
) -> dict[str, tuple[str, frozenset[str]]]:
    """digest -> (what happens to it, the tags an untag removes)."""
    protect = document.get("protect", {})
    protected = set()
    for image in images:
        if "tag_patterns" in protect and any(tag_filter(protect)(t) for t in image.tags):
            protected.add(image.digest)
        if "tag_regex" in protect and any(tag_filter(protect)(t) for t in image.tags):
            protected.add(image.digest)
        days = protect.get("younger_than_days")
        if days is not None and image.pushed_at >= NOW - timedelta(days=days):
            protected.add(image.digest)
    matching: dict[str, list[tuple[str, frozenset[str]]]] = {}
    for rule in document["rules"]:
        for digest, removed in reference_rule(rule, images).items():
            matching.setdefault(digest, []).append((rule.get("action", "delete"), removed))
    acts: list[tuple[Image, str, frozenset[str]]] = []
    outcome: dict[str, tuple[str, frozenset[str]]] = {}
    for image in images:
        found = matching.get(image.digest)
        if image.digest in protected or not found:
            outcome[image.digest] = ("keep", frozenset())
            continue
        kinds = {kind for kind, _ in found}
        kind = "delete" if "delete" in kinds else "archive" if "archive" in kinds else "untag"
        removed = (
            frozenset().union(*(tags for k, tags in found if k == "untag"))
            if kind == "untag"
            else frozenset()
        )
        if kind == "untag" and removed >= set(image.tags):
            outcome[image.digest] = ("keep", frozenset())
            continue
        acts.append((image, kind, removed))
    acts.sort(key=lambda entry: (entry[0].pushed_at, entry[0].digest))
    limit = document.get("limits", {}).get("max_deletions_per_repository")
    for position, (image, kind, removed) in enumerate(acts):
        outcome[image.digest] = (
            (kind, removed) if limit is None or position < limit else ("deferred", frozenset())
        )
    return outcome


def reference_rule(rule: dict[str, Any], images: Sequence[Image]) -> dict[str, frozenset[str]]:
    """The images one rule matches, each with the tags it would remove (its selected tags)."""
    status = rule.get("tag_status", "any")
    chosen = [i for i in images if status == "any" or (status == "tagged") == bool(i.tags)]
    selects = tag_filter(rule)
    if "tag_patterns" in rule or "tag_regex" in rule:
        chosen = [i for i in chosen if any(selects(t) for t in i.tags)]
    group_by = rule.get("group_by")
    by_version = rule.get("order_by") == "version"
    groups: dict[str | None, dict[str, Any]] = {}
    tags_of: dict[str, set[str]] = {}
    for image in chosen:
        for tag in image.tags if image.tags else []:
            if not selects(tag):
                continue
            group, version_text = None, tag
            if group_by is not None:
                found = re.fullmatch(group_by, tag)
                if found is None:
                    continue
                names = found.re.groupindex
                group = (
                    found.group("line")
                    if "line" in names
                    else next(
                        found.group(n) for n in range(1, found.re.groups + 1) if names.get("version") != n
                    )
                )
                if not group:
                    continue
                if "version" in names:
                    version_text = found.group("version") or ""
            version = reference_version(version_text) if by_version else None
            if by_version and version is None:
                continue
            members = groups.setdefault(group, {})
            best = members.get(image.digest)
            if best is None or (version is not None and compare_versions(version, best) > 0):
                members[image.digest] = version
            tags_of.setdefault(image.digest, set()).add(tag)
        if not image.tags and group_by is None and not by_version:
            groups.setdefault(None, {})[image.digest] = None
    if group_by is None and not by_version:
        groups = {None: {i.digest: None for i in chosen}}
    pushed = {i.digest: i.pushed_at for i in images}
    keep = rule.get("keep_latest")
    kept: set[str] = set()
    for members in groups.values():

        def order(a: str, b: str, members: dict[str, Any] = members) -> int:
            if by_version and members[a] is not None and compare_versions(members[a], members[b]) != 0:
                return -compare_versions(members[a], members[b])
            if pushed[a] != pushed[b]:
                return -1 if pushed[a] > pushed[b] else 1
            return -1 if a < b else 1

        ranked = sorted(members, key=functools.cmp_to_key(order))
        if keep is not None:
            kept.update(ranked[:keep])
    in_selection = {d for members in groups.values() for d in members}
    matched = {}
    for image in chosen:
        if image.digest not in in_selection or image.digest in kept:
            continue
        if "older_than_days" in rule and not image.pushed_at < NOW - timedelta(days=rule["older_than_days"]):
            continue
        if "not_pulled_for_days" in rule:
            last = max(image.pushed_at, image.last_pulled_at or image.pushed_at)
            if not last < NOW - timedelta(days=rule["not_pulled_for_days"]):
                continue
        if group_by is not None or by_version:
            # the selected tags are those in a group, and with a version when ranking by version
            removed = frozenset(tags_of.get(image.digest, ()))
        else:
            removed = frozenset(t for t in image.tags if selects(t))
        matched[image.digest] = removed
    return matched


def engine_plan(document: dict[str, Any], images: Sequence[Image]) -> dict[str, tuple[str, frozenset[str]]]:
    plan = plan_repository(parse_policy(document), "app", list(images), NOW)
    outcome = {}
    for decisions in (plan.delete, plan.archive, plan.untag, plan.keep, plan.deferred):
        for decision in decisions:
            outcome[decision.image.digest] = (decision.action.value, frozenset(decision.removed))
    return outcome


# --- random registries and policies ---------------------------------------------------------------

TAGS = [
    "main-1a2b3c4",
    "main-5d6e7f8",
    "main-9a8b7c6",
    "feature-x-0a0b0c0",
    "feature-x-1b1b1b1",
    "v1.4.2",
    "v1.4.10",
    "v1.5.0-rc.1",
    "v1.5.0-rc.10",
    "v1.5.0-rc2",
    "v1.5.0",
    "1.5",
    "2",
    "prod-1.4.2",
    "prod-2.0.0",
    "prod-2.0.0+build.7",
    "staging-2.1.0",
    "latest",
    "dev-7",
]
GROUP_PATTERNS = [
    r"^(?P<line>[a-z-]+?)-[0-9a-f]{7}$",
    r"^v?(?P<line>\d+\.\d+)\.\d+(?:-[0-9a-z.]+)?$",
    r"^(?P<line>prod|staging)-(?P<version>.+)$",
    r"^(main|feature-x)-.*$",
    r"^(?P<line>[a-z]*)(?P<version>[0-9].*)?$",
]
REGEXES = [r"^main-.*$", r"^v?\d+(?:\.\d+){0,2}(?:-[0-9a-z.]+)?$", r"^(prod|staging)-.+$", r"^[a-z]+-[0-9]+$"]
GLOBS = ["main-*", "v*", "prod-*", "*"]


@st.composite
def registries(draw: st.DrawFn) -> list[Image]:
    count = draw(st.integers(min_value=0, max_value=30))
    hours = st.integers(min_value=0, max_value=24 * 90)
    return [
        Image(
            digest=digest_of(f"img{index}"),
            tags=tuple(draw(st.lists(st.sampled_from(TAGS), max_size=3, unique=True))),
            # a coarse clock: many images pushed at the same instant, so ties are common
            pushed_at=NOW - timedelta(hours=draw(hours) // 24 * 24),
        )
        for index in range(count)
    ]


@st.composite
def release_rules(draw: st.DrawFn) -> dict[str, Any]:
    rule: dict[str, Any] = {"keep_latest": draw(st.integers(min_value=0, max_value=4))}
    if draw(st.booleans()):
        rule["older_than_days"] = draw(st.integers(min_value=0, max_value=60))
    choice = draw(st.sampled_from(["none", "patterns", "regex"]))
    if choice == "patterns":
        rule["tag_patterns"] = draw(st.lists(st.sampled_from(GLOBS), min_size=1, max_size=2, unique=True))
    elif choice == "regex":
        rule["tag_regex"] = draw(st.lists(st.sampled_from(REGEXES), min_size=1, max_size=2, unique=True))
    if draw(st.booleans()):
        rule["group_by"] = draw(st.sampled_from(GROUP_PATTERNS))
    if draw(st.booleans()):
        rule["order_by"] = "version"
    if draw(st.booleans()):
        rule["tag_status"] = "tagged"
    action = draw(st.sampled_from(["delete", "archive", "untag"]))
    if action == "untag" and choice == "none" and "group_by" not in rule:
        action = "delete"
    rule["action"] = action
    return rule


@st.composite
def release_policies(draw: st.DrawFn) -> dict[str, Any]:
    document: dict[str, Any] = {"rules": draw(st.lists(release_rules(), min_size=1, max_size=3))}
    if draw(st.booleans()):
        document["protect"] = (
            {"tag_regex": [r"^latest$"]} if draw(st.booleans()) else {"tag_patterns": ["prod-2*"]}
        )
    if draw(st.booleans()):
        document["limits"] = {"max_deletions_per_repository": draw(st.integers(min_value=1, max_value=8))}
    return document


@settings(max_examples=examples(600), deadline=None)
@given(release_policies(), registries())
def test_the_engine_decides_every_image_as_the_reference_does(
    document: dict[str, Any], images: list[Image]
) -> None:
    assert engine_plan(document, images) == reference_plan(document, images)


# --- cases, each one behaviour --------------------------------------------------------------------


def image(name: str, days: float, *tags: str) -> Image:
    return Image(digest_of(name), tags, NOW - timedelta(days=days))


def decided(document: dict[str, Any], images: list[Image]) -> dict[str, str]:
    names = {digest_of(i.digest[len("sha256:") :]): i for i in images}
    del names
    plan = plan_repository(parse_policy(document), "app", images, NOW)
    by_digest = {i.digest: i for i in images}
    result = {}
    for decisions in (plan.delete, plan.archive, plan.untag, plan.keep, plan.deferred):
        for decision in decisions:
            result[",".join(by_digest[decision.image.digest].tags) or decision.image.digest] = (
                decision.action.value
            )
    return result


def reasons(document: dict[str, Any], images: list[Image]) -> dict[str, str]:
    plan = plan_repository(parse_policy(document), "app", images, NOW)
    return {
        ",".join(d.image.tags): d.reason
        for decisions in (plan.delete, plan.archive, plan.untag, plan.keep, plan.deferred)
        for d in decisions
    }


BRANCHES = {"group_by": r"^(?P<line>[a-z]+)-[0-9a-f]{7}$", "keep_latest": 2, "older_than_days": 0}


def test_keep_latest_counts_per_group() -> None:
    images = [image(f"m{n}", n, f"main-{n:07x}") for n in range(1, 5)] + [image("f1", 9, "feature-0000001")]
    assert decided({"rules": [BRANCHES]}, images) == {
        "main-0000001": "keep",
        "main-0000002": "keep",
        "main-0000003": "delete",
        "main-0000004": "delete",
        "feature-0000001": "keep",
    }


def test_an_image_among_the_latest_of_any_of_its_groups_is_kept() -> None:
    images = [image(f"m{n}", n, f"main-{n:07x}") for n in range(1, 4)]
    images.append(image("both", 10, "main-00000aa", "hotfix-00000aa"))
    assert decided({"rules": [BRANCHES]}, images)["main-00000aa,hotfix-00000aa"] == "keep"


def test_images_in_no_group_are_outside_the_rule() -> None:
    images = [image("x", 400, "latest")]
    assert reasons({"rules": [BRANCHES]}, images) == {"latest": "rules[0]: no tag matches group_by"}


def test_a_kept_image_names_its_group_and_a_deleted_one_its_rank() -> None:
    images = [image(f"m{n}", n, f"main-{n:07x}") for n in range(1, 5)]
    said = reasons({"rules": [BRANCHES]}, images)
    assert said["main-0000001"] == 'rules[0]: among the latest 2 of group "main"'
    assert said["main-0000004"] == 'matched rules[0]: 4th newest of group "main"'


def test_an_image_kept_by_one_of_its_groups_names_that_group() -> None:
    images = [image(f"a{n}", n, f"alpha-{n:07x}") for n in range(1, 4)]
    images.append(image("both", 10, "alpha-00000aa", "main-00000aa"))
    said = reasons({"rules": [BRANCHES]}, images)
    assert said["alpha-00000aa,main-00000aa"] == 'rules[0]: among the latest 2 of group "main"'


def test_an_image_kept_by_several_groups_names_the_first_by_name() -> None:
    images = [image("both", 10, "main-00000aa", "hotfix-00000aa")]
    said = reasons({"rules": [BRANCHES]}, images)
    assert said["main-00000aa,hotfix-00000aa"] == 'rules[0]: among the latest 2 of group "hotfix"'


def test_a_deleted_image_of_several_groups_names_its_rank_in_the_first_by_name() -> None:
    images = [image(f"m{n}", n, f"main-{n:07x}") for n in range(1, 4)]
    images += [image(f"h{n}", n, f"hotfix-{n:07x}") for n in range(1, 5)]
    images.append(image("both", 10, "main-00000aa", "hotfix-00000aa"))
    said = reasons({"rules": [BRANCHES]}, images)
    assert said["main-00000aa,hotfix-00000aa"] == 'matched rules[0]: 5th newest of group "hotfix"'


def test_version_order_puts_pre_releases_below_their_release_and_rc10_above_rc2() -> None:
    rule = {"keep_latest": 2, "order_by": "version", "tag_regex": [r"v.*"]}
    images = [
        image("a", 1, "v1.5.0-rc.2"),
        image("b", 2, "v1.5.0-rc.10"),
        image("c", 3, "v1.5.0"),
        image("d", 0, "v1.4.9"),
    ]
    assert decided({"rules": [rule]}, images) == {
        "v1.5.0": "keep",
        "v1.5.0-rc.10": "keep",
        "v1.5.0-rc.2": "delete",
        "v1.4.9": "delete",
    }


def test_equal_versions_rank_by_push_time_then_digest() -> None:
    rule = {"keep_latest": 1, "order_by": "version", "tag_regex": [r"v.*"]}
    images = [image("old", 5, "v2.0.0"), image("new", 1, "v2.0.0+build.2"), image("low", 0, "v1.0")]
    assert decided({"rules": [rule]}, images) == {
        "v2.0.0+build.2": "keep",
        "v2.0.0": "delete",
        "v1.0": "delete",
    }


def test_an_image_ranks_by_its_highest_version() -> None:
    rule = {"keep_latest": 1, "order_by": "version", "tag_regex": [r"v.*"]}
    images = [image("a", 9, "v1.0.0", "v3.0.0"), image("b", 1, "v2.0.0")]
    assert decided({"rules": [rule]}, images) == {"v1.0.0,v3.0.0": "keep", "v2.0.0": "delete"}


def test_tags_without_a_version_are_outside_a_version_rule_and_the_report_says_so() -> None:
    rule = {"keep_latest": 0, "order_by": "version"}
    assert reasons({"rules": [rule]}, [image("x", 9, "latest")]) == {
        "latest": "rules[0]: no tag spells a version"
    }


def test_the_version_group_of_group_by_holds_the_version() -> None:
    rule = {"keep_latest": 1, "order_by": "version", "group_by": r"^(?P<line>prod|staging)-(?P<version>.+)$"}
    images = [image("a", 1, "prod-1.4.2"), image("b", 9, "prod-1.10.0"), image("c", 5, "staging-0.1")]
    assert decided({"rules": [rule]}, images) == {
        "prod-1.10.0": "keep",
        "prod-1.4.2": "delete",
        "staging-0.1": "keep",
    }


UNTAG_CI = {"tag_patterns": ["ci-*"], "older_than_days": 7, "action": "untag"}


def test_untag_removes_the_selected_tags_of_a_multi_tag_image() -> None:
    plan = plan_repository(
        parse_policy({"rules": [UNTAG_CI]}), "app", [image("a", 30, "v1", "ci-1", "ci-2")], NOW
    )
    [decision] = plan.untag
    assert (decision.removed, plan.tags_removed) == (("ci-1", "ci-2"), 2)


def test_untag_keeps_an_image_whose_last_tag_it_would_remove() -> None:
    assert reasons({"rules": [UNTAG_CI]}, [image("a", 30, "ci-1")]) == {
        "ci-1": "kept: untag would remove its last tag"
    }


def test_delete_wins_over_archive_and_archive_over_untag() -> None:
    rules = [
        {**UNTAG_CI},
        {"tag_patterns": ["ci-*"], "older_than_days": 20, "action": "archive"},
        {"tag_patterns": ["ci-*"], "older_than_days": 40},
    ]
    images = [image("u", 10, "ci-1", "v1"), image("a", 30, "ci-2", "v2"), image("d", 50, "ci-3", "v3")]
    assert decided({"rules": rules}, images) == {
        "ci-1,v1": "untag",
        "ci-2,v2": "archive",
        "ci-3,v3": "delete",
    }


def test_a_protected_image_keeps_every_tag() -> None:
    document = {"rules": [UNTAG_CI], "protect": {"tag_regex": [r"^v\d+$"]}}
    assert reasons(document, [image("a", 30, "ci-1", "v1")]) == {
        "ci-1,v1": "protected: tag 'v1' matches protect.tag_regex '^v\\\\d+$'"
    }


def test_an_untag_counts_as_one_action_towards_the_limit_oldest_first() -> None:
    document = {
        "rules": [UNTAG_CI, {"tag_patterns": ["old-*"], "older_than_days": 7}],
        "limits": {"max_deletions_per_repository": 2},
    }
    images = [image("a", 30, "ci-1", "v1"), image("b", 40, "old-1"), image("c", 20, "ci-2", "v2")]
    assert decided(document, images) == {"ci-1,v1": "untag", "old-1": "delete", "ci-2,v2": "deferred"}


def test_untag_removes_no_image_so_the_fraction_guard_ignores_it() -> None:
    document = {"rules": [UNTAG_CI], "limits": {"max_delete_fraction": 0.1}}
    assert decided(document, [image("a", 30, "ci-1", "v1")]) == {"ci-1,v1": "untag"}


# --- refused, naming the field ----------------------------------------------------------------------

INVALID = [
    ({"group_by": "^main-.*$", "keep_latest": 1}, "rules[0].group_by: holds no capture group"),
    ({"group_by": "^(a)-(b)$", "keep_latest": 1}, "rules[0].group_by: holds 2 capture groups"),
    (
        {"tag_regex": ["x"], "tag_patterns": ["x"], "keep_latest": 1},
        "rules[0].tag_regex: cannot be used with tag_patterns",
    ),
    ({"tag_regex": ["(a+)+$"], "keep_latest": 1}, "rules[0].tag_regex[0]: can backtrack catastrophically"),
    ({"tag_regex": ["(a|aa)*"], "keep_latest": 1}, "rules[0].tag_regex[0]: can backtrack catastrophically"),
    ({"tag_regex": ["[a-"], "keep_latest": 1}, "rules[0].tag_regex[0]: invalid regular expression"),
    ({"order_by": "version", "older_than_days": 1}, "rules[0].order_by: needs keep_latest"),
    ({"group_by": "^(x)$", "older_than_days": 1}, "rules[0].group_by: needs keep_latest"),
    ({"order_by": "semver", "keep_latest": 1}, "rules[0].order_by: must be one of"),
    (
        {"action": "untag", "older_than_days": 1},
        'rules[0].action: "untag" needs tag_patterns, tag_regex or group_by',
    ),
    (
        {"tag_status": "untagged", "group_by": "^(x)$", "keep_latest": 1},
        'rules[0].group_by: cannot be used with tag_status "untagged"',
    ),
    (
        {"tag_status": "untagged", "tag_regex": ["x"], "keep_latest": 1},
        'rules[0].tag_regex: cannot be used with tag_status "untagged"',
    ),
    (
        {"tag_status": "untagged", "action": "untag", "keep_latest": 1},
        'rules[0].action: "untag" cannot be used with tag_status "untagged"',
    ),
]


@pytest.mark.parametrize(("rule", "message"), INVALID, ids=[m for _, m in INVALID])
def test_a_bad_release_rule_is_refused_naming_the_field(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError) as refused:
        parse_policy({"rules": [rule]})
    assert any(str(error).startswith(message) for error in refused.value.errors), refused.value.errors


def test_a_bad_protect_regex_is_refused_naming_the_field() -> None:
    with pytest.raises(PolicyError, match=r"protect\.tag_regex\[0\]: can backtrack catastrophically"):
        parse_policy({"rules": [{"keep_latest": 1}], "protect": {"tag_regex": ["(x+)*y"]}})
