"""Which agent a task goes to: by what it produces (its kind) first, then by the skills it
requires (the seed's _assign_agents_to_tasks), else the generalist."""

from __future__ import annotations

from collections.abc import Iterable

BACKEND_API = "backend-api-agent"
FRONTEND = "frontend-agent"
DATABASE = "database-agent"
TESTING = "testing-agent"
GENERALIST = "generalist-agent"
AGENTS = (BACKEND_API, FRONTEND, DATABASE, TESTING, GENERALIST)

BY_KIND = {
    "UI": FRONTEND,
    "TEST": TESTING,
    "MODEL": DATABASE,
    "MIGRATION": DATABASE,
    "CRUD": DATABASE,
    "API": BACKEND_API,
}
# Checked in this order: a task needing a frontend skill is frontend work even if it also
# touches the API, and data-layer skills are more specific than backend-api.
BY_SKILL_PREFIX = (
    ("frontend-", FRONTEND),
    ("testing-", TESTING),
    ("backend-models", DATABASE),
    ("backend-migrations", DATABASE),
    ("backend-queries", DATABASE),
    ("backend-api", BACKEND_API),
)
SPECIALIZATION = {
    BACKEND_API: "backend",
    FRONTEND: "frontend",
    DATABASE: "database",
    TESTING: "testing",
    GENERALIST: "general",
}


def agent_for(kind: str, skills: Iterable[str]) -> str:
    if kind in BY_KIND:
        return BY_KIND[kind]
    required = list(skills)
    for prefix, agent in BY_SKILL_PREFIX:
        if any(skill.startswith(prefix) for skill in required):
            return agent
    return GENERALIST
