"""Checks of TypeScript, JavaScript, CSS and HTML on tree-sitter parses; each module
imported here registers its checks (`trees` parses, `syntax` holds the script helpers)."""

from services.skills.checks.web import commenting, components, markup, script, server, styles, testfiles

__all__ = ["commenting", "components", "markup", "script", "server", "styles", "testfiles"]
