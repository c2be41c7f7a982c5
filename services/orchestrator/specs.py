"""Spec ingestion: parse, plan, validate, then store the spec, its requirements, its task
tree, their audit rows and the dependency graph, all or nothing."""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import asdict
from typing import Any

import psycopg

from devmatrix.runtime.errors import AlreadyExists, FieldViolation, InvalidArgument
from devmatrix.stores.graph import GraphStore, GraphTask
from devmatrix.stores.postgres import Postgres
from services.orchestrator import repository as repo
from services.orchestrator.domain import Plan, TaskStatus, TaskType
from services.orchestrator.plan_json import parse_plan_json
from services.orchestrator.planner import build_plan, validate_plan
from services.orchestrator.records import RequirementRecord, SpecRecord, TaskRecord
from services.orchestrator.spec_parser import classify_requirements, parse_markdown

MAX_SPEC_BYTES = 2 * 1024 * 1024
# Specs at least this large refresh the planner's statistics once stored.
BULK_LOAD_TASKS = 500
MARKDOWN, JSON_PLAN = "MARKDOWN", "JSON_PLAN"


def plan_from_source(source: str, source_format: str) -> Plan:
    field = "markdown" if source_format == MARKDOWN else "plan_json"
    size = len(source.encode())
    if size > MAX_SPEC_BYTES:
        raise InvalidArgument(
            f"{field} is {size} bytes; the limit is {MAX_SPEC_BYTES}",
            [FieldViolation(field, f"at most {MAX_SPEC_BYTES} bytes")],
        )
    if source_format == MARKDOWN:
        parsed = parse_markdown(source)
        plan = build_plan(parsed)
        plan.requirements = classify_requirements(parsed)
        return plan
    return parse_plan_json(source)


def task_records(
    spec_id: str, plan: Plan, edges: list[tuple[str, str]]
) -> tuple[list[TaskRecord], dict[str, list[str]], list[tuple[str, str]]]:
    """Assign ids in hierarchy order (parents first); returns records, declared deps by id, edges by id."""
    ids = {t.key: repo.new_id() for t in plan.tasks}
    children: dict[str | None, list[Any]] = {}
    for task in plan.tasks:
        children.setdefault(task.parent, []).append(task)
    has_deps = {key for key, _ in edges}
    ordered: list[Any] = []
    stack = list(reversed(children.get(None, [])))
    while stack:
        task = stack.pop()
        ordered.append(task)
        stack.extend(reversed(children.get(task.key, [])))
    records = [
        TaskRecord(
            id=ids[t.key],
            spec_id=spec_id,
            parent_id=ids[t.parent] if t.parent else None,
            key=t.key,
            task_type=str(t.type),
            name=t.name,
            description=t.description,
            status=str(
                TaskStatus.READY if t.type == TaskType.TASK and t.key not in has_deps else TaskStatus.PENDING
            ),
            effort=t.effort,
            assigned_to=None,
            phase=t.phase,
            priority=t.priority,
            kind=str(t.kind),
            acceptance_criteria=list(t.acceptance_criteria),
            expected_output=t.expected_output,
            required_skills=list(t.skills),
            position=position,
        )
        for position, t in enumerate(ordered, start=1)
    ]
    declared = {ids[t.key]: [ids[d] for d in t.depends_on] for t in plan.tasks if t.depends_on}
    return records, declared, [(ids[a], ids[b]) for a, b in edges]


def graph_tasks(records: list[TaskRecord]) -> list[GraphTask]:
    return [
        GraphTask(
            id=r.id,
            spec_id=r.spec_id,
            key=r.key,
            name=r.name,
            type=r.task_type,
            status=r.status,
            effort=r.effort,
            phase=r.phase,
            kind=r.kind,
            parent_id=r.parent_id,
            skills=tuple(r.required_skills),
        )
        for r in records
    ]


async def create_spec(
    db: Postgres,
    graph: GraphStore,
    source: str,
    source_format: str,
    name: str,
    request_id: str | None,
    user: str,
) -> tuple[SpecRecord, bool, int]:
    """Returns the spec, whether it was created now (False: idempotent replay) and its requirement count."""
    digest = hashlib.sha256(f"{source_format}\n{source}".encode()).hexdigest()
    if request_id:
        replay = await _replay(db, request_id, digest)
        if replay is not None:
            return replay
    plan = plan_from_source(source, source_format)
    edge_keys = validate_plan(plan)
    spec_id = repo.new_id()
    records, declared, edges = task_records(spec_id, plan, edge_keys)
    spec = SpecRecord(
        id=spec_id,
        name=(name or plan.spec.title)[:255],
        title=plan.spec.title[:500],
        format=source_format,
        status="PLANNED",
        content=asdict(plan.spec),
        task_count=len(records),
    )
    requirements = [
        RequirementRecord(repo.new_id(), r.key, str(r.category), r.text, r.priority)
        for r in plan.requirements
    ]
    try:
        async with db.pool.connection() as conn, conn.transaction():
            await repo.insert_spec(conn, spec, source, digest, request_id or None)
            await repo.insert_requirements(conn, spec_id, requirements)
            await repo.insert_tasks(conn, records, declared, edges)
            await repo.audit_many(
                conn,
                [
                    (
                        "spec",
                        spec_id,
                        spec_id,
                        "CREATE",
                        {"name": spec.name, "tasks": len(records)},
                        user,
                        request_id,
                    ),
                    *(
                        (
                            "task",
                            r.id,
                            spec_id,
                            "CREATE",
                            {"key": r.key, "status": r.status},
                            user,
                            request_id,
                        )
                        for r in records
                    ),
                ],
            )
            # Inside the transaction: if the graph cannot be written, nothing is stored.
            try:
                await graph.replace_spec(spec_id, graph_tasks(records), edges)
            except BaseException:
                await _forget_graph(graph, spec_id)
                raise
    except psycopg.errors.UniqueViolation:
        # A concurrent request with the same request_id won the race.
        replay = await _replay(db, request_id or "", digest)
        if replay is None:
            raise
        return replay
    async with db.pool.connection() as conn:
        if len(records) >= BULK_LOAD_TASKS:
            await repo.refresh_statistics(conn)
        stored = await repo.get_spec(conn, spec_id)
    assert stored is not None
    return stored, True, len(requirements)


async def _forget_graph(graph: GraphStore, spec_id: str) -> None:
    # If the graph is down, the spec never reached it in a usable state anyway.
    with contextlib.suppress(Exception):
        await graph.delete_spec(spec_id)


async def _replay(db: Postgres, request_id: str, digest: str) -> tuple[SpecRecord, bool, int] | None:
    async with db.pool.connection() as conn:
        found = await repo.spec_by_request_id(conn, request_id)
        if found is None:
            return None
        spec, stored_digest = found
        if stored_digest != digest:
            raise AlreadyExists(
                f"request_id {request_id!r} was already used for a different spec ({spec.id})"
            )
        return spec, False, len(await repo.requirements(conn, spec.id))
