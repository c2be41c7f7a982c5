"""Tree-sitter parses of TypeScript, JavaScript, CSS and HTML files, shared by the web checks.

Each file is parsed once and the parse is cached on its `SourceFile`, whatever the number of
checks. Checks look nodes up by type with `Parsed.find`, which runs one compiled tree-sitter
query (in C) instead of walking the tree in Python; the answer is cached per type set too.

Tree-sitter always returns a tree, marking what it could not parse with ERROR and MISSING
nodes. A file with such a node is reported as a `syntax-error` (ParseFailed) rather than
checked, because findings inside a half-parsed tree are guesses - except for two kinds of
error that are the grammars' gaps, not the file's:
- HTML: an element left open at the end of the file (a hidden MISSING implicit end tag);
  HTML allows omitted end tags and browsers close them.
- CSS: an error in the prelude of an at-rule (`@container name (...)`, range media queries
  `(width >= 600px)`, `@import ... layer(x)`): modern syntax the grammar lacks, while the
  rule blocks after it still parse normally; and an empty declaration (`color: red;;`).
A stray HTML end tag is no error at all: the grammar marks it `erroneous_end_tag`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import PurePosixPath

import tree_sitter_css
import tree_sitter_html
import tree_sitter_javascript
import tree_sitter_typescript
from tree_sitter import Language, Node, Parser, Query, QueryCursor, Range

from services.skills.checks.base import ParseFailed, SourceFile

# Grammar name -> the function of its wheel that returns the TSLanguage pointer.
GRAMMARS: dict[str, Callable[[], object]] = {
    "typescript": tree_sitter_typescript.language_typescript,
    "tsx": tree_sitter_typescript.language_tsx,
    "javascript": tree_sitter_javascript.language,  # parses JSX too
    "css": tree_sitter_css.language,
    "html": tree_sitter_html.language,
}
SCRIPT_LANGUAGES = ("typescript", "javascript")
# At-rules whose prelude may hold syntax newer than the CSS grammar (see the module doc).
CSS_AT_RULES = frozenset(
    {"at_rule", "media_statement", "import_statement", "supports_statement", "charset_statement"}
)
ERROR_TEXT_CHARS = 30


@cache
def language(grammar: str) -> Language:
    return Language(GRAMMARS[grammar]())


@cache
def _query(grammar: str, types: tuple[str, ...]) -> Query | None:
    """One query capturing every node of `types`; None when the grammar has none of them
    (JSX types in the plain TypeScript grammar, say)."""
    lang = language(grammar)
    known = [t for t in types if lang.id_for_node_kind(t, True) is not None]
    if not known:
        return None
    return Query(lang, "[" + " ".join(f"({t})" for t in known) + "] @node")


@dataclass
class Parsed:
    """A parsed file: its grammar, its root node and a cache of `find` answers."""

    grammar: str
    root: Node
    _found: dict[tuple[str, ...], list[Node]] = field(default_factory=dict, repr=False)

    def find(self, *types: str) -> list[Node]:
        """Every node of the given types, in document order."""
        if types not in self._found:
            query = _query(self.grammar, types)
            nodes = [] if query is None else QueryCursor(query).captures(self.root).get("node", [])
            self._found[types] = sorted(nodes, key=lambda n: n.start_byte)
        return self._found[types]


def grammar_of(source: SourceFile) -> str:
    """The grammar of a file: .tsx needs the TSX grammar, plain .ts must not accept JSX."""
    if source.language == "typescript":
        return "tsx" if PurePosixPath(source.path).suffix.lower() == ".tsx" else "typescript"
    return source.language


def parse(source: SourceFile) -> Parsed:
    """The cached parse of a TypeScript, JavaScript, CSS or HTML file; raises ParseFailed
    (cached too) when the file has a syntax error."""
    result = source.cached("tree-sitter", lambda: _parse(grammar_of(source), source.content.encode()))
    return _parsed_or_raise(result)


def stylesheet(source: SourceFile) -> Parsed | None:
    """The CSS of a file: a CSS file itself, or the `<style>` elements of an HTML page
    parsed as one stylesheet in place (so lines are the page's lines); None without any."""
    if source.language == "css":
        return parse(source)
    result = source.cached("tree-sitter-style", lambda: _parse_embedded_css(source))
    return None if result is None else _parsed_or_raise(result)


def _parsed_or_raise(result: Parsed | ParseFailed) -> Parsed:
    # A fresh exception per raise: re-raising the cached one would grow its traceback.
    if isinstance(result, ParseFailed):
        raise ParseFailed(result.line, result.message)
    return result


def _parse_embedded_css(source: SourceFile) -> Parsed | ParseFailed | None:
    blocks = [
        c for style in parse(source).find("style_element") for c in style.children if c.type == "raw_text"
    ]
    if not blocks:
        return None
    ranges = [Range(b.start_point, b.end_point, b.start_byte, b.end_byte) for b in blocks]
    return _parse("css", source.content.encode(), ranges)


def _parse(grammar: str, content: bytes, ranges: list[Range] | None = None) -> Parsed | ParseFailed:
    # A parser per parse: parsers hold state and checks may run in several threads.
    parser = Parser(language(grammar))
    if ranges:
        parser.included_ranges = ranges
    root = parser.parse(content).root_node
    if root.has_error:
        for bad in error_nodes(root):
            if not _tolerated(grammar, bad):
                return ParseFailed(line(bad), _describe(bad))
    return Parsed(grammar, root)


def error_nodes(node: Node) -> Iterator[Node]:
    """The ERROR and MISSING nodes under `node`, descending only where errors are. A node
    with an error but no erroneous child holds a hidden MISSING node and stands for it."""
    if node.is_error or node.is_missing:
        yield node
        return
    bad = [c for c in node.children if c.has_error or c.is_error or c.is_missing]
    if not bad:
        yield node
    for child in bad:
        yield from error_nodes(child)


def _tolerated(grammar: str, bad: Node) -> bool:
    if grammar == "html":
        return not (bad.is_error or bad.is_missing)
    if grammar == "css":
        if bad.is_error and text(bad).strip() == ";":
            return True  # an empty declaration (`color: red;;`) is valid CSS
        for above in ancestors(bad):
            if above.type == "block":
                return False
            if above.type in CSS_AT_RULES:
                return True
    return False


def _describe(bad: Node) -> str:
    if bad.is_missing and not bad.is_named:
        return f"missing {bad.type!r}"
    if bad.is_missing and bad.parent is not None:
        # A named MISSING node is the parser's cheapest repair, not what the author forgot.
        return f"incomplete {bad.parent.type.replace('_', ' ')}"
    if bad.is_error:
        snippet = " ".join(text(bad).split())[:ERROR_TEXT_CHARS]
        return f"unexpected {snippet!r}" if snippet else "unexpected end of input"
    return f"unterminated {bad.type}"


# --- node helpers ----------------------------------------------------------------------------


def line(node: Node) -> int:
    """The 1-based line a node starts on."""
    return node.start_point.row + 1


def line_count(node: Node) -> int:
    return node.end_point.row - node.start_point.row + 1


def text(node: Node | None) -> str:
    if node is None or node.text is None:
        return ""
    return node.text.decode("utf-8", errors="replace")


def ancestors(node: Node) -> Iterator[Node]:
    parent = node.parent
    while parent is not None:
        yield parent
        parent = parent.parent


def descendants(node: Node, stop: frozenset[str] = frozenset()) -> Iterator[Node]:
    """The nodes under `node` in document order; nodes of a `stop` type are yielded but not
    entered (a function's own statements, not those of the functions nested in it)."""
    stack = list(reversed(node.children))
    while stack:
        current = stack.pop()
        yield current
        if current.type not in stop:
            stack.extend(reversed(current.children))
