"""Planning steps for phase 3's deliverables: data layer, per-entity APIs, UI, features."""

from __future__ import annotations

from devmatrix.naming import slug, snake
from services.orchestrator.domain import (
    Endpoint,
    Entity,
    ParsedSpec,
    TaskKind,
)
from services.orchestrator.plan_builder import PlanBuilder
from services.orchestrator.plan_criteria import (
    Layout,
    endpoint_constraints,
    endpoint_criteria,
    entity_requirements,
    field_line,
    mentions,
    references,
    table_name,
    validation_rules,
)
from services.orchestrator.spec_parser import priority_of, ui_pages

# Up to this many endpoints in the whole spec, each endpoint is its own task; above
# it, endpoints are grouped per entity into read and write tasks of at most
# _ENDPOINTS_PER_TASK, so every task stays small enough to generate and check alone.
_SMALL_SPEC_ENDPOINTS = 8
_ENDPOINTS_PER_TASK = 4
_MAX_FEATURE_TASKS = 40


def plan_data_layer(b: PlanBuilder, spec: ParsedSpec, layout: Layout, migration_order: list[Entity]) -> None:
    b.group("P3.models", "Data models", 3, depends_on=["P3.setup.database"])
    revisions = {e.name: f"{i:04d}_create_{table_name(e)}" for i, e in enumerate(migration_order, 1)}
    for entity in spec.entities:
        e, refs = slug(entity.name), references(entity, spec.entities)
        model_key = f"P3.models.{e}"
        relation = [f"Relationship to {r} through a foreign key" for r in refs]
        b.task(
            model_key,
            "P3.models",
            f"{entity.name} model",
            kind=TaskKind.MODEL,
            effort=1 + len(entity.fields) // 4,
            skills=["backend-models", "global-coding-style"],
            criteria=[f"Table `{table_name(entity)}`", *map(field_line, entity.fields), *relation],
            output=layout.module("models", snake(entity.name)),
            priority=1,
            subtasks=["Define columns and types", "Add constraints and defaults"]
            + (["Define relationships"] if refs else []),
            description=entity.description,
        )
        previous = [revisions[e2.name] for e2 in migration_order[: migration_order.index(entity)]][-1:]
        b.task(
            f"{model_key}-migration",
            "P3.models",
            f"{entity.name} migration",
            kind=TaskKind.MIGRATION,
            effort=1,
            skills=["backend-migrations"],
            depends_on=[model_key, *(f"P3.models.{slug(r)}" for r in refs)],
            criteria=[
                f"Revision `{revisions[entity.name]}` creates table `{table_name(entity)}` with columns "
                + ", ".join(f.name for f in entity.fields),
                f"down_revision is {previous[0] if previous else 'None'}",
                f"Downgrade drops `{table_name(entity)}`",
            ],
            output=f"migrations/versions/{revisions[entity.name]}{layout.ext}",
            priority=1,
            subtasks=["Write upgrade", "Write downgrade"],
        )
        b.task(
            f"{model_key}-repository",
            "P3.models",
            f"{entity.name} repository",
            kind=TaskKind.CRUD,
            effort=2,
            skills=["backend-queries", "global-error-handling"],
            depends_on=[model_key],
            criteria=[
                f"create, get, list (limit/offset), update and delete for {entity.name}",
                f"get returns nothing for an unknown {entity.name} id instead of raising",
                *[f"list by {r} id is supported" for r in refs],
            ],
            output=layout.module("repositories", snake(entity.name)),
            subtasks=["Implement queries", "Handle missing rows"],
        )


def _endpoint_chunks(endpoints: list[Endpoint], small: bool) -> list[tuple[str, list[Endpoint]]]:
    if small:
        return [(f"{e.method} {e.path}", [e]) for e in endpoints]
    reads = [e for e in endpoints if e.method in {"GET", "HEAD", "OPTIONS"}]
    writes = [e for e in endpoints if e not in reads]
    chunks: list[tuple[str, list[Endpoint]]] = []
    for label, items in (("read", reads), ("write", writes)):
        parts = [items[i : i + _ENDPOINTS_PER_TASK] for i in range(0, len(items), _ENDPOINTS_PER_TASK)]
        for n, part in enumerate(parts, 1):
            chunks.append((f"{label} endpoints" + (f" (part {n})" if len(parts) > 1 else ""), part))
    return chunks


def plan_api(b: PlanBuilder, spec: ParsedSpec, layout: Layout) -> list[str]:
    """One group per entity with endpoints (plus one for entity-less ones); returns group keys."""
    small = len(spec.endpoints) <= _SMALL_SPEC_ENDPOINTS
    by_entity: dict[str | None, list[Endpoint]] = {}
    for endpoint in spec.endpoints:
        by_entity.setdefault(endpoint.entity, []).append(endpoint)
    entities = {e.name: e for e in spec.entities}
    groups = []
    for name, endpoints in sorted(by_entity.items(), key=lambda item: item[0] is None):
        entity = entities.get(name) if name else None
        e = slug(name) if name else "service"
        group = b.group(f"P3.api-{e}", f"{name} API" if name else "Service endpoints", 3)
        groups.append(group)
        route_file = layout.module("routes", snake(name) if name else "service")
        depends = ["P3.setup.errors"] if not entity else ["P3.setup.errors", f"P3.models.{e}-repository"]
        if entity:
            depends.append(
                b.task(
                    f"{group}.schemas",
                    group,
                    f"{name} validation schemas",
                    kind=TaskKind.API,
                    effort=1 + len(entity.fields) // 5,
                    skills=["global-validation", "backend-api"],
                    depends_on=[f"P3.models.{e}"],
                    criteria=validation_rules(entity) or [f"Create, update and read schemas for {name}"],
                    output=layout.module("schemas", snake(name)),
                    priority=1,
                    subtasks=["Define create, update and read schemas", "Write validation rules"],
                )
            )
        frs = entity_requirements(spec, name) if name else []
        for i, (label, chunk) in enumerate(_endpoint_chunks(endpoints, small), 1):
            text = " ".join(f"{ep.method} {ep.path} {ep.description}" for ep in chunk)
            title = label if small else f"{name or 'Service'} {label}"
            b.task(
                f"{group}.endpoints-{i}",
                group,
                title,
                kind=TaskKind.API,
                effort=1 + len(chunk),
                skills=["backend-api", "global-error-handling", "global-validation"],
                depends_on=depends,
                priority=priority_of(text),
                criteria=[c for ep in chunk for c in endpoint_criteria(ep, name, spec)]
                + endpoint_constraints(spec, chunk)
                + frs,
                output=route_file,
                subtasks=[f"Implement {ep.method} {ep.path}" for ep in chunk]
                + ["Register routes", "Map errors to status codes"],
            )
    return groups


def plan_ui(b: PlanBuilder, spec: ParsedSpec, layout: Layout, api_groups: list[str]) -> None:
    b.group("P3.ui", "Frontend", 3)
    ui_skills = ["frontend-components", "frontend-css", "frontend-responsive", "frontend-accessibility"]
    b.task(
        "P3.ui.layout",
        "P3.ui",
        "Frontend shell, layout and styles",
        kind=TaskKind.UI,
        effort=2,
        skills=ui_skills,
        depends_on=["P3.setup.scaffold"],
        criteria=[
            "Shared layout with navigation to every page",
            "Styles adapt to phone and desktop widths",
            "Landmarks and skip link for keyboard users",
        ],
        output="frontend/src/layout.tsx, frontend/src/styles.css",
        subtasks=["Build layout", "Add styles"],
    )
    for i, (name, description) in enumerate(ui_pages(spec), 1):
        groups = [
            f"P3.api-{slug(e.name)}" for e in spec.entities if mentions(f"{name} {description}", e.name)
        ]
        uses = [g for g in groups if g in api_groups]
        b.task(
            f"P3.ui.page-{i}",
            "P3.ui",
            f"{name} page",
            kind=TaskKind.UI,
            effort=3,
            skills=ui_skills,
            depends_on=["P3.ui.layout", *uses],
            criteria=[
                f"{name}: {description}" if description else f"{name} page renders its data",
                "Loading, empty and error states are shown",
                "All controls are reachable by keyboard",
            ],
            output=f"frontend/src/pages/{slug(name.replace(' ', '_'))}.tsx",
            subtasks=["Build components", "Fetch data", "Handle loading and error states"],
        )


def plan_features(b: PlanBuilder, spec: ParsedSpec, layout: Layout) -> None:
    """Specs without entities or endpoints: one task per functional requirement."""
    b.group("P3.features", "Features", 3)
    for i, text in enumerate(spec.functional_requirements[:_MAX_FEATURE_TASKS], 1):
        b.task(
            f"P3.features.fr-{i}",
            "P3.features",
            f"Implement FR-{i}",
            kind=TaskKind.GENERIC,
            effort=2,
            skills=["global-coding-style", "global-error-handling"],
            depends_on=["P3.setup.errors"],
            criteria=[text],
            output=layout.module("features", f"fr_{i}"),
            priority=priority_of(text),
            subtasks=["Implement behaviour", "Handle errors"],
            description=text,
        )
