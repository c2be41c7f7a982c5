"""Wires the skills servicer to the shared server bootstrap.

Start-up loads the catalogue (services/skills/catalogue.yaml) once, opens the service's
PostgreSQL schema `skills` (embedded in the data dir unless DATABASE_URL is set) and
stores the catalogue there. A malformed catalogue refuses the start with InvalidArgument
naming the skill and field; readiness follows the database.
"""

from __future__ import annotations

from pathlib import Path

import grpc
from prometheus_client import CollectorRegistry

from devmatrix.runtime.config import Settings
from devmatrix.runtime.server import AppFactory, ServiceApp
from devmatrix.v1 import skills_pb2, skills_pb2_grpc
from services.skills.catalogue import DEFAULT_CATALOGUE
from services.skills.runtime import SkillsRuntime
from services.skills.servicer import SkillsServicer

FULL_NAME = skills_pb2.DESCRIPTOR.services_by_name["SkillsService"].full_name


def make_build(catalogue_path: Path = DEFAULT_CATALOGUE) -> AppFactory:
    """An app factory serving the catalogue at `catalogue_path`."""

    async def build(settings: Settings, registry: CollectorRegistry) -> ServiceApp:
        runtime = await SkillsRuntime.open(settings, registry, catalogue_path)

        def register(server: grpc.aio.Server) -> None:
            skills_pb2_grpc.add_SkillsServiceServicer_to_server(SkillsServicer(runtime), server)

        return ServiceApp(
            name="skills",
            full_name=FULL_NAME,
            register=register,
            ready=runtime.ready,
            close=runtime.close,
            state=runtime,
        )

    return build


build = make_build()
