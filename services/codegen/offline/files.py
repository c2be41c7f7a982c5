"""One file of a composed project and the task bundle it belongs to."""

from __future__ import annotations

from dataclasses import dataclass

# Bundles: the unit a planned task is answered with. Per-entity bundles end in
# ":<Entity>"; the rest are shared by the whole project.
SCAFFOLD = "scaffold"
DATABASE = "database"
ERRORS = "errors"
HEALTH = "health"
FIXTURES = "fixtures"
UNIT_TESTS = "unit-tests"
HEALTH_TESTS = "health-tests"
INTEGRATION_TESTS = "integration-tests"
CONTAINER = "container"
COMPOSE = "compose"
README = "readme"
ARCHITECTURE_DOC = "docs:architecture"
DATA_MODEL_DOC = "docs:data-model"
API_DOC = "docs:api"
API_REFERENCE = "docs:api-reference"
# The analysis documents, one planned GENERIC task each.
REQUIREMENTS_DOC = "docs:requirements"
CONSTRAINTS_DOC = "docs:constraints"

# Per-entity bundle kinds.
MODEL = "model"
MIGRATION = "migration"
REPOSITORY = "repository"
SCHEMAS = "schemas"
ROUTES = "routes"
API_TESTS = "api-tests"


def entity_bundle(kind: str, entity: str) -> str:
    return f"{kind}:{entity}"


@dataclass(frozen=True)
class ProjectFile:
    path: str
    content: str
    bundle: str
    patterns: tuple[str, ...] = ()
