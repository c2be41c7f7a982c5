"""The tree-sitter checks of TypeScript, JavaScript, CSS and HTML: parsing (grammar per
suffix, syntax errors as findings, tolerated grammar gaps, one parse per file), a realistic
clean project without findings, the speed on a few hundred lines of TSX, and the shared
helpers of the per-rule tests in test_checks_web_script.py and test_checks_web_markup.py."""

from __future__ import annotations

import time
from dataclasses import dataclass
from textwrap import dedent

import pytest

import services.skills.checks  # noqa: F401  (registers every check)
from services.skills.checks.base import (
    REGISTRY,
    Check,
    Finding,
    ParseFailed,
    Severity,
    SourceFile,
    language_of,
    run_check,
    score_skill,
)
from services.skills.checks.web import trees

WEB_LANGUAGES = {"typescript", "javascript", "css", "html"}


@dataclass(frozen=True)
class Case:
    """A failing and a passing sample of one rule; `line` is where the finding must be."""

    skill: str
    rule: str
    path: str
    bad: str
    line: int
    good: str
    severity: Severity = Severity.ERROR


def source_of(path: str, code: str) -> SourceFile:
    return SourceFile(path, dedent(code).lstrip("\n"), language_of(path))


def web_checks() -> list[Check]:
    return [c for c in REGISTRY if c.function.__module__.startswith("services.skills.checks.web.")]


def run_rule(skill: str, rule: str, path: str, code: str) -> list[Finding]:
    """The findings of one rule on one file (syntax-error findings included)."""
    source = source_of(path, code)
    checks = [c for c in web_checks() if (c.skill, c.rule) == (skill, rule) and c.applies_to(source)]
    assert checks, f"no {skill}/{rule} check applies to {path}"
    return [f for c in checks for f in run_check(c, source)]


def assert_case(case: Case) -> None:
    found = run_rule(case.skill, case.rule, case.path, case.bad)
    assert [(f.skill, f.rule, f.line, f.severity) for f in found] == [
        (case.skill, case.rule, case.line, case.severity)
    ], found
    assert found[0].path == case.path
    assert found[0].message
    assert run_rule(case.skill, case.rule, case.path, case.good) == []


def case_id(case: Case) -> str:
    return f"{case.rule}:{case.path.rsplit('.', 1)[-1]}"


def all_findings(sources: list[SourceFile]) -> list[Finding]:
    return [
        f for c in web_checks() if not c.project for s in sources if c.applies_to(s) for f in run_check(c, s)
    ]


# --- parsing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "grammar"),
    [
        ("src/a.ts", "typescript"),
        ("src/A.tsx", "tsx"),
        ("src/a.js", "javascript"),
        ("src/A.jsx", "javascript"),
        ("src/a.mjs", "javascript"),
        ("src/a.css", "css"),
        ("public/index.html", "html"),
    ],
)
def test_each_suffix_parses_with_its_grammar(path: str, grammar: str) -> None:
    assert trees.grammar_of(source_of(path, "")) == grammar


def test_jsx_parses_in_tsx_and_jsx_but_is_a_syntax_error_in_plain_ts() -> None:
    code = "export const Title = () => <h1>Tasks</h1>;\n"
    assert trees.parse(source_of("src/Title.tsx", code)).find("jsx_element")
    assert trees.parse(source_of("src/Title.jsx", code)).find("jsx_element")
    with pytest.raises(ParseFailed):
        trees.parse(source_of("src/title.ts", code))


@pytest.mark.parametrize(
    ("path", "code", "line"),
    [
        ("src/orders.ts", "const total = 1;\nfunction sum(a: number {\n  return a;\n}\n", 2),
        ("src/orders.js", "const a = 1;\nconst b = (a + ;\n", 2),
        ("src/Page.tsx", "export function Page() {\n  return <div><span></div>;\n}\n", 2),
        ("src/site.css", ".a { color: red; }\n.b { color: blue; }\n.c {{ }\n", 3),
        ("src/site.css", ".a { color: red; }\n.b { color: }\n", 2),
        ("public/index.html", "<main>\n<p>a</p>\n<div <p>b</p>\n</main>\n", 3),
        ("public/index.html", '<main>\n<p class="x>text</p>\n</main>\n', 1),
        ("public/index.html", "<html>\n<head><style>\n.a { }}\n</style></head></html>\n", 3),
    ],
)
def test_a_syntax_error_is_one_syntax_error_finding_per_skill_and_never_a_crash(
    path: str, code: str, line: int
) -> None:
    source = source_of(path, code)
    skills = sorted({c.skill for c in web_checks() if c.applies_to(source)})
    results = [score_skill(skill, 0.8, [source]) for skill in skills]
    syntax = [f for r in results for f in r.findings if f.rule == "syntax-error"]
    assert syntax, "a file that does not parse must be reported"
    assert all(f.line == line and f.message.startswith("does not parse") for f in syntax)
    for result in results:
        assert [f.rule for f in result.findings if f.path == path].count("syntax-error") <= 1
    assert any(r.score < 1.0 for r in results)


def test_the_syntax_error_names_the_unexpected_or_missing_token() -> None:
    with pytest.raises(ParseFailed) as missing:
        trees.parse(source_of("src/a.ts", "call(1, 2;\n"))
    assert missing.value.line == 1
    assert "missing" in missing.value.message or "unexpected" in missing.value.message


@pytest.mark.parametrize(
    ("path", "code"),
    [
        # Modern CSS the grammar lacks, in at-rule preludes only: the blocks still parse.
        ("src/a.css", "@container card (min-width: 30rem) {\n  .title { font-size: 1.5rem; }\n}\n"),
        ("src/a.css", "@media (width >= 40rem) {\n  .grid { display: grid; }\n}\n"),
        ("src/a.css", '@import url("base.css") layer(base);\n.a { color: red;; }\n'),
        # HTML lets an element stay open at the end of the file.
        ("public/list.html", "<ul>\n  <li>One\n  <li>Two\n</ul>\n<p>Last paragraph\n"),
    ],
)
def test_grammar_gaps_in_valid_code_are_not_syntax_errors(path: str, code: str) -> None:
    assert trees.parse(source_of(path, code)) is not None
    assert [f for f in all_findings([source_of(path, code)]) if f.rule == "syntax-error"] == []


def test_a_file_is_parsed_once_whatever_the_number_of_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real_parse = trees._parse

    def counting(grammar: str, content: bytes, ranges: object = None) -> object:
        calls.append(grammar)
        return real_parse(grammar, content, ranges)  # type: ignore[arg-type]

    monkeypatch.setattr(trees, "_parse", counting)
    source = source_of("src/Board.tsx", BOARD_TSX)
    assert sum(1 for c in web_checks() if c.applies_to(source)) > 20
    all_findings([source])
    assert calls == ["tsx"]


def test_the_style_elements_of_a_page_are_checked_as_css_at_their_own_lines() -> None:
    page = '<html lang="en">\n<head>\n<meta name="viewport" content="width=device-width">\n<style>\n.a { font-size: 12px; }\n</style>\n</head>\n</html>\n'
    found = run_rule("frontend-responsive", "px-font-size", "public/index.html", page)
    assert [(f.rule, f.line) for f in found] == [("px-font-size", 5)]


# --- a realistic clean project -----------------------------------------------------------------

BOARD_TSX = """
import { useEffect, useState, type FormEvent } from "react";

import { createTask, fetchTasks, type Task } from "../api/tasks";
import { logger } from "../logger";
import styles from "./Board.module.css";

/** Props of the board: the project whose tasks it lists. */
export interface BoardProps {
  projectId: string;
  onSelect: (task: Task) => void;
}

/** One task: its title as a button that selects it, and its status. */
function TaskRow({ task, onSelect }: { task: Task; onSelect: (task: Task) => void }) {
  return (
    <li className={styles.row}>
      <button type="button" onClick={() => onSelect(task)}>
        {task.title}
      </button>
      <span className={styles.status}>{task.status}</span>
    </li>
  );
}

/** The form that adds a task; shows why saving failed. */
function NewTaskForm({ onCreate }: { onCreate: (title: string) => Promise<void> }) {
  const [title, setTitle] = useState("");
  const [error, setError] = useState<string | null>(null);

  async function handleSubmit(event: FormEvent<HTMLFormElement>): Promise<void> {
    event.preventDefault();
    try {
      await onCreate(title.trim());
      setTitle("");
    } catch (failure) {
      logger.warn({ failure }, "creating a task failed");
      setError("The task could not be saved.");
    }
  }

  return (
    <form onSubmit={handleSubmit}>
      <label htmlFor="task-title">Title</label>
      <input id="task-title" value={title} onChange={(event) => setTitle(event.target.value)} />
      <label>
        Priority
        <select name="priority" defaultValue="normal">
          <option value="normal">Normal</option>
          <option value="high">High</option>
        </select>
      </label>
      <button type="submit">Add task</button>
      <button type="button" aria-label="Clear the title" onClick={() => setTitle("")}>
        <svg aria-hidden="true" viewBox="0 0 10 10" />
      </button>
      {error && <p role="alert">{error}</p>}
    </form>
  );
}

/** The tasks of a project, with loading, empty and error states. */
export function Board({ projectId, onSelect }: BoardProps) {
  const [tasks, setTasks] = useState<Task[]>([]);
  const [state, setState] = useState<"loading" | "ready" | "failed">("loading");

  useEffect(() => {
    fetchTasks(projectId)
      .then((loaded) => {
        setTasks(loaded);
        setState("ready");
      })
      .catch((failure: unknown) => {
        logger.error({ failure, projectId }, "loading tasks failed");
        setState("failed");
      });
  }, [projectId]);

  async function handleCreate(title: string): Promise<void> {
    const created = await createTask(projectId, title);
    setTasks((current) => [...current, created]);
  }

  if (state === "loading") {
    return <p aria-busy="true">Loading tasks</p>;
  }
  if (state === "failed") {
    return <p role="alert">The tasks could not be loaded.</p>;
  }
  return (
    <main className={styles.board}>
      <h1>Tasks</h1>
      <img src="/board.svg" alt="" />
      {tasks.length === 0 ? (
        <p>No tasks yet.</p>
      ) : (
        <ul>
          {tasks.map((task) => (
            <TaskRow key={task.id} task={task} onSelect={onSelect} />
          ))}
        </ul>
      )}
      <NewTaskForm onCreate={handleCreate} />
    </main>
  );
}
"""

BOARD_CSS = """
/* Mobile first: one column, two from 48rem up. */
:root {
  --color-text: #1f2933;
  --color-accent: rgb(0 102 204);
  --space: 1rem;
}

.board {
  display: grid;
  gap: var(--space);
  max-width: 60rem;
  margin: 0 auto;
  color: var(--color-text);
  font-size: 1rem;
}

.row {
  display: flex;
  min-height: 44px;
  justify-content: space-between;
}

.row:focus-within {
  outline: 2px solid var(--color-accent);
}

.status {
  font-size: 0.875rem;
}

@media (min-width: 48rem) {
  .board {
    grid-template-columns: 2fr 1fr;
    width: 720px;
  }
}
"""

INDEX_HTML = """
<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Tasks</title>
    <style>
      body { margin: 0; font-family: system-ui, sans-serif; }
    </style>
  </head>
  <body>
    <header>
      <h1>Tasks</h1>
      <nav aria-label="Main"><a href="/">Board</a> <a href="/settings">Settings</a></nav>
    </header>
    <main id="app">
      <h2>Search</h2>
      <form action="/search">
        <label for="q">Search tasks</label>
        <input id="q" name="q" type="search">
        <button type="submit">Search</button>
      </form>
    </main>
    <script type="module" src="/src/main.tsx"></script>
  </body>
</html>
"""

ROUTES_TS = """
import { Router, type Request, type Response } from "express";
import { z } from "zod";

import { pool } from "./db";

const NewTask = z.object({ title: z.string().min(1).max(200) }).strict();

/** The task routes: list the tasks of a project, create a task. */
export function taskRoutes(): Router {
  const router = Router();
  router.get("/projects/:projectId/tasks", async (req: Request, res: Response) => {
    const result = await pool.query("SELECT id, title FROM tasks WHERE project_id = $1 LIMIT 100", [
      req.params.projectId,
    ]);
    res.json(result.rows);
  });
  router.post("/tasks", async (req: Request, res: Response) => {
    const parsed = NewTask.safeParse(req.body);
    if (!parsed.success) {
      res.status(422).json({ errors: parsed.error.issues });
      return;
    }
    const result = await pool.query("INSERT INTO tasks (title) VALUES ($1) RETURNING id", [parsed.data.title]);
    res.status(201).json(result.rows[0]);
  });
  return router;
}
"""

BOARD_TEST_TSX = """
import { render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";

import { Board } from "../src/components/Board";

describe("Board", () => {
  it("lists the tasks of the project", async () => {
    render(<Board projectId="p1" onSelect={vi.fn()} />);
    expect(await screen.findByText("Write the spec")).toBeInTheDocument();
  });

  it("shows an alert when loading fails", async () => {
    render(<Board projectId="broken" onSelect={vi.fn()} />);
    expect(await screen.findByRole("alert")).toHaveTextContent("could not be loaded");
  });
});
"""

CLEAN_PROJECT = {
    "src/components/Board.tsx": BOARD_TSX,
    "src/components/Board.module.css": BOARD_CSS,
    "public/index.html": INDEX_HTML,
    "server/routes.ts": ROUTES_TS,
    "tests/Board.test.tsx": BOARD_TEST_TSX,
}


def test_a_clean_react_page_stylesheet_server_and_test_have_no_findings() -> None:
    sources = [source_of(path, code) for path, code in CLEAN_PROJECT.items()]
    assert all_findings(sources) == []
    skills = sorted({c.skill for c in web_checks()})
    assert all(score_skill(skill, 0.8, sources).score == 1.0 for skill in skills)


def test_a_few_hundred_lines_of_tsx_check_in_milliseconds() -> None:
    code = dedent(BOARD_TSX) * 3
    assert len(code.splitlines()) > 300
    all_findings([source_of("src/Warmup.tsx", code)])  # compiles the grammars' queries once
    started = time.perf_counter()
    all_findings([source_of("src/Big.tsx", code)])
    assert time.perf_counter() - started < 0.25


def test_every_web_rule_has_a_failing_and_a_passing_sample() -> None:
    from tests.skills.test_checks_web_markup import MARKUP_CASES
    from tests.skills.test_checks_web_script import SCRIPT_CASES

    covered = {(c.skill, c.rule) for c in [*SCRIPT_CASES, *MARKUP_CASES]}
    registered = {(c.skill, c.rule) for c in web_checks()}
    assert registered <= covered
    assert all(c.languages <= WEB_LANGUAGES for c in web_checks())
