"""The composed project is already `ruff format`-clean and `ruff check`-clean under its own
pyproject.toml, for the example specs and for specs whose long names force wrapping."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from services.codegen.offline import compose, design_from_parsed
from services.codegen.offline.naming import plural, snake
from services.orchestrator.spec_parser import parse_markdown
from tests.codegen.support import EXAMPLES, run_tests, write_project

RUFF = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")

LONG_ENTITY = "MaintenanceWorkOrderTaskRecord"  # 30 characters
LONG_FIELD = "priority_level_assigned_by_the_team_lead"  # 40 characters


def ruff(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """ruff run in the project, so the project's own pyproject.toml configures it."""
    return subprocess.run(
        [RUFF, *args, "--no-cache", "."], cwd=project, capture_output=True, text=True, check=False
    )


def assert_ruff_clean(project: Path) -> None:
    assert (project / "pyproject.toml").is_file()
    formatted = ruff(project, "format", "--check", "--diff")
    assert formatted.returncode == 0, formatted.stdout[-6000:] + formatted.stderr[-2000:]
    linted = ruff(project, "check")
    assert linted.returncode == 0, linted.stdout[-6000:] + linted.stderr[-2000:]


def rename_entity(text: str, old: str, new: str) -> str:
    """`old` -> `new` as a class name, a snake-case id and a plural table/path segment."""
    old_snake, new_snake = snake(old), snake(new)
    text = re.sub(rf"\b{old}\b", new, text)
    text = re.sub(rf"\b{plural(old_snake)}\b", plural(new_snake), text)
    return re.sub(rf"\b{old_snake}_id\b", f"{new_snake}_id", text)


def long_task_api() -> str:
    text = rename_entity((EXAMPLES / "task_api.md").read_text(), "Task", LONG_ENTITY)
    for field, longer in [
        ("priority", LONG_FIELD),
        ("status", "current_status_of_the_work_order_in_flow"),
        ("due_date", "due_date_agreed_with_the_requesting_team"),
        ("archived", "archived_by_the_owner_after_the_deadline"),
    ]:
        assert f"| {field} |" in text
        text = text.replace(f"| {field} |", f"| {longer} |")
    text = text.replace("- author:", "- author_display_name_shown_next_to_comment:")
    return text.replace("name VARCHAR(50)", "tag_label_shown_on_the_board_for_the_team VARCHAR(50)")


def long_blog() -> str:
    text = rename_entity((EXAMPLES / "blog_ui.md").read_text(), "Post", "EditorialArticleOnTheFrontPage")
    text = text.replace("published: Mapped[bool]", f"{LONG_FIELD}: Mapped[bool]")
    return text.replace(
        "author: Mapped[str | None]", "author_display_name_for_the_reply_thread: Mapped[str | None]"
    )


def compose_into(text: str, root: Path) -> Path:
    project = compose(design_from_parsed(parse_markdown(text), spec_id="long-names"))
    return write_project(project.sources(), root)


@pytest.fixture(scope="module")
def long_task_api_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compose_into(long_task_api(), tmp_path_factory.mktemp("long_task_api"))


def test_task_api_project_is_ruff_clean(task_api_dir: Path) -> None:
    assert_ruff_clean(task_api_dir)


def test_blog_project_is_ruff_clean(blog_dir: Path) -> None:
    assert_ruff_clean(blog_dir)


def test_long_names_project_is_ruff_clean(long_task_api_dir: Path) -> None:
    models = (long_task_api_dir / "app/models/maintenance_work_order_task_record.py").read_text()
    assert f"class {LONG_ENTITY}(" in models
    assert f"{LONG_FIELD}: Mapped[int]" in models
    # The names really are long enough that the unwrapped code would overflow.
    assert max(len(line) for line in models.splitlines()) <= 110

    assert_ruff_clean(long_task_api_dir)


def test_long_names_blog_project_is_ruff_clean(tmp_path: Path) -> None:
    project = compose_into(long_blog(), tmp_path)
    assert (project / "app/models/editorial_article_on_the_front_page.py").is_file()

    assert_ruff_clean(project)


def test_long_names_project_tests_pass(long_task_api_dir: Path) -> None:
    run = run_tests(long_task_api_dir)

    assert run.returncode == 0, run.output[-4000:]
    assert run.passed >= 60, run.output[-2000:]
