"""Offline code generation: golden pattern composition into a working FastAPI project."""

from services.codegen.offline.convert import design_from_parsed
from services.codegen.offline.generator import OfflineGenerator
from services.codegen.offline.project import ComposedProject, compose, compose_project

__all__ = ["ComposedProject", "OfflineGenerator", "compose", "compose_project", "design_from_parsed"]
