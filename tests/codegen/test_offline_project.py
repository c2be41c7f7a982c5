"""The composed project works: it compiles, imports, and its own tests pass on SQLite
and on a real PostgreSQL; and its code follows the spec's fields and constraints."""

from __future__ import annotations

import re
from pathlib import Path

from services.codegen.offline import ComposedProject, compose
from services.codegen.offline.golden import load_golden
from tests.codegen.support import run_in, run_tests, spec_design


def test_every_python_file_compiles(task_api: ComposedProject, blog: ComposedProject) -> None:
    for project in (task_api, blog):
        for f in project.files:
            if f.path.endswith(".py"):
                compile(f.content, f.path, "exec")


def test_the_application_imports(task_api_dir: Path) -> None:
    run = run_in(task_api_dir, ["-c", "import app.main; print(app.main.create_app)"])

    assert run.returncode == 0, run.output


def test_generated_tests_pass_on_sqlite(task_api_dir: Path) -> None:
    run = run_tests(task_api_dir)

    assert run.returncode == 0, run.output[-4000:]
    assert run.passed >= 60, run.output[-2000:]


def test_generated_tests_pass_on_postgresql(task_api_dir: Path, database_url: str) -> None:
    url = database_url.replace("postgresql://", "postgresql+psycopg://", 1)

    run = run_tests(task_api_dir, url)

    assert run.returncode == 0, run.output[-4000:]
    assert run.passed >= 60, run.output[-2000:]


def test_blog_project_tests_pass(blog_dir: Path) -> None:
    run = run_tests(blog_dir)

    assert run.returncode == 0, run.output[-4000:]
    assert run.passed > 0


def test_generated_project_is_lint_clean(task_api_dir: Path) -> None:
    run = run_in(task_api_dir, ["-m", "ruff", "check", "--no-cache", "."])

    assert run.returncode == 0, run.output[-4000:]


def test_composition_is_deterministic(task_api: ComposedProject) -> None:
    again = compose(spec_design("task_api.md"))

    assert [(f.path, f.content) for f in again.files] == [(f.path, f.content) for f in task_api.files]


def test_models_follow_the_spec_fields(task_api: ComposedProject) -> None:
    files = task_api.by_path()
    project = files["app/models/project.py"].content
    task = files["app/models/task.py"].content
    tag = files["app/models/tag.py"].content

    assert "name: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)" in project
    assert "description: Mapped[str | None] = mapped_column(String(2000))" in project
    assert "archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false()" in project
    assert 'ForeignKey("projects.id", ondelete="CASCADE"), index=True, nullable=False' in task
    assert 'IN_PROGRESS = "in_progress"' in task
    assert "default=TaskStatus.TODO" in task
    assert 'CheckConstraint("priority >= 1 AND priority <= 5", name="priority_range")' in task
    assert "due_date: Mapped[date | None] = mapped_column(Date)" in task
    assert "name: Mapped[str] = mapped_column(String(50), unique=True, nullable=False)" in tag
    assert 'server_default="#888888"' in tag
    assert '"task_tags"' in tag  # PUT /tasks/{id}/tags: the link table
    for name in ("project", "task", "comment", "tag"):
        assert "TimestampMixin" in files[f"app/models/{name}.py"].content


def test_schemas_follow_the_spec_constraints(task_api: ComposedProject) -> None:
    files = task_api.by_path()
    project = files["app/schemas/project.py"].content
    task = files["app/schemas/task.py"].content

    assert "Name = Annotated[PlainText, Field(min_length=1, max_length=100)]" in project
    assert "OwnerEmail = Annotated[str, Field(min_length=1, max_length=320)]" in project
    assert "return normalise_email(value)" in project
    assert "Priority = Annotated[int, Field(ge=1, le=5)]" in task
    assert "status: StatusValue = TaskStatus.TODO" in task or "status: Status = TaskStatus.TODO" in task
    assert "_due_date_not_in_past" in task


def test_a_longer_max_length_changes_model_schema_and_tests() -> None:
    variant = compose(
        spec_design(
            "task_api.md", ("| required, unique, max 100 chars |", "| required, unique, max 60 chars |")
        )
    )
    files = variant.by_path()

    assert "String(60)" in files["app/models/project.py"].content
    assert "max_length=60" in files["app/schemas/project.py"].content
    assert 'pytest.param("name", "x" * 61, id="name-too-long")' in files["tests/api/test_project.py"].content
    assert "String(100)" not in files["app/models/project.py"].content


def test_generated_tests_post_a_too_long_name_and_expect_422(task_api: ComposedProject) -> None:
    tests = task_api.by_path()["tests/api/test_project.py"].content

    assert 'pytest.param("name", "x" * 101, id="name-too-long")' in tests
    assert "assert response.status_code == 422" in tests


def test_migrations_chain_in_foreign_key_order(task_api: ComposedProject) -> None:
    files = task_api.by_path()
    chain = [
        ("0001_create_projects", "None"),
        ("0002_create_tasks", '"0001_create_projects"'),
        ("0003_create_comments", '"0002_create_tasks"'),
        ("0004_create_tags", '"0003_create_comments"'),
    ]
    for revision, previous in chain:
        code = files[f"migrations/versions/{revision}.py"].content
        assert f'revision: str = "{revision}"' in code
        assert f"down_revision: str | Sequence[str] | None = {previous}" in code
        assert "def downgrade() -> None:" in code
        assert "op.drop_table(" in code
    assert 'op.create_table(\n        "task_tags"' in files["migrations/versions/0004_create_tags.py"].content


def test_infrastructure_comes_from_the_golden_patterns(task_api: ComposedProject) -> None:
    golden = load_golden()
    files = task_api.by_path()

    assert files["app/core/logging.py"].content == golden["structlog-setup"].code
    assert files["app/core/request_id.py"].content == golden["request-id-middleware"].code
    assert "jwt" not in files["app/config.py"].content  # no users in the spec: no auth
    assert 'validation_alias=AliasChoices("DATABASE_URL"' in files["app/config.py"].content
    for f in task_api.files:
        assert set(f.patterns) <= set(golden), f.path
    used = {name for f in task_api.files for name in f.patterns}
    assert {"owned-resource-model", "item-schemas", "item-service", "fastapi-crud-endpoints"} <= used


def test_spec_without_entities_composes_a_probe_only_service() -> None:
    spec = spec_design("task_api.md")
    bare = compose(type(spec)(spec_id="bare", title="Bare", tech_stack={"Framework": "FastAPI"}))
    paths = {f.path for f in bare.files}

    assert "app/main.py" in paths
    assert not any(re.match(r"app/models/(?!base|types|__init__)", p) for p in paths)
