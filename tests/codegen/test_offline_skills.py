"""The composed project passes every skill check of the platform, with no finding at all:
the share of generated files that pass every check is 100%."""

from __future__ import annotations

import pytest

import services.skills.checks  # noqa: F401 - registers every check
from services.codegen.offline import ComposedProject
from services.skills.catalogue import load_catalogue
from services.skills.checks.base import SourceFile, language_of, score_skill


def _sources(project: ComposedProject) -> list[SourceFile]:
    return [SourceFile(f.path, f.content, language_of(f.path)) for f in project.files if language_of(f.path)]


@pytest.mark.parametrize("project_name", ["task_api", "blog"])
def test_composed_project_has_no_skill_findings(project_name: str, request: pytest.FixtureRequest) -> None:
    project: ComposedProject = request.getfixturevalue(project_name)
    sources = _sources(project)
    assert any(s.language == "python" for s in sources) and any(s.name == "pyproject.toml" for s in sources)
    findings = [
        finding
        for skill in load_catalogue().skills
        for finding in score_skill(skill.name, skill.threshold, sources).findings
    ]
    assert findings == []
