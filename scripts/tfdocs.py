"""The README's Inputs and Outputs tables, generated from the module's ``variable`` and ``output`` blocks.

terraform-docs style without terraform-docs (which cannot be installed offline): the tables live
between ``<!-- BEGIN_TF_DOCS -->`` and ``<!-- END_TF_DOCS -->`` in README.md::

    python scripts/tfdocs.py --write   # rewrite the block (`make docs`)
    python scripts/tfdocs.py --check   # exit 1 and print a diff when the block is stale

The blocks are read with python-hcl2's parser. Types and defaults are shown as the HCL source text
the module's author wrote, cut out of the file at the parser's positions: a multi-line
``object({...})`` keeps its layout. (``hcl2.load`` would give them as one-line ``${...}``
expressions with their string escapes still in place.) Descriptions are decoded like Terraform
decodes them: escapes resolved, ``<<-`` heredocs dedented.

Inputs are listed required first, then by name; outputs by name.
"""

from __future__ import annotations

import argparse
import difflib
import html
import re
import sys
import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import hcl2
from lark import Token, Tree

BEGIN_MARKER = "<!-- BEGIN_TF_DOCS -->"
END_MARKER = "<!-- END_TF_DOCS -->"

ROOT = Path(__file__).resolve().parent.parent

EXIT_STALE = 1
EXIT_ERROR = 2


class DocsError(Exception):
    """A module or README this script cannot document: the message says which file and why."""


@dataclass(frozen=True)
class Input:
    name: str
    description: str
    type: str
    #: The HCL source of the default; None when the input has none and so is required.
    default: str | None

    @property
    def required(self) -> bool:
        return self.default is None


@dataclass(frozen=True)
class Output:
    name: str
    description: str


@dataclass(frozen=True)
class Interface:
    """What a caller of the module sees: its inputs and outputs."""

    inputs: tuple[Input, ...]
    outputs: tuple[Output, ...]


# --------------------------------------------------------------------------- reading the module


@dataclass(frozen=True)
class _Expression:
    #: The expression exactly as written in the file.
    source: str
    #: The column of its attribute's name, counted from 0.
    indent: int

    @property
    def display(self) -> str:
        """The source with its continuation lines moved left by the attribute's indentation."""
        first, *rest = self.source.rstrip().split("\n")
        cut = self.indent
        return "\n".join([first, *(line[cut:] if line[:cut].isspace() else line for line in rest)])


@dataclass(frozen=True)
class _Block:
    kind: str
    name: str
    attributes: dict[str, _Expression]


def read_interface(module_dir: Path) -> Interface:
    """The inputs and outputs declared in the ``*.tf`` files at the top of ``module_dir``."""
    inputs: list[Input] = []
    outputs: list[Output] = []
    for path in sorted(module_dir.glob("*.tf")):
        for block in _blocks(path):
            description = block.attributes.get("description")
            text = "" if description is None else _decode_string(description.source, path, block)
            if block.kind == "variable":
                type_ = block.attributes.get("type")
                default = block.attributes.get("default")
                inputs.append(
                    Input(
                        name=block.name,
                        description=text,
                        type="any" if type_ is None else type_.display,
                        default=None if default is None else default.display,
                    )
                )
            elif block.kind == "output":
                outputs.append(Output(name=block.name, description=text))
    return Interface(
        inputs=tuple(sorted(inputs, key=lambda item: (not item.required, item.name))),
        outputs=tuple(sorted(outputs, key=lambda item: item.name)),
    )


def _blocks(path: Path) -> Iterator[_Block]:
    text = path.read_text(encoding="utf-8")
    try:
        tree = hcl2.parses_to_tree(text)
    except Exception as error:  # lark raises several unrelated types for bad syntax
        raise DocsError(f"{path}: cannot parse: {error}") from error
    for body in _subtrees(tree, "body"):
        for block in _subtrees(body, "block"):
            kind, *labels = [
                _label(child) for child in block.children if _is_tree(child, "identifier", "string")
            ]
            if kind not in ("variable", "output") or len(labels) != 1:
                continue
            attributes = {
                _label(attribute.children[0]): _expression(text, attribute)
                for block_body in _subtrees(block, "body")
                for attribute in _subtrees(block_body, "attribute")
            }
            yield _Block(kind=kind, name=labels[0], attributes=attributes)


def _is_tree(node: Tree[Token] | Token, *names: str) -> bool:
    return isinstance(node, Tree) and node.data in names


def _subtrees(tree: Tree[Token], name: str) -> Iterator[Tree[Token]]:
    for child in tree.children:
        if isinstance(child, Tree) and child.data == name:
            yield child


def _label(node: Tree[Token] | Token) -> str:
    """The text of an identifier or of a plain quoted label such as ``"name"``."""
    if isinstance(node, Token):
        return str(node)
    return "".join(str(token) for token in node.scan_values(lambda value: isinstance(value, Token))).strip(
        '"'
    )


def _expression(text: str, attribute: Tree[Token]) -> _Expression:
    expression = attribute.children[-1]
    if not isinstance(expression, Tree):
        raise DocsError(f"unexpected attribute shape at line {attribute.meta.line}")
    source = text[expression.meta.start_pos : expression.meta.end_pos]
    return _Expression(source=source, indent=attribute.meta.column - 1)


_HEREDOC = re.compile(r"<<(-?)([A-Za-z_][A-Za-z0-9_-]*)\r?\n(.*?)^[ \t]*\2[ \t]*\Z", re.DOTALL | re.MULTILINE)
_QUOTED_ESCAPE = re.compile(r'\\(?:([nrt"\\])|u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8}))|\$\$\{|%%\{')
_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


def _decode_string(source: str, path: Path, block: _Block) -> str:
    """The value of an HCL string literal (quoted or heredoc) given as its source text."""
    source = source.rstrip()
    heredoc = _HEREDOC.fullmatch(source)
    if heredoc:
        strip_indent, _, content = heredoc.groups()
        if strip_indent:
            content = textwrap.dedent(content)
        return content.replace("$${", "${").replace("%%{", "%{").rstrip("\n")
    if len(source) >= 2 and source[0] == source[-1] == '"':
        return _QUOTED_ESCAPE.sub(_unescape, source[1:-1])
    raise DocsError(f"{path}: {block.kind} {block.name!r}: description is not a string literal: {source}")


def _unescape(match: re.Match[str]) -> str:
    simple, short, long = match.groups()
    if simple:
        return _SIMPLE_ESCAPES[simple]
    if short or long:
        return chr(int(short or long, 16))
    return match.group(0)[1:]  # "$${" is a literal "${", "%%{" a literal "%{"


# --------------------------------------------------------------------------- rendering


def render(interface: Interface) -> str:
    """The Markdown that goes between the markers (without them)."""
    lines = ["### Inputs", ""]
    if interface.inputs:
        lines += [
            "| Name | Description | Type | Default | Required |",
            "|------|-------------|------|---------|:--------:|",
        ]
        lines += [
            f"| `{item.name}` | {_text_cell(item.description)} | {_code_cell(item.type)} | "
            f"{'n/a' if item.default is None else _code_cell(item.default)} | "
            f"{'yes' if item.required else 'no'} |"
            for item in interface.inputs
        ]
    else:
        lines.append("No inputs.")
    lines += ["", "### Outputs", ""]
    if interface.outputs:
        lines += ["| Name | Description |", "|------|-------------|"]
        lines += [f"| `{item.name}` | {_text_cell(item.description)} |" for item in interface.outputs]
    else:
        lines.append("No outputs.")
    return "\n".join(lines)


_CODE_SPAN = re.compile(r"(`+)(?:.+?)\1", re.DOTALL)


def _text_cell(text: str) -> str:
    """Prose for a table cell: Markdown kept, ``<``/``>`` outside code spans shown literally."""
    parts: list[str] = []
    position = 0
    for span in _CODE_SPAN.finditer(text):
        parts.append(html.escape(text[position : span.start()], quote=False))
        parts.append(span.group(0))
        position = span.end()
    parts.append(html.escape(text[position:], quote=False))
    return "".join(parts).replace("|", "\\|").replace("\n", "<br>")


def _code_cell(source: str) -> str:
    """HCL source for a table cell: a code span, or a ``<pre>`` when it spans several lines."""
    if "\n" in source:
        escaped = html.escape(source, quote=False)
        for character in "|*`\\":
            escaped = escaped.replace(character, f"&#{ord(character)};")
        return "<pre>" + escaped.replace("\n", "<br>") + "</pre>"
    fence = "``" if "`" in source else "`"
    padding = " " if fence == "``" else ""
    return f"{fence}{padding}{source.replace('|', chr(92) + '|')}{padding}{fence}"


# --------------------------------------------------------------------------- the README block


def replace_block(readme: str, block: str) -> str:
    """``readme`` with ``block`` between the markers."""
    start = readme.find(BEGIN_MARKER)
    end = readme.find(END_MARKER)
    if start < 0 or end < start:
        raise DocsError(f"README.md needs {BEGIN_MARKER} followed by {END_MARKER}")
    return f"{readme[: start + len(BEGIN_MARKER)]}\n{block}\n{readme[end:]}"


def expected_readme(readme: Path, module_dir: Path) -> str:
    """The README as it should be: ``readme`` with the block generated from ``module_dir``."""
    return replace_block(readme.read_text(encoding="utf-8"), render(read_interface(module_dir)))


def stale_diff(readme: Path = ROOT / "README.md", module_dir: Path = ROOT) -> str:
    """A unified diff from the README's block to the generated one; empty when it is current."""
    current = readme.read_text(encoding="utf-8")
    expected = expected_readme(readme, module_dir)
    return "".join(
        difflib.unified_diff(
            current.splitlines(keepends=True),
            expected.splitlines(keepends=True),
            fromfile=f"{readme.name} (as committed)",
            tofile=f"{readme.name} (generated from the module's *.tf files)",
        )
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0] if __doc__ else None)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="rewrite the block in the README")
    mode.add_argument("--check", action="store_true", help="exit 1 with a diff when the block is stale")
    parser.add_argument("--module", type=Path, default=ROOT, help="the module folder (default: this repo)")
    parser.add_argument("--readme", type=Path, help="the README to update (default: MODULE/README.md)")
    args = parser.parse_args(argv)
    module_dir: Path = args.module
    readme: Path = args.readme or module_dir / "README.md"

    try:
        if args.check:
            diff = stale_diff(readme, module_dir)
            if diff:
                sys.stderr.write(diff)
                sys.stderr.write(
                    f"\n{readme}: the Inputs and outputs tables are stale; run `make docs` and commit.\n"
                )
                return EXIT_STALE
            return 0
        expected = expected_readme(readme, module_dir)
        if expected != readme.read_text(encoding="utf-8"):
            readme.write_text(expected, encoding="utf-8")
            print(f"{readme}: Inputs and outputs updated")
        else:
            print(f"{readme}: Inputs and outputs already current")
        return 0
    except (DocsError, OSError) as error:
        print(f"tfdocs: {error}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
