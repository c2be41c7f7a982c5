"""TypeScript/JavaScript comment checks (global-commenting): exported functions and classes
carry a JSDoc comment, and TODOs point at an issue."""

from __future__ import annotations

import re
from collections.abc import Iterator

from tree_sitter import Node

from services.skills.checks.base import Finding, Severity, SourceFile, check
from services.skills.checks.web.syntax import FUNCTION_VALUES, is_test_file
from services.skills.checks.web.trees import SCRIPT_LANGUAGES, line, parse, text

DOCUMENTED_DECLARATIONS = frozenset(
    {
        "function_declaration",
        "generator_function_declaration",
        "class_declaration",
        "abstract_class_declaration",
    }
)
TODO = re.compile(r"^(TODO|FIXME|XXX|HACK)\b")
ISSUE_REFERENCE = re.compile(r"https?://|#\d+|\b[A-Z][A-Z0-9]+-\d+\b|\bgh-\d+\b|\bissue\b", re.IGNORECASE)
COMMENT_MARKS = re.compile(r"^\s*(//+|/\*+|\*+/?)?\s*|\s*\*+/\s*$")


def _exported_name(export: Node) -> str:
    """The name of the function or class an export statement declares; "" for anything else."""
    declaration = export.child_by_field_name("declaration")
    if declaration is not None and declaration.type in DOCUMENTED_DECLARATIONS:
        return text(declaration.child_by_field_name("name")) or "default export"
    if declaration is not None and declaration.type == "lexical_declaration":
        for declarator in declaration.named_children:
            value = declarator.child_by_field_name("value")
            if value is not None and (
                value.type in FUNCTION_VALUES or (value.type == "call_expression" and _wraps_function(value))
            ):
                return text(declarator.child_by_field_name("name"))
    value = export.child_by_field_name("value")
    if value is not None and value.type in FUNCTION_VALUES:
        return "default export"
    return ""


def _wraps_function(call: Node) -> bool:
    arguments = call.child_by_field_name("arguments")
    return arguments is not None and any(a.type in FUNCTION_VALUES for a in arguments.named_children)


@check("global-commenting", "missing-docstring", SCRIPT_LANGUAGES)
def missing_docstring(source: SourceFile) -> Iterator[Finding]:
    """An exported function or class without a /** JSDoc */ comment."""
    if is_test_file(source):
        return
    for export in parse(source).find("export_statement"):
        name = _exported_name(export)
        if not name:
            continue
        before = export.prev_named_sibling
        if before is not None and before.type == "comment" and text(before).startswith("/**"):
            continue
        yield source.finding(
            "global-commenting",
            "missing-docstring",
            line(export),
            f"exported {name} has no JSDoc comment saying what it does, takes and throws",
            Severity.WARNING,
        )


def _comment_lines(comment: Node) -> Iterator[tuple[int, str]]:
    """(line, text) of each line of a // or /* */ comment, without the comment marks."""
    for offset, raw in enumerate(text(comment).splitlines()):
        yield line(comment) + offset, COMMENT_MARKS.sub("", raw)


@check("global-commenting", "vague-todo", SCRIPT_LANGUAGES)
def vague_todo(source: SourceFile) -> Iterator[Finding]:
    """TODO/FIXME comments without a link to an issue."""
    for comment in parse(source).find("comment"):
        for number, content in _comment_lines(comment):
            if TODO.match(content) and not ISSUE_REFERENCE.search(content):
                yield source.finding(
                    "global-commenting",
                    "vague-todo",
                    number,
                    f"comment {content[:60]!r} has no issue link; link the issue it tracks",
                    Severity.INFO,
                )
