"""TypeScript/JavaScript syntax helpers shared by the script checks: functions and their
names, calls and their callee paths, JSX returned by a function, literal strings, test files.

The TypeScript, TSX and JavaScript grammars share their node types for everything used
here, so one helper serves the three.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import PurePosixPath

from tree_sitter import Node

from services.skills.checks.base import SourceFile
from services.skills.checks.web.trees import descendants, text

FUNCTION_TYPES = frozenset(
    {
        "function_declaration",
        "generator_function_declaration",
        "function_expression",
        "generator_function",
        "arrow_function",
        "method_definition",
    }
)
# Expressions that evaluate to a function (or class) when returned or exported.
FUNCTION_VALUES = frozenset({"arrow_function", "function_expression", "generator_function", "class"})
# Function expressions passed as callbacks (`items.map((item) => ...)`, `it("...", () => ...)`).
CALLBACK_TYPES = frozenset({"arrow_function", "function_expression"})
# Functions that carry their own name; the others take the name they are bound to.
NAMED_FUNCTION_TYPES = frozenset(
    {"function_declaration", "generator_function_declaration", "method_definition"}
)
NAME_TYPES = frozenset({"identifier", "property_identifier", "private_property_identifier"})
JSX_TYPES = frozenset({"jsx_element", "jsx_self_closing_element"})
# Field-holding nodes that give an anonymous function its name (`const f = () => ...`).
BINDING_NAME_FIELDS = {
    "variable_declarator": "name",
    "assignment_expression": "left",
    "pair": "key",
    "public_field_definition": "name",
    "field_definition": "property",
}
# Calls that wrap a component without renaming it: `const Card = memo(function Card() ...)`.
COMPONENT_WRAPPERS = frozenset({"memo", "forwardRef", "observer", "React.memo", "React.forwardRef"})
TEST_FILE = re.compile(r"\.(test|spec)\.[cm]?[jt]sx?$")
PASCAL_CASE = re.compile(r"^[A-Z][A-Za-z0-9]*$")


def is_test_file(source: SourceFile) -> bool:
    """Test files by the jest/vitest conventions, including .spec.tsx and .test.mjs."""
    return source.is_test or bool(TEST_FILE.search(PurePosixPath(source.path).name))


def is_pascal_case(name: str) -> bool:
    return bool(PASCAL_CASE.match(name))


def function_name(fn: Node) -> str:
    """The name a function is known by: its declared name, or the variable, property or
    field it is assigned to (through memo/forwardRef); "" when anonymous."""
    node = name_node(fn)
    return text(node).lstrip("#") if node is not None else ""


def name_node(fn: Node) -> Node | None:
    """The identifier naming a function (see `function_name`); None when it is anonymous or
    its name is computed (`[Symbol.iterator]() {}`) or a string."""
    own = fn.child_by_field_name("name")
    if fn.type not in NAMED_FUNCTION_TYPES:
        holder = fn.parent
        if holder is not None and holder.type == "arguments" and holder.parent is not None:
            wrapper = holder.parent
            if text(wrapper.child_by_field_name("function")) in COMPONENT_WRAPPERS:
                holder = wrapper.parent
        if holder is not None and holder.type in BINDING_NAME_FIELDS:
            bound = holder.child_by_field_name(BINDING_NAME_FIELDS[holder.type])
            if bound is not None and bound.type == "member_expression":
                bound = bound.child_by_field_name("property")
            if bound is not None and bound.type in NAME_TYPES:
                return bound
    return own if own is not None and own.type in NAME_TYPES else None


def body(fn: Node) -> Node | None:
    return fn.child_by_field_name("body")


def own_nodes(fn: Node) -> Iterator[Node]:
    """The nodes of a function's body, not entering the functions nested in it."""
    block = body(fn)
    if block is None:
        return iter(())
    return descendants(block, stop=FUNCTION_TYPES)


def enclosing_function(node: Node) -> Node | None:
    parent = node.parent
    while parent is not None and parent.type not in FUNCTION_TYPES:
        parent = parent.parent
    return parent


def returned_expressions(fn: Node) -> list[Node]:
    """What a function returns: an arrow's expression body, or its return statements' values."""
    block = body(fn)
    if block is None:
        return []
    if block.type != "statement_block":
        return [block]
    found = []
    for node in own_nodes(fn):
        if node.type == "return_statement" and node.named_child_count:
            found.append(node.named_children[0])
    return found


def jsx_roots(expression: Node) -> list[Node]:
    """The JSX elements an expression evaluates to, through parentheses, `cond ? a : b`
    and `cond && a`."""
    if expression.type in JSX_TYPES:
        return [expression]
    if expression.type == "parenthesized_expression":
        return [root for child in expression.named_children for root in jsx_roots(child)]
    if expression.type == "ternary_expression":
        branches = [expression.child_by_field_name(f) for f in ("consequence", "alternative")]
        return [root for branch in branches if branch is not None for root in jsx_roots(branch)]
    if expression.type == "binary_expression":
        right = expression.child_by_field_name("right")
        return jsx_roots(right) if right is not None else []
    return []


def returns_jsx(fn: Node) -> bool:
    return any(jsx_roots(value) for value in returned_expressions(fn))


def is_component(fn: Node) -> bool:
    """A React function component: PascalCase and returning JSX."""
    return is_pascal_case(function_name(fn)) and returns_jsx(fn)


def call_path(call: Node) -> list[str]:
    """The dotted path of a call's callee: `it.only(...)` -> ["it", "only"], `it.each(t)(...)`
    -> ["it", "each"], `db.pool.query(...)` -> ["db", "pool", "query"]; [] when computed."""
    callee = call.child_by_field_name("function")
    path: list[str] = []
    while callee is not None:
        if callee.type in ("identifier", "property_identifier"):
            return [text(callee), *path]
        if callee.type == "member_expression":
            path.insert(0, text(callee.child_by_field_name("property")))
            callee = callee.child_by_field_name("object")
        elif callee.type == "call_expression":
            callee = callee.child_by_field_name("function")
        else:
            break
    return path


def call_arguments(call: Node) -> list[Node]:
    """The argument expressions of a call; [] for a tagged template (`sql\\`...\\``)."""
    arguments = call.child_by_field_name("arguments")
    if arguments is None or arguments.type != "arguments":
        return []
    return [a for a in arguments.named_children if a.type != "comment"]


def string_value(node: Node) -> str | None:
    """The value of a string literal or a template without substitutions, else None."""
    if node.type == "string":
        return text(node)[1:-1]
    if node.type == "template_string" and not any(
        c.type == "template_substitution" for c in node.named_children
    ):
        return text(node)[1:-1]
    return None


def parameters(fn: Node) -> list[Node]:
    """The parameter nodes of a function (`x => x` has one without parentheses)."""
    single = fn.child_by_field_name("parameter")
    if single is not None:
        return [single]
    formal = fn.child_by_field_name("parameters")
    if formal is None:
        return []
    return [p for p in formal.named_children if p.type != "comment"]


def parameter_name(parameter: Node) -> str:
    """The identifier a parameter binds ("" for a destructuring pattern)."""
    if parameter.type == "identifier":
        return text(parameter)
    inner = parameter.child_by_field_name("pattern") or parameter.child_by_field_name("left")
    return parameter_name(inner) if inner is not None else ""


def jsx_tag(element: Node) -> Node:
    """The tag holding an element's name and attributes: the opening tag of `<a>...</a>`,
    the element itself when self-closing."""
    opening = element.child_by_field_name("open_tag")
    return opening if opening is not None else element


def jsx_name(element: Node) -> str:
    """The element's name as written ("div", "Card", "Foo.Bar"); "" for a <> fragment."""
    return text(jsx_tag(element).child_by_field_name("name"))


def jsx_attributes(element: Node) -> dict[str, Node | None]:
    """Attribute name -> value node (a string or a {expression}); None for a bare attribute."""
    found: dict[str, Node | None] = {}
    for attribute in jsx_tag(element).named_children:
        if attribute.type == "jsx_attribute" and attribute.named_children:
            parts = attribute.named_children
            found[text(parts[0])] = parts[1] if len(parts) > 1 else None
    return found


def jsx_has_spread(element: Node) -> bool:
    """`{...props}`: any attribute may come from the spread, so absent ones are unknown."""
    return any(child.type == "jsx_expression" for child in jsx_tag(element).named_children)
