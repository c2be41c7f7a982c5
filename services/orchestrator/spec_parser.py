"""Deterministic markdown spec ingestion: text -> ParsedSpec -> Requirements.

No LLM is involved: the same text always gives the same spec. Section headings are
matched leniently (see _SECTION_ALIASES); a section the parser does not interpret
is kept verbatim in `other_sections` so nothing the author wrote is lost. UI
sections ("Pages", "UI", "Frontend"...) are among those kept verbatim; `ui_pages`
reads them for the planner, so a stored spec can be re-planned without re-parsing.
"""

from __future__ import annotations

import re

from devmatrix.runtime.errors import FieldViolation, InvalidArgument
from services.orchestrator.domain import (
    Entity,
    ParsedSpec,
    Requirement,
    RequirementCategory,
)
from services.orchestrator.spec_entities import entity_for_path, parse_endpoints, parse_entities
from services.orchestrator.spec_sections import (
    list_items,
    normalize_heading,
    paragraphs,
    split_document,
    strip_md,
    subsections,
    tables,
)

MAX_SPEC_CHARS = 1_000_000

# Exact (normalized) headings first; then keyword rules in an order where the more
# specific meaning wins ("non-functional requirements" before "requirements").
_SECTION_ALIASES: dict[str, tuple[str, ...]] = {
    "overview": ("overview", "summary", "introduction", "description", "about", "background", "purpose"),
    "tech": ("tech stack", "technology stack", "technologies", "technology", "stack", "tech", "tooling"),
    "entities": (
        "data model",
        "data models",
        "entities",
        "models",
        "domain model",
        "schema",
        "database schema",
        "database",
        "data",
        "entity definitions",
    ),
    "endpoints": ("api", "endpoints", "api endpoints", "rest api", "routes", "api design", "http api"),
    "requirements": (
        "requirements",
        "functional requirements",
        "features",
        "user stories",
        "functionality",
        "capabilities",
    ),
    "constraints": (
        "constraints",
        "nonfunctional requirements",
        "nfr",
        "nfrs",
        "quality attributes",
        "limitations",
        "technical constraints",
    ),
    "ui": ("pages", "ui", "frontend", "user interface", "screens", "views", "ui pages"),
}
_KEYWORD_RULES: tuple[tuple[str, str], ...] = (
    (r"\bnonfunctional\b|\bconstraint|\bquality\b", "constraints"),
    (r"\bendpoints?\b|\bapi\b|\broutes?\b", "endpoints"),
    (r"\bpages?\b|\bui\b|\bfrontend\b|\bscreens?\b|\buser interface\b", "ui"),
    (r"\bdata ?models?\b|\bentit|\bmodels?\b|\bschema\b", "entities"),
    (r"\brequirements?\b|\bfeatures?\b|\buser stor", "requirements"),
    (r"\btech|\bstack\b", "tech"),
    (r"\boverview\b|\bsummary\b|\bintroduction\b", "overview"),
)

_HIGH_PRIORITY = re.compile(
    r"\bsecur|\bauth\b|\bauthenticat|\bauthori[sz]|\bpermission|\bpassword|\btoken|\bjwt\b|\bencrypt|"
    r"\bvalidat|\bintegrity\b|\binjection|\bxss\b|\bcsrf\b|\bprivacy\b|\bgdpr\b|\bsecret|"
    r"\baccess control|\brate limit",
    re.I,
)
_LOW_PRIORITY = re.compile(
    r"\boptional\b|nice to have|\bcould\b|\bmay\b|\bfuture\b|\blater\b|\bbonus\b", re.I
)
_NON_FUNCTIONAL = re.compile(
    r"perform|latency|throughput|availab|scal|uptime|response time|\bms\b|concurren|load", re.I
)


def section_kind(heading: str) -> str | None:
    """Which part of ParsedSpec a heading feeds, or None for a verbatim section."""
    normalized = normalize_heading(heading)
    for kind, aliases in _SECTION_ALIASES.items():
        if normalized in aliases:
            return kind
    for pattern, kind in _KEYWORD_RULES:
        if re.search(pattern, normalized):
            return kind
    return None


def _check_text(text: object) -> str:
    if not isinstance(text, str):
        raise InvalidArgument("spec must be text", [FieldViolation("text", "expected a string")])
    if "\x00" in text:
        raise InvalidArgument(
            "spec looks like binary data (it contains NUL bytes)",
            [FieldViolation("text", "contains NUL bytes; a spec must be markdown text")],
        )
    controls = sum(1 for c in text if ord(c) < 32 and c not in "\t\n\r\f")
    if text and controls / len(text) > 0.05:
        raise InvalidArgument(
            "spec looks like binary data (too many control characters)",
            [FieldViolation("text", f"{controls} control characters; a spec must be markdown text")],
        )
    if not text.strip():
        raise InvalidArgument("spec is empty", [FieldViolation("text", "must not be empty or whitespace")])
    if len(text) > MAX_SPEC_CHARS:
        raise InvalidArgument(
            "spec is too large",
            [FieldViolation("text", f"{len(text)} characters; the limit is {MAX_SPEC_CHARS}")],
        )
    return text


def _tech_stack(body: str) -> dict[str, str]:
    stack: dict[str, str] = {}
    for table in tables(body):
        for row in table.rows:
            if len(row) >= 2 and row[0]:
                stack.setdefault(row[0], row[1])
    items = list_items(body) or [line for p in paragraphs(body) for line in p.split(". ") if ":" in line]
    for item in items:
        key, sep, value = item.partition(":")
        if sep and key.strip() and len(key) <= 60:
            stack.setdefault(key.strip(), value.strip())
        else:
            stack.setdefault(item.strip(), "")
    return stack


def _items(body: str) -> list[str]:
    """List items, or the paragraphs of a body that has no list."""
    return list_items(body) or paragraphs(body)


def parse_markdown(text: str) -> ParsedSpec:
    """Parse a markdown spec; raise InvalidArgument (field `text`) for unusable input."""
    document = split_document(_check_text(text))
    if not document.title:
        raise InvalidArgument(
            "spec has no title",
            [FieldViolation("text", "a spec starts with a level-1 heading, e.g. '# Task API'")],
        )
    if not document.sections:
        raise InvalidArgument(
            "spec has no recognizable content",
            [
                FieldViolation(
                    "text", "no sections found; add '## ...' sections (overview, data model, API...)"
                )
            ],
        )
    spec = ParsedSpec(title=document.title)
    overview = [document.preamble] if document.preamble else []
    entities: list[Entity] = []
    for section in document.sections:
        kind = section_kind(section.heading)
        body = section.body
        if kind == "overview":
            overview.append(body.strip())
        elif kind == "tech":
            for key, value in _tech_stack(body).items():
                spec.tech_stack.setdefault(key, value)
        elif kind == "entities":
            entities.extend(parse_entities(body))
        elif kind == "endpoints":
            spec.endpoints.extend(parse_endpoints(body))
        elif kind == "requirements":
            spec.functional_requirements.extend(_items(body))
        elif kind == "constraints":
            spec.constraints.extend(_items(body))
        else:
            heading = section.heading
            suffix = 2
            while heading in spec.other_sections:  # repeated headings must not overwrite
                heading = f"{section.heading} ({suffix})"
                suffix += 1
            spec.other_sections[heading] = body
    spec.overview = "\n\n".join(part for part in overview if part)
    seen: set[str] = set()
    for entity in entities:
        if entity.name.lower() not in seen:
            seen.add(entity.name.lower())
            spec.entities.append(entity)
    seen_endpoints: set[tuple[str, str]] = set()
    unique = []
    for endpoint in spec.endpoints:
        if (endpoint.method, endpoint.path) not in seen_endpoints:
            seen_endpoints.add((endpoint.method, endpoint.path))
            unique.append(endpoint)
    spec.endpoints = unique
    names = [e.name for e in spec.entities]
    for endpoint in spec.endpoints:
        endpoint.entity = endpoint.entity or entity_for_path(endpoint.path, names)
    return spec


def ui_pages(spec: ParsedSpec) -> list[tuple[str, str]]:
    """(page name, description) from the spec's UI sections, in order, names unique."""
    pages: dict[str, str] = {}
    for heading, body in spec.other_sections.items():
        if section_kind(heading) != "ui":
            continue
        lead, subs = subsections(body)
        for sub_heading, sub_body in subs:
            pages.setdefault(strip_md(sub_heading), " ".join(_items(sub_body)))
        for item in list_items(lead):
            name, description = _split_page(item)
            pages.setdefault(name, description)
    return [(name, description) for name, description in pages.items() if name]


def _split_page(item: str) -> tuple[str, str]:
    parts = re.split(r"\s+[-–—]\s+|:\s+", item, maxsplit=1)
    if len(parts) == 2 and len(parts[0]) <= 60:
        return parts[0].strip(), parts[1].strip()
    return item[:60].strip(), item.strip()


def priority_of(text: str, default: int = 2) -> int:
    """1 for security/auth/validation wording, 3 for optional wording, else default."""
    if _HIGH_PRIORITY.search(text):
        return 1
    if _LOW_PRIORITY.search(text):
        return 3
    return default


def entity_text(entity: Entity) -> str:
    fields = ", ".join(
        f"{f.name} ({', '.join(filter(None, [f.type, f.constraints]))})"
        if f.type or f.constraints
        else f.name
        for f in entity.fields
    )
    return f"Entity {entity.name}: {fields}" if fields else f"Entity {entity.name}"


def classify_requirements(spec: ParsedSpec) -> list[Requirement]:
    """Every entity, endpoint, requirement, constraint and tech item as a keyed Requirement.

    Keys number each category in spec order (ENT-1, API-1, FR-1, CON-1, TECH-1), so
    re-parsing the same text yields the same keys.
    """
    result: list[Requirement] = []
    for i, entity in enumerate(spec.entities, 1):
        text = entity_text(entity)
        # "optional" on a field must not demote the entity: models are what everything builds on.
        priority = min(priority_of(text), 2)
        result.append(Requirement(f"ENT-{i}", RequirementCategory.ENTITY, text, priority))
    for i, endpoint in enumerate(spec.endpoints, 1):
        text = f"{endpoint.method} {endpoint.path}" + (
            f" - {endpoint.description}" if endpoint.description else ""
        )
        result.append(Requirement(f"API-{i}", RequirementCategory.ENDPOINT, text, priority_of(text)))
    for i, text in enumerate(spec.functional_requirements, 1):
        result.append(Requirement(f"FR-{i}", RequirementCategory.FUNCTIONAL, text, priority_of(text)))
    for i, text in enumerate(spec.constraints, 1):
        category = (
            RequirementCategory.NON_FUNCTIONAL
            if _NON_FUNCTIONAL.search(text)
            else RequirementCategory.CONSTRAINT
        )
        result.append(Requirement(f"CON-{i}", category, text, priority_of(text)))
    for i, (key, value) in enumerate(spec.tech_stack.items(), 1):
        text = f"{key}: {value}" if value else key
        # A tech choice is never itself a security item, even when it is named "Validation".
        result.append(Requirement(f"TECH-{i}", RequirementCategory.TECH_STACK, text, 2))
    return result
