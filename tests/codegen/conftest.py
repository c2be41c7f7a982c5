"""One composed project per example spec for the whole session: composing is cheap,
but its tests run in a subprocess and every test here reads the same files."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.codegen.offline import ComposedProject, compose
from tests.codegen.support import spec_design, write_project


@pytest.fixture(scope="session")
def task_api() -> ComposedProject:
    return compose(spec_design("task_api.md"))


@pytest.fixture(scope="session")
def task_api_dir(task_api: ComposedProject, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_project(task_api.sources(), tmp_path_factory.mktemp("task_api"))


@pytest.fixture(scope="session")
def blog() -> ComposedProject:
    return compose(spec_design("blog_ui.md"))


@pytest.fixture(scope="session")
def blog_dir(blog: ComposedProject, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_project(blog.sources(), tmp_path_factory.mktemp("blog"))
