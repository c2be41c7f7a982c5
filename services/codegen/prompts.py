"""The prompt of the Anthropic generator, as pure functions of a `GenerationRequest`.

A prompt has two parts. The stable part (system blocks) is the same for every attempt of a
task, and largely for every task of a spec, so it is marked for prompt caching: attempts 2
and 3 and the sibling tasks of a wave pay the cache-read price for it. The per-attempt part
(the user message) holds what changes: the task, its context and the findings to fix.

Nothing here may depend on the attempt number, the clock or an unordered mapping's
iteration order in the stable part: one changed byte before a cache breakpoint is a miss.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from services.codegen.domain import (
    STRUCTURED_KINDS,
    Feedback,
    GenerationRequest,
    PatternRef,
    SkillGuide,
    SpecDesign,
    TaskInfo,
)

TOOL_NAME = "write_files"

# The only way the model may answer (tool_choice forces it): the files as structured data,
# so no code has to be scraped out of markdown fences.
WRITE_FILES_TOOL: dict[str, Any] = {
    "name": TOOL_NAME,
    "description": (
        "Write the complete source files that implement the task. Call it exactly once, with "
        "every file the task needs; each file's content is written to disk as given."
    ),
    "input_schema": {
        "type": "object",
        "properties": {
            "files": {
                "type": "array",
                "minItems": 1,
                "description": "The files to write.",
                "items": {
                    "type": "object",
                    "properties": {
                        "path": {
                            "type": "string",
                            "description": "Relative to the project root, forward slashes, no '..'.",
                        },
                        "content": {"type": "string", "description": "The complete file content."},
                    },
                    "required": ["path", "content"],
                },
            },
            "notes": {"type": "string", "description": "Optional remarks for the reviewer."},
            "patterns_used": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Names of the similar patterns the code is based on, if any.",
            },
        },
        "required": ["files"],
    },
}

TOOL_CHOICE: dict[str, Any] = {"type": "tool", "name": TOOL_NAME, "disable_parallel_tool_use": True}

# The breakpoint marker. The default 5-minute TTL fits: a task's attempts and a wave's
# tasks follow each other within minutes, and 5m writes cost 1.25x input, 1h writes 2x.
CACHE_CONTROL: dict[str, str] = {"type": "ephemeral"}

ROLE_AND_RULES = """\
You are the code generator of DevMatrix. You write the source files for one task of a larger \
project, generated task by task in dependency order; files of earlier tasks already exist.

Rules:
1. Answer only by calling the write_files tool, once, with every file this task needs. Each \
file is complete: no placeholders, no elided parts, no TODOs left for later.
2. Paths are relative to the project root with forward slashes: never absolute, never '..'. \
Every path appears at most once.
3. Follow the spec design exactly: entity and field names and types, endpoint methods and \
paths, and the tech stack. Do not invent entities or endpoints the task does not need.
4. Follow the guidelines of the skills below. The code is checked against them after \
generation; violations come back to you as findings to fix.
5. Where a similar pattern fits, build on it and adapt its names to this spec; list the names \
of the patterns you used in patterns_used.
6. Write only the files this task is responsible for; explanations go in notes, not in files."""


def _fence(code: str, language: str = "") -> str:
    """A markdown code fence longer than any backtick run inside the code."""
    longest = run = 0
    for char in code:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{code.rstrip()}\n{fence}"


def _bullets(items: Iterable[str]) -> str:
    return "\n".join(f"- {item}" for item in items)


def render_spec_design(spec: SpecDesign) -> str:
    lines = [f"# Spec design: {spec.title} (spec {spec.spec_id})"]
    if spec.overview:
        lines += ["", spec.overview.strip()]
    if spec.tech_stack:
        # Sorted: the stack arrives as a protobuf map, whose iteration order is not stable,
        # and a reordered line would miss the prompt cache.
        lines += ["", "## Tech stack", _bullets(f"{k}: {v}" for k, v in sorted(spec.tech_stack.items()))]
    if spec.entities:
        lines += ["", "## Entities"]
        for entity in spec.entities:
            title = f"### {entity.name}" + (f": {entity.description}" if entity.description else "")
            lines.append(title)
            fields = (
                f"{f.name}: {f.type}" + (f" ({f.constraints})" if f.constraints else "")
                for f in entity.fields
            )
            lines.append(_bullets(fields) or "- (no fields declared)")
    if spec.endpoints:
        lines += ["", "## Endpoints"]
        for endpoint in spec.endpoints:
            line = f"{endpoint.method.upper()} {endpoint.path}"
            if endpoint.entity:
                line += f" [{endpoint.entity}]"
            if endpoint.description:
                line += f": {endpoint.description}"
            lines.append(f"- {line}")
    if spec.functional_requirements:
        numbered = (f"FR-{i}: {text}" for i, text in enumerate(spec.functional_requirements, 1))
        lines += ["", "## Functional requirements", _bullets(numbered)]
    if spec.constraints:
        numbered = (f"CON-{i}: {text}" for i, text in enumerate(spec.constraints, 1))
        lines += ["", "## Constraints", _bullets(numbered)]
    return "\n".join(lines)


def render_skills(skills: Iterable[SkillGuide]) -> str:
    sections = [f"## {skill.name}\n{_bullets(skill.guidelines)}" for skill in skills if skill.guidelines]
    return "# Skills: guidelines the code must follow\n\n" + "\n\n".join(sections) if sections else ""


def render_patterns(patterns: Iterable[PatternRef]) -> str:
    sections = [
        f"## {p.name} ({p.category}, similarity {p.score:.2f})\n{_fence(p.code)}" for p in patterns if p.code
    ]
    if not sections:
        return ""
    return "# Similar patterns: proven code from earlier work\n\n" + "\n\n".join(sections)


def system_blocks(request: GenerationRequest) -> list[dict[str, Any]]:
    """The stable part, most widely shared first: the rules (every task), the spec design
    (every task of the spec), the skills (tasks of a kind), the patterns (this task).

    Each non-empty block ends in a cache breakpoint (four at most, the API's limit), so a task
    whose patterns differ from its sibling's still reads the rules and design from the cache.
    Empty sections are left out: the API rejects empty text blocks."""
    texts = [
        ROLE_AND_RULES,
        render_spec_design(request.spec),
        render_skills(request.skills),
        render_patterns(request.patterns),
    ]
    return [{"type": "text", "text": text, "cache_control": dict(CACHE_CONTROL)} for text in texts if text]


def render_feedback(feedback: Iterable[Feedback], previous_error: str = "") -> str:
    items = []
    for finding in feedback:
        where = f"{finding.path}:{finding.line}" if finding.line else finding.path
        rule = "/".join(part for part in (finding.skill, finding.rule) if part)
        prefix = " ".join(part for part in (f"[{rule}]" if rule else "", where) if part)
        items.append(f"{prefix}: {finding.message}" if prefix else finding.message)
    if previous_error:
        items.append(f"error: {previous_error}")
    return _bullets(items)


def _approach(task: TaskInfo) -> str:
    # The seeds' HybridCodeGenerator routes structured kinds to spec-driven generation and
    # the rest to a direct prompt; here both are one prompt with a different instruction.
    if task.kind.upper() in STRUCTURED_KINDS:
        return (
            "Derive the code from the spec design: use its entities, fields, endpoints and tech "
            "stack literally."
        )
    return "Implement the task directly, consistent with the spec design and the existing project."


def user_message(request: GenerationRequest) -> str:
    """The per-attempt part: the task, its context and, from attempt 2 on, what to fix."""
    task = request.task
    parts = [f"# Task {task.key} ({task.kind}): {task.name}"]
    if task.description:
        parts.append(task.description.strip())
    parts.append(_approach(task))
    if task.acceptance_criteria:
        parts.append("## Acceptance criteria\n" + _bullets(task.acceptance_criteria))
    if task.expected_output:
        parts.append("## Expected output\n" + task.expected_output.strip())
    if request.context.strip():
        parts.append("## Context\n" + request.context.strip())
    if request.attempt > 1 and (request.feedback or request.previous_error):
        parts.append(
            f"## Attempt {request.attempt}: the previous attempt was rejected\n"
            "Fix every problem below and answer again with the complete files:\n"
            + render_feedback(request.feedback, request.previous_error)
        )
    parts.append(f"Answer with one call of {TOOL_NAME}.")
    return "\n\n".join(parts)


def messages(request: GenerationRequest) -> list[dict[str, Any]]:
    return [{"role": "user", "content": user_message(request)}]
