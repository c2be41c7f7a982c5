"""OfflineGenerator per task: the task's own files from the composed project, or a
FailedPrecondition that says why the offline generator cannot do the task."""

from __future__ import annotations

import pytest

from devmatrix.runtime.errors import FailedPrecondition
from services.codegen.domain import STRUCTURED_KINDS, GenerationRequest, SpecDesign, TaskInfo
from services.codegen.offline import ComposedProject, OfflineGenerator, design_from_parsed
from services.orchestrator.domain import PlannedTask, TaskType
from services.orchestrator.planner import build_plan
from services.orchestrator.spec_parser import parse_markdown
from tests.codegen.support import parsed, spec_design

TASK_API = spec_design("task_api.md")
PLAN = [t for t in build_plan(parsed("task_api.md")).tasks if t.type == TaskType.TASK]
BLOG_PLAN = [t for t in build_plan(parsed("blog_ui.md")).tasks if t.type == TaskType.TASK]
# Implementable kinds: the structured ones, DOCS, and GENERIC tasks whose outputs are project
# files (the analysis documents, the error modules): every GENERIC task of task_api.md.
DONE_OFFLINE = STRUCTURED_KINDS | {"DOCS", "GENERIC"}
# A spec of features only: the planner gives each requirement a GENERIC task writing a module
# (app/features/fr_n.py) that no composition has.
NOTES = parse_markdown(
    "# Notes\n\n## Features\n\n- Notes can be exported as a PDF.\n- Reminders are e-mailed a day ahead.\n"
)
NOTES_PLAN = [t for t in build_plan(NOTES).tasks if t.type == TaskType.TASK]


def info(task: PlannedTask) -> TaskInfo:
    return TaskInfo(
        id=task.key,
        key=task.key,
        kind=task.kind.value,
        name=task.name,
        description=task.description,
        acceptance_criteria=tuple(task.acceptance_criteria),
        expected_output=task.expected_output,
    )


async def generate(task: TaskInfo, spec: SpecDesign = TASK_API) -> tuple[str, ...]:
    generation = await OfflineGenerator().generate(GenerationRequest(task=task, spec=spec))
    return tuple(f.path for f in generation.files)


@pytest.mark.parametrize("task", [t for t in PLAN if t.kind.value in DONE_OFFLINE], ids=lambda t: t.key)
async def test_structured_task_returns_its_files_from_the_project(
    task: PlannedTask, task_api: ComposedProject
) -> None:
    generation = await OfflineGenerator().generate(GenerationRequest(task=info(task), spec=TASK_API))
    project = task_api.by_path()

    assert generation.files
    for f in generation.files:
        assert f.path in project, f.path
        assert f.content == project[f.path].content, f.path
    assert generation.generator == "offline"
    assert generation.temperature == 0.0
    assert generation.usage.input_tokens == generation.usage.output_tokens == 0
    assert generation.patterns_used == tuple(
        sorted({p for f in generation.files for p in project[f.path].patterns})
    )


async def test_tasks_get_the_files_their_expected_output_names(task_api: ComposedProject) -> None:
    for task in (t for t in PLAN if t.kind.value in DONE_OFFLINE):
        paths = await generate(info(task))
        named = [p.strip() for p in task.expected_output.split(",")]
        present = [p for p in named if p in task_api.by_path()]
        assert set(present) <= set(paths), task.key


async def test_model_task_returns_the_entity_model_with_its_patterns() -> None:
    task = next(t for t in PLAN if t.key == "P3.models.task")

    generation = await OfflineGenerator().generate(GenerationRequest(task=info(task), spec=TASK_API))

    assert [f.path for f in generation.files] == ["app/models/task.py"]
    assert "owned-resource-model" in generation.patterns_used
    assert "class Task(IntegerPrimaryKeyMixin, TimestampMixin, Base):" in generation.files[0].content


async def test_generic_error_handling_task_gets_the_golden_error_modules() -> None:
    task = next(t for t in PLAN if t.key == "P3.setup.errors")

    assert await generate(info(task)) == ("app/core/exceptions.py", "app/errors.py")


@pytest.mark.parametrize("name", ["task_api.md", "blog_ui.md"])
async def test_analysis_tasks_get_exactly_their_document(name: str) -> None:
    spec = spec_design(name)
    plan = {t.key: t for t in build_plan(parsed(name)).tasks}

    assert await generate(info(plan["P1.analysis.requirements"]), spec) == ("docs/requirements.md",)
    assert await generate(info(plan["P1.analysis.constraints"]), spec) == ("docs/constraints.md",)


@pytest.mark.parametrize(
    "task",
    [t for t in BLOG_PLAN if t.kind.value == "UI"]
    + [t for t in NOTES_PLAN if t.key.startswith("P3.features.")],
    ids=lambda t: t.key,
)
async def test_ui_tasks_and_generic_tasks_writing_other_code_need_the_anthropic_generator(
    task: PlannedTask,
) -> None:
    spec = spec_design("blog_ui.md") if task in BLOG_PLAN else design_from_parsed(NOTES, spec_id="notes")

    with pytest.raises(FailedPrecondition, match="ANTHROPIC_API_KEY"):
        await generate(info(task), spec)


def test_the_refused_tasks_cover_both_kinds() -> None:
    assert sum(t.kind.value == "UI" for t in BLOG_PLAN) >= 4
    assert [t.kind.value for t in NOTES_PLAN if t.key.startswith("P3.features.")] == ["GENERIC", "GENERIC"]


async def test_model_task_without_entities_is_refused() -> None:
    task = info(next(t for t in PLAN if t.key == "P3.models.project"))
    bare = SpecDesign(spec_id="bare", title="Bare", tech_stack={"Framework": "FastAPI"})

    with pytest.raises(FailedPrecondition, match=r"P3\.models\.project.*no entities"):
        await generate(task, bare)


async def test_task_naming_an_unknown_entity_is_refused() -> None:
    task = TaskInfo(
        id="t",
        key="P3.models.invoice",
        kind="MODEL",
        name="Invoice model",
        expected_output="app/models/invoice.py",
    )

    with pytest.raises(FailedPrecondition, match=r"'invoice'.*Project, Task, Comment, Tag"):
        await generate(task)


async def test_unknown_kind_is_refused() -> None:
    task = TaskInfo(id="t", key="P9.x", kind="RESEARCH", name="Investigate", expected_output="notes.md")

    with pytest.raises(FailedPrecondition, match="RESEARCH"):
        await generate(task)


async def test_same_request_gives_the_same_bytes() -> None:
    task = info(next(t for t in PLAN if t.key == "P4.tests.api-task"))
    request = GenerationRequest(task=task, spec=TASK_API)

    first = await OfflineGenerator().generate(request)
    second = await OfflineGenerator().generate(request)

    assert first == second
