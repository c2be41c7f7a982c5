"""Planning steps around the implementation deliverables.

Analysis and design (phases 1-2), project setup (phase 3), the test suite (phase 4),
deployment and documentation (phase 5).
"""

from __future__ import annotations

from devmatrix.naming import slug
from services.orchestrator.domain import (
    ParsedSpec,
    TaskKind,
)
from services.orchestrator.plan_builder import PlanBuilder
from services.orchestrator.plan_criteria import (
    Layout,
    entity_requirements,
    references,
    stack_summary,
)
from services.orchestrator.spec_parser import ui_pages


def plan_analysis_design(b: PlanBuilder, spec: ParsedSpec, has_ui: bool) -> None:
    b.group("P1.analysis", "Requirements analysis", 1)
    requirements = [f"FR-{i}: {t}" for i, t in enumerate(spec.functional_requirements, 1)]
    b.task(
        "P1.analysis.requirements",
        "P1.analysis",
        "Analyze functional requirements",
        kind=TaskKind.GENERIC,
        effort=1 + len(spec.functional_requirements) // 5,
        skills=["global-conventions"],
        criteria=[f"Every requirement is traced to at least one task: {r}" for r in requirements]
        or ["The scope of the spec is written down as testable statements"],
        output="docs/requirements.md",
        subtasks=["List requirements", "Trace requirements to tasks"],
        priority=1,
    )
    constraints = [
        f"Constraint CON-{i} has a verification approach: {c}" for i, c in enumerate(spec.constraints, 1)
    ]
    b.task(
        "P1.analysis.constraints",
        "P1.analysis",
        "Review tech stack and constraints",
        kind=TaskKind.GENERIC,
        effort=1,
        skills=["global-tech-stack"],
        criteria=stack_summary(spec) + constraints or ["Tech stack and constraints are recorded"],
        output="docs/constraints.md",
        subtasks=["Confirm tech stack versions", "List constraints and how to verify them"],
        priority=1,
    )
    b.group("P2.design", "Architecture and design", 2)
    b.task(
        "P2.design.structure",
        "P2.design",
        "Define project structure and conventions",
        kind=TaskKind.CONFIG,
        effort=1,
        skills=["global-tech-stack", "global-conventions", "global-coding-style"],
        criteria=[
            "Module layout for config, models, schemas, repositories, routes and tests is fixed",
            *stack_summary(spec),
        ],
        output="docs/architecture.md",
        subtasks=["Choose module layout", "Fix naming conventions"],
        priority=1,
    )
    if spec.entities:
        b.task(
            "P2.design.data-model",
            "P2.design",
            "Design the data model",
            kind=TaskKind.MODEL,
            effort=1 + len(spec.entities) // 2,
            skills=["backend-models", "backend-migrations"],
            criteria=[f"{e.name}: {', '.join(f.name for f in e.fields)}" for e in spec.entities]
            + [
                f"{e.name} references {', '.join(references(e, spec.entities))}"
                for e in spec.entities
                if references(e, spec.entities)
            ],
            output="docs/data-model.md",
            subtasks=["Define tables and columns", "Define relations and indexes"],
            priority=1,
        )
    if spec.endpoints:
        b.task(
            "P2.design.api-contract",
            "P2.design",
            "Design the API contract",
            kind=TaskKind.API,
            effort=1 + len(spec.endpoints) // 6,
            skills=["backend-api", "global-validation"],
            criteria=[
                f"{e.method} {e.path} has request/response schemas and status codes" for e in spec.endpoints
            ],
            output="docs/api.md",
            subtasks=["Define request and response schemas", "Define error responses"],
        )
    if has_ui:
        b.task(
            "P2.design.ui",
            "P2.design",
            "Design UI pages and navigation",
            kind=TaskKind.UI,
            effort=2,
            skills=["frontend-components", "frontend-accessibility", "frontend-responsive"],
            criteria=[f"Page '{name}' has a wireframe and its data sources" for name, _ in ui_pages(spec)],
            output="docs/ui.md",
            subtasks=["Sketch page layouts", "Define navigation"],
        )


def plan_setup(b: PlanBuilder, spec: ParsedSpec, layout: Layout) -> None:
    b.group("P3.setup", "Project setup", 3)
    b.task(
        "P3.setup.scaffold",
        "P3.setup",
        "Project scaffolding and settings",
        kind=TaskKind.CONFIG,
        effort=2,
        skills=["global-tech-stack", "global-conventions", "global-coding-style"],
        criteria=[
            *stack_summary(spec),
            "Settings are read from environment variables and validated at start",
            "The application starts and serves an empty router",
        ],
        output=", ".join(
            [
                layout.module("main"),
                layout.module("config"),
                "pyproject.toml" if layout.ext == ".py" else "package.json",
            ]
        ),
        subtasks=["Create package layout", "Pin dependencies", "Load settings from the environment"],
        priority=1,
    )
    if spec.entities:
        b.task(
            "P3.setup.database",
            "P3.setup",
            "Database setup",
            kind=TaskKind.CONFIG,
            effort=2,
            skills=["global-tech-stack", "backend-models", "backend-migrations"],
            depends_on=["P3.setup.scaffold"],
            criteria=[
                "Engine and session factory are created from the database URL setting",
                "A declarative base for all models exists",
                "Migrations environment is initialised",
            ],
            output=", ".join([layout.module("db"), "migrations/env" + layout.ext]),
            subtasks=["Create engine and sessions", "Initialise the migrations environment"],
            priority=1,
        )
    b.task(
        "P3.setup.errors",
        "P3.setup",
        "Error handling",
        kind=TaskKind.GENERIC,
        effort=1,
        skills=["global-error-handling", "backend-api"],
        depends_on=["P3.setup.scaffold"],
        criteria=[
            "Not-found errors map to 404, validation errors to 422, conflicts to 409",
            "Error bodies share one JSON shape with a message and field details",
            "Unexpected errors return 500 without a stack trace",
        ],
        output=layout.module("errors"),
        subtasks=["Define error types", "Register exception handlers"],
        priority=1,
    )


def plan_testing(
    b: PlanBuilder, spec: ParsedSpec, layout: Layout, api_groups: list[str], has_ui: bool
) -> None:
    b.group("P4.tests", "Test suite", 4)
    fixture_deps = ["P3.setup.database"] if spec.entities else ["P3.setup.scaffold"]
    b.task(
        "P4.tests.fixtures",
        "P4.tests",
        "Test fixtures and configuration",
        kind=TaskKind.TEST,
        effort=1,
        skills=["testing-test-writing"],
        depends_on=fixture_deps,
        criteria=[
            "Tests run against an isolated database created per session",
            "An HTTP test client fixture",
        ],
        output=f"{layout.tests}/conftest{layout.ext}",
        subtasks=["Database fixture", "Client fixture"],
    )
    if spec.entities:
        b.task(
            "P4.tests.models",
            "P4.tests",
            "Model and repository unit tests",
            kind=TaskKind.TEST,
            effort=1 + len(spec.entities) // 2,
            skills=["testing-unit-tests", "testing-test-writing"],
            depends_on=["P3.models", "P4.tests.fixtures"],
            criteria=[f"{e.name}: constraints and defaults are enforced by the model" for e in spec.entities]
            + ["Repository get returns nothing for unknown ids"],
            output=layout.test("unit", "models"),
            subtasks=["Model tests", "Repository tests"],
        )
    by_group = {f"P3.api-{slug(e.entity)}" if e.entity else "P3.api-service": e for e in spec.endpoints}
    for group in api_groups:
        name = next(t.name for t in b.tasks if t.key == group)
        calls = [
            f"{e.method} {e.path}"
            for e in spec.endpoints
            if (f"P3.api-{slug(e.entity)}" if e.entity else "P3.api-service") == group
        ]
        entity = by_group[group].entity
        b.task(
            f"P4.tests.{group.removeprefix('P3.')}",
            "P4.tests",
            f"{name} tests",
            kind=TaskKind.TEST,
            effort=1 + len(calls) // 2,
            skills=["testing-test-writing", "testing-unit-tests"],
            depends_on=[group, "P4.tests.fixtures"],
            criteria=[f"Tests {call}: success and error status codes" for call in calls]
            + (entity_requirements(spec, entity) if entity else []),
            output=layout.test("api", group.removeprefix("P3.api-").replace("-", "_")),
            subtasks=["Success cases", "Error cases"],
        )
    if has_ui:
        b.task(
            "P4.tests.ui",
            "P4.tests",
            "UI tests",
            kind=TaskKind.TEST,
            effort=2,
            skills=["testing-test-writing", "frontend-accessibility"],
            depends_on=["P3.ui"],
            criteria=[
                f"Page '{name}' renders and passes an accessibility check" for name, _ in ui_pages(spec)
            ],
            output="frontend/tests/pages.test.tsx",
            subtasks=["Render tests", "Accessibility checks"],
        )
    if not spec.entities and not spec.endpoints:
        b.task(
            "P4.tests.features",
            "P4.tests",
            "Feature tests",
            kind=TaskKind.TEST,
            effort=2,
            skills=["testing-test-writing", "testing-unit-tests"],
            depends_on=["P3.features", "P4.tests.fixtures"],
            criteria=[
                f"FR-{i} is covered by a test" for i in range(1, len(spec.functional_requirements) + 1)
            ],
            output=layout.test("unit", "features"),
            subtasks=["Success cases", "Error cases"],
        )
    b.task(
        "P4.tests.integration",
        "P4.tests",
        "Integration tests and coverage",
        kind=TaskKind.TEST,
        effort=3,
        skills=["testing-test-writing", "testing-coverage"],
        depends_on=["P3", "P4.tests.fixtures"],
        criteria=[
            "An end-to-end flow exercises every resource through the public API",
            *[f"Verifies CON-{i}: {c}" for i, c in enumerate(spec.constraints, 1)],
            "Line coverage of the application package is at least 80%",
        ],
        output=layout.test("integration", "flows"),
        subtasks=["End-to-end flow", "Coverage report"],
    )


def plan_delivery(b: PlanBuilder, spec: ParsedSpec, layout: Layout) -> None:
    b.group("P5.deploy", "Deployment", 5, depends_on=["P4"])
    b.task(
        "P5.deploy.container",
        "P5.deploy",
        "Dockerfile and container image",
        kind=TaskKind.DEPLOY,
        effort=2,
        skills=["global-tech-stack", "global-conventions"],
        criteria=[
            "Multi-stage build produces a slim image running as a non-root user",
            "Container exposes a health check",
            *stack_summary(spec),
        ],
        output="Dockerfile, .dockerignore",
        subtasks=["Write Dockerfile", "Add health check"],
    )
    b.task(
        "P5.deploy.compose",
        "P5.deploy",
        "Runtime configuration and compose file",
        kind=TaskKind.DEPLOY,
        effort=1,
        skills=["global-tech-stack"],
        depends_on=["P5.deploy.container"],
        criteria=[
            "`docker compose up` starts the service with its database",
            "Migrations run before the service accepts traffic",
            "Secrets come from the environment",
        ],
        output="docker-compose.yml, .env.example",
        subtasks=["Write compose file", "Document environment"],
    )
    b.group("P5.docs", "Documentation", 5, depends_on=["P4"])
    b.task(
        "P5.docs.readme",
        "P5.docs",
        "README",
        kind=TaskKind.DOCS,
        effort=2,
        skills=["global-commenting", "global-conventions"],
        criteria=[
            f"Describes {spec.title}: purpose, setup, configuration, running tests",
            *[f"Documents {key}" for key in spec.tech_stack],
        ],
        output="README.md",
        priority=3,
        subtasks=["Write setup instructions", "Write usage examples"],
    )
    if spec.endpoints:
        b.task(
            "P5.docs.api",
            "P5.docs",
            "API reference",
            kind=TaskKind.DOCS,
            effort=1 + len(spec.endpoints) // 8,
            skills=["global-commenting", "backend-api"],
            criteria=[
                f"Documents {e.method} {e.path} with an example request and response" for e in spec.endpoints
            ],
            output="docs/api-reference.md",
            priority=3,
            subtasks=["Document endpoints", "Add examples"],
        )
