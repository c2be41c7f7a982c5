"""Checks of jest/vitest/mocha/playwright test files: every test asserts something
(testing-unit-tests); no focused or skipped tests and descriptive test names
(testing-test-writing). Other files have no finding."""

from __future__ import annotations

import re
from collections.abc import Iterator

from tree_sitter import Node

from services.skills.checks.base import Finding, Severity, SourceFile, check
from services.skills.checks.web.syntax import (
    CALLBACK_TYPES,
    body,
    call_arguments,
    call_path,
    is_test_file,
    parameter_name,
    parameters,
    string_value,
)
from services.skills.checks.web.trees import SCRIPT_LANGUAGES, descendants, line, parse

TEST_FUNCTIONS = frozenset({"it", "test", "specify", "fit", "xit", "xtest"})
SUITE_FUNCTIONS = frozenset({"describe", "context", "suite", "fdescribe", "xdescribe", "xcontext"})
FOCUSED_FUNCTIONS = frozenset({"fit", "fdescribe"})
SKIPPED_FUNCTIONS = frozenset({"xit", "xtest", "xdescribe", "xcontext"})
NOT_RUN = frozenset({"skip", "todo"})
# expect(...), expectTypeOf, assert.equal, assertThat, chai's .should, supertest's .expect;
# not a helper named `expected...`.
ASSERTION = re.compile(r"^(expect|assert)(?!ed)|^should$")
MIN_NAME_WORDS = 2
GENERIC_NAMES = re.compile(
    r"^((it|should|test) )?(works?|passes|runs|is ok|does (it|something))"
    r"( (correctly|fine|properly|ok|as expected))?$|^(test|case|example) ?\d*$"
)


def _test_calls(source: SourceFile) -> Iterator[tuple[Node, list[str]]]:
    """(call, callee path) of every test and suite call of a test file, once per chain:
    `it.each(table)("name", fn)` is one test, not two calls."""
    if not is_test_file(source):
        return
    for call in parse(source).find("call_expression"):
        parent = call.parent
        if (
            parent is not None
            and parent.type == "call_expression"
            and parent.child_by_field_name("function") == call
        ):
            continue
        path = call_path(call)
        if path and path[0] in TEST_FUNCTIONS | SUITE_FUNCTIONS:
            yield call, path


def _callback(call: Node) -> Node | None:
    functions = [a for a in call_arguments(call) if a.type in CALLBACK_TYPES]
    return functions[-1] if functions else None


def _test_name(call: Node) -> str | None:
    arguments = call_arguments(call)
    return string_value(arguments[0]) if arguments else None


def _asserts(callback: Node) -> bool:
    """Whether a test callback makes an assertion: a call through expect/assert/should, or
    a method call on its context parameter (ava's `t.is(...)`)."""
    first = parameters(callback)[:1]
    context = parameter_name(first[0]) if first else ""
    block = body(callback)
    for node in [block, *descendants(block)] if block is not None else []:
        if node.type != "call_expression":
            continue
        path = call_path(node)
        if any(ASSERTION.match(part) for part in path) or (len(path) > 1 and path[0] == context):
            return True
    return False


@check("testing-unit-tests", "no-assertion", SCRIPT_LANGUAGES)
def no_assertion(source: SourceFile) -> Iterator[Finding]:
    """An it()/test() whose callback makes no expect()/assert call."""
    for call, path in _test_calls(source):
        if path[0] in SUITE_FUNCTIONS or path[0] in SKIPPED_FUNCTIONS or NOT_RUN.intersection(path[1:]):
            continue
        callback = _callback(call)
        if callback is not None and not _asserts(callback):
            name = _test_name(call)
            yield source.finding(
                "testing-unit-tests",
                "no-assertion",
                line(call),
                f"test {name!r} makes no assertion; expect a specific outcome"
                if name is not None
                else "test makes no assertion; expect a specific outcome",
            )


@check("testing-test-writing", "focused-test", SCRIPT_LANGUAGES)
def focused_test(source: SourceFile) -> Iterator[Finding]:
    """A focused test or suite (.only, fit, fdescribe) left in: every other test is skipped."""
    for call, path in _test_calls(source):
        if path[0] in FOCUSED_FUNCTIONS or "only" in path[1:]:
            yield source.finding(
                "testing-test-writing",
                "focused-test",
                line(call),
                f"{'.'.join(path)}() left in: it silently skips every other test; remove the focus",
            )


@check("testing-test-writing", "skipped-test", SCRIPT_LANGUAGES)
def skipped_test(source: SourceFile) -> Iterator[Finding]:
    """A skipped test or suite (.skip, xit, xdescribe)."""
    for call, path in _test_calls(source):
        if path[0] in SKIPPED_FUNCTIONS or "skip" in path[1:]:
            yield source.finding(
                "testing-test-writing",
                "skipped-test",
                line(call),
                f"{'.'.join(path)}() skips a test; fix it or delete it",
                Severity.WARNING,
            )


def _is_descriptive(name: str) -> bool:
    words = re.findall(r"[A-Za-z]+", name)
    return len(words) >= MIN_NAME_WORDS and not GENERIC_NAMES.match(" ".join(name.lower().split()))


@check("testing-test-writing", "vague-test-name", SCRIPT_LANGUAGES)
def vague_test_name(source: SourceFile) -> Iterator[Finding]:
    """A test named with an empty or non-descriptive string ("works", "test 1")."""
    for call, path in _test_calls(source):
        if path[0] in SUITE_FUNCTIONS or "each" in path[1:]:
            continue  # suites name a unit, not a behaviour; each() names are templates
        name = _test_name(call)
        if name is None or _is_descriptive(name):
            continue
        problem = "an empty name" if not name.strip() else f"the name {name!r}"
        yield source.finding(
            "testing-test-writing",
            "vague-test-name",
            line(call),
            f"test has {problem}; name the behaviour it proves",
            Severity.WARNING,
        )
