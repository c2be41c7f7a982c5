"""Wires the skills servicer to the shared server bootstrap.

Start-up loads the catalogue (services/skills/catalogue.yaml) once; a malformed catalogue
refuses the start with InvalidArgument naming the skill and field. ListSkills, GetSkill
and MapTaskToSkills are served; Validate, ApplyStandards and GetSkillMetrics answer
UNIMPLEMENTED until the code checks land.
"""

from __future__ import annotations

from pathlib import Path

import grpc
from prometheus_client import CollectorRegistry

from devmatrix.runtime.config import Settings
from devmatrix.runtime.server import AppFactory, ServiceApp
from devmatrix.v1 import skills_pb2, skills_pb2_grpc
from services.skills.catalogue import DEFAULT_CATALOGUE, load_catalogue
from services.skills.servicer import SkillsServicer

FULL_NAME = skills_pb2.DESCRIPTOR.services_by_name["SkillsService"].full_name


def make_build(catalogue_path: Path = DEFAULT_CATALOGUE) -> AppFactory:
    """An app factory serving the catalogue at `catalogue_path`."""

    async def build(settings: Settings, registry: CollectorRegistry) -> ServiceApp:
        catalogue = load_catalogue(catalogue_path)

        def register(server: grpc.aio.Server) -> None:
            skills_pb2_grpc.add_SkillsServiceServicer_to_server(SkillsServicer(catalogue), server)

        return ServiceApp(name="skills", full_name=FULL_NAME, register=register, state=catalogue)

    return build


build = make_build()
