"""The codegen service's domain metrics; the LLM half backs the Anthropic generator's
recorder, so every HTTP attempt and every billed token is counted."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from services.codegen.domain import Usage

GENERATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
SCORE_BUCKETS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)
LLM_BUCKETS = (0.5, 1, 2.5, 5, 10, 20, 40, 80, 160)


class CodegenMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.generations = Counter(
            "devmatrix_codegen_generations",
            "GenerateCode calls by generator, task kind and result (passed, failed, error).",
            ("generator", "kind", "result"),
            registry=registry,
        )
        self.seconds = Histogram(
            "devmatrix_codegen_generation_seconds",
            "Time of one GenerateCode call, all attempts included.",
            ("generator", "kind"),
            buckets=GENERATION_BUCKETS,
            registry=registry,
        )
        self.attempts = Counter(
            "devmatrix_codegen_attempts",
            "Generation attempts, repairs included.",
            ("generator",),
            registry=registry,
        )
        self.score = Histogram(
            "devmatrix_codegen_validation_score",
            "Overall skills score of the returned code.",
            ("kind",),
            buckets=SCORE_BUCKETS,
            registry=registry,
        )
        self.llm_requests = Counter(
            "devmatrix_codegen_llm_requests",
            "LLM HTTP attempts by model and outcome (ok, rate_limited, server_error, timeout ...).",
            ("model", "outcome"),
            registry=registry,
        )
        self.llm_seconds = Histogram(
            "devmatrix_codegen_llm_request_seconds",
            "Duration of one LLM HTTP attempt.",
            ("model",),
            buckets=LLM_BUCKETS,
            registry=registry,
        )
        self.llm_tokens = Counter(
            "devmatrix_codegen_llm_tokens",
            "LLM tokens billed, by type (input, output, cache_read, cache_write).",
            ("model", "type"),
            registry=registry,
        )
        self.llm_cost = Counter(
            "devmatrix_codegen_llm_cost_usd",
            "LLM cost in US dollars, by spec.",
            ("model", "spec_id"),
            registry=registry,
        )

    # -- the Anthropic generator's recorder --------------------------------------------

    def request(self, model: str, outcome: str, seconds: float) -> None:
        self.llm_requests.labels(model, outcome).inc()
        self.llm_seconds.labels(model).observe(seconds)

    def usage(self, model: str, usage: Usage, spec_id: str) -> None:
        for kind, count in (
            ("input", usage.input_tokens),
            ("output", usage.output_tokens),
            ("cache_read", usage.cache_read_tokens),
            ("cache_write", usage.cache_write_tokens),
        ):
            self.llm_tokens.labels(model, kind).inc(count)
        self.llm_cost.labels(model, spec_id).inc(usage.cost_usd)
