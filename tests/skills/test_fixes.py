"""The mechanical fixer: ruff format, safe ruff fixes, timestamps added to SQLAlchemy models,
files that do not parse left alone, and settings taken only from the file set."""

from __future__ import annotations

import ast
from textwrap import dedent

import pytest

from services.skills.checks.base import SourceFile
from services.skills.checks.python.models import missing_timestamps
from services.skills.fixes import apply_fixes

MODEL = "app/models/task.py"


def fix(files: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    result = apply_fixes([(path, dedent(code).lstrip("\n")) for path, code in files.items()])
    assert [path for path, _ in result.files] == list(files)  # same files, same order
    return dict(result.files), result.fixes


def test_unformatted_code_is_formatted_and_reported() -> None:
    files, applied = fix({"app/x.py": "def f( a,b ):\n  return a+b\n"})
    assert files["app/x.py"] == "def f(a, b):\n    return a + b\n"
    assert applied == ["app/x.py: ruff format"]


def test_unused_imports_are_removed_and_imports_sorted_with_the_sets_packages_first_party() -> None:
    code = """
    from app.services.orders import place
    import os
    from typing import Optional
    import httpx


    def run(value: Optional[int]) -> None:
        place(httpx.get("http://x"), value)
    """
    files, applied = fix({"app/api.py": code, "app/services/__init__.py": ""})
    assert files["app/api.py"] == dedent("""\
        import httpx

        from app.services.orders import place


        def run(value: int | None) -> None:
            place(httpx.get("http://x"), value)
        """)
    # Optional goes too, once UP045 has made it unused; ruff reports the rewrite it fixed.
    assert applied[:3] == [
        "app/api.py: sorted imports (I001)",
        "app/api.py: removed unused import os (F401)",
        "app/api.py: convert to `X | None` (UP045)",
    ]


def test_a_possible_re_export_in_init_is_kept() -> None:
    files, applied = fix({"app/__init__.py": "from app.core import settings\n"})
    assert files["app/__init__.py"] == "from app.core import settings\n"
    assert applied == []


MAPPED_MODEL = '''
"""Tasks."""

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class Task(Base):
    __tablename__ = "tasks"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))

    def label(self) -> str:
        return self.title
'''


def test_missing_timestamps_are_added_to_a_mapped_model_with_their_imports() -> None:
    files, applied = fix({MODEL: MAPPED_MODEL})
    fixed = files[MODEL]
    assert "from datetime import datetime\n" in fixed
    assert "from sqlalchemy import DateTime, String, func\n" in fixed
    assert (
        "    created_at: Mapped[datetime] = mapped_column(\n"
        "        DateTime(timezone=True), server_default=func.now(), nullable=False\n    )\n"
    ) in fixed
    assert "onupdate=func.now()" in fixed
    # The columns go after the last column, before the methods.
    assert fixed.index("updated_at") < fixed.index("def label")
    assert applied[0] == f"{MODEL}: added created_at/updated_at to Task"
    source = SourceFile(MODEL, fixed, "python")
    assert list(missing_timestamps([source])) == []
    ast.parse(fixed)


def test_legacy_column_models_get_columns_and_an_sa_alias_is_reused() -> None:
    legacy = """
    import sqlalchemy as sa
    from sqlalchemy import Column

    from app.db import Base


    class Item(Base):
        __tablename__ = "items"
        id = Column(sa.Integer, primary_key=True)
        created_at = Column(sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)
    """
    files, applied = fix({"app/models/item.py": legacy})
    fixed = files["app/models/item.py"]
    assert "    updated_at = Column(\n        sa.DateTime(timezone=True),\n" in fixed
    assert "        onupdate=sa.func.now(),\n" in fixed
    assert "from sqlalchemy import Column\n" in fixed  # no second import of DateTime or func
    assert applied[0] == "app/models/item.py: added updated_at to Item"


def test_a_model_with_timestamps_from_a_mixin_in_the_set_is_left_alone() -> None:
    mixin = """
    from datetime import datetime

    from sqlalchemy.orm import Mapped, mapped_column


    class Stamped:
        created_at: Mapped[datetime] = mapped_column()
        updated_at: Mapped[datetime] = mapped_column()
    """
    model = MAPPED_MODEL.replace("class Task(Base):", "class Task(Stamped, Base):")
    files, applied = fix({"app/models/mixins.py": mixin, MODEL: model})
    assert files[MODEL] == dedent(model).lstrip("\n")
    assert applied == []


def test_a_file_that_does_not_parse_is_returned_unchanged_and_the_rest_is_fixed() -> None:
    broken = "def broken(:\n    import os\n"
    files, applied = fix({"app/broken.py": broken, "app/ok.py": "import os\n", "README.md": "# Title\n"})
    assert files["app/broken.py"] == broken
    assert files["README.md"] == "# Title\n"
    assert files["app/ok.py"] == ""
    assert applied == ["app/ok.py: removed unused import os (F401)"]


LONG_CALL = 'RESULT = compute("alpha-argument", "beta-argument", "gamma-argument", "delta-argument-x")\n'


@pytest.mark.parametrize(
    ("pyproject", "wrapped"),
    [
        (None, True),  # ruff's default width (88), whatever pyproject.toml the service runs beside
        ("[tool.ruff]\nline-length = 100\n", False),
        ('[project]\nname = "x"\nrequires-python = ">=3.11"\n', True),
    ],
)
def test_only_the_file_sets_own_pyproject_changes_the_line_width(
    pyproject: str | None, wrapped: bool
) -> None:
    assert len(LONG_CALL) > 88
    files = {"app/x.py": LONG_CALL} | ({"pyproject.toml": pyproject} if pyproject else {})
    fixed, _ = fix(files)
    assert (fixed["app/x.py"] != LONG_CALL) == wrapped
    if pyproject:
        assert fixed["pyproject.toml"] == pyproject


def test_settings_ruff_would_refuse_fall_back_to_the_defaults() -> None:
    pyproject = '[tool.ruff]\ntarget-version = "py99"\nline-length = 100000\n'
    files, applied = fix({"pyproject.toml": pyproject, "app/x.py": "x=1\n"})
    assert (files["app/x.py"], applied) == ("x = 1\n", ["app/x.py: ruff format"])


def test_a_migrations_folder_named_like_a_declared_package_is_not_first_party() -> None:
    pyproject = '[project]\nname = "x"\ndependencies = ["alembic>=1.13", "sqlalchemy>=2"]\n'
    env = "from alembic import context\nimport sqlalchemy\n\nfrom app.db import engine\n\nTARGETS = [context, sqlalchemy, engine]\n"
    files, applied = fix({"pyproject.toml": pyproject, "alembic/env.py": env, "app/db.py": "engine = None\n"})
    assert files["alembic/env.py"] == (
        "import sqlalchemy\nfrom alembic import context\n\nfrom app.db import engine\n\n"
        "TARGETS = [context, sqlalchemy, engine]\n"
    )
    assert applied == ["alembic/env.py: sorted imports (I001)"]


def test_fixing_twice_changes_nothing_the_second_time() -> None:
    once, _ = fix({MODEL: MAPPED_MODEL, "app/x.py": "import os\nimport sys\nprint(sys.argv)\n"})
    twice = apply_fixes(list(once.items()))
    assert dict(twice.files) == once
    assert twice.fixes == []


def test_paths_that_would_leave_the_work_directory_are_not_written() -> None:
    files, applied = fix({"../escape.py": "import os\n", "app/ok.py": "x=1\n"})
    assert files["../escape.py"] == "import os\n"
    assert applied == ["app/ok.py: ruff format"]
