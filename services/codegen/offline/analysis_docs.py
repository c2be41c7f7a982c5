"""The analysis documents of the composed project: docs/requirements.md (every functional
requirement FR-n traced to the files and tests that handle it) and docs/constraints.md
(the tech stack and every constraint CON-n with how it is verified).

They are written last, from the finished (formatted) files, because a trace names only
files and test functions the project really has. FR-n and CON-n number the spec's items
in order, as the planner's acceptance criteria do.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.codegen.offline import files as b
from services.codegen.offline.design import ProjectDesign
from services.codegen.offline.files import ProjectFile
from services.codegen.offline.trace import ProjectIndex, Trace, trace, verify, words_of

REQUIREMENTS_PATH = "docs/requirements.md"
CONSTRAINTS_PATH = "docs/constraints.md"
# Longer lists are cut, saying how many more: the document stays readable.
MAX_LISTED = 8
# Where a stack choice shows in the project: manifests and the settings that pick drivers.
_STACK_FILES = (
    "pyproject.toml",
    "Dockerfile",
    "docker-compose.yml",
    "alembic.ini",
    ".env.example",
    "app/config.py",
    "app/db.py",
)
_NOT_GENERATED = "not in the generated project: needs hand-written work or the Anthropic generator"


def _code(items: Sequence[str]) -> str:
    shown = ", ".join(f"`{item}`" for item in items[:MAX_LISTED])
    more = len(items) - MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def _one_line(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _summary_cell(t: Trace) -> str:
    return (
        _code([p for p in t.files if p.startswith("app/")][:3] or list(t.files[:3]))
        if t.traced
        else "**not traced**"
    )


def requirements_doc(design: ProjectDesign, index: ProjectIndex) -> str:
    traces = [(i, text, trace(text, index)) for i, text in enumerate(design.requirements, 1)]
    untraced = [f"FR-{i}" for i, _, t in traces if not t.traced]
    lines = [
        "# Requirements\n",
        f"Functional requirements of {design.title}, as the spec states them, each traced to what in this "
        "project handles it. Traces are found by name: the entities, fields and endpoint paths a "
        "requirement mentions, and the concerns it names (validation, pagination, ordering...) where "
        "the code shows them. A trace says where to look; a reviewer confirms that every clause holds.\n",
    ]
    if not traces:
        lines.append("The spec states no functional requirements.\n")
        return "\n".join(lines)
    lines += [
        f"Traced: {len(traces) - len(untraced)} of {len(traces)}. "
        + (f"Not traced: {', '.join(untraced)}.\n" if untraced else "Every requirement is traced.\n"),
        "| Id | Requirement | Traced to |\n|---|---|---|",
        *(f"| FR-{i} | {_one_line(text)} | {_summary_cell(t)} |" for i, text, t in traces),
        "",
    ]
    for i, text, t in traces:
        lines.append(f"## FR-{i}: {_one_line(text)}\n")
        if not t.traced:
            gap = f" (the project has no {' or '.join(t.missing)})" if t.missing else ""
            lines.append(
                "- **Not traced**: no entity, field, endpoint or concern of it matches the generated "
                f"project{gap}; it needs hand-written code or a decision.\n"
            )
            continue
        lines.append(f"- Matched: {', '.join(t.matched)}")
        lines.append(f"- Handled in: {_code(t.files)}")
        lines.append(f"- Tested by: {_code(t.tests)}" if t.tests else "- Tested by: no generated test")
        if t.missing:
            lines.append(f"- Not covered: {', '.join(t.missing)} (nothing generated for it)")
        lines.append("")
    return "\n".join(lines)


def _stack_files(value: str, index: ProjectIndex) -> list[str]:
    """Files naming every word of a stack choice (`pytest + httpx`: both), versions aside."""
    names = [w[:8] for w in words_of(value) if len(w) >= 3 and not w[0].isdigit() and w != "and"]
    if not names:
        return []
    return [
        path
        for path in _STACK_FILES
        if path in index.files and all(n in index.files[path].content.lower() for n in names)
    ]


def constraints_doc(design: ProjectDesign, index: ProjectIndex) -> str:
    lines = [
        "# Tech stack and constraints\n",
        f"The stack and constraints of {design.title}, and how each constraint is verified in this project.\n",
        "## Tech stack\n",
    ]
    if design.tech_stack:
        lines.append("| Item | Choice | Named in |\n|---|---|---|")
        for key, value in design.tech_stack:
            found = _stack_files(value or key, index)
            lines.append(
                f"| {_one_line(key)} | {_one_line(value)} | {_code(found) if found else _NOT_GENERATED} |"
            )
        lines.append("")
    else:
        lines.append(
            "The spec names no tech stack; the project uses FastAPI, SQLAlchemy 2 (async), Alembic, Pydantic v2.\n"
        )
    lines.append("## Constraints\n")
    if not design.constraints:
        lines.append("The spec states no constraints.\n")
        return "\n".join(lines)
    for i, text in enumerate(design.constraints, 1):
        v = verify(text, index)
        lines += [f"### CON-{i}: {_one_line(text)}\n", f"- Verification ({v.method}): {v.approach}"]
        for e in v.evidence:
            lines.append(f"- {e.concern}: {_code(e.files)}")
            if e.tests:
                lines.append(f"  - tests: {_code(e.tests)}")
        lines.append("")
    return "\n".join(lines)


def analysis_files(design: ProjectDesign, files: Sequence[ProjectFile]) -> list[ProjectFile]:
    """The two documents, each in a bundle of its own (one planned task each)."""
    index = ProjectIndex(design, files)
    return [
        ProjectFile(REQUIREMENTS_PATH, requirements_doc(design, index), b.REQUIREMENTS_DOC),
        ProjectFile(CONSTRAINTS_PATH, constraints_doc(design, index), b.CONSTRAINTS_DOC),
    ]
