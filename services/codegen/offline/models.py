"""Per-entity ORM models, the models registry and the Alembic migrations.

Models follow the golden owned-resource-model: integer (or UUID) primary key and
timestamp mixins, explicit nullability, lengths and check constraints, indexed
foreign keys with a deliberate ON DELETE (CASCADE for a required parent, SET NULL
for an optional one). Migrations spell out the same table with plain SQLAlchemy
types (never application imports, as the golden alembic setup asks), one revision
per entity in foreign-key order, each with a downgrade that drops what it created.
"""

from __future__ import annotations

from services.codegen.offline import files as b
from services.codegen.offline.columns import Column
from services.codegen.offline.design import Link, ProjectDesign, Resource, doc_text
from services.codegen.offline.files import ProjectFile
from services.codegen.offline.golden import GoldenPattern, section
from services.codegen.offline.naming import plural, snake
from services.codegen.offline.pysrc import LINE_LENGTH, Call, imports, literal, q, render

SA_TYPES = {
    "text": "Text",
    "int": "Integer",
    "float": "Float",
    "bool": "Boolean",
    "date": "Date",
    "json": "JSON",
    "uuid": "Uuid",
}
PY_TYPES = {
    "str": "str",
    "text": "str",
    "int": "int",
    "float": "float",
    "decimal": "Decimal",
    "bool": "bool",
    "date": "date",
    "datetime": "datetime",
    "uuid": "uuid.UUID",
    "json": "dict[str, Any]",
}


def enum_class(resource: Resource, column: Column) -> str:
    """`Task.status` -> `TaskStatus`."""
    return resource.name + "".join(part.capitalize() for part in column.name.split("_"))


def python_type(resource: Resource, column: Column) -> str:
    if column.kind == "enum":
        return enum_class(resource, column)
    if column.references is not None:
        return "uuid.UUID" if column.kind == "uuid" else "int"
    return PY_TYPES[column.kind]


def _sa_type(resource: Resource, column: Column, migration: bool) -> str | Call:
    prefix = "sa." if migration else ""
    if column.kind == "str":
        return f"{prefix}String({column.max_length})"
    if column.kind == "decimal":
        return f"{prefix}Numeric({column.precision[0]}, {column.precision[1]})"
    if column.kind == "datetime":
        return "sa.DateTime(timezone=True)" if migration else "TZDateTime()"
    if column.kind == "enum":
        values = [q(c) for c in column.choices] if migration else [enum_class(resource, column)]
        options = [
            f"name={q(f'{resource.snake}_{column.name}')}",
            "native_enum=False",
            "create_constraint=True",
            f"length={max(len(c) for c in column.choices)}",
        ]
        if not migration:
            # Store the values ("in_progress"), not the member names ("IN_PROGRESS").
            options.append("values_callable=lambda members: [m.value for m in members]")
        return Call(f"{prefix}Enum", (*values, *options))
    return prefix + SA_TYPES[column.kind]


def _server_default(column: Column, migration: bool) -> str | None:
    if not column.has_default:
        return None
    if column.kind == "bool":
        return ("sa." if migration else "") + ("true()" if column.default else "false()")
    return q(str(column.default))


def _default(resource: Resource, column: Column) -> str | None:
    if not column.has_default:
        return None
    if column.kind == "enum":
        return f"{enum_class(resource, column)}.{constant_name(str(column.default))}"
    return literal(column.default)


def constant_name(value: str) -> str:
    from services.codegen.offline.naming import constant

    return constant(value)


def _foreign_key(column: Column, migration: bool) -> str:
    target = plural(snake(column.references or ""))
    ondelete = "SET NULL" if column.nullable else "CASCADE"
    return f'{"sa." if migration else ""}ForeignKey("{target}.id", ondelete="{ondelete}")'


def check_constraints(column: Column) -> list[tuple[str, str]]:
    """(name, SQL) of the CHECK constraints a column's range and pattern need."""
    checks = []
    if column.ge is not None and column.le is not None:
        checks.append(
            (f"{column.name}_range", f"{column.name} >= {column.ge} AND {column.name} <= {column.le}")
        )
    elif column.ge is not None:
        checks.append((f"{column.name}_min", f"{column.name} >= {column.ge}"))
    elif column.le is not None:
        checks.append((f"{column.name}_max", f"{column.name} <= {column.le}"))
    return checks


def _model_column(resource: Resource, column: Column) -> str:
    annotation = python_type(resource, column) + (" | None" if column.nullable else "")
    args: list[str | Call] = [_foreign_key(column, False)] if column.references else []
    if not column.references:
        args.append(_sa_type(resource, column, False))
    default = _default(resource, column)
    server_default = _server_default(column, False)
    if default is not None:
        args.append(f"default={default}")
    if server_default is not None:
        args.append(f"server_default={server_default}")
    if column.references:
        args.append("index=True")
    if column.unique:
        args.append("unique=True")
    if not column.nullable:
        args.append("nullable=False")
    return render(Call("mapped_column", tuple(args)), 1, prefix=f"{column.name}: Mapped[{annotation}] = ")


def _model_imports(resource: Resource, links: list[Link]) -> str:
    kinds = {c.kind for c in resource.columns}
    sa = {"ForeignKey"} if any(c.references for c in resource.columns) else set()
    sa |= {SA_TYPES[k] for k in kinds if k in SA_TYPES and not (k == "int" and _only_fk_ints(resource))}
    sa |= {"String"} if "str" in kinds else set()
    sa |= {"Numeric"} if "decimal" in kinds else set()
    sa |= {"Enum"} if "enum" in kinds else set()
    sa |= {"CheckConstraint"} if any(check_constraints(c) for c in resource.columns) else set()
    sa |= {"Column", "ForeignKey", "Table"} if links else set()
    sa |= {"true" if c.default else "false" for c in resource.columns if c.kind == "bool" and c.has_default}
    stdlib: dict[str, set[str]] = {}
    plain: set[str] = set()
    if "date" in kinds:
        stdlib.setdefault("datetime", set()).add("date")
    if "datetime" in kinds:
        stdlib.setdefault("datetime", set()).add("datetime")
    if "decimal" in kinds:
        stdlib.setdefault("decimal", set()).add("Decimal")
    if "json" in kinds:
        stdlib.setdefault("typing", set()).add("Any")
    if "enum" in kinds:
        plain.add("enum")
    if resource.pk_kind == "uuid" or "uuid" in kinds:
        plain.add("uuid")
    mixin = "UUIDPrimaryKeyMixin" if resource.pk_kind == "uuid" else "IntegerPrimaryKeyMixin"
    first: dict[str, set[str]] = {"app.models.base": {"Base", mixin, "TimestampMixin"}}
    if "datetime" in kinds:
        first["app.models.types"] = {"TZDateTime"}
    return imports(
        [stdlib, {"sqlalchemy": sa, "sqlalchemy.orm": {"Mapped", "mapped_column"}}, first],
        [plain, set(), set()],
    )


def _only_fk_ints(resource: Resource) -> bool:
    return all(c.references for c in resource.columns if c.kind == "int")


def _enum_source(resource: Resource, column: Column) -> str:
    members = "".join(f"    {constant_name(c)} = {q(c)}\n" for c in column.choices)
    return (
        f"class {enum_class(resource, column)}(enum.StrEnum):\n"
        f'    """Allowed values of ``{resource.name}.{column.name}``."""\n\n{members}'
    )


def _link_table(link: Link, design: ProjectDesign) -> str:
    owner, item = design.resource(link.owner), design.resource(link.item)
    columns = [
        Call(
            "Column",
            (q(f"{r.snake}_id"), f'ForeignKey("{r.table}.id", ondelete="CASCADE")', "primary_key=True"),
        )
        for r in (owner, item)
    ]
    body = render(Call("Table", (q(link.table), "Base.metadata", *columns)), 0, prefix=f"{link.table} = ")
    return (
        f"# Which {item.table} each {owner.snake} carries ({'PUT'} {owner.table}/{{id}}/{item.table}); the\n"
        f"# composite primary key indexes {owner.snake}_id, the index below the reverse lookup.\n"
        f"{body}\nIndex({q(f'ix_{link.table}_{item.snake}_id')}, {link.table}.c.{item.snake}_id)\n"
    )


def model_module(resource: Resource, design: ProjectDesign, golden: GoldenPattern) -> str:
    links = [link for link in design.links if link.item == resource.name]
    head = _model_imports(resource, links)
    if links:
        head = head.replace("from sqlalchemy import ", "from sqlalchemy import Index, ", 1)
        head = _resort_sqlalchemy(head)
    mixin = "UUIDPrimaryKeyMixin" if resource.pk_kind == "uuid" else "IntegerPrimaryKeyMixin"
    checks = [
        Call("CheckConstraint", (q(sql), f"name={q(name)}"))
        for c in resource.columns
        for name, sql in check_constraints(c)
    ]
    table_args = _table_args([c.flat() for c in checks])
    description = (
        doc_text(resource.description)
        or f"A {resource.snake.replace('_', ' ')} of the {doc_text(design.title)} service."
    )
    # The golden model's docstring explains why foreign keys are indexed; kept where it applies.
    why = (
        section(golden.name, golden.code, "The foreign key is indexed", '"""').strip()
        if resource.parents
        else ""
    )
    why = (
        why.replace(
            '"items of user X"', f'"{resource.table} of a {snake(resource.parents[0]).replace("_", " ")}"'
        )
        if why
        else ""
    )
    doc = (
        f'"""{resource.name} model: the ``{resource.table}`` table.\n\n{description}\n'
        + (f"\n{why}\n" if why else "")
        + '"""\n'
    )
    enums = "".join(_enum_source(resource, c) + "\n\n" for c in resource.columns if c.kind == "enum")
    columns = "\n".join(_model_column(resource, c) for c in resource.columns)
    body = (
        f"class {resource.name}({mixin}, TimestampMixin, Base):\n"
        f'    """{description}"""\n\n'
        f'    __tablename__ = "{resource.table}"\n{table_args}' + (f"\n{columns}\n" if columns else "")
    )
    link_tables = "".join("\n\n" + _link_table(link, design) for link in links)
    return f"{doc}\nfrom __future__ import annotations\n\n{head}\n\n{enums}{body}{link_tables}"


def _table_args(items: list[str]) -> str:
    if not items:
        return ""
    one_line = f"    __table_args__ = ({', '.join(items)}{',' if len(items) == 1 else ''})"
    if len(one_line) <= LINE_LENGTH:
        return one_line + "\n"
    return "    __table_args__ = (\n" + "".join(f"        {item},\n" for item in items) + "    )\n"


def _resort_sqlalchemy(head: str) -> str:
    lines = head.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("from sqlalchemy import "):
            names = sorted(
                line.removeprefix("from sqlalchemy import ").split(", "), key=lambda n: (not n.isupper(), n)
            )
            lines[i] = "from sqlalchemy import " + ", ".join(names)
    return "\n".join(lines) + "\n"


def registry_module(design: ProjectDesign, golden: GoldenPattern) -> str:
    """app/models/__init__.py: the golden registry, listing the spec's models."""
    doc = section(golden.name, golden.code, '"""Import every model', "\nfrom app.models")
    names = sorted(
        [
            "Base",
            "TimestampMixin",
            *(r.name for r in design.resources),
            *(link.table for link in design.links),
        ]
    )
    modules: dict[str, set[str]] = {
        "app.models.base": {"Base", "IntegerPrimaryKeyMixin", "TimestampMixin", "UUIDPrimaryKeyMixin"}
    }
    for resource in design.resources:
        extra = {link.table for link in design.links if link.item == resource.name}
        modules[f"app.models.{resource.snake}"] = {resource.name, *extra}
    # Sorted by module like ruff's isort: an entity module may sort before `base`.
    lines = [imports([modules]).rstrip("\n")]
    names = sorted(
        [*names, "IntegerPrimaryKeyMixin", "UUIDPrimaryKeyMixin"], key=lambda n: (not n[:1].isupper(), n)
    )
    exported = render(
        Call("", tuple(q(n) for n in names)).flat().replace("(", "[", 1)[:-1] + "]", 0, prefix="__all__ = "
    )
    if len(exported) > 110:
        exported = "__all__ = [\n" + "".join(f"    {q(n)},\n" for n in names) + "]"
    return f"{doc.rstrip()}\n\n" + "\n".join(lines) + f"\n\n{exported}\n"


def model_files(design: ProjectDesign, golden: dict[str, GoldenPattern]) -> list[ProjectFile]:
    found = [
        ProjectFile(
            f"app/models/{r.snake}.py",
            model_module(r, design, golden["owned-resource-model"]),
            b.entity_bundle(b.MODEL, r.name),
            ("owned-resource-model", "async-declarative-base", "timezone-aware-datetimes"),
        )
        for r in design.resources
    ]
    found.append(
        ProjectFile(
            "app/models/__init__.py",
            registry_module(design, golden["models-registry"]),
            b.DATABASE,
            ("models-registry",),
        )
    )
    return found
