"""Validation input handling: paths, duplicates, skipped files, unknown skills, the choice
of skills when none is named, and the overall score."""

from __future__ import annotations

import re

import pytest

from devmatrix.runtime.errors import InvalidArgument
from services.skills.catalogue import load_catalogue
from services.skills.checks.base import MAX_FILE_BYTES
from services.skills.validation import FileInput, prepare, validate

CATALOGUE = load_catalogue()
CLEAN_PY = '"""Sums."""\n\n\ndef add(left: int, right: int) -> int:\n    """The sum of two integers."""\n    return left + right\n'


@pytest.mark.parametrize(
    ("path", "field"),
    [("", "files[0].path"), ("/etc/passwd", "files[0].path"), ("app/../../x.py", "files[0].path")],
)
def test_a_bad_path_is_invalid_argument_naming_the_file(path: str, field: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        prepare([FileInput(path, "x = 1\n")])
    assert raised.value.violations[0].field == field


def test_a_path_given_twice_is_refused() -> None:
    with pytest.raises(InvalidArgument, match=re.escape("files[1].path: 'a.py' appears more than once")):
        prepare([FileInput("a.py", "x = 1\n"), FileInput("a.py", "y = 2\n")])


def test_no_files_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="files must not be empty"):
        prepare([])


def test_binary_huge_and_unknown_files_are_skipped_with_a_reason() -> None:
    sources, skipped = prepare(
        [
            FileInput("logo.png", "\x89PNG\x00\x00"),
            FileInput("big.py", "x = 1\n" * (MAX_FILE_BYTES // 6 + 1)),
            FileInput("notes.txt", "hello"),
            FileInput("app/main.py", CLEAN_PY),
        ]
    )
    assert [s.path for s in sources] == ["app/main.py"]
    reasons = {s.path: s.reason for s in skipped}
    assert reasons["logo.png"] == "binary content"
    assert "over the" in reasons["big.py"]
    assert reasons["notes.txt"] == "no checks for this file type"


def test_the_language_given_overrides_the_suffix() -> None:
    sources, skipped = prepare([FileInput("page.template", "<p>hi</p>", "html")])
    assert not skipped
    assert sources[0].language == "html"


def test_an_unknown_skill_is_invalid_argument_naming_it() -> None:
    with pytest.raises(InvalidArgument) as raised:
        validate(CATALOGUE, [FileInput("a.py", CLEAN_PY)], ["backend-queries", "backend-sql"])
    assert raised.value.violations[0].field == "skills[1]"
    assert "'backend-sql' is not a skill" in raised.value.message


def test_without_skills_every_skill_with_checks_for_the_files_runs() -> None:
    report = validate(CATALOGUE, [FileInput("app/main.py", CLEAN_PY)])
    names = [r.skill for r in report.results]
    assert "global-error-handling" in names and "backend-queries" in names
    # No CSS, HTML or JSX among the files: the frontend skills have nothing to look at.
    assert not any(n.startswith("frontend-") for n in names)
    assert report.files == 1
    assert len(report.seconds) == len(report.results)


def test_clean_code_passes_every_skill_with_a_full_score() -> None:
    report = validate(CATALOGUE, [FileInput("app/main.py", CLEAN_PY)])
    failing = {r.skill: [f.rule for f in r.findings] for r in report.results if r.findings}
    assert failing == {}
    assert report.passed and report.overall_score == 1.0


def test_a_syntax_error_is_a_finding_not_a_crash() -> None:
    report = validate(
        CATALOGUE, [FileInput("app/broken.py", "def broken(:\n    pass\n")], ["global-error-handling"]
    )
    (result,) = report.results
    assert not result.passed and result.score == 0.0
    assert [(f.rule, f.path, f.line) for f in result.findings] == [("syntax-error", "app/broken.py", 1)]


def test_the_overall_score_is_the_mean_and_passing_needs_every_skill() -> None:
    bad = "def load(path):\n    try:\n        return open(path).read()\n    except:\n        pass\n"
    report = validate(
        CATALOGUE,
        [FileInput("app/io.py", bad), FileInput("app/main.py", CLEAN_PY)],
        ["global-error-handling", "backend-queries"],
    )
    by_skill = {r.skill: r for r in report.results}
    assert not by_skill["global-error-handling"].passed
    assert by_skill["backend-queries"].passed
    assert report.overall_score == round((by_skill["global-error-handling"].score + 1.0) / 2, 4)
    assert not report.passed
