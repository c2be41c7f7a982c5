"""An orchestrator ParsedSpec (or anything shaped like it) as a codegen SpecDesign.

Duck-typed on purpose: codegen does not import the orchestrator's modules; the
servicer builds SpecDesign from GetSpec over gRPC, tests and tools from a parse.
"""

from __future__ import annotations

from typing import Any

from services.codegen.domain import Endpoint, Entity, EntityField, SpecDesign


def design_from_parsed(parsed: Any, spec_id: str = "") -> SpecDesign:
    """SpecDesign from an object with title, overview, tech_stack, entities, endpoints, constraints
    (and functional_requirements, when it has them)."""
    return SpecDesign(
        spec_id=spec_id,
        title=parsed.title,
        overview=parsed.overview,
        tech_stack=dict(parsed.tech_stack),
        entities=tuple(
            Entity(e.name, tuple(EntityField(f.name, f.type, f.constraints) for f in e.fields), e.description)
            for e in parsed.entities
        ),
        endpoints=tuple(Endpoint(e.method, e.path, e.description, e.entity or "") for e in parsed.endpoints),
        constraints=tuple(parsed.constraints),
        functional_requirements=tuple(getattr(parsed, "functional_requirements", ())),
    )
