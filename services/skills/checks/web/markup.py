"""Markup checks of HTML pages and of the JSX in .tsx/.jsx files: accessibility (alt text,
keyboard support, labels, lang, button names, headings), the viewport meta tag and inline
styles.

HTML elements and JSX elements are read into one `Element` model first (lower-cased
attribute names, so `onClick`/`onclick` and `htmlFor`/`for` are one rule), and each check
is written once against it. JSX adds two unknowns the checks respect: a component (`<Card>`)
may render anything, and a spread (`{...props}`) may supply any attribute, so neither is
reported for what it might lack.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from tree_sitter import Node

from services.skills.checks.base import Finding, Severity, SourceFile, check
from services.skills.checks.web.syntax import JSX_TYPES, jsx_has_spread, jsx_name, jsx_tag, string_value
from services.skills.checks.web.trees import line, parse, text

MARKUP_LANGUAGES = ("html", "typescript", "javascript")
# Elements a click handler belongs on: focusable and operable by keyboard out of the box.
# `a` is left to anchor-as-button, which knows whether it has an href.
INTERACTIVE = frozenset(
    {"a", "button", "input", "select", "textarea", "option", "summary", "details", "label", "area"}
    | {"audio", "video", "iframe", "embed", "object", "html", "body", "form"}
)
KEY_HANDLERS = ("onkeydown", "onkeyup", "onkeypress")
CONTROLS = frozenset({"input", "select", "textarea"})
UNLABELLED_INPUTS = frozenset({"hidden", "submit", "button", "reset", "image"})
NAMING_ATTRIBUTES = ("aria-label", "aria-labelledby", "title")
HEADINGS = {f"h{level}": level for level in range(1, 7)}
STATIC_VALUE_TYPES = frozenset({"string", "number", "true", "false", "null"})


@dataclass(eq=False)
class Element:
    """One HTML or JSX element: its name as written, attributes by lower-cased name with
    their literal value (None when computed at runtime, "" when bare)."""

    name: str
    line: int
    attrs: dict[str, str | None]
    attr_nodes: dict[str, Node]
    spread: bool
    own_text: bool  # text, an entity or a {expression} directly inside it
    parent: Element | None = None
    children: list[Element] = field(default_factory=list)

    @property
    def is_intrinsic(self) -> bool:
        """An HTML element, not a component (`Card`, `ui.Button`) or custom element."""
        return self.name[:1].islower() and "." not in self.name and "-" not in self.name

    def has(self, *names: str) -> bool:
        return any(n in self.attrs for n in names)

    def ancestors(self) -> Iterator[Element]:
        parent = self.parent
        while parent is not None:
            yield parent
            parent = parent.parent


def elements(source: SourceFile) -> list[Element]:
    """The elements of an HTML page or of the JSX of a script, in document order (cached)."""
    return source.cached("web-elements", lambda: _read_elements(source))


def _read_elements(source: SourceFile) -> list[Element]:
    parsed = parse(source)
    html = source.language == "html"
    nodes = parsed.find("element") if html else parsed.find(*JSX_TYPES)
    by_id: dict[int, Element] = {}
    for node in nodes:
        element = _html_element(node) if html else _jsx_element(node)
        if element is None:
            continue
        by_id[node.id] = element
        above = node.parent
        while above is not None and above.id not in by_id:
            above = above.parent
        if above is not None:
            element.parent = by_id[above.id]
            element.parent.children.append(element)
    return list(by_id.values())


def _html_element(node: Node) -> Element | None:
    tag = next((c for c in node.children if c.type in ("start_tag", "self_closing_tag")), None)
    if tag is None:
        return None
    attrs: dict[str, str | None] = {}
    attr_nodes: dict[str, Node] = {}
    for attribute in tag.named_children:
        if attribute.type != "attribute" or not attribute.named_children:
            continue
        name = text(attribute.named_children[0]).lower()
        value = attribute.named_children[1] if attribute.named_child_count > 1 else None
        inner = value.named_children[0] if value is not None and value.named_children else value
        attrs[name] = text(inner) if inner is not None and inner.type == "attribute_value" else ""
        attr_nodes[name] = attribute
    own_text = any((c.type == "text" and text(c).strip()) or c.type == "entity" for c in node.children)
    name = text(tag.named_children[0]).lower() if tag.named_children else ""
    return Element(name, line(node), attrs, attr_nodes, False, own_text)


def _jsx_value(value: Node | None) -> str | None:
    if value is None:
        return ""
    if value.type == "string":
        return text(value)[1:-1]
    inner = [c for c in value.named_children if c.type != "comment"]
    return string_value(inner[0]) if len(inner) == 1 else None


def _jsx_element(node: Node) -> Element:
    attrs: dict[str, str | None] = {}
    attr_nodes: dict[str, Node] = {}
    for attribute in jsx_tag(node).named_children:
        if attribute.type == "jsx_attribute" and attribute.named_children:
            name = text(attribute.named_children[0]).lower()
            value = attribute.named_children[1] if attribute.named_child_count > 1 else None
            attrs[name], attr_nodes[name] = _jsx_value(value), attribute
    own_text = any(
        (c.type == "jsx_text" and text(c).strip())
        or c.type == "html_character_reference"
        or (c.type == "jsx_expression" and any(e.type != "comment" for e in c.named_children))
        for c in node.named_children
    )
    return Element(jsx_name(node), line(node), attrs, attr_nodes, jsx_has_spread(node), own_text)


def _names_itself(element: Element) -> bool:
    """Whether an element inside a button gives it an accessible name."""
    if not element.is_intrinsic or element.has(*NAMING_ATTRIBUTES):
        return True  # a component may render text
    if element.name == "img" and element.attrs.get("alt", "") != "":
        return True
    return _has_text(element)


def _has_text(element: Element) -> bool:
    return element.own_text or any(_names_itself(child) for child in element.children)


def _finding(source: SourceFile, rule: str, element: Element, message: str) -> Finding:
    return source.finding("frontend-accessibility", rule, element.line, message)


# --- frontend-accessibility --------------------------------------------------------------------


@check("frontend-accessibility", "img-alt", MARKUP_LANGUAGES)
def img_alt(source: SourceFile) -> Iterator[Finding]:
    """An <img> without an alt attribute."""
    for element in elements(source):
        if element.name == "img" and not element.has("alt") and not element.spread:
            message = '<img> has no alt attribute; describe the image, or alt="" when it is decorative'
            yield _finding(source, "img-alt", element, message)


@check("frontend-accessibility", "click-without-keyboard", MARKUP_LANGUAGES)
def click_without_keyboard(source: SourceFile) -> Iterator[Finding]:
    """A click handler on a non-interactive element (div, span, li...) without keyboard support.

    Keyboard support: a key handler, or both a role and a tabindex."""
    for element in elements(source):
        if not element.is_intrinsic or element.name in INTERACTIVE or element.spread:
            continue
        if not element.has("onclick") or element.has(*KEY_HANDLERS):
            continue
        if element.has("role") and element.has("tabindex"):
            continue
        yield _finding(
            source,
            "click-without-keyboard",
            element,
            f"<{element.name}> has a click handler but no keyboard support; use a <button>, "
            "or add role, tabIndex and a key handler",
        )


def _label_targets(found: list[Element]) -> tuple[set[str], bool]:
    """The ids labels point at (for / htmlFor), and whether any points at a computed id."""
    targets = [e.attrs[a] for e in found for a in ("for", "htmlfor") if a in e.attrs]
    return {t for t in targets if t}, any(t is None for t in targets)


def _is_labelled(control: Element, targets: set[str], computed_targets: bool) -> bool:
    if control.spread or control.has("aria-label", "aria-labelledby"):
        return True
    if any(a.name.lower().endswith("label") for a in control.ancestors()):
        return True  # wrapped in <label> (or a design-system <FormLabel>)
    if "id" not in control.attrs:
        return False
    identifier = control.attrs["id"]
    return computed_targets if identifier is None else identifier in targets


@check("frontend-accessibility", "control-label", MARKUP_LANGUAGES)
def control_label(source: SourceFile) -> Iterator[Finding]:
    """An <input>, <select> or <textarea> without an associated label.

    Labelled: a <label for/htmlFor> naming its id, a wrapping <label>, aria-label or
    aria-labelledby."""
    found = elements(source)
    targets, computed_targets = _label_targets(found)
    for element in found:
        if element.name not in CONTROLS or (element.attrs.get("type") or "").lower() in UNLABELLED_INPUTS:
            continue
        if not _is_labelled(element, targets, computed_targets):
            yield _finding(
                source,
                "control-label",
                element,
                f"<{element.name}> has no label; add <label htmlFor> for its id, wrap it in "
                "<label>, or give it aria-labelledby",
            )


@check("frontend-accessibility", "html-lang", ["html"])
def html_lang(source: SourceFile) -> Iterator[Finding]:
    """An <html> element without a lang attribute: screen readers guess the language."""
    for element in elements(source):
        if element.name == "html" and not element.attrs.get("lang"):
            yield _finding(
                source,
                "html-lang",
                element,
                '<html> has no lang attribute; add lang="en" (or the page language)',
            )


@check("frontend-accessibility", "anchor-as-button", MARKUP_LANGUAGES)
def anchor_as_button(source: SourceFile) -> Iterator[Finding]:
    """An <a> with a click handler but no real href: a button disguised as a link."""
    for element in elements(source):
        if element.name != "a" or element.spread or not element.has("onclick"):
            continue
        href = element.attrs.get("href", "")
        if href is not None and (href in ("", "#") or href.lower().startswith("javascript:")):
            yield _finding(
                source,
                "anchor-as-button",
                element,
                "<a> without an href is used as a button; use <button> for actions, <a href> for navigation",
            )


@check("frontend-accessibility", "button-name", MARKUP_LANGUAGES)
def button_name(source: SourceFile) -> Iterator[Finding]:
    """A <button> with no accessible text: no content, alt text, aria-label or title."""
    for element in elements(source):
        if element.name != "button" or element.spread or element.has(*NAMING_ATTRIBUTES):
            continue
        if not _has_text(element):
            yield _finding(
                source,
                "button-name",
                element,
                "<button> has no accessible text; add text content or aria-label",
            )


@check("frontend-accessibility", "heading-order", ["html"])
def heading_order(source: SourceFile) -> Iterator[Finding]:
    """A heading that skips a level (<h2> followed by <h4>)."""
    previous = 0
    for element in elements(source):
        level = HEADINGS.get(element.name, 0)
        if level and previous and level > previous + 1:
            yield source.finding(
                "frontend-accessibility",
                "heading-order",
                element.line,
                f"<h{level}> follows <h{previous}>: heading level {previous + 1} is skipped",
                Severity.WARNING,
            )
        previous = level or previous


# --- frontend-responsive, frontend-css ---------------------------------------------------------


@check("frontend-responsive", "viewport-meta", ["html"])
def viewport_meta(source: SourceFile) -> Iterator[Finding]:
    """A page (with <html> or <head>) without <meta name="viewport">."""
    found = elements(source)
    page = next((e for e in found if e.name == "head"), None) or next(
        (e for e in found if e.name == "html"), None
    )
    if page is None:
        return  # a fragment or template, not a page
    if not any(e.name == "meta" and (e.attrs.get("name") or "").lower() == "viewport" for e in found):
        yield source.finding(
            "frontend-responsive",
            "viewport-meta",
            page.line,
            f'<{page.name}> has no <meta name="viewport" content="width=device-width, initial-scale=1">',
        )


def _is_static_style(attribute: Node) -> bool:
    """`style={{ color: "red" }}`: an object of literals, nothing computed at runtime."""
    parts = attribute.named_children
    if len(parts) < 2 or parts[1].type != "jsx_expression" or not parts[1].named_children:
        return False
    value = parts[1].named_children[0]
    if value.type != "object":
        return False
    pairs = [p for p in value.named_children if p.type != "comment"]
    return all(p.type == "pair" and _is_literal(p.child_by_field_name("value")) for p in pairs)


def _is_literal(node: Node | None) -> bool:
    if node is None:
        return False
    if node.type == "unary_expression":
        return _is_literal(node.named_children[0] if node.named_children else None)
    return node.type in STATIC_VALUE_TYPES or string_value(node) is not None


@check("frontend-css", "inline-style", MARKUP_LANGUAGES)
def inline_style(source: SourceFile) -> Iterator[Finding]:
    """An inline style attribute with fixed values (allowed only for values computed at runtime)."""
    for element in elements(source):
        attribute = element.attr_nodes.get("style")
        if attribute is None or not element.is_intrinsic:
            continue
        if source.language == "html" or _is_static_style(attribute):
            yield source.finding(
                "frontend-css",
                "inline-style",
                line(attribute),
                f"inline style on <{element.name}>; move fixed styles to the stylesheet or a class",
                Severity.WARNING,
            )
