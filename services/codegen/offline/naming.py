"""Names of generated things: modules, classes, tables, URL segments, identifiers.

The orchestrator's planner names expected outputs with the same rules (snake-case
modules, plural snake-case tables, kebab-case key parts); they are repeated here
because codegen only sees the SpecDesign, never the orchestrator's code.
"""

from __future__ import annotations

import keyword
import re


def snake(name: str) -> str:
    """`OrderLine` -> `order_line`."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def slug(name: str) -> str:
    """`OrderLine` -> `order-line` (the entity part of a plan key)."""
    return snake(name).replace("_", "-")


def plural(word: str) -> str:
    """English plural of a snake-case word, as the planner forms table names."""
    if re.search(r"[^aeiou]y$", word):
        return word[:-1] + "ies"
    if re.search(r"(s|x|z|ch|sh)$", word):
        return word + "es"
    return word + "s"


def words(text: str) -> str:
    """`owner_email` -> `owner email`: a label for messages and docs."""
    return snake(text).replace("_", " ").strip()


def identifier(text: str) -> str:
    """A valid lower-case Python identifier for `text` (enum values, parameters)."""
    cleaned = re.sub(r"\W+", "_", text.strip().lower()).strip("_") or "value"
    if cleaned[0].isdigit() or keyword.iskeyword(cleaned):
        cleaned = f"v_{cleaned}"
    return cleaned


def constant(text: str) -> str:
    """`in_progress` -> `IN_PROGRESS`: an enum member name."""
    return identifier(text).upper()


def project_slug(title: str) -> str:
    """`Task API` -> `task-api`: the distribution and compose project name."""
    cleaned = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return cleaned[:40].strip("-") or "service"
