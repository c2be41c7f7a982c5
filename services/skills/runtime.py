"""The skills service's state, opened once per process: the catalogue, its PostgreSQL
tables and its domain metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram

from devmatrix.runtime.config import Settings
from devmatrix.stores.postgres import Postgres, migrations_dir
from services.skills.catalogue import Catalogue, load_catalogue
from services.skills.store import SCHEMA, SkillsStore
from services.skills.validation import Report

CHECK_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass
class SkillsRuntime:
    catalogue: Catalogue
    db: Postgres
    registry: CollectorRegistry
    store: SkillsStore = field(init=False)
    validations: Counter = field(init=False)
    findings: Counter = field(init=False)
    check_seconds: Histogram = field(init=False)

    def __post_init__(self) -> None:
        self.store = SkillsStore(self.db)
        self.validations = Counter(
            "devmatrix_skills_validations",
            "Skill validations by skill and result (pass or fail).",
            ("skill", "result"),
            registry=self.registry,
        )
        self.findings = Counter(
            "devmatrix_skills_findings",
            "Findings by skill and rule.",
            ("skill", "rule"),
            registry=self.registry,
        )
        self.check_seconds = Histogram(
            "devmatrix_skills_check_seconds",
            "Time to run one skill's checks over a request's files.",
            ("skill",),
            buckets=CHECK_BUCKETS,
            registry=self.registry,
        )

    @classmethod
    async def open(
        cls, settings: Settings, registry: CollectorRegistry, catalogue_path: Path
    ) -> SkillsRuntime:
        catalogue = load_catalogue(catalogue_path)
        db = await Postgres.open(
            settings.database_url, settings.data_dir, settings.db_pool_size, migrations_dir(__file__), SCHEMA
        )
        runtime = cls(catalogue, db, registry)
        await runtime.store.sync_catalogue(catalogue)
        return runtime

    async def record(self, report: Report, task_id: str) -> None:
        """Metrics and rows of one Validate call."""
        for result, seconds in zip(report.results, report.seconds, strict=True):
            self.validations.labels(result.skill, "pass" if result.passed else "fail").inc()
            self.check_seconds.labels(result.skill).observe(seconds)
            for f in result.findings:
                self.findings.labels(result.skill, f.rule).inc()
        await self.store.record(report, task_id)

    async def ready(self) -> bool:
        return await self.db.ready()

    async def close(self) -> None:
        await self.db.close()
