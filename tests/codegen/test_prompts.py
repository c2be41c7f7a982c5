"""The Anthropic generator's prompt: stable cached system blocks, a per-attempt user message."""

from __future__ import annotations

from dataclasses import replace

from services.codegen import prompts
from services.codegen.domain import (
    Endpoint,
    Entity,
    EntityField,
    Feedback,
    GenerationRequest,
    PatternRef,
    SkillGuide,
    SpecDesign,
    TaskInfo,
)


def make_request(**changes: object) -> GenerationRequest:
    spec = SpecDesign(
        spec_id="spec-1",
        title="Todo API",
        overview="A small todo service.",
        tech_stack={"language": "python", "framework": "fastapi", "database": "postgresql"},
        entities=(
            Entity(
                "Todo",
                (EntityField("id", "uuid", "primary key"), EntityField("title", "str", "max 200")),
                "A thing to do",
            ),
        ),
        endpoints=(Endpoint("post", "/todos", "create a todo", "Todo"), Endpoint("GET", "/todos/{id}")),
        constraints=("no global state",),
        functional_requirements=("Todos can be marked done.", "Done todos are listed last."),
    )
    task = TaskInfo(
        id="t-1",
        key="TASK-3.1",
        kind="MODEL",
        name="Todo model",
        description="The Todo SQLAlchemy model.",
        acceptance_criteria=("title is required", "id is a uuid"),
        expected_output="app/models/todo.py",
    )
    request = GenerationRequest(
        task=task,
        spec=spec,
        context="Existing: app/db.py defines Base.",
        patterns=(
            PatternRef(
                "sqlalchemy-model", "MODEL", "class Model(Base):\n    ```odd```\n", 0.91, id="pattern-1"
            ),
        ),
        skills=(SkillGuide("backend-models", ("Use type hints", "Name tables in plural")),),
    )
    return replace(request, **changes)  # type: ignore[arg-type]


def test_system_blocks_are_all_marked_for_caching_in_stability_order() -> None:
    blocks = prompts.system_blocks(make_request())
    assert [b["type"] for b in blocks] == ["text"] * 4
    assert all(b["cache_control"] == {"type": "ephemeral"} for b in blocks)
    assert blocks[0]["text"] == prompts.ROLE_AND_RULES
    assert blocks[1]["text"].startswith("# Spec design: Todo API")
    assert blocks[2]["text"].startswith("# Skills")
    assert blocks[3]["text"].startswith("# Similar patterns")


def test_spec_design_renders_entities_endpoints_and_sorted_stack() -> None:
    text = prompts.render_spec_design(make_request().spec)
    assert "- id: uuid (primary key)" in text
    assert "### Todo: A thing to do" in text
    assert "- POST /todos [Todo]: create a todo" in text
    assert "- GET /todos/{id}" in text
    assert (
        text.index("database: postgresql") < text.index("framework: fastapi") < text.index("language: python")
    )
    # Numbered as the planner's acceptance criteria cite them.
    assert "## Functional requirements\n- FR-1: Todos can be marked done.\n- FR-2: Done todos" in text
    assert "- CON-1: no global state" in text


def test_stable_part_does_not_change_across_attempts_or_map_order() -> None:
    first = make_request()
    reordered = replace(
        first,
        spec=replace(first.spec, tech_stack=dict(reversed(list(first.spec.tech_stack.items())))),
        attempt=3,
        feedback=(Feedback("backend-models", "type-hints", "app/models/todo.py", 4, "missing hint"),),
        previous_error="SyntaxError",
    )
    assert prompts.system_blocks(first) == prompts.system_blocks(reordered)


def test_empty_sections_are_left_out() -> None:
    blocks = prompts.system_blocks(make_request(skills=(), patterns=()))
    assert len(blocks) == 2
    assert prompts.render_skills([SkillGuide("x", ())]) == ""
    assert prompts.render_patterns([PatternRef("p", "c", "")]) == ""


def test_pattern_code_is_fenced_beyond_its_own_backticks() -> None:
    text = prompts.render_patterns(make_request().patterns)
    assert "## sqlalchemy-model (MODEL, similarity 0.91)" in text
    assert "\n````\n" in text or text.rstrip().endswith("````")


def test_user_message_holds_the_task_and_no_feedback_on_attempt_one() -> None:
    text = prompts.user_message(make_request(feedback=(Feedback("s", "r", "a.py", 1, "old"),)))
    assert text.startswith("# Task TASK-3.1 (MODEL): Todo model")
    assert "- title is required" in text
    assert "## Expected output\napp/models/todo.py" in text
    assert "## Context\nExisting: app/db.py defines Base." in text
    assert "Derive the code from the spec design" in text
    assert "Attempt" not in text and "old" not in text


def test_user_message_on_attempt_two_lists_the_findings_and_error_to_fix() -> None:
    feedback = (
        Feedback("backend-models", "type-hints", "app/models/todo.py", 4, "function lacks a return type"),
        Feedback("global-validation", "", "app/models/todo.py", 0, "title is not length-checked"),
    )
    text = prompts.user_message(make_request(attempt=2, feedback=feedback, previous_error="ruff: F401"))
    assert "## Attempt 2: the previous attempt was rejected" in text
    assert "- [backend-models/type-hints] app/models/todo.py:4: function lacks a return type" in text
    assert "- [global-validation] app/models/todo.py: title is not length-checked" in text
    assert "- error: ruff: F401" in text


def test_direct_kinds_get_the_direct_instruction() -> None:
    request = make_request()
    text = prompts.user_message(replace(request, task=replace(request.task, kind="REFACTOR")))
    assert "Implement the task directly" in text


def test_tool_is_forced_and_its_schema_requires_files() -> None:
    assert prompts.TOOL_CHOICE["type"] == "tool" and prompts.TOOL_CHOICE["name"] == "write_files"
    schema = prompts.WRITE_FILES_TOOL["input_schema"]
    assert schema["required"] == ["files"]
    assert schema["properties"]["files"]["items"]["required"] == ["path", "content"]
    assert prompts.messages(make_request())[0]["role"] == "user"
