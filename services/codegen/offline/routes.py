"""Per-entity routers and the dependency module, derived from the golden
fastapi-crud-endpoints and dependency-injection patterns.

One handler per spec endpoint, in the golden shape: a declared response model,
201 with a Location header on create, 204 on delete, bounded limit/offset
pagination on lists, and no logic beyond calling the service. The routes keep
the spec's URLs; `{id}` parameters are named after their resource.
"""

from __future__ import annotations

from services.codegen.offline import files as b
from services.codegen.offline.design import ProjectDesign, Resource, Route, doc_text
from services.codegen.offline.files import ProjectFile
from services.codegen.offline.golden import GoldenPattern, section
from services.codegen.offline.naming import plural
from services.codegen.offline.pysrc import imports
from services.codegen.offline.repositories import key_type, list_filters

# Query parameter names that would shadow a name the router module uses.
_TAKEN = {"status", "router", "service", "limit", "offset", "request", "response", "payload"}
_DEFAULT_DOCS = {
    "list": "List {t}.",
    "create": "Create a {w}.",
    "get": "Get a {w}.",
    "replace": "Replace a {w}.",
    "update": "Update fields of a {w}.",
    "delete": "Delete a {w}.",
    "list_nested": "List the {t} of a {pw}.",
    "create_nested": "Add a {w} to a {pw}.",
    "set_links": "Replace the {t} of a {pw}.",
}


def handler_name(resource: Resource, route: Route) -> str:
    s, t = resource.snake, resource.table
    owner = "" if route.parent is None else _snake(route.parent)
    return {
        "list": f"list_{t}",
        "create": f"create_{s}",
        "get": f"get_{s}",
        "replace": f"replace_{s}",
        "update": f"update_{s}",
        "delete": f"delete_{s}",
        "list_nested": f"list_{owner}_{t}",
        "create_nested": f"create_{owner}_{s}",
        "set_links": f"replace_{owner}_{t}",
    }[route.op]


def _snake(name: str) -> str:
    from services.codegen.offline.naming import snake

    return snake(name)


def _filters(resource: Resource) -> tuple[str, str]:
    """(parameters, call arguments) of a list route's optional filters."""
    params, args = "", ""
    for name, kind in list_filters(resource):
        if name in _TAKEN:
            params += f'    {name}_filter: Annotated[{kind} | None, Query(alias="{name}")] = None,\n'
            args += f", {name}={name}_filter"
        else:
            params += f"    {name}: {kind} | None = None,\n"
            args += f", {name}={name}"
    return params, args


def _doc(resource: Resource, route: Route) -> str:
    text = doc_text(route.description)
    if text:
        return text if text.endswith(".") else text + "."
    parent = _snake(route.parent).replace("_", " ") if route.parent else ""
    return _DEFAULT_DOCS[route.op].format(t=resource.table, w=resource.snake.replace("_", " "), pw=parent)


def _handler(resource: Resource, route: Route, design: ProjectDesign) -> str:
    r, s = resource.name, resource.snake
    name = handler_name(resource, route)
    path_params = "".join(
        f"{p}: {key_type(design.resource(route.parent) if route.parent and p != f'{s}_id' else resource)}, "
        for p in _path_params(route.path)
    )
    doc = f'    """{_doc(resource, route)}"""\n'
    page = "    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 20,\n    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,\n"
    owner = _snake(route.parent) if route.parent else ""
    if route.op in ("list", "list_nested"):
        params, args = _filters(resource)
        call = "service.list(" if route.op == "list" else f"service.list_for_{owner}({owner}_id, "
        first = (
            ""
            if route.op == "list"
            else f"    {owner}_id: {key_type(design.resource(route.parent or ''))},\n"
        )
        return (
            f'@router.get("{route.path}", response_model=Page[{r}Read], responses=ERROR_RESPONSES)\n'
            f"async def {name}(\n{first}    service: {r}ServiceDep,\n{page}{params}) -> Page[{r}Read]:\n{doc}"
            f"    return await {call}limit=limit, offset=offset{args})\n"
        )
    if route.op in ("create", "create_nested"):
        location = ""
        get = resource.route("get")
        if get is not None:
            location = (
                f'    response.headers["Location"] = str(request.url_for("get_{s}", {s}_id=str({s}.id)))\n'
            )
        extra = ", request: Request, response: Response" if location else ""
        call = (
            "service.create(payload)"
            if route.op == "create"
            else f"service.create_for_{owner}({owner}_id, payload)"
        )
        signature = (
            f"async def {name}({path_params}payload: {r}Create, service: {r}ServiceDep{extra}) -> {r}Read:"
        )
        return (
            f'@router.post(\n    "{route.path}",\n    response_model={r}Read,\n'
            f"    status_code=status.HTTP_201_CREATED,\n    responses=ERROR_RESPONSES,\n)\n"
            f"{_wrap(signature)}\n{doc}    {s} = await {call}\n{location}    return {s}\n"
        )
    if route.op == "get":
        signature = f"async def {name}({path_params}service: {r}ServiceDep) -> {r}Read:"
        return (
            f'@router.get("{route.path}", response_model={r}Read, responses=ERROR_RESPONSES)\n'
            f"{_wrap(signature)}\n{doc}    return await service.get({s}_id)\n"
        )
    if route.op in ("replace", "update"):
        schema = f"{r}Create" if route.op == "replace" else f"{r}Update"
        verb = "put" if route.op == "replace" else "patch"
        signature = f"async def {name}({path_params}payload: {schema}, service: {r}ServiceDep) -> {r}Read:"
        return (
            f'@router.{verb}("{route.path}", response_model={r}Read, responses=ERROR_RESPONSES)\n'
            f"{_wrap(signature)}\n{doc}    return await service.{route.op}({s}_id, payload)\n"
        )
    if route.op == "delete":
        signature = f"async def {name}({path_params}service: {r}ServiceDep) -> Response:"
        return (
            f'@router.delete(\n    "{route.path}",\n    status_code=status.HTTP_204_NO_CONTENT,\n'
            f"    response_class=Response,\n    responses=ERROR_RESPONSES,\n)\n"
            f"{_wrap(signature)}\n{doc}    await service.delete({s}_id)\n"
            "    return Response(status_code=status.HTTP_204_NO_CONTENT)\n"
        )
    schema = f"{route.parent}{plural(r)}Replace"
    signature = f"async def {name}({path_params}payload: {schema}, service: {r}ServiceDep) -> list[{r}Read]:"
    return (
        f'@router.put("{route.path}", response_model=list[{r}Read], responses=ERROR_RESPONSES)\n'
        f"{_wrap(signature)}\n{doc}    return await service.replace_for_{owner}({owner}_id, payload)\n"
    )


def _wrap(signature: str) -> str:
    """A def line as ruff formats it: one line, else all parameters on one indented line."""
    if len(signature) <= 110:
        return signature
    head, _, rest = signature.partition("(")
    params, _, tail = rest.rpartition(")")
    if len("    " + params) <= 110:
        return f"{head}(\n    {params}\n){tail}"
    return f"{head}(\n" + "".join(f"    {p.strip()},\n" for p in params.split(", ")) + f"){tail}"


def _path_params(path: str) -> list[str]:
    return [segment[1:-1] for segment in path.split("/") if segment.startswith("{")]


def _imports(resource: Resource) -> str:
    ops = {r.op for r in resource.routes}
    fastapi = {"APIRouter"}
    # A router with only a delete route never answers with the read schema.
    schemas = {f"{resource.name}Read"} if ops - {"delete"} else set()
    typing: set[str] = set()
    if ops & {"list", "list_nested"}:
        fastapi.add("Query")
        typing.add("Annotated")
    if ops & {"create", "create_nested", "replace"}:
        schemas.add(f"{resource.name}Create")
        fastapi.add("status")
    if ops & {"create", "create_nested"} and resource.route("get") is not None:
        fastapi |= {"Request", "Response"}
    if "delete" in ops:
        fastapi |= {"Response", "status"}
    if "update" in ops:
        schemas.add(f"{resource.name}Update")
    for route in resource.routes:
        if route.op == "set_links":
            schemas.add(f"{route.parent}{plural(resource.name)}Replace")
    first: dict[str, set[str]] = {
        "app.deps": {f"{resource.name}ServiceDep"},
        f"app.schemas.{resource.snake}": schemas,
    }
    if ops & {"list", "list_nested"}:
        first["app.schemas.base"] = {"MAX_OFFSET", "MAX_PAGE_SIZE", "Page"}
        enums = {kind for _, kind in list_filters(resource) if kind != "bool"}
        if enums:
            first[f"app.models.{resource.snake}"] = enums
    plain = {"uuid"} if "uuid" in (resource.pk_kind,) else set()
    return imports([{"typing": typing} if typing else {}, {"fastapi": fastapi}, first], [plain, set(), set()])


def route_module(resource: Resource, design: ProjectDesign, golden: GoldenPattern) -> str:
    # The golden router's docstring states the rule every handler here follows.
    rule = section(golden.name, golden.code, "Handlers stay thin", '"""').replace(
        "``app.api.errors``", "``app.errors``"
    )
    errors = [f'    404: {{"description": "{resource.name} not found"}},']
    if any(c.unique or c.references for c in resource.columns) or resource.links or design.links:
        errors.append('    409: {"description": "Conflicts with existing data"},')
    errors.append('    422: {"description": "Invalid request"},')
    handlers = "\n\n".join(_handler(resource, route, design) for route in resource.routes)
    return (
        f'"""HTTP endpoints for {resource.table}.\n\n{rule.rstrip()}\n"""\n\n'
        "from __future__ import annotations\n\n"
        f"{_imports(resource)}\n"
        f'router = APIRouter(tags=["{resource.table}"])\n\n'
        "ERROR_RESPONSES: dict[int | str, dict[str, str]] = {\n" + "\n".join(errors) + "\n}\n\n\n" + handlers
    )


def deps_module(design: ProjectDesign, golden: GoldenPattern) -> str:
    """app/deps.py: the golden DI module without the user lookups (no auth in the spec)."""
    code = golden.code
    lead = section(golden.name, code, '"""FastAPI dependency injection', "from __future__")
    lead = lead.replace(": sessions, services and the current user.", ": settings, sessions and services.")
    lead = lead.replace(
        "(``SessionDep``, ``CurrentUser``, ``ItemServiceDep``)", "(``SessionDep``, ``<Resource>ServiceDep``)"
    )
    lead = lead.replace(
        "so the service and the user lookup share one session.",
        "so the services of one request share one session.",
    )
    services = sorted(design.resources, key=lambda r: r.snake)
    block = imports(
        [
            {"typing": {"Annotated"}},
            {"fastapi": {"Depends"}, "sqlalchemy.ext.asyncio": {"AsyncSession"}},
            {
                "app.config": {"Settings", "get_settings"},
                "app.db": {"get_session"},
                **{f"app.services.{r.snake}": {f"{r.name}Service"} for r in services},
            },
        ],
    )
    aliases = section(golden.name, code, "SettingsDep = ", "\n\n# auto_error")
    factories = "".join(
        f"\n\ndef get_{r.snake}_service(session: SessionDep) -> {r.name}Service:\n"
        f'    """A {r.name}Service on the request\'s session."""\n    return {r.name}Service(session)\n\n\n'
        f"{r.name}ServiceDep = Annotated[{r.name}Service, Depends(get_{r.snake}_service)]\n"
        for r in services
    )
    return f"{lead}from __future__ import annotations\n\n{block}\n{aliases.strip()}\n{factories}"


def route_files(design: ProjectDesign, golden: dict[str, GoldenPattern]) -> list[ProjectFile]:
    found = [
        ProjectFile(
            f"app/routes/{r.snake}.py",
            route_module(r, design, golden["fastapi-crud-endpoints"]),
            b.entity_bundle(b.ROUTES, r.name),
            ("fastapi-crud-endpoints", "strict-mode-schemas"),
        )
        for r in design.resources
    ]
    found.append(
        ProjectFile(
            "app/deps.py",
            deps_module(design, golden["dependency-injection"]),
            b.SCAFFOLD,
            ("dependency-injection",),
        )
    )
    return found
