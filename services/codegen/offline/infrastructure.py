"""Entity-independent application modules, adapted from the golden patterns.

What changes against the golden code, and why:
* module paths follow the planner's layout (see golden.MODULE_MOVES);
* no authentication: the spec has no user entity, so the JWT settings, token
  checks and auth routes are left out;
* the database URL is `DATABASE_URL` and may use psycopg 3 or aiosqlite, with
  per-driver connection options (the golden engine passes asyncpg-only options);
* the service base maps integrity errors raised by a repository's flush too;
* the repository reads rows fresh, because ON DELETE CASCADE deletes rows the
  session's identity map still holds;
* Alembic's env accepts a connection from its caller, so tests migrate in their
  own event loop.
"""

from __future__ import annotations

from services.codegen.offline import files as b
from services.codegen.offline.design import ProjectDesign, doc_text
from services.codegen.offline.files import ProjectFile
from services.codegen.offline.golden import GoldenPattern, edit, move_modules

# Golden modules used as they are (after the module moves).
VERBATIM: tuple[tuple[str, str], ...] = (
    ("domain-exceptions", b.ERRORS),
    ("structlog-setup", b.SCAFFOLD),
    ("request-id-middleware", b.SCAFFOLD),
    ("security-headers", b.SCAFFOLD),
    ("cors-config", b.SCAFFOLD),
    ("html-sanitization", b.SCAFFOLD),
    ("retry-with-backoff", b.DATABASE),
    ("timezone-aware-datetimes", b.DATABASE),
    ("strict-mode-schemas", b.SCAFFOLD),
    ("exception-handlers", b.ERRORS),
)
# Golden path -> generated path for modules whose file moves.
PATH_MOVES = {
    "app/core/config.py": "app/config.py",
    "app/db/session.py": "app/db.py",
    "app/api/errors.py": "app/errors.py",
    "app/api/deps.py": "app/deps.py",
    "app/api/routes/health.py": "app/routes/health.py",
    "alembic/env.py": "migrations/env.py",
    "alembic/script.py.mako": "migrations/script.py.mako",
}
ASYNC_DRIVERS = ("postgresql+psycopg://", "postgresql+asyncpg://", "sqlite+aiosqlite://")


def _file(pattern: GoldenPattern, content: str, bundle: str, *extra: str) -> ProjectFile:
    path = PATH_MOVES.get(pattern.path, pattern.path)
    return ProjectFile(path, content, bundle, (pattern.name, *extra))


def probe_paths(design: ProjectDesign) -> tuple[str, ...]:
    """Paths the probes answer on: the golden two plus the spec's own health paths."""
    return tuple(sorted({"/health/live", "/health/ready", *design.health_paths}))


def _config(p: GoldenPattern, design: ProjectDesign) -> str:
    return edit(
        p.name,
        move_modules(p.code),
        (
            "from pydantic import Field, SecretStr,",
            "from pydantic import AliasChoices, Field, SecretStr,",
        ),
        ('app_name: str = Field(default="service"', f'app_name: str = Field(default="{design.slug}"'),
        ('api_prefix: str = "/api/v1"', f'api_prefix: str = "{design.api_prefix}"'),
        (
            "    # --- database (async SQLAlchemy + asyncpg) -----------------------------\n"
            "    database_url: SecretStr = Field(\n"
            '        description="postgresql+asyncpg://user:password@host:5432/dbname",\n'
            "    )\n",
            "    # --- database (async SQLAlchemy: psycopg 3 or aiosqlite) ----------------\n"
            "    # DATABASE_URL without the APP_ prefix: the name platforms and tools expect.\n"
            "    database_url: SecretStr = Field(\n"
            '        validation_alias=AliasChoices("DATABASE_URL", "APP_DATABASE_URL"),\n'
            '        description="postgresql+psycopg://user:password@host:5432/dbname",\n'
            "    )\n",
        ),
        (
            '    jwt_secret_key: SecretStr = Field(description="At least 32 random characters.")\n'
            '    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"\n'
            '    jwt_issuer: str = "service"\n'
            '    jwt_audience: str = "service-api"\n'
            "    access_token_expire_minutes: int = Field(default=30, ge=1, le=24 * 60)\n",
            "",
        ),
        (
            "    def _require_asyncpg_driver(cls, value: SecretStr) -> SecretStr:\n"
            "        url = value.get_secret_value()\n"
            '        if not url.startswith("postgresql+asyncpg://"):\n'
            '            raise ValueError("database_url must use the async driver: postgresql+asyncpg://...")\n'
            "        return value\n\n"
            '    @field_validator("jwt_secret_key")\n'
            "    @classmethod\n"
            "    def _require_strong_secret(cls, value: SecretStr) -> SecretStr:\n"
            "        if len(value.get_secret_value()) < 32:\n"
            '            raise ValueError("jwt_secret_key must be at least 32 characters long")\n'
            "        return value\n",
            "    def _require_async_driver(cls, value: SecretStr) -> SecretStr:\n"
            "        url = value.get_secret_value()\n"
            "        if not url.startswith(ASYNC_DRIVERS):\n"
            "            raise ValueError(f\"database_url must use an async driver: {', '.join(ASYNC_DRIVERS)}\")\n"
            "        return value\n",
        ),
        (
            'Environment = Literal["development", "test", "staging", "production"]\n',
            'Environment = Literal["development", "test", "staging", "production"]\n'
            "ASYNC_DRIVERS = (" + ", ".join(f'"{d}"' for d in ASYNC_DRIVERS) + ")\n",
        ),
    )


_ENGINE_HELPERS = '''

def engine_options(url: str, settings: Settings) -> dict[str, Any]:
    """Pool and connection options for the driver in ``url``.

    SQLite has no server: no pool sizing, no statement timeout. PostgreSQL gets a
    bounded pool and a server-side statement timeout, named in pg_stat_activity.
    """
    if url.startswith("sqlite"):
        return {}
    if url.startswith("postgresql+asyncpg"):
        connect_args: dict[str, Any] = {
            "server_settings": {
                "application_name": settings.app_name,
                "statement_timeout": str(settings.db_statement_timeout_ms),
            }
        }
    else:
        connect_args = {
            "application_name": settings.app_name,
            "options": f"-c statement_timeout={settings.db_statement_timeout_ms}",
        }
    return {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_max_overflow,
        "pool_timeout": settings.db_pool_timeout_seconds,
        "pool_pre_ping": True,  # drop connections the server or a proxy closed
        "pool_recycle": 1800,
        "connect_args": connect_args,
    }


def enable_sqlite_transactions(engine: AsyncEngine) -> None:
    """Make SQLite enforce foreign keys and run real BEGIN / SAVEPOINT transactions.

    The sqlite3 driver starts transactions on its own and breaks savepoints, and
    SQLite ignores foreign keys (so ON DELETE CASCADE) unless asked per connection.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN")
'''


def _db(p: GoldenPattern) -> str:
    code = edit(
        p.name,
        move_modules(p.code),
        (
            '"""Async SQLAlchemy 2.x engine and session factory (asyncpg driver).',
            '"""Async SQLAlchemy 2.x engine and session factory (psycopg 3 or aiosqlite driver).',
        ),
        ("from functools import lru_cache\n", "from functools import lru_cache\nfrom typing import Any\n"),
        ("from sqlalchemy import text\n", "from sqlalchemy import event, text\n"),
        ("from app.config import get_settings\n", "from app.config import Settings, get_settings\n"),
        (
            "    settings = get_settings()\n"
            "    return create_async_engine(\n"
            "        settings.database_url.get_secret_value(),\n"
            "        echo=settings.db_echo,\n"
            "        pool_size=settings.db_pool_size,\n"
            "        max_overflow=settings.db_max_overflow,\n"
            "        pool_timeout=settings.db_pool_timeout_seconds,\n"
            "        pool_pre_ping=True,  # drop connections the server or a proxy closed\n"
            "        pool_recycle=1800,\n"
            "        connect_args={\n"
            '            "server_settings": {\n'
            '                "application_name": settings.app_name,\n'
            '                "statement_timeout": str(settings.db_statement_timeout_ms),\n'
            "            },\n"
            "        },\n"
            "    )\n",
            "    settings = get_settings()\n"
            "    url = settings.database_url.get_secret_value()\n"
            "    engine = create_async_engine(url, echo=settings.db_echo, **engine_options(url, settings))\n"
            '    if url.startswith("sqlite"):\n'
            "        enable_sqlite_transactions(engine)\n"
            "    return engine\n",
        ),
    )
    return code.rstrip("\n") + "\n" + _ENGINE_HELPERS


def _main(p: GoldenPattern, design: ProjectDesign) -> str:
    modules = sorted(["health", *(r.snake for r in design.resources)])
    routers = "".join(
        f"    app.include_router({r.snake}.router, prefix=settings.api_prefix)\n" for r in design.resources
    )
    return edit(
        p.name,
        move_modules(p.code),
        ("from app.routes import auth, health, items\n", f"from app.routes import {', '.join(modules)}\n"),
        (
            "    app.include_router(auth.router, prefix=settings.api_prefix)\n"
            "    app.include_router(items.router, prefix=settings.api_prefix)\n",
            routers,
        ),
    )


def _health(p: GoldenPattern, design: ProjectDesign) -> str:
    extra = [path for path in design.health_paths if path not in ("/health/live", "/health/ready")]
    live_aliases = "".join(
        f'@router.get("{path}", response_model=HealthResponse)\n' for path in extra if "ready" not in path
    )
    ready_aliases = "".join(
        f'@router.get("{path}", response_model=HealthResponse)\n' for path in extra if "ready" in path
    )
    return edit(
        p.name,
        move_modules(p.code),
        ('router = APIRouter(prefix="/health", tags=["health"])', 'router = APIRouter(tags=["health"])'),
        (
            '@router.get("/live", response_model=HealthResponse)\n',
            f'@router.get("/health/live", response_model=HealthResponse)\n{live_aliases}',
        ),
        ('@router.get(\n    "/ready",', f'{ready_aliases}@router.get(\n    "/health/ready",'),
        (
            "async def live() -> HealthResponse:\n",
            'async def live() -> HealthResponse:\n    """Liveness: the process answers; dependencies are not checked."""\n',
        ),
        (
            "async def ready(response: Response) -> HealthResponse:\n",
            "async def ready(response: Response) -> HealthResponse:\n"
            '    """Readiness: 200 when every dependency answers in time, else 503."""\n',
        ),
    )


def _exempt(p: GoldenPattern, code: str, old: str, design: ProjectDesign) -> str:
    paths = ", ".join(f'"{path}"' for path in sorted({"/metrics", *probe_paths(design)}))
    return edit(p.name, code, (old, old.split("{")[0] + "{" + paths + "})"))


def _metrics(p: GoldenPattern, design: ProjectDesign) -> str:
    old = '_EXCLUDED_PATHS = frozenset({"/metrics", "/health/live", "/health/ready"})'
    return _exempt(p, move_modules(p.code), old, design)


def _rate_limit(p: GoldenPattern, design: ProjectDesign) -> str:
    old = 'EXEMPT_PATHS = frozenset({"/health/live", "/health/ready", "/metrics"})'
    return _exempt(p, move_modules(p.code), old, design)


def _models_base(p: GoldenPattern) -> str:
    return edit(
        p.name,
        p.code,
        (
            "from sqlalchemy import MetaData, Uuid, func\n",
            "from sqlalchemy import Integer, MetaData, Uuid, func\n",
        ),
        (
            "class TimestampMixin:\n",
            "class IntegerPrimaryKeyMixin:\n"
            '    """Database-generated integer ids, for resources the spec gives numeric ids."""\n\n'
            "    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)\n\n\n"
            "class TimestampMixin:\n",
        ),
    )


def _repository_base(p: GoldenPattern) -> str:
    return edit(
        p.name,
        move_modules(p.code),
        (
            'ModelT = TypeVar("ModelT", bound=Base)\n',
            'ModelT = TypeVar("ModelT", bound=Base)\n# Integer ids by default; UUID ids for resources the spec gives UUIDs.\n'
            "EntityId = int | uuid.UUID\n",
        ),
        (
            "    async def get(self, entity_id: uuid.UUID) -> ModelT | None:\n"
            "        return await self.session.get(self.model, entity_id)\n",
            "    async def get(self, entity_id: EntityId) -> ModelT | None:\n"
            '        """The row with ``entity_id``, or None."""\n'
            "        # populate_existing: ON DELETE CASCADE removes rows behind the identity map's back.\n"
            "        return await self.session.get(self.model, entity_id, populate_existing=True)\n",
        ),
        (
            "    async def get_or_raise(self, entity_id: uuid.UUID) -> ModelT:\n",
            "    async def get_or_raise(self, entity_id: EntityId) -> ModelT:\n",
        ),
    )


def _service_base(p: GoldenPattern) -> str:
    return edit(
        p.name,
        move_modules(p.code),
        (
            "        try:\n            yield self.session\n        except BaseException:\n",
            "        try:\n"
            "            yield self.session\n"
            "        except IntegrityError as exc:\n"
            "            # Repositories flush inside the unit of work, so a constraint can fail\n"
            "            # before commit(); it is the same conflict.\n"
            "            await self.session.rollback()\n"
            '            self.log.info("integrity_conflict", constraint=getattr(exc.orig, "constraint_name", None))\n'
            '            raise ConflictError("The change conflicts with existing data.") from exc\n'
            "        except BaseException:\n",
        ),
    )


def application_files(golden: dict[str, GoldenPattern], design: ProjectDesign) -> list[ProjectFile]:
    """app/ modules that do not depend on the entities (main.py lists the routers)."""
    g = golden
    found = [_file(g[name], move_modules(g[name].code), bundle) for name, bundle in VERBATIM]
    found += [
        _file(g["pydantic-settings-config"], _config(g["pydantic-settings-config"], design), b.SCAFFOLD),
        _file(g["sqlalchemy-async-engine"], _db(g["sqlalchemy-async-engine"]), b.DATABASE),
        _file(g["app-factory"], _main(g["app-factory"], design), b.SCAFFOLD),
        _file(g["health-checks"], _health(g["health-checks"], design), b.HEALTH),
        _file(g["prometheus-metrics"], _metrics(g["prometheus-metrics"], design), b.SCAFFOLD),
        _file(g["rate-limiting"], _rate_limit(g["rate-limiting"], design), b.SCAFFOLD),
        _file(g["async-declarative-base"], _models_base(g["async-declarative-base"]), b.DATABASE),
        _file(g["generic-repository"], _repository_base(g["generic-repository"]), b.DATABASE),
        _file(g["base-service"], _service_base(g["base-service"]), b.DATABASE),
    ]
    for path, bundle, doc in (
        ("app/__init__.py", b.SCAFFOLD, f"{doc_text(design.title)}: the FastAPI application."),
        (
            "app/core/__init__.py",
            b.SCAFFOLD,
            "Cross-cutting infrastructure: logging, metrics, middleware, errors.",
        ),
        ("app/routes/__init__.py", b.SCAFFOLD, "HTTP routers, one module per resource."),
        ("app/repositories/__init__.py", b.DATABASE, "Queries, one repository per model."),
        ("app/services/__init__.py", b.DATABASE, "Use cases and transactions, one service per resource."),
        ("app/schemas/__init__.py", b.SCAFFOLD, "Request and response schemas."),
    ):
        found.append(ProjectFile(path, f'"""{doc}"""\n', bundle))
    return found
