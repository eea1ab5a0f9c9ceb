"""The README cannot drift from the code: each test compares one part of it with its source of truth.

* the Inputs and outputs tables with the module's ``variable`` and ``output`` blocks (``make docs``);
* the policy reference table with the fields the engine accepts (``ecr_cleanup.policy.POLICY_FIELDS``);
* every JSON policy example with the engine's validation, each recipe's HCL with its JSON, and every
  regular expression of the examples against tags crafted to make it backtrack;
* every ``make <target>`` with the Makefile.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import hcl2
import pytest

from ecr_cleanup.policy import POLICY_FIELDS, PolicyError, parse_policy
from scripts import tfdocs
from tests.support.hcl import hcl_value

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
MAKEFILE = ROOT / "Makefile"

BEGIN_POLICY_FIELDS = "<!-- BEGIN_POLICY_FIELDS -->"
END_POLICY_FIELDS = "<!-- END_POLICY_FIELDS -->"

FENCED_BLOCK = re.compile(r"^```([\w-]*)[ \t]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)
CODE_SPAN = re.compile(r"`([^`\n]+)`")


@pytest.fixture(scope="module")
def readme() -> str:
    return README.read_text(encoding="utf-8")


def section(text: str, begin: str, end: str) -> str:
    start, stop = text.find(begin), text.find(end)
    assert start >= 0, f"README.md has no {begin}"
    assert stop > start, f"README.md has no {end} after {begin}"
    return text[start + len(begin) : stop]


# --------------------------------------------------------------------------- generated tables


def test_the_inputs_and_outputs_tables_match_the_module() -> None:
    diff = tfdocs.stale_diff(README, ROOT)

    assert not diff, f"README.md's Inputs and outputs are stale: run `make docs` and commit.\n{diff}"


# --------------------------------------------------------------------------- policy reference


def accepted_fields() -> set[str]:
    return {
        f"{parent}.{name}" if parent else name for parent, names in POLICY_FIELDS.items() for name in names
    }


def documented_fields(readme: str) -> list[str]:
    """The backticked path in the first column of each row of the policy reference table."""
    fields: list[str] = []
    for line in section(readme, BEGIN_POLICY_FIELDS, END_POLICY_FIELDS).splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("|") or set(cells[0]) <= set("-: ") or cells[0] == "Field":
            continue
        path = CODE_SPAN.fullmatch(cells[0])
        assert path, f"the first cell of each policy reference row is a `path` in backticks, not {cells[0]!r}"
        fields.append(path.group(1))
    return fields


def test_the_policy_reference_documents_every_field_the_engine_accepts(readme: str) -> None:
    missing = accepted_fields() - set(documented_fields(readme))

    assert not missing, f"fields the engine accepts but README.md does not document: {sorted(missing)}"


def test_the_policy_reference_documents_only_fields_the_engine_accepts(readme: str) -> None:
    unknown = set(documented_fields(readme)) - accepted_fields()

    assert not unknown, f"fields README.md documents but the engine refuses: {sorted(unknown)}"


def test_the_policy_reference_lists_each_field_once(readme: str) -> None:
    fields = documented_fields(readme)

    assert len(fields) == len(set(fields)), (
        f"listed twice: {sorted({f for f in fields if fields.count(f) > 1})}"
    )


# --------------------------------------------------------------------------- policy examples


def policy_examples(readme: str) -> list[str]:
    """The ```json blocks that mention "rules": policies, and maybe a report that lists rule numbers."""
    return [
        body for language, body in FENCED_BLOCK.findall(readme) if language == "json" and '"rules"' in body
    ]


def test_the_readme_has_policy_examples(readme: str) -> None:
    assert any("rules" in json.loads(body) for body in policy_examples(readme))


def test_every_json_policy_example_is_accepted_by_the_engine(readme: str) -> None:
    for body in policy_examples(readme):
        try:
            document = json.loads(body)
        except json.JSONDecodeError as error:
            pytest.fail(f"a ```json block of README.md is not JSON ({error}):\n{body}")
        if not (isinstance(document, dict) and "rules" in document):
            continue  # a report: its "rules" are the numbers of the rules that matched an image
        try:
            parse_policy(document)
        except PolicyError as error:
            pytest.fail(f"README.md's policy example is refused by the engine: {error}\n{body}")


# --------------------------------------------------------------------------- make targets


def makefile_targets() -> set[str]:
    rule = re.compile(r"^([A-Za-z0-9_.%/$()-]+(?:[ \t]+[A-Za-z0-9_.%/$()-]+)*)[ \t]*::?(?!=)", re.MULTILINE)
    return {target for match in rule.finditer(MAKEFILE.read_text()) for target in match.group(1).split()}


def mentioned_make_targets(readme: str) -> set[str]:
    """Targets of ``make`` as the README shows them to be typed: in code spans and code blocks."""
    code = [body for _, body in FENCED_BLOCK.findall(readme)] + CODE_SPAN.findall(readme)
    invocation = re.compile(r"(?:^|[\s;&|(])make[ \t]+((?:[\w-]+[ \t]*)+)", re.MULTILINE)
    return {
        target
        for text in code
        for match in invocation.finditer(text)
        for target in match.group(1).split()
        if "=" not in target and not target.startswith("-")
    }


def test_the_readme_mentions_make_targets(readme: str) -> None:
    assert {"test", "demo", "docs"} <= mentioned_make_targets(readme)


def test_every_make_target_the_readme_mentions_exists(readme: str) -> None:
    missing = mentioned_make_targets(readme) - makefile_targets()

    assert not missing, f"README.md mentions `make` targets the Makefile lacks: {sorted(missing)}"


# --------------------------------------------------------------------------- recipes


def recipes(readme: str) -> list[tuple[str, str]]:
    """Each recipe of the Recipes section: its ```json policy and the ```hcl `policy = ...` after it."""
    text = section(readme, "## Recipes", "## Coming from lifecycle policies")
    blocks = FENCED_BLOCK.findall(text)
    pairs = list(zip(blocks[::2], blocks[1::2], strict=True))
    assert all(json_block[0] == "json" and hcl_block[0] == "hcl" for json_block, hcl_block in pairs)
    return [(json_block[1], hcl_block[1]) for json_block, hcl_block in pairs]


def test_the_readme_has_five_recipes(readme: str) -> None:
    assert len(recipes(readme)) == 5


def test_each_recipe_says_the_same_policy_in_json_and_in_hcl(readme: str) -> None:
    for json_text, hcl_text in recipes(readme):
        assert hcl_value(hcl2.load(io.StringIO(hcl_text))) == {"policy": json.loads(json_text)}, hcl_text


def regular_expressions(readme: str) -> list[str]:
    """Every regular expression of the README's JSON policies."""
    found = []
    for body in policy_examples(readme):
        document = json.loads(body)
        if not isinstance(document, dict) or "rules" not in document:
            continue
        for rule in document["rules"]:
            found += rule.get("tag_regex", [])
            found += [rule["group_by"]] if "group_by" in rule else []
        found += document.get("protect", {}).get("tag_regex", [])
    return found


ADVERSARIAL_ALPHABET = "av0V9.-_"
ECR_TAG_LENGTH = 128


def adversarial_tags() -> list[str]:
    """128-character tags that make a backtracking expression try every split: runs of one
    character, and of pairs, that fail to match at the very end."""
    tags = []
    for first in ADVERSARIAL_ALPHABET:
        tags += [first * ECR_TAG_LENGTH, first * (ECR_TAG_LENGTH - 1) + "!"]
        for second in ADVERSARIAL_ALPHABET:
            pair = (first + second) * (ECR_TAG_LENGTH // 2)
            tags += [pair, pair[:-1] + "!"]
    return tags


def test_the_readme_has_regular_expressions(readme: str) -> None:
    assert len(regular_expressions(readme)) >= 5


def matches_within(expression: str, seconds: float) -> bool:
    """Whether `expression` runs over every adversarial tag within `seconds`, in a process of its own
    (a regular expression holds the interpreter until it is done: no thread could stop it)."""
    script = "import re, sys; c = re.compile(sys.argv[1]); [c.fullmatch(t) for t in sys.argv[2:]]"
    try:
        subprocess.run(
            [sys.executable, "-c", script, expression, *adversarial_tags()], timeout=seconds, check=True
        )
    except subprocess.TimeoutExpired:
        return False
    return True


def test_no_regular_expression_of_the_readme_backtracks_on_a_128_character_tag(readme: str) -> None:
    """One that backtracks catastrophically would not finish before the universe does; a minute of a
    busy machine is far more than any acceptable expression needs (each takes microseconds)."""
    assert [e for e in regular_expressions(readme) if not matches_within(e, seconds=60)] == []


def test_the_adversarial_tags_do_catch_a_backtracking_expression() -> None:
    assert not matches_within("(a+)+$", seconds=3)
