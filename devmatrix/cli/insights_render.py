"""How the insights commands look on a terminal: the dashboard, agent and task tables."""

from __future__ import annotations

from collections.abc import Sequence

from rich.markup import escape
from rich.table import Table

from devmatrix.cli.common import out
from devmatrix.cli.render import STATUS_STYLE, counts_row, short
from devmatrix.v1 import common_pb2
from devmatrix.v1 import insights_pb2 as pb
from devmatrix.v1 import orchestrator_pb2 as opb


def duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes}m {secs}s" if hours else f"{minutes}m {secs}s" if minutes else f"{secs}s"


def status_text(value: int) -> str:
    name = short(value, common_pb2.TaskStatus, "TASK_STATUS_")
    return f"[{STATUS_STYLE.get(name, '')}]{name}[/]"


def agents_table(agents: Sequence[pb.AgentWorkload]) -> Table:
    table = Table(title="Agents")
    for column in (
        "agent",
        "assigned",
        "running",
        "completed",
        "failed",
        "review",
        "actions",
        "mean ms",
        "cost $",
    ):
        table.add_column(column, justify="left" if column == "agent" else "right")
    for a in agents:
        table.add_row(
            escape(a.agent),
            *(str(n) for n in (a.assigned, a.running, a.completed, a.failed, a.needs_review)),
            f"{a.actions} ({a.failed_actions} failed)",
            f"{a.mean_duration_ms:.1f}",
            f"{a.cost_usd:.4f}",
        )
    return table


def print_dashboard(d: pb.GetDashboardResponse) -> None:
    p, eta = d.progress, d.progress.eta
    out.print(
        f"[bold]{escape(d.spec.title)}[/] ({d.spec.id}) {short(d.spec.status, opb.SpecStatus, 'SPEC_STATUS_')}"
    )
    done = p.overall.completed + p.overall.skipped
    eta_text = (
        f"ETA {duration(eta.seconds)} (average task {eta.average_task_seconds:.1f} s over {eta.measured_tasks}, "
        f"{eta.remaining_tasks} remaining, concurrency {eta.concurrency})"
        if eta.known
        else f"ETA unknown ({eta.remaining_tasks} remaining, no measured task yet)"
    )
    out.print(
        f"{done}/{p.overall.total} tasks done ({p.overall.percent_complete:.1f}%) · {eta_text}",
        highlight=False,
    )
    out.print(
        f"review queue {d.review_queue_size} · retries {d.retries} · tokens {d.tokens_in} in / {d.tokens_out} out"
        f" · ${d.cost_usd:.4f}",
        highlight=False,
    )
    if d.HasField("latest_execution"):
        e = d.latest_execution
        out.print(
            f"latest execution {e.id}: {short(e.status, opb.ExecutionStatus, 'EXECUTION_STATUS_')}, "
            f"{e.waves_executed} waves, {e.tasks_completed} completed, {e.tasks_failed} failed, "
            f"{e.tasks_in_review} in review, {e.wall_seconds:.1f} s wall, {e.attempts} attempts, ${e.cost_usd:.4f}",
            highlight=False,
        )
    waves = Table(title=f"Waves (critical path effort {d.critical_path_effort})")
    columns = (
        "wave",
        "done",
        "tasks",
        "completed",
        "running",
        "ready",
        "pending",
        "failed",
        "blocked",
        "review",
    )
    for column in (*columns, "effort", "critical"):
        waves.add_column(column, justify="right")
    for w in d.waves:
        critical = sum(t.on_critical_path for t in w.tasks)
        waves.add_row(*counts_row(str(w.number), w.counts), str(w.total_effort), str(critical))
    out.print(waves)
    active = [
        t
        for w in d.waves
        for t in w.tasks
        if t.attempts or t.status not in (common_pb2.TASK_STATUS_PENDING, common_pb2.TASK_STATUS_READY)
    ]
    if active:
        table = Table(title="Started tasks")
        for column in ("wave", "task", "status", "agent", "attempts", "seconds", "critical"):
            table.add_column(column)
        for t in active:
            table.add_row(
                str(t.wave),
                escape(t.key),
                status_text(t.status),
                escape(t.agent),
                str(t.attempts),
                f"{t.duration_seconds:.1f}",
                "*" if t.on_critical_path else "",
            )
        out.print(table)
    if d.agents:
        out.print(agents_table(d.agents))
