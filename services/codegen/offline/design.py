"""SpecDesign -> the resources, routes and settings of the generated project.

Routes come from the spec's endpoints, classified against the entities: a
collection (`GET/POST /projects`), an item (`GET/PUT/PATCH/DELETE /projects/{id}`), a
collection nested under the parent a foreign key points at (`/projects/{id}/tasks`),
or the link set of a many-to-many relation the spec only names by endpoint
(`PUT /tasks/{id}/tags`). An entity the spec gives no endpoints gets the standard five
CRUD routes. Endpoints that fit none of these are listed as unsupported, never guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from services.codegen.domain import Endpoint, Entity, SpecDesign
from services.codegen.offline.columns import Column, column_of, is_primary_key, is_timestamp
from services.codegen.offline.naming import plural, project_slug, slug, snake

_HEALTH_PATH = re.compile(r"^/(?:health|healthz|livez|readyz|ready|live|ping)(?:/\w+)?$", re.I)
_UUID_TYPE = re.compile(r"\buuid\b", re.I)
_OLDEST_FIRST = re.compile(r"oldest first|chronolog|ascending", re.I)


@dataclass(frozen=True)
class Route:
    """One endpoint of a resource router; `path` is relative to the API prefix."""

    op: str  # list, create, get, replace, update, delete, list_nested, create_nested, set_links
    method: str
    path: str
    description: str = ""
    parent: str | None = None  # the entity of the path's {id} for nested and link routes


@dataclass(frozen=True)
class Link:
    """A many-to-many relation: `owner` has a set of `item`s in `table`."""

    owner: str
    item: str
    table: str


@dataclass(frozen=True)
class Resource:
    name: str
    columns: tuple[Column, ...]
    routes: tuple[Route, ...]
    pk_kind: str = "int"
    description: str = ""
    oldest_first: bool = False
    links: tuple[Link, ...] = ()

    @property
    def snake(self) -> str:
        return snake(self.name)

    @property
    def slug(self) -> str:
        return slug(self.name)

    @property
    def table(self) -> str:
        return plural(self.snake)

    @property
    def writable(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.writable)

    @property
    def parents(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.references for c in self.columns if c.references))

    def route(self, op: str) -> Route | None:
        return next((r for r in self.routes if r.op == op), None)

    def fk_to(self, parent: str) -> Column | None:
        return next((c for c in self.columns if c.references == parent), None)


@dataclass(frozen=True)
class ProjectDesign:
    title: str
    overview: str
    slug: str
    api_prefix: str
    database: str  # "postgresql" or "sqlite"
    resources: tuple[Resource, ...]  # in migration order: referenced tables first
    health_paths: tuple[str, ...] = ()
    unsupported: tuple[Endpoint, ...] = ()
    tech_stack: tuple[tuple[str, str], ...] = ()
    constraints: tuple[str, ...] = ()
    links: tuple[Link, ...] = field(default=())
    # The spec's functional requirements, FR-1 first.
    requirements: tuple[str, ...] = ()

    def resource(self, name: str) -> Resource:
        return next(r for r in self.resources if r.name == name)

    def link_migration_owner(self, link: Link) -> str:
        """The later of the two tables in migration order creates the link table."""
        order = [r.name for r in self.resources]
        return max(link.owner, link.item, key=order.index)


def doc_text(text: str) -> str:
    """Spec text made safe inside a generated docstring, string or comment: one line."""
    return " ".join(text.replace("\\", "/").replace('"', "'").split())


def _segment_entity(segment: str, entities: dict[str, str]) -> str | None:
    return entities.get(segment.lower().replace("-", "_"))


def _entity_words(names: list[str]) -> dict[str, str]:
    words: dict[str, str] = {}
    for name in names:
        for word in (plural(snake(name)), snake(name)):
            words.setdefault(word, name)
    return words


def _is_param(segment: str) -> bool:
    return segment[:1] in "{:<"


def api_prefix(endpoints: tuple[Endpoint, ...], names: list[str]) -> str:
    """The static path segments every entity endpoint starts with (`/api/v1`)."""
    words = _entity_words(names)
    prefixes = []
    for endpoint in endpoints:
        if not endpoint.entity:
            continue
        segments = [s for s in endpoint.path.split("/") if s]
        lead = []
        for segment in segments:
            if _is_param(segment) or _segment_entity(segment, words):
                break
            lead.append(segment)
        prefixes.append(lead)
    if not prefixes:
        return "/api/v1"
    common = prefixes[0]
    for lead in prefixes[1:]:
        size = next((i for i, (a, b) in enumerate(zip(common, lead, strict=False)) if a != b), None)
        common = common[: min(len(common), len(lead)) if size is None else size]
    return "/" + "/".join(common) if common else ""


def _classify(endpoint: Endpoint, entity: str, prefix: str, words: dict[str, str]) -> Route | None:
    """The route an endpoint is for `entity`, or None when it is no CRUD shape."""
    segments = [s for s in endpoint.path[len(prefix) :].split("/") if s]
    relative, owner = [], None
    for segment in segments:
        if _is_param(segment):
            if owner is None:
                return None
            relative.append("{" + snake(owner) + "_id}")
        else:
            owner = _segment_entity(segment, words)
            if owner is None:
                return None
            relative.append(segment)
    path = "/" + "/".join(relative)
    method = endpoint.method.upper()
    item_path = bool(segments) and _is_param(segments[-1])
    if len(segments) in (1, 2) and owner == entity:
        by_method = (
            {"GET": "get", "PUT": "replace", "PATCH": "update", "DELETE": "delete"}
            if item_path
            else {"GET": "list", "POST": "create"}
        )
        op = by_method.get(method)
        return Route(op, method, path, endpoint.description) if op else None
    if len(segments) == 3 and not item_path and owner == entity:
        parent = _segment_entity(segments[0], words)
        op = {"GET": "list_nested", "POST": "create_nested", "PUT": "set_links"}.get(method)
        return Route(op, method, path, endpoint.description, parent) if op and parent else None
    return None


def _default_routes(entity: str) -> tuple[Route, ...]:
    collection = "/" + plural(snake(entity))
    item = f"{collection}/{{{snake(entity)}_id}}"
    return (
        Route("list", "GET", collection),
        Route("create", "POST", collection),
        Route("get", "GET", item),
        Route("update", "PATCH", item),
        Route("delete", "DELETE", item),
    )


def _valid_route(route: Route, entity: Entity, spec: SpecDesign, columns: tuple[Column, ...]) -> bool:
    """Nested routes need the foreign key; link routes need no foreign key either way."""
    if route.parent is None:
        return True
    if route.op in ("list_nested", "create_nested"):
        return any(c.references == route.parent for c in columns)
    parent = next(e for e in spec.entities if e.name == route.parent)
    parent_columns = [column_of(f, spec.entities, parent.name) for f in parent.fields]
    return route.op == "set_links" and not any(c.references == entity.name for c in parent_columns)


def _resource(entity: Entity, spec: SpecDesign, prefix: str, unsupported: list[Endpoint]) -> Resource:
    columns = tuple(
        column_of(f, spec.entities, entity.name)
        for f in entity.fields
        if not is_primary_key(f) and not is_timestamp(f)
    )
    words = _entity_words([e.name for e in spec.entities])
    own = [e for e in spec.endpoints if e.entity == entity.name]
    routes: list[Route] = []
    for endpoint in own:
        route = _classify(endpoint, entity.name, prefix, words)
        if route is None or not _valid_route(route, entity, spec, columns):
            unsupported.append(endpoint)
        elif all((r.method, r.path) != (route.method, route.path) for r in routes):
            routes.append(route)
    key = next((f for f in entity.fields if is_primary_key(f)), None)
    pk_kind = "uuid" if key is not None and _UUID_TYPE.search(key.type) else "int"
    links = tuple(
        Link(r.parent, entity.name, f"{snake(r.parent)}_{plural(entity_snake)}")
        for entity_snake in [snake(entity.name)]
        for r in routes
        if r.op == "set_links" and r.parent
    )
    return Resource(
        name=entity.name,
        columns=columns,
        routes=tuple(routes) if own else _default_routes(entity.name),
        pk_kind=pk_kind,
        description=entity.description,
        oldest_first=any(_OLDEST_FIRST.search(e.description) for e in own),
        links=links,
    )


def migration_order(resources: list[Resource]) -> list[Resource]:
    """Referenced tables first, otherwise spec order (the planner numbers revisions so)."""
    placed: list[Resource] = []
    pending = list(resources)
    while pending:
        names = {p.name for p in placed}
        ready = next((r for r in pending if set(r.parents) <= names), pending[0])
        placed.append(ready)
        pending.remove(ready)
    return placed


def _database(spec: SpecDesign) -> str:
    stack = " ".join(f"{k} {v}" for k, v in spec.tech_stack.items()).lower()
    return "sqlite" if "sqlite" in stack and "postgres" not in stack else "postgresql"


def design_project(spec: SpecDesign) -> ProjectDesign:
    """Everything the file generators need, computed once per spec."""
    names = [e.name for e in spec.entities]
    prefix = api_prefix(spec.endpoints, names)
    unsupported: list[Endpoint] = []
    resources = [_resource(e, spec, prefix, unsupported) for e in spec.entities]
    health, others = [], []
    for endpoint in spec.endpoints:
        if endpoint.entity:
            continue
        (health if _HEALTH_PATH.match(endpoint.path) and endpoint.method == "GET" else others).append(
            endpoint
        )
    ordered = migration_order(resources)
    return ProjectDesign(
        title=spec.title,
        overview=spec.overview,
        slug=project_slug(spec.title),
        api_prefix=prefix,
        database=_database(spec),
        resources=tuple(ordered),
        health_paths=tuple(sorted({e.path for e in health})),
        unsupported=tuple(unsupported + others),
        tech_stack=tuple(spec.tech_stack.items()),
        constraints=spec.constraints,
        links=tuple(link for r in ordered for link in r.links),
        requirements=spec.functional_requirements,
    )
