"""The sections of a task's context, rendered from what the sources returned.

Section names and priorities (0 = never cut; lower is kept first):
task 0, acceptance_criteria 0, dependencies 1, required_skills 1, expected_output 1,
parent_goal 2, spec 2, skill_guidelines 3, wave_tasks 4, patterns 5 (they fill what is left)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from devmatrix.v1 import common_pb2, orchestrator_pb2, patterns_pb2, skills_pb2
from services.context.assembly import NEVER_CUT, Section, section_text
from services.context.levels import LevelSpec
from services.context.sources import TaskView

PRIORITY = {
    "task": NEVER_CUT,
    "acceptance_criteria": NEVER_CUT,
    "dependencies": 1,
    "required_skills": 1,
    "expected_output": 1,
    "parent_goal": 2,
    "spec": 2,
    "skill_guidelines": 3,
    "wave_tasks": 4,
    "patterns": 5,
}
DONE = {common_pb2.TASK_STATUS_COMPLETED, common_pb2.TASK_STATUS_SKIPPED}
WORD = re.compile(r"[a-z0-9_/]{3,}")


def status_name(value: int) -> str:
    return common_pb2.TaskStatus.Name(value).removeprefix("TASK_STATUS_")


def kind_name(value: int) -> str:
    return common_pb2.TaskKind.Name(value).removeprefix("TASK_KIND_")


def requirement_category(value: int) -> str:
    return orchestrator_pb2.RequirementCategory.Name(value).removeprefix("REQUIREMENT_CATEGORY_").lower()


@dataclass
class Inputs:
    view: TaskView
    # None: the source was not asked at this level; for patterns and skills also "degraded".
    spec: orchestrator_pb2.GetSpecResponse | None = None
    wave_tasks: list[common_pb2.Task] | None = None
    wave_size: int = 0
    patterns: patterns_pb2.SearchPatternsResponse | None = None
    skills: skills_pb2.MapTaskToSkillsResponse | None = None


def _task(view: TaskView) -> Section:
    t = view.task
    lines = [f"**{t.name}** (`{t.key}`)", f"- kind: {kind_name(t.kind)}; status: {status_name(t.status)}"]
    if t.effort:
        lines[-1] += f"; effort: {t.effort}"
    if t.wave >= 0:
        lines[-1] += f"; wave: {t.wave}"
    lines.append(f"- id: {t.id}")
    if t.description.strip():
        lines += ["", t.description.strip()]
    return Section("task", section_text("Task", lines), PRIORITY["task"])


def _criteria(view: TaskView) -> Section:
    criteria = [f"- [ ] {c}" for c in view.task.acceptance_criteria] or ["- (none stated)"]
    return Section(
        "acceptance_criteria", section_text("Acceptance criteria", criteria), PRIORITY["acceptance_criteria"]
    )


def _dependencies(view: TaskView, spec: LevelSpec) -> Section:
    done = [d for d in view.dependencies if d.status in DONE]
    pending = [d for d in view.dependencies if d.status not in DONE]
    lines: list[str] = []
    if not view.dependencies:
        lines.append("- none: this task can start right away")
    for dep in done:
        lines.append(f"- [x] {dep.name} (`{dep.key}`, {status_name(dep.status)})")
        if dep.expected_output:
            lines.append(f"  - produced: {dep.expected_output}")
        if spec.dependency_detail and dep.description:
            lines.append(f"  - {dep.description.strip()}")
    for dep in pending:
        lines.append(f"- [ ] {dep.name} (`{dep.key}`, {status_name(dep.status)}: not done yet)")
        if spec.dependency_detail and dep.expected_output:
            lines.append(f"  - will produce: {dep.expected_output}")
    if spec.dependents and view.dependents:
        lines += ["", "Tasks waiting for this one:"]
        lines += [f"- {d.name} (`{d.key}`)" for d in view.dependents]
    return Section("dependencies", section_text("Dependencies", lines), PRIORITY["dependencies"])


def _required_skills(view: TaskView) -> Section:
    skills = [f"- {s}" for s in view.task.required_skills] or ["- (none stated)"]
    return Section("required_skills", section_text("Required skills", skills), PRIORITY["required_skills"])


def _expected_output(view: TaskView) -> Section | None:
    if not view.task.expected_output.strip():
        return None
    return Section(
        "expected_output",
        section_text("Expected output", [view.task.expected_output.strip()]),
        PRIORITY["expected_output"],
    )


def _parent_goal(view: TaskView) -> Section | None:
    parent = view.parent
    if parent is None:
        return None
    lines = [f"Part of **{parent.name}** (`{parent.key}`)."]
    if parent.description.strip():
        lines.append(parent.description.strip())
    if parent.acceptance_criteria:
        lines += [f"- {c}" for c in parent.acceptance_criteria]
    return Section("parent_goal", section_text("Goal of the parent", lines), PRIORITY["parent_goal"])


def _relevance(text: str, task_words: set[str]) -> int:
    return len(set(WORD.findall(text.lower())) & task_words)


def _spec(inputs: Inputs, spec: LevelSpec) -> Section | None:
    if inputs.spec is None:
        return None
    s = inputs.spec.spec
    lines = [f"**{s.title or s.name}**"]
    overview = s.overview.strip()
    if overview:
        if len(overview) > spec.overview_chars:
            overview = overview[: spec.overview_chars].rsplit(" ", 1)[0] + " ..."
        lines += ["", overview]
    if s.tech_stack:
        lines += ["", "Tech stack:"] + [f"- {k}: {v}" for k, v in sorted(s.tech_stack.items())]
    t = inputs.view.task
    words = set(WORD.findall(f"{t.name} {t.description} {' '.join(t.acceptance_criteria)}".lower()))
    ranked = sorted(
        inputs.spec.requirements,
        key=lambda r: (-_relevance(r.text, words), r.priority, r.key),
    )[: spec.requirements]
    if ranked:
        lines += ["", "Requirements (most relevant first):"]
        lines += [f"- [{requirement_category(r.category)}] {r.text}" for r in ranked]
    if spec.dependency_detail and s.constraints:
        lines += ["", "Constraints:"] + [f"- {c}" for c in s.constraints]
    return Section("spec", section_text("Spec", lines), PRIORITY["spec"])


def _wave(inputs: Inputs, spec: LevelSpec) -> Section | None:
    t = inputs.view.task
    others = [w for w in inputs.wave_tasks or () if w.id != t.id and w.type == common_pb2.TASK_TYPE_TASK]
    if not others:
        return None
    lines = [f"Running in parallel with this task (wave {t.wave}):"]
    lines += [f"- {w.name} (`{w.key}`, {status_name(w.status)})" for w in others[: spec.wave_tasks]]
    more = inputs.wave_size - 1 - min(len(others), spec.wave_tasks)
    if more > 0:
        lines.append(f"- ... and {more} more")
    return Section(
        "wave_tasks", section_text("Related tasks in the same wave", lines), PRIORITY["wave_tasks"]
    )


def _guidelines(inputs: Inputs, spec: LevelSpec) -> Section:
    if inputs.skills is None:
        return Section("skill_guidelines", "", PRIORITY["skill_guidelines"], degraded=True)
    lines: list[str] = []
    for skill in inputs.skills.skills:
        lines.append(f"**{skill.name}**" + (f": {skill.description}" if skill.description else ""))
        lines += [f"- {g}" for g in list(skill.guidelines)[: spec.skill_guidelines]]
    return Section(
        "skill_guidelines",
        section_text("Skill guidelines", lines or ["- no standards apply"]),
        PRIORITY["skill_guidelines"],
    )


def _code(code: str, spec: LevelSpec) -> list[str]:
    lines = code.strip("\n").splitlines()
    shown = [
        ln if len(ln) <= spec.pattern_line_chars else ln[: spec.pattern_line_chars] + " ..." for ln in lines
    ]
    shown = shown[: spec.pattern_code_lines]
    if len(lines) > spec.pattern_code_lines:
        shown.append(f"# ... {len(lines) - spec.pattern_code_lines} more lines")
    return shown


def _patterns(inputs: Inputs, spec: LevelSpec) -> Section:
    if inputs.patterns is None:
        return Section("patterns", "", PRIORITY["patterns"], degraded=True)
    lines: list[str] = []
    for match in list(inputs.patterns.matches)[: spec.patterns]:
        p = match.pattern
        tags = f"{p.category}, {p.language}" + (f"/{p.framework}" if p.framework else "")
        lines.append(
            f"### {p.name} ({tags}; score {match.hybrid_score:.2f}, success {p.success_rate:.0%}, "
            f"used {p.usage_count}x)"
        )
        if p.description:
            lines.append(p.description.strip())
        if p.code.strip():
            lines += [f"```{p.language.lower()}", *_code(p.code, spec), "```"]
    return Section(
        "patterns", section_text("Proven patterns", lines or ["- no matching pattern"]), PRIORITY["patterns"]
    )


def build_sections(inputs: Inputs, spec: LevelSpec) -> list[Section]:
    """Every section this level holds, in display order, before the budget."""
    view = inputs.view
    candidates: list[Section | None] = [
        _task(view),
        _criteria(view),
        _expected_output(view) if spec.expected_output else None,
        _dependencies(view, spec),
        _required_skills(view),
        _parent_goal(view) if spec.parent_goal else None,
        _spec(inputs, spec) if spec.spec else None,
        _wave(inputs, spec) if spec.wave_tasks else None,
        _guidelines(inputs, spec) if spec.skill_guidelines else None,
        _patterns(inputs, spec),
    ]
    return [s for s in candidates if s is not None]
