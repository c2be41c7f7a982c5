"""Markdown spec ingestion: every accepted form, heading variants, and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from devmatrix.runtime.errors import InvalidArgument
from services.orchestrator.domain import EntityField, RequirementCategory
from services.orchestrator.spec_parser import classify_requirements, parse_markdown, section_kind, ui_pages

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "specs"


def _spec(body: str) -> str:
    return f"# Demo\n\nA demo service.\n\n{body}"


def test_task_api_example_parses_to_expected_spec() -> None:
    spec = parse_markdown((EXAMPLES / "task_api.md").read_text())
    assert spec.title == "Task API"
    assert spec.overview.startswith("A REST API for small teams")
    assert "versioned under `/api/v1`" in spec.overview
    assert spec.tech_stack["Framework"] == "FastAPI"
    assert spec.tech_stack["Language"] == "Python 3.11"
    assert [e.name for e in spec.entities] == ["Project", "Task", "Comment", "Tag"]
    task = spec.entities[1]
    assert task.fields[2] == EntityField("title", "str", "required, max 200 chars")
    assert spec.entities[2].fields[1] == EntityField("task_id", "int", "required, foreign key -> Task")
    assert [f.name for f in spec.entities[3].fields] == ["id", "name", "color"]
    assert len(spec.endpoints) == 17
    pairs = {(e.method, e.path): e.entity for e in spec.endpoints}
    assert pairs[("GET", "/api/v1/projects")] == "Project"
    assert pairs[("GET", "/api/v1/projects/{id}/tasks")] == "Task"
    assert pairs[("PATCH", "/api/v1/tasks/{id}")] == "Task"
    assert pairs[("DELETE", "/api/v1/comments/{id}")] == "Comment"
    assert pairs[("POST", "/api/v1/tags")] == "Tag"
    assert pairs[("GET", "/health")] is None
    assert len(spec.functional_requirements) == 7
    assert spec.functional_requirements[0] == "Users can create, read, update, archive and delete projects."
    assert len(spec.constraints) == 4
    assert list(spec.other_sections) == ["Open Questions"]
    assert "soft delete" in spec.other_sections["Open Questions"]


def test_entity_table_with_extra_columns() -> None:
    spec = parse_markdown(
        _spec(
            "## Entities\n\n### User\n\n| Name | Type | Required | Notes |\n|---|---|---|---|\n"
            "| email | string | yes | unique |\n| age | int | no | - |\n"
        )
    )
    assert spec.entities[0].name == "User"
    assert spec.entities[0].fields == [
        EntityField("email", "string", "yes; unique"),
        EntityField("age", "int", "no"),
    ]


@pytest.mark.parametrize(
    ("bullet", "expected"),
    [
        ("- title: str, required", EntityField("title", "str", "required")),
        ("- `title` (str, required)", EntityField("title", "str", "required")),
        ("- **title** (str): required, max 5", EntityField("title", "str", "required, max 5")),
        ("- title - string - unique", EntityField("title", "string", "unique")),
        ("- price: Decimal(10, 2), >= 0", EntityField("price", "Decimal(10, 2)", ">= 0")),
    ],
)
def test_entity_field_bullet_forms(bullet: str, expected: EntityField) -> None:
    spec = parse_markdown(_spec(f"## Data Model\n\n### Book\n\n{bullet}\n"))
    assert spec.entities[0].name == "Book"
    assert spec.entities[0].fields == [expected]


def test_entity_from_python_classes() -> None:
    code = (
        "```python\nclass Post(Base):\n    __tablename__ = 'posts'\n"
        "    id: Mapped[int] = mapped_column(primary_key=True)\n    title: Optional[str]\n"
        "    status = Column(String(20), nullable=False)\n\n    def publish(self) -> None:\n        x: int = 1\n\n"
        "class Colour(Enum):\n    RED = 1\n```\n"
    )
    spec = parse_markdown(_spec(f"## Models\n\n{code}"))
    assert [e.name for e in spec.entities] == ["Post"]
    assert spec.entities[0].fields == [
        EntityField("id", "int", "primary_key=True"),
        EntityField("title", "str", "optional"),
        EntityField("status", "String(20)", "nullable=False"),
    ]


def test_entity_from_sql_create_table() -> None:
    code = (
        "```sql\nCREATE TABLE IF NOT EXISTS order_items (\n  id SERIAL PRIMARY KEY,\n"
        "  price NUMERIC(10, 2) NOT NULL, -- in euros\n  FOREIGN KEY (id) REFERENCES x(id)\n);\n```\n"
    )
    spec = parse_markdown(_spec(f"## Database Schema\n\n{code}"))
    assert spec.entities[0].name == "OrderItem"
    assert spec.entities[0].fields == [
        EntityField("id", "SERIAL", "PRIMARY KEY"),
        EntityField("price", "NUMERIC(10, 2)", "NOT NULL"),
    ]
    assert len(spec.entities[0].fields) == 2  # the FOREIGN KEY clause is not a column


def test_entity_from_brace_block() -> None:
    spec = parse_markdown(
        _spec("## Entities\n\n```\nInvoice {\n  number: string  // unique\n  total?: number\n}\n```\n")
    )
    assert spec.entities[0].name == "Invoice"
    assert spec.entities[0].fields == [
        EntityField("number", "string", "unique"),
        EntityField("total", "number", "optional"),
    ]


def test_endpoint_table_and_line_forms_and_entity_inference() -> None:
    body = (
        "## Entities\n\n### Category\n\n- name: str, required\n\n"
        "## API\n\n| Method | Path | Description |\n|---|---|---|\n| get | /api/categories | List |\n\n"
        "- `POST /api/categories` - Create one\n"
        "* **DELETE** `/api/categories/{id}`: Remove one\n"
        "PUT /api/v2/categories/:id/ - Replace\n"
        "GET /api/categories - duplicate of the table row\n"
    )
    spec = parse_markdown(_spec(body))
    assert [(e.method, e.path, e.description, e.entity) for e in spec.endpoints] == [
        ("GET", "/api/categories", "List", "Category"),
        ("POST", "/api/categories", "Create one", "Category"),
        ("DELETE", "/api/categories/{id}", "Remove one", "Category"),
        ("PUT", "/api/v2/categories/:id", "Replace", "Category"),
    ]


@pytest.mark.parametrize(
    ("heading", "kind"),
    [
        ("Data Model", "entities"),
        ("Entities", "entities"),
        ("Models", "entities"),
        ("3. Domain Models", "entities"),
        ("API", "endpoints"),
        ("Endpoints", "endpoints"),
        ("API Endpoints", "endpoints"),
        ("REST API", "endpoints"),
        ("Requirements", "requirements"),
        ("Functional Requirements", "requirements"),
        ("Features", "requirements"),
        ("Constraints", "constraints"),
        ("Non-functional requirements", "constraints"),
        ("Non Functional Requirements", "constraints"),
        ("Tech Stack", "tech"),
        ("Technology", "tech"),
        ("Overview", "overview"),
        ("Pages", "ui"),
        ("Frontend", "ui"),
        ("Open Questions", None),
        ("Glossary", None),
    ],
)
def test_heading_variants(heading: str, kind: str | None) -> None:
    assert section_kind(heading) == kind


def test_requirements_constraints_and_unknown_sections() -> None:
    body = (
        "## Features\n\n1. Users sign up\n   - with an email\n2. Users log in\n\n"
        "## Non-functional requirements\n\n- [ ] p99 latency under 1s\n- [x] Passwords are hashed\n\n"
        "## Glossary\n\nA *term* means something.\n\n## Glossary\n\nsecond\n"
    )
    spec = parse_markdown(_spec(body))
    assert spec.functional_requirements == ["Users sign up (with an email)", "Users log in"]
    assert spec.constraints == ["p99 latency under 1s", "Passwords are hashed"]
    assert spec.other_sections == {"Glossary": "A *term* means something.", "Glossary (2)": "second"}
    assert spec.overview == "A demo service."


def test_tech_stack_table_and_prose_requirements() -> None:
    body = "## Stack\n\n| Layer | Choice |\n|---|---|\n| Backend | Go 1.22 |\n\n## Requirements\n\nIt must work offline.\n"
    spec = parse_markdown(_spec(body))
    assert spec.tech_stack == {"Backend": "Go 1.22"}
    assert spec.functional_requirements == ["It must work offline."]


def test_headings_inside_code_fences_are_not_sections() -> None:
    spec = parse_markdown(_spec("## Notes\n\n```bash\n# not a heading\n## nor this\n```\n"))
    assert list(spec.other_sections) == ["Notes"]
    assert "# not a heading" in spec.other_sections["Notes"]


def test_ui_pages_from_blog_example() -> None:
    spec = parse_markdown((EXAMPLES / "blog_ui.md").read_text())
    assert [e.name for e in spec.entities] == ["Post", "Reply"]
    assert [name for name, _ in ui_pages(spec)] == ["Home", "Post detail", "Editor"]
    assert spec.endpoints[-1].entity == "Reply"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("   \n\t\n", "empty"),
        ("just some words\nwithout structure", "no title"),
        ("## Overview\n\nno level-1 title", "no title"),
        ("# Title only\n\nand a paragraph", "no recognizable content"),
        ("# Spec\x00\x01\x02", "binary"),
        ("\x01\x02\x03\x04 # x", "binary"),
    ],
)
def test_bad_input_is_rejected(text: str, fragment: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_markdown(text)
    assert fragment in caught.value.message
    assert [v.field for v in caught.value.violations] == ["text"]


def test_classify_requirements_keys_categories_priorities() -> None:
    spec = parse_markdown((EXAMPLES / "task_api.md").read_text())
    requirements = classify_requirements(spec)
    by_key = {r.key: r for r in requirements}
    assert [r.key for r in requirements[:5]] == ["ENT-1", "ENT-2", "ENT-3", "ENT-4", "API-1"]
    assert len(requirements) == 4 + 17 + 7 + 4 + 7
    assert by_key["ENT-1"].category == RequirementCategory.ENTITY
    assert by_key["API-17"].text == "GET /health - Liveness probe"
    assert by_key["FR-7"].priority == 1  # "validation"
    assert by_key["CON-3"].priority == 1  # "Authentication ... token"
    assert by_key["CON-2"].category == RequirementCategory.NON_FUNCTIONAL
    assert by_key["CON-1"].category == RequirementCategory.CONSTRAINT
    assert by_key["ENT-3"].priority == 2  # "author" is not "auth"
    assert by_key["TECH-2"].text == "Framework: FastAPI"
    assert classify_requirements(parse_markdown((EXAMPLES / "task_api.md").read_text())) == requirements
