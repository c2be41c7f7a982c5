"""Static checks of the 17 skills. Importing this package registers every check:
`python` holds the checks of Python (AST, ruff) and SQL, `web` those of TypeScript,
JavaScript, CSS and HTML (tree-sitter)."""

from services.skills.checks import base, python, web

__all__ = ["base", "python", "web"]
