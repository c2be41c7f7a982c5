"""TypeScript/JavaScript checks of server code: request bodies validated before use
(global-validation); SQL never built from strings, no SELECT * and no query per loop item
(backend-queries)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from tree_sitter import Node

from services.skills.checks.base import Finding, Severity, SourceFile, check
from services.skills.checks.web.syntax import (
    FUNCTION_TYPES,
    body,
    call_arguments,
    call_path,
    enclosing_function,
    function_name,
    parameter_name,
    parameters,
    string_value,
)
from services.skills.checks.web.trees import SCRIPT_LANGUAGES, ancestors, descendants, line, parse, text

# The request object of Express/Next.js (req, request) and Koa (ctx.request): expression
# whose `.body` is the raw body -> the handler parameter it comes from.
REQUEST_OBJECTS = {"req": "req", "request": "request", "ctx.request": "ctx"}
BODY_READER_METHODS = frozenset({"json", "formData", "text"})  # fetch-style Request bodies
# Validator entry points (with any validate*): zod, valibot, joi, yup, class-validator, ajv.
VALIDATOR_METHODS = frozenset(
    {
        "parse",
        "safeParse",
        "parseAsync",
        "safeParseAsync",
        "attempt",
        "isValid",
        "isValidSync",
        "plainToInstance",
        "plainToClass",
    }
)
NOT_VALIDATORS = frozenset({"JSON", "Number", "Date", "Math", "URL", "path", "qs"})
MIDDLEWARE_VALIDATOR = re.compile(r"valid|celebrate|schema", re.IGNORECASE)

QUERY_METHODS = frozenset(
    {
        "query",
        "execute",
        "raw",
        "whereRaw",
        "orderByRaw",
        "havingRaw",
        "joinRaw",
        "unsafe",
        "$queryRawUnsafe",
        "$executeRawUnsafe",
    }
)
# Query builders whose tagged template binds its values: never string building.
TAGGED_QUERIES = frozenset({"sql", "$queryRaw", "$executeRaw"})
# ORM reads (Prisma, TypeORM, Sequelize, Mongoose) that are queries without SQL text.
ORM_READS = frozenset(
    {"findOne", "findOneBy", "findUnique", "findFirst", "findMany", "findById", "findByPk", "findAll"}
)
QUERY_FRAGMENTS = frozenset({"whereRaw", "orderByRaw", "havingRaw", "joinRaw"})  # fragments, not queries
LOOP_TYPES = frozenset({"for_statement", "for_in_statement", "while_statement", "do_statement"})
ITERATING_METHODS = frozenset({"forEach", "map", "flatMap", "reduce", "filter"})
SELECT_STAR = re.compile(r"\bselect\s+(distinct\s+)?\*\s", re.IGNORECASE)
WRITE_STATEMENT = re.compile(r"^\s*(insert|update|delete|merge|upsert)\b", re.IGNORECASE)
SQL = re.compile(
    r"\b(select\b[\s\S]*\bfrom|insert\s+into|update\b[\s\S]*\bset|delete\s+from|where|order\s+by"
    r"|group\s+by|values|join|(create|drop|alter|truncate)\s+table)\b",
    re.IGNORECASE,
)


# --- global-validation -------------------------------------------------------------------------


def _request_parameter(node: Node) -> tuple[str, int]:
    """The handler parameter a body read comes from ("req") and the fewest parameters its
    handler takes; ("", 0) when `node` is no read of a request body."""
    if node.type == "member_expression" and text(node.child_by_field_name("property")) == "body":
        source = text(node.child_by_field_name("object"))
        # Express/Fastify/hapi handlers take (req, res); Koa's ctx.request is unambiguous.
        return REQUEST_OBJECTS.get(source, ""), 1 if source == "ctx.request" else 2
    if node.type == "call_expression":
        path = call_path(node)
        if len(path) == 2 and path[1] in BODY_READER_METHODS and path[0] in ("req", "request"):
            return path[0], 1  # a fetch-style route handler: POST(request)
    return "", 0


def _handler_of(read: Node, request: str, fewest_parameters: int) -> Node | None:
    """The innermost function whose first parameter is the request the body comes from."""
    for above in ancestors(read):
        if above.type in FUNCTION_TYPES:
            taken = parameters(above)
            if taken and parameter_name(taken[0]) == request:
                return above if len(taken) >= fewest_parameters else None
    return None


def _is_validator_call(call: Node) -> bool:
    path = call_path(call)
    if not path or path[0] in NOT_VALIDATORS:
        return False
    return path[-1] in VALIDATOR_METHODS or path[-1].startswith("validat")


def _validated_by_middleware(handler: Node) -> bool:
    """`router.post(path, validate(schema), handler)`: a validating middleware before it."""
    holder = handler.parent
    if holder is None or holder.type != "arguments":
        return False
    for argument in holder.named_children:
        if argument == handler:
            continue
        if argument.type == "call_expression":
            name = "".join(call_path(argument)[-1:])
        else:
            name = text(argument) if argument.type in ("identifier", "member_expression") else ""
        if name and MIDDLEWARE_VALIDATOR.search(name):
            return True
    return False


def _is_validated(handler: Node) -> bool:
    block = body(handler)
    inside = descendants(block) if block is not None else iter(())
    validated = any(n.type == "call_expression" and _is_validator_call(n) for n in inside)
    return validated or _validated_by_middleware(handler)


@check("global-validation", "unvalidated-body", SCRIPT_LANGUAGES)
def unvalidated_body(source: SourceFile) -> Iterator[Finding]:
    """A request handler reads req.body without validating it against a schema.

    Validation: zod .parse/.safeParse, joi/yup .validate, class-validator, superstruct, or
    a validating middleware before the handler in the route."""
    first_reads: dict[int, tuple[Node, Node]] = {}
    for node in parse(source).find("member_expression", "call_expression"):
        request, fewest_parameters = _request_parameter(node)
        handler = _handler_of(node, request, fewest_parameters) if request else None
        if handler is not None and handler.id not in first_reads:
            first_reads[handler.id] = (handler, node)
    for handler, read in first_reads.values():
        if not _is_validated(handler):
            name = function_name(handler)
            where = f"{name}()" if name else "a request handler"
            yield source.finding(
                "global-validation",
                "unvalidated-body",
                line(read),
                f"{text(read)} is used in {where} without validating it against a schema "
                "(zod .parse/.safeParse, joi or yup .validate, class-validator)",
            )


# --- backend-queries ---------------------------------------------------------------------------


def _operands(node: Node) -> list[Node]:
    """The operands of a chain of `+` concatenations."""
    if node.type == "binary_expression" and text(node.child_by_field_name("operator")) == "+":
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        return [*(_operands(left) if left else []), *(_operands(right) if right else [])]
    if node.type == "parenthesized_expression" and node.named_child_count == 1:
        return _operands(node.named_children[0])
    return [node]


def _sql_text(node: Node) -> str:
    """The literal SQL of a string, template or concatenation, runtime values left out."""
    if node.type == "template_string":
        return " ? ".join(text(c) for c in node.named_children if c.type == "string_fragment")
    return " ? ".join(value for o in _operands(node) if (value := string_value(o)) is not None)


def _dynamic_sql(node: Node) -> str:
    """How an expression builds SQL from runtime values ("a template literal", "string
    concatenation"), or "" when it does not."""
    if not SQL.search(_sql_text(node)):
        return ""
    if node.type == "template_string":
        dynamic = any(c.type == "template_substitution" for c in node.named_children)
        return "a template literal with ${...}" if dynamic else ""
    operands = _operands(node)
    dynamic = len(operands) > 1 and any(string_value(o) is None for o in operands)
    return "string concatenation" if dynamic else ""


def _definition(identifier: Node) -> Node | None:
    """The initial value of a local `const sql = ...` the identifier refers to, declared in
    the same function before the call."""
    scope = enclosing_function(identifier)
    container = body(scope) if scope is not None else list(ancestors(identifier))[-1]
    if container is None:
        return None
    name = text(identifier)
    found = None
    for node in descendants(container, stop=FUNCTION_TYPES):
        if node.start_byte >= identifier.start_byte:
            break
        if node.type == "variable_declarator" and text(node.child_by_field_name("name")) == name:
            found = node.child_by_field_name("value")
    return found


@dataclass(frozen=True)
class QueryCall:
    """A call that runs a query, with its SQL argument (through a local variable)."""

    call: Node
    method: str
    statement: Node | None
    tagged: bool  # sql`...`, $queryRaw`...`: the driver binds the ${} values


def _query_calls(source: SourceFile) -> list[QueryCall]:
    def compute() -> list[QueryCall]:
        found = []
        for call in parse(source).find("call_expression"):
            method = "".join(call_path(call)[-1:])
            if method not in QUERY_METHODS | TAGGED_QUERIES | ORM_READS:
                continue
            template = call.child_by_field_name("arguments")
            tagged = template is not None and template.type == "template_string"
            arguments = call_arguments(call)
            statement = template if tagged else (arguments[0] if arguments else None)
            if statement is not None and statement.type == "identifier":
                statement = _definition(statement) or statement
            found.append(QueryCall(call, method, statement, tagged))
        return found

    return source.cached("web-query-calls", compute)


@check("backend-queries", "sql-string-building", SCRIPT_LANGUAGES)
def sql_string_building(source: SourceFile) -> Iterator[Finding]:
    """SQL built by a template literal or concatenation passed to query(), execute() or raw().

    Also whereRaw(), $queryRawUnsafe() and the like, directly or through a local variable."""
    for query in _query_calls(source):
        if query.tagged or query.statement is None or query.method not in QUERY_METHODS:
            continue
        how = _dynamic_sql(query.statement)
        if how:
            yield source.finding(
                "backend-queries",
                "sql-string-building",
                line(query.call),
                f"SQL built with {how} passed to {query.method}(); use bound parameters ($1, ?) "
                "or a tagged sql template",
            )


@check("backend-queries", "select-star", SCRIPT_LANGUAGES)
def select_star(source: SourceFile) -> Iterator[Finding]:
    """SELECT * in a query: select only the columns you need."""
    for query in _query_calls(source):
        if query.statement is not None and SELECT_STAR.search(_sql_text(query.statement)):
            yield source.finding(
                "backend-queries",
                "select-star",
                line(query.statement),
                f"SELECT * in the query passed to {query.method}; select only the columns you need",
                Severity.WARNING,
            )


def _is_database_call(query: QueryCall, sql: str) -> bool:
    """Whether a call named like a query reads the database: an ORM finder, SQL text, or
    an awaited query(...) - not an in-memory `inventory.query('name', x)`."""
    parent = query.call.parent
    awaited = parent is not None and parent.type == "await_expression"
    return query.tagged or query.method in ORM_READS or bool(SQL.search(sql)) or awaited


def _loop_of(node: Node) -> Node | None:
    """The loop that runs `node` once per item: a loop statement, or the `.map`/`.forEach`
    call whose callback holds it, within the same function."""
    for above in ancestors(node):
        if above.type in LOOP_TYPES:
            return above
        if above.type in FUNCTION_TYPES:
            holder = above.parent
            call = holder.parent if holder is not None and holder.type == "arguments" else None
            method = call_path(call)[-1:] if call is not None else []
            return call if method and method[0] in ITERATING_METHODS else None
    return None


@check("backend-queries", "query-in-loop", SCRIPT_LANGUAGES)
def query_in_loop(source: SourceFile) -> Iterator[Finding]:
    """A read run once per item of a loop (N+1); load the rows with one query."""
    for query in _query_calls(source):
        sql = _sql_text(query.statement) if query.statement is not None else ""
        if WRITE_STATEMENT.match(sql) or query.method in QUERY_FRAGMENTS or not _is_database_call(query, sql):
            continue
        loop = _loop_of(query.call)
        if loop is not None:
            yield source.finding(
                "backend-queries",
                "query-in-loop",
                line(query.call),
                f"{query.method}() runs once per item of the loop on line {line(loop)} (N+1); "
                "load the rows with one query (IN, ANY($1) or a join)",
                Severity.WARNING,
            )
