"""The agent-os way, for comparison: the whole spec and the whole task list as one markdown
document, handed to an agent whatever its task; and the facts a task's context must carry."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from devmatrix.v1 import common_pb2, orchestrator_pb2
from services.context.sections import kind_name, requirement_category, status_name


def render_full_markdown(spec: orchestrator_pb2.GetSpecResponse, tasks: list[common_pb2.Task]) -> str:
    s = spec.spec
    out = [f"# Spec: {s.title or s.name}", "", "## Overview", "", s.overview.strip() or "(none)", ""]
    if s.tech_stack:
        out += ["## Tech Stack", ""] + [f"- {k}: {v}" for k, v in s.tech_stack.items()] + [""]
    if s.constraints:
        out += ["## Constraints", ""] + [f"- {c}" for c in s.constraints] + [""]
    by_category: dict[str, list[str]] = defaultdict(list)
    for r in spec.requirements:
        by_category[requirement_category(r.category)].append(f"- {r.key}: {r.text}")
    if by_category:
        out += ["## Requirements", ""]
        for category, lines in by_category.items():
            out += [f"### {category.replace('_', ' ').title()}", "", *lines, ""]

    names = {t.id: t.name for t in tasks}
    children: dict[str, list[common_pb2.Task]] = defaultdict(list)
    for t in sorted(tasks, key=lambda t: t.position):
        children[t.parent_id].append(t)
    out += ["# Tasks", ""]

    def emit(task: common_pb2.Task, depth: int) -> None:
        indent = "  " * depth
        box = "x" if task.status == common_pb2.TASK_STATUS_COMPLETED else " "
        if task.type == common_pb2.TASK_TYPE_PHASE:
            out.extend([f"## Phase {task.phase}: {task.name}", ""])
            if task.description:
                out.extend([task.description.strip(), ""])
            for child in children.get(task.id, ()):
                emit(child, 0)
            out.append("")
            return
        out.append(f"{indent}- [{box}] {task.key} {task.name}")
        sub = indent + "  "
        if task.description.strip():
            out.append(f"{sub}- Description: {task.description.strip()}")
        if task.type == common_pb2.TASK_TYPE_TASK:
            out.append(
                f"{sub}- Kind: {kind_name(task.kind)}; status: {status_name(task.status)}; "
                f"effort: {task.effort}; wave: {task.wave}"
            )
        for criterion in task.acceptance_criteria:
            out.append(f"{sub}- Acceptance: {criterion}")
        if task.depends_on:
            out.append(f"{sub}- Depends on: {', '.join(names.get(d, d) for d in task.depends_on)}")
        if task.required_skills:
            out.append(f"{sub}- Skills: {', '.join(task.required_skills)}")
        if task.expected_output:
            out.append(f"{sub}- Expected output: {task.expected_output}")
        for child in children.get(task.id, ()):
            emit(child, depth + 1)

    for root in children.get("", ()):
        emit(root, 0)
    return "\n".join(out).rstrip() + "\n"


@dataclass
class Fact:
    kind: str  # task_name, acceptance_criterion, dependency, required_skill
    value: str
    in_context: bool = False
    in_full_markdown: bool = False


def _norm(text: str) -> str:
    return " ".join(text.split())


def required_facts(
    task: common_pb2.Task, dependencies: list[common_pb2.Task], context: str, full: str
) -> list[Fact]:
    facts = [Fact("task_name", task.name)]
    facts += [Fact("acceptance_criterion", c) for c in task.acceptance_criteria]
    facts += [Fact("dependency", d.name) for d in dependencies]
    facts += [Fact("required_skill", s) for s in task.required_skills]
    context_n, full_n = _norm(context), _norm(full)
    for fact in facts:
        value = _norm(fact.value)
        fact.in_context = value in context_n
        fact.in_full_markdown = value in full_n
    return facts
