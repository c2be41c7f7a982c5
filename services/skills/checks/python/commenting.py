"""global-commenting for Python: docstrings on the public surface, no commented-out code,
evergreen comments and TODOs that point at an issue."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass

from services.skills.checks.base import Finding, Severity, SourceFile, check
from services.skills.checks.python.source import dotted_name, has_docstring, is_generated, parse_module

SKILL = "global-commenting"
PY = ["python"]

# Tool directives look like code (`noqa: E501` parses as an annotation) but are not.
PRAGMAS = ("noqa", "type:", "pragma", "fmt:", "isort:", "pylint:", "mypy:", "ruff:", "pyright:", "nosec")
CODE_STATEMENTS = (
    ast.Assign, ast.AugAssign, ast.Import, ast.ImportFrom, ast.Delete, ast.Raise, ast.Assert,
    ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.FunctionDef,
    ast.AsyncFunctionDef, ast.ClassDef, ast.Try,
)  # fmt: skip
# Every statement _is_code_statement accepts has one of these; prose mostly has none.
CODE_LIKE = re.compile(
    r"[=(]|^\s*(import|from|return|raise|del|assert|if|for|while|with|def|class|try|async)\b"
)
# "e.g. client.get()" parses (whitespace may follow a dot), but code never has ". " there.
SENTENCE_BREAK = re.compile(r"[A-Za-z]\.\s")
NOT_EVERGREEN = re.compile(
    r"^\s*(author|modified by|changed by|updated by|created by|last (modified|updated|changed))\s*:"
    r"|\b(19|20)\d\d-[01]\d-[0-3]\d\b",
    re.IGNORECASE,
)
TODO = re.compile(r"^\s*(TODO|FIXME|XXX|HACK)\b")
ISSUE_REFERENCE = re.compile(r"https?://|#\d+|\b[A-Z][A-Z0-9]+-\d+\b|\bgh-\d+\b|\bissue\b", re.IGNORECASE)


@dataclass(frozen=True)
class Comment:
    """One `#` comment of the file."""

    line: int
    text: str  # without the leading "#" and surrounding whitespace
    whole_line: bool


def comments(source: SourceFile) -> list[Comment]:
    """Every comment of the file with its line; none for a generated file."""
    parse_module(source)  # a file that does not parse is a syntax-error finding
    if is_generated(source):
        return []
    return source.cached("python.comments", lambda: list(_tokenize_comments(source.content)))


def _tokenize_comments(content: str) -> Iterator[Comment]:
    line_has_code: set[int] = set()
    found = []
    for token in tokenize.generate_tokens(io.StringIO(content).readline):
        if token.type == tokenize.COMMENT:
            found.append(token)
        elif token.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            line_has_code.add(token.start[0])
    for token in found:
        line = token.start[0]
        yield Comment(line, token.string.lstrip("#").strip(), line not in line_has_code)


@check(SKILL, "missing-docstring", PY)
def missing_docstring(source: SourceFile) -> Iterator[Finding]:
    """Public modules, classes and functions without a docstring."""
    if source.is_test:
        return
    tree = parse_module(source)
    definitions = [
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and not node.name.startswith("_")
        and not any(dotted_name(d).endswith("overload") for d in node.decorator_list)
    ]
    # A module of plain constants or re-exports (most __init__.py files) explains itself.
    if definitions and not has_docstring(tree):
        yield source.finding(
            SKILL,
            "missing-docstring",
            1,
            f"module {source.path} has no docstring saying what it is for",
            Severity.WARNING,
        )
    for node in definitions:
        if not has_docstring(node):
            kind = "class" if isinstance(node, ast.ClassDef) else "function"
            yield source.finding(
                SKILL,
                "missing-docstring",
                node.lineno,
                f"public {kind} {node.name} has no docstring",
                Severity.INFO,
            )


@check(SKILL, "commented-out-code", PY)
def commented_out_code(source: SourceFile) -> Iterator[Finding]:
    """Comment lines that are Python statements: dead code left behind."""
    for block in _comment_blocks(comments(source)):
        line = _first_code_line(block)
        if line:
            yield source.finding(
                SKILL,
                "commented-out-code",
                line,
                "commented-out code; delete it (version control keeps the history)",
                Severity.WARNING,
            )


def _comment_blocks(found: list[Comment]) -> Iterator[list[Comment]]:
    """Runs of whole-line comments on consecutive lines."""
    block: list[Comment] = []
    for comment in found:
        if not comment.whole_line:
            continue
        if block and comment.line != block[-1].line + 1:
            yield block
            block = []
        block.append(comment)
    if block:
        yield block


def _first_code_line(block: list[Comment]) -> int:
    """The line of the first comment in the block that is code; a statement spread over
    several comment lines counts when the whole block parses as code."""
    for comment in block:
        if _is_code(comment.text):
            return comment.line
    if len(block) > 1 and _is_code("\n".join(c.text for c in block)):
        return block[0].line
    return 0


def _is_code(text: str) -> bool:
    if not CODE_LIKE.search(text) or text.lower().startswith(PRAGMAS) or SENTENCE_BREAK.search(text):
        return False  # parsing every prose comment costs more than all the other checks
    # A lone block header (`if ready:`) parses once it has a body.
    candidate = f"{text} pass" if text.endswith(":") and "\n" not in text else text
    try:
        body = ast.parse(candidate).body
    except (SyntaxError, ValueError):
        return False
    return bool(body) and all(_is_code_statement(statement) for statement in body)


def _is_code_statement(statement: ast.stmt) -> bool:
    """Statements prose does not parse as. A bare name, path-like division (`app/x.py`) or
    an annotation without a value (`Note: be careful`) are prose; calls and assignments not."""
    if isinstance(statement, CODE_STATEMENTS):
        return True
    if isinstance(statement, ast.AnnAssign):
        return statement.value is not None
    if isinstance(statement, ast.Return):
        return statement.value is not None and not isinstance(statement.value, ast.Name)
    if isinstance(statement, ast.Expr):
        value = statement.value.value if isinstance(statement.value, ast.Await) else statement.value
        return isinstance(value, ast.Call)
    return False


@check(SKILL, "not-evergreen", PY)
def not_evergreen(source: SourceFile) -> Iterator[Finding]:
    """Comments with dates, authors or change-log notes that go stale."""
    for comment in comments(source):
        if NOT_EVERGREEN.search(comment.text):
            yield source.finding(
                SKILL,
                "not-evergreen",
                comment.line,
                f"comment {comment.text[:60]!r} records a date or author; version control keeps those",
                Severity.INFO,
            )


@check(SKILL, "vague-todo", PY)
def vague_todo(source: SourceFile) -> Iterator[Finding]:
    """TODO/FIXME comments without a link to an issue."""
    for comment in comments(source):
        if TODO.match(comment.text) and not ISSUE_REFERENCE.search(comment.text):
            yield source.finding(
                SKILL,
                "vague-todo",
                comment.line,
                f"comment {comment.text[:60]!r} has no issue link; link the issue it tracks",
                Severity.INFO,
            )
