"""Fixtures of the patterns tests: the real embedding model (loaded once per session),
a runtime on a fresh Qdrant local-mode store, and pattern files in a temporary library."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio
import yaml
from prometheus_client import CollectorRegistry

from devmatrix.runtime.config import Settings
from devmatrix.stores.embeddings import Embedder
from services.patterns.runtime import PatternMetrics, PatternsRuntime
from services.patterns.store import VectorStore

os.environ.setdefault("HF_HUB_OFFLINE", "1")

BASE: dict[str, Any] = {
    "framework": "fastapi",
    "tags": [],
    "success_rate": 0.9,
    "test_coverage": 0.9,
    "security_level": 0.9,
    "observability": 0.8,
    "docker_ready": True,
}

# Three patterns of different subjects; the CSS one has the best metadata, so a query
# about JWT login must rank the auth pattern first on meaning alone.
SAMPLES: list[dict[str, Any]] = [
    {
        "name": "jwt-auth-login",
        "category": "security",
        "language": "python",
        "description": "User authentication: login endpoint issuing JWT access tokens, password hashing, "
        "token verification dependency.",
        "tags": ["auth", "jwt", "login", "security"],
        "code": "def login(form):\n    user = authenticate(form.username, form.password)\n"
        "    return create_access_token({'sub': user.id})\n",
        "success_rate": 0.85,
        "test_coverage": 0.8,
    },
    {
        "name": "css-grid-layout",
        "category": "project",
        "language": "text",
        "framework": "",
        "description": "Responsive page layout with CSS grid: header, sidebar and content columns, "
        "media queries for mobile.",
        "tags": ["css", "layout", "frontend"],
        "code": ".page { display: grid; grid-template-columns: 240px 1fr; }\n",
        "success_rate": 1.0,
        "test_coverage": 1.0,
        "security_level": 1.0,
        "observability": 1.0,
    },
    {
        "name": "sql-repository",
        "category": "repositories",
        "language": "python",
        "framework": "sqlalchemy",
        "description": "Repository pattern over SQLAlchemy async sessions: get, list, add and delete "
        "rows of a SQL table.",
        "tags": ["sql", "repository", "database"],
        "code": "class Repository:\n    async def get(self, id):\n        return await self.session.get(Model, id)\n",
    },
]


def pattern_file(directory: Path, fields: dict[str, Any], name: str | None = None) -> Path:
    data = BASE | fields
    path = directory / f"{name or data['name']}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def sample_library(directory: Path) -> Path:
    for sample in SAMPLES:
        pattern_file(directory / sample["category"], sample)
    return directory


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def embedder() -> Embedder:
    return await Embedder.load()


@pytest_asyncio.fixture(loop_scope="session")
async def rt(embedder: Embedder, tmp_path: Path) -> AsyncIterator[PatternsRuntime]:
    settings = Settings(data_dir=tmp_path)
    store = await VectorStore.open(settings, embedder.dimension)
    runtime = PatternsRuntime(
        embedder, store, PatternMetrics(CollectorRegistry()), settings.pattern_vector_weight
    )
    try:
        yield runtime
    finally:
        await runtime.close()
