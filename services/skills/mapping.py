"""MapTaskToSkills: which standards apply to a task, decided deterministically from its kind,
its files (extensions and paths) and words in its name and description. The global coding
style and conventions always apply; a stated tech stack adds global-tech-stack. The answer
is in catalogue order, so the same task always maps to the same list."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from devmatrix.runtime.errors import FieldViolation, InvalidArgument
from devmatrix.standards import SKILL_NAMES
from services.skills.catalogue import Catalogue, Skill

ALWAYS = ("global-coding-style", "global-conventions")
MAX_FILES = 1000
MAX_PATH = 1024
MAX_TECH_STACK = 64

# TaskKind names (proto enum values without the TASK_KIND_ prefix); UNSPECIFIED and
# GENERIC add nothing of their own.
BY_KIND: dict[str, tuple[str, ...]] = {
    "UNSPECIFIED": (),
    "GENERIC": (),
    "API": ("backend-api", "global-validation", "global-error-handling"),
    "MODEL": ("backend-models", "backend-migrations", "global-validation"),
    "CRUD": (
        "backend-api",
        "backend-models",
        "backend-queries",
        "global-validation",
        "global-error-handling",
    ),
    "UI": ("frontend-components", "frontend-css", "frontend-accessibility", "frontend-responsive"),
    "TEST": ("testing-test-writing", "testing-unit-tests", "testing-coverage"),
    "CONFIG": ("global-tech-stack", "global-validation"),
    "DOCS": ("global-commenting",),
    "MIGRATION": ("backend-migrations", "backend-models"),
    "DEPLOY": ("global-tech-stack",),
}

BY_EXTENSION: dict[str, tuple[str, ...]] = {
    ".sql": ("backend-queries",),
    ".css": ("frontend-css", "frontend-responsive"),
    ".scss": ("frontend-css", "frontend-responsive"),
    ".html": ("frontend-accessibility", "frontend-responsive"),
    ".tsx": ("frontend-components", "frontend-accessibility"),
    ".jsx": ("frontend-components", "frontend-accessibility"),
    ".vue": ("frontend-components", "frontend-accessibility"),
    ".md": ("global-commenting",),
    ".rst": ("global-commenting",),
}
CODE_EXTENSIONS = (".py", ".ts", ".tsx", ".js", ".jsx")
TEST_SKILLS = ("testing-test-writing", "testing-unit-tests")

# Path parts of source files (directory or file stem) that say what the file is.
BY_PATH_PART: dict[str, tuple[str, ...]] = {
    "migrations": ("backend-migrations",),
    "alembic": ("backend-migrations",),
    "models": ("backend-models",),
    "model": ("backend-models",),
    "repositories": ("backend-queries",),
    "repository": ("backend-queries",),
    "queries": ("backend-queries",),
    "routes": ("backend-api",),
    "routers": ("backend-api",),
    "endpoints": ("backend-api",),
    "api": ("backend-api",),
    "components": ("frontend-components",),
}
TEST_FILE = re.compile(r"(^test_.*\.py$|_test\.py$|\.(test|spec)\.[jt]sx?$|^conftest\.py$)")

# Words (whole words, any case) in the task's name and description.
BY_KEYWORD: tuple[tuple[str, tuple[str, ...]], ...] = (
    (r"quer(y|ies)|sql|repositor(y|ies)|joins?|pagination|paginate", ("backend-queries",)),
    (r"migrations?|alembic|schema changes?", ("backend-migrations",)),
    (r"models?|entit(y|ies)|orm|tables?|foreign keys?", ("backend-models",)),
    (r"endpoints?|api|apis|routes?|rest|http|handlers?", ("backend-api",)),
    (r"validat\w*|saniti[sz]\w*|payloads?|inputs?", ("global-validation",)),
    (r"errors?|exceptions?|retr(y|ies)|failures?|fallback", ("global-error-handling",)),
    (r"accessib\w*|a11y|aria|screen readers?|keyboard|wcag", ("frontend-accessibility",)),
    (r"responsive|mobile|breakpoints?|viewport", ("frontend-responsive",)),
    (r"css|tailwind|stylesheets?|styling|themes?", ("frontend-css",)),
    (r"components?|widgets?|react|vue|svelte|pages?|forms?", ("frontend-components",)),
    (r"tests?|testing|pytest|jest|vitest|unit tests?", TEST_SKILLS),
    (r"coverage", ("testing-coverage",)),
    (r"docs|documentation|docstrings?|comments?|readme", ("global-commenting",)),
    (r"dependenc(y|ies)|frameworks?|librar(y|ies)|tech stack|upgrade", ("global-tech-stack",)),
)
KEYWORDS = tuple((re.compile(rf"\b(?:{words})\b", re.IGNORECASE), skills) for words, skills in BY_KEYWORD)


@dataclass
class TaskShape:
    """What MapTaskToSkills knows of a task; `kind` is a TaskKind name without its prefix."""

    kind: str = "UNSPECIFIED"
    name: str = ""
    description: str = ""
    files: list[str] = field(default_factory=list)
    tech_stack: dict[str, str] = field(default_factory=dict)
    required_skills: list[str] = field(default_factory=list)


def check(task: TaskShape) -> None:
    violations: list[FieldViolation] = []
    for i, name in enumerate(task.required_skills):
        if name not in SKILL_NAMES:
            violations.append(FieldViolation(f"required_skills[{i}]", f"{name!r} is not a standard"))
    if task.kind not in BY_KIND:
        violations.append(FieldViolation("kind", f"{task.kind!r} is not a TaskKind"))
    if len(task.files) > MAX_FILES:
        violations.append(FieldViolation("files", f"at most {MAX_FILES} files"))
    for i, path in enumerate(task.files[:MAX_FILES]):
        if not path.strip() or len(path) > MAX_PATH:
            violations.append(
                FieldViolation(f"files[{i}]", f"must be a non-empty path of at most {MAX_PATH} characters")
            )
            break
    if len(task.tech_stack) > MAX_TECH_STACK:
        violations.append(FieldViolation("tech_stack", f"at most {MAX_TECH_STACK} entries"))
    if violations:
        raise InvalidArgument(f"invalid task: {violations[0].field} {violations[0].description}", violations)


def _from_file(path: str) -> set[str]:
    p = PurePosixPath(path.strip().replace("\\", "/").lower())
    found = set(BY_EXTENSION.get(p.suffix, ()))
    if p.suffix in CODE_EXTENSIONS:
        if TEST_FILE.search(p.name) or {"tests", "test", "__tests__"} & set(p.parts[:-1]):
            found.update(TEST_SKILLS)
        for part in (*p.parts[:-1], p.stem):
            found.update(BY_PATH_PART.get(part, ()))
    if "migrations" in p.parts or ("versions" in p.parts and "alembic" in p.parts):
        found.add("backend-migrations")
    return found


def skill_names(task: TaskShape) -> set[str]:
    """The names of the skills that apply; check(task) first."""
    names = set(ALWAYS) | set(BY_KIND[task.kind]) | set(task.required_skills)
    for path in task.files:
        names |= _from_file(path)
    text = f"{task.name}\n{task.description}"
    for pattern, skills in KEYWORDS:
        if pattern.search(text):
            names.update(skills)
    if any(v.strip() for v in task.tech_stack.values()):
        names.add("global-tech-stack")
    return names


def map_task(catalogue: Catalogue, task: TaskShape) -> list[Skill]:
    """The skills that apply to the task, in catalogue order."""
    check(task)
    names = skill_names(task)
    return [s for s in catalogue.skills if s.name in names]
