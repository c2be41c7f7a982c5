"""Per-entity services, derived from the golden item-service.

The golden item service without ownership (the spec has no users): one use case
per route, each in one unit of work. A missing row is `NotFoundError` (404), a
parent id in a body that names no row is `ValidationFailedError` (422) naming the
field, and a unique or foreign key violation is `ConflictError` (409) through the
base service.
"""

from __future__ import annotations

from services.codegen.offline import files as b
from services.codegen.offline.design import ProjectDesign, Resource
from services.codegen.offline.files import ProjectFile
from services.codegen.offline.pysrc import imports
from services.codegen.offline.repositories import key_type, list_filters, parent_repositories


def _words(resource: Resource) -> str:
    return resource.snake.replace("_", " ")


def _filter_params(resource: Resource) -> str:
    return "".join(f", {name}: {kind} | None = None" for name, kind in list_filters(resource))


def _filter_dict(resource: Resource, base: str) -> str:
    pairs = ", ".join(f'("{name}", {name})' for name, _ in list_filters(resource))
    if not pairs:
        return base
    pairs += "," if len(list_filters(resource)) == 1 else ""
    return f"{base[:-1]}{', ' if base != '{}' else ''}**{{name: value for name, value in ({pairs}) if value is not None}}}}"


def _common(resource: Resource, design: ProjectDesign) -> str:
    r, s, kt = resource.name, resource.snake, key_type(resource)
    parents = parent_repositories(resource, design)
    repos = "".join(f"        self.{p.table} = {p.name}Repository(session)\n" for p in parents)
    code = f'''class {r}Service(BaseService):
    """{r} use cases; every write is one unit of work."""

    def __init__(self, session: AsyncSession, repository: {r}Repository | None = None) -> None:
        super().__init__(session)
        self.{resource.table} = repository or {r}Repository(session)
{repos}
    async def _get(self, {s}_id: {kt}) -> {r}:
        {s} = await self.{resource.table}.get({s}_id)
        if {s} is None:
            raise NotFoundError.for_entity("{r}", {s}_id)
        return {s}
'''
    fks = [c for c in resource.writable if c.references]
    if fks:
        checks = "".join(
            f'''        {c.name} = values.get("{c.name}")
        if {c.name} is not None and await self.{design.resource(c.references or "").table}.get({c.name}) is None:
            raise ValidationFailedError(
                f"{c.references} {{{c.name}}} does not exist.", details={{"field": "{c.name}"}}
            )
'''
            for c in fks
        )
        code += f'''
    async def _check_references(self, values: Mapping[str, Any]) -> None:
        """Refuse parent ids that name no row: 422 naming the field, not a 409 from the database."""
{checks}'''
    if any(r.op in ("list", "list_nested") for r in resource.routes):
        descending = "False" if resource.oldest_first else "True"
        code += f"""
    async def _page(self, filters: dict[str, Any], limit: int, offset: int) -> Page[{r}Read]:
        rows = await self.{resource.table}.find_many(
            filters=filters, limit=limit, offset=offset, descending={descending}
        )
        total = await self.{resource.table}.count(filters=filters)
        return Page[{r}Read](
            items=[{r}Read.model_validate(row) for row in rows], total=total, limit=limit, offset=offset
        )
"""
    return code


def _operation(resource: Resource, design: ProjectDesign, op: str, parent: str | None) -> str:
    r, s, t, kt = resource.name, resource.snake, resource.table, key_type(resource)
    check = (
        "        await self._check_references(values)\n"
        if any(c.references for c in resource.writable)
        else ""
    )
    if op == "create":
        return f'''
    async def create(self, data: {r}Create) -> {r}Read:
        """Store a new {_words(resource)}."""
        values = data.model_dump()
{check}        async with self.unit_of_work():
            {s} = await self.{t}.add({r}(**values))
        self.log.info("{s}_created", {s}_id=str({s}.id))
        return {r}Read.model_validate({s})
'''
    if op == "get":
        return f'''
    async def get(self, {s}_id: {kt}) -> {r}Read:
        """The {_words(resource)} with this id; NotFoundError when there is none."""
        return {r}Read.model_validate(await self._get({s}_id))
'''
    if op == "list":
        return f'''
    async def list(self, *, limit: int, offset: int{_filter_params(resource)}) -> Page[{r}Read]:
        """One page of {t}."""
        return await self._page({_filter_dict(resource, "{}")}, limit, offset)
'''
    if op in ("replace", "update"):
        schema, values = (
            (f"{r}Create", "data.model_dump()") if op == "replace" else (f"{r}Update", "data.changes()")
        )
        return f'''
    async def {op}(self, {s}_id: {kt}, data: {schema}) -> {r}Read:
        """{"Replace every writable field" if op == "replace" else "Change the fields sent"} of a {_words(resource)}."""
        values = {values}
{check}        async with self.unit_of_work():
            {s} = await self._get({s}_id)
            {s} = await self.{t}.update({s}, values)
        self.log.info("{s}_updated", {s}_id=str({s}_id), fields=sorted(values))
        return {r}Read.model_validate({s})
'''
    if op == "delete":
        return f'''
    async def delete(self, {s}_id: {kt}) -> None:
        """Delete a {_words(resource)}; rows that reference it go with it (ON DELETE CASCADE)."""
        async with self.unit_of_work():
            {s} = await self._get({s}_id)
            await self.{t}.delete({s})
        self.log.info("{s}_deleted", {s}_id=str({s}_id))
'''
    owner = design.resource(parent or "")
    o, ot, okt = owner.snake, owner.table, key_type(owner)
    exists = f'''        if await self.{ot}.get({o}_id) is None:
            raise NotFoundError.for_entity("{owner.name}", {o}_id)
'''
    if op == "list_nested":
        fk = resource.fk_to(owner.name)
        return f'''
    async def list_for_{o}(self, {o}_id: {okt}, *, limit: int, offset: int{_filter_params(resource)}) -> Page[{r}Read]:
        """One page of the {t} of a {_words(owner)}; NotFoundError when it does not exist."""
{exists}        return await self._page({_filter_dict(resource, f'{{"{fk.name if fk else ""}": {o}_id}}')}, limit, offset)
'''
    if op == "create_nested":
        fk = resource.fk_to(owner.name)
        return f'''
    async def create_for_{o}(self, {o}_id: {okt}, data: {r}Create) -> {r}Read:
        """Store a new {_words(resource)} of a {_words(owner)}; NotFoundError when it does not exist."""
{exists}        values = {{**data.model_dump(), "{fk.name if fk else ""}": {o}_id}}
{check}        async with self.unit_of_work():
            {s} = await self.{t}.add({r}(**values))
        self.log.info("{s}_created", {s}_id=str({s}.id), {o}_id=str({o}_id))
        return {r}Read.model_validate({s})
'''
    # In the class body `list` is the service's own method once it has one (mypy reads the
    # annotation there), so the builtin is named through its module.
    returned = f"builtins.list[{r}Read]" if _has_list(resource) else f"list[{r}Read]"
    return f'''
    async def replace_for_{o}(self, {o}_id: {okt}, data: {owner.name}{_plural_name(resource)}Replace) -> {returned}:
        """Make the given {t} exactly those of a {_words(owner)}; unknown ids are a 422."""
{exists}        ids = list(dict.fromkeys(data.{s}_ids))
        missing = await self.{t}.missing_ids(ids)
        if missing:
            raise ValidationFailedError(
                f"Unknown {r} ids: {{', '.join(map(str, missing))}}.", details={{"field": "{s}_ids"}}
            )
        async with self.unit_of_work():
            await self.{t}.replace_links({o}_id, ids)
        self.log.info("{o}_{t}_replaced", {o}_id=str({o}_id), count=len(ids))
        return [{r}Read.model_validate(row) for row in await self.{t}.for_{o}({o}_id)]
'''


def _has_list(resource: Resource) -> bool:
    return any(r.op == "list" for r in resource.routes)


def _plural_name(resource: Resource) -> str:
    from services.codegen.offline.naming import plural

    return plural(resource.name)


def _imports(resource: Resource, design: ProjectDesign) -> str:
    ops = {r.op for r in resource.routes}
    stdlib: dict[str, set[str]] = {}
    any_names = (
        {"Any"} if (ops & {"list", "list_nested"}) or any(c.references for c in resource.writable) else set()
    )
    if any_names:
        stdlib["typing"] = any_names
    if any(c.references for c in resource.writable):
        stdlib["collections.abc"] = {"Mapping"}
    plain = (
        {"uuid"}
        if "uuid.UUID" in {key_type(resource), *(key_type(p) for p in parent_repositories(resource, design))}
        else set()
    )
    if "set_links" in ops and _has_list(resource):
        plain.add("builtins")
    schemas = {f"{resource.name}Read"} if ops - {"delete"} else set()
    if ops & {"create", "replace", "create_nested"}:
        schemas.add(f"{resource.name}Create")
    if "update" in ops:
        schemas.add(f"{resource.name}Update")
    for route in resource.routes:
        if route.op == "set_links":
            schemas.add(f"{route.parent}{_plural_name(resource)}Replace")
    errors = {"NotFoundError"}
    if ops & {"set_links"} or any(c.references for c in resource.writable):
        errors.add("ValidationFailedError")
    enums = {kind for name, kind in list_filters(resource) if kind not in ("bool",)}
    first: dict[str, set[str]] = {
        "app.core.exceptions": errors,
        f"app.models.{resource.snake}": {resource.name, *enums},
        f"app.repositories.{resource.snake}": {f"{resource.name}Repository"},
        f"app.schemas.{resource.snake}": schemas,
        "app.services.base": {"BaseService"},
    }
    if ops & {"list", "list_nested"}:
        first["app.schemas.base"] = {"Page"}
    for parent in parent_repositories(resource, design):
        first[f"app.repositories.{parent.snake}"] = {f"{parent.name}Repository"}
    return imports([stdlib, {"sqlalchemy.ext.asyncio": {"AsyncSession"}}, first], [plain, set(), set()])


def service_module(resource: Resource, design: ProjectDesign) -> str:
    order = (
        "create",
        "create_nested",
        "get",
        "list",
        "list_nested",
        "replace",
        "update",
        "delete",
        "set_links",
    )
    routes = sorted(resource.routes, key=lambda r: order.index(r.op))
    seen: set[tuple[str, str | None]] = set()
    methods = ""
    for route in routes:
        if (route.op, route.parent) not in seen:
            seen.add((route.op, route.parent))
            methods += _operation(resource, design, route.op, route.parent)
    return (
        f'"""{resource.name} use cases: the transaction boundary of the {resource.table} routes."""\n\n'
        "from __future__ import annotations\n\n"
        f"{_imports(resource, design)}\n\n{_common(resource, design)}{methods}"
    )


def service_files(design: ProjectDesign) -> list[ProjectFile]:
    return [
        ProjectFile(
            f"app/services/{r.snake}.py",
            service_module(r, design),
            b.entity_bundle(b.ROUTES, r.name),
            ("item-service", "base-service"),
        )
        for r in design.resources
    ]
