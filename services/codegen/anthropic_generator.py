"""The Anthropic generator: one Messages API answer per `generate()`, files through a tool.

HTTP retries (429, 5xx, timeouts, connection errors) happen here, in our own loop rather
than the SDK's, so every HTTP attempt's outcome reaches the `LlmRecorder` (the SDK retries
invisibly). A malformed answer is not retried here: it raises Aborted naming the problem,
and the pipeline around the generator retries with that error fed back, at a lower
temperature (domain.temperature_for).
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Literal, Protocol, get_args

import anthropic
from anthropic import AsyncAnthropic

from devmatrix.runtime.config import Settings
from devmatrix.runtime.errors import (
    Aborted,
    DomainError,
    FailedPrecondition,
    InvalidArgument,
    ResourceExhausted,
    Unavailable,
)
from devmatrix.runtime.logging import get_logger
from services.codegen import prompts
from services.codegen.domain import Generation, GenerationRequest, SourceFileOut, Usage, temperature_for
from services.codegen.reuse import named

log = get_logger("devmatrix.codegen.anthropic")

Outcome = Literal[
    "ok", "malformed", "rate_limited", "server_error", "timeout", "connection_error", "rejected"
]
# Every outcome, so a metrics backend can create all label values up front.
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)


class LlmRecorder(Protocol):
    """Where the generator reports for metrics; the servicer backs it with Prometheus."""

    def request(self, model: str, outcome: Outcome, seconds: float) -> None:
        """One HTTP attempt ended (a retried call reports each attempt)."""

    def usage(self, model: str, usage: Usage, spec_id: str) -> None:
        """Tokens billed for one answer (also for a malformed one: it was billed too)."""


class NullRecorder:
    def request(self, model: str, outcome: Outcome, seconds: float) -> None:
        pass

    def usage(self, model: str, usage: Usage, spec_id: str) -> None:
        pass


@dataclass(frozen=True)
class Price:
    """USD per million tokens."""

    input: float
    output: float
    cache_write: float  # 5-minute cache writes, the TTL the prompt uses (1.25x input)
    cache_read: float  # cache hits (0.1x input)


# Anthropic's list prices (platform.claude.com/docs/en/about-claude/pricing, checked 2026-11).
# Matched by model-name prefix, first match wins, so specific prefixes come before general ones.
PRICES: tuple[tuple[str, Price], ...] = (
    ("claude-opus-4-1", Price(15.0, 75.0, 18.75, 1.50)),
    ("claude-opus-4-20", Price(15.0, 75.0, 18.75, 1.50)),  # claude-opus-4-20250514
    ("claude-opus-4", Price(5.0, 25.0, 6.25, 0.50)),  # 4.5 to 4.8
    ("claude-opus-5", Price(5.0, 25.0, 6.25, 0.50)),
    ("claude-sonnet-4", Price(3.0, 15.0, 3.75, 0.30)),  # 4, 4.5, 4.6
    ("claude-3-7-sonnet", Price(3.0, 15.0, 3.75, 0.30)),
    ("claude-haiku-4", Price(1.0, 5.0, 1.25, 0.10)),
    ("claude-3-5-haiku", Price(0.80, 4.0, 1.0, 0.08)),
    ("claude-3-haiku", Price(0.25, 1.25, 0.30, 0.03)),
)
# Unknown models (a newer family, a proxy's alias) are costed as Sonnet: a middle estimate,
# logged once per model so a wrong cost figure can be traced to its cause.
FALLBACK_PRICE = Price(3.0, 15.0, 3.75, 0.30)
_unpriced_logged: set[str] = set()


def price_for(model: str) -> Price:
    for prefix, price in PRICES:
        if model.startswith(prefix):
            return price
    if model not in _unpriced_logged:
        _unpriced_logged.add(model)
        log.warning("llm_model_unpriced", model=model, note="costed at the Sonnet price")
    return FALLBACK_PRICE


def usage_of(model: str, raw: Any) -> Usage:
    """Our Usage from the API's: input_tokens excludes cached tokens, which are billed apart."""
    input_tokens = int(getattr(raw, "input_tokens", 0) or 0)
    output_tokens = int(getattr(raw, "output_tokens", 0) or 0)
    cache_write = int(getattr(raw, "cache_creation_input_tokens", 0) or 0)
    cache_read = int(getattr(raw, "cache_read_input_tokens", 0) or 0)
    price = price_for(model)
    cost = (
        input_tokens * price.input
        + output_tokens * price.output
        + cache_write * price.cache_write
        + cache_read * price.cache_read
    ) / 1_000_000
    return Usage(input_tokens, output_tokens, cache_read, cache_write, round(cost, 8), model)


# Bounds on one answer: the pipeline writes these files to disk and validates them.
MAX_FILES = 50
MAX_FILE_CHARS = 200_000
MAX_TOTAL_CHARS = 1_000_000

_EXTENSIONS = (
    "py:python js:javascript jsx:javascript mjs:javascript ts:typescript tsx:typescript html:html "
    "css:css json:json yaml:yaml yml:yaml toml:toml sql:sql md:markdown sh:shell"
)
_LANGUAGES = {f".{ext}": language for ext, language in (pair.split(":") for pair in _EXTENSIONS.split())}


def language_for(path: str) -> str:
    name = PurePosixPath(path).name
    if name == "Dockerfile":
        return "dockerfile"
    return _LANGUAGES.get(PurePosixPath(path).suffix.lower(), "")


def _check_path(index: int, path: Any) -> str:
    where = f"files[{index}].path"
    if not isinstance(path, str) or not path.strip():
        raise Aborted(f"{where} must be a non-empty string")
    if "\\" in path or "\0" in path:
        raise Aborted(f"{where} {path!r} must use forward slashes and no NUL")
    pure = PurePosixPath(path)
    if pure.is_absolute() or (len(path) > 1 and path[1] == ":"):
        raise Aborted(f"{where} {path!r} is absolute; paths are relative to the project root")
    if ".." in pure.parts:
        raise Aborted(f"{where} {path!r} escapes the project")
    normal = str(pure)
    if normal in ("", "."):
        raise Aborted(f"{where} {path!r} names no file")
    return normal


def parse_answer(message: Any) -> tuple[tuple[SourceFileOut, ...], tuple[str, ...]]:
    """The files and pattern names of a model answer; Aborted naming what is wrong."""
    if getattr(message, "stop_reason", None) == "max_tokens":
        raise Aborted("model answer was cut off at max_tokens before write_files was complete")
    if getattr(message, "stop_reason", None) == "refusal":
        raise Aborted("model refused to answer")
    calls = [
        block
        for block in getattr(message, "content", None) or []
        if getattr(block, "type", None) == "tool_use" and getattr(block, "name", None) == prompts.TOOL_NAME
    ]
    if not calls:
        raise Aborted(f"model answer has no {prompts.TOOL_NAME} tool call")
    if len(calls) > 1:
        raise Aborted(f"model answer has {len(calls)} {prompts.TOOL_NAME} tool calls; expected one")
    payload = calls[0].input
    if not isinstance(payload, dict):
        raise Aborted(f"{prompts.TOOL_NAME} input is not a JSON object: {str(payload)[:80]!r}")
    files = payload.get("files")
    if not isinstance(files, list) or not files:
        raise Aborted(f"{prompts.TOOL_NAME} input needs files, a non-empty list")
    if len(files) > MAX_FILES:
        raise Aborted(f"{prompts.TOOL_NAME} wrote {len(files)} files; at most {MAX_FILES} per task")
    out: list[SourceFileOut] = []
    seen: set[str] = set()
    total = 0
    for index, item in enumerate(files):
        if not isinstance(item, dict):
            raise Aborted(f"files[{index}] must be an object with path and content")
        path = _check_path(index, item.get("path"))
        if path in seen:
            raise Aborted(f"files[{index}].path {path!r} is a duplicate")
        seen.add(path)
        content = item.get("content")
        if not isinstance(content, str):
            raise Aborted(f"files[{index}].content for {path!r} must be a string")
        if len(content) > MAX_FILE_CHARS:
            raise Aborted(
                f"files[{index}] {path!r} has {len(content)} characters; the limit is {MAX_FILE_CHARS}"
            )
        total += len(content)
        out.append(SourceFileOut(path=path, content=content, language=language_for(path)))
    if total > MAX_TOTAL_CHARS:
        raise Aborted(f"{prompts.TOOL_NAME} wrote {total} characters in all; the limit is {MAX_TOTAL_CHARS}")
    used = payload.get("patterns_used")
    names = tuple(n for n in used if isinstance(n, str)) if isinstance(used, list) else ()
    return tuple(out), names


def _retry_after(error: anthropic.APIStatusError) -> float | None:
    """The server's wait in seconds: `retry-after-ms` (Anthropic's precise one) or `retry-after`."""
    headers = error.response.headers
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            return max(0.0, float(headers.get(name, "")) * scale)
        except ValueError:
            continue
    return None


def _describe(error: anthropic.APIStatusError) -> str:
    kind = error.type or "error"
    text = error.api_message or error.message
    request_id = f", request-id {error.request_id}" if error.request_id else ""
    return f"{error.status_code} {kind}: {text}{request_id}"


def _classify(error: Exception) -> tuple[Outcome, bool]:
    """The outcome of a failed HTTP attempt and whether retrying may help."""
    if isinstance(error, anthropic.APITimeoutError):
        return "timeout", True
    if isinstance(error, anthropic.APIConnectionError):
        return "connection_error", True
    if isinstance(error, anthropic.APIStatusError):
        if error.status_code == 429:
            return "rate_limited", True
        if error.status_code == 408:
            return "timeout", True
        if error.status_code >= 500:  # includes 529 overloaded
            return "server_error", True
    return "rejected", False


def domain_error(error: Exception, attempts: int, base_url: str) -> DomainError:
    """The domain error for an API failure that retrying did not (or cannot) cure."""
    tries = f"after {attempts} attempt{'s' if attempts != 1 else ''}"
    if isinstance(error, anthropic.APITimeoutError):
        return Unavailable(f"Anthropic API timed out {tries} ({base_url})")
    if isinstance(error, anthropic.APIConnectionError):
        return Unavailable(f"Anthropic API unreachable {tries} ({base_url}): {error.__cause__ or error}")
    if not isinstance(error, anthropic.APIStatusError):
        return Unavailable(f"Anthropic API failed {tries}: {error}")
    detail = _describe(error)
    status = error.status_code
    if status == 429:
        after = _retry_after(error)
        wait = f" (retry-after {after:g}s)" if after is not None else ""
        return ResourceExhausted(f"Anthropic API rate limit {tries}{wait}: {detail}")
    if status >= 500 or status == 408:
        return Unavailable(f"Anthropic API unavailable {tries}: {detail}")
    if status in (401, 403):
        return FailedPrecondition(f"ANTHROPIC_API_KEY rejected: {detail}")
    if status == 402:
        return FailedPrecondition(f"Anthropic account cannot be billed: {detail}")
    if status == 404:
        return FailedPrecondition(f"Anthropic model or endpoint not found (check ANTHROPIC_MODEL): {detail}")
    # 400, 413, 422: the request we built was refused, most often a prompt over the model's
    # context window. Retrying the same request cannot help; a smaller context can.
    return InvalidArgument(f"Anthropic API rejected the request: {detail}")


# Models known to answer 400 "`temperature` is deprecated for this model"; others are added
# when they answer so, and the request is resent without it.
_NO_TEMPERATURE_PREFIXES = ("claude-opus-4-7",)


class AnthropicGenerator:
    name = "anthropic"

    def __init__(
        self,
        settings: Settings,
        client: AsyncAnthropic | None = None,
        recorder: LlmRecorder | None = None,
        *,
        max_tokens: int = 16_000,
        backoff_base_seconds: float = 0.5,
        backoff_max_seconds: float = 8.0,
        max_retry_after_seconds: float = 60.0,
    ) -> None:
        if client is None and not settings.anthropic_api_key:
            raise FailedPrecondition("ANTHROPIC_API_KEY is not set: the Anthropic generator needs it")
        self._settings = settings
        self._model = settings.anthropic_model
        # The SDK's own retries are off (max_retries=0): ours count every attempt.
        if client is None:
            self._client = AsyncAnthropic(
                api_key=settings.anthropic_api_key,
                base_url=settings.anthropic_base_url,
                timeout=settings.llm_timeout_seconds,
                max_retries=0,
            )
            self._owns_client = True
        else:
            self._client = client.with_options(timeout=settings.llm_timeout_seconds, max_retries=0)
            self._owns_client = False
        self._base_url = str(self._client.base_url)
        self._recorder: LlmRecorder = recorder or NullRecorder()
        self._max_tokens = max_tokens
        self._backoff_base = backoff_base_seconds
        self._backoff_max = backoff_max_seconds
        self._max_retry_after = max_retry_after_seconds
        self._no_temperature: set[str] = set()

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.close()

    def _sends_temperature(self) -> bool:
        return self._model not in self._no_temperature and not self._model.startswith(
            _NO_TEMPERATURE_PREFIXES
        )

    async def generate(self, request: GenerationRequest) -> Generation:
        temperature = temperature_for(request.attempt)
        message, seconds = await self._create(request, temperature)
        usage = usage_of(getattr(message, "model", None) or self._model, getattr(message, "usage", None))
        # Billed whether or not the answer is usable.
        self._recorder.usage(self._model, usage, request.spec.spec_id)
        try:
            files, used = parse_answer(message)
        except Aborted as error:
            self._recorder.request(self._model, "malformed", seconds)
            log.warning(
                "llm_answer_malformed", task=request.task.key, attempt=request.attempt, error=str(error)
            )
            raise
        self._recorder.request(self._model, "ok", seconds)
        offered = {p.name for p in request.patterns}
        return Generation(
            files=files,
            patterns_used=tuple(n for n in used if n in offered),
            generator=self.name,
            temperature=temperature,
            usage=usage,
            reused_pattern_ids=named(request.patterns, used),
        )

    async def _create(self, request: GenerationRequest, temperature: float) -> tuple[Any, float]:
        """The message of the first HTTP 200 and its duration; failed attempts are recorded
        here, the successful one by the caller, once it knows whether the answer is usable."""
        params: dict[str, Any] = {
            "model": self._model,
            "max_tokens": self._max_tokens,
            "system": prompts.system_blocks(request),
            "messages": prompts.messages(request),
            "tools": [prompts.WRITE_FILES_TOOL],
            "tool_choice": prompts.TOOL_CHOICE,
        }
        attempts = 0
        retries = self._settings.llm_max_retries
        while True:
            # The SDK no longer types `temperature` (newer models reject it), so it goes as
            # an extra body field; the schedule 0.7/0.5/0.3 matters for models that take it.
            extra = {"temperature": temperature} if self._sends_temperature() else None
            attempts += 1
            started = time.monotonic()
            try:
                message = await self._client.messages.create(**params, extra_body=extra)
            except anthropic.APIError as error:
                elapsed = time.monotonic() - started
                outcome, retryable = _classify(error)
                self._recorder.request(self._model, outcome, elapsed)
                if extra and self._temperature_refused(error):
                    # Not a transient failure: resend at once, uncounted against retries.
                    attempts -= 1
                    continue
                wait = self._wait(attempts, error) if retryable and attempts <= retries else None
                log.warning(
                    "llm_request_failed",
                    model=self._model,
                    outcome=outcome,
                    attempt=attempts,
                    retry_in=wait,
                    error=_describe(error) if isinstance(error, anthropic.APIStatusError) else str(error),
                )
                if wait is None:
                    raise domain_error(error, attempts, self._base_url) from error
                await asyncio.sleep(wait)
                continue
            return message, time.monotonic() - started

    def _temperature_refused(self, error: Exception) -> bool:
        if not (isinstance(error, anthropic.APIStatusError) and error.status_code == 400):
            return False
        if "temperature" not in (error.api_message or error.message).lower():
            return False
        log.warning("llm_temperature_unsupported", model=self._model)
        self._no_temperature.add(self._model)
        return True

    def _wait(self, attempt: int, error: Exception) -> float | None:
        """Seconds before the next attempt, or None to give up now."""
        if isinstance(error, anthropic.APIStatusError):
            after = _retry_after(error)
            if after is not None:
                # A wait beyond the cap would hold the task hostage; failing now lets the
                # pipeline reschedule the task with the server's figure in the message.
                return after if after <= self._max_retry_after else None
        # Exponential backoff with jitter, so a wave of tasks does not retry in lockstep.
        delay = min(self._backoff_base * 2 ** (attempt - 1), self._backoff_max)
        return delay * random.uniform(0.75, 1.0)
