"""The Anthropic generator against a local Messages API server: answers, retries, errors."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from devmatrix.runtime.config import Settings
from devmatrix.runtime.errors import (
    Aborted,
    FailedPrecondition,
    InvalidArgument,
    ResourceExhausted,
    Unavailable,
)
from services.codegen.anthropic_generator import (
    AnthropicGenerator,
    Outcome,
    parse_answer,
    price_for,
    usage_of,
)
from services.codegen.domain import Feedback, Usage
from tests.codegen.test_prompts import make_request
from tests.fixtures import anthropic_server as api
from tests.fixtures.anthropic_server import AnthropicServer


@dataclass
class ListRecorder:
    requests: list[tuple[str, Outcome, float]] = field(default_factory=list)
    usages: list[tuple[str, Usage, str]] = field(default_factory=list)

    def request(self, model: str, outcome: Outcome, seconds: float) -> None:
        self.requests.append((model, outcome, seconds))

    def usage(self, model: str, usage: Usage, spec_id: str) -> None:
        self.usages.append((model, usage, spec_id))

    @property
    def outcomes(self) -> list[str]:
        return [outcome for _, outcome, _ in self.requests]


def settings_for(server: AnthropicServer, tmp_path: Path, **changes: object) -> Settings:
    values: dict = {
        "data_dir": tmp_path,
        "anthropic_api_key": api.API_KEY,
        "anthropic_base_url": server.base_url,
        "anthropic_model": "claude-sonnet-4-6",
        "llm_timeout_seconds": 5.0,
        "llm_max_retries": 2,
    }
    values.update(changes)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def recorder() -> ListRecorder:
    return ListRecorder()


@pytest.fixture
async def make_generator(
    anthropic_server: AnthropicServer, tmp_path: Path, recorder: ListRecorder
) -> AsyncIterator[Callable[..., AnthropicGenerator]]:
    made: list[AnthropicGenerator] = []

    def make(**changes: object) -> AnthropicGenerator:
        # Tiny backoff keeps the retry tests fast; retry-after waits stay real.
        generator = AnthropicGenerator(
            settings_for(anthropic_server, tmp_path, **changes),
            recorder=recorder,
            backoff_base_seconds=0.01,
            backoff_max_seconds=0.05,
        )
        made.append(generator)
        return generator

    yield make
    for generator in made:
        await generator.aclose()


FILES = {"app/models/todo.py": "class Todo(Base):\n    pass\n", "tests/test_todo.py": "def test(): ...\n"}


async def test_success_returns_files_usage_and_cost(
    anthropic_server: AnthropicServer, make_generator, recorder: ListRecorder
) -> None:
    anthropic_server.script(
        api.tool_answer(
            FILES,
            patterns_used=["sqlalchemy-model", "made-up"],
            usage=api.usage_block(input_tokens=1000, output_tokens=2000, cache_write=4000, cache_read=0),
        )
    )
    generation = await make_generator().generate(make_request())

    assert [(f.path, f.content, f.language) for f in generation.files] == [
        ("app/models/todo.py", FILES["app/models/todo.py"], "python"),
        ("tests/test_todo.py", FILES["tests/test_todo.py"], "python"),
    ]
    assert generation.generator == "anthropic"
    assert generation.temperature == 0.7
    assert generation.patterns_used == ("sqlalchemy-model",)  # names not offered are dropped
    # The names it reports map back to the offered patterns' ids: their outcomes get recorded.
    assert generation.reused_pattern_ids == ("pattern-1",)
    usage = generation.usage
    assert (usage.input_tokens, usage.output_tokens, usage.cache_write_tokens, usage.cache_read_tokens) == (
        1000,
        2000,
        4000,
        0,
    )
    # Sonnet: $3 input, $15 output, $3.75 cache writes per million tokens.
    assert usage.cost_usd == pytest.approx((1000 * 3 + 2000 * 15 + 4000 * 3.75) / 1e6)
    assert usage.model == "claude-sonnet-4-6"
    assert recorder.outcomes == ["ok"]
    assert recorder.usages == [("claude-sonnet-4-6", usage, "spec-1")]


async def test_request_carries_model_key_cached_system_and_forced_tool(
    anthropic_server: AnthropicServer, make_generator
) -> None:
    anthropic_server.script(api.tool_answer(FILES))
    await make_generator(anthropic_model="claude-haiku-4-5").generate(make_request())

    (request,) = anthropic_server.requests
    assert api.key_of(request.headers) == api.API_KEY
    assert request.headers["anthropic-version"]
    body = request.body
    assert body["model"] == "claude-haiku-4-5"
    assert body["temperature"] == 0.7
    assert len(body["system"]) == 4
    assert all(block["cache_control"] == {"type": "ephemeral"} for block in body["system"])
    assert body["tool_choice"]["type"] == "tool" and body["tool_choice"]["name"] == "write_files"
    assert [tool["name"] for tool in body["tools"]] == ["write_files"]
    assert body["messages"][0]["content"].startswith("# Task TASK-3.1")


async def test_temperature_per_attempt_and_feedback_in_attempt_two(
    anthropic_server: AnthropicServer, make_generator
) -> None:
    generator = make_generator()
    feedback = (Feedback("backend-models", "type-hints", "app/models/todo.py", 2, "missing return type"),)
    for attempt in (1, 2, 3, 4):
        anthropic_server.script(api.tool_answer(FILES))
        generation = await generator.generate(
            make_request(attempt=attempt, feedback=feedback if attempt > 1 else (), previous_error="")
        )
        assert generation.temperature == {1: 0.7, 2: 0.5, 3: 0.3, 4: 0.3}[attempt]

    bodies = anthropic_server.bodies
    assert [b["temperature"] for b in bodies] == [0.7, 0.5, 0.3, 0.3]
    assert "missing return type" not in bodies[0]["messages"][0]["content"]
    assert (
        "[backend-models/type-hints] app/models/todo.py:2: missing return type"
        in (bodies[1]["messages"][0]["content"])
    )
    # The cached prefix is byte-identical across attempts.
    assert bodies[0]["system"] == bodies[1]["system"] == bodies[2]["system"]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (api.text_answer(), "model answer has no write_files tool call"),
        (api.raw_tool_answer('{"files": [{"path": "a.py", "cont'), "write_files input is not a JSON object"),
        (api.raw_tool_answer({"notes": "nothing"}), "write_files input needs files, a non-empty list"),
        (api.raw_tool_answer({"files": []}), "write_files input needs files, a non-empty list"),
        (
            api.raw_tool_answer(
                {
                    "files": [
                        {"path": "a.py", "content": ""},
                        {"path": "b.py", "content": ""},
                        {"path": "../x", "content": ""},
                    ]
                }
            ),
            "files[2].path '../x' escapes the project",
        ),
        (
            api.raw_tool_answer({"files": [{"path": "/etc/passwd", "content": ""}]}),
            "files[0].path '/etc/passwd' is absolute",
        ),
        (
            api.raw_tool_answer(
                {"files": [{"path": "a.py", "content": "1"}, {"path": "./a.py", "content": "2"}]}
            ),
            "files[1].path 'a.py' is a duplicate",
        ),
        (
            api.raw_tool_answer({"files": [{"path": "a.py", "content": 3}]}),
            "files[0].content for 'a.py' must be a string",
        ),
        (
            api.raw_tool_answer({"files": [{"path": "a.py", "content": "x" * 200_001}]}),
            "files[0] 'a.py' has 200001 characters; the limit is 200000",
        ),
        (
            api.raw_tool_answer({"files": [{"path": "a.py", "content": "x"}]}, stop_reason="max_tokens"),
            "model answer was cut off at max_tokens",
        ),
    ],
    ids=[
        "text-only",
        "bad-json",
        "no-files",
        "empty-files",
        "escape",
        "absolute",
        "duplicate",
        "not-string",
        "too-big",
        "max-tokens",
    ],
)
async def test_malformed_answers_abort_with_a_clear_message(
    anthropic_server: AnthropicServer,
    make_generator,
    recorder: ListRecorder,
    answer: api.Scripted,
    message: str,
) -> None:
    anthropic_server.script(answer)
    with pytest.raises(Aborted) as raised:
        await make_generator().generate(make_request())
    assert message in str(raised.value)
    assert recorder.outcomes == ["malformed"]
    assert len(recorder.usages) == 1  # a malformed answer is billed all the same
    assert len(anthropic_server.requests) == 1  # not retried here: the pipeline retries with feedback


async def test_rate_limited_waits_retry_after_then_succeeds(
    anthropic_server: AnthropicServer, make_generator, recorder: ListRecorder
) -> None:
    anthropic_server.script(api.rate_limited(retry_after=1), api.tool_answer(FILES))
    started = time.monotonic()
    generation = await make_generator().generate(make_request())
    elapsed = time.monotonic() - started

    assert len(generation.files) == 2
    first, second = anthropic_server.requests
    assert second.at - first.at >= 0.95  # honored retry-after: 1, not the 10 ms backoff
    assert elapsed >= 0.95
    assert recorder.outcomes == ["rate_limited", "ok"]
    assert len(recorder.usages) == 1  # the 429 is not billed


async def test_rate_limited_forever_is_resource_exhausted(
    anthropic_server: AnthropicServer, make_generator, recorder: ListRecorder
) -> None:
    anthropic_server.script(*[api.rate_limited(retry_after=0.05)] * 3)
    with pytest.raises(ResourceExhausted) as raised:
        await make_generator(llm_max_retries=2).generate(make_request())
    assert "rate limit after 3 attempts (retry-after 0.05s)" in str(raised.value)
    assert "rate_limit_error" in str(raised.value)
    assert recorder.outcomes == ["rate_limited"] * 3
    assert recorder.usages == []


async def test_retry_after_beyond_the_cap_gives_up_at_once(
    anthropic_server: AnthropicServer, make_generator
) -> None:
    anthropic_server.script(api.rate_limited(retry_after=3600))
    started = time.monotonic()
    with pytest.raises(ResourceExhausted, match="retry-after 3600s"):
        await make_generator().generate(make_request())
    assert time.monotonic() - started < 2
    assert anthropic_server.remaining == 0 and len(anthropic_server.requests) == 1


async def test_server_error_then_success(
    anthropic_server: AnthropicServer, make_generator, recorder: ListRecorder
) -> None:
    anthropic_server.script(api.server_error(500), api.server_error(529), api.tool_answer(FILES))
    generation = await make_generator().generate(make_request())
    assert len(generation.files) == 2
    assert recorder.outcomes == ["server_error", "server_error", "ok"]


async def test_server_error_forever_is_unavailable(
    anthropic_server: AnthropicServer, make_generator, recorder: ListRecorder
) -> None:
    anthropic_server.script(*[api.server_error(500)] * 2)
    with pytest.raises(Unavailable) as raised:
        await make_generator(llm_max_retries=1).generate(make_request())
    assert "Anthropic API unavailable after 2 attempts: 500 api_error: Internal server error" in str(
        raised.value
    )
    assert recorder.outcomes == ["server_error", "server_error"]


async def test_timeout_is_unavailable_after_retries(
    anthropic_server: AnthropicServer, make_generator, recorder: ListRecorder
) -> None:
    anthropic_server.script(*[api.slow(3.0)] * 2)
    started = time.monotonic()
    with pytest.raises(Unavailable, match="timed out after 2 attempts"):
        await make_generator(llm_timeout_seconds=0.3, llm_max_retries=1).generate(make_request())
    assert time.monotonic() - started < 2.5  # gave up on each attempt at the timeout
    assert recorder.outcomes == ["timeout", "timeout"]
    assert all(seconds >= 0.25 for _, _, seconds in recorder.requests)


async def test_timeout_then_success(
    anthropic_server: AnthropicServer, make_generator, recorder: ListRecorder
) -> None:
    anthropic_server.script(api.slow(3.0), api.tool_answer(FILES))
    generation = await make_generator(llm_timeout_seconds=0.3).generate(make_request())
    assert len(generation.files) == 2
    assert recorder.outcomes == ["timeout", "ok"]


async def test_connection_refused_is_unavailable(tmp_path: Path, recorder: ListRecorder) -> None:
    server = AnthropicServer()  # never started, then closed: its port refuses connections
    base_url = server.base_url
    server.close()
    settings = Settings(
        data_dir=tmp_path,
        anthropic_api_key="k",
        anthropic_model="claude-sonnet-4-6",
        anthropic_base_url=base_url,
        llm_max_retries=1,
        llm_timeout_seconds=1,
    )
    generator = AnthropicGenerator(settings, recorder=recorder, backoff_base_seconds=0.01)
    with pytest.raises(Unavailable, match="unreachable after 2 attempts"):
        await generator.generate(make_request())
    await generator.aclose()
    assert recorder.outcomes == ["connection_error", "connection_error"]


async def test_wrong_key_is_failed_precondition_without_retries(
    anthropic_server: AnthropicServer, make_generator, recorder: ListRecorder
) -> None:
    with pytest.raises(FailedPrecondition) as raised:
        await make_generator(anthropic_api_key="sk-ant-wrong").generate(make_request())
    assert str(raised.value).startswith(
        "ANTHROPIC_API_KEY rejected: 401 authentication_error: invalid x-api-key"
    )
    assert recorder.outcomes == ["rejected"]
    assert len(anthropic_server.requests) == 1


async def test_bad_request_is_invalid_argument(anthropic_server: AnthropicServer, make_generator) -> None:
    anthropic_server.script(api.error(400, "prompt is too long: 250000 tokens > 200000 maximum"))
    with pytest.raises(
        InvalidArgument, match="rejected the request: 400 invalid_request_error: prompt is too long"
    ):
        await make_generator().generate(make_request())


async def test_model_refusing_temperature_is_asked_again_without_it(
    anthropic_server: AnthropicServer, make_generator, recorder: ListRecorder
) -> None:
    anthropic_server.script(
        api.error(400, "`temperature` is deprecated for this model."),
        api.tool_answer(FILES),
        api.tool_answer(FILES),
    )
    generator = make_generator(anthropic_model="claude-future-1")
    await generator.generate(make_request())
    await generator.generate(make_request(attempt=2))
    assert ["temperature" in body for body in anthropic_server.bodies] == [True, False, False]
    assert recorder.outcomes == ["rejected", "ok", "ok"]


def test_a_key_is_required(tmp_path: Path) -> None:
    with pytest.raises(FailedPrecondition, match="ANTHROPIC_API_KEY is not set"):
        AnthropicGenerator(Settings(data_dir=tmp_path))


def test_prices_by_model_family() -> None:
    assert price_for("claude-opus-4-1-20250805").input == 15.0
    assert price_for("claude-opus-4-5").input == 5.0
    assert price_for("claude-haiku-4-5-20251001").output == 5.0
    assert price_for("some-proxy-alias") == price_for("claude-sonnet-4-5")  # the documented fallback

    @dataclass
    class RawUsage:
        input_tokens: int = 100
        output_tokens: int = 10
        cache_creation_input_tokens: int | None = None
        cache_read_input_tokens: int = 1_000_000

    usage = usage_of("claude-sonnet-4-5", RawUsage())
    assert usage.cost_usd == pytest.approx((100 * 3 + 10 * 15) / 1e6 + 0.30)
    assert usage.cache_write_tokens == 0 and usage.cache_read_tokens == 1_000_000


def test_parse_answer_accepts_nested_paths_and_normalizes_dot_segments() -> None:
    @dataclass
    class Block:
        input: object
        type: str = "tool_use"
        name: str = "write_files"

    @dataclass
    class Message:
        content: list
        stop_reason: str = "tool_use"

    files, used = parse_answer(Message([Block({"files": [{"path": "./src/app/main.ts", "content": "x"}]})]))
    assert [(f.path, f.language) for f in files] == [("src/app/main.ts", "typescript")]
    assert used == ()
