"""`devmatrix skills list` and `devmatrix skills check PATH` as a user runs them: real
processes, no stdin, no services (the checks run in the command's process)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from devmatrix.standards import SKILL_NAMES
from services.skills.catalogue import DOMAINS, load_catalogue
from services.skills.checks.base import iter_rules
from tests.e2e.cli_support import WIDE, Result, assert_one_line_error, clean_env, devmatrix

FRONTEND = {"frontend-accessibility", "frontend-components", "frontend-css", "frontend-responsive"}
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"

SERVICE_PY = '''"""Reads the settings file."""


def load(path: str) -> str:
    """Return the text of the file at `path`, or "" when it cannot be read."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except:
        pass
    return ""
'''
INDEX_HTML = '<main>\n  <h1>Tasks</h1>\n  <img src="logo.png">\n</main>\n'
SITE_CSS = ".title {\n  font-size: 14px;\n}\n"
# Every line a finding if it were checked: var, ==, console.log, an empty catch.
BAD_JS = 'var x = 1;\nif (x == 2) { console.log("x"); }\ntry { f(); } catch (e) {}\n'

SLUG_PY = '''"""Turns titles into URL slugs."""

import re

NON_WORD = re.compile(r"[^a-z0-9]+")


def slugify(title: str) -> str:
    """Return `title` in lower case, each run of other characters replaced by one hyphen."""
    return NON_WORD.sub("-", title.lower()).strip("-")
'''
TEST_SLUG_PY = '''"""Tests of slugify."""

from slugs.slug import slugify


def test_slugify_joins_words_with_single_hyphens() -> None:
    """Spaces and punctuation between words become one hyphen."""
    assert slugify("Hello, World!") == "hello-world"
'''


def line_of(text: str, needle: str) -> int:
    """The 1-based number of the first line of `text` containing `needle`."""
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def findings(doc: dict[str, Any]) -> set[tuple[str, str, str, int, str]]:
    """(skill, rule, path, line, severity) of every finding of a `skills check --json`."""
    found = set()
    for result in doc["results"]:
        for f in result["findings"]:
            assert f["skill"] == result["skill"], f
            found.add((f["skill"], f["rule"], f["path"], f["line"], f["severity"]))
    return found


def skills(*args: str, env_dir: Path, **overrides: str) -> Result:
    result = devmatrix("skills", *args, env=clean_env(env_dir, **overrides))
    assert "Traceback" not in result.stderr, result.stderr
    assert not env_dir.exists(), "skills commands need no data dir (no services, no database)"
    return result


@pytest.fixture(scope="module")
def defective(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with one planted defect per language, a binary file, and bad code in
    dependency directories that the command must not enter."""
    return write(
        tmp_path_factory.mktemp("defective"),
        {
            "app/service.py": SERVICE_PY,
            "web/index.html": INDEX_HTML,
            "web/site.css": SITE_CSS,
            "web/logo.png": PNG,
            "node_modules/lib/index.js": BAD_JS,
            "web/node_modules/pkg/index.js": BAD_JS,
            "app/__pycache__/bad.py": SERVICE_PY,
        },
    )


@pytest.fixture(scope="module")
def defective_report(defective: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    result = skills("check", str(defective), "--json", env_dir=tmp_path_factory.mktemp("env") / "data")
    assert result.code == 1, f"exit {result.code}\n{result.stdout}\n{result.stderr}"
    assert result.stderr == ""
    return result.json()


# --- skills list -------------------------------------------------------------------------------


def test_list_shows_the_17_skills(tmp_path: Path) -> None:
    result = skills("list", env_dir=tmp_path / "data", COLUMNS=WIDE)
    assert result.code == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("│")]
    assert [row.split("│")[1].strip() for row in rows] == list(SKILL_NAMES)
    catalogue = load_catalogue().by_name()
    checks = {name: {rule for skill, rule, _ in iter_rules() if skill == name} for name in SKILL_NAMES}
    for row in rows:
        name, domain, threshold, languages, count = (cell.strip() for cell in row.split("│")[1:6])
        skill = catalogue[name]
        assert domain == skill.domain
        assert threshold == f"{skill.threshold:.2f}"
        assert languages == ", ".join(skill.languages)
        assert count == str(len(checks[name]))


def test_list_json_has_every_field_and_the_rules(tmp_path: Path) -> None:
    result = skills("list", "--json", env_dir=tmp_path / "data")
    assert result.code == 0, result.stderr
    docs = result.json()
    assert [d["name"] for d in docs] == list(SKILL_NAMES)
    catalogue = load_catalogue().by_name()
    rules: dict[str, set[str]] = {}
    for skill, rule, _ in iter_rules():
        rules.setdefault(skill, set()).add(rule)
    for doc in docs:
        skill = catalogue[doc["name"]]
        assert set(doc) == {"name", "domain", "description", "threshold", "guidelines", "languages", "rules"}
        assert doc["domain"] == skill.domain and doc["domain"] in DOMAINS
        assert doc["threshold"] == skill.threshold and 0 < doc["threshold"] <= 1
        assert doc["guidelines"] == list(skill.guidelines) and len(doc["guidelines"]) >= 4
        assert doc["languages"] == list(skill.languages) and doc["languages"]
        # Sorted, distinct, and exactly the registered checks of the skill.
        assert doc["rules"] == sorted(rules.get(doc["name"], set()))
        if doc["name"] in rules:
            assert doc["rules"]
    by_name = {d["name"]: d for d in docs}
    assert {"bare-except", "swallowed-exception"} <= set(by_name["global-error-handling"]["rules"])
    assert "img-alt" in by_name["frontend-accessibility"]["rules"]


@pytest.mark.parametrize("as_json", [False, True])
def test_list_of_one_domain(tmp_path: Path, as_json: bool) -> None:
    args = ["list", "--domain", "frontend"] + (["--json"] if as_json else [])
    result = skills(*args, env_dir=tmp_path / "data", COLUMNS=WIDE)
    assert result.code == 0, result.stderr
    if as_json:
        docs = result.json()
        assert {d["name"] for d in docs} == FRONTEND and len(docs) == 4
        assert {d["domain"] for d in docs} == {"frontend"}
    else:
        rows = [line for line in result.stdout.splitlines() if line.startswith("│")]
        assert {row.split("│")[1].strip() for row in rows} == FRONTEND and len(rows) == 4


def test_list_of_an_unknown_domain_names_the_domains(tmp_path: Path) -> None:
    result = skills("list", "--domain", "nope", env_dir=tmp_path / "data")
    assert_one_line_error(result, 2, "'nope'", *DOMAINS)
    assert result.stdout == ""


# --- skills check ------------------------------------------------------------------------------


def test_check_finds_each_planted_defect(defective_report: dict[str, Any]) -> None:
    doc = defective_report
    assert doc["passed"] is False
    assert doc["files_checked"] == 3  # service.py, index.html, site.css
    assert findings(doc) == {
        ("global-error-handling", "bare-except", "app/service.py", line_of(SERVICE_PY, "except:"), "ERROR"),
        (
            "global-error-handling",
            "swallowed-exception",
            "app/service.py",
            line_of(SERVICE_PY, "except:"),
            "ERROR",
        ),
        ("frontend-accessibility", "img-alt", "web/index.html", line_of(INDEX_HTML, "<img"), "ERROR"),
        ("frontend-responsive", "px-font-size", "web/site.css", line_of(SITE_CSS, "font-size"), "WARNING"),
        # No test imports the module: reported, at the lowest severity.
        ("testing-coverage", "untested-module", "app/service.py", 1, "INFO"),
    }
    results = {r["skill"]: r for r in doc["results"]}
    assert set(results) <= set(SKILL_NAMES)
    # Python, HTML and CSS skills only: nothing from the JavaScript under node_modules.
    assert "frontend-components" not in results
    assert [name for name, r in results.items() if not r["passed"]] == ["global-error-handling"]
    for r in results.values():
        assert r["passed"] == (r["score"] >= r["threshold"])
        assert (r["score"] == 1.0) == (not r["findings"])
    assert doc["overall_score"] == pytest.approx(
        sum(r["score"] for r in results.values()) / len(results), abs=1e-4
    )
    assert doc["skipped"] == [{"path": "web/logo.png", "reason": "not UTF-8 text (binary?)"}]


def test_check_as_text(defective: Path, defective_report: dict[str, Any], tmp_path: Path) -> None:
    # No COLUMNS: piped output keeps each finding whole on one line, whatever the width.
    result = skills("check", str(defective), env_dir=tmp_path / "data")
    assert result.code == 1, result.stderr
    lines = result.stdout.splitlines()
    for r in defective_report["results"]:
        for f in r["findings"]:
            whole = (
                f"{f['path']}:{f['line']}: {f['severity'].lower()} {f['skill']}/{f['rule']}: {f['message']}"
            )
            assert whole in lines
    except_line = line_of(SERVICE_PY, "except:")
    found = [line for line in lines if line.startswith(("app/", "web/", "node_modules/"))]
    assert [line.split(": ", 2)[:2] for line in found] == [
        [f"app/service.py:{except_line}", "error global-error-handling/bare-except"],
        [f"app/service.py:{except_line}", "error global-error-handling/swallowed-exception"],
        [f"web/index.html:{line_of(INDEX_HTML, '<img')}", "error frontend-accessibility/img-alt"],
        [f"web/site.css:{line_of(SITE_CSS, 'font-size')}", "warning frontend-responsive/px-font-size"],
        ["app/service.py:1", "info testing-coverage/untested-module"],
    ]
    error_handling = next(line for line in lines if "global-error-handling " in line)
    assert "fail" in error_handling and "0.60" in error_handling
    assert "1 files skipped (--verbose lists them)" in lines
    assert lines[-1].startswith("overall score ") and lines[-1].endswith(": FAILED")

    verbose = skills("check", str(defective), "--verbose", env_dir=tmp_path / "data")
    assert verbose.code == 1
    assert "skipped web/logo.png: not UTF-8 text (binary?)" in verbose.stdout.splitlines()


def test_check_of_one_skill(defective: Path, tmp_path: Path) -> None:
    result = skills(
        "check", str(defective), "--skill", "global-error-handling", "--json", env_dir=tmp_path / "data"
    )
    assert result.code == 1, result.stderr
    doc = result.json()
    assert [r["skill"] for r in doc["results"]] == ["global-error-handling"]
    assert {(rule, path) for _, rule, path, _, _ in findings(doc)} == {
        ("bare-except", "app/service.py"),
        ("swallowed-exception", "app/service.py"),
    }
    assert doc["overall_score"] == doc["results"][0]["score"] < doc["results"][0]["threshold"]

    # A skill the files pass: exit 0 even though other skills would fail.
    passing = skills(
        "check",
        str(defective),
        "--skill",
        "frontend-css",
        "--skill",
        "frontend-css",
        "--json",
        env_dir=tmp_path / "data",
    )
    assert passing.code == 0, passing.stderr
    assert [(r["skill"], r["passed"]) for r in passing.json()["results"]] == [("frontend-css", True)]


def test_check_of_a_single_file(defective: Path, tmp_path: Path) -> None:
    result = skills("check", str(defective / "app" / "service.py"), "--json", env_dir=tmp_path / "data")
    assert result.code == 1, result.stderr
    doc = result.json()
    assert doc["files_checked"] == 1
    # Paths are relative to the file's directory.
    assert {(rule, path, line) for _, rule, path, line, _ in findings(doc)} == {
        ("bare-except", "service.py", line_of(SERVICE_PY, "except:")),
        ("swallowed-exception", "service.py", line_of(SERVICE_PY, "except:")),
        ("untested-module", "service.py", 1),
    }
    assert doc["skipped"] == []


def test_clean_code_passes(tmp_path: Path) -> None:
    root = write(
        tmp_path / "clean",
        {
            "slugs/__init__.py": '"""URL slugs for titles."""\n',
            "slugs/slug.py": SLUG_PY,
            "tests/test_slug.py": TEST_SLUG_PY,
        },
    )
    result = skills("check", str(root), env_dir=tmp_path / "data", COLUMNS=WIDE)
    assert result.code == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "overall score 1.00: passed"
    assert "3 files checked" in result.stdout
    assert " fail " not in result.stdout

    doc = skills("check", str(root), "--json", env_dir=tmp_path / "data").json()
    assert doc["passed"] is True and doc["overall_score"] == 1.0
    assert findings(doc) == set()
    assert {r["skill"] for r in doc["results"]} >= {"global-error-handling", "testing-coverage"}


def test_a_syntax_error_is_a_finding(tmp_path: Path) -> None:
    source = '"""Half written."""\n\n\ndef total(:\n    return 1\n'
    root = write(tmp_path / "broken", {"total.py": source})
    result = skills("check", str(root), "--json", env_dir=tmp_path / "data")
    assert result.code == 1, result.stderr
    assert result.stderr == ""
    doc = result.json()
    bad_line = line_of(source, "def total(")
    by_skill = {r["skill"]: r for r in doc["results"]}
    assert [(f["rule"], f["path"], f["line"]) for f in by_skill["global-error-handling"]["findings"]] == [
        ("syntax-error", "total.py", bad_line)
    ]
    # Every finding is the syntax error: no check ran on a half-parsed tree.
    assert {rule for _, rule, _, _, _ in findings(doc)} == {"syntax-error"}


def test_a_missing_path_is_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "pages" / "[id]"
    result = skills("check", str(missing), env_dir=tmp_path / "data")
    assert_one_line_error(result, 2, f"{missing} does not exist")
    assert result.stdout == ""


def test_no_readable_files_is_exit_2(tmp_path: Path) -> None:
    root = write(tmp_path / "assets", {"logo.png": PNG, "node_modules/x/index.js": BAD_JS})
    result = skills("check", str(root), env_dir=tmp_path / "data")
    assert_one_line_error(result, 2, f"no readable files under {root}")
    assert result.stdout == ""


@pytest.mark.parametrize("as_json", [False, True])
def test_an_unknown_skill_is_exit_2(defective: Path, tmp_path: Path, as_json: bool) -> None:
    args = ["check", str(defective), "--skill", "global-error-handling", "--skill", "no-such-skill"]
    result = skills(*args, *(["--json"] if as_json else []), env_dir=tmp_path / "data")
    assert_one_line_error(result, 2, "'no-such-skill'", "is not a skill")
    assert result.stdout == ""


def test_unreadable_entries_are_skipped_not_fatal(tmp_path: Path) -> None:
    """A broken symlink and a FIFO (whose read would block forever) are skipped with why."""
    root = write(tmp_path / "odd", {"slugs/slug.py": SLUG_PY})
    (root / "gone.py").symlink_to(root / "deleted.py")
    os.mkfifo(root / "pipe.py")
    result = skills("check", str(root), "--json", env_dir=tmp_path / "data")
    assert result.code == 0, result.stdout + result.stderr
    doc = result.json()
    assert doc["files_checked"] == 1
    assert doc["skipped"] == [
        {"path": "gone.py", "reason": "cannot be read: No such file or directory"},
        {"path": "pipe.py", "reason": "not a regular file"},
    ]


def test_bracketed_paths_are_printed_as_written(tmp_path: Path) -> None:
    """Next.js route files (pages/[id].tsx) are paths, not console markup."""
    page = 'export default function Page() {\n  return <img src="a.png" />;\n}\n'
    root = write(tmp_path / "site", {"pages/[id].tsx": page})
    result = skills("check", str(root), "--verbose", env_dir=tmp_path / "data")
    assert f"pages/[id].tsx:{line_of(page, '<img')}: error frontend-accessibility/img-alt:" in result.stdout
