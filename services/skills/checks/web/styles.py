"""CSS checks of stylesheets and of the <style> elements of HTML pages: maintainable styles
(frontend-css) and relative, reflowing sizes (frontend-responsive)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from tree_sitter import Node

from services.skills.checks.base import Finding, Severity, SourceFile, check
from services.skills.checks.web.trees import ancestors, descendants, line, stylesheet, text

STYLE_LANGUAGES = ("css", "html")
# Narrowest viewport a layout must fit (WCAG 1.4.10 reflow); wider fixed widths overflow it.
MAX_FIXED_WIDTH_PX = 320
FIXED_WIDTH_PROPERTIES = frozenset({"width", "min-width"})
FONT_SIZE_PROPERTIES = frozenset({"font-size", "font"})
PX_LENGTH = re.compile(r"(?<![\w.-])(\d*\.?\d+)px\b")
# At-rules whose blocks adapt to the viewport or container, where fixed sizes are intended.
RESPONSIVE_AT_RULES = frozenset({"@media", "@container"})
MAX_SELECTOR_DEPTH = 3
COMBINATORS = frozenset(
    {"descendant_selector", "child_selector", "sibling_selector", "adjacent_sibling_selector"}
)
COLOR_FUNCTIONS = frozenset({"rgb", "rgba", "hsl", "hsla", "hwb", "lab", "lch", "oklab", "oklch"})
VENDOR_PROPERTY = re.compile(r"^-[a-z]+-")


def _property(declaration: Node) -> str:
    names = [c for c in declaration.named_children if c.type == "property_name"]
    return text(names[0]).lower() if names else ""


def _value(declaration: Node) -> str:
    """A declaration's value as written, without `!important` and with function calls
    blanked out (sizes inside calc()/clamp()/min() adapt; they are not fixed)."""
    parts = [c for c in declaration.named_children if c.type not in ("property_name", "important", "comment")]
    if not parts:
        return ""
    start = parts[0].start_byte
    raw = bytearray(declaration.text or b"")[
        start - declaration.start_byte : parts[-1].end_byte - declaration.start_byte
    ]
    for call in (c for c in parts if c.type == "call_expression"):
        raw[call.start_byte - start : call.end_byte - start] = b" " * (call.end_byte - call.start_byte)
    return raw.decode("utf-8", errors="replace").strip()


def _declarations(source: SourceFile) -> list[Node]:
    sheet = stylesheet(source)
    return sheet.find("declaration") if sheet is not None else []


# --- frontend-responsive -----------------------------------------------------------------------


@check("frontend-responsive", "px-font-size", STYLE_LANGUAGES)
def px_font_size(source: SourceFile) -> Iterator[Finding]:
    """A font size in px, which ignores the user's font-size setting; use rem."""
    for declaration in _declarations(source):
        prop = _property(declaration)
        if prop not in FONT_SIZE_PROPERTIES:
            continue
        size = PX_LENGTH.search(_value(declaration))
        if size is not None and float(size.group(1)) > 0:
            yield source.finding(
                "frontend-responsive",
                "px-font-size",
                line(declaration),
                f"{prop}: {size.group(0)} is a fixed pixel size; use rem so text follows the user's settings",
                Severity.WARNING,
            )


def _in_responsive_block(node: Node) -> bool:
    for above in ancestors(node):
        if above.type == "media_statement":
            return True
        if above.type == "at_rule" and text(above.named_children[0]).lower() in RESPONSIVE_AT_RULES:
            return True
    return False


@check("frontend-responsive", "fixed-width", STYLE_LANGUAGES)
def fixed_width(source: SourceFile) -> Iterator[Finding]:
    """A width or min-width in px above 320 outside a media query: it overflows a phone."""
    for declaration in _declarations(source):
        prop = _property(declaration)
        if prop not in FIXED_WIDTH_PROPERTIES or _in_responsive_block(declaration):
            continue
        for size in PX_LENGTH.finditer(_value(declaration)):
            if float(size.group(1)) > MAX_FIXED_WIDTH_PX:
                yield source.finding(
                    "frontend-responsive",
                    "fixed-width",
                    line(declaration),
                    f"{prop}: {size.group(0)} outside a media query overflows a {MAX_FIXED_WIDTH_PX}px screen; "
                    "use max-width, %, or a min-width media query",
                )
                break


# --- frontend-css ------------------------------------------------------------------------------


@check("frontend-css", "important", STYLE_LANGUAGES)
def important(source: SourceFile) -> Iterator[Finding]:
    """A declaration with !important, which breaks the cascade for everything after it."""
    sheet = stylesheet(source)
    for flag in sheet.find("important") if sheet is not None else []:
        declaration = flag.parent
        prop = _property(declaration) if declaration is not None else "declaration"
        yield source.finding(
            "frontend-css",
            "important",
            line(flag),
            f"{prop} uses !important; raise specificity deliberately or fix the rule order",
            Severity.WARNING,
        )


@check("frontend-css", "id-selector", STYLE_LANGUAGES)
def id_selector(source: SourceFile) -> Iterator[Finding]:
    """An ID selector: too specific to override and tied to one element; use a class."""
    sheet = stylesheet(source)
    for selector in sheet.find("id_selector") if sheet is not None else []:
        yield source.finding(
            "frontend-css",
            "id-selector",
            line(selector),
            f"ID selector {text(selector)}; style a class instead",
            Severity.WARNING,
        )


def _compounds(selector: Node) -> int:
    """The compound selectors of a complex selector (`.a > .b .c` has 3), not counting those
    inside pseudo-class arguments such as :not(...) and :has(...)."""
    inside = descendants(selector, stop=frozenset({"arguments"}))
    return 1 + sum(1 for n in [selector, *inside] if n.type in COMBINATORS)


def _selector_depth(selector: Node) -> int:
    """Levels of a selector, counting those of the rules it is nested in (CSS nesting)."""
    depth = _compounds(selector)
    outer = _enclosing_rule(selector)
    if outer is None:
        return depth
    has_nesting = any(n.type == "nesting_selector" for n in descendants(selector))
    return depth + _rule_depth(outer) - (1 if has_nesting else 0)


def _enclosing_rule(selector: Node) -> Node | None:
    """The rule a nested rule sits in (through @media and other at-rule blocks)."""
    rule = selector.parent.parent if selector.parent is not None else None
    if rule is None:
        return None
    return next((above for above in ancestors(rule) if above.type == "rule_set"), None)


def _rule_depth(rule: Node) -> int:
    selectors = next((c for c in rule.named_children if c.type == "selectors"), None)
    items = selectors.named_children if selectors is not None else []
    return max((_selector_depth(s) for s in items), default=1)


@check("frontend-css", "selector-depth", STYLE_LANGUAGES)
def selector_depth(source: SourceFile) -> Iterator[Finding]:
    """A selector more than three levels deep (nesting included): fragile and too specific."""
    sheet = stylesheet(source)
    for selectors in sheet.find("selectors") if sheet is not None else []:
        deepest = max(selectors.named_children, key=_selector_depth, default=None)
        if deepest is None:
            continue
        depth = _selector_depth(deepest)
        if depth > MAX_SELECTOR_DEPTH:
            yield source.finding(
                "frontend-css",
                "selector-depth",
                line(deepest),
                f"selector {' '.join(text(deepest).split())} is {depth} levels deep "
                f"(limit {MAX_SELECTOR_DEPTH}); give the element a class of its own",
                Severity.WARNING,
            )


@check("frontend-css", "duplicate-property", STYLE_LANGUAGES)
def duplicate_property(source: SourceFile) -> Iterator[Finding]:
    """A property declared twice in one rule block, other than as an adjacent fallback."""
    sheet = stylesheet(source)
    for block in sheet.find("block") if sheet is not None else []:
        seen: dict[str, tuple[str, int]] = {}
        position = 0
        for declaration in (c for c in block.named_children if c.type == "declaration"):
            prop, value = _property(declaration), " ".join(_raw_value(declaration).split())
            if VENDOR_PROPERTY.match(prop):
                continue  # `-webkit-x` between two `x` keeps them adjacent
            position += 1
            earlier = seen.get(prop)
            seen[prop] = (value, position)
            if earlier is None:
                continue
            # Fallbacks for older browsers are written next to each other with different values.
            if earlier[0] != value and earlier[1] == position - 1:
                continue
            problem = (
                "with the same value" if earlier[0] == value else f"so its first value {earlier[0]!r} is dead"
            )
            yield source.finding(
                "frontend-css",
                "duplicate-property",
                line(declaration),
                f"{prop} is declared twice in one rule {problem}",
                Severity.WARNING,
            )


def _raw_value(declaration: Node) -> str:
    parts = [c for c in declaration.named_children if c.type not in ("property_name", "comment")]
    return " ".join(text(p) for p in parts)


def _color(node: Node) -> str:
    """The normalised literal of a colour node (`#FFF` -> "#fff"), "" for anything else."""
    if node.type == "color_value":
        return text(node).lower()
    if node.type == "call_expression" and text(node.named_children[0]).lower() in COLOR_FUNCTIONS:
        return "".join(text(node).lower().split())
    return ""


@check("frontend-css", "repeated-color", STYLE_LANGUAGES)
def repeated_color(source: SourceFile) -> Iterator[Finding]:
    """The same colour literal written more than once instead of a custom property."""
    sheet = stylesheet(source)
    counts: dict[str, int] = {}
    for node in sheet.find("color_value", "call_expression") if sheet is not None else []:
        color = _color(node)
        declaration = next((a for a in ancestors(node) if a.type == "declaration"), None)
        if not color or declaration is None or _property(declaration).startswith("--"):
            continue  # defining a custom property is the fix, not the problem
        counts[color] = counts.get(color, 0) + 1
        if counts[color] == 2:
            yield source.finding(
                "frontend-css",
                "repeated-color",
                line(node),
                f"colour {color} is hard-coded more than once; define it as a custom property and use var()",
                Severity.WARNING,
            )
