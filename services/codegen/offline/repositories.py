"""Per-entity repositories, derived from the golden user-repository: a subclass of the
golden generic repository with only the queries its routes add (the link set of a
many-to-many relation the spec names by endpoint)."""

from __future__ import annotations

from services.codegen.offline import files as b
from services.codegen.offline.design import Link, ProjectDesign, Resource
from services.codegen.offline.files import ProjectFile
from services.codegen.offline.models import python_type
from services.codegen.offline.pysrc import imports
from services.codegen.offline.schemas import MAX_LINKS


def key_type(resource: Resource) -> str:
    return "uuid.UUID" if resource.pk_kind == "uuid" else "int"


def list_filters(resource: Resource) -> list[tuple[str, str]]:
    """(name, type) of the optional equality filters of list routes: enums and flags."""
    return [(c.name, python_type(resource, c)) for c in resource.columns if c.kind in ("enum", "bool")]


def _link_methods(resource: Resource, link: Link, design: ProjectDesign) -> str:
    owner = design.resource(link.owner)
    o, i = f"{owner.snake}_id", f"{resource.snake}_id"
    return f'''
    async def for_{owner.snake}(self, {o}: {key_type(owner)}) -> Sequence[{resource.name}]:
        """The {resource.table} linked to one {owner.snake.replace("_", " ")}, oldest link target first."""
        statement = (
            select({resource.name})
            .join({link.table}, {link.table}.c.{i} == {resource.name}.id)
            .where({link.table}.c.{o} == {o})
            .order_by({resource.name}.id)
            .limit(MAX_LINKS)
        )
        return (await self.session.scalars(statement)).all()

    async def missing_ids(self, ids: Sequence[{key_type(resource)}]) -> list[{key_type(resource)}]:
        """Those of ``ids`` that name no row, in the given order."""
        statement = select({resource.name}.id).where({resource.name}.id.in_(ids))
        found = set((await self.session.scalars(statement)).all())
        return [entity_id for entity_id in ids if entity_id not in found]

    async def replace_links(self, {o}: {key_type(owner)}, ids: Sequence[{key_type(resource)}]) -> None:
        """Make exactly ``ids`` the {resource.table} of the {owner.snake.replace("_", " ")}."""
        await self.session.execute(delete({link.table}).where({link.table}.c.{o} == {o}))
        if ids:
            rows = [{{"{o}": {o}, "{i}": entity_id}} for entity_id in ids]
            await self.session.execute(insert({link.table}), rows)
        await self.session.flush()
'''


def repository_module(resource: Resource, design: ProjectDesign) -> str:
    links = [link for link in design.links if link.item == resource.name]
    methods = "".join(_link_methods(resource, link, design) for link in links)
    stdlib: dict[str, set[str]] = {"collections.abc": {"Sequence"}} if links else {}
    plain = {"uuid"} if links and any(key_type(r) == "uuid.UUID" for r in design.resources) else set()
    model_names = {resource.name, *(link.table for link in links)}
    third = {"sqlalchemy": {"delete", "insert", "select"}} if links else {}
    first = {f"app.models.{resource.snake}": model_names, "app.repositories.base": {"BaseRepository"}}
    block = imports([stdlib, third, {k: v for k, v in first.items() if v}], [plain, set(), set()])
    constant = (
        f"\n# Upper bound of one link set, as in the request schema.\nMAX_LINKS = {MAX_LINKS}\n"
        if links
        else ""
    )
    return (
        f'"""{resource.name} queries beyond generic CRUD."""\n\n'
        "from __future__ import annotations\n\n"
        f"{block}{constant}\n\n"
        f"class {resource.name}Repository(BaseRepository[{resource.name}]):\n"
        f'    """Queries of the ``{resource.table}`` table."""\n\n'
        f"    model = {resource.name}\n{methods}"
    )


def repository_files(design: ProjectDesign) -> list[ProjectFile]:
    return [
        ProjectFile(
            f"app/repositories/{r.snake}.py",
            repository_module(r, design),
            b.entity_bundle(b.REPOSITORY, r.name),
            ("user-repository", "generic-repository"),
        )
        for r in design.resources
    ]


def parent_repositories(resource: Resource, design: ProjectDesign) -> list[Resource]:
    """Resources whose rows this service must look up: FK parents and link owners."""
    names = list(resource.parents) + [link.owner for link in design.links if link.item == resource.name]
    return [design.resource(n) for n in dict.fromkeys(names) if n != resource.name]
