"""Compose the whole project for a spec: golden pattern composition into working files.

Composition order follows the production pattern library (seed 004): core
infrastructure, data layer, services, API, testing, then Docker and project files.
The result is a pure function of the spec and the golden library: the same input
gives the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from services.codegen.domain import SourceFileOut, SpecDesign
from services.codegen.offline.analysis_docs import analysis_files
from services.codegen.offline.deployment import deployment_files
from services.codegen.offline.design import ProjectDesign, design_project
from services.codegen.offline.docs import doc_files
from services.codegen.offline.docstrings import add_docstrings
from services.codegen.offline.files import ProjectFile
from services.codegen.offline.formatting import formatted
from services.codegen.offline.golden import LIBRARY_DIR, edit, load_golden
from services.codegen.offline.infrastructure import application_files
from services.codegen.offline.migrations import migration_files
from services.codegen.offline.models import model_files
from services.codegen.offline.repositories import repository_files
from services.codegen.offline.routes import route_files
from services.codegen.offline.schemas import email_helpers, schema_files
from services.codegen.offline.service_layer import service_files
from services.codegen.offline.suite import suite_files
from services.codegen.offline.testdata import factories_file
from services.codegen.offline.tests_flows import flow_files
from services.codegen.offline.tests_gen import api_test_files

_LANGUAGES = {
    ".py": "python",
    ".toml": "toml",
    ".yml": "yaml",
    ".yaml": "yaml",
    ".md": "markdown",
    ".ini": "ini",
}


@dataclass(frozen=True)
class ComposedProject:
    design: ProjectDesign
    files: tuple[ProjectFile, ...]

    def by_path(self) -> dict[str, ProjectFile]:
        return {f.path: f for f in self.files}

    def sources(self) -> list[SourceFileOut]:
        return [source_of(f) for f in self.files]


def language_of(path: str) -> str:
    name = Path(path).name
    if name == "Dockerfile":
        return "dockerfile"
    if name == "Makefile":
        return "makefile"
    return _LANGUAGES.get(Path(path).suffix, "text")


def source_of(file: ProjectFile) -> SourceFileOut:
    return SourceFileOut(file.path, file.content, language_of(file.path))


def _with_email_helpers(found: list[ProjectFile], design: ProjectDesign, library: Path) -> list[ProjectFile]:
    """app/schemas/base.py gains the golden auth schemas' email check when a field needs it."""
    if not any(c.email for r in design.resources for c in r.columns):
        return found
    golden = load_golden(library)
    result = []
    for f in found:
        if f.path == "app/schemas/base.py":
            content = edit(
                "strict-mode-schemas",
                f.content,
                ("from datetime import datetime\n", "import re\nfrom datetime import datetime\n"),
            )
            f = ProjectFile(
                f.path,
                content.rstrip("\n") + "\n" + email_helpers(golden["auth-schemas"]),
                f.bundle,
                (*f.patterns, "auth-schemas"),
            )
        result.append(f)
    return result


def compose(spec: SpecDesign, library: Path = LIBRARY_DIR) -> ComposedProject:
    """Every file of the project for `spec`, sorted by path, with the golden patterns each came from."""
    golden = load_golden(library)
    design = design_project(spec)
    found: list[ProjectFile] = []
    found += application_files(golden, design)
    found += model_files(design, golden)
    found += migration_files(design, golden)
    found += repository_files(design)
    found += service_files(design)
    found += schema_files(design, golden)
    found += route_files(design, golden)
    found += suite_files(design, golden)
    found.append(factories_file(design, golden))
    found += api_test_files(design, golden)
    found += flow_files(design)
    found += deployment_files(golden, design)
    found += doc_files(design)
    found = [add_docstrings(f) for f in _with_email_helpers(found, design, library)]
    found = formatted(found)
    # Last: the analysis documents trace requirements to the finished files.
    found += analysis_files(design, found)
    paths = [f.path for f in found]
    duplicates = sorted({p for p in paths if paths.count(p) > 1})
    if duplicates:
        raise RuntimeError(f"composition wrote these paths twice: {duplicates}")
    return ComposedProject(design, tuple(sorted(found, key=lambda f: f.path)))


def compose_project(spec: SpecDesign) -> list[SourceFileOut]:
    """The project's files as generator output (see `compose` for their patterns)."""
    return compose(spec).sources()
