"""`ecr-cleanup import-lifecycle`: every native field, hand-checked; what cannot be expressed exactly is
refused with the reason; and on random policies and registries the imported policy selects exactly
what an implementation of ECR's documented lifecycle rules, written here, expires or archives."""

from __future__ import annotations

import fnmatch
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecr_cleanup.cli import EXIT_AWS, EXIT_INVALID, EXIT_OK, main
from ecr_cleanup.lifecycle import LifecycleError, import_policies, parse_lifecycle_policy, to_hcl
from ecr_cleanup.plan import ACTIVE, ARCHIVED, Action, Image, plan_repository
from ecr_cleanup.policy import parse_policy
from tests.support import hcl
from tests.support.properties import examples

NOW = datetime(2026, 11, 28, 22, 0, tzinfo=UTC)


def native(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"rules": list(rules)}


def rule(priority: int, action: str = "expire", **selection: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"rulePriority": priority, "selection": selection, "action": {"type": action}}
    if action == "transition":
        body["action"]["targetStorageClass"] = "archive"
    return body


def imported(document: dict[str, Any], repository: str = "app") -> list[dict[str, Any]]:
    return list(import_policies({repository: parse_lifecycle_policy(json.dumps(document))})["rules"])


# --------------------------------------------------------------------------- every field


def test_a_count_rule_becomes_keep_latest() -> None:
    [translated] = imported(native(rule(1, tagStatus="any", countType="imageCountMoreThan", countNumber=10)))
    assert translated == {
        "description": "lifecycle rule 1",
        "repositories": ["app"],
        "tag_status": "any",
        "keep_latest": 10,
    }


def test_an_age_rule_becomes_older_than_days_and_keeps_the_description() -> None:
    body = rule(3, tagStatus="untagged", countType="sinceImagePushed", countUnit="days", countNumber=14)
    body["description"] = "untagged after two weeks"
    [translated] = imported(native(body))
    assert translated["older_than_days"] == 14
    assert translated["tag_status"] == "untagged"
    assert translated["description"] == "lifecycle rule 3: untagged after two weeks"


def test_a_prefix_becomes_a_glob_and_several_must_all_match() -> None:
    [one] = imported(
        native(
            rule(1, tagStatus="tagged", tagPrefixList=["prod"], countType="imageCountMoreThan", countNumber=1)
        )
    )
    [both] = imported(
        native(
            rule(
                1,
                tagStatus="tagged",
                tagPrefixList=["alpha", "beta"],
                countType="imageCountMoreThan",
                countNumber=1,
            )
        )
    )
    assert (one["tag_patterns"], "tag_match" in one) == (["prod*"], False)
    assert (both["tag_patterns"], both["tag_match"]) == (["alpha*", "beta*"], "all")


def test_a_tag_pattern_list_is_kept_as_globs() -> None:
    [translated] = imported(
        native(
            rule(
                1,
                tagStatus="tagged",
                tagPatternList=["*-rc*", "v*"],
                countType="imageCountMoreThan",
                countNumber=2,
            )
        )
    )
    assert (translated["tag_patterns"], translated["tag_match"]) == (["*-rc*", "v*"], "all")


def test_a_transition_by_last_pull_archives() -> None:
    [translated] = imported(
        native(
            rule(
                1,
                "transition",
                tagStatus="any",
                countType="sinceImagePulled",
                countUnit="days",
                countNumber=90,
            )
        )
    )
    assert (translated["action"], translated["not_pulled_for_days"]) == ("archive", 90)


def test_expiring_archived_images_reads_the_archive() -> None:
    [translated] = imported(
        native(
            rule(
                1,
                tagStatus="any",
                storageClass="archive",
                countType="sinceImageTransitioned",
                countUnit="days",
                countNumber=365,
            )
        )
    )
    assert (translated["image_status"], translated["archived_for_days"]) == ("archived", 365)


def test_rules_follow_their_priority_and_the_policy_says_so() -> None:
    document = import_policies(
        {
            "app": parse_lifecycle_policy(
                native(
                    rule(20, tagStatus="any", countType="imageCountMoreThan", countNumber=50),
                    rule(
                        5, tagStatus="untagged", countType="sinceImagePushed", countUnit="days", countNumber=1
                    ),
                )
            )
        }
    )
    assert document["rule_order"] == "priority"
    assert [r["description"] for r in document["rules"]] == ["lifecycle rule 5", "lifecycle rule 20"]
    parse_policy(document)


def test_repositories_with_the_same_policy_share_its_rules() -> None:
    same = parse_lifecycle_policy(
        native(rule(1, tagStatus="any", countType="imageCountMoreThan", countNumber=5))
    )
    other = parse_lifecycle_policy(
        native(rule(1, tagStatus="any", countType="imageCountMoreThan", countNumber=9))
    )
    document = import_policies({"web": same, "api": same, "batch": other})
    assert document["repositories"] == {"include": ["api", "batch", "web"]}
    assert [(r["repositories"], r["keep_latest"]) for r in document["rules"]] == [
        (["api", "web"], 5),
        (["batch"], 9),
    ]


def test_the_hcl_form_says_the_same_as_the_json() -> None:
    document = imported_document = import_policies(
        {
            "team/api": parse_lifecycle_policy(
                native(
                    rule(
                        1,
                        tagStatus="tagged",
                        tagPrefixList=["a", "b"],
                        countType="imageCountMoreThan",
                        countNumber=3,
                    ),
                    rule(2, tagStatus="any", countType="sinceImagePushed", countUnit="days", countNumber=30),
                )
            )
        }
    )
    parsed = hcl.loads(f"policy = {to_hcl(imported_document)}\n")["policy"]
    assert parsed == document


# --------------------------------------------------------------------------- refused, with the reason


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (
            native(rule(1, tagStatus="any", countType="sinceImagePulled", countUnit="days", countNumber=5)),
            "not a pairing ECR documents",
        ),
        (
            native(rule(1, "transition", tagStatus="any", countType="imageCountMoreThan", countNumber=5)),
            "not a pairing ECR documents",
        ),
        (
            native(rule(1, tagStatus="tagged", countType="imageCountMoreThan", countNumber=5)),
            "needs a tagPrefixList or a tagPatternList",
        ),
        (
            native(
                rule(
                    1,
                    tagStatus="untagged",
                    tagPrefixList=["x"],
                    countType="imageCountMoreThan",
                    countNumber=5,
                )
            ),
            "only tagStatus",
        ),
        (
            native(
                rule(
                    1,
                    tagStatus="tagged",
                    tagPatternList=["*a*b*c*d*e"],
                    countType="imageCountMoreThan",
                    countNumber=5,
                )
            ),
            "more than 4 wildcards",
        ),
        (
            native(rule(1, tagStatus="any", countType="sinceImagePushed", countNumber=5)),
            'needs countUnit "days"',
        ),
        (
            native(
                rule(1, tagStatus="any", countType="imageCountMoreThan", countNumber=5),
                rule(2, tagStatus="untagged", countType="imageCountMoreThan", countNumber=5),
            ),
            'tagStatus "any" must have the highest rulePriority',
        ),
        (
            native(
                rule(1, tagStatus="untagged", countType="imageCountMoreThan", countNumber=5),
                rule(1, tagStatus="any", countType="imageCountMoreThan", countNumber=5),
            ),
            "a priority of its own",
        ),
        ({"rules": []}, 'non-empty "rules" list'),
    ],
)
def test_a_policy_that_cannot_be_expressed_exactly_is_refused_with_the_reason(
    document: dict[str, Any], reason: str
) -> None:
    with pytest.raises(LifecycleError, match=reason):
        parse_lifecycle_policy(json.dumps(document))


# --------------------------------------------------------------------------- the command


def test_the_command_imports_saved_output_and_names_what_it_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = native(rule(1, tagStatus="any", countType="imageCountMoreThan", countNumber=5))
    bad = native(rule(1, tagStatus="any", countType="sinceImagePulled", countUnit="days", countNumber=5))
    files = []
    for name, document in (("app", good), ("web", bad)):
        path = tmp_path / f"{name}.json"
        path.write_text(
            json.dumps(
                {"registryId": "1", "repositoryName": name, "lifecyclePolicyText": json.dumps(document)}
            )
        )
        files += ["--file", str(path)]
    out = io.StringIO()
    assert main(["import-lifecycle", *files], stdout=out) == EXIT_AWS
    assert json.loads(out.getvalue())["repositories"] == {"include": ["app"]}
    assert "web: not imported: rule 1: expire by sinceImagePulled" in capsys.readouterr().err


def test_a_bare_policy_file_needs_its_repository(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text(
        json.dumps(native(rule(1, tagStatus="any", countType="imageCountMoreThan", countNumber=5)))
    )
    assert main(["import-lifecycle", "--file", str(path)], stdout=io.StringIO()) == EXIT_INVALID
    out = io.StringIO()
    assert (
        main(["import-lifecycle", "--file", str(path), "--repository", "app", "--format", "hcl"], stdout=out)
        == EXIT_OK
    )
    assert hcl.loads(f"policy = {out.getvalue()}")["policy"]["rules"][0]["keep_latest"] == 5


# --------------------------------------------------------------------------- equivalence
#
# ECR's lifecycle evaluation, from AWS's documentation: "Lifecycle policy properties in Amazon ECR"
# (rulePriority, tagStatus, tagPrefixList, tagPatternList, countType, storageClass, action) and
# "Lifecycle policy evaluation rules" in "Automate the cleanup of images by using lifecycle policies":
# - An image is expired or transitioned by exactly one or zero rules.
# - An image that matches the tagging requirements of a higher priority rule cannot be expired by a
#   rule with a lower priority.
# - Rules can never mark images that are marked by higher priority rules, but can still identify them
#   as if they haven't been expired.
# - Expiration is ordered by push time, older images before newer ones; with imageCountMoreThan the
#   images are sorted youngest to oldest and those beyond the count are expired.
# - With a tag list, an image is selected when every entry matches one of its tags.


def _selects(native_rule: dict[str, Any], image: Image) -> bool:
    selection = native_rule["selection"]
    if (selection.get("storageClass", "standard") == "archive") != (image.status == ARCHIVED):
        return False
    status = selection["tagStatus"]
    if status == "untagged":
        return not image.tags
    if status == "tagged":
        if not image.tags:
            return False
        prefixes = selection.get("tagPrefixList")
        if prefixes:
            return all(any(tag.startswith(prefix) for tag in image.tags) for prefix in prefixes)
        return all(
            any(fnmatch.fnmatchcase(tag, p) for tag in image.tags) for p in selection["tagPatternList"]
        )
    return True


def _over(native_rule: dict[str, Any], selected: list[Image], now: datetime) -> list[Image]:
    selection = native_rule["selection"]
    count, kind = selection["countNumber"], selection["countType"]
    if kind == "imageCountMoreThan":
        youngest_first = sorted(selected, key=lambda image: (-image.pushed_at.timestamp(), image.digest))
        return youngest_first[count:]
    limit = now - timedelta(days=count)
    if kind == "sinceImagePushed":
        return [image for image in selected if image.pushed_at < limit]
    if kind == "sinceImagePulled":
        return [image for image in selected if (image.last_pulled_at or image.pushed_at) < limit]
    return [image for image in selected if image.archived_at is not None and image.archived_at < limit]


def ecr_lifecycle(document: dict[str, Any], images: list[Image], now: datetime) -> dict[str, str]:
    """Digest -> "expire" or "transition": what ECR does with `document` to `images`."""
    marked: dict[str, str] = {}
    seen: set[str] = set()
    for native_rule in sorted(document["rules"], key=lambda r: r["rulePriority"]):
        selected = [image for image in images if _selects(native_rule, image)]
        for image in _over(native_rule, selected, now):
            if image.digest not in seen:
                marked[image.digest] = native_rule["action"]["type"]
        seen.update(image.digest for image in selected)
    return marked


def test_the_reference_reproduces_awss_example_of_filtering_on_multiple_rules() -> None:
    """ "Examples of lifecycle policies in Amazon ECR", "Filtering on multiple rules": image A is expired."""
    images = [
        Image("a", ("beta-1", "prod-1"), NOW - timedelta(days=10)),
        Image("b", ("beta-2", "prod-2"), NOW - timedelta(days=9)),
        Image("c", ("beta-3",), NOW - timedelta(days=8)),
    ]
    document = native(
        rule(1, tagStatus="tagged", tagPrefixList=["prod"], countType="imageCountMoreThan", countNumber=1),
        rule(2, tagStatus="tagged", tagPrefixList=["beta"], countType="imageCountMoreThan", countNumber=1),
    )
    assert ecr_lifecycle(document, images, NOW) == {"a": "expire"}
    assert engine(document, images) == {"a": "expire"}


def test_the_reference_reproduces_awss_example_of_filtering_on_multiple_tags() -> None:
    """ "Filtering on multiple tags in a single rule": only images with both prefixes are selected."""
    images = [
        Image("a", ("alpha-1", "beta-1", "gamma-1"), NOW - timedelta(days=10)),
        Image("b", ("alpha-2", "beta-2"), NOW - timedelta(days=9)),
        Image("c", ("alpha-3", "beta-3", "gamma-3"), NOW - timedelta(days=8)),
    ]
    document = native(
        rule(
            1,
            tagStatus="tagged",
            tagPrefixList=["alpha", "gamma"],
            countType="imageCountMoreThan",
            countNumber=1,
        )
    )
    assert ecr_lifecycle(document, images, NOW) == {"a": "expire"}
    assert engine(document, images) == {"a": "expire"}


def engine(document: dict[str, Any], images: list[Image]) -> dict[str, str]:
    """What this engine does with the imported policy (no protection), in ECR's words."""
    policy_document = import_policies({"app": parse_lifecycle_policy(json.dumps(document))})
    policy_document["protect"] = {"in_use": False}
    plan = plan_repository(parse_policy(policy_document), "app", images, NOW)
    words = {Action.DELETE: "expire", Action.ARCHIVE: "transition"}
    return {decision.image.digest: words[decision.action] for decision in plan.acting}


TAGS = ["dev-1", "dev-2", "prod-1", "prod-2", "v1.0", "v1.1", "rc", "latest"]
DAYS = st.integers(min_value=1, max_value=60)


@st.composite
def native_rules(draw: st.DrawFn) -> dict[str, Any]:
    count_rules = draw(st.integers(min_value=1, max_value=4))
    rules = []
    for _ in range(count_rules):
        storage = draw(st.sampled_from(["standard", "standard", "archive"]))
        status = draw(st.sampled_from(["tagged", "tagged", "untagged"]))
        selection: dict[str, Any] = {"tagStatus": status}
        if status == "tagged":
            if draw(st.booleans()):
                selection["tagPrefixList"] = draw(
                    st.lists(st.sampled_from(["dev", "prod", "v1", "r"]), min_size=1, max_size=2, unique=True)
                )
            else:
                selection["tagPatternList"] = draw(
                    st.lists(
                        st.sampled_from(["dev-*", "*-1", "v*", "*r*", "latest"]),
                        min_size=1,
                        max_size=2,
                        unique=True,
                    )
                )
        if storage == "archive":
            selection.update(
                storageClass="archive",
                countType="sinceImageTransitioned",
                countUnit="days",
                countNumber=draw(DAYS),
            )
            action = "expire"
        else:
            kind = draw(st.sampled_from(["imageCountMoreThan", "sinceImagePushed", "sinceImagePulled"]))
            selection["countType"] = kind
            selection["countNumber"] = (
                draw(st.integers(min_value=1, max_value=5)) if kind == "imageCountMoreThan" else draw(DAYS)
            )
            if kind != "imageCountMoreThan":
                selection["countUnit"] = "days"
            action = "transition" if kind == "sinceImagePulled" else "expire"
        rules.append((selection, action))
    if draw(st.booleans()):
        rules.append(
            (
                {
                    "tagStatus": "any",
                    "countType": "imageCountMoreThan",
                    "countNumber": draw(st.integers(1, 5)),
                },
                "expire",
            )
        )
    priorities = draw(
        st.lists(
            st.integers(min_value=1, max_value=100), min_size=len(rules), max_size=len(rules), unique=True
        )
    )
    ordered = sorted(priorities)
    # the rule of tagStatus "any", when there is one, is last
    return native(
        *(rule(ordered[index], action, **selection) for index, (selection, action) in enumerate(rules))
    )


@st.composite
def registries(draw: st.DrawFn) -> list[Image]:
    count = draw(st.integers(min_value=0, max_value=14))
    images = []
    for number in range(count):
        archived = draw(st.booleans()) and draw(st.booleans())
        pushed = NOW - timedelta(
            days=draw(st.integers(min_value=0, max_value=120)), hours=draw(st.integers(0, 23))
        )
        pulled = draw(st.one_of(st.none(), st.integers(min_value=0, max_value=120)))
        images.append(
            Image(
                f"sha256:{number:02d}",
                tuple(draw(st.lists(st.sampled_from(TAGS), max_size=3, unique=True))),
                pushed,
                last_pulled_at=None if pulled is None else max(pushed, NOW - timedelta(days=pulled, hours=3)),
                status=ARCHIVED if archived else ACTIVE,
                archived_at=(NOW - timedelta(days=draw(st.integers(0, 120)), hours=5)) if archived else None,
            )
        )
    return images


def _near_a_boundary(document: dict[str, Any], image: Image) -> bool:
    """Within a day of one of the policy's day counts: ECR does not document how it rounds."""
    for native_rule in document["rules"]:
        selection = native_rule["selection"]
        if selection.get("countUnit") != "days":
            continue
        limit = NOW - timedelta(days=selection["countNumber"])
        for moment in (image.pushed_at, image.last_pulled_at, image.archived_at):
            if moment is not None and abs(moment - limit) < timedelta(days=1):
                return True
    return False


@settings(max_examples=examples(400), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(native_rules(), registries())
def test_the_imported_policy_selects_exactly_what_ecr_expires_or_archives(
    document: dict[str, Any], images: list[Image]
) -> None:
    expected = ecr_lifecycle(document, images, NOW)
    got = engine(document, images)
    compared = {image.digest for image in images if not _near_a_boundary(document, image)}
    assert {d: a for d, a in got.items() if d in compared} == {
        d: a for d, a in expected.items() if d in compared
    }
