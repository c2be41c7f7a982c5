"""Names of generated things: modules, classes, tables, URL segments, identifiers.

snake, slug and plural come from devmatrix.naming, which the orchestrator's planner
uses for the expected outputs, so generated files land where the plan expects them.
"""

from __future__ import annotations

import keyword
import re

from devmatrix.naming import plural, slug, snake

__all__ = ["plural", "slug", "snake"]


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
