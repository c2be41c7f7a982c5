"""Spec-derived details for planned tasks: file layout, relations, acceptance criteria.

Kept apart from the planner so the hierarchy logic stays readable; everything
here is a pure function of the ParsedSpec.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from devmatrix.naming import plural, snake
from services.orchestrator.domain import Endpoint, Entity, EntityField, ParsedSpec

_SERVER_SET = re.compile(r"primary key|serial|set by server|auto|generated|read[- ]?only", re.I)
_REQUIRED = re.compile(r"\brequired\b|not null", re.I)
_MAX_LEN = re.compile(r"max(?:imum)?\s*(?:length\s*)?(\d+)|varchar\((\d+)\)|<=\s*(\d+)\s*char", re.I)
_ONE_OF = re.compile(r"one of\s+([^;]+)", re.I)
_READ_CONSTRAINT = re.compile(r"paginat|\blist|\breads?\b", re.I)
_ENDPOINT_CONSTRAINT = re.compile(r"endpoint|\bapi\b|request|response|paginat|\bauth|token|handler", re.I)


@dataclass(frozen=True)
class Layout:
    """Where generated files go, by language; Python (FastAPI layout) is the default."""

    src: str = "app"
    tests: str = "tests"
    ext: str = ".py"
    test_prefix: str = "test_"
    test_suffix: str = ""

    def module(self, *parts: str) -> str:
        return "/".join([self.src, *parts]) + self.ext

    def test(self, *parts: str) -> str:
        *dirs, name = parts
        return "/".join([self.tests, *dirs, f"{self.test_prefix}{name}{self.test_suffix}{self.ext}"])


def layout_for(spec: ParsedSpec) -> Layout:
    stack = " ".join(f"{k} {v}" for k, v in spec.tech_stack.items()).lower()
    # The backend language decides; a TypeScript frontend beside a Python API keeps Python.
    if re.search(r"python|fastapi|django|flask", stack):
        return Layout()
    if re.search(r"typescript|nestjs|\bts\b", stack):
        return Layout(src="src", ext=".ts", test_prefix="", test_suffix=".test")
    if re.search(r"node|express|javascript", stack):
        return Layout(src="src", ext=".js", test_prefix="", test_suffix=".test")
    return Layout()


def table_name(entity: Entity) -> str:
    return plural(snake(entity.name))


def references(entity: Entity, entities: list[Entity]) -> list[str]:
    """Names of other entities this one points at (foreign keys), in field order."""
    names = {e.name.lower(): e.name for e in entities if e.name != entity.name}
    by_snake = {snake(e.name): e.name for e in entities if e.name != entity.name}
    found: list[str] = []
    for f in entity.fields:
        target = None
        if f.name.lower().endswith("_id"):
            target = by_snake.get(f.name.lower()[:-3])
        match = re.search(r"(?:foreign key|references|->)\s*(?:to\s+)?[`\"]?(\w+)", f.constraints, re.I)
        if target is None and match:
            word = match.group(1).lower()
            target = names.get(word) or names.get(word.rstrip("s")) or by_snake.get(word.rstrip("s"))
        if target and target not in found:
            found.append(target)
    return found


def fk_order(entities: list[Entity]) -> list[Entity]:
    """Entities with referenced ones first (stable; cycles fall back to spec order)."""
    placed: list[Entity] = []
    pending = list(entities)
    while pending:
        for entity in pending:
            refs = references(entity, entities)
            if all(ref in {p.name for p in placed} for ref in refs):
                break
        else:
            entity = pending[0]
        placed.append(entity)
        pending.remove(entity)
    return placed


def field_line(f: EntityField) -> str:
    detail = ", ".join(filter(None, [f.type, f.constraints]))
    return f"`{f.name}`: {detail}" if detail else f"`{f.name}`"


def required_fields(entity: Entity) -> list[str]:
    return [
        f.name
        for f in entity.fields
        if _REQUIRED.search(f.constraints) and not _SERVER_SET.search(f.constraints)
    ]


def server_set_fields(entity: Entity) -> list[str]:
    return [f.name for f in entity.fields if _SERVER_SET.search(f.constraints)]


def validation_rules(entity: Entity) -> list[str]:
    rules: list[str] = []
    required = required_fields(entity)
    if required:
        rules.append(
            f"Create payload without any of {', '.join(required)} is rejected with 422 naming the field"
        )
    for f in entity.fields:
        length = _MAX_LEN.search(f"{f.type} {f.constraints}")
        if length:
            limit = next(g for g in length.groups() if g)
            rules.append(f"`{f.name}` longer than {limit} characters is rejected with 422")
        choices = _ONE_OF.search(f.constraints)
        if choices:
            rules.append(f"`{f.name}` accepts only: {choices.group(1).strip()}")
        if "email" in f.constraints.lower() or "email" in f.name.lower():
            rules.append(f"`{f.name}` must be a valid email address")
    server = server_set_fields(entity)
    if server:
        rules.append(f"Server-set fields ({', '.join(server)}) are read-only in request bodies")
    return rules


def is_item_path(path: str) -> bool:
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return last[:1] in "{:<"


def endpoint_criteria(endpoint: Endpoint, entity: str | None, spec: ParsedSpec) -> list[str]:
    subject = entity or "resource"
    call = f"{endpoint.method} {endpoint.path}"
    nested = re.search(r"[{:<][^/]*[}>]?/[^{:<]", endpoint.path) is not None
    if endpoint.method == "GET" and not is_item_path(endpoint.path):
        lines = [f"{call} returns 200 with a JSON list of {subject} items"]
    elif endpoint.method in {"GET", "HEAD"}:
        lines = [f"{call} returns 200 with the {subject}; 404 for an unknown id"]
    elif endpoint.method == "POST":
        lines = [f"{call} returns 201 with the created {subject}; 422 for an invalid body"]
    elif endpoint.method in {"PUT", "PATCH"}:
        lines = [
            f"{call} returns 200 with the updated {subject}; 404 for an unknown id; 422 for an invalid body"
        ]
    elif endpoint.method == "DELETE":
        lines = [f"{call} returns 204; 404 for an unknown id"]
    else:
        lines = [f"{call} responds as documented"]
    if nested:
        lines.append(f"{call} returns 404 when the parent resource does not exist")
    if endpoint.description:
        lines.append(f"{call}: {endpoint.description}")
    return lines


def endpoint_constraints(spec: ParsedSpec, endpoints: list[Endpoint]) -> list[str]:
    """Constraints that concern request handling; read-only ones only where something is read."""
    reads = any(e.method == "GET" for e in endpoints)
    return [
        f"Honours CON-{i}: {c}"
        for i, c in enumerate(spec.constraints, 1)
        if _ENDPOINT_CONSTRAINT.search(c) and (reads or not _READ_CONSTRAINT.search(c))
    ]


def mentions(text: str, entity: str) -> bool:
    words = {entity.lower(), plural(entity.lower()), snake(entity), plural(snake(entity))}
    return any(re.search(rf"\b{re.escape(word)}\b", text.lower()) for word in words)


def entity_requirements(spec: ParsedSpec, entity: str) -> list[str]:
    return [
        f"Satisfies FR-{i}: {text}"
        for i, text in enumerate(spec.functional_requirements, 1)
        if mentions(text, entity)
    ]


def stack_summary(spec: ParsedSpec) -> list[str]:
    return [f"Uses {key}: {value}" if value else f"Uses {key}" for key, value in spec.tech_stack.items()]
