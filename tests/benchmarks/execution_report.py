"""The execution benchmark's report: the figures per spec and concurrency, and where the
time goes, as rich tables (tests/benchmarks/execution.py measures)."""

from __future__ import annotations

import argparse
import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from tests.benchmarks.execution import Run

console = Console(width=170)


def med(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def fmt(value: float, digits: int = 1) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def mean_med(values: Sequence[float]) -> str:
    """Mean / median: the means add up to the wall, the medians show the usual case."""
    return f"{statistics.fmean(values):.1f} / {statistics.median(values):.1f}" if values else "-"


def groups(runs: list[Run]) -> list[list[Run]]:
    grouped: dict[tuple[str, int], list[Run]] = defaultdict(list)
    for run in runs:
        grouped[(run.spec, run.concurrency)].append(run)
    return list(grouped.values())


MAIN_COLUMNS = [
    "spec",
    "conc",
    "tasks",
    "waves",
    "rounds",
    "sleep s",
    "wall s",
    "ideal wall s",
    "speedup",
    "ideal speedup",
    "% of ideal",
    "CP bound",
    "tasks/waves",
    "o/h ms/round",
    "worker o/h ms",
]
DETAIL_COLUMNS = [
    "spec",
    "conc",
    "claim->call",
    "call-sleep",
    "answer->done",
    "next claim",
    "barrier",
    "barrier max",
    "start",
    "end",
    "max running",
    "CPU ms/task",
    "poll stalls",
    "wall w/o stalls (est.)",
    "wave sizes",
]


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]], caption: str) -> Table:
    t = Table(title=title, caption=caption, title_justify="left", caption_justify="left")
    for i, name in enumerate(columns):
        t.add_column(name, justify="left" if i == 0 else "right")
    for row in rows:
        t.add_row(*row)
    return t


def colour(ok: bool, text: str) -> str:
    return f"[{'green' if ok else 'red'}]{text}[/]"


def print_report(
    runs: list[Run], args: argparse.Namespace, poll_seconds: float, lease_seconds: float
) -> None:
    rows = []
    for group in groups(runs):
        first = group[0]
        wall = med([r.wall_s for r in group])
        effort = first.tasks * first.sleep
        pct = 100.0 * first.ideal_wall_s / wall
        overhead = 1000.0 * (wall - first.ideal_wall_s) / first.rounds
        spread = (
            f" ({min(r.wall_s for r in group):.2f}-{max(r.wall_s for r in group):.2f})"
            if len(group) > 1
            else ""
        )
        bad = sorted(
            {f"{r.status} {r.tasks_completed}/{r.tasks}" for r in group if r.tasks_completed != r.tasks}
        )
        rows.append(
            (
                first.spec + (f" [red]{', '.join(bad)}[/]" if bad else ""),
                str(first.concurrency),
                str(first.tasks),
                str(first.waves),
                str(first.rounds),
                f"{first.sleep:.3f}",
                f"{wall:.3f}{spread}",
                f"{first.ideal_wall_s:.3f}",
                f"{effort / wall:.2f}x",
                f"{effort / first.ideal_wall_s:.2f}x",
                colour(pct >= 90, f"{pct:.1f}%"),
                f"{first.cp_bound:.2f}x",
                f"{first.tasks / first.waves:.2f}x",
                colour(overhead < 10, f"{overhead:.1f}"),
                f"{med([r.worker_overhead_per_task_ms for r in group]):.1f}",
            )
        )
    console.print(
        table(
            f"Wave execution: real orchestrator, codegen stand-in sleeping {args.sleep * 1000:.0f} ms per task "
            f"(median of {args.repeat} run(s) per row{', min-max in brackets' if args.repeat > 1 else ''})",
            MAIN_COLUMNS,
            rows,
            "wall = the Execution's wall_seconds (server: started_at to finished_at). "
            "ideal wall = sum over waves of ceil(tasks_in_wave / conc) * sleep;\n"
            "rounds = that sum of ceils (sequential slots). speedup = tasks*sleep / wall; ideal speedup = "
            "tasks*sleep / ideal wall; % of ideal = ideal wall / wall (target >= 90%).\n"
            "o/h ms/round = (wall - ideal wall) / rounds: what the orchestrator adds to each sequential slot "
            "(claim, bookkeeping, completion, wave barriers shared out);\n"
            "  at conc 1 rounds = tasks, so it is (wall - tasks*sleep) / tasks (target < 10 ms). "
            "worker o/h = sequential_seconds / tasks - sleep (one task's worker.run beyond the call).\n"
            "CP bound = total effort / effort-weighted critical path (AnalyzeDependencies ideal_speedup), "
            "for reference; with equal task times the unlimited-worker bound is tasks/waves.",
        )
    )

    rows = []
    for group in groups(runs):
        first = group[0]

        def all_of(name: str, group: list[Run] = group) -> list[float]:
            return [v for r in group for v in getattr(r, name)]

        barriers = all_of("barrier_ms")
        stalled = all_of("stalls_ms")
        clean = med([r.wall_without_stalls_s for r in group])
        rows.append(
            (
                first.spec,
                str(first.concurrency),
                mean_med(all_of("claim_to_call_ms")),
                mean_med(all_of("call_over_sleep_ms")),
                mean_med(all_of("answer_to_done_ms")),
                mean_med(all_of("next_claim_ms")),
                mean_med([b for b in barriers if b not in stalled]),
                fmt(max(barriers) if barriers else float("nan")),
                fmt(med([r.start_ms for r in group])),
                fmt(med([r.end_ms for r in group])),
                str(max(r.max_running for r in group)),
                fmt(med([1000.0 * r.cpu_s / r.tasks for r in group])),
                colour(not stalled, f"{len(stalled)} / {sum(stalled) / 1000:.2f} s"),
                f"{clean:.3f} ({100.0 * first.ideal_wall_s / clean:.1f}%, "
                f"{1000.0 * (clean - first.ideal_wall_s) / first.rounds:.1f} ms)",
                " ".join(map(str, first.wave_sizes)),
            )
        )
    console.print(
        table(
            "Where the time goes (ms, mean / median over every task or wave transition of the row's runs)",
            DETAIL_COLUMNS,
            rows,
            "claim->call: RUNNING committed (audit_log) to the GenerateCode call (task_attempts.started_at). "
            "call-sleep: the call's round trip beyond the sleep.\n"
            "answer->done: the answer (task_attempts.finished_at) to COMPLETED committed (audit_log). "
            "next claim: a worker's completion to its next claim in the same wave.\n"
            "barrier: a wave's last completion to the next wave's first claim (without stalls; max: with). "
            "start/end: execution started_at to the first claim; last completion to finished_at.\n"
            "CPU ms/task: CPU time of the benchmark process (the orchestrator, and this client polling "
            "GetExecution) during the execution / tasks; PostgreSQL and the stand-in not included.\n"
            f"poll stalls: barriers (or ends) >= half the runner's poll interval ({poll_seconds:.2f} s = lease "
            f"{lease_seconds:.0f} s / 4, clamped to 0.1..5 s): a worker\n"
            "  slept on the poll and the wave could not end; count / their total. wall w/o stalls: an ESTIMATE, "
            "wall minus each stall's excess over the median barrier\n"
            "  (% of ideal, o/h ms/round). The measured figures are the ones in the table above.",
        )
    )


# --------------------------------------------------------------------------- main
