"""TypeScript/JavaScript checks of error handling, coding style and conventions."""

from __future__ import annotations

import re
from collections.abc import Iterator

from tree_sitter import Node

from services.skills.checks.base import Finding, Severity, SourceFile, check
from services.skills.checks.web.syntax import (
    FUNCTION_TYPES,
    FUNCTION_VALUES,
    call_path,
    function_name,
    is_pascal_case,
    is_test_file,
    returned_expressions,
    returns_jsx,
    string_value,
)
from services.skills.checks.web.trees import SCRIPT_LANGUAGES, ancestors, line, line_count, parse, text

MAX_FUNCTION_LINES = 50
MAX_FUNCTION_LINES_ERROR = 100
MAX_NESTING = 3
CONTROL_TYPES = (
    "if_statement",
    "for_statement",
    "for_in_statement",
    "while_statement",
    "do_statement",
    "switch_statement",
    "try_statement",
)
# Thrown values that cannot be an Error: no stack trace, no `instanceof Error`.
LITERAL_TYPES = frozenset(
    {"string", "template_string", "number", "object", "array", "true", "false", "null", "undefined"}
)
# Callbacks of these are whole test suites, long by nature.
SUITE_FUNCTIONS = frozenset({"describe", "context", "suite", "fdescribe", "xdescribe"})
PRINT_METHODS = frozenset({"log", "debug", "info", "trace", "dir", "table"})
CAMEL_CASE = re.compile(r"^[_$]*[a-z][A-Za-z0-9$]*$")
# Frameworks that require upper-case names: Next.js route handlers export GET, POST, ...
HTTP_METHOD_NAMES = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
CREDENTIAL_WORDS = frozenset({"password", "passwd", "pwd", "passphrase", "secret", "token", "apikey"})
CREDENTIAL_KEY_PREFIXES = frozenset({"api", "private", "access", "secret", "signing", "encryption"})
NAME_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
# (node type, field holding the name, field holding the value) of assignments of a value to a name.
ASSIGNMENTS = {
    "variable_declarator": ("name", "value"),
    "assignment_expression": ("left", "right"),
    "pair": ("key", "value"),
    "public_field_definition": ("name", "value"),
    "field_definition": ("property", "value"),
}


def _statements(block: Node) -> list[Node]:
    return [c for c in block.named_children if c.type != "comment"]


def _is_console_call(statement: Node) -> bool:
    if statement.type != "expression_statement" or not statement.named_children:
        return False
    call = statement.named_children[0]
    return call.type == "call_expression" and call_path(call)[:1] == ["console"]


# --- global-error-handling ---------------------------------------------------------------------


@check("global-error-handling", "swallowed-exception", SCRIPT_LANGUAGES)
def swallowed_exception(source: SourceFile) -> Iterator[Finding]:
    """A catch block without a statement silently swallows the error."""
    for clause in parse(source).find("catch_clause"):
        block = clause.child_by_field_name("body")
        if block is not None and not _statements(block):
            yield source.finding(
                "global-error-handling",
                "swallowed-exception",
                line(clause),
                "empty catch block swallows the error; handle it or rethrow it with context",
            )


@check("global-error-handling", "log-only-catch", SCRIPT_LANGUAGES)
def log_only_catch(source: SourceFile) -> Iterator[Finding]:
    """A catch block that only logs to the console and carries on as if nothing failed."""
    for clause in parse(source).find("catch_clause"):
        block = clause.child_by_field_name("body")
        statements = _statements(block) if block is not None else []
        if statements and all(_is_console_call(s) for s in statements):
            yield source.finding(
                "global-error-handling",
                "log-only-catch",
                line(clause),
                "catch block only logs the error to the console; rethrow it or handle it",
                Severity.WARNING,
            )


def _is_empty_function(node: Node) -> bool:
    if node.type not in ("arrow_function", "function_expression"):
        return False
    block = node.child_by_field_name("body")
    if block is None:
        return False
    if block.type == "statement_block":
        return not _statements(block)
    return block.type in ("null", "undefined")


@check("global-error-handling", "empty-promise-catch", SCRIPT_LANGUAGES)
def empty_promise_catch(source: SourceFile) -> Iterator[Finding]:
    """`.catch(() => {})` silently swallows a rejected promise."""
    for call in parse(source).find("call_expression"):
        callee = call.child_by_field_name("function")
        method = callee.child_by_field_name("property") if callee is not None else None
        if method is None or text(method) != "catch":
            continue
        arguments = call.child_by_field_name("arguments")
        handlers = arguments.named_children if arguments is not None else []
        if handlers and _is_empty_function(handlers[0]):
            yield source.finding(
                "global-error-handling",
                "empty-promise-catch",
                line(method),  # the .catch line, not the start of a long promise chain
                ".catch() with an empty handler swallows the rejection; handle or propagate it",
            )


@check("global-error-handling", "throw-literal", SCRIPT_LANGUAGES)
def throw_literal(source: SourceFile) -> Iterator[Finding]:
    """`throw "message"`: a thrown literal is not an Error and carries no stack trace."""
    for statement in parse(source).find("throw_statement"):
        values = [c for c in statement.named_children if c.type != "comment"]
        if values and values[0].type in LITERAL_TYPES:
            kind = values[0].type.replace("_", " ")
            yield source.finding(
                "global-error-handling",
                "throw-literal",
                line(statement),
                f"throws a {kind} instead of an Error; throw new Error(...) or a domain error class",
            )


# --- global-coding-style -----------------------------------------------------------------------


def _is_suite_callback(fn: Node) -> bool:
    holder = fn.parent
    if holder is None or holder.type != "arguments" or holder.parent is None:
        return False
    return bool(SUITE_FUNCTIONS.intersection(call_path(holder.parent)))


def _describe_function(fn: Node) -> str:
    name = function_name(fn)
    return f"function {name}" if name else "anonymous function"


@check("global-coding-style", "long-function", SCRIPT_LANGUAGES)
def long_function(source: SourceFile) -> Iterator[Finding]:
    """A function longer than 50 lines (an error above 100).

    Components are left to frontend-components; describe() suites are exempt."""
    for fn in parse(source).find(*FUNCTION_TYPES):
        lines = line_count(fn)
        if lines <= MAX_FUNCTION_LINES or returns_jsx(fn) or _is_suite_callback(fn):
            continue
        severity = Severity.ERROR if lines > MAX_FUNCTION_LINES_ERROR else Severity.WARNING
        yield source.finding(
            "global-coding-style",
            "long-function",
            line(fn),
            f"{_describe_function(fn)} is {lines} lines long (limit {MAX_FUNCTION_LINES}); "
            "split it into named helpers",
            severity,
        )


@check("global-coding-style", "var-declaration", SCRIPT_LANGUAGES)
def var_declaration(source: SourceFile) -> Iterator[Finding]:
    """A `var` declaration: function-scoped and hoisted; use const or let."""
    for declaration in parse(source).find("variable_declaration"):
        names = ", ".join(
            text(d.child_by_field_name("name"))
            for d in declaration.named_children
            if d.type == "variable_declarator"
        )
        yield source.finding(
            "global-coding-style",
            "var-declaration",
            line(declaration),
            f"var declaration of {names}; use const, or let when it is reassigned",
            Severity.WARNING,
        )


def _level(node: Node) -> int:
    """An `else if` continues its if statement: it adds no nesting level."""
    parent = node.parent
    return 0 if node.type == "if_statement" and parent is not None and parent.type == "else_clause" else 1


def _nesting(node: Node) -> int:
    depth = _level(node)
    for above in ancestors(node):
        if above.type in FUNCTION_TYPES:
            break
        if above.type in CONTROL_TYPES:
            depth += _level(above)
    return depth


@check("global-coding-style", "deep-nesting", SCRIPT_LANGUAGES)
def deep_nesting(source: SourceFile) -> Iterator[Finding]:
    """Control flow nested deeper than three levels in one function; return early instead."""
    for node in parse(source).find(*CONTROL_TYPES):
        depth = _nesting(node)
        # Only the statement that crosses the limit, not every statement inside it.
        if depth > MAX_NESTING and depth - _level(node) <= MAX_NESTING:
            kind = node.type.removesuffix("_statement").replace("_in", "")
            yield source.finding(
                "global-coding-style",
                "deep-nesting",
                line(node),
                f"{kind} statement nested {depth} levels deep (limit {MAX_NESTING}); "
                "return early or extract a helper",
                Severity.WARNING,
            )


@check("global-coding-style", "loose-equality", SCRIPT_LANGUAGES)
def loose_equality(source: SourceFile) -> Iterator[Finding]:
    """`==` or `!=` (type-coercing) instead of `===` / `!==`; `x == null` is allowed."""
    for node in parse(source).find("binary_expression"):
        operator = text(node.child_by_field_name("operator"))
        if operator not in ("==", "!="):
            continue
        sides = (node.child_by_field_name("left"), node.child_by_field_name("right"))
        if any(side is not None and side.type == "null" for side in sides):
            continue  # the idiom that matches both null and undefined
        yield source.finding(
            "global-coding-style",
            "loose-equality",
            line(node),
            f"{operator} compares with type coercion; use {operator}=",
            Severity.WARNING,
        )


# --- global-conventions ------------------------------------------------------------------------


@check("global-conventions", "console-log", SCRIPT_LANGUAGES)
def console_log(source: SourceFile) -> Iterator[Finding]:
    """console.log (and debug/info/trace) in non-test code instead of the project's logger."""
    if is_test_file(source):
        return
    for call in parse(source).find("call_expression"):
        path = call_path(call)
        if len(path) == 2 and path[0] == "console" and path[1] in PRINT_METHODS:
            yield source.finding(
                "global-conventions",
                "console-log",
                line(call),
                f"console.{path[1]} in non-test code; log through the project's logger",
                Severity.WARNING,
            )


def _returns_function(fn: Node) -> bool:
    return any(value.type in FUNCTION_VALUES for value in returned_expressions(fn))


@check("global-conventions", "naming", SCRIPT_LANGUAGES)
def naming(source: SourceFile) -> Iterator[Finding]:
    """A function not named in camelCase (PascalCase only for components and factories).

    PascalCase is accepted for functions returning JSX or a function (HOCs, decorator
    factories), and upper-case HTTP method names for route handlers (Next.js)."""
    for fn in parse(source).find(*FUNCTION_TYPES):
        name = function_name(fn)
        if not name or name == "constructor" or CAMEL_CASE.match(name) or name in HTTP_METHOD_NAMES:
            continue
        if is_pascal_case(name) and (returns_jsx(fn) or _returns_function(fn)):
            continue
        yield source.finding(
            "global-conventions",
            "naming",
            line(fn),
            f"function {name} is not camelCase (PascalCase only for components)",
            Severity.WARNING,
        )


def _is_credential_name(name: str) -> bool:
    words = [w.lower() for w in NAME_WORDS.findall(name)]
    if not words:
        return False
    if words[-1] in CREDENTIAL_WORDS:
        return True
    return len(words) > 1 and words[-1] == "key" and words[-2] in CREDENTIAL_KEY_PREFIXES


def _looks_like_secret(value: str, name: str) -> bool:
    """A literal that could be a real secret: not empty, not prose or a placeholder, not
    the field's own name (`{ password: "password" }` names a form field)."""
    if not value or any(c.isspace() for c in value) or value.startswith(("<", "${", "%", "{")):
        return False
    plain = re.sub(r"[^a-z0-9]", "", value.lower())
    return plain not in CREDENTIAL_WORDS and plain != re.sub(r"[^a-z0-9]", "", name.lower())


@check("global-conventions", "hardcoded-credential", SCRIPT_LANGUAGES)
def hardcoded_credential(source: SourceFile) -> Iterator[Finding]:
    """A string literal assigned to a password, secret, token or API key name."""
    if is_test_file(source):
        return  # test fixtures are fake credentials by design
    for node in parse(source).find(*ASSIGNMENTS):
        name_field, value_field = ASSIGNMENTS[node.type]
        target, value = node.child_by_field_name(name_field), node.child_by_field_name(value_field)
        if target is None or value is None:
            continue
        if target.type == "member_expression":
            target = target.child_by_field_name("property")
        name = string_value(target) if target is not None and target.type == "string" else text(target)
        literal = string_value(value)
        if name and literal is not None and _is_credential_name(name) and _looks_like_secret(literal, name):
            yield source.finding(
                "global-conventions",
                "hardcoded-credential",
                line(value),
                f"hard-coded credential in {name}; read it from the environment or a secret store",
            )
