"""README and design documents, written from the spec and the composed project."""

from __future__ import annotations

from services.codegen.offline import files as b
from services.codegen.offline.design import ProjectDesign
from services.codegen.offline.files import ProjectFile
from services.codegen.offline.infrastructure import probe_paths
from services.codegen.offline.migrations import revision_id


def _endpoint_rows(design: ProjectDesign) -> list[str]:
    rows = []
    for r in design.resources:
        for route in r.routes:
            rows.append(
                f"| {route.method} | `{design.api_prefix}{route.path}` | {route.description or route.op} |"
            )
    rows += [f"| GET | `{path}` | probe |" for path in probe_paths(design)]
    return rows


def readme(design: ProjectDesign) -> str:
    stack = "\n".join(f"- {key}: {value}" if value else f"- {key}" for key, value in design.tech_stack)
    unsupported = "\n".join(f"- `{e.method} {e.path}` {e.description}".rstrip() for e in design.unsupported)
    database = (
        "SQLite through aiosqlite (`DATABASE_URL=sqlite+aiosqlite:///./app.db`)"
        if design.database == "sqlite"
        else "PostgreSQL through psycopg 3 (`DATABASE_URL=postgresql+psycopg://user:password@host:5432/db`)"
    )
    parts = [
        f"# {design.title}\n",
        design.overview.strip() + "\n" if design.overview.strip() else "",
        "## Stack\n",
        (stack + "\n") if stack else "- FastAPI, SQLAlchemy 2 (async), Alembic, Pydantic v2\n",
        "## Setup\n",
        "```bash\nmake install\ncp .env.example .env   # then set DATABASE_URL\nmake migrate\nmake run\n```\n",
        f"Configuration comes from environment variables (see `.env.example`), validated at start by "
        f"`app/config.py`. The database is {database}.\n",
        "## Running the tests\n",
        "```bash\npytest                                   # in-memory SQLite\n"
        "TEST_DATABASE_URL=postgresql+psycopg://app:secret@localhost:5432/app_test pytest\n```\n",
        "The tests build the schema with the Alembic migrations and roll every test back.\n",
        "## API\n",
        "| Method | Path | Description |\n|---|---|---|\n" + "\n".join(_endpoint_rows(design)) + "\n",
        "Errors are `application/problem+json` bodies with a stable `code`; invalid input is 422 with the\n"
        "offending fields, unknown ids are 404, unique clashes 409.\n",
        "## Operations\n",
        "Logs are structlog JSON carrying the `X-Request-ID`; Prometheus metrics are served on `/metrics`;\n"
        "`/health/live` and `/health/ready` are the probes. `docker compose up --build` runs the stack.\n",
        "Authentication is not generated: the spec defines no user entity.\n",
    ]
    if unsupported:
        parts += [
            "## Not generated\n",
            "These endpoints do not map onto the data model and need hand-written code:\n",
            unsupported + "\n",
        ]
    return "\n".join(p for p in parts if p)


def data_model_doc(design: ProjectDesign) -> str:
    lines = ["# Data model\n"]
    for i, r in enumerate(design.resources, 1):
        lines.append(f"## {r.name} (`{r.table}`, migration `{revision_id(i, r)}`)\n")
        if r.description:
            lines.append(r.description + "\n")
        lines.append("| Column | Kind | Null | Spec |\n|---|---|---|---|")
        lines.append(f"| id | {r.pk_kind} | no | primary key |")
        for c in r.columns:
            kind = f"-> {c.references}" if c.references else c.kind
            lines.append(f"| {c.name} | {kind} | {'yes' if c.nullable else 'no'} | {c.spec_text} |")
        lines.append("| created_at, updated_at | datetime (UTC) | no | set by the database |\n")
    for link in design.links:
        lines.append(f"## {link.table}\n\nLinks {link.owner} and {link.item} (many to many).\n")
    return "\n".join(lines)


def api_doc(design: ProjectDesign, title: str) -> str:
    lines = [f"# {title}\n", f"All resource paths start with `{design.api_prefix}`.\n"]
    lines.append(
        "| Method | Path | Description |\n|---|---|---|\n" + "\n".join(_endpoint_rows(design)) + "\n"
    )
    for r in design.resources:
        lines.append(f"## {r.name}\n")
        for route in r.routes:
            status = {"create": "201", "create_nested": "201", "delete": "204"}.get(route.op, "200")
            lines.append(
                f"- `{route.method} {design.api_prefix}{route.path}`: {status}; "
                + ("422 for an invalid body; " if route.method in ("POST", "PUT", "PATCH") else "")
                + (
                    "404 for an unknown id"
                    if "{" in route.path
                    else "paginated with `limit` (1..100) and `offset`"
                )
            )
        lines.append("")
    return "\n".join(lines)


def architecture_doc(design: ProjectDesign) -> str:
    return (
        "# Architecture\n\n"
        "| Layer | Module | Role |\n|---|---|---|\n"
        "| settings | `app/config.py` | environment variables, validated at start |\n"
        "| database | `app/db.py`, `app/models/` | async engine, sessions, ORM models |\n"
        "| migrations | `migrations/` | one Alembic revision per table, in foreign-key order |\n"
        "| repositories | `app/repositories/` | queries; flush, never commit |\n"
        "| services | `app/services/` | use cases; one transaction each |\n"
        "| schemas | `app/schemas/` | strict request and response models |\n"
        "| routes | `app/routes/` | thin HTTP handlers |\n"
        "| errors | `app/core/exceptions.py`, `app/errors.py` | domain errors -> problem+json |\n"
        "| observability | `app/core/logging.py`, `metrics.py`, `request_id.py` | structlog, Prometheus, request ids |\n"
        "| tests | `tests/` | factories, API, model, flow and migration tests |\n\n"
        "Naming: modules and functions in snake_case, classes in PascalCase, tables plural snake_case.\n"
    )


def doc_files(design: ProjectDesign) -> list[ProjectFile]:
    return [
        ProjectFile("README.md", readme(design), b.README),
        ProjectFile("docs/architecture.md", architecture_doc(design), b.ARCHITECTURE_DOC),
        ProjectFile("docs/data-model.md", data_model_doc(design), b.DATA_MODEL_DOC),
        ProjectFile("docs/api.md", api_doc(design, "API contract"), b.API_DOC),
        ProjectFile("docs/api-reference.md", api_doc(design, "API reference"), b.API_REFERENCE),
    ]
