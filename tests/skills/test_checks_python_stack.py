"""global-tech-stack against the file set's manifest (pyproject.toml, requirements.txt), and
how findings become scores: a file that does not parse is one syntax-error finding, and
errors, warnings and hints weigh differently against a skill's threshold."""

from __future__ import annotations

from services.skills.checks.base import Severity, SourceFile, score_skill
from tests.skills.pycheck_support import run_rule, source, summary

APP = "app/service.py"


PYPROJECT = """
[project]
name = "service"
dependencies = ["fastapi>=0.115", "PyYAML>=6", "python-jose[cryptography]>=3.3", "sqlalchemy[asyncio]>=2"]

[project.optional-dependencies]
dev = ["pytest>=8"]
"""


def test_undeclared_dependency_is_reported_against_the_manifest() -> None:
    files = {
        "pyproject.toml": PYPROJECT,
        "app/main.py": "import requests\nimport yaml\nfrom jose import jwt\nfrom sqlalchemy import select\n",
        "app/settings.py": "import os\n\nfrom app.main import requests\n",
        "tests/test_main.py": "import pytest\n",
    }
    found = run_rule("global-tech-stack", "undeclared-dependency", files)
    assert summary(found) == [("global-tech-stack", "undeclared-dependency", "app/main.py", 1)]
    assert "imports requests but pyproject.toml does not declare requests" in found[0].message
    assert found[0].severity == Severity.ERROR


def test_a_transitive_dependency_is_a_warning_and_optional_imports_are_skipped() -> None:
    code = "from starlette.requests import Request\n\ntry:\n    import ujson\nexcept ImportError:\n    ujson = None\n"
    [finding] = run_rule(
        "global-tech-stack", "undeclared-dependency", {"pyproject.toml": PYPROJECT, APP: code}
    )
    assert finding.severity == Severity.WARNING and "only arrives through fastapi" in finding.message


def test_requirements_txt_is_a_manifest_and_no_manifest_means_no_finding() -> None:
    files = {
        "requirements.txt": "fastapi==0.115.0\n# comment\n-r dev.txt\n",
        APP: "import fastapi\nimport httpx\n",
    }
    [finding] = run_rule("global-tech-stack", "undeclared-dependency", files)
    assert (finding.line, "httpx") == (2, finding.message.split()[1])
    assert run_rule("global-tech-stack", "undeclared-dependency", {APP: "import httpx\n"}) == []


def test_a_file_that_does_not_parse_is_one_syntax_error_finding_per_skill() -> None:
    broken = SourceFile("app/broken.py", "def broken(:\n    pass\n", "python")
    result = score_skill("global-coding-style", 0.8, [broken])
    assert [(f.rule, f.line, f.path) for f in result.findings] == [("syntax-error", 1, "app/broken.py")]
    assert result.findings[0].message.startswith("does not parse:")
    assert (result.score, result.passed) == (0.0, False)


def test_project_checks_leave_a_file_that_does_not_parse_to_the_file_checks() -> None:
    files = [
        source("pyproject.toml", PYPROJECT),
        source(APP, "import requests\n"),
        source("app/x.py", "def (:\n"),
    ]
    result = score_skill("global-tech-stack", 0.8, files)
    assert sorted((f.path, f.rule) for f in result.findings) == [
        (APP, "undeclared-dependency"),
        ("app/x.py", "syntax-error"),
    ]


def test_scores_weigh_errors_warnings_and_hints_against_the_threshold() -> None:
    clean = source(
        "app/clean.py", "def run():\n    try:\n        go()\n    except ValueError:\n        raise\n"
    )
    bare = source("app/bare.py", "try:\n    go()\nexcept:\n    raise\n")
    hint = source("app/hint.py", "try:\n    go()\nexcept KeyError:\n    pass\n")
    # Five error-handling checks per file: 15 units; one ERROR unit (1) and one INFO unit (0.1).
    result = score_skill("global-error-handling", 0.8, [clean, bare, hint])
    assert result.units == 15
    assert result.score == round(1 - 1.1 / 15, 4)
    assert result.passed
    assert not score_skill("global-error-handling", 0.95, [clean, bare, hint]).passed
