"""The skills service over real gRPC: the catalogue of the 17 standards, the domain filter,
the mapping of task shapes to skills, bad input status codes, the refusal of a malformed
catalogue, validation, standards and metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
import pytest_asyncio
import yaml
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from devmatrix.runtime.channels import open_channel
from devmatrix.runtime.config import Settings
from devmatrix.runtime.errors import InvalidArgument
from devmatrix.runtime.server import start_server
from devmatrix.standards import SKILL_NAMES
from devmatrix.v1 import common_pb2, skills_pb2_grpc
from devmatrix.v1 import skills_pb2 as pb
from services.skills.app import FULL_NAME, make_build
from services.skills.catalogue import DEFAULT_CATALOGUE
from tests.integration.rpc import details, field_violations

ALWAYS = ["global-coding-style", "global-conventions"]


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def stub(
    tmp_path_factory: pytest.TempPathFactory, module_database_url: str
) -> AsyncIterator[skills_pb2_grpc.SkillsServiceStub]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("skills"), bind_host="127.0.0.1", database_url=module_database_url
    )
    server = await start_server(make_build(), settings, "skills", port=0, metrics_port=0)
    channel = open_channel(server.address, 30.0)
    try:
        health = health_pb2_grpc.HealthStub(channel)
        status = await health.Check(health_pb2.HealthCheckRequest(service=FULL_NAME))
        assert status.status == health_pb2.HealthCheckResponse.SERVING
        yield skills_pb2_grpc.SkillsServiceStub(channel)
    finally:
        await channel.close()
        await server.stop(0)


def names(skills: object) -> list[str]:
    return [s.name for s in skills]  # type: ignore[attr-defined]


# --- the catalogue ------------------------------------------------------------------------


async def test_every_one_of_the_17_skills_is_listed_with_guidelines(
    stub: skills_pb2_grpc.SkillsServiceStub,
) -> None:
    listed = (await stub.ListSkills(pb.ListSkillsRequest())).skills
    assert names(listed) == list(SKILL_NAMES)
    assert len(listed) == 17
    for skill in listed:
        assert skill.domain == skill.name.split("-", 1)[0]
        assert skill.description and "\n" not in skill.description
        assert 4 <= len(skill.guidelines) <= 8
        assert all(g.strip() for g in skill.guidelines)
        assert skill.languages
        assert 0 < skill.threshold <= 1


async def test_get_skill_returns_the_whole_skill(stub: skills_pb2_grpc.SkillsServiceStub) -> None:
    skill = (await stub.GetSkill(pb.GetSkillRequest(name="backend-queries"))).skill
    assert skill.domain == "backend"
    assert skill.threshold == 0.8
    assert "sql" in skill.languages and "python" in skill.languages
    assert any("bound parameters" in g and "f-strings" in g for g in skill.guidelines)
    # The same skill as in the list.
    listed = (await stub.ListSkills(pb.ListSkillsRequest(domain="backend"))).skills
    assert next(s for s in listed if s.name == "backend-queries") == skill


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("global", [n for n in SKILL_NAMES if n.startswith("global-")]),
        ("backend", ["backend-api", "backend-migrations", "backend-models", "backend-queries"]),
        (
            "frontend",
            ["frontend-accessibility", "frontend-components", "frontend-css", "frontend-responsive"],
        ),
        ("testing", ["testing-test-writing", "testing-coverage", "testing-unit-tests"]),
        (" testing ", ["testing-test-writing", "testing-coverage", "testing-unit-tests"]),
    ],
)
async def test_list_skills_filters_by_domain(
    stub: skills_pb2_grpc.SkillsServiceStub, domain: str, expected: list[str]
) -> None:
    listed = (await stub.ListSkills(pb.ListSkillsRequest(domain=domain))).skills
    assert names(listed) == expected
    assert len(names(listed)) == (6 if domain == "global" else len(expected))


async def test_unknown_domain_is_invalid_argument_naming_the_field(
    stub: skills_pb2_grpc.SkillsServiceStub,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.ListSkills(pb.ListSkillsRequest(domain="database"))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "database" in raised.value.details()
    assert "global, backend, frontend, testing" in field_violations(raised.value)["domain"]


async def test_unknown_skill_is_not_found_naming_it(stub: skills_pb2_grpc.SkillsServiceStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.GetSkill(pb.GetSkillRequest(name="backend-graphql"))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert "backend-graphql" in raised.value.details()
    info = details(raised.value, error_details_pb2.ResourceInfo)
    assert [(i.resource_type, i.resource_name) for i in info] == [("skill", "backend-graphql")]


async def test_empty_skill_name_is_invalid_argument(stub: skills_pb2_grpc.SkillsServiceStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.GetSkill(pb.GetSkillRequest(name="  "))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "name" in field_violations(raised.value)


# --- mapping tasks to skills --------------------------------------------------------------

K = common_pb2.TaskKind


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        pytest.param(
            pb.MapTaskToSkillsRequest(
                kind=K.TASK_KIND_API,
                name="Create notes endpoint",
                description="POST /notes returns 201 with the stored note",
                files=["app/api/notes.py"],
            ),
            [*ALWAYS, "global-error-handling", "global-validation", "backend-api"],
            id="api",
        ),
        pytest.param(
            pb.MapTaskToSkillsRequest(
                kind=K.TASK_KIND_MODEL,
                name="Note model",
                description="Note entity with title and body",
                files=["app/models/note.py", "alembic/versions/0001_notes.py"],
            ),
            [*ALWAYS, "global-validation", "backend-migrations", "backend-models"],
            id="model",
        ),
        pytest.param(
            pb.MapTaskToSkillsRequest(
                kind=K.TASK_KIND_CRUD,
                name="Notes CRUD",
                description="Create, read, update and delete notes",
            ),
            [
                *ALWAYS,
                "global-error-handling",
                "global-validation",
                "backend-api",
                "backend-models",
                "backend-queries",
            ],
            id="crud",
        ),
        pytest.param(
            pb.MapTaskToSkillsRequest(
                kind=K.TASK_KIND_UI,
                name="Login screen",
                description="Accessible sign-in, responsive on mobile",
                files=["web/src/LoginForm.tsx", "web/src/login.css"],
            ),
            [*ALWAYS, "frontend-accessibility", "frontend-components", "frontend-css", "frontend-responsive"],
            id="ui",
        ),
        pytest.param(
            pb.MapTaskToSkillsRequest(
                kind=K.TASK_KIND_TEST,
                name="Unit tests for the note repository",
                files=["tests/test_notes.py"],
                tech_stack={"language": "python", "test": "pytest"},
            ),
            [
                *ALWAYS,
                "global-tech-stack",
                "backend-queries",
                "testing-test-writing",
                "testing-coverage",
                "testing-unit-tests",
            ],
            id="test",
        ),
        pytest.param(
            pb.MapTaskToSkillsRequest(
                kind=K.TASK_KIND_GENERIC,
                name="Speed up the monthly report",
                description="Rewrite the slow SQL query behind it",
            ),
            [*ALWAYS, "backend-queries"],
            id="keywords-only",
        ),
        pytest.param(
            pb.MapTaskToSkillsRequest(
                kind=K.TASK_KIND_GENERIC,
                name="Add a migration for the status column",
                files=["db/schema.sql"],
            ),
            [*ALWAYS, "backend-migrations", "backend-queries"],
            id="migration-keyword-and-sql-file",
        ),
        pytest.param(
            pb.MapTaskToSkillsRequest(kind=K.TASK_KIND_DOCS, name="Write the README", files=["README.md"]),
            ["global-coding-style", "global-commenting", "global-conventions"],
            id="docs",
        ),
        pytest.param(
            pb.MapTaskToSkillsRequest(kind=K.TASK_KIND_CONFIG, name="Settings from environment"),
            [*ALWAYS, "global-tech-stack", "global-validation"],
            id="config",
        ),
        pytest.param(pb.MapTaskToSkillsRequest(name="Tidy up"), ALWAYS, id="nothing-stated"),
    ],
)
async def test_map_task_to_skills(
    stub: skills_pb2_grpc.SkillsServiceStub, request_: pb.MapTaskToSkillsRequest, expected: list[str]
) -> None:
    mapped = (await stub.MapTaskToSkills(request_)).skills
    # Exactly these skills, in catalogue order, with their guidelines.
    assert names(mapped) == [n for n in SKILL_NAMES if n in set(expected)]
    assert sorted(names(mapped)) == sorted(expected)
    assert all(len(s.guidelines) >= 4 for s in mapped)


async def test_mapping_is_stable_whatever_the_file_order(stub: skills_pb2_grpc.SkillsServiceStub) -> None:
    files = ["web/a11y.html", "app/repositories/notes.py", "web/Card.tsx", "tests/test_x.py"]
    answers = {
        tuple(
            names(
                (
                    await stub.MapTaskToSkills(
                        pb.MapTaskToSkillsRequest(kind=K.TASK_KIND_GENERIC, name="Mixed", files=order)
                    )
                ).skills
            )
        )
        for order in (files, list(reversed(files)), sorted(files))
    }
    assert len(answers) == 1


async def test_bad_kind_is_invalid_argument_naming_the_field(stub: skills_pb2_grpc.SkillsServiceStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.MapTaskToSkills(pb.MapTaskToSkillsRequest(kind=99, name="x"))  # type: ignore[arg-type]
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "kind" in field_violations(raised.value)


async def test_empty_file_path_is_invalid_argument(stub: skills_pb2_grpc.SkillsServiceStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.MapTaskToSkills(pb.MapTaskToSkillsRequest(kind=K.TASK_KIND_API, files=["a.py", " "]))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "files[1]" in field_violations(raised.value)


async def test_declared_skills_are_always_part_of_the_answer(stub: skills_pb2_grpc.SkillsServiceStub) -> None:
    plain = await stub.MapTaskToSkills(
        pb.MapTaskToSkillsRequest(kind=K.TASK_KIND_CONFIG, name="Database engine")
    )
    assert "backend-models" not in names(plain.skills)
    declared = await stub.MapTaskToSkills(
        pb.MapTaskToSkillsRequest(
            kind=K.TASK_KIND_CONFIG, name="Database engine", required_skills=["backend-models"]
        )
    )
    assert names(declared.skills) == sorted(
        {*names(plain.skills), "backend-models"}, key=list(SKILL_NAMES).index
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.MapTaskToSkills(
            pb.MapTaskToSkillsRequest(kind=K.TASK_KIND_API, required_skills=["telepathy"])
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "required_skills[0]" in field_violations(raised.value)


# --- validation, standards and metrics --------------------------------------------------

SWALLOWING = (
    "def load(path: str) -> str:\n    try:\n        return open(path).read()\n    except:\n        pass\n"
)
UNFORMATTED = '"""Adds."""\nimport os\nimport sys\ndef add(left:int,right:int)->int:\n    """Sum."""\n    return left+right\n'


def gen_file(path: str, content: str, language: str = "") -> common_pb2.GeneratedFile:
    return common_pb2.GeneratedFile(path=path, content=content, language=language)


async def test_validate_finds_a_swallowed_exception_with_rule_file_and_line(
    stub: skills_pb2_grpc.SkillsServiceStub,
) -> None:
    got = await stub.Validate(
        pb.ValidateRequest(
            files=[gen_file("app/io.py", SWALLOWING), gen_file("logo.png", "\x89PNG\x00")],
            skills=["global-error-handling"],
            task_id="task-1",
        )
    )
    (result,) = got.results
    assert result.skill == "global-error-handling" and not result.passed and not got.passed
    assert result.threshold == 0.8 and result.score < 0.8
    assert any(f.path == "app/io.py" and f.line == 4 for f in result.findings)
    assert all(f.skill == "global-error-handling" and f.rule and f.message for f in result.findings)
    assert [(s.path, s.reason) for s in got.skipped] == [("logo.png", "binary content")]


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (pb.ValidateRequest(), "files"),
        (pb.ValidateRequest(files=[gen_file("../x.py", "x = 1")]), "files[0].path"),
        (pb.ValidateRequest(files=[gen_file("a.py", "x = 1")], skills=["nope"]), "skills[0]"),
    ],
)
async def test_validate_bad_input_is_invalid_argument(
    stub: skills_pb2_grpc.SkillsServiceStub, request_: pb.ValidateRequest, field: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.Validate(request_)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in field_violations(raised.value)


async def test_apply_standards_formats_and_removes_unused_imports(
    stub: skills_pb2_grpc.SkillsServiceStub,
) -> None:
    got = await stub.ApplyStandards(
        pb.ApplyStandardsRequest(files=[gen_file("app/calc.py", UNFORMATTED)], skills=["global-coding-style"])
    )
    (fixed,) = got.files
    assert fixed.path == "app/calc.py"
    assert "import os" not in fixed.content and "import sys" not in fixed.content
    assert "def add(left: int, right: int) -> int:" in fixed.content
    assert got.fixes_applied and all(line.startswith("app/calc.py") for line in got.fixes_applied)
    assert not got.remaining


async def test_apply_standards_refuses_bad_paths_before_changing_anything(
    stub: skills_pb2_grpc.SkillsServiceStub,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.ApplyStandards(pb.ApplyStandardsRequest(files=[gen_file("/abs.py", UNFORMATTED)]))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_metrics_count_validations_pass_rate_and_frequent_rules(
    stub: skills_pb2_grpc.SkillsServiceStub,
) -> None:
    before = (await stub.GetSkillMetrics(pb.GetSkillMetricsRequest(skill="global-error-handling"))).metrics[0]
    clean = '"""Ok."""\n\n\ndef one() -> int:\n    """One."""\n    return 1\n'
    for content in (SWALLOWING, SWALLOWING, clean):
        await stub.Validate(
            pb.ValidateRequest(files=[gen_file("app/m.py", content)], skills=["global-error-handling"])
        )
    (after,) = (await stub.GetSkillMetrics(pb.GetSkillMetricsRequest(skill="global-error-handling"))).metrics
    assert after.skill == "global-error-handling"
    assert after.validations == before.validations + 3
    passes_before = round(before.pass_rate * before.validations)
    assert after.pass_rate == pytest.approx((passes_before + 1) / after.validations, abs=1e-4)
    assert after.top_findings and after.top_findings[0].count >= 2
    every = (await stub.GetSkillMetrics(pb.GetSkillMetricsRequest())).metrics
    assert [m.skill for m in every] == list(SKILL_NAMES)


async def test_metrics_of_an_unknown_skill_is_not_found(stub: skills_pb2_grpc.SkillsServiceStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.GetSkillMetrics(pb.GetSkillMetricsRequest(skill="backend-sql"))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


# --- a malformed catalogue refuses the start ----------------------------------------------


def broken_catalogue(tmp_path: Path, skill: str, change: dict[str, object], drop: str | None = None) -> Path:
    data = yaml.safe_load(DEFAULT_CATALOGUE.read_text(encoding="utf-8"))
    entry = next(e for e in data["skills"] if e["name"] == skill)
    entry.update(change)
    if drop:
        del entry[drop]
    path = tmp_path / "catalogue.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("skill", "change", "drop", "field"),
    [
        ("backend-models", {"threshold": "high"}, None, "threshold"),
        ("backend-models", {"threshold": 1.5}, None, "threshold"),
        ("frontend-css", {"guidelines": ["one", "two"]}, None, "guidelines"),
        ("frontend-css", {"guidelines": ["a", "b", "c", 4]}, None, "guidelines[3]"),
        ("testing-coverage", {"domain": "backend"}, None, "domain"),
        ("global-validation", {"languages": ["cobol"]}, None, "languages"),
        ("global-validation", {}, "description", "description"),
        ("backend-api", {"name": "backend-rpc"}, None, "name"),
    ],
)
async def test_malformed_catalogue_refuses_to_start(
    tmp_path: Path, skill: str, change: dict[str, object], drop: str | None, field: str
) -> None:
    path = broken_catalogue(tmp_path, skill, change, drop)
    settings = Settings(data_dir=tmp_path / "data", bind_host="127.0.0.1")
    with pytest.raises(InvalidArgument) as caught:
        await start_server(make_build(path), settings, "skills", port=0, metrics_port=0)
    message = str(caught.value)
    assert str(path) in message
    assert f"field {field} " in message
    # The skill is named: by its name, or by its position when the name itself is wrong.
    assert skill in message or "skills[" in message
    assert caught.value.violations[0].field.endswith(f".{field}")


async def test_a_missing_skill_refuses_to_start(tmp_path: Path) -> None:
    data = yaml.safe_load(DEFAULT_CATALOGUE.read_text(encoding="utf-8"))
    data["skills"] = [e for e in data["skills"] if e["name"] != "testing-unit-tests"]
    path = tmp_path / "catalogue.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(InvalidArgument, match="skill testing-unit-tests: field name is missing"):
        await start_server(make_build(path), Settings(data_dir=tmp_path), "skills", port=0, metrics_port=0)


async def test_a_duplicate_skill_refuses_to_start(tmp_path: Path) -> None:
    data = yaml.safe_load(DEFAULT_CATALOGUE.read_text(encoding="utf-8"))
    data["skills"].append(dict(data["skills"][0]))
    path = tmp_path / "catalogue.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(InvalidArgument, match="skill global-coding-style: field name appears more than once"):
        await start_server(make_build(path), Settings(data_dir=tmp_path), "skills", port=0, metrics_port=0)
