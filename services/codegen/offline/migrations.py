"""Alembic revisions, one per entity in foreign-key order, from the golden script template.

Revision ids are the planner's file names (`0002_create_tasks`) so a MIGRATION task's
expected output is exactly the file that creates its table. Constraint names follow
the models' naming convention, so autogenerate finds nothing to change afterwards.
"""

from __future__ import annotations

from services.codegen.offline import files as b
from services.codegen.offline.columns import Column
from services.codegen.offline.design import Link, ProjectDesign, Resource
from services.codegen.offline.files import ProjectFile
from services.codegen.offline.golden import GoldenPattern, section
from services.codegen.offline.models import _sa_type, _server_default, check_constraints
from services.codegen.offline.naming import plural, snake
from services.codegen.offline.pysrc import Call, q, render


def revision_id(index: int, resource: Resource) -> str:
    return f"{index:04d}_create_{resource.table}"


def _sql_type(resource: Resource, column: Column) -> str | Call:
    if column.references is not None:
        return "sa.Uuid()" if column.kind == "uuid" else "sa.Integer()"
    found = _sa_type(resource, column, migration=True)
    return found if isinstance(found, Call) or found.endswith(")") else found + "()"


def _column(resource: Resource, column: Column) -> Call:
    args: list[str | Call] = [q(column.name), _sql_type(resource, column)]
    server_default = _server_default(column, migration=True)
    if server_default is not None:
        args.append(f"server_default={server_default}")
    args.append(f"nullable={column.nullable}")
    return Call("sa.Column", tuple(args))


def _table(resource: Resource) -> tuple[str, list[str]]:
    """(create_table call, index names) for one resource."""
    table = resource.table
    key_type = "sa.Uuid()" if resource.pk_kind == "uuid" else "sa.Integer()"
    parts: list[str | Call] = [q(table), Call("sa.Column", (q("id"), key_type, "nullable=False"))]
    parts += [_column(resource, c) for c in resource.columns]
    for name in ("created_at", "updated_at"):
        parts.append(
            Call(
                "sa.Column",
                (q(name), "sa.DateTime(timezone=True)", "server_default=sa.func.now()", "nullable=False"),
            )
        )
    parts.append(Call("sa.PrimaryKeyConstraint", (q("id"), f'name=op.f("pk_{table}")')))
    indexes = []
    for c in resource.columns:
        if c.references:
            target = plural(snake(c.references))
            ondelete = "SET NULL" if c.nullable else "CASCADE"
            parts.append(
                Call(
                    "sa.ForeignKeyConstraint",
                    (
                        f"[{q(c.name)}]",
                        f'["{target}.id"]',
                        f'name=op.f("fk_{table}_{c.name}_{target}")',
                        f'ondelete="{ondelete}"',
                    ),
                )
            )
            indexes.append(c.name)
        if c.unique:
            parts.append(Call("sa.UniqueConstraint", (q(c.name), f'name=op.f("uq_{table}_{c.name}")')))
        for name, sql in check_constraints(c):
            parts.append(Call("sa.CheckConstraint", (q(sql), f'name=op.f("ck_{table}_{name}")')))
    return render(Call("op.create_table", tuple(parts)), 1), indexes


def _link_table(link: Link, design: ProjectDesign) -> str:
    owner, item = design.resource(link.owner), design.resource(link.item)
    parts: list[str | Call] = [q(link.table)]
    for r in (owner, item):
        parts.append(
            Call(
                "sa.Column",
                (
                    q(f"{r.snake}_id"),
                    "sa.Uuid()" if r.pk_kind == "uuid" else "sa.Integer()",
                    "nullable=False",
                ),
            )
        )
    for r in (owner, item):
        parts.append(
            Call(
                "sa.ForeignKeyConstraint",
                (
                    f'["{r.snake}_id"]',
                    f'["{r.table}.id"]',
                    f'name=op.f("fk_{link.table}_{r.snake}_id_{r.table}")',
                    'ondelete="CASCADE"',
                ),
            )
        )
    parts.append(
        Call(
            "sa.PrimaryKeyConstraint",
            (q(f"{owner.snake}_id"), q(f"{item.snake}_id"), f'name=op.f("pk_{link.table}")'),
        )
    )
    return render(Call("op.create_table", tuple(parts)), 1)


def _create_index(table: str, column: str) -> str:
    return render(Call("op.create_index", (f'op.f("ix_{table}_{column}")', q(table), f"[{q(column)}]")), 1)


def _drop_index(table: str, column: str) -> str:
    return render(Call("op.drop_index", (f'op.f("ix_{table}_{column}")', f"table_name={q(table)}")), 1)


def revision_module(index: int, resource: Resource, design: ProjectDesign, template: GoldenPattern) -> str:
    previous = design.resources[index - 2] if index > 1 else None
    created, indexes = _table(resource)
    links = [link for link in design.links if design.link_migration_owner(link) == resource.name]
    up = [created, *(_create_index(resource.table, c) for c in indexes)]
    down = [*(_drop_index(resource.table, c) for c in indexes), f"    op.drop_table({q(resource.table)})"]
    for link in links:
        item = design.resource(link.item)
        up += [_link_table(link, design), _create_index(link.table, f"{item.snake}_id")]
        down = [_drop_index(link.table, f"{item.snake}_id"), f"    op.drop_table({q(link.table)})", *down]
    tables = ", ".join(f"``{t}``" for t in [resource.table, *(link.table for link in links)])
    # The golden template's import block, verbatim: migrations import nothing else.
    header = section(template.name, template.code, "from collections.abc import Sequence", "${imports")
    down_revision = q(revision_id(index - 1, previous)) if previous else "None"
    return (
        f'"""Create {tables}.\n\nRevision ID: {revision_id(index, resource)}\n'
        f"Revises: {revision_id(index - 1, previous) if previous else 'nothing, the first revision'}\n"
        '"""\n\n'
        f"{header.rstrip()}\n\n"
        f"revision: str = {q(revision_id(index, resource))}\n"
        f"down_revision: str | Sequence[str] | None = {down_revision}\n"
        "branch_labels: str | Sequence[str] | None = None\n"
        "depends_on: str | Sequence[str] | None = None\n\n\n"
        "def upgrade() -> None:\n"
        f'    """Create {tables} with their constraints and indexes."""\n'
        + "\n".join(up)
        + "\n\n\ndef downgrade() -> None:\n"
        f'    """Drop {tables}, restoring the schema of the previous revision."""\n' + "\n".join(down) + "\n"
    )


def migration_files(design: ProjectDesign, golden: dict[str, GoldenPattern]) -> list[ProjectFile]:
    template = golden["alembic-script-template"]
    return [
        ProjectFile(
            f"migrations/versions/{revision_id(i, r)}.py",
            revision_module(i, r, design, template),
            b.entity_bundle(b.MIGRATION, r.name),
            ("alembic-script-template", "alembic-setup"),
        )
        for i, r in enumerate(design.resources, 1)
    ]
