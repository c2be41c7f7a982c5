"""How plans and progress look on a terminal, and as one JSON document."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from devmatrix.v1 import common_pb2
from devmatrix.v1 import orchestrator_pb2 as pb

STATUS_STYLE = {
    "PENDING": "dim",
    "READY": "cyan",
    "RUNNING": "yellow",
    "COMPLETED": "green",
    "FAILED": "red",
    "BLOCKED": "magenta",
    "SKIPPED": "dim",
    "NEEDS_REVIEW": "bold yellow",
}


def short(enum_value: int, enum: Any, prefix: str) -> str:
    return enum.Name(enum_value).removeprefix(prefix)


def task_json(task: common_pb2.Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "key": task.key,
        "type": short(task.type, common_pb2.TaskType, "TASK_TYPE_"),
        "name": task.name,
        "description": task.description,
        "parent": task.parent_id or None,
        "phase": task.phase,
        "status": short(task.status, common_pb2.TaskStatus, "TASK_STATUS_"),
        "effort": task.effort,
        "kind": short(task.kind, common_pb2.TaskKind, "TASK_KIND_"),
        "skills": list(task.required_skills),
        "depends_on": list(task.depends_on),
        "wave": task.wave if task.wave >= 0 else None,
    }


def plan_json(
    spec: pb.Spec | None,
    tasks: list[common_pb2.Task],
    analysis: pb.AnalyzeDependenciesResponse | None,
    cycle: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "spec_id": spec.id if spec else None,
        "title": spec.title if spec else None,
        "tasks": [task_json(t) for t in tasks],
        "waves": [list(w.task_ids) for w in analysis.waves] if analysis else [],
        "critical_path": list(analysis.critical_path) if analysis else [],
        "critical_path_effort": analysis.critical_path_effort if analysis else 0,
        "parallelism": {
            "total_effort": analysis.total_effort,
            "max_width": analysis.max_width,
            "average_width": analysis.average_width,
            "ideal_speedup": analysis.ideal_speedup,
        }
        if analysis
        else None,
        "ready": list(analysis.ready_task_ids) if analysis else [],
        "cycle": cycle,
    }


def _label(task: common_pb2.Task) -> str:
    status = short(task.status, common_pb2.TaskStatus, "TASK_STATUS_")
    kind = short(task.type, common_pb2.TaskType, "TASK_TYPE_")
    wave = f" wave {task.wave}" if task.wave >= 0 and kind == "TASK" else ""
    style = STATUS_STYLE.get(status, "")
    text = f"[bold]{task.key}[/] {task.name} [{style}]{status}[/]"
    if kind == "TASK":
        text += f" [dim]effort {task.effort}{wave} · {', '.join(task.required_skills)}[/]"
    elif kind == "SUBTASK":
        text = f"[dim]{task.key} {task.name}[/]"
    return text


def print_plan(
    console: Console,
    spec: pb.Spec,
    tasks: list[common_pb2.Task],
    analysis: pb.AnalyzeDependenciesResponse,
) -> None:
    by_id = {t.id: t for t in tasks}
    root = Tree(f"[bold]{spec.title}[/] [dim]spec {spec.id} · {len(tasks)} tasks[/]")
    nodes: dict[str, Tree] = {}
    for task in tasks:  # hierarchy order: parents come first
        parent = nodes.get(task.parent_id, root)
        nodes[task.id] = parent.add(_label(task))
    console.print(root)

    table = Table(title="Execution waves", show_lines=False)
    table.add_column("wave", justify="right")
    table.add_column("tasks", justify="right")
    table.add_column("effort", justify="right")
    table.add_column("task keys")
    for wave in analysis.waves:
        members = sorted((by_id[i] for i in wave.task_ids if i in by_id), key=lambda t: t.position)
        keys = ", ".join(t.key for t in members)
        table.add_row(str(wave.number), str(len(wave.task_ids)), str(wave.total_effort), keys)
    console.print(table)
    path = " -> ".join(by_id[i].key if i in by_id else i for i in analysis.critical_path)
    console.print(f"[bold]Critical path[/] (effort {analysis.critical_path_effort}): {path}")
    console.print(
        f"[bold]Parallelism[/]: {len(analysis.waves)} waves, max width {analysis.max_width}, "
        f"average width {analysis.average_width:.2f}, total effort {analysis.total_effort}, "
        f"ideal speedup {analysis.ideal_speedup:.2f}x"
    )


def counts_row(name: str, c: pb.ProgressCounts) -> list[str]:
    return [
        name,
        f"{c.percent_complete:.1f}%",
        str(c.total),
        str(c.completed),
        str(c.running),
        str(c.ready),
        str(c.pending),
        str(c.failed),
        str(c.blocked),
        str(c.needs_review),
    ]


def print_progress(console: Console, progress: pb.GetProgressResponse) -> None:
    status = short(progress.spec_status, pb.SpecStatus, "SPEC_STATUS_")
    current = progress.current_wave if progress.current_wave >= 0 else "none (all done)"
    console.print(f"[bold]Spec {progress.spec_id}[/] {status} · current wave {current}")
    table = Table()
    for column in (
        "scope",
        "done",
        "tasks",
        "completed",
        "running",
        "ready",
        "pending",
        "failed",
        "blocked",
        "review",
    ):
        table.add_column(column, justify="left" if column == "scope" else "right")
    table.add_row(*counts_row("overall", progress.overall), style="bold")
    for phase in progress.phases:
        table.add_row(*counts_row(f"phase {phase.phase} {phase.name}", phase.counts))
    for wave in progress.waves:
        table.add_row(*counts_row(f"wave {wave.wave}", wave.counts))
    for agent in progress.agents:
        table.add_row(*counts_row(f"agent {agent.agent}", agent.counts))
    console.print(table)


def event_line(event: pb.TaskEvent) -> str:
    at = event.at.ToDatetime().strftime("%H:%M:%S.%f")[:-3]
    before = short(event.previous_status, common_pb2.TaskStatus, "TASK_STATUS_")
    after = short(event.status, common_pb2.TaskStatus, "TASK_STATUS_")
    reason = f" ({event.reason})" if event.reason else ""
    return f"{at} {event.task_key} {before} -> {after}{reason} by {event.actor}"
