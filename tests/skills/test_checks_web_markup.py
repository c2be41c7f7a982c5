"""The HTML, JSX and CSS rules: accessibility, components, styles and responsiveness. Each
rule has a failing sample (one finding, at the given line) and a passing sample (none), in
HTML and in JSX where the rule applies to both, plus the edge cases that must not be
reported."""

from __future__ import annotations

import pytest

from services.skills.checks.base import Severity
from tests.skills.test_checks_web import Case, assert_case, case_id, run_rule

W = Severity.WARNING
A11Y = "frontend-accessibility"


def page(
    body: str, head: str = '<meta name="viewport" content="width=device-width, initial-scale=1">'
) -> str:
    """An HTML page whose body starts on line 5."""
    return f'<!DOCTYPE html>\n<html lang="en">\n<head>{head}</head>\n<body>\n{body}\n</body>\n</html>\n'


def view(jsx: str) -> str:
    """A component whose JSX starts on line 3."""
    return f"export function View({{ items }}) {{\n  return (\n{jsx}\n  );\n}}\n"


def stylesheet(rule: str) -> str:
    """A stylesheet whose rule starts on line 2."""
    return f":root {{ --gap: 1rem; }}\n{rule}\n"


MARKUP_CASES = [
    # --- frontend-accessibility
    Case(
        A11Y,
        "img-alt",
        "public/a.html",
        page('<img src="chart.png">'),
        5,
        page('<img src="chart.png" alt="">'),
    ),
    Case(
        A11Y,
        "img-alt",
        "src/View.tsx",
        view("    <img src={src} />"),
        3,
        view("    <div>\n      <img src={src} alt={caption} />\n      <img {...imageProps} />\n    </div>"),
    ),
    Case(
        A11Y,
        "click-without-keyboard",
        "public/a.html",
        page('<li onclick="select()">Ada</li>'),
        5,
        page('<button type="button" onclick="select()">Ada</button>'),
    ),
    Case(
        A11Y,
        "click-without-keyboard",
        "src/View.jsx",
        view("    <div onClick={open}>Open</div>"),
        3,
        view(
            '    <div>\n      <div role="button" tabIndex={0} onClick={open}>Open</div>\n'
            "      <span onClick={open} onKeyDown={onKey}>Open</span>\n      <Card onClick={open} />\n    </div>"
        ),
    ),
    Case(
        A11Y,
        "control-label",
        "public/a.html",
        page('<form>\n<input id="email" type="email">\n<input type="hidden" name="t">\n</form>'),
        6,
        page('<form>\n<label for="email">Email</label>\n<input id="email" type="email">\n</form>'),
    ),
    Case(
        A11Y,
        "control-label",
        "src/View.tsx",
        view('    <form>\n      <textarea id="note" />\n    </form>'),
        4,
        view(
            '    <form>\n      <label htmlFor="note">Note</label>\n      <textarea id="note" />\n'
            '      <label>\n        Size\n        <select name="size" />\n      </label>\n'
            '      <input aria-label="Search" />\n      <input {...register("email")} />\n    </form>'
        ),
    ),
    Case(
        A11Y,
        "html-lang",
        "public/index.html",
        "<!DOCTYPE html>\n<html>\n<head><title>T</title></head>\n</html>\n",
        2,
        '<!DOCTYPE html>\n<html lang="en">\n<head><title>T</title></head>\n</html>\n',
    ),
    Case(
        A11Y,
        "anchor-as-button",
        "src/View.jsx",
        view("    <a onClick={logout}>Log out</a>"),
        3,
        view(
            '    <div>\n      <a href="/logout">Log out</a>\n      <a href={url} onClick={track}>Docs</a>\n    </div>'
        ),
    ),
    Case(
        A11Y,
        "anchor-as-button",
        "public/a.html",
        page('<a href="#" onclick="logout()">Log out</a>'),
        5,
        page('<a href="/logout">Log out</a>'),
    ),
    Case(
        A11Y,
        "button-name",
        "src/View.tsx",
        view('    <button onClick={close}>\n      <svg viewBox="0 0 8 8" />\n    </button>'),
        3,
        view(
            '    <div>\n      <button aria-label="Close" onClick={close}><svg /></button>\n'
            "      <button>{t('save')}</button>\n      <button><Icon name=\"x\" /></button>\n"
            '      <button><img src="x.svg" alt="Close" /></button>\n    </div>'
        ),
    ),
    Case(
        A11Y,
        "button-name",
        "public/a.html",
        page('<button type="button"><i class="icon-close"></i></button>'),
        5,
        page('<button type="button"><i class="icon-close"></i> Close</button>'),
    ),
    Case(
        A11Y,
        "heading-order",
        "public/a.html",
        page("<h1>Tasks</h1>\n<h2>Open</h2>\n<h4>Today</h4>"),
        7,
        page("<h1>Tasks</h1>\n<h2>Open</h2>\n<h3>Today</h3>\n<h2>Done</h2>"),
        W,
    ),
    # --- frontend-responsive (the viewport tag; CSS sizes below)
    Case(
        "frontend-responsive",
        "viewport-meta",
        "public/index.html",
        page("<p>Hi</p>", head="<title>Tasks</title>"),
        3,
        page("<p>Hi</p>"),
    ),
    # --- frontend-components
    Case(
        "frontend-components",
        "component-size",
        "src/Big.jsx",
        "export function Big() {\n  return (\n    <ul>\n"
        + "".join(f"      <li>{i}</li>\n" for i in range(146))
        + "    </ul>\n  );\n}\n",
        1,
        "export function Small() {\n  return <p>small</p>;\n}\n",
        W,
    ),
    Case(
        "frontend-components",
        "component-name",
        "src/card.jsx",
        "const size = 2;\nexport const userCard = ({ user }) => <div>{user.name}</div>;\n",
        2,
        "export const UserCard = ({ user }) => <div>{user.name}</div>;\n"
        "function renderRow(row) {\n  return <tr key={row.id} />;\n}\n",
        W,
    ),
    Case(
        "frontend-components",
        "list-key",
        "src/View.tsx",
        view("    <ul>\n      {items.map((item) => <li>{item.name}</li>)}\n    </ul>"),
        4,
        view(
            "    <ul>\n      {items.map((item) => <li key={item.id}>{item.name}</li>)}\n"
            "      {items.map((item) => {\n        return <Row key={item.id} {...item} />;\n      })}\n    </ul>"
        ),
    ),
    Case(
        "frontend-components",
        "index-key",
        "src/View.jsx",
        view(
            "    <ul>\n      {items.map((item, index) => (\n        <li key={index}>{item.name}</li>\n      ))}\n    </ul>"
        ),
        5,
        view(
            "    <ul>\n      {items.map((item, index) => (\n        <li key={item.id}>{index}</li>\n      ))}\n    </ul>"
        ),
        W,
    ),
    Case(
        "frontend-components",
        "typed-props",
        "src/Title.tsx",
        "const level = 2;\nexport function Title({ text }) {\n  return <h2>{text}</h2>;\n}\n",
        2,
        "export function Title({ text }: { text: string }) {\n  return <h2>{text}</h2>;\n}\n"
        "export const Sub: FC<SubProps> = (props) => <h3>{props.text}</h3>;\n"
        "export const Field = forwardRef<HTMLInputElement, FieldProps>((props, ref) => <input ref={ref} {...props} />);\n"
        "export const Empty = () => <p>Nothing here</p>;\n",
    ),
    # --- frontend-css
    Case(
        "frontend-css",
        "inline-style",
        "public/a.html",
        page('<p style="color: red">Error</p>'),
        5,
        page('<p class="error">Error</p>'),
        W,
    ),
    Case(
        "frontend-css",
        "inline-style",
        "src/View.tsx",
        view("    <p style={{ color: 'red', margin: 0 }}>Error</p>"),
        3,
        view("    <div style={{ width: `${progress}%` }} />"),
        W,
    ),
    Case(
        "frontend-css",
        "important",
        "src/a.css",
        stylesheet(".a {\n  color: red !important;\n}"),
        3,
        stylesheet(".a { color: red; }"),
        W,
    ),
    Case(
        "frontend-css",
        "id-selector",
        "src/a.css",
        stylesheet("#main .title { margin: 0; }"),
        2,
        stylesheet(".main .title { margin: 0; }"),
        W,
    ),
    Case(
        "frontend-css",
        "selector-depth",
        "src/a.css",
        stylesheet(".nav ul > li a:not(.x .y .z) { color: red; }"),
        2,
        stylesheet(".nav > li a:hover:not(.x .y .z .w) { color: red; }\n.card { &:hover { color: red; } }"),
        W,
    ),
    Case(
        "frontend-css",
        "selector-depth",
        "src/nested.css",
        stylesheet(".page {\n  .nav .list {\n    .item { color: red; }\n  }\n}"),
        4,
        stylesheet(".page {\n  .nav {\n    & .list { color: red; }\n  }\n}"),
        W,
    ),
    Case(
        "frontend-css",
        "duplicate-property",
        "src/a.css",
        stylesheet(".a {\n  margin: 0;\n  color: red;\n  margin: 1rem;\n}"),
        5,
        stylesheet(
            ".a {\n  display: block;\n  display: -webkit-box;\n  height: 100vh;\n  height: 100dvh;\n"
            "  text-decoration: underline;\n  -webkit-text-decoration: underline dotted;\n"
            "  text-decoration: underline dotted;\n}"
        ),
        W,
    ),
    Case(
        "frontend-css",
        "repeated-color",
        "src/a.css",
        stylesheet(".a { color: #1F2933; }\n.b { border-color: #1f2933; }"),
        3,
        ":root { --text: #1f2933; }\n.a { color: var(--text); }\n.b { border-color: var(--text); }\n",
        W,
    ),
    # --- frontend-responsive
    Case(
        "frontend-responsive",
        "px-font-size",
        "src/a.css",
        stylesheet(".title {\n  font-size: 18px;\n}"),
        3,
        stylesheet(
            ".title { font-size: 1.125rem; font: inherit; }\n.body { font-size: clamp(1rem, 0.9rem + 0.5vw, 1.25rem); }"
        ),
        W,
    ),
    Case(
        "frontend-responsive",
        "fixed-width",
        "src/a.css",
        stylesheet(".page {\n  margin: 0 auto;\n  width: 960px;\n}"),
        4,
        stylesheet(
            ".page { max-width: 960px; width: 100%; min-width: 280px; }\n"
            "@media (min-width: 64rem) { .page { width: 960px; } }\n.side { width: calc(100% - 400px); }"
        ),
    ),
]


@pytest.mark.parametrize("case", MARKUP_CASES, ids=case_id)
def test_markup_rule_reports_the_failing_sample_and_passes_the_good_one(case: Case) -> None:
    assert_case(case)


def test_font_size_in_the_font_shorthand_is_found() -> None:
    found = run_rule("frontend-responsive", "px-font-size", "src/a.css", ".a { font: 14px/1.5 system-ui; }\n")
    assert [(f.line, f.rule) for f in found] == [(1, "px-font-size")]
    assert "14px" in found[0].message


def test_fixed_widths_inside_container_queries_are_intended() -> None:
    code = "@container card (min-width: 40rem) {\n  .title { width: 600px; }\n}\n"
    assert run_rule("frontend-responsive", "fixed-width", "src/a.css", code) == []


def test_a_page_fragment_needs_no_viewport_or_lang() -> None:
    fragment = "<section>\n  <h2>Help</h2>\n</section>\n"
    assert run_rule("frontend-responsive", "viewport-meta", "public/part.html", fragment) == []
    assert run_rule(A11Y, "html-lang", "public/part.html", fragment) == []


def test_a_computed_label_target_labels_a_computed_id() -> None:
    code = view(
        "    <div>\n      <label htmlFor={fieldId}>Name</label>\n      <input id={fieldId} />\n    </div>"
    )
    assert run_rule(A11Y, "control-label", "src/View.tsx", code) == []


def test_a_fragment_returned_by_map_cannot_take_a_key() -> None:
    code = view(
        "    <dl>\n      {items.map((item) => (\n        <>\n          <dt>{item.term}</dt>\n        </>\n      ))}\n    </dl>"
    )
    found = run_rule("frontend-components", "list-key", "src/View.tsx", code)
    assert [f.line for f in found] == [5]
    assert "Fragment key" in found[0].message


def test_typed_props_apply_to_tsx_only() -> None:
    code = "export function Title({ text }) {\n  return <h2>{text}</h2>;\n}\n"
    assert run_rule("frontend-components", "typed-props", "src/Title.tsx", code) != []
    with pytest.raises(AssertionError, match="no frontend-components/typed-props check applies"):
        run_rule("frontend-components", "typed-props", "src/Title.jsx", code)


def test_findings_name_the_element_and_the_fix() -> None:
    found = run_rule(
        A11Y, "click-without-keyboard", "src/View.jsx", view("    <span onClick={open}>Open</span>")
    )
    assert "<span>" in found[0].message and "<button>" in found[0].message
    found = run_rule("frontend-responsive", "fixed-width", "src/a.css", ".a { min-width: 400px; }\n")
    assert "min-width: 400px" in found[0].message


def test_the_same_declaration_twice_is_a_duplicate_even_when_adjacent() -> None:
    found = run_rule(
        "frontend-css", "duplicate-property", "src/a.css", ".a {\n  color: red;\n  color: red;\n}\n"
    )
    assert [(f.line, f.rule) for f in found] == [(3, "duplicate-property")]
    assert "same value" in found[0].message
