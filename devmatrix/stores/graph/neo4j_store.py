"""The Neo4j graph store: the production backend, on the official async driver.

Writes go in UNWIND batches inside one transaction per call, so a spec's graph is
replaced atomically. Waves are computed inside Neo4j, level by level: each pass starts
from the tasks that got a wave in the previous pass and only looks at their dependents,
so the work is proportional to the edges, not to tasks x levels.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, LiteralString

import neo4j
from neo4j.exceptions import (
    AuthError,
    ConnectionAcquisitionTimeoutError,
    ConstraintError,
    ServiceUnavailable,
    SessionExpired,
)

from devmatrix.runtime.errors import AlreadyExists, NotFound, Unavailable
from devmatrix.stores.graph.base import (
    GraphStore,
    GraphTask,
    WaveAnalysis,
    critical_path,
    cycle_error,
    find_cycle,
    validate_graph,
)

_SCHEMA: tuple[LiteralString, ...] = (
    "CREATE CONSTRAINT task_id IF NOT EXISTS FOR (t:Task) REQUIRE t.id IS UNIQUE",
    "CREATE CONSTRAINT skill_name IF NOT EXISTS FOR (s:Skill) REQUIRE s.name IS UNIQUE",
    "CREATE CONSTRAINT agent_name IF NOT EXISTS FOR (a:Agent) REQUIRE a.name IS UNIQUE",
    "CREATE CONSTRAINT wave_id IF NOT EXISTS FOR (w:Wave) REQUIRE w.id IS UNIQUE",
    "CREATE INDEX task_spec_id IF NOT EXISTS FOR (t:Task) ON (t.spec_id)",
    "CREATE INDEX task_key IF NOT EXISTS FOR (t:Task) ON (t.key)",
    # Not in the seed, but replace_spec/delete_spec look waves up by spec.
    "CREATE INDEX wave_spec_id IF NOT EXISTS FOR (w:Wave) ON (w.spec_id)",
)

_DELETE_TASKS: LiteralString = "MATCH (t:Task {spec_id: $spec}) DETACH DELETE t"

_CREATE_TASKS: LiteralString = """
UNWIND $rows AS row
CREATE (t:Task {id: row.id, spec_id: $spec, key: row.key, name: row.name, type: row.type,
                status: row.status, effort: row.effort, phase: row.phase, kind: row.kind})
"""

_CREATE_PARENTS: LiteralString = """
UNWIND $rows AS row
MATCH (p:Task {id: row.parent}), (c:Task {id: row.child})
CREATE (p)-[:PARENT_OF]->(c)
"""

_CREATE_DEPENDS: LiteralString = """
UNWIND $rows AS row
MATCH (t:Task {id: row[0]}), (d:Task {id: row[1]})
CREATE (t)-[:DEPENDS_ON]->(d)
"""

_CREATE_SKILLS: LiteralString = """
UNWIND $rows AS row
MERGE (s:Skill {name: row.skill})
WITH s, row
MATCH (t:Task {id: row.task})
CREATE (t)-[:REQUIRES_SKILL]->(s)
"""

_RESET_WAVES: LiteralString = """
MATCH (t:Task {spec_id: $spec})
REMOVE t.wave, t.cp
RETURN count(CASE WHEN t.type = 'TASK' THEN 1 END) AS tasks
"""

_FIRST_WAVE: LiteralString = """
MATCH (t:Task {spec_id: $spec})
WHERE t.type = 'TASK' AND NOT EXISTS { (t)-[:DEPENDS_ON]->(d:Task) WHERE d.type = 'TASK' }
SET t.wave = 0, t.cp = t.effort
RETURN collect([t.id, 0, t.cp, null, t.key]) AS rows
"""

# Passes return one record holding a list: the Python driver decodes a list of 10,000 rows
# about ten times faster than 10,000 records.
#
# Only dependents of last pass's tasks can become ready now, and NOT EXISTS stops at the
# first dependency still without a wave. `via` is the dependency the critical path walks
# back through: largest cp, ties smallest key.
_NEXT_WAVE: LiteralString = """
UNWIND $frontier AS fid
MATCH (:Task {id: fid})<-[:DEPENDS_ON]-(t:Task)
WHERE t.wave IS NULL AND t.type = 'TASK'
WITH DISTINCT t
WHERE NOT EXISTS { (t)-[:DEPENDS_ON]->(d:Task) WHERE d.wave IS NULL AND d.type = 'TASK' }
MATCH (t)-[:DEPENDS_ON]->(d:Task)
WHERE d.type = 'TASK'
WITH t, d ORDER BY d.cp DESC, d.key ASC
WITH t, max(d.wave) AS wave, collect(d)[0] AS via
SET t.wave = wave + 1, t.cp = t.effort + via.cp
RETURN collect([t.id, t.wave, t.cp, via.id, t.key]) AS rows
"""

_UNRESOLVED: LiteralString = """
MATCH (t:Task {spec_id: $spec})
WHERE t.type = 'TASK' AND t.wave IS NULL
OPTIONAL MATCH (t)-[:DEPENDS_ON]->(d:Task)
WHERE d.type = 'TASK' AND d.wave IS NULL
RETURN t.id AS id, t.key AS key, collect(d.id) AS deps
"""

_WRITE_WAVES: LiteralString = """
MATCH (t:Task {spec_id: $spec})
WHERE t.wave IS NOT NULL
WITH t.wave AS number, collect(t) AS members
CREATE (w:Wave {id: $spec + ':' + toString(number), spec_id: $spec, number: number,
                status: 'PENDING'})
FOREACH (m IN members | CREATE (m)-[:IN_WAVE]->(w))
"""

_DELETE_WAVES: LiteralString = "MATCH (w:Wave {spec_id: $spec}) DETACH DELETE w"


# Neighbour ids of a task. Grouping by t.id yields no row for an unknown task (NotFound),
# not an empty list.
_DEPENDENCIES: LiteralString = """
MATCH (t:Task {id: $id}) OPTIONAL MATCH (t)-[:DEPENDS_ON]->(n:Task) RETURN t.id AS id, collect(n.id) AS ids
"""
_DEPENDENTS: LiteralString = """
MATCH (t:Task {id: $id}) OPTIONAL MATCH (t)<-[:DEPENDS_ON]-(n:Task) RETURN t.id AS id, collect(n.id) AS ids
"""
_CHILDREN: LiteralString = """
MATCH (t:Task {id: $id}) OPTIONAL MATCH (t)-[:PARENT_OF]->(n:Task) RETURN t.id AS id, collect(n.id) AS ids
"""


async def _one(tx: neo4j.AsyncManagedTransaction, query: LiteralString, **params: Any) -> neo4j.Record:
    return await (await tx.run(query, params)).single(strict=True)


async def _delete_spec(tx: neo4j.AsyncManagedTransaction, spec_id: str) -> None:
    await (await tx.run(_DELETE_TASKS, spec=spec_id)).consume()
    await (await tx.run(_DELETE_WAVES, spec=spec_id)).consume()


class Neo4jGraphStore(GraphStore):
    name = "neo4j"

    def __init__(self, uri: str, user: str, password: str, database: str | None = None) -> None:
        self._uri = uri
        self._auth = (user, password)
        # Naming the database spares every session a round trip to resolve the home database.
        self._database = database or "neo4j"
        self._driver: neo4j.AsyncDriver | None = None

    @property
    def persistent(self) -> bool:
        return True

    @property
    def driver(self) -> neo4j.AsyncDriver:
        if self._driver is None:
            raise RuntimeError("Neo4jGraphStore used before start()")
        return self._driver

    @asynccontextmanager
    async def _guard(self) -> AsyncIterator[None]:
        # Connection trouble is an availability problem for callers (gRPC UNAVAILABLE),
        # not a bug; anything else propagates untouched.
        try:
            yield
        except (
            ServiceUnavailable,
            SessionExpired,
            ConnectionAcquisitionTimeoutError,
            AuthError,
            OSError,
        ) as exc:
            raise Unavailable(f"graph store (neo4j) unavailable: {exc}") from exc

    async def start(self) -> None:
        if self._driver is None:
            # Fail fast when Neo4j is down: callers have deadlines of their own, and the
            # driver's default 30 s of transaction retries would outlive them.
            self._driver = neo4j.AsyncGraphDatabase.driver(
                self._uri,
                auth=self._auth,
                max_transaction_retry_time=2.0,
                connection_timeout=3.0,
                connection_acquisition_timeout=5.0,
            )
        async with self._guard():
            await self._driver.verify_connectivity()
            for statement in _SCHEMA:
                await self._driver.execute_query(statement, database_=self._database)

    async def close(self) -> None:
        if self._driver is not None:
            await self._driver.close()
            self._driver = None

    async def ping(self) -> bool:
        if self._driver is None:
            return False
        try:
            await self._driver.verify_connectivity()
        except Exception:
            return False
        return True

    async def _write(self, work: Any, *args: Any) -> Any:
        async with self._guard(), self.driver.session(database=self._database) as session:
            return await session.execute_write(work, *args)

    async def _query(self, query: LiteralString, **params: Any) -> list[neo4j.Record]:
        async with self._guard():
            result = await self.driver.execute_query(query, params, database_=self._database)
        return list(result.records)

    async def replace_spec(
        self,
        spec_id: str,
        tasks: Sequence[GraphTask],
        depends_on: Sequence[tuple[str, str]],
    ) -> None:
        validate_graph(spec_id, tasks, depends_on)
        rows = [
            {
                "id": t.id,
                "key": t.key,
                "name": t.name,
                "type": t.type,
                "status": t.status,
                "effort": t.effort,
                "phase": t.phase,
                "kind": t.kind,
            }
            for t in tasks
        ]
        parents = [{"parent": t.parent_id, "child": t.id} for t in tasks if t.parent_id is not None]
        # Duplicate pairs would become parallel edges and skew the readiness counts.
        deps = [list(pair) for pair in dict.fromkeys(depends_on)]
        skills = [{"task": t.id, "skill": s} for t in tasks for s in dict.fromkeys(t.skills)]

        async def work(tx: neo4j.AsyncManagedTransaction) -> None:
            for query, batch in (
                (_CREATE_TASKS, rows),
                (_CREATE_PARENTS, parents),
                (_CREATE_DEPENDS, deps),
                (_CREATE_SKILLS, skills),
            ):
                if batch:
                    await (await tx.run(query, rows=batch, spec=spec_id)).consume()

        # Deleting and recreating in one transaction makes every index seek of the creates wade
        # through the deletions (10,000 tasks: ~8 s instead of ~1 s), so the old graph goes first
        # in its own transaction. A failure in between leaves the spec empty, never mixed, and
        # a retry of this idempotent call repairs it.
        await self._write(_delete_spec, spec_id)
        try:
            await self._write(work)
        except ConstraintError as exc:
            raise AlreadyExists(f"a task of spec {spec_id} already exists in another spec: {exc}") from exc

    async def delete_spec(self, spec_id: str) -> None:
        await self._write(_delete_spec, spec_id)

    async def analyze(self, spec_id: str) -> WaveAnalysis:
        async def work(tx: neo4j.AsyncManagedTransaction) -> list[list[Any]]:
            expected: int = (await _one(tx, _RESET_WAVES, spec=spec_id))["tasks"]
            done: list[list[Any]] = (await _one(tx, _FIRST_WAVE, spec=spec_id))["rows"]
            frontier = [row[0] for row in done]
            while frontier:
                batch = (await _one(tx, _NEXT_WAVE, frontier=frontier))["rows"]
                done.extend(batch)
                frontier = [row[0] for row in batch]
            if len(done) < expected:
                unresolved = [record async for record in await tx.run(_UNRESOLVED, spec=spec_id)]
                # Raising rolls the transaction back: no half-written waves survive a cycle.
                keys = {r["id"]: r["key"] for r in unresolved}
                cycle = find_cycle({r["id"]: r["deps"] for r in unresolved})
                raise cycle_error(spec_id, [keys[t] for t in cycle])
            await (await tx.run(_DELETE_WAVES, spec=spec_id)).consume()
            await (await tx.run(_WRITE_WAVES, spec=spec_id)).consume()
            return done

        rows = await self._write(work)
        waves = {task_id: wave for task_id, wave, _, _, _ in rows}
        # Each task's `via` already follows the tie rules, so the shared walk sees one candidate.
        path, effort = critical_path(
            {task_id: cp for task_id, _, cp, _, _ in rows},
            {task_id: [via] for task_id, _, _, via, _ in rows if via is not None},
            {task_id: key for task_id, _, _, _, key in rows},
        )
        return WaveAnalysis(waves=waves, critical_path=path, critical_path_effort=effort)

    async def _single(self, query: LiteralString, task_id: str, **params: Any) -> neo4j.Record:
        records = await self._query(query, id=task_id, **params)
        if not records:
            raise NotFound(f"task {task_id} not in the graph", resource_type="task", resource_name=task_id)
        return records[0]

    async def set_statuses(self, changes: Sequence[tuple[str, str]]) -> None:
        if not changes:
            return

        async def work(tx: neo4j.AsyncManagedTransaction) -> None:
            found = await _one(
                tx,
                """UNWIND $changes AS change
                   MATCH (t:Task {id: change[0]}) SET t.status = change[1]
                   RETURN collect(t.id) AS ids""",
                changes=[list(c) for c in changes],
            )
            missing = sorted({task_id for task_id, _ in changes} - set(found["ids"]))
            if missing:  # raising rolls the whole batch back
                raise NotFound(
                    f"task {missing[0]} not in the graph", resource_type="task", resource_name=missing[0]
                )

        await self._write(work)

    async def assign(self, task_id: str, agent: str, specialization: str = "") -> None:
        await self._single(
            """
            MATCH (t:Task {id: $id})
            MERGE (a:Agent {name: $agent})
            ON CREATE SET a.specialization = $specialization
            ON MATCH SET a.specialization = CASE WHEN $specialization = '' THEN a.specialization
                                                 ELSE $specialization END
            WITH t, a
            OPTIONAL MATCH (t)-[old:ASSIGNED_TO]->(:Agent)
            DELETE old
            WITH DISTINCT t, a
            CREATE (t)-[:ASSIGNED_TO]->(a)
            RETURN t.id
            """,
            task_id,
            agent=agent,
            specialization=specialization,
        )

    async def _neighbours(self, query: LiteralString, task_id: str) -> list[str]:
        return sorted((await self._single(query, task_id))["ids"])

    async def dependencies(self, task_id: str) -> list[str]:
        return await self._neighbours(_DEPENDENCIES, task_id)

    async def dependents(self, task_id: str) -> list[str]:
        return await self._neighbours(_DEPENDENTS, task_id)

    async def wave_members(self, spec_id: str, wave: int) -> list[str]:
        records = await self._query(
            "MATCH (t:Task)-[:IN_WAVE]->(w:Wave {id: $wave_id}) RETURN t.id AS id ORDER BY id",
            wave_id=f"{spec_id}:{wave}",
        )
        return [r["id"] for r in records]

    # Introspection beyond the interface, mirrored by the embedded backend for the contract tests.

    async def get_task(self, task_id: str) -> GraphTask:
        record = await self._single(
            """
            MATCH (t:Task {id: $id})
            OPTIONAL MATCH (p:Task)-[:PARENT_OF]->(t)
            OPTIONAL MATCH (t)-[:REQUIRES_SKILL]->(s:Skill)
            WITH t, p, s ORDER BY s.name
            RETURN t {.*} AS t, p.id AS parent, collect(s.name) AS skills
            """,
            task_id,
        )
        t = record["t"]
        return GraphTask(
            id=t["id"],
            spec_id=t["spec_id"],
            key=t["key"],
            name=t["name"],
            type=t["type"],
            status=t["status"],
            effort=t["effort"],
            phase=t["phase"],
            kind=t["kind"],
            parent_id=record["parent"],
            skills=tuple(record["skills"]),
        )

    async def children(self, task_id: str) -> list[str]:
        return await self._neighbours(_CHILDREN, task_id)

    async def assigned_agent(self, task_id: str) -> tuple[str, str] | None:
        """(agent name, specialization) of the task's ASSIGNED_TO edge, if any."""
        record = await self._single(
            """
            MATCH (t:Task {id: $id})
            OPTIONAL MATCH (t)-[:ASSIGNED_TO]->(a:Agent)
            RETURN a.name AS name, a.specialization AS specialization
            """,
            task_id,
        )
        return None if record["name"] is None else (record["name"], record["specialization"])
