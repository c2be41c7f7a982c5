"""Migrations environment, container, compose stack and project files from the golden
patterns. The golden stack is PostgreSQL through asyncpg; the generated one uses
psycopg 3 (the driver the platform runs its own tests with), or SQLite through
aiosqlite when the spec's stack says SQLite, and has no JWT secret (no auth)."""

from __future__ import annotations

from services.codegen.offline import files as b
from services.codegen.offline.design import ProjectDesign, doc_text
from services.codegen.offline.files import ProjectFile
from services.codegen.offline.golden import GoldenPattern, cut, edit, move_modules

PSYCOPG = "psycopg[binary]>=3.2,<4"
AIOSQLITE = "aiosqlite>=0.20,<1"
SQLITE_URL = "sqlite+aiosqlite:////data/app.db"


def _env_py(p: GoldenPattern) -> str:
    return edit(
        p.name,
        move_modules(p.code),
        (
            '"""Alembic environment for async SQLAlchemy (asyncpg).',
            '"""Alembic environment for async SQLAlchemy.',
        ),
        (
            "via ``connection.run_sync``.\n",
            "via ``connection.run_sync``; a caller that already holds a connection (the\n"
            'tests) passes it as ``config.attributes["connection"]`` and migrations run on it.\n',
        ),
        (
            '# Escape "%" because ConfigParser treats it as interpolation syntax.\n'
            "database_url = get_settings().database_url.get_secret_value()\n"
            'config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))\n\n',
            "",
        ),
        (
            "    context.configure(\n        url=database_url,\n",
            "    context.configure(\n        url=get_settings().database_url.get_secret_value(),\n",
        ),
        (
            "    # NullPool: a migration is a one-off process; do not keep idle connections.\n",
            '    # Escape "%" because ConfigParser treats it as interpolation syntax.\n'
            "    database_url = get_settings().database_url.get_secret_value()\n"
            '    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))\n'
            "    # NullPool: a migration is a one-off process; do not keep idle connections.\n",
        ),
        (
            "if context.is_offline_mode():\n    run_migrations_offline()\nelse:\n",
            'given_connection = config.attributes.get("connection")\n'
            "if context.is_offline_mode():\n    run_migrations_offline()\n"
            "elif given_connection is not None:\n    _run_sync_migrations(given_connection)\nelse:\n",
        ),
    )


def _alembic_ini(p: GoldenPattern) -> str:
    return edit(
        p.name,
        p.code,
        (
            "# reads it from the application settings (APP_DATABASE_URL)",
            "# reads it from the application settings (DATABASE_URL)",
        ),
        (
            "# Alembic configuration. The database URL is deliberately absent: alembic/env.py",
            "# Alembic configuration. The database URL is deliberately absent: migrations/env.py",
        ),
        ("script_location = %(here)s/alembic", "script_location = %(here)s/migrations"),
    )


def _dockerfile(p: GoldenPattern, design: ProjectDesign) -> str:
    return edit(
        p.name,
        p.code,
        ("pip uninstall -y service", f"pip uninstall -y {design.slug}"),
        ("COPY --chown=app:app alembic ./alembic", "COPY --chown=app:app migrations ./migrations"),
    )


def _compose(p: GoldenPattern, design: ProjectDesign) -> str:
    code = edit(
        p.name,
        p.code,
        ("name: service\n", f"name: {design.slug}\n"),
        ("  APP_JWT_SECRET_KEY: ${APP_JWT_SECRET_KEY:?set APP_JWT_SECRET_KEY in .env}\n", ""),
        ("  APP_DATABASE_URL: postgresql+asyncpg://", "  DATABASE_URL: postgresql+psycopg://"),
    )
    if design.database != "sqlite":
        return code
    code = edit(
        p.name,
        cut(p.name, code, "  db:\n", "  migrate:\n"),
        (
            "# Full local stack: PostgreSQL, a one-shot migration job, the API and Prometheus.",
            "# Local stack: a one-shot migration job, the API and Prometheus; SQLite lives in a volume.",
        ),
        (
            "  DATABASE_URL: postgresql+psycopg://${POSTGRES_USER:-app}:${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in .env}@db:5432/${POSTGRES_DB:-app}\n",
            f"  DATABASE_URL: {SQLITE_URL}\n",
        ),
        (
            '    depends_on:\n      db:\n        condition: service_healthy\n    restart: "no"\n',
            '    volumes:\n      - app-data:/data\n    restart: "no"\n',
        ),
        ("    read_only: true\n", "    read_only: true\n    volumes:\n      - app-data:/data\n"),
        ("volumes:\n  db-data:\n", "volumes:\n  app-data:\n"),
    )
    return code


def _env_example(p: GoldenPattern, design: ProjectDesign) -> str:
    code = edit(
        p.name,
        p.code,
        ("APP_APP_NAME=service\n", f"APP_APP_NAME={design.slug}\n"),
        ("APP_API_PREFIX=/api/v1\n", f"APP_API_PREFIX={design.api_prefix}\n"),
        ("# start-up by app/core/config.py,", "# start-up by app/config.py,"),
        (
            "# --- database (docker compose builds APP_DATABASE_URL",
            "# --- database (docker compose builds DATABASE_URL",
        ),
        ("APP_DATABASE_URL=postgresql+asyncpg://", "DATABASE_URL=postgresql+psycopg://"),
        ("TEST_DATABASE_URL=postgresql+asyncpg://", "TEST_DATABASE_URL=postgresql+psycopg://"),
        (
            "# Tests use their own database (created by `make test-db`).\n",
            "# Tests use their own database (created by `make test-db`); unset, they use in-memory SQLite.\n",
        ),
    )
    code = cut(p.name, code, "# Generate with: python -c", "# Comma separated exact origins")
    if design.database == "sqlite":
        code = cut(p.name, code, "# --- database (docker compose", "# --- security ---")
        code = edit(
            p.name,
            code,
            (
                "# --- security ---",
                "# --- database ---\nDATABASE_URL=sqlite+aiosqlite:///./app.db\n\n# --- security ---",
            ),
        )
    return code


def _pyproject(p: GoldenPattern, design: ProjectDesign) -> str:
    driver = AIOSQLITE if design.database == "sqlite" else PSYCOPG
    dev_extra = "" if design.database == "sqlite" else f'    "{AIOSQLITE}",\n'
    return edit(
        p.name,
        p.code,
        ('name = "service"', f'name = "{design.slug}"'),
        (
            'description = "FastAPI service generated from production patterns"',
            f'description = "{doc_text(design.title)}: FastAPI service generated from production patterns"',
        ),
        ('    "asyncpg>=0.29,<1",\n', f'    "{driver}",\n'),
        ('    "pyjwt>=2.8,<3",\n', ""),
        ('    "httpx>=0.27,<1",\n', f'    "httpx>=0.27,<1",\n{dev_extra}'),
        ('extend-exclude = ["alembic/versions"]', 'extend-exclude = ["migrations/versions"]'),
        (
            '# The migrations folder is named "alembic" too; the import means the library.\n'
            'known-third-party = ["alembic"]\n',
            "",
        ),
    )


def _makefile(p: GoldenPattern, design: ProjectDesign) -> str:
    if design.database != "sqlite":
        return p.code
    return cut(p.name, p.code, "test-db: ## Start PostgreSQL", "test: ## Run the test suite")


def deployment_files(golden: dict[str, GoldenPattern], design: ProjectDesign) -> list[ProjectFile]:
    """Migrations environment, Docker, compose and project configuration files."""
    g = golden

    def made(name: str, path: str, content: str, bundle: str) -> ProjectFile:
        return ProjectFile(path, content, bundle, (name,))

    return [
        made("alembic-setup", "migrations/env.py", _env_py(g["alembic-setup"]), b.DATABASE),
        made("alembic-ini", "alembic.ini", _alembic_ini(g["alembic-ini"]), b.DATABASE),
        made(
            "alembic-script-template",
            "migrations/script.py.mako",
            g["alembic-script-template"].code,
            b.DATABASE,
        ),
        made(
            "multistage-dockerfile",
            "Dockerfile",
            _dockerfile(g["multistage-dockerfile"], design),
            b.CONTAINER,
        ),
        made("dockerignore", ".dockerignore", g["dockerignore"].code, b.CONTAINER),
        made(
            "docker-compose-full-stack",
            "docker-compose.yml",
            _compose(g["docker-compose-full-stack"], design),
            b.COMPOSE,
        ),
        made(
            "prometheus-scrape-config", "docker/prometheus.yml", g["prometheus-scrape-config"].code, b.COMPOSE
        ),
        made("env-example", ".env.example", _env_example(g["env-example"], design), b.COMPOSE),
        made("gitignore", ".gitignore", g["gitignore"].code, b.SCAFFOLD),
        made("makefile", "Makefile", _makefile(g["makefile"], design), b.SCAFFOLD),
        made("pyproject-toml", "pyproject.toml", _pyproject(g["pyproject-toml"], design), b.SCAFFOLD),
    ]
