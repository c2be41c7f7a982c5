"""Generated test modules: per-resource API tests, model tests, flows and probes.

Derived from the golden api-integration-tests: every route gets its success case
and its error cases (404 for unknown ids and parents, 422 for each constraint the
spec states, 409 for unique clashes), through httpx.AsyncClient + ASGITransport.
"""

from __future__ import annotations

import re

from services.codegen.offline import files as b
from services.codegen.offline.design import ProjectDesign, Resource, Route
from services.codegen.offline.files import ProjectFile
from services.codegen.offline.golden import GoldenPattern, section
from services.codegen.offline.infrastructure import probe_paths
from services.codegen.offline.pysrc import q
from services.codegen.offline.routes import handler_name
from services.codegen.offline.testdata import changed_value, invalid_values, label_column, missing_id

HEAD = "from __future__ import annotations\n\n"


def _url(route: Route, **ids: str) -> str:
    path = route.path
    for name, value in ids.items():
        path = path.replace("{" + name + "}", "{" + value + "}")
    return f'f"{{API}}{path}"'


def _create_tests(r: Resource, route: Route, design: ProjectDesign) -> str:
    s = r.snake
    name = handler_name(r, route)
    label = label_column(r)
    nested = route.op == "create_nested"
    parent = design.resource(route.parent) if nested and route.parent else None
    setup = f"    {parent.snake} = await {parent.name}Factory.create(db_session)\n" if parent else ""
    url = _url(route, **({f"{parent.snake}_id": f"{parent.snake}.id"} if parent else {}))
    compare = f"    assert body[{q(label.name)}] == payload[{q(label.name)}]\n" if label else ""
    fk = r.fk_to(parent.name) if parent else None
    if parent and fk:
        compare += f"    assert body[{q(fk.name)}] == {parent.snake}.id\n"
    fetch = ""
    if r.route("get"):
        get = r.route("get")
        fetch = (
            f'    assert response.headers["Location"].endswith(f"/{{body[\'id\']}}")\n'
            f"    fetched = await client.get({_url(get, **{f'{s}_id': 'body[' + chr(39) + 'id' + chr(39) + ']'})})\n"
            "    assert fetched.status_code == 200\n    assert fetched.json() == body\n"
        )
    code = (
        f"async def test_{name}_returns_201(client: AsyncClient, db_session: AsyncSession) -> None:\n"
        f"{setup}    payload = await {s}_payload(db_session)\n\n"
        f"    response = await client.post({url}, json=payload)\n\n"
        "    assert response.status_code == 201, response.text\n    body = response.json()\n"
        f"{compare}"
        '    assert body["created_at"].endswith(("Z", "+00:00"))\n'
        f"{fetch}"
    )
    cases = invalid_values(r)
    params = "".join(
        f"        pytest.param({q(c.field)}, {c.value if c.value != 'OMIT' else 'OMIT'}, id={q(c.case)}),\n"
        for c in cases
    )
    code += (
        f'\n\n@pytest.mark.parametrize(\n    ("field", "value"),\n    [\n{params}    ],\n)\n'
        f"async def test_{name}_rejects_invalid_field(\n"
        "    client: AsyncClient, db_session: AsyncSession, field: str, value: object\n) -> None:\n"
        f"{setup}    payload = with_value(await {s}_payload(db_session), field, value)\n\n"
        f"    response = await client.post({url}, json=payload)\n\n"
        "    assert response.status_code == 422\n"
        '    assert response.headers["content-type"].startswith("application/problem+json")\n'
        '    assert any(error["loc"][-1] == field for error in response.json()["errors"])\n'
    )
    for c in (c for c in r.writable if c.unique and c.kind in ("str", "text")):
        code += (
            f"\n\nasync def test_{name}_with_taken_{c.name}_returns_409(client: AsyncClient, db_session: AsyncSession) -> None:\n"
            f"{setup}    existing = await {r.name}Factory.create(db_session)\n"
            f"    payload = with_value(await {s}_payload(db_session), {q(c.name)}, existing.{c.name})\n\n"
            f"    response = await client.post({url}, json=payload)\n\n"
            '    assert response.status_code == 409\n    assert response.json()["code"] == "conflict"\n'
        )
    for c in (c for c in r.writable if c.references and c.references != (parent.name if parent else None)):
        if c not in _body(r):
            continue
        code += (
            f"\n\nasync def test_{name}_with_unknown_{c.name}_returns_422(client: AsyncClient, db_session: AsyncSession) -> None:\n"
            f"{setup}    payload = with_value(await {s}_payload(db_session), {q(c.name)}, {missing_id(design.resource(c.references or ''))})\n\n"
            f"    response = await client.post({url}, json=payload)\n\n"
            '    assert response.status_code == 422\n    assert response.json()["details"]["field"] == '
            f"{q(c.name)}\n"
        )
    if parent:
        code += (
            f"\n\nasync def test_{name}_for_unknown_{parent.snake}_returns_404(client: AsyncClient, db_session: AsyncSession) -> None:\n"
            f"    payload = await {s}_payload(db_session)\n\n"
            f"    response = await client.post({_url(route, **{f'{parent.snake}_id': missing_id(parent)})}, json=payload)\n\n"
            '    assert response.status_code == 404\n    assert response.json()["code"] == "not_found"\n'
        )
    return code


def _body(r: Resource) -> tuple:
    from services.codegen.offline.schemas import body_fields

    return body_fields(r)


def _item_tests(r: Resource, route: Route) -> str:
    s, name = r.snake, handler_name(r, route)
    known = _url(route, **{f"{s}_id": f"{s}.id"})
    unknown = _url(route, **{f"{s}_id": missing_id(r)})
    label = label_column(r)
    if route.op == "get":
        return (
            f"async def test_{name}_returns_it(client: AsyncClient, db_session: AsyncSession) -> None:\n"
            f"    {s} = await {r.name}Factory.create(db_session)\n\n    response = await client.get({known})\n\n"
            f'    assert response.status_code == 200\n    assert response.json()["id"] == {_id(r, s)}\n\n\n'
            f"async def test_{name}_unknown_returns_404(client: AsyncClient) -> None:\n"
            f"    response = await client.get({unknown})\n\n"
            '    assert response.status_code == 404\n    assert response.json()["code"] == "not_found"\n'
        )
    if route.op == "delete":
        after = (
            f"    gone = await client.get({_url(r.route('get'), **{f'{s}_id': f'{s}.id'})})\n"
            if r.route("get")
            else f"    gone = await client.delete({known})\n"
        )
        return (
            f"async def test_{name}_returns_204(client: AsyncClient, db_session: AsyncSession) -> None:\n"
            f"    {s} = await {r.name}Factory.create(db_session)\n\n    response = await client.delete({known})\n\n"
            f"    assert response.status_code == 204\n{after}    assert gone.status_code == 404\n\n\n"
            f"async def test_{name}_unknown_returns_404(client: AsyncClient) -> None:\n"
            f"    response = await client.delete({unknown})\n\n    assert response.status_code == 404\n"
        )
    method = "put" if route.op == "replace" else "patch"
    if label is None:
        return ""
    new = changed_value(label)
    body = (
        f"with_value(await {s}_payload(db_session), {q(label.name)}, {new})"
        if route.op == "replace"
        else f"{{{q(label.name)}: {new}}}"
    )
    code = (
        f"async def test_{name}_changes_it(client: AsyncClient, db_session: AsyncSession) -> None:\n"
        f"    {s} = await {r.name}Factory.create(db_session)\n\n"
        f"    response = await client.{method}({known}, json={body})\n\n"
        f"    assert response.status_code == 200, response.text\n    assert response.json()[{q(label.name)}] == {new}\n\n\n"
        f"async def test_{name}_unknown_returns_404(client: AsyncClient, db_session: AsyncSession) -> None:\n"
        f"    response = await client.{method}({unknown}, json={body})\n\n    assert response.status_code == 404\n"
    )
    if route.op == "update":
        code += (
            f"\n\nasync def test_{name}_without_fields_returns_422(client: AsyncClient, db_session: AsyncSession) -> None:\n"
            f"    {s} = await {r.name}Factory.create(db_session)\n\n"
            f"    response = await client.patch({known}, json={{}})\n\n    assert response.status_code == 422\n"
        )
    return code


def _id(r: Resource, var: str) -> str:
    return f"str({var}.id)" if r.pk_kind == "uuid" else f"{var}.id"


def _list_tests(r: Resource, route: Route, design: ProjectDesign) -> str:
    name = handler_name(r, route)
    parent = design.resource(route.parent) if route.op == "list_nested" and route.parent else None
    fk = r.fk_to(parent.name) if parent else None
    setup, url, extra = "", _url(route), ""
    if parent and fk:
        setup = f"    {parent.snake} = await {parent.name}Factory.create(db_session)\n"
        extra = f", {fk.name}={parent.snake}.id"
        url = _url(route, **{f"{parent.snake}_id": f"{parent.snake}.id"})
    code = (
        f"async def test_{name}_is_paginated(client: AsyncClient, db_session: AsyncSession) -> None:\n"
        f"{setup}    await {r.name}Factory.create_batch(db_session, 3{extra})\n"
        + (
            f"    await {r.name}Factory.create(db_session)  # another {parent.snake.replace('_', ' ')}'s\n"
            if parent
            else ""
        )
        + f'\n    response = await client.get({url}, params={{"limit": 2}})\n\n'
        "    assert response.status_code == 200\n    page = response.json()\n"
        '    assert page["total"] == 3\n    assert len(page["items"]) == 2\n'
    )
    choice = next((c for c in r.columns if c.kind == "enum" and len(c.choices) > 1), None)
    if choice is not None:
        from services.codegen.offline.models import constant_name, enum_class

        first, last = (
            f"{enum_class(r, choice)}.{constant_name(v)}" for v in (choice.choices[0], choice.choices[-1])
        )
        code += (
            f"\n\nasync def test_{name}_filters_by_{choice.name}(client: AsyncClient, db_session: AsyncSession) -> None:\n"
            f"{setup}    await {r.name}Factory.create(db_session{extra}, {choice.name}={first})\n"
            f"    await {r.name}Factory.create(db_session{extra}, {choice.name}={last})\n\n"
            f"    response = await client.get({url}, params={{{q(choice.name)}: {q(choice.choices[-1])}}})\n\n"
            f'    assert response.status_code == 200\n    assert [item[{q(choice.name)}] for item in response.json()["items"]] == [{q(choice.choices[-1])}]\n'
        )
    if parent:
        code += (
            f"\n\nasync def test_{name}_for_unknown_{parent.snake}_returns_404(client: AsyncClient) -> None:\n"
            f"    response = await client.get({_url(route, **{f'{parent.snake}_id': missing_id(parent)})})\n\n"
            "    assert response.status_code == 404\n"
        )
    return code


def _link_tests(r: Resource, route: Route, design: ProjectDesign) -> str:
    owner = design.resource(route.parent or "")
    name, o, ids = handler_name(r, route), owner.snake, f"{r.snake}_ids"
    url = _url(route, **{f"{o}_id": f"{o}.id"})
    return (
        f"async def test_{name}_replaces_the_set(client: AsyncClient, db_session: AsyncSession) -> None:\n"
        f"    {o} = await {owner.name}Factory.create(db_session)\n"
        f"    first, second = await {r.name}Factory.create_batch(db_session, 2)\n\n"
        f'    both = await client.put({url}, json={{"{ids}": [{_id(r, "first")}, {_id(r, "second")}]}})\n'
        f'    only_second = await client.put({url}, json={{"{ids}": [{_id(r, "second")}]}})\n\n'
        "    assert both.status_code == 200, both.text\n    assert len(both.json()) == 2\n"
        f'    assert [item["id"] for item in only_second.json()] == [{_id(r, "second")}]\n\n\n'
        f"async def test_{name}_with_unknown_id_returns_422(client: AsyncClient, db_session: AsyncSession) -> None:\n"
        f"    {o} = await {owner.name}Factory.create(db_session)\n\n"
        f'    response = await client.put({url}, json={{"{ids}": [{missing_id(r)}]}})\n\n'
        "    assert response.status_code == 422\n\n\n"
        f"async def test_{name}_for_unknown_{o}_returns_404(client: AsyncClient) -> None:\n"
        f'    response = await client.put({_url(route, **{f"{o}_id": missing_id(owner)})}, json={{"{ids}": []}})\n\n'
        "    assert response.status_code == 404\n"
    )


def api_test_module(r: Resource, design: ProjectDesign) -> str:
    tests = []
    for route in r.routes:
        if route.op in ("create", "create_nested"):
            tests.append(_create_tests(r, route, design))
        elif route.op in ("get", "replace", "update", "delete"):
            tests.append(_item_tests(r, route))
        elif route.op in ("list", "list_nested"):
            tests.append(_list_tests(r, route, design))
        else:
            tests.append(_link_tests(r, route, design))
    body = "\n\n".join(t for t in tests if t)
    used = {n for n in ("MISSING_ID", "MISSING_UUID", "OMIT", "with_value") if n in body}
    factories = sorted(
        {n for n in (f"{x.name}Factory" for x in design.resources) if n + "." in body}
        | used
        | {n for n in (f"{x.snake}_payload" for x in design.resources) if n + "(" in body},
        key=lambda n: (not n.isupper(), not n[:1].isupper(), n),
    )
    enums = sorted({e for e in _enum_names(r) if e + "." in body})
    return (
        f'"""API tests for {r.table}: success and error status codes of every route."""\n\n{HEAD}'
        + _stdlib_imports(body)
        + ("import pytest\n" if "pytest." in body else "")
        + "from httpx import AsyncClient\nfrom sqlalchemy.ext.asyncio import AsyncSession\n\n"
        + (f"from app.models.{r.snake} import {', '.join(enums)}\n" if enums else "")
        + f"from tests.factories import {', '.join(factories)}\n\n"
        + f'API = "{design.api_prefix}"\n\n\n{body}'
    )


def _stdlib_imports(body: str) -> str:
    names = sorted(n for n in ("date", "timedelta") if re.search(rf"\b{n}[.(]", body))
    line = f"from datetime import {', '.join(names)}\n" if names else ""
    return ("import uuid\n" if "uuid." in body else "") + line + ("\n" if names or "uuid." in body else "")


def _enum_names(r: Resource) -> list[str]:
    from services.codegen.offline.models import enum_class

    return [enum_class(r, c) for c in r.columns if c.kind == "enum"]


def health_test_module(design: ProjectDesign, golden: GoldenPattern) -> str:
    test = section(golden.name, golden.code, "async def test_health_metrics_and_security_headers")
    test = test.replace(
        "-> None:\n",
        '-> None:\n    """Probes answer, echo the request id and carry the security headers."""\n',
        1,
    )
    paths = ", ".join(q(p) for p in probe_paths(design))
    return (
        '"""Probes, metrics and the cross-cutting middleware."""\n\n'
        f"{HEAD}import pytest\nfrom httpx import AsyncClient\n\n\n{test.rstrip()}\n\n\n"
        f'@pytest.mark.parametrize("path", [{paths}])\n'
        "async def test_probe_answers(client: AsyncClient, path: str) -> None:\n"
        "    response = await client.get(path)\n\n"
        '    assert response.status_code == 200\n    assert response.json()["status"] == "ok"\n'
    )


def api_test_files(design: ProjectDesign, golden: dict[str, GoldenPattern]) -> list[ProjectFile]:
    found = [
        ProjectFile(
            f"tests/api/test_{r.snake}.py",
            api_test_module(r, design),
            b.entity_bundle(b.API_TESTS, r.name),
            ("api-integration-tests", "async-fixtures", "test-factories"),
        )
        for r in design.resources
    ]
    found.append(
        ProjectFile(
            "tests/api/test_health.py",
            health_test_module(design, golden["api-integration-tests"]),
            b.HEALTH_TESTS,
            ("api-integration-tests", "health-checks"),
        )
    )
    return found
