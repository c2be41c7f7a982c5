"""The Python checks of the global skills (coding style, commenting, conventions, error
handling, tech stack): each rule on a failing and a passing sample, and the edge cases
that used to misfire. Manifests, syntax errors and scoring: test_checks_python_stack.py."""

from __future__ import annotations

import pytest

from services.skills.checks.base import Severity
from tests.skills.pycheck_support import run_rule, summary

APP = "app/service.py"
LONG_BODY = "".join(f"    value_{i} = {i}\n" for i in range(60))

# rule -> (skill, bad code, line of its finding, good code)
CASES: dict[str, tuple[str, str, int, str]] = {
    "long-function": (
        "global-coding-style",
        "def build():\n" + LONG_BODY + "    return value_0\n",
        1,
        "def build():\n    value = 1\n    return value\n",
    ),
    "deep-nesting": (
        "global-coding-style",
        """
        def scan(rows):
            for row in rows:
                if row:
                    for cell in row:
                        if cell:
                            yield cell
        """,
        5,
        """
        def scan(rows):
            for row in rows:
                if not row:
                    continue
                for cell in row:
                    if cell:
                        yield cell
        """,
    ),
    "mutable-global-state": (
        "global-coding-style",
        """
        _cache = {}


        def remember(key, value):
            _cache[key] = value
        """,
        1,
        """
        class Cache:
            def __init__(self):
                self.items = {}

            def remember(self, key, value):
                self.items[key] = value
        """,
    ),
    "unused-import": ("global-coding-style", "import os\n\nVALUE = 1\n", 1, "import os\n\nVALUE = os.sep\n"),
    "unused-variable": (
        "global-coding-style",
        "def total():\n    unused = 1\n    return 2\n",
        2,
        "def total():\n    used = 1\n    return used\n",
    ),
    "undefined-name": (
        "global-coding-style",
        "def total():\n    return missing_name\n",
        2,
        "missing_name = 1\n\n\ndef total():\n    return missing_name\n",
    ),
    "missing-docstring": (
        "global-commenting",
        '"""Orders."""\n\n\ndef handle(order):\n    return order\n',
        4,
        '"""Orders."""\n\n\ndef handle(order):\n    """Accept the order as it is."""\n    return order\n',
    ),
    "commented-out-code": (
        "global-commenting",
        "VALUE = 1\n# VALUE = compute(2)\n",
        2,
        "# Fixed by the protocol (see RFC 9110, section 15).\nVALUE = 1\n",
    ),
    "not-evergreen": (
        "global-commenting",
        "# Author: Bob\nVALUE = 1\n",
        1,
        "# Fixed by the protocol.\nVALUE = 1\n",
    ),
    "vague-todo": (
        "global-commenting",
        "# TODO fix this later\nVALUE = 1\n",
        1,
        "# TODO(#123): drop once the v2 API ships\nVALUE = 1\n",
    ),
    "naming": (
        "global-conventions",
        "def fetchUser(user_id):\n    return user_id\n",
        1,
        "def fetch_user(user_id):\n    return user_id\n",
    ),
    "print-call": (
        "global-conventions",
        "def report(value):\n    print(value)\n",
        2,
        """
        import logging

        logger = logging.getLogger(__name__)


        def report(value):
            logger.info("report", extra={"value": value})
        """,
    ),
    "hardcoded-credential": (
        "global-conventions",
        'API_KEY = "sk-live-1234567890abcdef"\n',
        1,
        'import os\n\nAPI_KEY = os.environ["API_KEY"]\n',
    ),
    "bare-except": (
        "global-error-handling",
        "try:\n    run()\nexcept:\n    raise\n",
        3,
        "try:\n    run()\nexcept ValueError:\n    raise\n",
    ),
    "swallowed-exception": (
        "global-error-handling",
        "try:\n    run()\nexcept Exception:\n    pass\n",
        3,
        "try:\n    run()\nexcept Exception:\n    logger.exception('run failed')\n    raise\n",
    ),
    "broad-except": (
        "global-error-handling",
        "def load():\n    try:\n        return run()\n    except Exception:\n        return None\n",
        4,
        "def load():\n    try:\n        return run()\n    except Exception as error:\n        raise LoadError() from error\n",
    ),
    "raise-without-from": (
        "global-error-handling",
        "try:\n    run()\nexcept KeyError:\n    raise LookupError('missing')\n",
        4,
        "try:\n    run()\nexcept KeyError:\n    raise LookupError('missing') from None\n",
    ),
    "unmanaged-resource": (
        "global-error-handling",
        "def read(path):\n    handle = open(path)\n    return handle.read()\n",
        2,
        "def read(path):\n    with open(path) as handle:\n        return handle.read()\n",
    ),
    "naive-datetime": (
        "global-tech-stack",
        "from datetime import datetime\n\nSTAMP = datetime.utcnow()\n",
        3,
        "from datetime import UTC, datetime\n\nSTAMP = datetime.now(UTC)\n",
    ),
    "deprecated-api": (
        "global-tech-stack",
        "from pydantic import BaseModel, validator\n",
        1,
        "from pydantic import BaseModel, field_validator\n",
    ),
}


@pytest.mark.parametrize("rule", list(CASES))
def test_each_rule_finds_its_failing_sample_and_passes_the_good_one(rule: str) -> None:
    skill, bad, line, good = CASES[rule]
    assert summary(run_rule(skill, rule, {APP: bad})) == [(skill, rule, APP, line)]
    assert run_rule(skill, rule, {APP: good}) == []


def test_the_issue_example_a_200_line_function_is_an_error() -> None:
    body = "".join(f"    step_{i} = {i}\n" for i in range(199))
    [finding] = run_rule(
        "global-coding-style", "long-function", {APP: f"def run():\n{body}    return step_0\n"}
    )
    assert finding.severity == Severity.ERROR
    assert "function run has 200 lines of code" in finding.message


def test_docstring_blank_and_comment_lines_do_not_count_towards_function_length() -> None:
    filler = '    """Doc."""\n' + "    # why\n\n" * 40 + "".join(f"    v{i} = {i}\n" for i in range(45))
    assert (
        run_rule("global-coding-style", "long-function", {APP: f"def run():\n{filler}    return v0\n"}) == []
    )


def test_elif_chains_nest_no_deeper_than_their_if() -> None:
    code = """
    def classify(rows):
        for row in rows:
            if row == 1:
                pass
            elif row == 2:
                pass
            elif row == 3:
                for cell in row:
                    yield cell
    """
    assert run_rule("global-coding-style", "deep-nesting", {APP: code}) == []


def test_global_rebinding_is_mutable_state_and_a_shadowing_local_is_not() -> None:
    rebinding = "count = 0\n\n\ndef bump():\n    global count\n    count += 1\n"
    [finding] = run_rule("global-coding-style", "mutable-global-state", {APP: rebinding})
    assert (finding.line, "rebinds module-level count") == (
        5,
        finding.message.split("function bump ")[1][:26],
    )
    shadowed = "items = []\n\n\ndef collect():\n    items = []\n    items.append(1)\n    return items\n"
    assert run_rule("global-coding-style", "mutable-global-state", {APP: shadowed}) == []


def test_unused_import_is_fixable_except_a_possible_re_export_in_init() -> None:
    [plain] = run_rule("global-coding-style", "unused-import", {APP: "import os\n"})
    assert plain.fixable and "`os` imported but unused (F401)" in plain.message
    [reexport] = run_rule(
        "global-coding-style", "unused-import", {"app/__init__.py": "from app.x import y\n"}
    )
    assert not reexport.fixable


def test_module_docstring_is_required_once_the_module_defines_something() -> None:
    [finding] = run_rule("global-commenting", "missing-docstring", {APP: 'def run():\n    """Run."""\n'})
    assert (finding.line, finding.severity) == (1, Severity.WARNING)
    assert run_rule("global-commenting", "missing-docstring", {"app/__init__.py": "VERSION = '1'\n"}) == []
    private = '"""Helpers."""\n\n\ndef _helper():\n    return 1\n'
    assert run_rule("global-commenting", "missing-docstring", {APP: private}) == []
    assert (
        run_rule("global-commenting", "missing-docstring", {"tests/test_x.py": "def test_x():\n    pass\n"})
        == []
    )


@pytest.mark.parametrize(
    "comment",
    [
        "# noqa: E501",
        "# type: ignore[attr-defined]",
        "# app/models/user.py",
        "# Note: the order matters",
        "# return early when the cache is warm",
        "# e.g. client.get('/items')",
    ],
)
def test_prose_paths_and_pragmas_are_not_commented_out_code(comment: str) -> None:
    assert run_rule("global-commenting", "commented-out-code", {APP: f"{comment}\nVALUE = 1\n"}) == []


def test_a_commented_out_block_is_reported_once_at_its_first_code_line() -> None:
    code = "# Old approach:\n# if ready:\n#     start(now=True)\nVALUE = 1\n"
    assert summary(run_rule("global-commenting", "commented-out-code", {APP: code})) == [
        ("global-commenting", "commented-out-code", APP, 2)
    ]


def test_grpc_servicer_methods_and_visitor_methods_keep_their_imposed_names() -> None:
    code = """
    import ast


    class SkillsServicer(skills_pb2_grpc.SkillsServiceServicer):
        async def ListSkills(self, request, context):
            return None


    class Finder(ast.NodeVisitor):
        def visit_FunctionDef(self, node):
            return node
    """
    assert run_rule("global-conventions", "naming", {APP: code}) == []


def test_camel_case_arguments_variables_and_lower_case_classes_are_reported() -> None:
    code = "class order_line:\n    pass\n\n\ndef total(itemCount):\n    runningTotal = itemCount\n    return runningTotal\n"
    messages = [f.message for f in run_rule("global-conventions", "naming", {APP: code})]
    assert messages == [
        "class order_line is not PascalCase",
        "argument itemCount of total is not snake_case",
        "variable runningTotal is not snake_case",
    ]


def test_scripts_tests_and_cli_modules_may_print() -> None:
    script = 'def main():\n    print("done")\n\n\nif __name__ == "__main__":\n    main()\n'
    assert run_rule("global-conventions", "print-call", {APP: script}) == []
    assert run_rule("global-conventions", "print-call", {"tests/test_x.py": "print(1)\n"}) == []
    assert run_rule("global-conventions", "print-call", {APP: "from rich import print\n\nprint(1)\n"}) == []
    assert run_rule("global-conventions", "print-call", {APP: "import typer\n\nprint(typer)\n"}) == []


def test_generated_files_are_not_checked() -> None:
    code = "# Generated by the protocol buffer compiler.  DO NOT EDIT!\nimport os\n\n\ndef GetThing(request):\n    print(request)\n"
    assert run_rule("global-coding-style", "unused-import", {"app/v1/thing_pb2.py": code}) == []
    assert run_rule("global-conventions", "naming", {"app/v1/thing_pb2.py": code}) == []
    assert run_rule("global-commenting", "missing-docstring", {"app/v1/thing_pb2.py": code}) == []


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ('DATABASE_URL = "postgresql://app:s3cr3t-pw@db:5432/app"\n', 1),
        ('connect(password="hunter2-hunter2")\n', 1),
        ('def login(api_key="abcdef123456789"):\n    pass\n', 1),
        ('token_type = "bearer"\n', 0),
        ('TOKEN_URL = "/auth/token/refresh"\n', 0),
        ('password_hash = "$2b$12$abcdefghijklmnop"\n', 0),
        ('HELP = Field(description="postgresql+asyncpg://user:password@host:5432/dbname")\n', 0),
        ('SECRET_KEY = "${SECRET_KEY}"\n', 0),
        ('error_message_password = "password must be longer"\n', 0),
    ],
)
def test_hardcoded_credentials_and_their_look_alikes(code: str, expected: int) -> None:
    assert len(run_rule("global-conventions", "hardcoded-credential", {APP: code})) == expected


def test_specific_swallowed_exception_is_a_hint_and_a_logged_broad_one_is_handled() -> None:
    [specific] = run_rule(
        "global-error-handling", "swallowed-exception", {APP: "try:\n    run()\nexcept KeyError:\n    pass\n"}
    )
    assert specific.severity == Severity.INFO and "contextlib.suppress" in specific.message
    logged = "try:\n    run()\nexcept Exception:\n    logger.warning('run failed')\n    value = None\n"
    assert run_rule("global-error-handling", "broad-except", {APP: logged}) == []
    used = "try:\n    run()\nexcept Exception as error:\n    future.set_exception(error)\n"
    assert run_rule("global-error-handling", "broad-except", {APP: used}) == []


def test_re_raising_the_caught_exception_needs_no_from() -> None:
    code = "try:\n    run()\nexcept KeyError as error:\n    cleanup()\n    raise error\n"
    assert run_rule("global-error-handling", "raise-without-from", {APP: code}) == []


@pytest.mark.parametrize(
    ("code", "severity"),
    [
        ("import datetime\n\nSTAMP = datetime.datetime.now()\n", Severity.WARNING),
        ("import datetime as dt\n\nSTAMP = dt.datetime.utcfromtimestamp(0)\n", Severity.ERROR),
        ("from datetime import datetime\n\nSTAMP = datetime.fromtimestamp(0)\n", Severity.WARNING),
    ],
)
def test_naive_datetimes_through_any_import_spelling(code: str, severity: Severity) -> None:
    [finding] = run_rule("global-tech-stack", "naive-datetime", {APP: code})
    assert (finding.line, finding.severity) == (3, severity)


def test_aware_datetimes_are_not_reported() -> None:
    code = (
        "from datetime import UTC, datetime\n\nA = datetime.now(tz=UTC)\nB = datetime.fromtimestamp(0, UTC)\n"
    )
    assert run_rule("global-tech-stack", "naive-datetime", {APP: code}) == []
