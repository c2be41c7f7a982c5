"""The TypeScript/JavaScript rules: error handling, coding style, conventions, commenting,
validation, queries and test files. Each rule has a failing sample (one finding, at the
given line) and a passing sample (none), plus the edge cases that must not be reported."""

from __future__ import annotations

import pytest

from services.skills.checks.base import Severity
from tests.skills.test_checks_web import Case, assert_case, case_id, run_rule

W = Severity.WARNING


def long_function(name: str, lines: int) -> str:
    """A function of exactly `lines` lines."""
    body = "".join(f"  total += {i};\n" for i in range(lines - 4))
    return f"function {name}(): number {{\n  let total = 0;\n{body}  return total;\n}}\n"


SCRIPT_CASES = [
    # --- global-error-handling
    Case(
        "global-error-handling",
        "swallowed-exception",
        "src/save.ts",
        "try {\n  save();\n} catch (error) {\n  // ignore\n}\n",
        3,
        "try {\n  save();\n} catch (error) {\n  throw new SaveError('saving failed', { cause: error });\n}\n",
    ),
    Case(
        "global-error-handling",
        "log-only-catch",
        "src/save.js",
        "try {\n  save();\n} catch (error) {\n  console.error(error);\n}\n",
        3,
        "try {\n  save();\n} catch (error) {\n  console.error(error);\n  throw error;\n}\n",
        W,
    ),
    Case(
        "global-error-handling",
        "empty-promise-catch",
        "src/load.ts",
        "loadTasks()\n  .then(show)\n  .catch(() => {});\n",
        3,
        "loadTasks()\n  .then(show)\n  .catch((error) => report(error));\n",
    ),
    Case(
        "global-error-handling",
        "throw-literal",
        "src/parse.ts",
        "export function parse(text: string) {\n  throw `cannot parse ${text}`;\n}\n",
        2,
        "export function parse(text: string) {\n  throw new ParseError(`cannot parse ${text}`);\n}\n",
    ),
    # --- global-coding-style
    Case(
        "global-coding-style",
        "long-function",
        "src/sum.ts",
        long_function("sum", 51),
        1,
        long_function("sum", 50),
        W,
    ),
    Case(
        "global-coding-style",
        "var-declaration",
        "src/count.js",
        "const limit = 3;\nvar count = 0;\n",
        2,
        "const limit = 3;\nlet count = 0;\n",
        W,
    ),
    Case(
        "global-coding-style",
        "deep-nesting",
        "src/walk.ts",
        "function walk(rows) {\n  for (const row of rows) {\n    if (row.open) {\n      while (row.next) {\n"
        "        if (row.last) {\n          return row;\n        }\n      }\n    }\n  }\n}\n",
        5,
        # An else-if chain is one level, however long.
        "function grade(score) {\n  for (const s of score) {\n    if (s > 90) {\n      while (s.more) {\n"
        "        s.next();\n      }\n    } else if (s > 80) {\n      return 'B';\n    } else if (s > 70) {\n"
        "      return 'C';\n    } else if (s > 60) {\n      return 'D';\n    }\n  }\n}\n",
        W,
    ),
    Case(
        "global-coding-style",
        "loose-equality",
        "src/is.ts",
        "export const isAdmin = (role: string) =>\n  role == 'admin';\n",
        2,
        "export const isAdmin = (role: string) =>\n  role === 'admin' && role != null;\n",
        W,
    ),
    # --- global-conventions
    Case(
        "global-conventions",
        "console-log",
        "src/orders.ts",
        "export function place(order: Order) {\n  console.log('placing', order);\n}\n",
        2,
        "export function place(order: Order) {\n  logger.info({ order }, 'placing');\n}\n",
        W,
    ),
    Case(
        "global-conventions",
        "naming",
        "src/users.js",
        "const limit = 1;\nfunction get_user(id) {\n  return users[id];\n}\n",
        2,
        "function getUser(id) {\n  return users[id];\n}\nfunction Injectable() {\n  return (target) => target;\n}\n"
        "export async function GET(request) {\n  return Response.json(await getUser(1));\n}\n"
        "class Store { #loadAll() {} constructor() {} [Symbol.iterator]() {} 'load-all'() {} }\n",
        W,
    ),
    Case(
        "global-conventions",
        "hardcoded-credential",
        "src/config.ts",
        "export const config = {\n  host: 'db',\n  dbPassword: 'hunter2-Prod!',\n};\n",
        3,
        "export const config = {\n  host: 'db',\n  dbPassword: process.env.DB_PASSWORD,\n};\n"
        "const TOKEN_STORAGE_KEY = 'auth_token';\nconst passwordHint = 'Use at least 12 characters';\n"
        "const fields = { password: 'password' };\n",
    ),
    # --- global-commenting
    Case(
        "global-commenting",
        "missing-docstring",
        "src/total.ts",
        "/** Tax rate. */\nconst RATE = 0.2;\nexport function total(items: number[]): number {\n"
        "  return items.length * RATE;\n}\n",
        3,
        "/** Sum of the item prices, tax included. */\nexport function total(items: number[]): number {\n"
        "  return items.length;\n}\nexport const LIMIT = 5;\nexport { total as sum };\n",
        W,
    ),
    Case(
        "global-commenting",
        "vague-todo",
        "src/total.js",
        "const total = 1;\n/*\n * TODO: handle refunds\n */\n",
        3,
        "const total = 1;\n// TODO(#42): handle refunds\n/* FIXME https://tracker.example/ORD-7 */\n",
        Severity.INFO,
    ),
    # --- global-validation
    Case(
        "global-validation",
        "unvalidated-body",
        "server/users.js",
        "router.post('/users', async (req, res) => {\n  const user = await users.create(req.body);\n"
        "  res.status(201).json(user);\n});\n",
        2,
        "router.post('/users', async (req, res) => {\n  const input = NewUser.parse(req.body);\n"
        "  res.status(201).json(await users.create(input));\n});\n"
        "router.put('/users/:id', validate(UpdateUser), async (req, res) => {\n"
        "  res.json(await users.update(req.params.id, req.body));\n});\n",
    ),
    # --- backend-queries
    Case(
        "backend-queries",
        "sql-string-building",
        "server/repo.ts",
        "export async function find(id: string) {\n  return db.query(`SELECT * FROM users WHERE id = ${id}`);\n}\n",
        2,
        "export async function find(id: string) {\n  await prisma.$queryRaw`SELECT * FROM users WHERE id = ${id}`;\n"
        "  return db.query('SELECT id FROM users WHERE id = $1', [id]);\n}\n",
    ),
    Case(
        "backend-queries",
        "select-star",
        "server/repo.js",
        "async function all() {\n  return pool.query(\n    'SELECT * FROM tasks LIMIT 50'\n  );\n}\n",
        3,
        "async function all() {\n  return pool.query('SELECT id, title FROM tasks LIMIT 50');\n}\n",
        W,
    ),
    Case(
        "backend-queries",
        "query-in-loop",
        "server/repo.ts",
        "export async function owners(tasks: Task[]) {\n  for (const task of tasks) {\n"
        "    task.owner = await prisma.user.findUnique({ where: { id: task.ownerId } });\n  }\n}\n",
        3,
        "export async function owners(tasks: Task[]) {\n  const ids = tasks.map((task) => task.ownerId);\n"
        "  const users = await prisma.user.findMany({ where: { id: { in: ids } } });\n"
        "  for (const task of tasks) {\n    await db.query('UPDATE tasks SET seen = true WHERE id = $1', [task.id]);\n  }\n"
        "  return users;\n}\n",
        W,
    ),
    # --- testing-unit-tests, testing-test-writing
    Case(
        "testing-unit-tests",
        "no-assertion",
        "src/users.test.ts",
        "describe('users', () => {\n  it('creates a user', () => {\n    createUser({ name: 'Ada' });\n  });\n});\n",
        2,
        "describe('users', () => {\n  it('creates a user', () => {\n    expect(createUser({ name: 'Ada' }).id).toBe(1);\n"
        "  });\n  it.todo('deletes a user');\n});\n",
    ),
    Case(
        "testing-test-writing",
        "focused-test",
        "src/users.spec.tsx",
        "describe('users', () => {\n  it.only('creates a user', () => {\n    expect(create()).toBe(1);\n  });\n});\n",
        2,
        "describe('users', () => {\n  it('creates a user', () => {\n    expect(create()).toBe(1);\n  });\n});\n",
    ),
    Case(
        "testing-test-writing",
        "skipped-test",
        "__tests__/users.js",
        "describe('users', () => {\n  xit('creates a user', () => {\n    expect(create()).toBe(1);\n  });\n});\n",
        2,
        "describe('users', () => {\n  it('creates a user', () => {\n    expect(create()).toBe(1);\n  });\n});\n",
        W,
    ),
    Case(
        "testing-test-writing",
        "vague-test-name",
        "src/users.test.js",
        "test('works', () => {\n  expect(create()).toBe(1);\n});\n",
        1,
        "test('create returns the new user id', () => {\n  expect(create()).toBe(1);\n});\n"
        "test.each([[1, 2]])('adds %i to %i', (a, b) => {\n  expect(a + 1).toBe(b);\n});\n",
        W,
    ),
]


@pytest.mark.parametrize("case", SCRIPT_CASES, ids=case_id)
def test_script_rule_reports_the_failing_sample_and_passes_the_good_one(case: Case) -> None:
    assert_case(case)


def test_a_function_above_100_lines_is_an_error() -> None:
    found = run_rule("global-coding-style", "long-function", "src/sum.ts", long_function("sum", 101))
    assert [(f.line, f.severity) for f in found] == [(1, Severity.ERROR)]
    assert "sum is 101 lines" in found[0].message


def test_components_and_describe_suites_are_exempt_from_the_function_length() -> None:
    rows = "".join(f"      <li>row {i}</li>\n" for i in range(60))
    component = f"export function List() {{\n  return (\n    <ul>\n{rows}    </ul>\n  );\n}}\n"
    assert run_rule("global-coding-style", "long-function", "src/List.jsx", component) == []
    tests = "".join(f"  it('case {i} holds', () => expect({i}).toBe({i}));\n" for i in range(60))
    suite = f"describe('cases', () => {{\n{tests}}});\n"
    assert run_rule("global-coding-style", "long-function", "src/cases.test.ts", suite) == []


def test_console_log_is_allowed_in_tests() -> None:
    code = "it('logs the order id', () => {\n  console.log(order.id);\n  expect(order.id).toBe(1);\n});\n"
    assert run_rule("global-conventions", "console-log", "src/order.test.ts", code) == []


def test_pascal_case_components_are_not_function_name_findings() -> None:
    code = "export const Card = ({ title }) => <h2>{title}</h2>;\nfunction Row() {\n  return <tr />;\n}\n"
    assert run_rule("global-conventions", "naming", "src/Card.jsx", code) == []


def test_sql_built_in_a_local_variable_by_concatenation_is_reported_at_the_call() -> None:
    code = (
        "async function remove(id) {\n  const sql = 'DELETE FROM tasks WHERE id = ' + id;\n"
        "  return knex.raw(sql);\n}\n"
    )
    found = run_rule("backend-queries", "sql-string-building", "server/tasks.js", code)
    assert [(f.line, f.rule) for f in found] == [(3, "sql-string-building")]
    assert "concatenation" in found[0].message and "raw()" in found[0].message


def test_a_string_template_without_sql_is_not_a_query_finding() -> None:
    code = "const label = await search.query(`tasks of ${user.name}`);\n"
    assert run_rule("backend-queries", "sql-string-building", "src/search.ts", code) == []


def test_koa_and_fetch_request_bodies_need_validation_too() -> None:
    koa = "router.post('/x', async (ctx) => {\n  await save(ctx.request.body);\n});\n"
    found = run_rule("global-validation", "unvalidated-body", "server/koa.js", koa)
    assert [(f.line, f.rule) for f in found] == [(2, "unvalidated-body")]
    route = "export async function POST(request: Request) {\n  const body = await request.json();\n  return save(body);\n}\n"
    found = run_rule("global-validation", "unvalidated-body", "app/api/route.ts", route)
    assert [f.line for f in found] == [2]
    assert "POST()" in found[0].message


def test_focus_and_skip_are_found_on_every_test_function() -> None:
    code = (
        "fdescribe('a suite of cases', () => {\n  test.only('first case holds', () => expect(1).toBe(1));\n"
        "  describe.skip('more cases', () => {});\n  xtest('second case holds', () => expect(2).toBe(2));\n});\n"
    )
    focused = run_rule("testing-test-writing", "focused-test", "src/a.test.ts", code)
    assert [f.line for f in focused] == [1, 2]
    skipped = run_rule("testing-test-writing", "skipped-test", "src/a.test.ts", code)
    assert [f.line for f in skipped] == [3, 4]


def test_test_rules_ignore_files_that_are_not_tests() -> None:
    code = "it('works', () => {\n  run();\n});\n"
    assert run_rule("testing-unit-tests", "no-assertion", "src/it.ts", code) == []
    assert run_rule("testing-test-writing", "vague-test-name", "src/it.ts", code) == []


@pytest.mark.parametrize(
    "assertion",
    [
        "assert.equal(total, 3)",
        "await request(app).get('/').expect(200)",
        "total.should.equal(3)",
        "t.is(total, 3)",
        "cy.get('.total').should('have.text', '3')",
    ],
)
def test_other_assertion_styles_count_as_assertions(assertion: str) -> None:
    code = f"test('the total is three', async (t) => {{\n  const total = 3;\n  {assertion};\n}});\n"
    assert run_rule("testing-unit-tests", "no-assertion", "src/total.test.js", code) == []


@pytest.mark.parametrize("name", ["", "test 1", "should work", "renders"])
def test_empty_and_generic_test_names_are_reported(name: str) -> None:
    code = f"it({name!r}, () => {{\n  expect(1).toBe(1);\n}});\n"
    found = run_rule("testing-test-writing", "vague-test-name", "src/a.test.ts", code)
    assert [(f.line, f.severity) for f in found] == [(1, Severity.WARNING)]


def test_a_query_per_item_of_a_map_callback_is_a_query_in_a_loop() -> None:
    code = "const rows = await Promise.all(\n  ids.map((id) => db.query('SELECT id FROM t WHERE id = $1', [id])),\n);\n"
    found = run_rule("backend-queries", "query-in-loop", "server/repo.js", code)
    assert [(f.line, f.rule) for f in found] == [(2, "query-in-loop")]
    assert "line 2" in found[0].message


def test_reading_the_body_of_a_request_object_outside_a_handler_is_not_validation_work() -> None:
    code = "function describeRequest(request) {\n  return typeof request.body;\n}\n"
    assert run_rule("global-validation", "unvalidated-body", "src/http.js", code) == []


def test_an_in_memory_query_method_in_a_loop_is_not_a_database_query() -> None:
    code = "for (const name of names) {\n  edges.push(inventory.query('name', name));\n}\n"
    assert run_rule("backend-queries", "query-in-loop", "src/tree.js", code) == []


def test_a_value_named_expected_is_not_an_assertion() -> None:
    code = "it('doubles the total', () => {\n  const expected = 6;\n  double(3);\n});\n"
    found = run_rule("testing-unit-tests", "no-assertion", "src/total.test.ts", code)
    assert [f.line for f in found] == [1]
