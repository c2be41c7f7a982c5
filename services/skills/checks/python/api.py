"""backend-api and global-validation for Python web handlers (FastAPI, Flask, Starlette-style
routers): status codes, resource paths, response models, pagination, and request bodies
that reach the handler without a schema."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass

from services.skills.checks.base import Finding, Severity, SourceFile, check
from services.skills.checks.python.source import (
    FunctionNode,
    call_name,
    dotted_name,
    functions,
    imported_tops,
    keyword,
    nodes,
    string_value,
    walk_scope,
)

PY = ["python"]
HTTP_METHODS = {"get", "post", "put", "patch", "delete", "head", "options"}
WEB_FRAMEWORKS = {"fastapi", "flask", "starlette", "quart", "litestar", "sanic"}
# First words of a path segment that name an action: HTTP methods already say those.
PATH_VERBS = {
    "get", "fetch", "retrieve", "list", "create", "add", "make", "new", "update", "edit", "set",
    "save", "delete", "remove", "destroy", "insert", "modify", "change",
}  # fmt: skip
# POST endpoints that perform an action rather than create a resource answer 200.
ACTION_SEGMENTS = {"login", "logout", "token", "refresh", "verify", "search", "query"}
PAGINATION_PARAMETERS = {"limit", "page", "page_size", "per_page", "size", "cursor", "pagination", "params"}
LIST_TYPES = {"list", "List", "Sequence", "Iterable", "tuple", "set"}
UNTYPED = {"dict", "Dict", "Any", "object", "Mapping", "MutableMapping"}
# Flask request attributes that hold raw client input.
RAW_INPUT = {"json", "get_json", "form", "args", "values", "data", "get_data", "body"}
VALIDATING_CALLS = {
    "model_validate",
    "model_validate_json",
    "parse_obj",
    "parse_raw",
    "validate_python",
    "load",
}
WRITE_MODEL = re.compile(r"(Create|Update|Patch|In|Input|Request)$")
STRING_CONSTRAINTS = {"max_length", "pattern", "regex", "max_len"}


@dataclass(frozen=True)
class Route:
    """One route handler and the decorator that registers it."""

    function: FunctionNode
    decorator: ast.Call
    methods: tuple[str, ...]  # upper case; ("GET",) for a Flask route without methods=
    path: str
    framework: str


def routes(source: SourceFile) -> list[Route]:
    """Every route handler of the module: functions decorated with `@x.get("/path")`,
    `@x.route("/path", methods=[...])` and the like, in a module importing a framework."""
    return source.cached("python.routes", lambda: list(_find_routes(source)))


def _find_routes(source: SourceFile) -> Iterator[Route]:
    framework = next((top for top in sorted(imported_tops(source)) if top in WEB_FRAMEWORKS), "")
    if not framework:
        return
    for function in functions(source):
        for decorator in function.decorator_list:
            route = _route_decorator(decorator)
            if route is not None:
                call, verb, path = route
                yield Route(function, call, _methods(call, verb), path, framework)


def _route_decorator(decorator: ast.expr) -> tuple[ast.Call, str, str] | None:
    """(call, verb, path) of `@router.post("/items")` or `@app.route("/items", ...)`."""
    if not isinstance(decorator, ast.Call) or not isinstance(decorator.func, ast.Attribute):
        return None
    verb = decorator.func.attr
    path = string_value(decorator.args[0]) if decorator.args else string_value(keyword(decorator, "path"))
    if path is None or (verb not in HTTP_METHODS and verb not in ("route", "api_route")):
        return None
    return decorator, verb, path


def _methods(decorator: ast.Call, verb: str) -> tuple[str, ...]:
    if verb in HTTP_METHODS:
        return (verb.upper(),)
    listed = keyword(decorator, "methods")
    if isinstance(listed, ast.List | ast.Tuple | ast.Set):
        return tuple(m.upper() for m in (string_value(e) for e in listed.elts) if m)
    return ("GET",)


def _static_segments(path: str) -> list[str]:
    return [s for s in path.split("/") if s and not s.startswith(("{", "<"))]


def _words(segment: str) -> list[str]:
    """Words of a path segment: getUsers, get_users and get-users are get + users."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", segment)
    return [w.lower() for w in re.split(r"[-_.\s]+", spaced) if w]


def _annotation_names(annotation: ast.expr | None) -> set[str]:
    """Every name mentioned in an annotation (`list[Item] | None` -> list, Item, None)."""
    if annotation is None:
        return set()
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):  # "Item"
        try:
            annotation = ast.parse(annotation.value, mode="eval").body
        except SyntaxError:
            return set()
    return {
        dotted_name(n).rsplit(".", 1)[-1]
        for n in ast.walk(annotation)
        if isinstance(n, ast.Name | ast.Attribute)
    }


def _finding(
    source: SourceFile, skill: str, rule: str, route: Route, message: str, severity: Severity
) -> Finding:
    return source.finding(
        skill,
        rule,
        route.function.lineno,
        f"{'/'.join(route.methods)} {route.path or '/'} ({route.function.name}): {message}",
        severity,
    )


@check("backend-api", "post-status-code", PY)
def post_status_code(source: SourceFile) -> Iterator[Finding]:
    """POST routes without an explicit status_code (201 for a created resource)."""
    for route in routes(source):
        if (
            route.framework != "fastapi"
            or "POST" not in route.methods
            or keyword(route.decorator, "status_code")
        ):
            continue
        segments = _static_segments(route.path)
        if segments and segments[-1].lower() in ACTION_SEGMENTS:
            continue
        yield _finding(
            source,
            "backend-api",
            "post-status-code",
            route,
            "answers 200 by default; declare status_code=201 for a create (or the status it returns)",
            Severity.WARNING,
        )


@check("backend-api", "verb-in-path", PY)
def verb_in_path(source: SourceFile) -> Iterator[Finding]:
    """Route paths naming an action (/getUsers, /create_item) instead of a resource."""
    for route in routes(source):
        for segment in _static_segments(route.path):
            words = _words(segment)
            if words and words[0] in PATH_VERBS:
                yield _finding(
                    source,
                    "backend-api",
                    "verb-in-path",
                    route,
                    f"path segment {segment!r} is a verb; name the resource and let the HTTP method say the action",
                    Severity.WARNING,
                )
                break


@check("backend-api", "missing-response-model", PY)
def missing_response_model(source: SourceFile) -> Iterator[Finding]:
    """FastAPI handlers with neither response_model nor a typed return (or returning raw dicts)."""
    for route in routes(source):
        if (
            route.framework != "fastapi"
            or keyword(route.decorator, "response_model")
            or keyword(route.decorator, "response_class")
        ):
            continue
        returns = route.function.returns
        names = _annotation_names(returns)
        if returns is None:
            yield _finding(
                source,
                "backend-api",
                "missing-response-model",
                route,
                "declares no response_model and no return type",
                Severity.WARNING,
            )
        elif names and names <= UNTYPED | {"str", "None"} and names & UNTYPED:
            yield _finding(
                source,
                "backend-api",
                "missing-response-model",
                route,
                "returns a raw dict; declare a response model",
                Severity.WARNING,
            )


@check("backend-api", "unpaginated-list", PY)
def unpaginated_list(source: SourceFile) -> Iterator[Finding]:
    """GET endpoints returning a list without a limit/page parameter."""
    for route in routes(source):
        if "GET" not in route.methods:
            continue
        response = keyword(route.decorator, "response_model") or route.function.returns
        outer = response.value if isinstance(response, ast.Subscript) else None
        if outer is None or dotted_name(outer).rsplit(".", 1)[-1] not in LIST_TYPES:
            continue
        args = route.function.args
        parameters = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
        if not parameters & PAGINATION_PARAMETERS:
            yield _finding(
                source,
                "backend-api",
                "unpaginated-list",
                route,
                "returns a list without a limit parameter; paginate it with a bounded limit and an offset or cursor",
                Severity.WARNING,
            )


@check("global-validation", "unvalidated-body", PY)
def unvalidated_body(source: SourceFile) -> Iterator[Finding]:
    """Route handlers taking dict/Any bodies or reading the raw request without a schema."""
    for route in routes(source):
        function = route.function
        if _validates(function):
            continue
        for arg in [*function.args.args, *function.args.kwonlyargs]:
            names = _annotation_names(arg.annotation)
            if names & UNTYPED and "Depends" not in names:
                yield _finding(
                    source,
                    "global-validation",
                    "unvalidated-body",
                    route,
                    f"parameter {arg.arg} is an unvalidated {' | '.join(sorted(names & UNTYPED))}; declare a Pydantic model",
                    Severity.ERROR,
                )
        raw = _raw_input(function)
        if raw:
            yield _finding(
                source,
                "global-validation",
                "unvalidated-body",
                route,
                f"reads {raw} without validating it against a schema",
                Severity.ERROR,
            )


def _validates(function: FunctionNode) -> bool:
    """Does the handler validate what it read (Model.model_validate(...), schema.load(...))?"""
    return any(
        isinstance(node, ast.Call) and call_name(node).rsplit(".", 1)[-1] in VALIDATING_CALLS
        for node in walk_scope(function)
    )


def _raw_input(function: FunctionNode) -> str:
    """`request.json()`, `request.get_json()`, `request.form[...]`: raw input read in the body."""
    for node in walk_scope(function):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in RAW_INPUT
            and dotted_name(node.value) == "request"
        ):
            return f"request.{node.attr}"
    return ""


@check("global-validation", "unconstrained-string", PY)
def unconstrained_string(source: SourceFile) -> Iterator[Finding]:
    """str fields of Pydantic create/update models with no max_length or pattern."""
    if not {"pydantic", "sqlmodel"} & imported_tops(source):
        return
    for node in nodes(source, ast.ClassDef):
        if not WRITE_MODEL.search(node.name) or _config_limits_strings(node):
            continue
        for statement in node.body:
            if not isinstance(statement, ast.AnnAssign) or not isinstance(statement.target, ast.Name):
                continue
            if _is_plain_str(statement.annotation) and not _constrained(statement.value):
                yield source.finding(
                    "global-validation",
                    "unconstrained-string",
                    statement.lineno,
                    f"field {statement.target.id} of {node.name} accepts any string; "
                    "constrain it with Field(max_length=...) or a pattern",
                    Severity.WARNING,
                )


def _is_plain_str(annotation: ast.expr) -> bool:
    """`str`, `str | None` or `Optional[str]`: nothing in the type limits the value."""
    names = _annotation_names(annotation)
    return "str" in names and names <= {"str", "None", "Optional", "Union"}


def _constrained(value: ast.expr | None) -> bool:
    return isinstance(value, ast.Call) and any(k.arg in STRING_CONSTRAINTS for k in value.keywords)


def _config_limits_strings(node: ast.ClassDef) -> bool:
    """model_config = ConfigDict(str_max_length=...) bounds every string of the model."""
    return any(isinstance(n, ast.Call) and keyword(n, "str_max_length") is not None for n in ast.walk(node))
