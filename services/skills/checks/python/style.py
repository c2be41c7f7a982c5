"""global-coding-style for Python: long functions, deep nesting, mutable module-level state,
and ruff's unused imports, unused variables and undefined names."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from services.skills.checks.base import Finding, Severity, SourceFile, check
from services.skills.checks.python.source import (
    FunctionNode,
    functions,
    is_docstring,
    nodes,
    parse_module,
    ruff_diagnostics,
    walk_scope,
)

SKILL = "global-coding-style"
PY = ["python"]

# The guideline says "under 50 lines"; twice that is no longer a style question.
MAX_FUNCTION_LINES = 50
ERROR_FUNCTION_LINES = 100
MAX_NESTING = 3

MUTABLE_FACTORIES = {"list", "dict", "set", "defaultdict", "deque", "Counter", "OrderedDict", "bytearray"}
MUTATING_METHODS = {
    "append", "extend", "insert", "remove", "pop", "popitem", "clear", "add", "discard",
    "update", "setdefault", "appendleft", "extendleft", "popleft", "sort", "reverse",
}  # fmt: skip
BLOCKS = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try, ast.Match)
# ast.TryStar exists from 3.11 on, which is the floor of this project.
TRY_NODES = (ast.Try, ast.TryStar)


@check(SKILL, "long-function", PY)
def long_function(source: SourceFile) -> Iterator[Finding]:
    """Functions longer than 50 lines of code (over 100 is an error)."""
    for function in functions(source):
        length = code_lines(source, function)
        if length > MAX_FUNCTION_LINES:
            severity = Severity.ERROR if length > ERROR_FUNCTION_LINES else Severity.WARNING
            yield source.finding(
                SKILL,
                "long-function",
                function.lineno,
                f"function {function.name} has {length} lines of code (limit {MAX_FUNCTION_LINES}); "
                "split it into named helpers",
                severity,
            )


def code_lines(source: SourceFile, function: FunctionNode) -> int:
    """Lines of the body that hold code: not the docstring, blank lines or comment lines."""
    body = function.body[1:] if is_docstring(function.body[0]) and len(function.body) > 1 else function.body
    first, last = body[0].lineno, function.end_lineno or body[-1].lineno
    lines = source.lines[first - 1 : last]
    return sum(1 for line in lines if line.strip() and not line.lstrip().startswith("#"))


@check(SKILL, "deep-nesting", PY)
def deep_nesting(source: SourceFile) -> Iterator[Finding]:
    """Blocks nested more than three levels deep inside a function."""
    for function in functions(source):
        deepest = max(_block_depths(function.body, 0), default=None, key=lambda d: d[0])
        if deepest and deepest[0] > MAX_NESTING:
            depth, line = deepest
            yield source.finding(
                SKILL,
                "deep-nesting",
                line,
                f"function {function.name} nests blocks {depth} levels deep (limit {MAX_NESTING}); "
                "return early or extract a helper",
                Severity.WARNING,
            )


def _block_depths(body: list[ast.stmt], depth: int) -> Iterator[tuple[int, int]]:
    """(depth, line) of every block statement. An `elif` counts at the depth of its `if`,
    and nested functions are measured on their own."""
    for statement in body:
        if not isinstance(statement, BLOCKS + TRY_NODES):
            continue
        level = depth + 1
        yield level, statement.lineno
        if isinstance(statement, ast.Match):
            for case in statement.cases:
                yield from _block_depths(case.body, level)
            continue
        yield from _block_depths(statement.body, level)
        orelse = getattr(statement, "orelse", [])
        is_elif = isinstance(statement, ast.If) and len(orelse) == 1 and isinstance(orelse[0], ast.If)
        yield from _block_depths(orelse, depth if is_elif else level)
        if isinstance(statement, TRY_NODES):
            for handler in statement.handlers:
                yield from _block_depths(handler.body, level)
            yield from _block_depths(statement.finalbody, level)


@check(SKILL, "mutable-global-state", PY)
def mutable_global_state(source: SourceFile) -> Iterator[Finding]:
    """Module-level containers mutated by functions, and `global` rebinding."""
    for function, statement in _global_statements(source):
        for name in statement.names:
            yield source.finding(
                SKILL,
                "mutable-global-state",
                statement.lineno,
                f"function {function.name} rebinds module-level {name} with `global`; "
                "hold the state in an object that is passed in",
                Severity.WARNING,
            )
    containers = _module_containers(parse_module(source))
    reported: set[str] = set()
    for function, name, line in _mutations(source) if containers else ():
        if name in containers and name not in reported:
            reported.add(name)
            yield source.finding(
                SKILL,
                "mutable-global-state",
                containers[name],
                f"module-level {name} is mutated by function {function.name} (line {line}); "
                "hold the state in an object with a clear owner",
                Severity.WARNING,
            )


def _global_statements(source: SourceFile) -> Iterator[tuple[FunctionNode, ast.Global]]:
    if not nodes(source, ast.Global):
        return
    for function in functions(source):
        for node in walk_scope(function):
            if isinstance(node, ast.Global):
                yield function, node


def _mutations(source: SourceFile) -> Iterator[tuple[FunctionNode, str, int]]:
    """(function, name, line) of every in-place mutation of a name the function does not
    bind itself (so the name is the module's)."""
    for function in functions(source):
        local = _locally_bound(function)
        for node in walk_scope(function):
            name = _mutated_name(node)
            if name and name not in local:
                yield function, name, getattr(node, "lineno", function.lineno)


def _module_containers(tree: ast.Module) -> dict[str, int]:
    """Module-level names bound to a new mutable container -> line of the binding."""
    found: dict[str, int] = {}
    for statement in tree.body:
        if isinstance(statement, ast.Assign):
            targets, value = statement.targets, statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            targets, value = [statement.target], statement.value
        else:
            continue
        if not _is_mutable_container(value):
            continue
        for target in targets:
            if isinstance(target, ast.Name) and target.id != "__all__":
                found[target.id] = statement.lineno
    return found


def _is_mutable_container(value: ast.expr) -> bool:
    if isinstance(value, ast.List | ast.Dict | ast.Set | ast.ListComp | ast.DictComp | ast.SetComp):
        return True
    if isinstance(value, ast.Call):
        func = value.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        return name in MUTABLE_FACTORIES
    return False


def _locally_bound(function: FunctionNode) -> set[str]:
    """Parameters and names the function assigns: those shadow the module-level ones."""
    args = function.args
    names = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
    names |= {a.arg for a in (args.vararg, args.kwarg) if a}
    for node in walk_scope(function):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def _mutated_name(node: ast.AST) -> str:
    """The name a statement or call mutates in place (`x.append()`, `x[k] = v`, `del x[k]`)."""
    func = node.func if isinstance(node, ast.Call) else None
    if isinstance(func, ast.Attribute) and func.attr in MUTATING_METHODS and isinstance(func.value, ast.Name):
        return func.value.id
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign | ast.Delete):
        targets = node.targets
    elif isinstance(node, ast.AugAssign):
        targets = [node.target]
    for target in targets:
        if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
            return target.value.id
    return ""


def _ruff_rule(source: SourceFile, code: str, rule: str, severity: Severity) -> Iterator[Finding]:
    """The diagnostics of one ruff rule; fixable when ruff has a safe fix, which is the only
    kind the fixer applies (an unused import in `__init__.py` may be a re-export: unsafe)."""
    for diagnostic in ruff_diagnostics(source):
        if diagnostic.code == code:
            fixable = diagnostic.fix_applicability == "safe"
            yield source.finding(
                SKILL, rule, diagnostic.line, f"{diagnostic.message} ({code})", severity, fixable
            )


@check(SKILL, "unused-import", PY)
def unused_import(source: SourceFile) -> Iterator[Finding]:
    """Imports that nothing uses (ruff F401)."""
    yield from _ruff_rule(source, "F401", "unused-import", Severity.WARNING)


@check(SKILL, "unused-variable", PY)
def unused_variable(source: SourceFile) -> Iterator[Finding]:
    """Local variables assigned and never read (ruff F841)."""
    yield from _ruff_rule(source, "F841", "unused-variable", Severity.WARNING)


@check(SKILL, "undefined-name", PY)
def undefined_name(source: SourceFile) -> Iterator[Finding]:
    """Names used but never defined or imported (ruff F821)."""
    yield from _ruff_rule(source, "F821", "undefined-name", Severity.ERROR)
