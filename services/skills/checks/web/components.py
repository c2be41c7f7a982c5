"""React component checks of .tsx/.jsx code (frontend-components): size, PascalCase names,
keys of rendered lists and typed props. Files without JSX have no finding."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import PurePosixPath

from tree_sitter import Node

from services.skills.checks.base import Finding, Severity, SourceFile, check
from services.skills.checks.web.syntax import (
    CALLBACK_TYPES,
    FUNCTION_TYPES,
    call_arguments,
    function_name,
    is_component,
    is_pascal_case,
    is_test_file,
    jsx_attributes,
    jsx_has_spread,
    jsx_name,
    jsx_roots,
    name_node,
    parameter_name,
    parameters,
    returned_expressions,
    returns_jsx,
)
from services.skills.checks.web.trees import (
    SCRIPT_LANGUAGES,
    ancestors,
    descendants,
    line,
    line_count,
    parse,
    text,
)

MAX_COMPONENT_LINES = 150
LIST_METHODS = frozenset({"map", "flatMap"})
TYPED_PARAMETERS = frozenset({"required_parameter", "optional_parameter"})


def _jsx_functions(source: SourceFile) -> list[Node]:
    """Every named function that returns JSX, once per file (several checks need them)."""

    def compute() -> list[Node]:
        functions = parse(source).find(*FUNCTION_TYPES)
        return [fn for fn in functions if function_name(fn) and returns_jsx(fn)]

    return source.cached("web-jsx-functions", compute)


@check("frontend-components", "component-size", SCRIPT_LANGUAGES)
def component_size(source: SourceFile) -> Iterator[Finding]:
    """A component longer than about 150 lines; extract subcomponents."""
    for fn in _jsx_functions(source):
        lines = line_count(fn)
        if lines > MAX_COMPONENT_LINES:
            yield source.finding(
                "frontend-components",
                "component-size",
                line(fn),
                f"component {function_name(fn)} is {lines} lines long (limit {MAX_COMPONENT_LINES}); "
                "extract subcomponents",
                Severity.WARNING,
            )


def _is_module_level(fn: Node) -> bool:
    for above in ancestors(fn):
        if above.type == "program":
            return True
        if above.type in FUNCTION_TYPES or above.type == "class_body":
            return False
    return False


@check("frontend-components", "component-name", SCRIPT_LANGUAGES)
def component_name(source: SourceFile) -> Iterator[Finding]:
    """A module-level function returning JSX whose name is not PascalCase.

    React treats a lower-case <tag> as an HTML element; render* helpers are exempt."""
    if is_test_file(source):
        return
    for fn in _jsx_functions(source):
        name = function_name(fn)
        if is_pascal_case(name) or name.startswith("render") or not _is_module_level(fn):
            continue
        yield source.finding(
            "frontend-components",
            "component-name",
            line(fn),
            f"component {name} returns JSX but is not PascalCase; name it {name[:1].upper() + name[1:]}",
            Severity.WARNING,
        )


def _mapped_elements(source: SourceFile) -> Iterator[tuple[Node, Node]]:
    """(callback, element) for each JSX element a `.map(...)` callback returns."""
    for call in parse(source).find("call_expression"):
        callee = call.child_by_field_name("function")
        if callee is None or callee.type != "member_expression":
            continue
        if text(callee.child_by_field_name("property")) not in LIST_METHODS:
            continue
        arguments = call_arguments(call)
        if not arguments or arguments[0].type not in CALLBACK_TYPES:
            continue
        callback = arguments[0]
        for value in returned_expressions(callback):
            for element in jsx_roots(value):
                yield callback, element


@check("frontend-components", "list-key", SCRIPT_LANGUAGES)
def list_key(source: SourceFile) -> Iterator[Finding]:
    """An element rendered by `.map(...)` without a `key` prop."""
    for _, element in _mapped_elements(source):
        name = jsx_name(element)
        if not name:
            message = "list item is a <> fragment, which cannot take a key; use <Fragment key={...}>"
        elif "key" not in jsx_attributes(element) and not jsx_has_spread(element):
            message = f"<{name}> rendered by .map() has no key prop; give it a stable key from the data"
        else:
            continue
        yield source.finding("frontend-components", "list-key", line(element), message)


@check("frontend-components", "index-key", SCRIPT_LANGUAGES)
def index_key(source: SourceFile) -> Iterator[Finding]:
    """A list key built from the array index, which changes when the list is reordered."""
    for callback, element in _mapped_elements(source):
        arguments = parameters(callback)
        index = parameter_name(arguments[1]) if len(arguments) > 1 else ""
        key = jsx_attributes(element).get("key")
        if not index or key is None:
            continue
        if any(n.type == "identifier" and text(n) == index for n in descendants(key)):
            yield source.finding(
                "frontend-components",
                "index-key",
                line(key),
                f"key of <{jsx_name(element)}> is built from the array index ({index}); use a stable id from the data",
                Severity.WARNING,
            )


def _has_typed_props(fn: Node) -> bool:
    first = parameters(fn)[:1]
    if not first:
        return True  # no props at all
    if first[0].type in TYPED_PARAMETERS and first[0].child_by_field_name("type") is not None:
        return True
    # `const Card: FC<Props> = (props) => ...` or `forwardRef<Ref, Props>((props, ref) => ...)`
    named = name_node(fn)
    holder = named.parent if named is not None else None
    if holder is not None and holder.type == "variable_declarator" and holder.child_by_field_name("type"):
        return True
    call = fn.parent.parent if fn.parent is not None and fn.parent.type == "arguments" else None
    return call is not None and call.child_by_field_name("type_arguments") is not None


@check("frontend-components", "typed-props", ["typescript"])
def typed_props(source: SourceFile) -> Iterator[Finding]:
    """A .tsx component whose props parameter has no type annotation (implicit any)."""
    if PurePosixPath(source.path).suffix.lower() != ".tsx":
        return
    for fn in _jsx_functions(source):
        if is_component(fn) and not _has_typed_props(fn):
            yield source.finding(
                "frontend-components",
                "typed-props",
                line(fn),
                f"props of component {function_name(fn)} have no type annotation; declare a Props type",
            )
