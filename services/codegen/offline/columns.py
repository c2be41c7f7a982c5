"""Spec fields -> typed column descriptions.

A spec writes a field as free text (`str, required, unique, max 100 chars`,
`VARCHAR(50) NOT NULL UNIQUE`, `mapped_column(String(120))`, `1..5, default 3`).
`column_of` reads the parts code generation needs: the value kind, nullability,
length and range limits, choices, default, foreign key target and whether the
server sets the value. Everything else in the text is ignored on purpose: it is
kept verbatim in the generated docs, never guessed into code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.codegen.domain import Entity, EntityField
from services.codegen.offline.naming import plural, snake

# Kinds a column can have; each maps to one SQLAlchemy type and one Python type.
KINDS = ("str", "text", "int", "float", "decimal", "bool", "date", "datetime", "uuid", "enum", "json")

_TYPE_KINDS: tuple[tuple[str, str], ...] = (
    (r"^(?:big|small)?serial|^(?:big|small|tiny)?int(?:eger)?\b|^long\b", "int"),
    (r"^bool", "bool"),
    (r"^(?:float|double|real)\b", "float"),
    (r"^(?:decimal|numeric|money)\b", "decimal"),
    (r"^(?:datetime|timestamp)", "datetime"),
    (r"^date\b", "date"),
    (r"^uuid\b", "uuid"),
    (r"^enum\b|^literal\b", "enum"),
    (r"^(?:json|jsonb|dict|list|array)\b", "json"),
    (r"^text\b", "text"),
    (r"^(?:str|string|varchar|char|character|email|url|citext)\b", "str"),
)
_MAX_LEN = re.compile(
    r"max(?:imum)?\s*(?:length\s*)?(?:of\s*)?(\d+)\s*(?:chars?|characters)?"
    r"|(?:varchar|char|string)\((\d+)\)|<=\s*(\d+)\s*char|max_length\s*=\s*(\d+)",
    re.I,
)
_MIN_LEN = re.compile(
    r"min(?:imum)?\s*(?:length\s*)?(\d+)\s*(?:chars?|characters)|min_length\s*=\s*(\d+)", re.I
)
_RANGE = re.compile(r"(-?\d+(?:\.\d+)?)\s*(?:\.\.|to|-)\s*(-?\d+(?:\.\d+)?)(?![\d.]|\s*char)")
_BETWEEN = re.compile(r"between\s+(-?\d+(?:\.\d+)?)\s+and\s+(-?\d+(?:\.\d+)?)", re.I)
_GE = re.compile(r"(?:>=|\bmin(?:imum)?\b|\bat least\b|\bge\s*=)\s*(-?\d+(?:\.\d+)?)(?![\d.]|\s*char)", re.I)
_LE = re.compile(r"(?:<=|\bmax(?:imum)?\b|\bat most\b|\ble\s*=)\s*(-?\d+(?:\.\d+)?)(?![\d.]|\s*char)", re.I)
_POSITIVE = re.compile(r"\bpositive\b|>\s*0\b", re.I)
_NON_NEGATIVE = re.compile(r"non-?negative|>=\s*0\b", re.I)
_ONE_OF = re.compile(r"one of\s+([^;]+)", re.I)
_DEFAULT = re.compile(r"\bdefault\s*(?:=|:|is)?\s*('[^']*'|\"[^\"]*\"|[\w.#-]+)", re.I)
_REFERENCE = re.compile(
    r"(?:foreign key|references|->|fk)\s*(?:to\s+)?[`\"]?(\w+)|ForeignKey\(\s*[\"'](\w+)\.", re.I
)
_SERVER_SET = re.compile(r"set by (?:the )?server|\bauto\w*|\bgenerated\b|read[- ]?only|server[- ]set", re.I)
_PRIMARY = re.compile(r"primary[ _]?key", re.I)
_OPTIONAL = re.compile(r"\boptional\b|\bnullable\b|(?<!not )\bnull\b", re.I)
_UNIQUE = re.compile(r"\bunique\b", re.I)
_EMAIL = re.compile(r"\bemail\b", re.I)
_NOT_PAST = re.compile(r"not in the past|future|>=\s*today", re.I)
_CHECK_REGEX = re.compile(r"~\*?\s*'([^']+)'")
_PRECISION = re.compile(r"\((\d+)\s*,\s*(\d+)\)")
# Limits for columns the spec leaves open: generous, but never unbounded input.
TEXT_MAX_LENGTH = 10_000
EMAIL_MAX_LENGTH = 320


@dataclass(frozen=True)
class Column:
    """One spec field as the generators see it."""

    name: str
    kind: str
    nullable: bool = False
    required: bool = True
    server_set: bool = False
    unique: bool = False
    max_length: int | None = None
    min_length: int | None = None
    ge: float | None = None
    le: float | None = None
    choices: tuple[str, ...] = ()
    default: object = None
    has_default: bool = False
    references: str | None = None
    email: bool = False
    pattern: str | None = None
    not_in_past: bool = False
    precision: tuple[int, int] = (12, 2)
    spec_text: str = ""

    @property
    def writable(self) -> bool:
        return not self.server_set

    @property
    def is_foreign_key(self) -> bool:
        return self.references is not None

    @property
    def has_range(self) -> bool:
        return self.ge is not None or self.le is not None


def _kind(field: EntityField, text: str) -> str:
    declared = field.type.strip().lower()
    if _ONE_OF.search(text):
        return "enum"
    for pattern, kind in _TYPE_KINDS:
        if re.search(pattern, declared):
            if kind == "str" and not _MAX_LEN.search(text) and not _EMAIL.search(text + field.name):
                return "text"
            return kind
    if field.name.lower().endswith(("_at", "_time")):
        return "datetime"
    if field.name.lower().endswith("_date"):
        return "date"
    if field.name.lower().startswith(("is_", "has_")):
        return "bool"
    return "text" if not _MAX_LEN.search(text) else "str"


def _number(text: str) -> float:
    value = float(text)
    return int(value) if value.is_integer() else value


def _range(text: str, kind: str) -> tuple[float | None, float | None]:
    if kind not in ("int", "float", "decimal"):
        return None, None
    found = _BETWEEN.search(text) or _RANGE.search(text)
    if found:
        low, high = sorted((_number(found.group(1)), _number(found.group(2))))
        return low, high
    ge = _number(m.group(1)) if (m := _GE.search(text)) else None
    le = _number(m.group(1)) if (m := _LE.search(text)) else None
    if ge is None and _POSITIVE.search(text):
        ge = 1 if kind == "int" else None
    if ge is None and _NON_NEGATIVE.search(text):
        ge = 0
    return ge, le


def _default(text: str, kind: str, choices: tuple[str, ...]) -> tuple[bool, object]:
    found = _DEFAULT.search(text)
    if not found:
        return False, None
    raw = found.group(1).strip("'\"")
    lowered = raw.lower()
    if kind == "bool" and lowered in ("true", "false"):
        return True, lowered == "true"
    if kind == "int" and re.fullmatch(r"-?\d+", raw):
        return True, int(raw)
    if kind in ("float", "decimal") and re.fullmatch(r"-?\d+(?:\.\d+)?", raw):
        return True, float(raw)
    if kind == "enum" and raw in choices:
        return True, raw
    if kind in ("str", "text") and lowered not in ("null", "none", "now", "now()", "current_timestamp"):
        return True, raw
    return False, None


def _choices(text: str) -> tuple[str, ...]:
    found = _ONE_OF.search(text)
    if not found:
        return ()
    parts = re.split(r"\s*,\s*|\s+or\s+|\s*\|\s*", found.group(1).strip())
    return tuple(dict.fromkeys(p.strip("`'\" .") for p in parts if p.strip("`'\" .")))


def reference_of(field: EntityField, entities: tuple[Entity, ...], owner: str) -> str | None:
    """The entity a field points at: `-> Project`, `references projects`, `project_id`."""
    others = [e.name for e in entities if e.name != owner]
    by_word: dict[str, str] = {}
    for name in others:
        for word in (name.lower(), snake(name), plural(snake(name))):
            by_word.setdefault(word, name)
    found = _REFERENCE.search(field.constraints) or _REFERENCE.search(field.type)
    if found:
        word = (found.group(1) or found.group(2) or "").lower()
        target = by_word.get(word) or by_word.get(word.rstrip("s"))
        if target:
            return target
    if field.name.lower().endswith("_id"):
        return by_word.get(field.name.lower()[:-3])
    return None


def column_of(field: EntityField, entities: tuple[Entity, ...], owner: str) -> Column:
    """Read one spec field; `entities` resolves foreign keys by entity name."""
    text = f"{field.type} {field.constraints}"
    kind = _kind(field, text)
    reference = reference_of(field, entities, owner)
    if reference is not None:
        kind = "int" if kind not in ("uuid",) else kind
    choices = _choices(field.constraints) if kind == "enum" else ()
    has_default, default = _default(field.constraints, kind, choices)
    ge, le = _range(field.constraints, kind)
    max_length = next((int(g) for m in [_MAX_LEN.search(text)] if m for g in m.groups() if g), None)
    min_length = next((int(g) for m in [_MIN_LEN.search(text)] if m for g in m.groups() if g), None)
    email = bool(_EMAIL.search(field.constraints) or field.name.lower().endswith("email")) and kind in (
        "str",
        "text",
    )
    if email:
        kind, max_length = "str", max_length or EMAIL_MAX_LENGTH
    optional = bool(_OPTIONAL.search(field.constraints)) and not re.search(r"\brequired\b", text, re.I)
    server_set = bool(_SERVER_SET.search(field.constraints))
    pattern = _CHECK_REGEX.search(field.constraints)
    precision = _PRECISION.search(field.type)
    return Column(
        name=field.name,
        kind=kind,
        nullable=optional or server_set,
        required=not (optional or has_default or server_set),
        server_set=server_set,
        unique=bool(_UNIQUE.search(field.constraints)),
        max_length=max_length if kind == "str" else None,
        min_length=min_length if kind in ("str", "text") else None,
        ge=ge,
        le=le,
        choices=choices,
        default=default,
        has_default=has_default,
        references=reference,
        email=email,
        # A CHECK regex is kept only with a default: tests need a value known to match it.
        pattern=pattern.group(1) if pattern and has_default else None,
        not_in_past=kind in ("date", "datetime") and bool(_NOT_PAST.search(field.constraints)),
        precision=(int(precision.group(1)), int(precision.group(2))) if precision else (12, 2),
        spec_text=", ".join(filter(None, [field.type, field.constraints])),
    )


def is_primary_key(field: EntityField) -> bool:
    return field.name.lower() == "id" or bool(_PRIMARY.search(field.constraints))


def is_timestamp(field: EntityField) -> bool:
    """created_at / updated_at: every model gets them from the timestamp mixin."""
    return field.name.lower() in ("created_at", "updated_at")
