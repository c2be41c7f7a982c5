"""Which offered patterns a generation reused: reproduced code (offline), reported names
(Anthropic)."""

from __future__ import annotations

from dataclasses import replace

from services.codegen.domain import GenerationRequest, PatternRef, SourceFileOut
from services.codegen.offline import OfflineGenerator
from services.codegen.reuse import named, reproduced
from tests.codegen.test_offline_tasks import PLAN, TASK_API, info

FILES = (SourceFileOut("app/a.py", "x = 1\n\n\ny = 2\n"), SourceFileOut("app/b.py", "z = 3\n"))


def ref(pattern_id: str, code: str, name: str = "") -> PatternRef:
    return PatternRef(name or pattern_id, "services", code, 0.9, id=pattern_id, similarity=0.8)


def test_a_pattern_is_reproduced_when_its_code_is_a_file_trailing_whitespace_aside() -> None:
    patterns = (
        ref("same", "x = 1\n\n\ny = 2"),
        ref("trailing", "z = 3   \n\n\n"),
        ref("different", "x = 1\ny = 2\n"),
        ref("empty", ""),
        PatternRef("no-id", "services", "z = 3\n"),
    )

    assert reproduced(patterns, FILES) == ("same", "trailing")
    assert reproduced((), FILES) == ()


def test_named_maps_reported_names_to_offered_ids() -> None:
    patterns = (ref("id-1", "a", "alpha"), ref("id-2", "b", "beta"), PatternRef("gamma", "c", "c"))

    assert named(patterns, ["beta", "gamma", "unknown", "beta"]) == ("id-2",)


async def test_offline_generation_reuses_an_offered_pattern_it_reproduces() -> None:
    task = info(next(t for t in PLAN if t.key == "P3.models.task"))
    generator = OfflineGenerator()
    first = await generator.generate(GenerationRequest(task=task, spec=TASK_API))
    (model,) = first.files
    assert first.reused_pattern_ids == ()

    offered = (
        ref("golden-model", "class Model(Base):\n    pass\n", "owned-resource-model"),
        ref("stored-task-model", model.content.rstrip("\n") + "\n\n"),
    )
    again = await generator.generate(GenerationRequest(task=task, spec=TASK_API, patterns=offered))

    assert again.reused_pattern_ids == ("stored-task-model",)
    # A name in patterns_used (the golden library it composed from) is no reuse of an offered pattern.
    assert "owned-resource-model" in again.patterns_used
    assert again.files == first.files
    assert replace(again, reused_pattern_ids=()) == first
