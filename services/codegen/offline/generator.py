"""The offline generator: golden pattern composition, no model, no network.

For a task it composes the whole project for the task's spec (kept per spec, so
the tasks of one plan share one composition) and returns the files the task is
about; `compose_project` gives the whole project. Deterministic: the same request
gives the same bytes.
"""

from __future__ import annotations

from collections import OrderedDict

from services.codegen.domain import Generation, GenerationRequest, SpecDesign, Usage
from services.codegen.offline.project import ComposedProject, compose, source_of
from services.codegen.offline.tasks import files_for_task
from services.codegen.reuse import reproduced

OFFLINE_TEMPERATURE = 0.0
# Compositions kept per generator: one per spec being worked on is plenty.
CACHED_SPECS = 8


class OfflineGenerator:
    """Implements services.codegen.domain.Generator by golden pattern composition."""

    name = "offline"

    def __init__(self) -> None:
        self._projects: OrderedDict[str, ComposedProject] = OrderedDict()

    def project(self, spec: SpecDesign) -> ComposedProject:
        """The composed project of `spec`, composed once per distinct spec content."""
        key = repr(spec)  # SpecDesign holds a dict, so it is not hashable itself
        if key in self._projects:
            self._projects.move_to_end(key)
            return self._projects[key]
        project = compose(spec)
        self._projects[key] = project
        while len(self._projects) > CACHED_SPECS:
            self._projects.popitem(last=False)
        return project

    async def generate(self, request: GenerationRequest) -> Generation:
        """The task's files; FailedPrecondition when the task needs what the spec lacks or
        what only the Anthropic generator can write."""
        chosen = files_for_task(request.task, self.project(request.spec))
        patterns = sorted({name for f in chosen for name in f.patterns})
        files = tuple(source_of(f) for f in chosen)
        return Generation(
            files=files,
            patterns_used=tuple(patterns),
            generator=self.name,
            temperature=OFFLINE_TEMPERATURE,
            usage=Usage(model=self.name),
            reused_pattern_ids=reproduced(request.patterns, files),
        )
