"""Generated model tests, cross-resource flows and the migrations test."""

from __future__ import annotations

import re

from services.codegen.offline import files as b
from services.codegen.offline.design import ProjectDesign, Resource
from services.codegen.offline.files import ProjectFile
from services.codegen.offline.models import check_constraints
from services.codegen.offline.pysrc import literal, q
from services.codegen.offline.schemas import body_fields
from services.codegen.offline.testdata import invalid_values, missing_id, payload_value

HEAD = "from __future__ import annotations\n\n"


def _model_tests(r: Resource) -> str:
    s = r.snake
    defaults = [c for c in r.writable if c.has_default]
    asserts = "".join(
        f"    assert {s}.{c.name} {'is' if c.kind == 'bool' else '=='} {literal(c.default)}\n"
        for c in defaults
    )
    code = (
        f"async def test_{s}_gets_defaults_and_aware_timestamps(db_session: AsyncSession) -> None:\n"
        f"    {s} = await {r.name}Factory.create(db_session)\n\n{asserts}"
        f"    assert {s}.created_at.tzinfo is not None\n    assert {s}.updated_at >= {s}.created_at\n\n\n"
        f"async def test_{s}_repository_get_returns_none_for_unknown_id(db_session: AsyncSession) -> None:\n"
        f"    assert await {r.name}Repository(db_session).get({missing_id(r)}) is None\n"
    )
    for c in (c for c in r.writable if c.unique):
        code += (
            f"\n\nasync def test_{s}_{c.name}_is_unique(db_session: AsyncSession) -> None:\n"
            f"    first = await {r.name}Factory.create(db_session)\n\n"
            "    with pytest.raises(IntegrityError):\n"
            f"        await {r.name}Factory.create(db_session, {c.name}=first.{c.name})\n"
        )
    for c in r.writable:
        for name, _ in check_constraints(c):
            bad = (c.le + 1) if c.le is not None else (c.ge - 1 if c.ge is not None else 0)
            code += (
                f"\n\nasync def test_{s}_{name}_is_checked_by_the_database(db_session: AsyncSession) -> None:\n"
                "    with pytest.raises(IntegrityError):\n"
                f"        await {r.name}Factory.create(db_session, {c.name}={literal(bad)})\n"
            )
    return code


def unit_test_module(design: ProjectDesign) -> str:
    body = "\n\n".join(_model_tests(r) for r in design.resources)
    factories = sorted(f"{r.name}Factory" for r in design.resources)
    misses = sorted({missing_id(r) for r in design.resources})
    repos = "".join(
        f"from app.repositories.{r.snake} import {r.name}Repository\n"
        for r in sorted(design.resources, key=lambda x: x.snake)
    )
    return (
        '"""Model and repository tests: constraints and defaults are enforced by the database."""\n\n'
        f"{HEAD}"
        + ("import pytest\nfrom sqlalchemy.exc import IntegrityError\n" if "pytest." in body else "")
        + "from sqlalchemy.ext.asyncio import AsyncSession\n\n"
        f"{repos}from tests.factories import {', '.join([*misses, *factories])}\n\n\n{body}"
    )


def _cascade_tests(design: ProjectDesign) -> list[str]:
    tests = []
    for child in design.resources:
        get = child.route("get")
        for column in (c for c in child.writable if c.references and not c.nullable):
            parent = design.resource(column.references or "")
            delete = parent.route("delete")
            if get is None or delete is None:
                continue
            parent_url = f'f"{{API}}{delete.path.replace("{" + parent.snake + "_id}", "{" + child.snake + "." + column.name + "}")}"'
            child_url = (
                f'f"{{API}}{get.path.replace("{" + child.snake + "_id}", "{" + child.snake + ".id}")}"'
            )
            tests.append(
                f"async def test_deleting_a_{parent.snake}_deletes_its_{child.table}(\n"
                "    client: AsyncClient, db_session: AsyncSession\n) -> None:\n"
                f"    {child.snake} = await {child.name}Factory.create(db_session)\n\n"
                f"    deleted = await client.delete({parent_url})\n\n"
                "    assert deleted.status_code == 204\n"
                f"    assert (await client.get({child_url})).status_code == 404\n"
            )
    return tests


def _round_trip(design: ProjectDesign) -> str:
    creates = [(r, r.route("create")) for r in design.resources if r.route("create")]
    if not creates:
        return ""
    steps = "".join(
        f'    created = await client.post(f"{{API}}{route.path}", json=await {r.snake}_payload(db_session))\n'
        f"    assert created.status_code == 201, created.text\n"
        for r, route in creates
        if route is not None
    )
    lists = [(r, r.route("list")) for r in design.resources if r.route("list")]
    reads = "".join(
        f'    listed = await client.get(f"{{API}}{route.path}")\n    assert listed.json()["total"] >= 1\n'
        for r, route in lists
        if route is not None and r.route("create")
    )
    return (
        "async def test_every_resource_round_trips_through_the_api(\n"
        "    client: AsyncClient, db_session: AsyncSession\n) -> None:\n"
        f'    """Create each resource through its public route, parents first, then list them."""\n{steps}{reads}'
    )


def flows_module(design: ProjectDesign) -> str:
    tests = [t for t in [_round_trip(design), *_cascade_tests(design)] if t]
    if not tests:
        tests = [
            'async def test_the_api_serves_its_schema(client: AsyncClient) -> None:\n    response = await client.get("/openapi.json")\n\n    assert response.status_code == 200\n'
        ]
    body = "\n\n".join(tests)
    names = sorted(
        {f"{r.name}Factory" for r in design.resources if f"{r.name}Factory." in body}
        | {f"{r.snake}_payload" for r in design.resources if f"{r.snake}_payload(" in body},
        key=lambda n: (not n[:1].isupper(), n),
    )
    needs_session = "db_session" in body
    return (
        '"""End-to-end flows across resources through the public API."""\n\n'
        f"{HEAD}from httpx import AsyncClient\n"
        + ("from sqlalchemy.ext.asyncio import AsyncSession\n" if needs_session else "")
        + (f"\nfrom tests.factories import {', '.join(names)}\n" if names else "")
        + f'\nAPI = "{design.api_prefix}"\n\n\n{body}'
    )


MIGRATIONS_TEST = '''"""The migrations build exactly the models' schema and revert cleanly."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from app.models import Base
from tests.schema import downgrade_to_base, schema_differences, table_names, upgrade_to_head


async def test_migrations_match_the_models(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        differences = await connection.run_sync(schema_differences)

    assert differences == []


async def test_downgrade_drops_every_table_and_upgrade_restores_them(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(downgrade_to_base)
        remaining = await connection.run_sync(table_names)
        await connection.run_sync(upgrade_to_head)
        restored = await connection.run_sync(table_names)

    assert remaining <= {"alembic_version"}
    assert restored >= set(Base.metadata.tables)
'''


def flow_files(design: ProjectDesign) -> list[ProjectFile]:
    # Without resources there is no model to test; the module would import nothing.
    models = [
        ProjectFile(
            "tests/unit/test_models.py",
            unit_test_module(design),
            b.UNIT_TESTS,
            ("api-integration-tests", "test-factories"),
        )
    ]
    return [
        *(models if design.resources else []),
        ProjectFile(
            "tests/integration/test_flows.py",
            flows_module(design),
            b.INTEGRATION_TESTS,
            ("api-integration-tests",),
        ),
        ProjectFile(
            "tests/unit/test_schemas.py", schema_test_module(design), b.UNIT_TESTS, ("item-schemas",)
        ),
        ProjectFile(
            "tests/integration/test_migrations.py", MIGRATIONS_TEST, b.INTEGRATION_TESTS, ("alembic-setup",)
        ),
    ]


def _schema_tests(r: Resource, design: ProjectDesign) -> str:
    fields = body_fields(r)
    values = "".join(
        f"    {q(c.name)}: {'1' if c.references and c.kind == 'int' else payload_value(r, c)},\n"
        for c in fields
    )
    cases = "".join(
        f"        pytest.param({q(c.field)}, {c.value}, id={q(c.case)}),\n" for c in invalid_values(r)
    )
    valid = f"VALID_{r.snake.upper()}"
    return (
        f"{valid}: dict[str, Any] = {{\n{values}}}\n\n\n"
        f"def test_{r.snake}_create_accepts_a_valid_body() -> None:\n"
        f"    body = {r.name}Create.model_validate({valid})\n\n"
        f"    assert body.model_dump(exclude_unset=True).keys() == {valid}.keys()\n\n\n"
        f'@pytest.mark.parametrize(\n    ("field", "value"),\n    [\n{cases}    ],\n)\n'
        f"def test_{r.snake}_create_rejects_invalid_field(field: str, value: object) -> None:\n"
        f"    with pytest.raises(ValidationError) as caught:\n"
        f"        {r.name}Create.model_validate(with_value({valid}, field, value))\n\n"
        '    assert any(error["loc"][-1] == field for error in caught.value.errors())\n'
    )


def schema_test_module(design: ProjectDesign) -> str:
    body = "\n\n".join(_schema_tests(r, design) for r in design.resources)
    stdlib = sorted(n for n in ("date", "timedelta") if re.search(rf"\b{n}[.(]", body))
    schemas = "".join(
        f"from app.schemas.{r.snake} import {r.name}Create\n"
        for r in sorted(design.resources, key=lambda x: x.snake)
    )
    return (
        '"""Schema unit tests: each constraint the spec states is enforced before any I/O."""\n\n'
        f"{HEAD}"
        + (f"from datetime import {', '.join(stdlib)}\n" if stdlib else "")
        + "from typing import Any\n\nimport pytest\nfrom pydantic import ValidationError\n\n"
        f"{schemas}from tests.factories import OMIT, with_value\n\n{body}"
    )
