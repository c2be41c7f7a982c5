"""Cross-cutting concerns a requirement or constraint can name, and the evidence of each
in a composed project.

A concern is recognised in the spec's words (pagination, validation, latency...) and
found in the generated files by what the code really contains (`MAX_PAGE_SIZE`, the
422 handler, the latency histogram), never assumed: a concern the project has no
evidence of traces to nothing, so the documents say so instead of claiming coverage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ANY = re.compile(r"")


@dataclass(frozen=True)
class Concern:
    name: str
    # Recognised in the requirement or constraint text (lower-cased).
    words: re.Pattern[str]
    # Evidence: generated files whose path matches `paths` and whose content matches `content`.
    content: re.Pattern[str]
    paths: re.Pattern[str] = _ANY
    # Generated test functions that exercise it, by name.
    tests: re.Pattern[str] | None = None
    # How to verify it when no generated test does (or beyond what they do).
    check: str = ""


def _re(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


CONCERNS: tuple[Concern, ...] = (
    Concern(
        "pagination",
        _re(r"paginat|\blimit\b|page size|\bpages?\b"),
        _re(r"MAX_PAGE_SIZE"),
        _re(r"^app/"),
        _re(r"paginat"),
        "list endpoints take `limit` (1..MAX_PAGE_SIZE) and `offset` query parameters",
    ),
    Concern(
        "input validation",
        _re(r"validat|\b422\b|invalid|malformed"),
        _re(r"RequestValidationError|\b422\b"),
        _re(r"^app/"),
        _re(r"rejects_invalid|_422$|without_fields"),
    ),
    Concern(
        "uniqueness",
        _re(r"\bunique|duplicate|conflict|\b409\b"),
        _re(r"unique=True|\b409\b"),
        _re(r"^app/"),
        _re(r"unique|_409$|taken"),
    ),
    Concern(
        "cascading delete",
        _re(r"delet\w*\b.*\b(?:delet|remov)|cascad"),
        _re(r'ondelete="CASCADE"'),
        _re(r"^(?:app|migrations)/"),
        _re(r"delet\w*_.*_delet"),
    ),
    Concern(
        "ordering",
        _re(r"oldest first|newest first|\bsort|order(?:ed)? by|chronolog"),
        _re(r"\.order_by\("),
        _re(r"^app/repositories/"),
        _re(r"order|oldest|newest|sort"),
    ),
    Concern(
        "health probes",
        _re(r"health|liveness|readiness|\bprobes?\b"),
        _re(r"/health"),
        _re(r"^app/routes/"),
        _re(r"health|probe"),
    ),
    Concern(
        "latency",
        _re(r"\bp\d{2}\b|latency|response time|\d+\s*ms\b|throughput"),
        _re(r"http_request_duration_seconds"),
        _re(r"^app/core/"),
        None,
        "load-test the running service and read the percentile from the "
        "`http_request_duration_seconds` histogram served on `/metrics`; no generated test measures latency",
    ),
    Concern(
        "metrics",
        _re(r"\bmetrics?\b|prometheus|monitor"),
        _re(r"http_requests_total"),
        _re(r"^app/core/"),
        _re(r"metrics"),
    ),
    Concern(
        "request ids",
        _re(r"request.?ids?\b|correlation.?ids?\b"),
        _re(r"X-Request-ID"),
        _re(r"^app/core/request_id\.py$"),
        # The probe test sends an X-Request-ID and expects it echoed.
        _re(r"health_metrics"),
    ),
    Concern(
        "logging",
        _re(r"\blog(?:s|ging)?\b|tracing"),
        _re(r"structlog"),
        _re(r"^app/core/"),
        None,
        "every log line is structlog JSON carrying the request id; check the service output",
    ),
    Concern(
        "rate limiting",
        _re(r"rate.?limit|throttl|too many requests|\b429\b"),
        _re(r"\b429\b"),
        _re(r"^app/core/"),
        None,
        "send more requests than the limit allows and expect 429",
    ),
    Concern(
        "authentication",
        _re(r"\bauth\b|authenticat|authori[sz]at|bearer|\btokens?\b|login|password|permission|\broles?\b"),
        _re(r"HTTPBearer|OAuth2|verify_token|get_current_user"),
        _re(r"^app/"),
        _re(r"auth|token|unauthori[sz]ed|_401$"),
    ),
    Concern(
        "timestamps",
        _re(r"\butc\b|timezone|iso.?8601|timestamps?"),
        _re(r"timezone=True"),
        _re(r"^app/models/"),
        _re(r"aware_timestamps"),
    ),
    Concern(
        "container",
        _re(r"docker|container|kubernetes|\bk8s\b|\bimage\b|deploy"),
        _re(r"(?i)healthcheck"),
        _re(r"^(?:Dockerfile|docker-compose\.yml)$"),
        None,
        "`docker compose up --build` starts the stack and its health checks turn healthy",
    ),
    Concern(
        "test coverage",
        _re(r"coverage"),
        _re(r"pytest-cov"),
        _re(r"^pyproject\.toml$"),
        None,
        "`pytest --cov=app` reports the line coverage of the application package",
    ),
    Concern(
        "cross-origin requests",
        _re(r"\bcors\b|cross.origin"),
        _re(r"CORSMiddleware"),
        _re(r"^app/"),
    ),
    Concern(
        "html sanitising",
        _re(r"\bxss\b|sanitis|sanitiz|\bhtml\b|security headers?"),
        _re(r"(?i)sanitize|security_headers"),
        _re(r"^app/core/"),
        _re(r"security_headers"),
    ),
    Concern(
        "migrations",
        _re(r"migrat|schema change"),
        _re(r"op\.create_table"),
        _re(r"^migrations/versions/"),
        _re(r"migrat|downgrade"),
    ),
    Concern(
        "configuration",
        _re(r"environment variable|configur|\benv\b|secrets?\b"),
        _re(r"BaseSettings"),
        _re(r"^app/config\.py$"),
        None,
        "settings are read from environment variables and validated at start (`app/config.py`)",
    ),
)

# Lazy loading is verified by what the models lack: no relationship() means no lazy load.
LAZY_LOADING = re.compile(r"lazy|n\s*\+\s*1|eager|joinedload|selectinload")
RELATIONSHIP = re.compile(r"\brelationship\(")


def concerns_in(text: str) -> list[Concern]:
    lowered = text.lower()
    return [c for c in CONCERNS if c.words.search(lowered)]
