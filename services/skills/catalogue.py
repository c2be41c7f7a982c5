"""The skills catalogue: the 17 standards as data (services/skills/catalogue.yaml), checked
once at start. A malformed catalogue raises InvalidArgument naming the skill and field, so
the service refuses to start rather than serve half a catalogue."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from devmatrix.runtime.errors import FieldViolation, InvalidArgument, NotFound
from devmatrix.standards import SKILL_NAMES

DEFAULT_CATALOGUE = Path(__file__).resolve().parent / "catalogue.yaml"
DOMAINS = ("global", "backend", "frontend", "testing")
LANGUAGES = ("python", "typescript", "javascript", "css", "html", "sql")
MIN_GUIDELINES = 4
MAX_GUIDELINES = 8
MAX_DESCRIPTION = 200
MAX_GUIDELINE = 300
FIELDS = ("name", "domain", "description", "guidelines", "languages", "threshold")


@dataclass(frozen=True)
class Skill:
    name: str
    domain: str
    description: str
    guidelines: tuple[str, ...]
    languages: tuple[str, ...]
    threshold: float


@dataclass(frozen=True)
class Catalogue:
    """The skills in SKILL_NAMES order, which is the order every answer uses."""

    skills: tuple[Skill, ...]

    def by_name(self) -> dict[str, Skill]:
        return {s.name: s for s in self.skills}

    def list(self, domain: str) -> list[Skill]:
        """Every skill, or those of one domain; an unknown domain is InvalidArgument."""
        domain = domain.strip()
        if not domain:
            return list(self.skills)
        if domain not in DOMAINS:
            raise InvalidArgument(
                f"unknown domain {domain!r}",
                [FieldViolation("domain", f"must be one of {', '.join(DOMAINS)} (or empty for all)")],
            )
        return [s for s in self.skills if s.domain == domain]

    def get(self, name: str) -> Skill:
        name = name.strip()
        if not name:
            raise InvalidArgument("name is required", [FieldViolation("name", "must not be empty")])
        skill = self.by_name().get(name)
        if skill is None:
            raise NotFound(f"skill {name!r} not found", "skill", name)
        return skill


class _Refused(Exception):
    def __init__(self, skill: str, field_name: str, problem: str) -> None:
        super().__init__(problem)
        self.skill, self.field_name, self.problem = skill, field_name, problem


def _refuse(path: Path, skill: str, field_name: str, problem: str) -> InvalidArgument:
    return InvalidArgument(
        f"malformed skills catalogue {path}: skill {skill}: field {field_name} {problem}",
        [FieldViolation(f"{skill}.{field_name}", problem)],
    )


def _text(label: str, value: Any, name: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Refused(label, name, "must be a non-empty string")
    if "\n" in value.strip() or len(value) > limit:
        raise _Refused(label, name, f"must be one line of at most {limit} characters")
    return value.strip()


def parse_skill(data: Any, label: str) -> Skill:
    """One catalogue entry; `label` names the entry in errors until its name is known."""
    if not isinstance(data, dict):
        raise _Refused(label, "(entry)", "must be a mapping")
    missing = [f for f in FIELDS if f not in data]
    if missing:
        raise _Refused(str(data.get("name", label)), missing[0], "is missing")
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise _Refused(str(data.get("name", label)), unknown[0], "is not a known field")
    name = data["name"]
    if not isinstance(name, str) or name not in SKILL_NAMES:
        raise _Refused(label, "name", f"{name!r} is not one of the 17 skills")
    domain = data["domain"]
    if domain not in DOMAINS:
        raise _Refused(name, "domain", f"{domain!r} is not one of {', '.join(DOMAINS)}")
    if not name.startswith(f"{domain}-"):
        raise _Refused(name, "domain", f"{domain!r} does not match the skill's name")
    description = _text(name, data["description"], "description", MAX_DESCRIPTION)
    guidelines = data["guidelines"]
    if not isinstance(guidelines, list) or not MIN_GUIDELINES <= len(guidelines) <= MAX_GUIDELINES:
        raise _Refused(name, "guidelines", f"must be a list of {MIN_GUIDELINES} to {MAX_GUIDELINES} strings")
    lines = tuple(_text(name, g, f"guidelines[{i}]", MAX_GUIDELINE) for i, g in enumerate(guidelines))
    if len(set(lines)) != len(lines):
        raise _Refused(name, "guidelines", "must not repeat a guideline")
    languages = data["languages"]
    if (
        not isinstance(languages, list)
        or not languages
        or any(lang not in LANGUAGES for lang in languages)
        or len(set(languages)) != len(languages)
    ):
        raise _Refused(
            name, "languages", f"must be a non-empty list of distinct values of {', '.join(LANGUAGES)}"
        )
    threshold = data["threshold"]
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
        raise _Refused(name, "threshold", f"must be a number from 0 to 1, not {threshold!r}")
    return Skill(name, domain, description, lines, tuple(languages), float(threshold))


def load_catalogue(path: Path = DEFAULT_CATALOGUE) -> Catalogue:
    """The checked catalogue: exactly the 17 skills, each once."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as error:
        raise _refuse(
            path, "(catalogue)", "(file)", f"cannot be read: {' '.join(str(error).split())}"
        ) from None
    entries = data.get("skills") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise _refuse(path, "(catalogue)", "skills", "must be a list of skills")
    found: dict[str, Skill] = {}
    for i, entry in enumerate(entries):
        try:
            skill = parse_skill(entry, f"skills[{i}]")
        except _Refused as refused:
            raise _refuse(path, refused.skill, refused.field_name, refused.problem) from None
        if skill.name in found:
            raise _refuse(path, skill.name, "name", "appears more than once")
        found[skill.name] = skill
    missing = [n for n in SKILL_NAMES if n not in found]
    if missing:
        raise _refuse(path, missing[0], "name", "is missing from the catalogue")
    return Catalogue(tuple(found[n] for n in SKILL_NAMES))
