"""GenerateCode over real gRPC with the whole mesh (orchestrator and skills on a real
PostgreSQL, patterns with real embeddings, context), for the offline generator and for the
Anthropic generator against the local Messages-API server."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
import pytest_asyncio

from devmatrix.cli.mesh import start_mesh
from devmatrix.runtime.channels import open_channel
from devmatrix.runtime.config import DEFAULT_ANTHROPIC_MODEL, Settings
from devmatrix.runtime.server import RunningServer, start_server
from devmatrix.v1 import codegen_pb2 as pb
from devmatrix.v1 import (
    codegen_pb2_grpc,
    common_pb2,
    orchestrator_pb2,
    orchestrator_pb2_grpc,
    patterns_pb2,
    patterns_pb2_grpc,
)
from services.codegen.app import build as build_codegen
from services.codegen.domain import TaskInfo
from services.codegen.sources import Sources
from tests.fixtures.anthropic_server import API_KEY, AnthropicServer, text_answer, tool_answer

ROOT = Path(__file__).resolve().parents[2]
TASK_API = ROOT / "examples" / "specs" / "task_api.md"
BLOG_UI = ROOT / "examples" / "specs" / "blog_ui.md"
SMALL_PLAN = ROOT / "examples" / "plans" / "small_plan.json"

CLEAN_MODULE = '''"""Due-date rules of tasks."""

from datetime import date


def is_overdue(due: date | None, today: date) -> bool:
    """Whether a task with due date `due` is overdue on `today`; no due date never is."""
    return due is not None and due < today
'''
CLEAN_TEST = '''"""Tests of the due-date rules."""

from datetime import date

from app.features.fr_1 import is_overdue


def test_a_past_due_date_is_overdue() -> None:
    assert is_overdue(date(2020, 1, 1), date(2020, 1, 2))


def test_no_due_date_is_never_overdue() -> None:
    assert not is_overdue(None, date(2020, 1, 2))
'''
SWALLOWING_MODULE = '''"""Due-date rules of tasks."""


def is_overdue(due, today):
    """Whether the task is overdue."""
    try:
        return due < today
    except:
        pass
'''


@dataclasses.dataclass
class Mesh:
    settings: Settings
    servers: list[RunningServer]
    orchestrator: orchestrator_pb2_grpc.OrchestratorServiceStub
    codegen: codegen_pb2_grpc.CodegenServiceStub
    tasks: dict[str, common_pb2.Task]


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def mesh(tmp_path_factory: pytest.TempPathFactory, module_database_url: str) -> AsyncIterator[Mesh]:
    base = Settings(
        data_dir=tmp_path_factory.mktemp("codegen"),
        bind_host="127.0.0.1",
        database_url=module_database_url,
        db_pool_size=4,
    )
    servers = await start_mesh(base, ephemeral=True)
    addrs = {s.app.name: s.address for s in servers}
    settings = dataclasses.replace(base, addrs=addrs)
    channels = [open_channel(addrs[n], 60.0) for n in ("orchestrator", "codegen")]
    try:
        orchestrator = orchestrator_pb2_grpc.OrchestratorServiceStub(channels[0])
        created = await orchestrator.CreateSpec(
            orchestrator_pb2.CreateSpecRequest(markdown=TASK_API.read_text(encoding="utf-8"))
        )
        tree = await orchestrator.GetTaskTree(
            orchestrator_pb2.GetTaskTreeRequest(spec_id=created.spec.id, page_size=2000)
        )
        tasks = {t.key: t for t in tree.tasks}
        yield Mesh(settings, servers, orchestrator, codegen_pb2_grpc.CodegenServiceStub(channels[1]), tasks)
    finally:
        for channel in channels:
            await channel.close()
        for server in reversed(servers):
            await server.stop(0)


@contextlib.asynccontextmanager
async def anthropic_codegen(
    mesh: Mesh, server: AnthropicServer, **overrides: object
) -> AsyncIterator[codegen_pb2_grpc.CodegenServiceStub]:
    """A second codegen server of the same mesh, with the Anthropic generator configured."""
    settings = dataclasses.replace(
        mesh.settings,
        anthropic_api_key=API_KEY,
        anthropic_base_url=server.base_url,
        llm_timeout_seconds=5.0,
        llm_max_retries=1,
        **overrides,
    )
    running = await start_server(build_codegen, settings, "codegen", port=0, metrics_port=0)
    channel = open_channel(running.address, 60.0)
    try:
        yield codegen_pb2_grpc.CodegenServiceStub(channel)
    finally:
        await channel.close()
        await running.stop(0)


def generate(task: common_pb2.Task, **fields: object) -> pb.GenerateCodeRequest:
    return pb.GenerateCodeRequest(task_id=task.id, **fields)  # type: ignore[arg-type]


# --- offline: the structured path ------------------------------------------------------------


async def test_a_model_task_gets_its_model_validated_by_its_skills(mesh: Mesh) -> None:
    task = mesh.tasks["P3.models.project"]
    got = await mesh.codegen.GenerateCode(generate(task))
    assert got.task_id == task.id
    assert got.generator == "offline" and got.temperature == 0.0 and got.attempt == 1
    paths = [f.path for f in got.files]
    assert "app/models/project.py" in paths
    model = next(f.content for f in got.files if f.path == "app/models/project.py")
    assert "String(100)" in model and "unique=True" in model  # name: max 100 chars, unique
    assert "backend-models" in got.skills_applied
    assert {v.skill for v in got.validations} >= {"backend-models"}
    assert got.passed and all(v.passed for v in got.validations)
    assert got.overall_score >= 0.9 and 0 < got.confidence <= 1
    assert got.patterns_used


async def test_each_structured_kind_of_the_plan_generates_passing_code(mesh: Mesh) -> None:
    structured = {"MODEL", "MIGRATION", "CRUD", "API", "TEST", "CONFIG", "DEPLOY"}
    seen: set[str] = set()
    for task in mesh.tasks.values():
        kind = common_pb2.TaskKind.Name(task.kind).removeprefix("TASK_KIND_")
        if task.type != common_pb2.TASK_TYPE_TASK or kind not in structured or kind in seen:
            continue
        seen.add(kind)
        got = await mesh.codegen.GenerateCode(generate(task))
        assert got.files, task.key
        failing = [(v.skill, [f.rule for f in v.findings]) for v in got.validations if not v.passed]
        assert got.passed, (task.key, failing)
    assert seen == structured


async def plan(mesh: Mesh, markdown: str) -> dict[str, common_pb2.Task]:
    """key -> task of a newly created spec: a spec no earlier generation has seen."""
    created = await mesh.orchestrator.CreateSpec(orchestrator_pb2.CreateSpecRequest(markdown=markdown))
    tree = await mesh.orchestrator.GetTaskTree(
        orchestrator_pb2.GetTaskTreeRequest(spec_id=created.spec.id, page_size=2000)
    )
    return {t.key: t for t in tree.tasks}


async def test_the_analysis_tasks_write_their_documents_without_an_llm(mesh: Mesh) -> None:
    requirements = await mesh.codegen.GenerateCode(generate(mesh.tasks["P1.analysis.requirements"]))
    constraints = await mesh.codegen.GenerateCode(generate(mesh.tasks["P1.analysis.constraints"]))

    assert requirements.generator == constraints.generator == "offline"
    assert requirements.passed and constraints.passed
    (doc,) = requirements.files
    assert doc.path == "docs/requirements.md" and doc.language == "markdown"
    # The functional requirements come from GetSpec's classified requirements (FR-n).
    for i in range(1, 8):
        assert f"## FR-{i}: " in doc.content
    assert "Traced: 7 of 7." in doc.content
    (doc,) = constraints.files
    assert doc.path == "docs/constraints.md"
    assert doc.content.count("- Verification (") == 4
    assert "| Framework | FastAPI | " in doc.content


async def test_a_ui_task_without_an_llm_is_failed_precondition(mesh: Mesh) -> None:
    task = (await plan(mesh, BLOG_UI.read_text(encoding="utf-8")))["P3.ui.page-1"]
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await mesh.codegen.GenerateCode(generate(task))
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "ANTHROPIC_API_KEY" in (raised.value.details() or "")


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (pb.GenerateCodeRequest(), grpc.StatusCode.INVALID_ARGUMENT),
        (pb.GenerateCodeRequest(task_id="not-a-uuid"), grpc.StatusCode.INVALID_ARGUMENT),
        (pb.GenerateCodeRequest(task_id="00000000-0000-4000-8000-000000000000"), grpc.StatusCode.NOT_FOUND),
        (pb.GenerateCodeRequest(task_id="00000000-0000-4000-8000-000000000000", attempt=-1), None),
    ],
)
async def test_bad_requests_get_clear_statuses(
    mesh: Mesh, request_: pb.GenerateCodeRequest, code: grpc.StatusCode | None
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await mesh.codegen.GenerateCode(request_)
    assert raised.value.code() == (code or grpc.StatusCode.INVALID_ARGUMENT)


# --- Anthropic: the direct prompt, repairs and failures ---------------------------------------


async def test_a_generic_task_goes_to_the_llm_with_usage_and_cost(
    mesh: Mesh, anthropic_server: AnthropicServer
) -> None:
    anthropic_server.script(
        tool_answer({"app/features/fr_1.py": CLEAN_MODULE, "tests/unit/test_fr_1.py": CLEAN_TEST})
    )
    async with anthropic_codegen(mesh, anthropic_server) as codegen:
        got = await codegen.GenerateCode(generate(mesh.tasks["P1.analysis.requirements"]))
    assert got.generator == "anthropic" and got.temperature == 0.7 and got.attempt == 1
    assert got.passed, [(v.skill, [f.rule for f in v.findings]) for v in got.validations]
    assert [f.path for f in got.files] == ["app/features/fr_1.py", "tests/unit/test_fr_1.py"]
    assert got.usage.model == DEFAULT_ANTHROPIC_MODEL
    assert got.usage.input_tokens == 1000 and got.usage.output_tokens == 500
    assert got.usage.cost_usd > 0
    (sent,) = anthropic_server.bodies
    assert sent["model"] == DEFAULT_ANTHROPIC_MODEL and sent["temperature"] == 0.7


async def test_findings_are_fed_back_and_the_repair_is_returned(
    mesh: Mesh, anthropic_server: AnthropicServer
) -> None:
    anthropic_server.script(
        tool_answer({"app/features/fr_1.py": SWALLOWING_MODULE}),
        tool_answer({"app/features/fr_1.py": CLEAN_MODULE, "tests/unit/test_fr_1.py": CLEAN_TEST}),
    )
    async with anthropic_codegen(mesh, anthropic_server) as codegen:
        got = await codegen.GenerateCode(generate(mesh.tasks["P1.analysis.requirements"]))
    assert got.attempt == 2 and got.temperature == 0.5 and got.passed
    first, second = anthropic_server.bodies
    assert (first["temperature"], second["temperature"]) == (0.7, 0.5)
    repair_prompt = str(second["messages"])
    assert "global-error-handling" in repair_prompt and "app/features/fr_1.py" in repair_prompt
    assert "global-error-handling" not in str(first["messages"])


async def test_malformed_answers_on_every_attempt_are_aborted(
    mesh: Mesh, anthropic_server: AnthropicServer
) -> None:
    anthropic_server.script(text_answer(), text_answer(), text_answer())
    async with anthropic_codegen(mesh, anthropic_server) as codegen:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await codegen.GenerateCode(generate(mesh.tasks["P1.analysis.requirements"]))
    assert raised.value.code() == grpc.StatusCode.ABORTED
    assert "write_files" in (raised.value.details() or "")
    assert len(anthropic_server.bodies) == 3


async def model_task_without_entities(mesh: Mesh) -> common_pb2.Task:
    """The Note model task of a JSON plan whose spec describes no entities."""
    plan = json.loads(SMALL_PLAN.read_text(encoding="utf-8"))
    plan["spec"]["entities"] = []
    plan["spec"]["endpoints"] = []
    created = await mesh.orchestrator.CreateSpec(
        orchestrator_pb2.CreateSpecRequest(plan_json=json.dumps(plan))
    )
    tree = await mesh.orchestrator.GetTaskTree(
        orchestrator_pb2.GetTaskTreeRequest(spec_id=created.spec.id, page_size=100)
    )
    return next(t for t in tree.tasks if t.key == "models.note")


async def test_a_model_task_of_a_spec_without_entities_is_failed_precondition(mesh: Mesh) -> None:
    model_task = await model_task_without_entities(mesh)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await mesh.codegen.GenerateCode(generate(model_task))
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "models.note" in (raised.value.details() or "") or "Note" in (raised.value.details() or "")


async def test_get_spec_returns_the_entities_and_endpoints_code_is_generated_from(mesh: Mesh) -> None:
    spec_id = mesh.tasks["P3.models.project"].spec_id
    got = await mesh.orchestrator.GetSpec(orchestrator_pb2.GetSpecRequest(spec_id=spec_id))
    entities = {e.name: e for e in got.entities}
    assert set(entities) == {"Project", "Task", "Comment", "Tag"}
    name = next(f for f in entities["Project"].fields if f.name == "name")
    assert (name.type, name.constraints) == ("str", "required, unique, max 100 chars")
    assert ("POST", "/api/v1/projects") in {(e.method, e.path) for e in got.endpoints}


async def test_what_the_offline_generator_cannot_serve_goes_to_the_llm(
    mesh: Mesh, anthropic_server: AnthropicServer
) -> None:
    model_task = await model_task_without_entities(mesh)
    anthropic_server.script(
        tool_answer({"app/features/fr_1.py": CLEAN_MODULE, "tests/unit/test_fr_1.py": CLEAN_TEST})
    )
    async with anthropic_codegen(mesh, anthropic_server) as codegen:
        got = await codegen.GenerateCode(generate(model_task))
    assert got.generator == "anthropic" and got.passed
    assert len(anthropic_server.bodies) == 1


# --- pattern reuse: what an earlier generation stored is reused and scored ----------------------


@contextlib.asynccontextmanager
async def patterns_stub(mesh: Mesh) -> AsyncIterator[patterns_pb2_grpc.PatternsServiceStub]:
    channel = open_channel(mesh.settings.addrs["patterns"], 30.0)
    try:
        yield patterns_pb2_grpc.PatternsServiceStub(channel)
    finally:
        await channel.close()


async def stored_for(
    patterns: patterns_pb2_grpc.PatternsServiceStub, task: common_pb2.Task
) -> patterns_pb2.Pattern:
    """The success pattern StoreSuccessPattern kept for `task` (tagged with its id)."""
    found = await patterns.SearchPatterns(
        patterns_pb2.SearchPatternsRequest(query=task.name, top_k=5, filters={"tag": f"task:{task.id}"})
    )
    (match,) = found.matches
    return match.pattern


async def test_a_fresh_spec_reuses_nothing(mesh: Mesh) -> None:
    # The Reply model of a new blog spec: no generation has produced that file before.
    task = (await plan(mesh, BLOG_UI.read_text(encoding="utf-8")))["P3.models.reply"]
    got = await mesh.codegen.GenerateCode(generate(task))
    assert got.passed
    assert list(got.reused_pattern_ids) == []


async def test_generating_a_task_again_reuses_its_stored_pattern_and_records_the_outcome(mesh: Mesh) -> None:
    task = (await plan(mesh, BLOG_UI.read_text(encoding="utf-8")))["P3.models.post"]
    first = await mesh.codegen.GenerateCode(generate(task))
    assert first.passed and list(first.reused_pattern_ids) == []
    async with patterns_stub(mesh) as patterns:
        stored = await stored_for(patterns, task)
        assert stored.code == first.files[0].content and stored.usage_count == 1

        second = await mesh.codegen.GenerateCode(generate(task, request_id="reuse-1"))
        assert second.passed and second.files == first.files
        assert list(second.reused_pattern_ids) == [stored.id]
        after = (await patterns.GetPattern(patterns_pb2.GetPatternRequest(pattern_id=stored.id))).pattern
        assert after.usage_count == stored.usage_count + 1
        assert after.success_rate == 1.0  # both uses passed validation

        # A retried request (same request_id) is counted once; a new one counts again.
        await mesh.codegen.GenerateCode(generate(task, request_id="reuse-1"))
        retried = (await patterns.GetPattern(patterns_pb2.GetPatternRequest(pattern_id=stored.id))).pattern
        assert retried.usage_count == after.usage_count
        await mesh.codegen.GenerateCode(generate(task, request_id="reuse-2"))
        again = (await patterns.GetPattern(patterns_pb2.GetPatternRequest(pattern_id=stored.id))).pattern
        assert again.usage_count == after.usage_count + 1


async def test_a_patterns_outage_does_not_fail_generation(mesh: Mesh) -> None:
    dead = dataclasses.replace(mesh.settings, addrs={**mesh.settings.addrs, "patterns": "127.0.0.1:1"})
    running = await start_server(build_codegen, dead, "codegen", port=0, metrics_port=0)
    channel = open_channel(running.address, 60.0)
    try:
        got = await codegen_pb2_grpc.CodegenServiceStub(channel).GenerateCode(
            generate(mesh.tasks["P3.models.project"])
        )
    finally:
        await channel.close()
        await running.stop(0)
    assert got.passed and list(got.reused_pattern_ids) == []
    # Recording an outcome is optional too: the call reports failure, it does not raise.
    sources = Sources(dead)
    try:
        task = TaskInfo(
            id=mesh.tasks["P3.models.project"].id, key="P3.models.project", kind="MODEL", name="x"
        )
        assert await sources.record_outcome("00000000-0000-4000-8000-000000000000", task, True, 1.0) is False
    finally:
        await sources.close()
