"""Requirements and constraints of a spec traced to the files and tests of its composed project.

Traces come from names, not from reading the spec's intent: a requirement is traced to an
entity it names (`projects` -> the Project model, schemas, repository, service and routes),
the fields of that entity it names (`due date` -> Task.due_date), the endpoint paths it
quotes, and the cross-cutting concerns it mentions (see concerns.py), each only where the
generated files show evidence of it. Tests are the generated test functions whose names
share the requirement's words. So a trace says where a requirement is handled and what
exercises it; that every clause of it is implemented is for a reviewer to confirm.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from services.codegen.offline import files as b
from services.codegen.offline.concerns import LAZY_LOADING, RELATIONSHIP, Concern, concerns_in
from services.codegen.offline.design import ProjectDesign, Resource
from services.codegen.offline.files import ProjectFile

_TEST_DEF = re.compile(r"^(?:async )?def (test_\w+)\(", re.M)
_PATH = re.compile(r"/[\w{}:<>/.-]*\w[}>]?")
_PARAM = re.compile(r"\{[^}]*\}|<[^>]*>|:\w+")
# Words that say nothing about what a requirement is about.
_STOP_WORDS = """
a an and any are as at be by can cannot could each every for from has have in into is it
its may must no not of on one only or per shall should so than that the their them they
this to up via when which while with within without user users supports support allowed
able
"""
_STOP = frozenset(_STOP_WORDS.split())
# Requirement verbs -> the words generated test names use for them.
_SYNONYMS = {
    "read": ("get",),
    "view": ("get",),
    "fetch": ("get",),
    "update": ("update", "replace", "change"),
    "edit": ("update", "replace"),
    "modify": ("update", "replace"),
    "remove": ("delete",),
    "add": ("create",),
}
# Per-entity bundles that implement an entity, in layer order.
_ENTITY_LAYERS = (b.MODEL, b.REPOSITORY, b.SCHEMAS, b.ROUTES)
_FIELD_LAYERS = (b.MODEL, b.SCHEMAS, b.MIGRATION)


@dataclass(frozen=True)
class TestRef:
    path: str
    name: str
    # The entity whose test module holds it (tests/api/test_task.py); None for shared modules.
    entity: str | None = None

    def __str__(self) -> str:
        return f"{self.path}::{self.name}"


@dataclass(frozen=True)
class Evidence:
    """A concern with what in the project shows it is handled."""

    concern: str
    files: tuple[str, ...]
    tests: tuple[str, ...]
    check: str = ""


@dataclass(frozen=True)
class Trace:
    # What matched: "entity Project", "field Task.due_date", "endpoint GET /health", "pagination".
    matched: tuple[str, ...]
    files: tuple[str, ...]
    tests: tuple[str, ...]
    # Concerns the text names that the project shows no evidence of.
    missing: tuple[str, ...] = ()

    @property
    def traced(self) -> bool:
        return bool(self.files)


def words_of(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _same_word(a: str, b: str) -> bool:
    """`listing` ~ `list`, `deleting` ~ `delete`: a shared stem of four letters."""
    return a == b or (len(a) >= 4 and len(b) >= 4 and a[:4] == b[:4])


def _entity_of(bundle: str) -> str | None:
    kind, _, entity = bundle.partition(":")
    return entity if entity and kind != "docs" else None


class ProjectIndex:
    """The composed project as traces need it: files, test functions, entity names."""

    def __init__(self, design: ProjectDesign, files: Sequence[ProjectFile]) -> None:
        self.design = design
        self.files = {f.path: f for f in files}
        self.tests = [
            TestRef(f.path, name, _entity_of(f.bundle))
            for f in sorted(files, key=lambda f: f.path)
            if f.path.startswith("tests/") and f.path.endswith(".py")
            for name in _TEST_DEF.findall(f.content)
        ]

    # --- entities, fields, endpoints ---------------------------------------------------------

    @staticmethod
    def entity_words(r: Resource) -> tuple[str, ...]:
        return tuple(
            dict.fromkeys(
                [r.name.lower(), r.snake, r.table, r.snake.replace("_", " "), r.table.replace("_", " ")]
            )
        )

    def entities_in(self, text: str) -> list[Resource]:
        lowered = text.lower()
        return [
            r
            for r in self.design.resources
            if any(re.search(rf"\b{re.escape(w)}\b", lowered) for w in self.entity_words(r))
        ]

    @staticmethod
    def fields_in(text: str, r: Resource) -> list[str]:
        said = words_of(text)
        lowered = " ".join(said)
        found = []
        for c in r.columns:
            parts = c.name.split("_")
            # A multi-word field is named as its words ("due date"); one word by its stem.
            hit = " ".join(parts) in lowered if len(parts) > 1 else any(_same_word(c.name, w) for w in said)
            if hit:
                found.append(c.name)
        return found

    def bundle_files(self, kinds: Sequence[str], entity: str) -> list[str]:
        wanted = {b.entity_bundle(k, entity) for k in kinds}
        order = {k: i for i, k in enumerate(kinds)}
        chosen = [f for f in self.files.values() if f.bundle in wanted]
        chosen.sort(key=lambda f: (order[f.bundle.split(":", 1)[0]], f.path))
        return [f.path for f in chosen]

    def endpoints_in(self, text: str) -> list[tuple[str, str]]:
        """(label, file) for each endpoint path the text quotes."""
        quoted = {_PARAM.sub("{}", p.rstrip("/.")) for p in _PATH.findall(text)}
        found = []
        prefix = self.design.api_prefix
        for r in self.design.resources:
            for route in r.routes:
                full = _PARAM.sub("{}", prefix + route.path)
                if full in quoted or _PARAM.sub("{}", route.path) in quoted:
                    found.append((f"{route.method} {prefix}{route.path}", f"app/routes/{r.snake}.py"))
        for path in self.design.health_paths:
            if path in quoted:
                found.append((f"GET {path}", "app/routes/health.py"))
        return [(label, path) for label, path in found if path in self.files]

    # --- tests and concerns ------------------------------------------------------------------

    @staticmethod
    def _mentions(test: TestRef, entity: Resource) -> bool:
        """Whether `test` is about `entity`: its module's entity, else the entities its name says
        (`test_list_task_comments` in the Comment tests is about comments, not tasks)."""
        if test.entity is not None:
            return test.entity == entity.name
        name = f"_{test.name}_"
        return any(f"_{w}_" in name for w in (entity.snake, entity.table))

    def tests_about(self, text: str, entities: Sequence[Resource]) -> list[str]:
        """Tests naming one of `entities` and sharing a word of `text` beyond the entity names."""
        skip = {w for r in entities for word in self.entity_words(r) for w in word.split()}
        keywords = {w for w in words_of(text) if w not in _STOP and w not in skip and not w.isdigit()}
        keywords |= {s for w in list(keywords) for s in _SYNONYMS.get(w, ())}
        found = []
        for test in self.tests:
            if not any(self._mentions(test, r) for r in entities):
                continue
            name_words = set(test.name.split("_")) - {"test"} - skip
            if any(_same_word(k, w) for k in keywords for w in name_words):
                found.append(str(test))
        return found

    def evidence(self, concern: Concern, entities: Sequence[Resource] = ()) -> Evidence | None:
        """What shows `concern` is handled; with entities, only files and tests about them
        (or about no entity in particular)."""
        names = {r.name for r in entities}
        files = [
            f.path
            for f in self.files.values()
            if concern.paths.search(f.path)
            and concern.content.search(f.content)
            and (not names or _entity_of(f.bundle) in (None, *names))
        ]
        if not files:
            return None
        tests = []
        if concern.tests is not None:
            for test in self.tests:
                if not concern.tests.search(test.name):
                    continue
                about = [r for r in self.design.resources if self._mentions(test, r)]
                if not names or not about or any(r.name in names for r in about):
                    tests.append(str(test))
        return Evidence(concern.name, tuple(sorted(files)), tuple(tests), concern.check)

    def lazy_loading(self) -> Evidence:
        """No relationship() in the models means no attribute can load lazily; with some,
        they are listed for review."""
        models = sorted(p for p in self.files if p.startswith("app/models/") and p.endswith(".py"))
        related = [p for p in models if RELATIONSHIP.search(self.files[p].content)]
        if related:
            return Evidence("lazy loading", tuple(related), (), "")
        return Evidence(
            "lazy loading",
            tuple(models),
            (),
            "no model declares `relationship(`, so request handlers cannot trigger lazy loads; "
            "`grep -rn 'relationship(' app/models` must stay empty (or new relationships use "
            '`lazy="raise"` and explicit `selectinload`)',
        )


def trace(text: str, index: ProjectIndex) -> Trace:
    """Where the generated project handles the requirement `text`."""
    matched: list[str] = []
    files: list[str] = []
    tests: list[str] = []
    entities = index.entities_in(text)
    for r in entities:
        matched.append(f"entity {r.name}")
        files += index.bundle_files(_ENTITY_LAYERS, r.name)
        fields = index.fields_in(text, r)
        matched += [f"field {r.name}.{name}" for name in fields]
        if fields:
            files += index.bundle_files(_FIELD_LAYERS, r.name)
    for label, path in index.endpoints_in(text):
        matched.append(f"endpoint {label}")
        files.append(path)
    tests += index.tests_about(text, entities)
    missing = []
    for concern in concerns_in(text):
        found = index.evidence(concern, entities)
        if found is None:
            missing.append(concern.name)
            continue
        matched.append(concern.name)
        files += found.files
        tests += found.tests
    if entities and not tests:
        # No test name shares the requirement's words: the entities' API tests are the closest.
        tests += [p for r in entities for p in index.bundle_files((b.API_TESTS,), r.name)]
    return Trace(tuple(matched), tuple(dict.fromkeys(files)), tuple(dict.fromkeys(tests)), tuple(missing))


@dataclass(frozen=True)
class Verification:
    # "automated", "check", "measure" or "manual review": how the constraint is verified.
    method: str
    approach: str
    evidence: tuple[Evidence, ...]
    missing: tuple[str, ...]


def verify(text: str, index: ProjectIndex) -> Verification:
    """How the constraint `text` is verified in the generated project."""
    entities = index.entities_in(text)
    found: list[Evidence] = []
    missing: list[str] = []
    if LAZY_LOADING.search(text.lower()):
        found.append(index.lazy_loading())
    for concern in concerns_in(text):
        got = index.evidence(concern, entities)
        if got is None:
            missing.append(concern.name)
        else:
            found.append(got)
    tests = [t for e in found for t in e.tests]
    checks = [e.check for e in found if e.check]
    if missing or not found:
        gap = (
            f"nothing in the generated project implements {' or '.join(missing)}"
            if missing
            else "no generated code, test or configuration addresses it"
        )
        return Verification(
            "manual review",
            f"{gap}; a reviewer checks the hand-written implementation",
            tuple(found),
            tuple(missing),
        )
    if any(e.concern == "latency" for e in found):
        return Verification("measure", "; ".join(checks), tuple(found), ())
    if tests:
        approach = f"`pytest` runs {len(tests)} generated tests that exercise it (listed below)"
        if checks:
            approach += "; also " + "; ".join(checks)
        return Verification("automated", approach, tuple(found), ())
    if checks:
        return Verification("check", "; ".join(checks), tuple(found), ())
    return Verification(
        "manual review", "no generated test exercises it; review the files listed below", tuple(found), ()
    )
