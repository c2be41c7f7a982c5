"""Sample values for generated tests, and tests/factories.py (golden test-factories).

Every value is derived from the column's spec: a string fits its length limit, a
number its range, an enum its choices, a date honours "not in the past". Invalid
values are derived the same way, one per constraint the spec states, so the
generated tests prove each constraint the spec asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.codegen.offline import files as b
from services.codegen.offline.columns import Column
from services.codegen.offline.design import ProjectDesign, Resource
from services.codegen.offline.files import ProjectFile
from services.codegen.offline.golden import GoldenPattern, edit
from services.codegen.offline.models import constant_name, enum_class
from services.codegen.offline.naming import words
from services.codegen.offline.pysrc import literal, q
from services.codegen.offline.schemas import body_fields

MISSING_INT = 999_999
MISSING_UUID = "00000000-0000-4000-8000-000000000000"


def missing_id(resource: Resource) -> str:
    return "MISSING_UUID" if resource.pk_kind == "uuid" else "MISSING_ID"


def _text(column: Column, text: str) -> str:
    limit = column.max_length or 10_000
    return text[:limit]


def payload_value(resource: Resource, column: Column) -> str:
    """Source of a valid JSON value for a request body."""
    if column.has_default and column.kind != "bool":
        return literal(column.default)
    if column.email:
        return q("owner@example.com")
    kind = column.kind
    if kind in ("str", "text"):
        return q(_text(column, f"{words(column.name).capitalize()} sample"))
    if kind in ("int", "float", "decimal"):
        return literal(
            column.ge
            if column.ge is not None
            else (column.le if column.le is not None and column.le < 1 else 1)
        )
    return {
        "bool": "True",
        "date": "(date.today() + timedelta(days=30)).isoformat()",
        "datetime": "(datetime.now(UTC) + timedelta(days=30)).isoformat()",
        "uuid": "str(uuid.uuid4())",
        "enum": q(column.choices[0]) if column.choices else '""',
        "json": "{}",
    }[kind]


def factory_value(resource: Resource, column: Column) -> str:
    """Source of a valid attribute value for a factory; `n` makes unique values unique."""
    if column.email:
        return 'f"user{n}@example.com"'
    kind = column.kind
    if kind in ("str", "text"):
        label = words(column.name).capitalize()
        return f'f"{label} {{n}}"' if (column.max_length or 100) >= len(label) + 8 else 'f"{n}"'
    if kind in ("int", "float", "decimal"):
        return literal(column.ge if column.ge is not None else 1)
    return {
        "bool": "True",
        "date": "date.today() + timedelta(days=30)",
        "datetime": "datetime.now(UTC) + timedelta(days=30)",
        "uuid": "uuid.uuid4()",
        "enum": f"{enum_class(resource, column)}.{constant_name(column.choices[0])}"
        if column.choices
        else '""',
        "json": "{}",
    }[kind]


def changed_value(column: Column) -> str | None:
    """A second valid JSON value, for update tests; None when there is none to pick."""
    kind = column.kind
    if column.email:
        return q("changed@example.com")
    if kind in ("str", "text") and not column.pattern:
        return q(_text(column, "Changed"))
    if kind == "int" and not column.references:
        return literal(column.le if column.le is not None else (column.ge or 0) + 2)
    if kind == "bool":
        return "False" if column.default is True else "True"
    if kind == "enum" and len(column.choices) > 1:
        return q(column.choices[-1])
    return None


def label_column(resource: Resource) -> Column | None:
    """The field update and round-trip tests change and compare."""
    ranked = sorted(
        (c for c in resource.writable if not c.references and changed_value(c) is not None),
        key=lambda c: (
            ("str", "text", "int", "enum", "bool").index(c.kind)
            if c.kind in ("str", "text", "int", "enum", "bool")
            else 9
        ),
    )
    return ranked[0] if ranked else None


@dataclass(frozen=True)
class Invalid:
    field: str
    value: str  # source; OMIT removes the field
    case: str


def invalid_values(resource: Resource) -> list[Invalid]:
    """One invalid body per constraint the spec states, plus an unknown field."""
    found: list[Invalid] = []
    for c in body_fields(resource):
        if c.required:
            found.append(Invalid(c.name, "OMIT", f"{c.name}-missing"))
        if c.kind == "str" and c.max_length:
            found.append(Invalid(c.name, f'"x" * {c.max_length + 1}', f"{c.name}-too-long"))
        if c.kind in ("str", "text") and c.required and not c.email:
            found.append(Invalid(c.name, '""', f"{c.name}-empty"))
        if c.email:
            found.append(Invalid(c.name, q("not-an-email"), f"{c.name}-not-an-email"))
        if c.le is not None:
            found.append(Invalid(c.name, literal(c.le + 1), f"{c.name}-above-maximum"))
        if c.ge is not None:
            found.append(Invalid(c.name, literal(c.ge - 1), f"{c.name}-below-minimum"))
        if c.kind == "enum":
            found.append(Invalid(c.name, q("not-a-choice"), f"{c.name}-not-a-choice"))
        if c.kind == "int" and not c.references:
            found.append(Invalid(c.name, '"3"', f"{c.name}-string-not-int"))
        if c.kind == "bool":
            found.append(Invalid(c.name, '"yes"', f"{c.name}-string-not-bool"))
        if c.kind == "date":
            found.append(Invalid(c.name, q("not-a-date"), f"{c.name}-not-a-date"))
        if c.not_in_past and c.kind == "date":
            found.append(
                Invalid(c.name, "(date.today() - timedelta(days=1)).isoformat()", f"{c.name}-in-the-past")
            )
    found.append(Invalid("unexpected_field", "1", "unknown-field"))
    return found


def payload_function(resource: Resource, design: ProjectDesign) -> str:
    """`async def <entity>_payload(session)`: a valid create body whose parents exist."""
    fields = body_fields(resource)
    parents = [c for c in fields if c.references]
    setup = "".join(
        f"    {c.name.removesuffix('_id')} = await {c.references}Factory.create(session)\n" for c in parents
    )
    values = [
        f"        {q(c.name)}: {c.name.removesuffix('_id')}.id,"
        if c.references
        else f"        {q(c.name)}: {payload_value(resource, c)},"
        for c in fields
    ]
    arg = "session" if parents else "_session"
    return (
        f"async def {resource.snake}_payload({arg}: AsyncSession) -> dict[str, Any]:\n"
        f'    """A valid body to create a {words(resource.name)}; the rows it refers to exist."""\n'
        f"{setup}    return {{\n" + "\n".join(values) + "\n    }\n"
    )


def _factory_class(resource: Resource) -> str:
    required = [c for c in resource.writable if c.required and not c.references]
    parents = [c for c in resource.writable if c.references and not c.nullable]
    values = "".join(f"            {q(c.name)}: {factory_value(resource, c)},\n" for c in required)
    body = f"        return {{\n{values}        }}\n" if values else "        return {}\n"
    parent_map = ", ".join(f"{q(c.name)}: {c.references}Factory" for c in parents)
    parent_line = (
        f"    parents: ClassVar[dict[str, type[Factory[Any]]]] = {{{parent_map}}}\n" if parents else ""
    )
    uses_n = "{n}" in values or "n}" in values
    return (
        f"class {resource.name}Factory(Factory[{resource.name}]):\n"
        f"    model = {resource.name}\n{parent_line}\n"
        "    @classmethod\n"
        f"    def defaults(cls, {'n' if uses_n else '_n'}: int) -> dict[str, Any]:\n{body}"
    )


def factories_module(design: ProjectDesign, golden: GoldenPattern) -> str:
    code = edit(
        golden.name,
        golden.code,
        (
            "field with keyword arguments. Password hashing is expensive by design, so the\n"
            "factory reuses one precomputed hash of ``DEFAULT_PASSWORD``.\n",
            "field with keyword arguments; required parents are created when not given.\n"
            "``<entity>_payload`` builds a valid request body for the same entity.\n",
        ),
        ("from functools import lru_cache\n", ""),
        ("from app.core.passwords import hash_password\n", ""),
        (
            "from app.models import Base, Item, User\n",
            "from app.models import "
            + ", ".join(
                sorted(
                    ["Base", *(r.name for r in design.resources)]
                    + [e for r in design.resources for e in _enums(r)]
                )
            )
            + "\n",
        ),
        ('DEFAULT_PASSWORD = "Correct-Horse-Battery-9"  # test-only credential\n', ""),
        (
            "@lru_cache(maxsize=1)\ndef default_password_hash() -> str:\n    return hash_password(DEFAULT_PASSWORD)\n\n\n",
            "",
        ),
        (
            "    model: ClassVar[type[Base]]\n",
            "    model: ClassVar[type[Base]]\n    # Foreign key attribute -> factory of the parent row it needs.\n    parents: ClassVar[dict[str, type[Factory[Any]]]] = {}\n",
        ),
        (
            "    async def create(cls, session: AsyncSession, **overrides: Any) -> ModelT:\n",
            "    async def create(cls, session: AsyncSession, **overrides: Any) -> ModelT:\n"
            "        for field, parent in cls.parents.items():\n"
            "            if field not in overrides:\n"
            "                overrides[field] = (await parent.create(session)).id\n",
        ),
    )
    code = code[: code.index("class UserFactory")]
    return code + "\n\n".join(_factory_class(r) for r in design.resources) + _payload_block(design)


def _enums(resource: Resource) -> list[str]:
    return [enum_class(resource, c) for c in resource.writable if c.kind == "enum" and c.required]


def _payload_block(design: ProjectDesign) -> str:
    helpers = (
        "\n\n# Marks a field to leave out of a body in parametrised validation tests.\n"
        'OMIT = "<omit>"\n'
        f"# Ids no row has: the database starts empty and ids count up from 1.\nMISSING_ID = {literal(MISSING_INT)}\n"
        f"MISSING_UUID = {q(MISSING_UUID)}\n\n\n"
        "def with_value(payload: dict[str, Any], field: str, value: object) -> dict[str, Any]:\n"
        '    """A copy of ``payload`` with ``field`` set to ``value``, or left out for OMIT."""\n'
        "    changed = {key: item for key, item in payload.items() if key != field}\n"
        "    if value != OMIT:\n"
        "        changed[field] = value\n"
        "    return changed\n"
    )
    return helpers + "".join("\n\n" + payload_function(r, design) for r in design.resources)


def factories_file(design: ProjectDesign, golden: dict[str, GoldenPattern]) -> ProjectFile:
    content = factories_module(design, golden["test-factories"])
    kinds = {c.kind for r in design.resources for c in r.writable}
    head = []
    if kinds & {"date", "datetime"}:
        names = sorted(
            {
                "timedelta",
                *(["date"] if "date" in kinds else []),
                *(["UTC", "datetime"] if "datetime" in kinds else []),
            },
            key=lambda n: (not n.isupper(), n),
        )
        head.append(f"from datetime import {', '.join(names)}\n")
    if "uuid" in kinds:
        content = content.replace("import itertools\n", "import itertools\nimport uuid\n")
    content = content.replace("import itertools\n", "import itertools\n" + "".join(head), 1)
    return ProjectFile("tests/factories.py", content, b.FIXTURES, ("test-factories",))
