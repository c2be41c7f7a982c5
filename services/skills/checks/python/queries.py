"""backend-queries for Python: SQL built from strings, SELECT *, and reads run once per
item of a loop (N+1).

SQL is "built" when an f-string, `%`, `.format()`, `+` or `.join()` puts a value that may
come from outside into text that reads as SQL, and the result reaches an executing call
(execute, text, raw, ...) directly or through a variable of the same scope. A value is
safe when the code fixes it: literals, UPPER_CASE constants, numbers from int()/len(), and
variables whose every binding in the scope is safe (a WHERE clause assembled from literal
fragments, a loop over a literal tuple of column names). That is decided as a greatest
fixed point, so `sql += " AND x = %s"` keeps `sql` safe.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from services.skills.checks.base import Finding, Severity, SourceFile, check
from services.skills.checks.python.source import (
    call_name,
    docstring_node,
    functions,
    nodes,
    parse_module,
    string_value,
    walk_scope,
)

SKILL = "backend-queries"
PY = ["python"]

SQL_TEXT = re.compile(
    r"\bselect\b[\s\S]+\bfrom\b|\binsert\s+into\b|\bupdate\s+\S+\s+set\b|\bdelete\s+from\b"
    r"|\b(create|drop|alter)\s+(table|index|view)\b|\bwhere\s+\S+\s*(=|<|>|\blike\b|\bin\b)",
    re.IGNORECASE,
)
SELECT_STAR = re.compile(r"\bselect\s+\*\s+from\b", re.IGNORECASE)
WRITE_CONSTRUCTS = {"insert", "update", "delete"}
WRITE_STATEMENT = re.compile(r"^\s*(insert|update|delete|merge|upsert)\b", re.IGNORECASE)
EXECUTING = {
    "execute", "executemany", "executescript", "exec_driver_sql", "text", "raw", "fetch", "fetchrow",
    "fetchval", "read_sql", "read_sql_query", "mogrify", "copy",
}  # fmt: skip
# Calls that send a read to the database (fetchone/fetchall only read a cursor's buffer).
QUERY_METHODS = {"execute", "scalar", "scalars", "get", "fetch", "fetchrow", "fetchval", "stream"}
DATABASE_HANDLES = re.compile(r"(^|_)(session|conn|connection|cursor|cur|db|database|pool)$")
CONSTANT_NAME = re.compile(r"^_?[A-Z][A-Z0-9_]*$")
# Builtins whose result cannot carry SQL: numbers and lengths.
NUMERIC_CALLS = {"int", "float", "len", "round", "abs", "min", "max", "bool"}
UNKNOWN: ast.expr = ast.Name(id="<unknown>", ctx=ast.Load())  # a binding of unknown origin


def _sql_parts(node: ast.expr) -> str:
    """The literal text of a string expression (f-string constant parts, both sides of
    `+` or `%`, the template of `.format()`), used to decide whether it reads as SQL."""
    if isinstance(node, ast.JoinedStr):
        return "".join(string_value(v) or " " for v in node.values)
    if isinstance(node, ast.BinOp):
        return f"{_sql_parts(node.left)} {_sql_parts(node.right)}"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return string_value(node.func.value) or ""
    return string_value(node) or ""


def _is_safe(node: ast.expr, safe: set[str]) -> bool:
    """Can `node` only hold text the code itself fixes?"""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Name):
        return node.id in safe or bool(CONSTANT_NAME.match(node.id))
    if isinstance(node, ast.Attribute):
        return bool(CONSTANT_NAME.match(node.attr))
    if isinstance(node, ast.FormattedValue):
        return _is_safe(node.value, safe)
    if isinstance(node, ast.IfExp):
        return _is_safe(node.body, safe) and _is_safe(node.orelse, safe)
    if isinstance(node, ast.BinOp):
        return _is_safe(node.left, safe) and _is_safe(node.right, safe)
    children = {
        ast.JoinedStr: lambda n: n.values,
        ast.BoolOp: lambda n: n.values,
        ast.List: lambda n: n.elts,
        ast.Tuple: lambda n: n.elts,
        ast.Set: lambda n: n.elts,
    }.get(type(node))
    if children is not None:
        return all(_is_safe(child, safe) for child in children(node))
    return isinstance(node, ast.Call) and _safe_call(node, safe)


def _safe_call(call: ast.Call, safe: set[str]) -> bool:
    """`", ".join(parts)` and `"...".format(x)` of safe parts, int(...) and friends."""
    arguments = [*call.args, *(k.value for k in call.keywords)]
    if isinstance(call.func, ast.Name):
        return call.func.id in NUMERIC_CALLS
    if isinstance(call.func, ast.Attribute) and call.func.attr in ("join", "format"):
        return _is_safe(call.func.value, safe) and all(_is_safe(a, safe) for a in arguments)
    return False


def _bindings(scope: ast.AST) -> dict[str, list[ast.expr]]:
    """Every value each name of the scope is bound to; UNKNOWN for parameters and for
    bindings the analysis does not follow (with ... as, :=, loops over computed values).
    Names bound in other ways (imports, except ... as) are absent, hence unsafe."""
    found: dict[str, list[ast.expr]] = {}

    def bind(target: ast.expr, value: ast.expr) -> None:
        if isinstance(target, ast.Name):
            found.setdefault(target.id, []).append(value)
        elif isinstance(target, ast.Tuple | ast.List):
            for i, element in enumerate(target.elts):
                bind(element, _unpacked(value, i, len(target.elts)))

    if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef):
        args = scope.args
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
            if arg is not None:
                found.setdefault(arg.arg, []).append(UNKNOWN)
    for node in walk_scope(scope):
        for target, value in _bound_by(node):
            bind(target, value)
    return found


def _unpacked(value: ast.expr, index: int, count: int) -> ast.expr:
    """The value the index-th name of `a, b = value` receives."""
    if isinstance(value, ast.Tuple | ast.List) and len(value.elts) == count:
        return value.elts[index]
    if isinstance(value, ast.Name) and CONSTANT_NAME.match(value.id):
        return value  # unpacking an item of a constant collection
    return UNKNOWN


def _bound_by(node: ast.AST) -> Iterator[tuple[ast.expr, ast.expr]]:
    """(target, value) pairs a statement or call binds."""
    if isinstance(node, ast.Assign):
        yield from ((target, node.value) for target in node.targets)
    elif isinstance(node, ast.AnnAssign | ast.AugAssign) and node.value is not None:
        yield node.target, node.value
    elif isinstance(node, ast.For | ast.AsyncFor | ast.comprehension):
        yield from ((node.target, item) for item in _iterated_items(node.iter))
    elif isinstance(node, ast.Call):
        yield from _added_items(node)
    elif isinstance(node, ast.withitem) and node.optional_vars is not None:
        yield node.optional_vars, UNKNOWN
    elif isinstance(node, ast.NamedExpr):
        yield node.target, UNKNOWN


def _iterated_items(iterable: ast.expr) -> list[ast.expr]:
    """What a loop variable takes from its iterable: the items of a literal, the constant
    itself for an UPPER_CASE collection (its items are constants too), else UNKNOWN."""
    if isinstance(iterable, ast.Tuple | ast.List | ast.Set):
        return list(iterable.elts)
    if isinstance(iterable, ast.Name) and CONSTANT_NAME.match(iterable.id):
        return [iterable]
    return [UNKNOWN]


def _added_items(call: ast.Call) -> Iterator[tuple[ast.expr, ast.expr]]:
    """`parts.append(x)` binds x into parts as far as its content is concerned."""
    func = call.func
    if not isinstance(func, ast.Attribute) or not isinstance(func.value, ast.Name) or not call.args:
        return
    if func.attr in ("append", "insert", "add"):
        yield func.value, call.args[-1]
    elif func.attr == "extend":
        yield func.value, call.args[0]


def _safe_names(bindings: dict[str, list[ast.expr]]) -> set[str]:
    """Names whose every binding is safe, as the greatest fixed point: start by trusting
    every name and drop those with an unsafe binding until nothing changes."""
    safe = set(bindings)
    changed = True
    while changed:
        unsafe = {name for name in safe if not all(_is_safe(v, safe) for v in bindings[name])}
        safe -= unsafe
        changed = bool(unsafe)
    return safe


def _is_building(node: ast.expr) -> bool:
    """An f-string, `+`/`%` expression, or `.format()` / `.join()` call: text assembled at
    run time."""
    if isinstance(node, ast.JoinedStr | ast.BinOp):
        return True
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("format", "join")
    )


def _builds_sql(node: ast.expr, safe: set[str]) -> bool:
    """Is `node` a string-building expression that puts unsafe values into SQL text?"""
    return _is_building(node) and bool(SQL_TEXT.search(_sql_parts(node))) and not _is_safe(node, safe)


@check(SKILL, "sql-string-building", PY)
def sql_string_building(source: SourceFile) -> Iterator[Finding]:
    """SQL built with f-strings, %, .format() or + and then executed."""
    if not SQL_TEXT.search(source.content):
        return  # no SQL text anywhere: nothing to build
    for scope in [parse_module(source), *functions(source)]:
        executing = [n for n in walk_scope(scope) if isinstance(n, ast.Call) and _executes(n)]
        if not executing:
            continue
        bindings = _bindings(scope)
        safe = _safe_names(bindings)
        for call in executing:
            how = _how_built(call.args[0], bindings, safe)
            if how:
                yield _built(source, call, how)


def _how_built(query: ast.expr, bindings: dict[str, list[ast.expr]], safe: set[str]) -> str:
    """How the SQL reaching an executing call was built from unsafe values, "" if it was not."""
    if _builds_sql(query, safe):
        return "is built by string formatting"
    if not isinstance(query, ast.Name):
        return ""
    values = bindings.get(query.id, [])
    # A variable holding SQL text that some binding extends with unsafe values
    # (`sql = "SELECT ..."` then `sql += f" AND name = '{name}'"`).
    if any(SQL_TEXT.search(_sql_parts(value)) for value in values):
        unsafe = [value for value in values if _is_building(value) and not _is_safe(value, safe)]
        if unsafe:
            return f"{query.id} is built by string formatting (line {unsafe[0].lineno})"
    return ""


def _executes(call: ast.Call) -> bool:
    """Does the call run (or wrap) SQL given as its first argument?"""
    return bool(call.args) and call_name(call).rsplit(".", 1)[-1] in EXECUTING


def _built(source: SourceFile, call: ast.Call, how: str) -> Finding:
    return source.finding(
        SKILL,
        "sql-string-building",
        call.lineno,
        f"SQL passed to {call_name(call)}() {how}; use bound parameters "
        "(or psycopg.sql / SQLAlchemy expressions for identifiers)",
    )


@check(SKILL, "select-star", PY)
def select_star(source: SourceFile) -> Iterator[Finding]:
    """SELECT * in SQL text: select only the columns you need."""
    if source.is_test or not SELECT_STAR.search(source.content):
        return  # a test may read whole rows to check what the code wrote
    documented = [parse_module(source), *nodes(source, ast.ClassDef), *functions(source)]
    docstrings = {id(d) for d in map(docstring_node, documented) if d is not None}
    lines: set[int] = set()
    for node in nodes(source, ast.Constant):
        text = node.value if isinstance(node.value, str) and id(node) not in docstrings else ""
        if SELECT_STAR.search(text) and node.lineno not in lines:
            lines.add(node.lineno)
            yield source.finding(
                SKILL,
                "select-star",
                node.lineno,
                "SELECT * fetches every column; name the columns the code uses",
                Severity.WARNING,
            )


@check(SKILL, "query-in-loop", PY)
def query_in_loop(source: SourceFile) -> Iterator[Finding]:
    """A read run once per item of a for loop (N+1); load the rows with one query."""
    reported: set[int] = set()
    for loop in nodes(source, ast.For, ast.AsyncFor):
        if call_name(loop.iter) == "range":
            continue  # range() loops are retries and batches, not one query per row
        for call in _reads(loop.body):
            if id(call) not in reported:
                reported.add(id(call))
                yield source.finding(
                    SKILL,
                    "query-in-loop",
                    call.lineno,
                    f"{call_name(call)}() runs once per iteration of the loop at line {loop.lineno} (N+1); "
                    "load the rows with one query (IN, a join or selectinload)",
                    Severity.WARNING,
                )


def _reads(body: list[ast.stmt]) -> Iterator[ast.Call]:
    """Database reads in a loop body: session/connection/cursor calls that query."""
    for node in (n for statement in body for n in [statement, *walk_scope(statement)]):
        if not isinstance(node, ast.Call) or _is_write(node):
            continue
        receiver, _, method = call_name(node).rpartition(".")
        if method in QUERY_METHODS and DATABASE_HANDLES.search(receiver.rsplit(".", 1)[-1]):
            yield node


def _is_write(call: ast.Call) -> bool:
    """Does the call run an INSERT/UPDATE/DELETE (SQL text or SQLAlchemy insert())? One write
    per row is a batching question, not an N+1 read."""
    if not call.args:
        return False
    statement = call.args[0]
    return bool(WRITE_STATEMENT.match(_sql_parts(statement))) or bool(
        WRITE_CONSTRUCTS & set(call_name(statement).split("."))
    )
