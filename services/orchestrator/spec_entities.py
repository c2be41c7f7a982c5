"""Entities and endpoints out of spec sections, in whatever form the author used.

Entities: a table (`| field | type | constraints |`) or field bullets
(`- title: str, required`) under an `### Entity` heading, or code (Python classes,
SQL CREATE TABLE, `Name { field: type }` blocks). Endpoints: tables with method and
path columns, or `METHOD /path - description` anywhere in the section.
"""

from __future__ import annotations

import re

from services.orchestrator.domain import Endpoint, Entity, EntityField
from services.orchestrator.spec_sections import (
    Table,
    blocks,
    code_blocks,
    list_items,
    paragraphs,
    split_top,
    strip_md,
    subsections,
)

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_ENDPOINT_LINE = re.compile(r"(?<![A-Za-z])(" + "|".join(HTTP_METHODS) + r")\s+`?(/[^\s`|)]*)`?\s*(.*)$")
_FIELD_BULLET = re.compile(r"^([A-Za-z_]\w*)\??\s*(?:\(([^)]*)\)\s*)?(?::\s*|[-–—]\s+|$)(.*)$")
_SQL_TABLE = re.compile(r"create\s+table\s+(?:if\s+not\s+exists\s+)?[`\"\[]?([\w.]+)[`\"\]]?\s*\(", re.I)
_PY_CLASS = re.compile(r"^class\s+(\w+)\s*(?:\(([^)]*)\))?\s*:", re.M)
_BRACE_ENTITY = re.compile(
    r"(?:\b(?:interface|type|model|entity|class|table|record|struct)\s+)?\b([A-Z]\w*)\s*=?\s*\{([^{}]*)\}"
)
_SQL_NON_COLUMNS = {"PRIMARY", "FOREIGN", "CONSTRAINT", "UNIQUE", "CHECK", "INDEX", "KEY"}
_NAME_NOISE = {"entity", "model", "table", "schema", "the", "resource"}
_NAME_COLUMNS = ("field", "name", "column", "attribute", "property", "fields")
_TYPE_COLUMNS = ("type", "data type", "datatype", "kind")
_DESC_COLUMNS = ("description", "purpose", "summary", "action", "notes", "details", "behavior")


def singular(word: str) -> str:
    lower = word.lower()
    if len(word) > 3 and lower.endswith("ies"):
        return word[:-3] + ("Y" if word[-3].isupper() else "y")
    if re.search(r"(s|x|z|ch|sh)es$", lower) and len(word) > 4:
        return word[:-2]
    if lower.endswith(("ss", "us", "is")) or not lower.endswith("s") or len(word) < 3:
        return word
    return word[:-1]


def entity_name(raw: str) -> str:
    """`project_members`, "Project members", "Entity: Task (table tasks)" -> PascalCase singular."""
    text = strip_md(raw)
    text = re.sub(r"^\s*\d+[.)]\s*", "", text)
    text = re.sub(r"^(?:entity|model|table|resource)\s*:\s*", "", text, flags=re.I)
    text = re.split(r"\s+\(|\s+[-–—]\s+|:", text)[0]
    words = re.findall(r"[A-Za-z0-9]+", text.split(".")[-1])
    meaningful = [w for w in words if w.lower() not in _NAME_NOISE]
    words = meaningful or words
    if not words:
        return ""
    words[-1] = singular(words[-1])
    return "".join(w if w[:1].isupper() and not w.isupper() else w[:1].upper() + w[1:].lower() for w in words)


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    for wanted in names:
        for i, cell in enumerate(header):
            if cell == wanted or cell.startswith(wanted + " ") or cell.endswith(" " + wanted):
                return i
    return None


def _fields_from_table(table: Table) -> list[EntityField]:
    name_col = _column(table.header, _NAME_COLUMNS)
    type_col = _column(table.header, _TYPE_COLUMNS)
    name_col = 0 if name_col is None else name_col
    type_col = (1 if name_col == 0 else 0) if type_col is None else type_col
    fields = []
    for row in table.rows:
        if name_col >= len(row) or not row[name_col]:
            continue
        rest = [c for i, c in enumerate(row) if i not in (name_col, type_col) and c and c != "-"]
        ftype = row[type_col] if type_col < len(row) else ""
        fields.append(EntityField(row[name_col], ftype, "; ".join(rest)))
    return fields


def _field_from_bullet(item: str) -> EntityField | None:
    match = _FIELD_BULLET.match(item.strip())
    if not match or (match.group(2) is None and ":" not in item and not re.search(r"\s[-–—]\s", item)):
        return None
    name, paren, rest = match.group(1), match.group(2), match.group(3).strip()
    if paren is not None:
        parts = split_top(paren)
        ftype, extra = (parts[0] if parts else ""), parts[1:]
        constraints = ", ".join([*extra, rest] if rest else extra)
    else:
        parts = (
            split_top(rest, ",;")
            if "," in rest or ";" in rest
            else re.split(r"\s+[-–—]\s+", rest, maxsplit=1)
        )
        ftype, constraints = parts[0] if parts else "", ", ".join(p.strip() for p in parts[1:])
    return EntityField(name, ftype.strip(), constraints.strip(" ,;-"))


def _unwrap_py_type(annotation: str) -> tuple[str, list[str]]:
    text = annotation.strip()
    notes = []
    mapped = re.fullmatch(r"Mapped\[(.*)\]", text)
    if mapped:
        text = mapped.group(1).strip()
    optional = re.fullmatch(r"Optional\[(.*)\]", text)
    if optional:
        text, notes = optional.group(1).strip(), ["optional"]
    elif re.search(r"\|\s*None$", text):
        text, notes = re.sub(r"\s*\|\s*None$", "", text), ["optional"]
    return text, notes


def _entities_from_python(code: str) -> list[Entity]:
    entities = []
    lines = code.splitlines()
    for match in _PY_CLASS.finditer(code):
        bases = match.group(2) or ""
        if "Enum" in bases or match.group(1) in {"Config", "Meta", "Base"}:
            continue
        start = code[: match.end()].count("\n") + 1
        fields: list[EntityField] = []
        indent: int | None = None
        for line in lines[start:]:
            if not line.strip() or line.strip().startswith("#"):
                continue
            current = len(line) - len(line.lstrip())
            if current == 0:
                break
            indent = current if indent is None else indent
            if current != indent:
                continue  # method bodies and nested classes
            text = line.strip()
            column = re.match(
                r"(\w+)\s*=\s*(?:\w+\.)?Column\(\s*([\w.]+(?:\([^)]*\))?)\s*,?\s*(.*)\)\s*$", text
            )
            django = re.match(r"(\w+)\s*=\s*models\.(\w+)\((.*)\)\s*$", text)
            annotated = re.match(r"(\w+)\s*:\s*([^=]+?)\s*(?:=\s*(.+))?$", text)
            if column:
                fields.append(EntityField(column.group(1), column.group(2), column.group(3)))
            elif django:
                fields.append(EntityField(django.group(1), django.group(2), django.group(3)))
            elif (
                annotated and not annotated.group(1).startswith("_") and annotated.group(1) != "model_config"
            ):
                ftype, notes = _unwrap_py_type(annotated.group(2))
                default = (annotated.group(3) or "").strip()
                arguments = re.fullmatch(r"(?:\w+\.)?(?:mapped_column|Field|Column)\((.*)\)", default)
                extra = arguments.group(1) if arguments else (f"default {default}" if default else "")
                fields.append(
                    EntityField(annotated.group(1), ftype, ", ".join(filter(None, [*notes, extra])))
                )
        if fields:
            entities.append(Entity(entity_name(match.group(1)), fields))
    return entities


def _balanced(text: str, open_at: int) -> str:
    depth = 0
    for i in range(open_at, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return text[open_at + 1 : i]
    return text[open_at + 1 :]


def _entities_from_sql(code: str) -> list[Entity]:
    entities = []
    for match in _SQL_TABLE.finditer(code):
        body = re.sub(r"--[^\n]*", "", _balanced(code, match.end() - 1))
        fields = []
        for part in split_top(body):
            tokens = part.split()
            if len(tokens) < 2 or tokens[0].upper() in _SQL_NON_COLUMNS:
                continue
            end = 2
            while "(" in " ".join(tokens[1:end]) and ")" not in " ".join(tokens[1:end]) and end < len(tokens):
                end += 1  # NUMERIC(10, 2) was split at its space
            fields.append(
                EntityField(tokens[0].strip('`"[]'), " ".join(tokens[1:end]), " ".join(tokens[end:]))
            )
        entities.append(Entity(entity_name(match.group(1)), fields))
    return entities


def _entities_from_braces(code: str) -> list[Entity]:
    entities = []
    for match in _BRACE_ENTITY.finditer(code):
        fields = []
        for raw in re.split(r"[\n;]", match.group(2)):
            comment = ""
            if "//" in raw:
                raw, comment = raw.split("//", 1)
            for part in split_top(raw):
                found = re.match(r"([A-Za-z_]\w*)(\?)?\s*:?\s*([\w\[\]<>.|()]+)?\s*(.*)$", part)
                if not found:
                    continue
                notes = ["optional"] if found.group(2) else []
                notes += [t for t in (found.group(4).strip(), comment.strip()) if t]
                fields.append(EntityField(found.group(1), found.group(3) or "", ", ".join(notes)))
        if fields:
            entities.append(Entity(entity_name(match.group(1)), fields))
    return entities


def entities_from_code(lang: str, code: str) -> list[Entity]:
    if _SQL_TABLE.search(code) or lang in {"sql", "postgresql", "psql"}:
        return _entities_from_sql(code)
    if lang in {"python", "py"} or _PY_CLASS.search(code):
        found = _entities_from_python(code)
        if found:
            return found
    return _entities_from_braces(code)


def _entities_from_grouped_table(table: Table) -> list[Entity]:
    """One table listing many entities: `| Entity | Field | Type | ... |`."""
    group_col = _column(table.header, ("entity", "model", "table", "resource"))
    if group_col is None:
        return []
    rest_header = [h for i, h in enumerate(table.header) if i != group_col]
    by_name: dict[str, Entity] = {}
    for row in table.rows:
        if group_col >= len(row) or not row[group_col]:
            continue
        name = entity_name(row[group_col])
        rest = Table(rest_header, [[c for i, c in enumerate(row) if i != group_col]])
        by_name.setdefault(name, Entity(name)).fields.extend(_fields_from_table(rest))
    return list(by_name.values())


def parse_entities(body: str) -> list[Entity]:
    lead, subs = subsections(body)
    found: list[Entity] = []
    for table in [b.table for b in blocks(lead) if b.table is not None]:
        found.extend(_entities_from_grouped_table(table))
    for lang, code in code_blocks(lead):
        found.extend(entities_from_code(lang, code))
    for heading, sub in subs:
        sub_tables = [b.table for b in blocks(sub) if b.table is not None]
        fields = [f for t in sub_tables for f in _fields_from_table(t)]
        if not fields:
            fields = [f for f in map(_field_from_bullet, list_items(sub, merge_nested=False)) if f]
        if fields:
            found.append(Entity(entity_name(heading), fields, " ".join(paragraphs(sub))))
            continue
        for lang, code in code_blocks(sub):
            code_entities = entities_from_code(lang, code)
            for entity in code_entities:
                entity.description = entity.description or " ".join(paragraphs(sub))
            found.extend(code_entities)
    unique: dict[str, Entity] = {}
    for entity in found:
        if entity.name and entity.name.lower() not in unique:  # first definition wins
            unique[entity.name.lower()] = entity
    return list(unique.values())


def _clean_path(path: str) -> str:
    path = path.rstrip(".,;:")
    return path if path == "/" else path.rstrip("/")


def _endpoints_from_table(table: Table) -> list[Endpoint]:
    method_col = _column(table.header, ("method", "verb", "http method"))
    path_col = _column(table.header, ("path", "endpoint", "route", "url", "uri", "resource"))
    desc_col = _column(table.header, _DESC_COLUMNS)
    result = []
    for row in table.rows:
        if method_col is not None and path_col is not None and max(method_col, path_col) < len(row):
            method, path = row[method_col].upper().strip(), row[path_col].strip()
            if method not in HTTP_METHODS or not path.startswith("/"):
                continue
        else:
            joined = next((m for m in map(_ENDPOINT_LINE.search, row) if m), None)
            if joined is None:
                continue
            method, path = joined.group(1), joined.group(2)
        used = {method_col, path_col}
        if desc_col is None:
            desc_col = next((i for i in range(len(row)) if i not in used), None)
        description = row[desc_col] if desc_col is not None and desc_col < len(row) else ""
        result.append(Endpoint(method, _clean_path(path), description))
    return result


def parse_endpoints(body: str) -> list[Endpoint]:
    found: list[Endpoint] = []
    for block in blocks(body):
        if block.table is not None:
            found.extend(_endpoints_from_table(block.table))
            continue
        for line in block.text.splitlines():
            # Raw first so paths keep their underscores; markup-free as a fallback (**GET** `/x`).
            match = _ENDPOINT_LINE.search(line) or _ENDPOINT_LINE.search(strip_md(line))
            if match:
                description = strip_md(match.group(3)).lstrip("-–—:| ").strip()
                found.append(Endpoint(match.group(1), _clean_path(match.group(2)), description))
    unique: dict[tuple[str, str], Endpoint] = {}
    for endpoint in found:
        key = (endpoint.method, endpoint.path)
        if key not in unique:
            unique[key] = endpoint
        elif not unique[key].description:
            unique[key].description = endpoint.description
    return list(unique.values())


def entity_for_path(path: str, entity_names: list[str]) -> str | None:
    """The resource a path works on: its last segment that names a known entity."""
    by_key = {re.sub(r"[\W_]", "", name.lower()): name for name in entity_names}
    for segment in reversed(path.strip("/").split("/")):
        if not segment or segment[0] in "{:<*" or segment == "api" or re.fullmatch(r"v\d+", segment):
            continue
        for candidate in (entity_name(segment), segment):
            name = by_key.get(re.sub(r"[\W_]", "", candidate.lower()))
            if name:
                return name
    return None
