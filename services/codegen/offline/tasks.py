"""Which files of the composed project a planned task is about.

A task is answered with whole bundles (a model, a route module with its service,
the scaffold...). The bundle is found from the task's expected output paths first;
when a path is not one the project has (`app/routes/service.py` for the probes),
from its kind and the entity its key, name or paths name. Tasks the offline
generator cannot really implement are refused with FailedPrecondition, never
answered with a stub.
"""

from __future__ import annotations

import re

from devmatrix.runtime.errors import FailedPrecondition, PreconditionViolation
from services.codegen.domain import TaskInfo
from services.codegen.offline import files as b
from services.codegen.offline.files import ProjectFile
from services.codegen.offline.project import ComposedProject

NEEDS_ENTITIES = frozenset({"MODEL", "API", "CRUD", "MIGRATION", "TEST"})
KNOWN_KINDS = frozenset({"MODEL", "API", "CRUD", "CONFIG", "TEST", "MIGRATION", "DEPLOY", "DOCS", "GENERIC"})
ANTHROPIC_HINT = "it needs the Anthropic generator (set ANTHROPIC_API_KEY)"

# Entity named by a planner key: P3.models.<e>, P3.models.<e>-migration, P3.api-<e>.x, P4.tests.api-<e>.
_KEY_ENTITY = re.compile(
    r"^P\d+\.(?:models\.([a-z0-9-]+?)(?:-migration|-repository)?$|api-([a-z0-9-]+)(?:\.|$)|tests\.api-([a-z0-9-]+)$)"
)
_PATH_ENTITY = re.compile(
    r"^app/(?:models|repositories|schemas|routes|services)/(\w+)\.py$|^tests/api/test_(\w+)\.py$"
    r"|^migrations/versions/\d{4}_create_(\w+)\.py$"
)
# Bundle by kind for a task whose paths the project does not have.
_KIND_BUNDLES = {
    "MODEL": b.MODEL,
    "MIGRATION": b.MIGRATION,
    "CRUD": b.REPOSITORY,
    "TEST": b.API_TESTS,
}


def _refuse(task: TaskInfo, problem: str, kind: str = "OFFLINE_GENERATOR") -> FailedPrecondition:
    return FailedPrecondition(
        f"task {task.key} ({task.name}): {problem}",
        [PreconditionViolation(kind, task.key, problem)],
    )


def expected_paths(task: TaskInfo) -> list[str]:
    return [p.strip() for p in task.expected_output.split(",") if p.strip()]


def _named_entity(task: TaskInfo, project: ComposedProject) -> tuple[str | None, str | None]:
    """(entity, the name the task used) when the task names one; entity None if unknown."""
    resources = project.design.resources
    by_slug = {r.slug: r.name for r in resources}
    by_word = {w: r.name for r in resources for w in (r.snake, r.table)}
    match = _KEY_ENTITY.match(task.key)
    if match:
        word = next(g for g in match.groups() if g)
        if word != "service":
            return by_slug.get(word), word
    for path in expected_paths(task):
        found = _PATH_ENTITY.match(path)
        if found:
            word = next(g for g in found.groups() if g)
            if word not in ("service", "health"):
                return by_word.get(word), word
    first = task.name.split(" ", 1)[0]
    if first in {r.name for r in resources}:
        return first, first
    return None, None


def _bundles_for(task: TaskInfo, project: ComposedProject, entity: str | None) -> list[str]:
    files = project.by_path()
    bundles = list(dict.fromkeys(files[p].bundle for p in expected_paths(task) if p in files))
    if bundles:
        return bundles
    if entity is not None and task.kind in _KIND_BUNDLES:
        return [b.entity_bundle(_KIND_BUNDLES[task.kind], entity)]
    if entity is not None and task.kind == "API":
        return [b.entity_bundle(b.ROUTES, entity)]
    if entity is None and task.kind == "API" and _is_service_group(task):
        return [b.HEALTH]
    if entity is None and task.kind == "TEST" and _is_service_group(task):
        return [b.HEALTH_TESTS]
    return []


def _is_service_group(task: TaskInfo) -> bool:
    return "service" in task.key or any(p.endswith(("service.py", "health.py")) for p in expected_paths(task))


def files_for_task(task: TaskInfo, project: ComposedProject) -> list[ProjectFile]:
    """The task's own files, or FailedPrecondition saying why the offline generator cannot."""
    kind = task.kind.upper().removeprefix("TASK_KIND_")
    if kind == "UI" or kind not in KNOWN_KINDS:
        raise _refuse(
            task, f"the offline generator does not implement {kind or 'unspecified'} tasks; {ANTHROPIC_HINT}"
        )
    if kind in NEEDS_ENTITIES and not project.design.resources:
        raise _refuse(
            task, "the spec defines no entities, so there is nothing to generate it from", "MISSING_ENTITIES"
        )
    entity, named = _named_entity(task, project)
    if named is not None and entity is None:
        known = ", ".join(r.name for r in project.design.resources) or "none"
        raise _refuse(
            task,
            f"it names entity {named!r}, which the spec does not define (entities: {known})",
            "UNKNOWN_ENTITY",
        )
    bundles = _bundles_for(task, project, entity)
    if not bundles:
        raise _refuse(
            task,
            f"none of its outputs ({task.expected_output or 'none'}) is code the offline generator writes; {ANTHROPIC_HINT}",
        )
    _refuse_unsupported(task, project, entity)
    return [f for f in project.files if f.bundle in bundles]


def _refuse_unsupported(task: TaskInfo, project: ComposedProject, entity: str | None) -> None:
    """An API task about an endpoint the composition could not map is not done by a partial file."""
    if task.kind.upper().removeprefix("TASK_KIND_") != "API":
        return
    text = " ".join([task.name, *task.acceptance_criteria])
    missing = [
        f"{e.method} {e.path}"
        for e in project.design.unsupported
        if (e.entity or None) == entity and f"{e.method} {e.path}" in text
    ]
    if missing:
        raise _refuse(task, f"endpoints {', '.join(missing)} fit no generated resource; {ANTHROPIC_HINT}")
