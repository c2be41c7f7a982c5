"""Names shared by every service: the agent-os standards (skills) tasks require."""

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
