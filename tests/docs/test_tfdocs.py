"""Specification of ``scripts/tfdocs.py`` on small modules written by each test."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from scripts import tfdocs

README = f"# m\n\n## Inputs and outputs\n\n{tfdocs.BEGIN_MARKER}\n{tfdocs.END_MARKER}\n\n## Licence\n"


def module(tmp_path: Path, variables: str = "", outputs: str = "", readme: str = README) -> Path:
    (tmp_path / "variables.tf").write_text(textwrap.dedent(variables))
    (tmp_path / "outputs.tf").write_text(textwrap.dedent(outputs))
    (tmp_path / "README.md").write_text(readme)
    return tmp_path


def inputs(tmp_path: Path, variables: str) -> dict[str, tfdocs.Input]:
    return {item.name: item for item in tfdocs.read_interface(module(tmp_path, variables)).inputs}


def test_an_input_without_default_is_required_and_listed_first(tmp_path: Path) -> None:
    interface = tfdocs.read_interface(
        module(
            tmp_path,
            """
            variable "a_optional" {
              type    = string
              default = "x"
            }
            variable "z_required" {
              type = number
            }
            """,
        )
    )

    assert [(item.name, item.required) for item in interface.inputs] == [
        ("z_required", True),
        ("a_optional", False),
    ]


def test_types_and_defaults_are_the_source_text_dedented_to_the_attribute(tmp_path: Path) -> None:
    found = inputs(
        tmp_path,
        """
        variable "settings" {
          type = object({
            names = optional(list(string)) # comment kept
            size  = number
          })
          default = {
            names = ["a"]
            size  = 1
          }
        }
        """,
    )

    assert found["settings"].type == (
        "object({\n  names = optional(list(string)) # comment kept\n  size  = number\n})"
    )
    assert found["settings"].default == '{\n  names = ["a"]\n  size  = 1\n}'


def test_a_missing_type_is_any_and_a_null_default_makes_the_input_optional(tmp_path: Path) -> None:
    found = inputs(tmp_path, 'variable "loose" {\n  default = null\n}\n')

    assert (found["loose"].type, found["loose"].default, found["loose"].required) == ("any", "null", False)


@pytest.mark.parametrize(
    ("source", "description"),
    [
        ('"plain"', "plain"),
        (r'"with \"quotes\", a \\ and\na new line"', 'with "quotes", a \\ and\na new line'),
        (r'"literal $${x} and %%{y} and \u00e9"', "literal ${x} and %{y} and \u00e9"),
        ('<<-EOT\n    First line.\n      Indented "raw" \\n.\n  EOT', 'First line.\n  Indented "raw" \\n.'),
        ("<<EOT\n  kept\nEOT", "  kept"),
    ],
)
def test_descriptions_are_decoded_like_terraform_decodes_strings(
    tmp_path: Path, source: str, description: str
) -> None:
    found = inputs(tmp_path, f'variable "v" {{\n  description = {source}\n}}\n')

    assert found["v"].description == description


def test_a_multi_line_type_is_a_pre_block_on_one_table_line(tmp_path: Path) -> None:
    rendered = tfdocs.render(
        tfdocs.Interface(
            inputs=(
                tfdocs.Input(name="m", description="d", type="map(object({\n  a = string\n}))", default=None),
            ),
            outputs=(),
        )
    )

    assert "| `m` | d | <pre>map(object({<br>  a = string<br>}))</pre> | n/a | yes |" in rendered.splitlines()


def test_cells_escape_what_would_break_the_table_or_vanish_as_html(tmp_path: Path) -> None:
    rendered = tfdocs.render(
        tfdocs.Interface(
            inputs=(
                tfdocs.Input(
                    name="v", description="a|b, <name>-x and `<kept>`", type="string", default='"x|y"'
                ),
            ),
            outputs=(tfdocs.Output(name="o", description="two\nlines"),),
        )
    )

    assert '| `v` | a\\|b, &lt;name&gt;-x and `<kept>` | `string` | `"x\\|y"` | no |' in rendered
    assert "| `o` | two<br>lines |" in rendered


def test_write_fills_the_block_and_check_then_passes(tmp_path: Path) -> None:
    root = module(
        tmp_path,
        'variable "n" {\n  description = "N."\n  type = number\n}\n',
        'output "o" {\n  description = "O."\n  value = 1\n}\n',
    )
    args = ["--module", str(root)]

    assert tfdocs.main([*args, "--check"]) == tfdocs.EXIT_STALE
    assert tfdocs.main([*args, "--write"]) == 0
    assert tfdocs.main([*args, "--check"]) == 0
    text = (root / "README.md").read_text()
    assert "| `n` | N. | `number` | n/a | yes |" in text
    assert "| `o` | O. |" in text
    assert text.endswith(f"{tfdocs.END_MARKER}\n\n## Licence\n")


def test_check_reports_a_diff_naming_the_changed_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = module(tmp_path, 'variable "n" {\n  description = "Old."\n}\n')
    tfdocs.main(["--module", str(root), "--write"])
    (root / "variables.tf").write_text('variable "n" {\n  description = "New."\n}\n')

    assert tfdocs.main(["--module", str(root), "--check"]) == tfdocs.EXIT_STALE
    err = capsys.readouterr().err
    assert "-| `n` | Old. | `any` | n/a | yes |" in err
    assert "+| `n` | New. | `any` | n/a | yes |" in err
    assert "run `make docs`" in err


def test_a_readme_without_markers_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = module(tmp_path, readme="# m\n")

    assert tfdocs.main(["--module", str(root), "--write"]) == tfdocs.EXIT_ERROR
    assert tfdocs.BEGIN_MARKER in capsys.readouterr().err
