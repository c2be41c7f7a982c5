"""The patterns service's domain: patterns, failures, similar tasks, the production score
and the checks on input, independent of protobuf and of Qdrant."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

from devmatrix.runtime.errors import FieldViolation, InvalidArgument

# Production-readiness: 40% success rate + 30% test coverage + 20% security + 10% observability.
SCORE_WEIGHTS = {"success_rate": 0.4, "test_coverage": 0.3, "security_score": 0.2, "observability_score": 0.1}
READY_THRESHOLD = 0.80

CATEGORIES = (
    "config",
    "database",
    "observability",
    "models",
    "repositories",
    "services",
    "api",
    "security",
    "testing",
    "docker",
    "project",
    "error-handling",
)
# Languages of the golden library; learned and stored patterns may also use the others.
LIBRARY_LANGUAGES = ("python", "dockerfile", "toml", "yaml", "text")
LANGUAGES = (
    *LIBRARY_LANGUAGES,
    "javascript",
    "typescript",
    "sql",
    "shell",
    "json",
    "html",
    "css",
    "markdown",
    "go",
    "rust",
    "java",
)
SOURCES = ("golden", "learned", "custom")

MAX_QUERY = 2000
MAX_NAME = 100
MAX_DESCRIPTION = 4000
MAX_CODE = 100_000
MAX_TAGS = 32
MAX_TAG = 50
MAX_FRAMEWORK = 50
MAX_REQUEST_ID = 128
MAX_ID = 128
MAX_TEXT = 8000
DEFAULT_TOP_K = 5
MAX_TOP_K = 50
# The prior success rate of a golden or stored pattern counts as this many observed uses,
# so one failure does not demote a proven pattern and one success does not promote a weak one.
PRIOR_WEIGHT = 10

NAME_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
TOKEN_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+#/ -]*$")
NAMESPACE = uuid.UUID("5b0c6a53-2f0e-4b8e-9a53-3c1f2d6d0a11")


def stable_id(kind: str, key: str) -> str:
    """A UUID derived from what identifies the thing (Qdrant ids are UUIDs or integers)."""
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{key}"))


def pattern_id(name: str) -> str:
    return stable_id("pattern", name)


def production_score(
    success_rate: float, test_coverage: float, security: float, observability: float
) -> float:
    return round(
        SCORE_WEIGHTS["success_rate"] * success_rate
        + SCORE_WEIGHTS["test_coverage"] * test_coverage
        + SCORE_WEIGHTS["security_score"] * security
        + SCORE_WEIGHTS["observability_score"] * observability,
        6,
    )


def is_ready(score: float) -> bool:
    return score >= READY_THRESHOLD - 1e-9


@dataclass
class Pattern:
    name: str
    category: str
    language: str
    description: str
    code: str
    framework: str = ""
    success_rate: float = 0.0
    test_coverage: float = 0.0
    security_score: float = 0.0
    observability_score: float = 0.0
    docker_ready: bool = False
    tags: list[str] = field(default_factory=list)
    source: str = "custom"
    usage_count: int = 0
    id: str = ""

    def __post_init__(self) -> None:
        if not self.id:
            self.id = pattern_id(self.name)

    @property
    def production_score(self) -> float:
        return production_score(
            self.success_rate, self.test_coverage, self.security_score, self.observability_score
        )

    @property
    def production_ready(self) -> bool:
        return is_ready(self.production_score)

    def embedding_text(self) -> str:
        """What the vector represents: name, kind, description and tags first (the model
        reads the first 256 word pieces), then the start of the code."""
        words = self.name.replace("-", " ")
        tags = ", ".join(self.tags)
        head = f"{words}. {self.category} {self.language} {self.framework}. {self.description}"
        return f"{head}\nTags: {tags}\n{self.code[:1000]}"


@dataclass
class PatternMatch:
    pattern: Pattern
    similarity: float
    metadata_score: float
    hybrid_score: float


@dataclass
class Failure:
    task_id: str
    attempted: str
    error: str
    lesson: str
    category: str = ""
    id: str = ""

    def embedding_text(self) -> str:
        return f"Tried: {self.attempted}\nError: {self.error}\nLesson: {self.lesson}"


@dataclass
class SimilarTask:
    task_id: str
    spec_id: str
    name: str
    description: str
    similarity: float
    success_rate: float


@dataclass
class Outcome:
    pattern: Pattern
    promoted: bool
    demoted: bool


def invalid(field_name: str, message: str) -> InvalidArgument:
    return InvalidArgument(f"{field_name}: {message}", [FieldViolation(field_name, message)])


def check_text(value: str, field_name: str, limit: int, required: bool = True) -> str:
    text = value.strip()
    if required and not text:
        raise invalid(field_name, "is required")
    if len(value) > limit:
        raise invalid(field_name, f"is longer than {limit} characters ({len(value)})")
    return text


def check_query(value: str, field_name: str = "query") -> str:
    return check_text(value, field_name, MAX_QUERY)


def check_unit(value: float, field_name: str) -> float:
    if not 0.0 <= value <= 1.0 or value != value:
        raise invalid(field_name, f"must be between 0 and 1 (got {value})")
    return float(value)


def check_top_k(value: int, field_name: str = "top_k") -> int:
    if value == 0:
        return DEFAULT_TOP_K
    if not 1 <= value <= MAX_TOP_K:
        raise invalid(
            field_name, f"must be between 1 and {MAX_TOP_K}, or 0 for {DEFAULT_TOP_K} (got {value})"
        )
    return value


def check_category(value: str, field_name: str = "category", required: bool = False) -> str:
    if not value and not required:
        return ""
    if value not in CATEGORIES:
        raise invalid(field_name, f"unknown category {value!r}; one of {', '.join(CATEGORIES)}")
    return value


def check_language(value: str, field_name: str = "language", required: bool = False) -> str:
    if not value and not required:
        return ""
    if value not in LANGUAGES:
        raise invalid(field_name, f"unknown language {value!r}; one of {', '.join(LANGUAGES)}")
    return value


def check_framework(value: str, field_name: str = "framework") -> str:
    if not value:
        return ""
    if len(value) > MAX_FRAMEWORK or not TOKEN_RE.match(value):
        raise invalid(field_name, f"{value[:60]!r} is not a framework name")
    return value


def check_request_id(value: str) -> str:
    if len(value) > MAX_REQUEST_ID:
        raise invalid("request_id", f"is longer than {MAX_REQUEST_ID} characters")
    return value


def check_id(value: str, field_name: str) -> str:
    text = value.strip()
    if not text:
        raise invalid(field_name, "is required")
    if len(text) > MAX_ID:
        raise invalid(field_name, f"is longer than {MAX_ID} characters")
    return text


def check_pattern(p: Pattern, prefix: str = "pattern.") -> Pattern:
    """Every field of a pattern a client wants stored; raises InvalidArgument naming the field."""
    if not p.name or len(p.name) > MAX_NAME or not NAME_RE.match(p.name):
        raise invalid(f"{prefix}name", "must be kebab-case (a-z, 0-9, single dashes), at most 100 characters")
    check_category(p.category, f"{prefix}category", required=True)
    check_language(p.language, f"{prefix}language", required=True)
    check_framework(p.framework, f"{prefix}framework")
    p.description = check_text(p.description, f"{prefix}description", MAX_DESCRIPTION)
    check_text(p.code, f"{prefix}code", MAX_CODE)
    for name in ("success_rate", "test_coverage", "security_score", "observability_score"):
        check_unit(getattr(p, name), f"{prefix}{name}")
    if len(p.tags) > MAX_TAGS:
        raise invalid(f"{prefix}tags", f"at most {MAX_TAGS} tags")
    for tag in p.tags:
        if not tag.strip() or len(tag) > MAX_TAG:
            raise invalid(f"{prefix}tags", f"tags are non-empty, at most {MAX_TAG} characters")
    return p
