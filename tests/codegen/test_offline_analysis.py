"""The analysis documents of the composed project: docs/requirements.md traces every
functional requirement to files and tests the project has, docs/constraints.md gives the
tech stack and a verification approach for every constraint."""

from __future__ import annotations

import re

import pytest

from services.codegen.offline import ComposedProject, compose, design_from_parsed
from services.orchestrator.spec_parser import parse_markdown
from tests.codegen.support import parsed

_QUOTED = re.compile(r"`([^`]+)`")


def section(doc: str, heading: str) -> str:
    """The text under `heading` up to the next heading of any level."""
    start = doc.index(heading + "\n")
    rest = doc[start + len(heading) + 1 :]
    end = re.search(r"^#{1,3} ", rest, re.M)
    return rest[: end.start()] if end else rest


def references(text: str, project: ComposedProject) -> list[str]:
    """The project files and `path::test` ids quoted in `text`."""
    files = project.by_path()
    return [q for q in _QUOTED.findall(text) if q.split("::")[0] in files]


def assert_references_exist(text: str, project: ComposedProject) -> None:
    files = project.by_path()
    for quoted in _QUOTED.findall(text):
        path, _, test = quoted.partition("::")
        if not re.fullmatch(r"[\w./-]+\.(py|toml|yml|ini|md)|Dockerfile|\.env\.example", path):
            continue  # code spans that are not paths (`relationship(`, `/metrics`)
        assert path in files, quoted
        if test:
            assert re.search(rf"^(async )?def {test}\(", files[path].content, re.M), quoted


@pytest.fixture(params=["task_api", "blog"])
def example(
    request: pytest.FixtureRequest, task_api: ComposedProject, blog: ComposedProject
) -> tuple[str, ComposedProject]:
    return {"task_api": ("task_api.md", task_api), "blog": ("blog_ui.md", blog)}[request.param]


def test_requirements_lists_every_fr_with_traces_to_existing_files(
    example: tuple[str, ComposedProject],
) -> None:
    name, project = example
    doc = project.by_path()["docs/requirements.md"].content
    requirements = parsed(name).functional_requirements

    assert requirements
    assert f"Traced: {len(requirements)} of {len(requirements)}." in doc
    for i, text in enumerate(requirements, 1):
        assert f"| FR-{i} | {text} |" in doc
        body = section(doc, f"## FR-{i}: {text}")
        assert "- Handled in: " in body and "- Tested by: " in body, body
        handled = next(line for line in body.splitlines() if line.startswith("- Handled in: "))
        tested = next(line for line in body.splitlines() if line.startswith("- Tested by: "))
        assert references(handled, project), body
        assert any(r.startswith("tests/") for r in references(tested, project)), body
        assert_references_exist(body, project)


def test_task_api_requirements_trace_to_what_handles_them(task_api: ComposedProject) -> None:
    doc = task_api.by_path()["docs/requirements.md"].content

    archive = section(doc, "## FR-1: Users can create, read, update, archive and delete projects.")
    assert "field Project.archived" in archive
    assert "`app/routes/project.py`" in archive
    assert "`tests/api/test_project.py::test_create_project_returns_201`" in archive
    cascade = section(
        doc, "## FR-2: Tasks belong to exactly one project; deleting a project deletes its tasks."
    )
    assert "cascading delete" in cascade
    assert "`tests/integration/test_flows.py::test_deleting_a_project_deletes_its_tasks`" in cascade
    listing = section(doc, "## FR-4: Listing tasks supports filtering by status and sorting by due date.")
    assert "field Task.status, field Task.due_date" in listing
    assert "`tests/api/test_task.py::test_list_project_tasks_filters_by_status`" in listing
    # The Comment tests list "task comments": they are about comments, not tasks.
    assert "test_comment.py" not in listing
    validation = section(doc, "## FR-7: Input validation errors return 422 with the offending field names.")
    assert "input validation" in validation and "`app/errors.py`" in validation
    assert "`tests/api/test_project.py::test_create_project_rejects_invalid_field`" in validation


def test_requirements_nothing_traces_to_are_flagged() -> None:
    notes = parse_markdown(
        "# Notes\n\n## Features\n\n- Notes can be exported as a PDF.\n- Input validation errors return 422.\n"
    )
    doc = compose(design_from_parsed(notes, spec_id="notes")).by_path()["docs/requirements.md"].content

    assert "Traced: 1 of 2. Not traced: FR-1." in doc
    assert "| FR-1 | Notes can be exported as a PDF. | **not traced** |" in doc
    assert "- **Not traced**: " in section(doc, "## FR-1: Notes can be exported as a PDF.")
    assert "- Handled in: " in section(doc, "## FR-2: Input validation errors return 422.")


def test_constraints_give_the_stack_and_a_verification_for_every_constraint(
    example: tuple[str, ComposedProject],
) -> None:
    name, project = example
    spec = parsed(name)
    doc = project.by_path()["docs/constraints.md"].content

    stack = section(doc, "## Tech stack")
    for key, value in spec.tech_stack.items():
        assert f"| {key} | {value} | " in stack
    assert_references_exist(doc, project)
    verifications = re.findall(r"^- Verification \((automated|check|measure|manual review)\): .+$", doc, re.M)
    assert len(verifications) == len(spec.constraints)
    for i, text in enumerate(spec.constraints, 1):
        body = section(doc, f"### CON-{i}: {text}")
        assert len(re.findall(r"^- Verification \(", body, re.M)) == 1, body
    if not spec.constraints:
        assert "The spec states no constraints." in doc


def test_task_api_constraints_name_the_tests_checks_and_gaps(task_api: ComposedProject) -> None:
    doc = task_api.by_path()["docs/constraints.md"].content

    assert "| Database | PostgreSQL 16 | `docker-compose.yml`" in doc
    paginated = section(doc, "### CON-1: All list endpoints are paginated (limit <= 100, default 20).")
    assert "- Verification (automated): `pytest` runs 4 generated tests" in paginated
    assert "`tests/api/test_project.py::test_list_projects_is_paginated`" in paginated
    latency = section(doc, "### CON-2: p95 response time under 200 ms for single-resource reads.")
    assert "- Verification (measure): " in latency and "`http_request_duration_seconds`" in latency
    assert "`app/core/metrics.py`" in latency
    auth = section(doc, "### CON-3: Authentication via a bearer token on every endpoint except /health.")
    assert (
        "- Verification (manual review): nothing in the generated project implements authentication" in auth
    )
    lazy = section(doc, "### CON-4: No ORM lazy loading inside request handlers (avoid N+1 queries).")
    assert "- Verification (check): no model declares `relationship(`" in lazy
    assert not any("relationship(" in f.content for f in task_api.files if f.path.startswith("app/models/"))


def test_blog_stack_says_what_is_not_generated(blog: ComposedProject) -> None:
    doc = blog.by_path()["docs/constraints.md"].content

    assert "| Frontend | React 18 + TypeScript | not in the generated project" in doc
    assert "| Database | SQLite | " in doc and "| Database | SQLite | not in" not in doc


def test_analysis_documents_are_bundles_of_their_own(example: tuple[str, ComposedProject]) -> None:
    _, project = example
    files = project.by_path()

    for path in ("docs/requirements.md", "docs/constraints.md"):
        bundle = files[path].bundle
        assert [f.path for f in project.files if f.bundle == bundle] == [path]
