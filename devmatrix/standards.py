"""Names shared by every service: the agent-os standards (skills) tasks require, and the
pattern category of each task kind."""

# The seventeen agent-os standards a task may require.
SKILL_NAMES: tuple[str, ...] = (
    "global-coding-style",
    "global-commenting",
    "global-conventions",
    "global-error-handling",
    "global-tech-stack",
    "global-validation",
    "backend-api",
    "backend-migrations",
    "backend-models",
    "backend-queries",
    "frontend-accessibility",
    "frontend-components",
    "frontend-css",
    "frontend-responsive",
    "testing-test-writing",
    "testing-coverage",
    "testing-unit-tests",
)

# Pattern category (patterns service) of the code a task of each kind writes; kinds not
# listed (UI, DOCS) have none.
KIND_CATEGORY: dict[str, str] = {
    "MODEL": "models",
    "API": "api",
    "CRUD": "repositories",
    "CONFIG": "config",
    "TEST": "testing",
    "MIGRATION": "database",
    "DEPLOY": "docker",
    "GENERIC": "services",
}
