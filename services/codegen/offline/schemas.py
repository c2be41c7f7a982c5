"""Per-entity request and response schemas, derived from the golden item-schemas.

Like the golden module: one constrained `Annotated` alias per field (lengths, ranges,
choices from the spec), a strict create body, a partial update body that refuses
null for NOT NULL columns, and a read model with timezone-aware timestamps. Plain
text is sanitised (golden html-sanitization) and emails are checked and normalised
the way the golden auth schemas do it.
"""

from __future__ import annotations

from services.codegen.offline import files as b
from services.codegen.offline.columns import TEXT_MAX_LENGTH, Column
from services.codegen.offline.design import ProjectDesign, Resource
from services.codegen.offline.files import ProjectFile
from services.codegen.offline.golden import GoldenPattern, section
from services.codegen.offline.models import constant_name, enum_class, python_type
from services.codegen.offline.naming import plural
from services.codegen.offline.pysrc import imports, literal, q

MAX_LINKS = 100
_RESERVED = {"Field", "Annotated", "PlainText", "StrictInput", "PartialUpdate", "TimestampedRead", "Any"}


def alias_name(resource: Resource, column: Column) -> str:
    name = "".join(part.capitalize() for part in column.name.split("_"))
    taken = _RESERVED | {enum_class(resource, c) for c in resource.columns if c.kind == "enum"}
    return f"{name}Value" if name in taken or name == resource.name else name


def _field_args(column: Column) -> list[str]:
    args = []
    if column.kind in ("date", "datetime", "uuid", "enum", "decimal"):
        # FastAPI validates bodies in Python mode, where strict mode would refuse these as JSON strings.
        args.append("strict=False")
    if column.min_length is not None:
        args.append(f"min_length={column.min_length}")
    elif column.kind in ("str", "text") and column.required:
        args.append("min_length=1")
    if column.kind == "str":
        args.append(f"max_length={column.max_length}")
    if column.kind == "text":
        args.append(f"max_length={literal(TEXT_MAX_LENGTH)}")
    if column.references is not None and column.kind == "int":
        args.append("ge=1")
    for bound, value in (("ge", column.ge), ("le", column.le)):
        if value is not None:
            args.append(f"{bound}={literal(value)}")
    if column.pattern:
        args.append(f"pattern={q(column.pattern)}")
    if column.kind == "decimal":
        args += [f"max_digits={column.precision[0]}", f"decimal_places={column.precision[1]}"]
    return args


def _alias(resource: Resource, column: Column) -> str:
    base = {
        "str": "PlainText",
        "text": "PlainText",
        "datetime": "AwareDatetime",
    }.get(column.kind, python_type(resource, column))
    if column.email:
        base = "str"
    args = _field_args(column)
    if not args:
        return f"{alias_name(resource, column)} = {base}"
    return f"{alias_name(resource, column)} = Annotated[{base}, Field({', '.join(args)})]"


def _default(resource: Resource, column: Column) -> str:
    if column.kind == "enum":
        return f"{enum_class(resource, column)}.{constant_name(str(column.default))}"
    return literal(column.default)


def _create_line(resource: Resource, column: Column) -> str:
    alias = alias_name(resource, column)
    if column.required:
        return f"    {column.name}: {alias}"
    optional = " | None" if column.nullable else ""
    default = _default(resource, column) if column.has_default else "None"
    return f"    {column.name}: {alias}{optional} = {default}"


def body_fields(resource: Resource) -> tuple[Column, ...]:
    """Create-body fields: a foreign key that only a nested route sets comes from the path."""
    if resource.route("create") is not None:
        return resource.writable
    from_path = {r.parent for r in resource.routes if r.op == "create_nested"}
    return tuple(c for c in resource.writable if c.references not in from_path)


def _validators(resource: Resource, columns: tuple[Column, ...], on_create: bool) -> str:
    code = ""
    emails = [c.name for c in columns if c.email]
    if emails:
        names = ", ".join(q(n) for n in emails)
        optional = any(c.nullable for c in columns if c.email) or not on_create
        value = "str | None" if optional else "str"
        guard = "        if value is None:\n            return None\n" if optional else ""
        code += (
            f"\n    @field_validator({names})\n    @classmethod\n"
            f"    def _check_email(cls, value: {value}) -> {value}:\n{guard}"
            "        return normalise_email(value)\n"
        )
    past = [c for c in columns if c.not_in_past] if on_create else []
    for column in past:
        today = "date.today()" if column.kind == "date" else "datetime.now(UTC)"
        code += (
            f'\n    @field_validator("{column.name}")\n    @classmethod\n'
            f"    def _{column.name}_not_in_past(cls, value: {python_type(resource, column)} | None)"
            f" -> {python_type(resource, column)} | None:\n"
            f"        if value is not None and value < {today}:\n"
            f'            raise ValueError("{column.name} must not be in the past")\n'
            "        return value\n"
        )
    return code


def _update_class(resource: Resource) -> str:
    lines = [f"    {c.name}: {alias_name(resource, c)} | None = None" for c in resource.writable]
    not_null = [c.name for c in resource.writable if not c.nullable]
    check = ""
    if not_null:
        fields = ", ".join(q(n) for n in not_null) + ("," if len(not_null) == 1 else "")
        check = (
            '\n    @model_validator(mode="after")\n'
            f"    def _reject_null_for_required_columns(self) -> {resource.name}Update:\n"
            "        # Only the nullable columns accept null; null elsewhere is a client error.\n"
            f"        for field in ({fields}):\n"
            "            if field in self.model_fields_set and getattr(self, field) is None:\n"
            '                raise ValueError(f"{field} cannot be null")\n'
            "        return self\n"
        )
    return (
        f"class {resource.name}Update(PartialUpdate):\n"
        f'    """Body of a partial update: only the fields sent are changed."""\n\n'
        + "\n".join(lines)
        + "\n"
        + check
        + _validators(resource, resource.writable, on_create=False)
    )


def _read_class(resource: Resource) -> str:
    key = "uuid.UUID" if resource.pk_kind == "uuid" else "int"
    lines = [f"    id: {key}"] + [
        f"    {c.name}: {python_type(resource, c)}{' | None' if c.nullable else ''}" for c in resource.columns
    ]
    return (
        f"class {resource.name}Read(TimestampedRead):\n"
        f'    """A {resource.snake.replace("_", " ")} as the API returns it."""\n\n' + "\n".join(lines) + "\n"
    )


def _links_class(resource: Resource, design: ProjectDesign) -> str:
    code = ""
    for link in (x for x in design.links if x.item == resource.name):
        owner = design.resource(link.owner)
        key = "uuid.UUID" if resource.pk_kind == "uuid" else "int"
        bound = "strict=False" if key == "uuid.UUID" else "ge=1"
        code += (
            f"\n\nclass {owner.name}{plural(resource.name)}Replace(StrictInput):\n"
            f'    """The complete set of {resource.table} a {owner.snake.replace("_", " ")} carries."""\n\n'
            f"    {resource.snake}_ids: Annotated[list[Annotated[{key}, Field({bound})]], Field(max_length={MAX_LINKS})]\n"
        )
    return code


def has_update_schema(resource: Resource) -> bool:
    return bool(resource.writable) and any(r.op == "update" for r in resource.routes)


def _imports(resource: Resource, design: ProjectDesign) -> str:
    kinds = {c.kind for c in resource.columns}
    writable_kinds = {c.kind for c in resource.writable}
    stdlib: dict[str, set[str]] = {"typing": {"Annotated"}}
    plain: set[str] = set()
    date_names = {n for k, n in (("date", "date"), ("datetime", "datetime")) if k in kinds}
    if any(c.not_in_past and c.kind == "datetime" for c in resource.columns):
        date_names.add("UTC")
    if date_names:
        stdlib["datetime"] = date_names
    if "decimal" in kinds:
        stdlib["decimal"] = {"Decimal"}
    if "json" in kinds:
        stdlib["typing"].add("Any")
    if resource.pk_kind == "uuid" or "uuid" in kinds:
        plain.add("uuid")
    pydantic = {"Field"}
    if "datetime" in writable_kinds:
        pydantic.add("AwareDatetime")
    if any(c.email for c in resource.writable) or any(c.not_in_past for c in resource.writable):
        pydantic.add("field_validator")
    has_update = has_update_schema(resource)
    if has_update and any(not c.nullable for c in resource.writable):
        pydantic.add("model_validator")
    base = {"StrictInput", "TimestampedRead"} | ({"PartialUpdate"} if has_update else set())
    first: dict[str, set[str]] = {"app.schemas.base": base}
    if writable_kinds & {"str", "text"} and any(
        not c.email for c in resource.writable if c.kind in ("str", "text")
    ):
        first["app.core.sanitize"] = {"PlainText"}
    enums = {enum_class(resource, c) for c in resource.columns if c.kind == "enum"}
    if enums:
        first[f"app.models.{resource.snake}"] = enums
    if any(c.email for c in resource.writable):
        first["app.schemas.base"].add("normalise_email")
    return imports([stdlib, {"pydantic": pydantic}, first], [plain, set(), set()])


def schema_module(resource: Resource, design: ProjectDesign) -> str:
    aliases = "\n".join(_alias(resource, c) for c in resource.writable)
    create = "\n".join(_create_line(resource, c) for c in body_fields(resource)) or "    pass"
    create_class = (
        f"class {resource.name}Create(StrictInput):\n"
        f'    """Body of a request that creates a {resource.snake.replace("_", " ")}."""\n\n'
        f"{create}\n" + _validators(resource, body_fields(resource), on_create=True)
    )
    parts = [create_class]
    if has_update_schema(resource):
        parts.append(_update_class(resource))
    parts.append(_read_class(resource))
    return (
        f'"""Request and response schemas for {resource.table}."""\n\n'
        "from __future__ import annotations\n\n"
        f"{_imports(resource, design)}\n{aliases}\n\n\n" + "\n\n".join(parts) + _links_class(resource, design)
    )


def email_helpers(auth_schemas: GoldenPattern) -> str:
    """The golden auth schemas' email check, shared by every schema with an email field."""
    pattern = section(auth_schemas.name, auth_schemas.code, "# Pragmatic syntax check", "\nEmail = ")
    check = section(auth_schemas.name, auth_schemas.code, "def _normalise_email", "\n\nclass ")
    public = check.replace(
        "def _normalise_email(value: str) -> str:\n",
        'def normalise_email(value: str) -> str:\n    """Trim and lower-case an email address; raise ValueError when it is not one."""\n',
    )
    return f"\n\n{pattern.rstrip()}\n\n\n{public.rstrip()}\n"


def schema_files(design: ProjectDesign, golden: dict[str, GoldenPattern]) -> list[ProjectFile]:
    return [
        ProjectFile(
            f"app/schemas/{r.snake}.py",
            schema_module(r, design),
            b.entity_bundle(b.SCHEMAS, r.name),
            ("item-schemas", "strict-mode-schemas", "html-sanitization")
            + (("auth-schemas",) if any(c.email for c in r.columns) else ()),
        )
        for r in design.resources
    ]
