"""global-conventions for Python: PEP 8 naming, logging instead of print, and no credentials
written into the code."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from services.skills.checks.base import Finding, Severity, SourceFile, check
from services.skills.checks.python.source import (
    base_names,
    dotted_name,
    functions,
    imported_tops,
    is_script,
    nodes,
    parse_module,
    string_value,
)

SKILL = "global-conventions"
PY = ["python"]

SNAKE_CASE = re.compile(r"^_{0,2}[a-z][a-z0-9_]*$|^__[a-z][a-z0-9_]*__$")
PASCAL_CASE = re.compile(r"^_*[A-Z][A-Za-z0-9]*$")
# camelCase: a lower-case letter directly followed by an upper-case one, not ALL_CAPS.
MIXED_CASE = re.compile(r"^_*[a-z][a-z0-9]*[A-Z]")
# Names whose spelling a framework fixes: unittest hooks, ast/docutils visitor methods.
FRAMEWORK_NAMES = re.compile(
    r"^(setUp|tearDown|setUpClass|tearDownClass|setUpModule|tearDownModule|asyncSetUp|asyncTearDown"
    r"|setUpTestData)$|^(visit|depart|leave|generic_visit)_"
)
CLI_FRAMEWORKS = {"typer", "click", "argparse", "rich"}
# gRPC generated servicer bases: their methods carry the RPC names (GetUser).
GENERATED_BASES = ("Servicer",)
# The name ends with the secret word: db_password, API_KEY, jwt_secret, access_token; not
# password_hash, token_type or TOKEN_URL, which name something else.
SECRET_NAME = re.compile(
    r"(^|_)(password|passwd|pwd|secret|secret_key|api_key|apikey|token|access_key|private_key|client_secret)$",
    re.IGNORECASE,
)
MIN_SECRET_LENGTH = 8
URL_WITH_PASSWORD = re.compile(r"^[a-z][a-z0-9+.-]*://[^/\s:@]+:(?P<password>[^/\s@]+)@", re.IGNORECASE)
# `user:password@host` in a description or example is a template, not a credential.
PLACEHOLDER_PASSWORDS = {"password", "pass", "passwd", "secret", "changeme", "xxx", "pwd"}


@check(SKILL, "naming", PY)
def naming(source: SourceFile) -> Iterator[Finding]:
    """Functions, arguments and variables in snake_case, classes in PascalCase."""
    for node in nodes(source, ast.ClassDef):
        if not PASCAL_CASE.match(node.name):
            yield _naming(source, node.lineno, f"class {node.name} is not PascalCase")
    imposed = _imposed_method_names(source)
    for function in functions(source):
        if not SNAKE_CASE.match(function.name) and id(function) not in imposed:
            yield _naming(source, function.lineno, f"function {function.name} is not snake_case")
        args = function.args
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
            if arg is not None and MIXED_CASE.match(arg.arg):
                yield _naming(source, arg.lineno, f"argument {arg.arg} of {function.name} is not snake_case")
    seen: set[str] = set()
    for name in nodes(source, ast.Name):
        if isinstance(name.ctx, ast.Store) and MIXED_CASE.match(name.id) and name.id not in seen:
            seen.add(name.id)
            yield _naming(source, name.lineno, f"variable {name.id} is not snake_case")


def _imposed_method_names(source: SourceFile) -> set[int]:
    """Functions whose name someone else chose: unittest hooks, visitor methods, @override,
    and the methods of gRPC servicers (named after the RPCs of the generated base class)."""
    imposed = {
        id(f)
        for f in functions(source)
        if FRAMEWORK_NAMES.match(f.name) or any(dotted_name(d).endswith("override") for d in f.decorator_list)
    }
    for node in nodes(source, ast.ClassDef):
        if any(base.endswith(GENERATED_BASES) for base in base_names(node)):
            imposed.update(id(m) for m in node.body if isinstance(m, ast.FunctionDef | ast.AsyncFunctionDef))
    return imposed


def _naming(source: SourceFile, line: int, message: str) -> Finding:
    return source.finding(SKILL, "naming", line, message, Severity.WARNING)


@check(SKILL, "print-call", PY)
def print_call(source: SourceFile) -> Iterator[Finding]:
    """print() in library code instead of the project's logger."""
    # The terminal is the output of scripts and CLI modules (rich's print included).
    if source.is_test or is_script(source, parse_module(source)) or CLI_FRAMEWORKS & imported_tops(source):
        return
    for node in nodes(source, ast.Call):
        if isinstance(node.func, ast.Name) and node.func.id == "print":
            yield source.finding(
                SKILL,
                "print-call",
                node.lineno,
                "print() in library code; log through the project's logger with structured fields",
                Severity.WARNING,
            )


@check(SKILL, "hardcoded-credential", PY)
def hardcoded_credential(source: SourceFile) -> Iterator[Finding]:
    """Passwords, secrets, keys and tokens written into the code."""
    if source.is_test or source.name == "conftest.py":  # test credentials guard nothing
        return
    for name, value, line in _named_values(source):
        if SECRET_NAME.search(name) and _looks_like_secret(string_value(value)):
            yield source.finding(
                SKILL,
                "hardcoded-credential",
                line,
                f"{name} is set to a literal secret; read it from the environment or a settings object",
            )
    for node in nodes(source, ast.Constant):
        url = URL_WITH_PASSWORD.match(node.value) if isinstance(node.value, str) else None
        if url and not _is_placeholder(url.group("password")):
            yield source.finding(
                SKILL,
                "hardcoded-credential",
                node.lineno,
                f"URL {url.group(0)}... embeds a password; read it from the environment",
            )


def _looks_like_secret(value: str | None) -> bool:
    """A literal long enough to be a real secret; messages (with spaces) are not."""
    return (
        value is not None
        and len(value) >= MIN_SECRET_LENGTH
        and not any(c.isspace() for c in value)
        and not _is_placeholder(value)
    )


def _is_placeholder(value: str) -> bool:
    """Environment references (`${DB_PASSWORD}`), templates (`<password>`), masks (`****`)
    and the word password itself stand for a secret without being one."""
    return (
        value.startswith(("$", "{", "<")) or value.strip("*x") == "" or value.lower() in PLACEHOLDER_PASSWORDS
    )


def _named_values(source: SourceFile) -> Iterator[tuple[str, ast.expr, int]]:
    """(name, value, line) for assignments, keyword arguments, dict entries and argument
    defaults: every place a literal gets a name."""
    for assign in nodes(source, ast.Assign):
        yield from ((_target_name(t), assign.value, assign.lineno) for t in assign.targets)
    for annotated in nodes(source, ast.AnnAssign):
        if annotated.value is not None:
            yield _target_name(annotated.target), annotated.value, annotated.lineno
    for call in nodes(source, ast.Call):
        yield from ((k.arg, k.value, k.value.lineno) for k in call.keywords if k.arg)
    for mapping in nodes(source, ast.Dict):
        for key, value in zip(mapping.keys, mapping.values, strict=True):
            yield string_value(key) or "", value, value.lineno
    for function in functions(source):
        args = function.args
        positional = [*args.posonlyargs, *args.args]
        with_defaults = zip(positional[len(positional) - len(args.defaults) :], args.defaults, strict=True)
        keyword_defaults = zip(args.kwonlyargs, args.kw_defaults, strict=True)
        for arg, default in [*with_defaults, *keyword_defaults]:
            if default is not None:
                yield arg.arg, default, default.lineno


def _target_name(target: ast.expr) -> str:
    if isinstance(target, ast.Name):
        return target.id
    return target.attr if isinstance(target, ast.Attribute) else ""
