"""The generated project on disk: staged beside the output directory, then swapped in whole;
and what the isolated environment installs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from devmatrix.pipeline.environment import SetupFailed, requirements
from devmatrix.pipeline.project import deploy, stage
from devmatrix.v1.common_pb2 import GeneratedFile

FILES = [
    GeneratedFile(path="app/main.py", content="app = 1\n"),
    GeneratedFile(path="README.md", content="# x\n"),
]


def tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_new_output_directory_gets_exactly_the_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    staged = stage(FILES, out)
    assert staged.parent == tmp_path and not out.exists()
    assert deploy(staged, out) is None
    assert tree(out) == {"README.md": "# x\n", "app/main.py": "app = 1\n"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_an_existing_output_directory_is_replaced_whole(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "old").mkdir(parents=True)
    (out / "old" / "stray.txt").write_text("left by hand")
    deploy(stage(FILES, out), out)
    assert tree(out) == {"README.md": "# x\n", "app/main.py": "app = 1\n"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_failed_swap_puts_the_previous_content_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    staged = stage(FILES, out)
    real_rename = os.rename

    def rename(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(src) == staged:
            raise OSError("disk full")
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(OSError, match="disk full"):
        deploy(staged, out)
    assert tree(out) == {"keep.txt": "mine"}


def test_paths_that_leave_the_project_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    for bad in ("../escape.py", "/etc/passwd", "  "):
        with pytest.raises(OSError, match="refusing to write"):
            stage([*FILES, GeneratedFile(path=bad, content="x")], tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_a_file_where_the_output_directory_should_be_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.write_text("a file")
    with pytest.raises(NotADirectoryError):
        deploy(stage(FILES, out), out)
    assert out.read_text() == "a file"


def test_requirements_are_the_runtime_and_dev_dependencies(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\ndependencies = ["fastapi>=0.115", "httpx"]\n'
        '[project.optional-dependencies]\ndev = ["pytest>=8", "httpx"]\ndocs = ["mkdocs"]\n'
    )
    assert requirements(tmp_path) == ["fastapi>=0.115", "httpx", "pytest>=8"]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, "has no pyproject.toml"),
        ("[project\n", "not valid TOML"),
        ("[project]\ndependencies = [1]\n", "strings"),
    ],
)
def test_a_project_without_installable_requirements_says_why(
    tmp_path: Path, content: str | None, words: str
) -> None:
    if content is not None:
        (tmp_path / "pyproject.toml").write_text(content)
    with pytest.raises(SetupFailed, match=words):
        requirements(tmp_path)
