"""What a run reports: one result line per phase, and the summary `--json` prints and the
orchestrator stores (RecordPipelineRun)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from devmatrix.v1 import orchestrator_pb2 as pb

PHASES: tuple[tuple[str, str], ...] = (
    ("1", "ingestion"),
    ("2", "requirements analysis"),
    ("3", "planning"),
    ("4", "atomization"),
    ("5", "DAG and waves"),
    ("6", "wave execution"),
    ("6.5", "compliance"),
    ("7", "validation"),
    ("8", "deployment"),
    ("9", "health check"),
    ("10", "learning"),
)
COMPLIANCE_TARGET = 0.8


@dataclass
class PhaseResult:
    phase: str
    name: str
    ok: bool
    line: str
    seconds: float


@dataclass
class Level:
    level: str
    passed: bool
    checked: int
    failed: int
    detail: str = ""


@dataclass
class Health:
    passed: bool = False
    installed: bool = False
    tests_passed: int = 0
    tests_failed: int = 0
    endpoints_checked: int = 0
    endpoints_ok: int = 0
    detail: str = ""


@dataclass
class RunSummary:
    spec_id: str = ""
    run_id: str = ""
    execution_id: str = ""
    out_dir: str = ""
    tasks: int = 0
    waves: int = 0
    waves_executed: int = 0
    tasks_completed: int = 0
    tasks_failed: int = 0
    tasks_in_review: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)
    compliance: float = 0.0
    compliance_before_repair: float = 0.0
    tasks_repaired: int = 0
    validation: list[Level] = field(default_factory=list)
    health: Health = field(default_factory=Health)
    patterns_stored: int = 0
    tasks_reusing_patterns: int = 0
    reuse_rate: float = 0.0
    # Samples and correction factor per task kind (GetEstimateCorrection) after the run.
    estimate_correction: dict[str, Any] = field(default_factory=dict)
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    wall_seconds: float = 0.0
    execution_wall_seconds: float = 0.0
    sequential_seconds: float = 0.0
    phases: list[PhaseResult] = field(default_factory=list)

    @property
    def speedup(self) -> float:
        """Wave execution against the same tasks one by one."""
        return self.sequential_seconds / self.execution_wall_seconds if self.execution_wall_seconds else 0.0

    @property
    def passed(self) -> bool:
        return (
            all(p.ok for p in self.phases)
            and len(self.phases) == len(PHASES)
            and self.tasks_failed == 0
            and self.tasks_in_review == 0
        )

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["passed"] = self.passed
        data["speedup"] = round(self.speedup, 2)
        return data

    def as_pb(self) -> pb.PipelineRun:
        h = self.health
        return pb.PipelineRun(
            spec_id=self.spec_id,
            execution_id=self.execution_id,
            passed=self.passed,
            compliance=self.compliance,
            validation=[
                pb.ValidationLevel(
                    level=v.level, passed=v.passed, checked=v.checked, failed=v.failed, detail=v.detail
                )
                for v in self.validation
            ],
            health=pb.HealthCheck(
                passed=h.passed,
                installed=h.installed,
                tests_passed=h.tests_passed,
                tests_failed=h.tests_failed,
                endpoints_checked=h.endpoints_checked,
                endpoints_ok=h.endpoints_ok,
                detail=h.detail,
            ),
            patterns_stored=self.patterns_stored,
            reuse_rate=self.reuse_rate,
            tokens_in=self.tokens_in,
            tokens_out=self.tokens_out,
            cost_usd=self.cost_usd,
            wall_seconds=self.wall_seconds,
            sequential_seconds=self.sequential_seconds,
            out_dir=self.out_dir,
            tasks_repaired=self.tasks_repaired,
        )
