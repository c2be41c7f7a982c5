"""The Python checks of the testing skills (test writing, unit tests, coverage), and every
Python check over the golden pattern library, whose code is meant to be production quality:
no errors there, and warnings only where they are deserved."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from devmatrix.standards import SKILL_NAMES
from services.skills.checks.base import SourceFile, score_skill
from tests.skills.pycheck_support import run_rule, summary

TEST = "tests/test_orders.py"
LIBRARY = Path(__file__).resolve().parents[2] / "services" / "patterns" / "library"

# rule -> (skill, bad code, line of its finding, good code)
CASES: dict[str, tuple[str, str, int, str]] = {
    "sleep-in-test": (
        "testing-test-writing",
        "import time\n\n\ndef test_order_ships_after_payment():\n    time.sleep(1)\n    assert ship() == 'shipped'\n",
        5,
        "import asyncio\n\n\nasync def test_order_ships_after_payment():\n    await asyncio.sleep(0)\n"
        "    assert ship() == 'shipped'\n",
    ),
    "vague-test-name": (
        "testing-test-writing",
        "def test_it():\n    assert add(1, 1) == 2\n",
        1,
        "def test_add_sums_two_small_numbers():\n    assert add(1, 1) == 2\n",
    ),
    "network-in-test": (
        "testing-test-writing",
        'import requests\n\n\ndef test_status_page_is_up():\n    assert requests.get("https://example.com/health").status_code == 200\n',
        5,
        'import requests\n\n\ndef test_status_page_is_up():\n    assert requests.get("http://localhost:8000/health").status_code == 200\n',
    ),
    "no-assertion": (
        "testing-unit-tests",
        "def test_order_total_is_computed():\n    total(1, 2)\n",
        1,
        "def test_order_total_is_computed():\n    assert total(1, 2) == 3\n",
    ),
    "weak-assertion": (
        "testing-unit-tests",
        "def test_order_total_is_computed():\n    result = total(1, 2)\n    assert result\n",
        3,
        "def test_order_total_is_computed():\n    result = total(1, 2)\n    assert result == 3\n",
    ),
}


@pytest.mark.parametrize("rule", list(CASES))
def test_each_rule_finds_its_failing_sample_and_passes_the_good_one(rule: str) -> None:
    skill, bad, line, good = CASES[rule]
    assert summary(run_rule(skill, rule, {TEST: bad})) == [(skill, rule, TEST, line)]
    assert run_rule(skill, rule, {TEST: good}) == []


@pytest.mark.parametrize(
    "body",
    [
        "    with pytest.raises(ValueError, match='negative'):\n        total(-1, 2)\n",
        "    notifier = Mock()\n    ship(notifier)\n    notifier.send.assert_called_once_with('shipped')\n",
        "    self.assertEqual(total(1, 2), 3)\n",
        "    expect(page.get_by_text('Total')).to_be_visible()\n",
        "    check_total(1, 2)\n",
    ],
)
def test_every_kind_of_assertion_counts(body: str) -> None:
    helper = "def check_total(a, b):\n    assert total(a, b) == a + b\n\n\n"
    code = f"{helper}def test_total_of_two_items():\n{body}"
    assert run_rule("testing-unit-tests", "no-assertion", {TEST: code}) == []


def test_a_test_class_method_without_assertion_is_found_and_skipped_tests_are_not() -> None:
    code = (
        "import pytest\n\n\nclass TestOrders:\n    def test_total_of_two_items(self):\n        total(1, 2)\n\n\n"
        "@pytest.mark.skip(reason='flaky upstream')\ndef test_total_of_nothing():\n    total()\n"
    )
    [finding] = run_rule("testing-unit-tests", "no-assertion", {TEST: code})
    assert (finding.line, finding.message.split()[0]) == (5, "test_total_of_two_items")


def test_helpers_and_fixtures_outside_test_modules_are_not_tests() -> None:
    code = "def test_data():\n    return {'id': 1}\n"
    assert run_rule("testing-unit-tests", "no-assertion", {"tests/factories.py": code}) == []
    assert run_rule("testing-test-writing", "vague-test-name", {"app/test_data.py": ""}) == []


APP_MODULE = "def total(a, b):\n    return a + b\n"


def test_a_module_no_test_imports_is_untested() -> None:
    files = {
        "app/orders.py": APP_MODULE,
        "app/__main__.py": "def main():\n    pass\n",
        "app/_private.py": "def _helper():\n    pass\n",
        "tests/test_other.py": "def test_other_thing_works_fine():\n    assert True is True\n",
    }
    assert summary(run_rule("testing-coverage", "untested-module", files)) == [
        ("testing-coverage", "untested-module", "app/orders.py", 1)
    ]
    files["tests/test_other.py"] = (
        "from app.orders import total\n\n\ndef test_total_adds():\n    assert total(1, 2) == 3\n"
    )
    assert run_rule("testing-coverage", "untested-module", files) == []


def test_a_package_import_covers_the_modules_its_init_re_exports() -> None:
    files = {
        "src/app/models/__init__.py": "from .order import Order\n",
        "src/app/models/order.py": "class Order:\n    pass\n",
        "src/app/billing.py": APP_MODULE,
        "tests/test_models.py": "from app.models import Order\nimport app.billing\n\n\ndef test_order_has_no_lines():\n    assert Order()\n",
    }
    assert run_rule("testing-coverage", "untested-module", files) == []


def test_without_any_test_module_there_is_one_hint() -> None:
    [finding] = run_rule(
        "testing-coverage", "untested-module", {"app/orders.py": APP_MODULE, "app/b.py": APP_MODULE}
    )
    assert (finding.path, finding.message, finding.severity.name) == (
        "app/b.py",
        "no tests in the file set",
        "INFO",
    )


def library_sources() -> list[SourceFile]:
    """The golden patterns as the files they generate (the first comment line is the path)."""
    sources = []
    for path in sorted(LIBRARY.rglob("*.yaml")):
        pattern = yaml.safe_load(path.read_text(encoding="utf-8"))
        language = {"python": "python", "toml": "toml"}.get(pattern.get("language", ""))
        if language:
            code = pattern["code"]
            sources.append(SourceFile(code.splitlines()[0].lstrip("# ").strip(), code, language))
    return sources


def test_the_golden_library_has_no_error_and_only_the_expected_warnings() -> None:
    sources = library_sources()
    assert len(sources) > 30
    results = {skill: score_skill(skill, 0.8, sources) for skill in SKILL_NAMES}
    findings = [f for r in results.values() for f in r.findings]
    assert [f for f in findings if f.severity.name == "ERROR"] == []
    warnings = Counter(f.rule for f in findings if f.severity.name == "WARNING")
    # Every module is reached from the library's test module through the app's imports.
    assert set(warnings) == set()
    assert all(r.passed for r in results.values())
