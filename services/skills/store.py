"""The skills service's own tables: the catalogue as rows, and each validation with its
findings, from which GetSkillMetrics is computed."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg.types.json import Jsonb

from devmatrix.stores.postgres import Postgres
from services.skills.catalogue import Catalogue
from services.skills.validation import Report

SCHEMA = "skills"
TOP_FINDINGS = 5


@dataclass(frozen=True)
class RuleCount:
    rule: str
    count: int


@dataclass(frozen=True)
class SkillMetrics:
    skill: str
    validations: int
    pass_rate: float
    top_findings: tuple[RuleCount, ...]


class SkillsStore:
    def __init__(self, db: Postgres) -> None:
        self.db = db

    async def sync_catalogue(self, catalogue: Catalogue) -> None:
        """Make the stored skills match the catalogue (the file is the source of truth)."""
        async with self.db.pool.connection() as conn, conn.cursor() as cur:
            await cur.executemany(
                """INSERT INTO skills.skills (name, domain, description, guidelines, languages, threshold)
                   VALUES (%s, %s, %s, %s, %s, %s)
                   ON CONFLICT (name) DO UPDATE SET
                     domain = EXCLUDED.domain, description = EXCLUDED.description,
                     guidelines = EXCLUDED.guidelines, languages = EXCLUDED.languages,
                     threshold = EXCLUDED.threshold, updated_at = now()""",
                [
                    (
                        s.name,
                        s.domain,
                        s.description,
                        Jsonb(list(s.guidelines)),
                        list(s.languages),
                        s.threshold,
                    )
                    for s in catalogue.skills
                ],
            )

    async def record(self, report: Report, task_id: str) -> None:
        """One row per skill validated, with its findings; one transaction."""
        async with self.db.pool.connection() as conn, conn.cursor() as cur:
            for result in report.results:
                await cur.execute(
                    """INSERT INTO skills.validations (skill, task_id, score, passed, files)
                       VALUES (%s, %s, %s, %s, %s) RETURNING id""",
                    (result.skill, task_id or None, result.score, result.passed, report.files),
                )
                row = await cur.fetchone()
                assert row is not None
                if result.findings:
                    await cur.executemany(
                        """INSERT INTO skills.findings (validation_id, rule, path, line, severity, message)
                           VALUES (%s, %s, %s, %s, %s, %s)""",
                        [
                            (row[0], f.rule, f.path, f.line, f.severity.name, f.message)
                            for f in result.findings
                        ],
                    )

    async def metrics(self, skills: list[str]) -> list[SkillMetrics]:
        """Validations, pass rate and most frequent rules of each skill, in the given order."""
        async with self.db.pool.connection() as conn, conn.cursor() as cur:
            await cur.execute(
                """SELECT skill, count(*), avg(passed::int)
                   FROM skills.validations WHERE skill = ANY(%s) GROUP BY skill""",
                (skills,),
            )
            totals = {r[0]: (int(r[1]), float(r[2])) for r in await cur.fetchall()}
            await cur.execute(
                """SELECT skill, rule, n FROM (
                     SELECT v.skill, f.rule, count(*) AS n,
                            row_number() OVER (PARTITION BY v.skill ORDER BY count(*) DESC, f.rule) AS rank
                     FROM skills.findings f JOIN skills.validations v ON v.id = f.validation_id
                     WHERE v.skill = ANY(%s) GROUP BY v.skill, f.rule) ranked
                   WHERE rank <= %s ORDER BY skill, rank""",
                (skills, TOP_FINDINGS),
            )
            top: dict[str, list[RuleCount]] = {}
            for skill, rule, n in await cur.fetchall():
                top.setdefault(skill, []).append(RuleCount(rule, int(n)))
        return [
            SkillMetrics(
                s, totals.get(s, (0, 0.0))[0], round(totals.get(s, (0, 0.0))[1], 4), tuple(top.get(s, []))
            )
            for s in skills
        ]
