"""The Python and SQL checks of the backend skills (API, migrations, models, queries) and of
global-validation: each rule on a failing and a passing sample, then the cases that need
more than one file or used to misfire."""

from __future__ import annotations

import pytest

from services.skills.checks.base import Severity
from tests.skills.pycheck_support import run_rule, summary

ROUTES = "app/api/items.py"
MIGRATION = "alembic/versions/0001_items.py"
MODEL = "app/models/item.py"
REPO = "app/repositories/users.py"
SQL = "migrations/0001_schema.sql"

ROUTER = "from fastapi import APIRouter\n\nrouter = APIRouter()\n\n\n"
MODEL_HEAD = (
    "from sqlalchemy import DateTime, ForeignKey, Index\n"
    "from sqlalchemy.orm import Mapped, mapped_column\n\n"
    "from app.models.base import Base, TimestampMixin\n\n\n"
)
MIGRATION_HEAD = '"""Add items."""\n\nimport sqlalchemy as sa\nfrom alembic import op\n\nrevision = "0001"\n'
SQL_TIMESTAMPS = (
    "    created_at timestamptz NOT NULL DEFAULT now(),\n    updated_at timestamptz NOT NULL DEFAULT now()\n"
)

# (skill, rule, path) -> (bad code, line of its finding, good code)
CASES: dict[tuple[str, str, str], tuple[str, int, str]] = {
    ("global-validation", "unvalidated-body", ROUTES): (
        ROUTER
        + '@router.post("/items", status_code=201)\nasync def create_item(payload: dict) -> ItemRead:\n'
        "    return await save(payload)\n",
        7,
        ROUTER
        + '@router.post("/items", status_code=201)\nasync def create_item(payload: ItemCreate) -> ItemRead:\n'
        "    return await save(payload)\n",
    ),
    ("global-validation", "unconstrained-string", "app/schemas/item.py"): (
        "from pydantic import BaseModel, Field\n\n\nclass ItemCreate(BaseModel):\n    title: str\n",
        5,
        "from pydantic import BaseModel, Field\n\n\nclass ItemCreate(BaseModel):\n"
        "    title: str = Field(min_length=1, max_length=200)\n",
    ),
    ("backend-api", "post-status-code", ROUTES): (
        ROUTER
        + '@router.post("/items")\nasync def create_item(payload: ItemCreate) -> ItemRead:\n    return payload\n',
        7,
        ROUTER
        + '@router.post("/items", status_code=201)\nasync def create_item(payload: ItemCreate) -> ItemRead:\n'
        "    return payload\n",
    ),
    ("backend-api", "verb-in-path", ROUTES): (
        ROUTER
        + '@router.get("/getUsers/{user_id}")\nasync def get_user(user_id: int) -> UserRead:\n    return user_id\n',
        7,
        ROUTER
        + '@router.get("/users/{user_id}")\nasync def get_user(user_id: int) -> UserRead:\n    return user_id\n',
    ),
    ("backend-api", "missing-response-model", ROUTES): (
        ROUTER + '@router.get("/users/{user_id}")\nasync def get_user(user_id: int):\n    return user_id\n',
        7,
        ROUTER
        + '@router.get("/users/{user_id}", response_model=UserRead)\nasync def get_user(user_id: int):\n'
        "    return user_id\n",
    ),
    ("backend-api", "unpaginated-list", ROUTES): (
        ROUTER + '@router.get("/users")\nasync def list_users() -> list[UserRead]:\n    return []\n',
        7,
        ROUTER
        + '@router.get("/users")\nasync def list_users(limit: int = 20, offset: int = 0) -> list[UserRead]:\n'
        "    return []\n",
    ),
    ("backend-migrations", "missing-downgrade", MIGRATION): (
        MIGRATION_HEAD + 'down_revision = None\n\n\ndef upgrade() -> None:\n    op.create_table("items")\n',
        10,
        MIGRATION_HEAD
        + 'down_revision = None\n\n\ndef upgrade() -> None:\n    op.create_table("items")\n\n\n'
        'def downgrade() -> None:\n    op.drop_table("items")\n',
    ),
    ("backend-migrations", "missing-revision", MIGRATION): (
        MIGRATION_HEAD + '\n\ndef upgrade() -> None:\n    op.create_table("items")\n\n\n'
        'def downgrade() -> None:\n    op.drop_table("items")\n',
        1,
        MIGRATION_HEAD
        + 'down_revision = None\n\n\ndef upgrade() -> None:\n    op.create_table("items")\n\n\n'
        'def downgrade() -> None:\n    op.drop_table("items")\n',
    ),
    ("backend-migrations", "not-null-without-default", MIGRATION): (
        MIGRATION_HEAD + 'down_revision = "0000"\n\n\ndef upgrade() -> None:\n'
        '    op.add_column("items", sa.Column("status", sa.String(20), nullable=False))\n',
        11,
        MIGRATION_HEAD + 'down_revision = "0000"\n\n\ndef upgrade() -> None:\n'
        '    op.add_column("items", sa.Column("status", sa.String(20), nullable=False, server_default="new"))\n',
    ),
    ("backend-migrations", "drop-table-without-if-exists", SQL): (
        "-- drop the old table\nDROP TABLE items;\n",
        2,
        "-- DROP TABLE items; (in a comment)\nDROP TABLE IF EXISTS items;\n",
    ),
    ("backend-models", "missing-timestamps", MODEL): (
        MODEL_HEAD
        + 'class Item(Base):\n    __tablename__ = "items"\n    id: Mapped[int] = mapped_column(primary_key=True)\n',
        7,
        MODEL_HEAD + 'class Item(TimestampMixin, Base):\n    __tablename__ = "items"\n'
        "    id: Mapped[int] = mapped_column(primary_key=True)\n",
    ),
    ("backend-models", "unindexed-foreign-key", MODEL): (
        MODEL_HEAD + 'class Item(TimestampMixin, Base):\n    __tablename__ = "items"\n'
        '    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))\n',
        9,
        MODEL_HEAD + 'class Item(TimestampMixin, Base):\n    __tablename__ = "items"\n'
        '    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)\n',
    ),
    ("backend-models", "naive-datetime-column", MODEL): (
        MODEL_HEAD + 'class Item(TimestampMixin, Base):\n    __tablename__ = "items"\n'
        "    shipped_at: Mapped[datetime] = mapped_column(DateTime)\n",
        9,
        MODEL_HEAD + 'class Item(TimestampMixin, Base):\n    __tablename__ = "items"\n'
        "    shipped_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))\n",
    ),
    ("backend-models", "missing-timestamps", SQL): (
        "CREATE TABLE items (\n    id bigint PRIMARY KEY\n);\n",
        1,
        "CREATE TABLE items (\n    id bigint PRIMARY KEY,\n" + SQL_TIMESTAMPS + ");\n",
    ),
    ("backend-models", "unindexed-foreign-key", SQL): (
        "CREATE TABLE orders (\n    id bigint PRIMARY KEY,\n    user_id bigint NOT NULL REFERENCES users (id),\n"
        + SQL_TIMESTAMPS
        + ");\n",
        3,
        "CREATE TABLE orders (\n    id bigint PRIMARY KEY,\n    user_id bigint NOT NULL REFERENCES users (id),\n"
        + SQL_TIMESTAMPS
        + ");\nCREATE INDEX orders_user_id_idx ON orders (user_id);\n",
    ),
    ("backend-queries", "sql-string-building", REPO): (
        "def find(conn, name):\n    return conn.execute(f\"SELECT id FROM users WHERE name = '{name}'\")\n",
        2,
        'def find(conn, name):\n    return conn.execute("SELECT id FROM users WHERE name = %s", (name,))\n',
    ),
    ("backend-queries", "select-star", REPO): (
        '"""Users."""\n\nQUERY = "SELECT * FROM users WHERE id = %s"\n',
        3,
        '"""Never SELECT * FROM users here."""\n\nQUERY = "SELECT id, name FROM users WHERE id = %s"\n',
    ),
    ("backend-queries", "select-star", SQL): (
        "SELECT *\nFROM users;\n",
        1,
        "SELECT id, name FROM users; -- not SELECT * FROM users\n",
    ),
    ("backend-queries", "query-in-loop", REPO): (
        "async def owners(session, items):\n    found = []\n    for item in items:\n"
        "        found.append(await session.get(User, item.owner_id))\n    return found\n",
        4,
        "async def owners(session, items):\n    ids = [item.owner_id for item in items]\n"
        "    return (await session.scalars(select(User).where(User.id.in_(ids)))).all()\n",
    ),
}


@pytest.mark.parametrize(("skill", "rule", "path"), list(CASES), ids=lambda v: str(v))
def test_each_rule_finds_its_failing_sample_and_passes_the_good_one(skill: str, rule: str, path: str) -> None:
    bad, line, good = CASES[skill, rule, path]
    assert summary(run_rule(skill, rule, {path: bad})) == [(skill, rule, path, line)]
    assert run_rule(skill, rule, {path: good}) == []


def test_flask_handlers_reading_the_raw_request_are_unvalidated() -> None:
    code = (
        "from flask import Flask, request\n\napp = Flask(__name__)\n\n\n"
        '@app.route("/items", methods=["POST"])\ndef create_item():\n    data = request.get_json()\n    return data\n'
    )
    [finding] = run_rule("global-validation", "unvalidated-body", {"app/views.py": code})
    assert (
        finding.message
        == "POST /items (create_item): reads request.get_json without validating it against a schema"
    )
    validated = code.replace("return data", "return ItemCreate.model_validate(data).model_dump()")
    assert run_rule("global-validation", "unvalidated-body", {"app/views.py": validated}) == []


def test_dependencies_and_action_endpoints_are_not_bodies_or_creates() -> None:
    code = ROUTER + (
        '@router.post("/auth/login", response_model=TokenResponse)\n'
        "async def login(payload: LoginRequest, settings: Annotated[dict, Depends(get_settings)]) -> TokenResponse:\n"
        "    return await authenticate(payload)\n"
    )
    assert run_rule("global-validation", "unvalidated-body", {ROUTES: code}) == []
    assert run_rule("backend-api", "post-status-code", {ROUTES: code}) == []


def test_routes_are_only_found_in_modules_of_a_web_framework() -> None:
    code = '@cache.get("/users")\ndef lookup():\n    return 1\n'
    assert run_rule("backend-api", "missing-response-model", {"app/cache.py": code}) == []


def test_a_raw_dict_return_is_reported_and_a_string_literal_path_segment_is_read_as_words() -> None:
    code = ROUTER + '@router.get("/create-item")\nasync def health() -> dict[str, str]:\n    return {}\n'
    [model] = run_rule("backend-api", "missing-response-model", {ROUTES: code})
    assert "raw dict" in model.message
    [verb] = run_rule("backend-api", "verb-in-path", {ROUTES: code})
    assert "'create-item' is a verb" in verb.message


def test_strings_limited_by_the_model_config_or_annotated_types_are_constrained() -> None:
    code = (
        "from typing import Annotated\n\nfrom pydantic import BaseModel, ConfigDict, EmailStr, Field\n\n\n"
        "class UserCreate(BaseModel):\n    email: EmailStr\n    name: Annotated[str, Field(max_length=100)]\n\n\n"
        "class NoteUpdate(BaseModel):\n    model_config = ConfigDict(str_max_length=500)\n    body: str | None = None\n\n\n"
        "class UserRead(BaseModel):\n    bio: str\n"
    )
    assert run_rule("global-validation", "unconstrained-string", {"app/schemas/user.py": code}) == []


def test_a_downgrade_that_does_nothing_is_reported_where_it_is_defined() -> None:
    code = (
        MIGRATION_HEAD
        + 'down_revision = None\n\n\ndef upgrade() -> None:\n    op.create_table("items")\n\n\n'
        'def downgrade() -> None:\n    """Irreversible."""\n    raise NotImplementedError\n'
    )
    [finding] = run_rule("backend-migrations", "missing-downgrade", {MIGRATION: code})
    assert (finding.line, finding.message) == (
        14,
        "downgrade() does nothing; it must undo what upgrade() does",
    )


def test_a_module_with_an_upgrade_function_is_not_a_migration_unless_it_is_alembic() -> None:
    assert (
        run_rule("backend-migrations", "missing-downgrade", {"app/tools.py": "def upgrade():\n    pass\n"})
        == []
    )


def test_timestamps_inherited_from_a_base_in_the_file_set_count() -> None:
    base = (
        "from datetime import datetime\n\nfrom sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column\n\n\n"
        "class Base(DeclarativeBase):\n    created_at: Mapped[datetime] = mapped_column()\n"
        "    updated_at: Mapped[datetime] = mapped_column()\n"
    )
    model = MODEL_HEAD + 'class Item(Base):\n    __tablename__ = "items"\n'
    assert run_rule("backend-models", "missing-timestamps", {"app/models/base.py": base, MODEL: model}) == []
    bare_base = "from sqlalchemy.orm import DeclarativeBase\n\n\nclass Base(DeclarativeBase):\n    pass\n"
    [finding] = run_rule(
        "backend-models", "missing-timestamps", {"app/models/base.py": bare_base, MODEL: model}
    )
    assert (finding.path, finding.fixable, finding.severity) == (MODEL, True, Severity.WARNING)
    assert finding.message.startswith("model Item has no created_at / updated_at")


def test_abstract_models_and_plain_classes_need_no_timestamps() -> None:
    code = (
        MODEL_HEAD
        + 'class Audit(Base):\n    __abstract__ = True\n    __tablename__ = "audit"\n\n\nclass Plain:\n    pass\n'
    )
    assert run_rule("backend-models", "missing-timestamps", {MODEL: code}) == []


def test_a_foreign_key_leading_an_index_in_table_args_or_a_primary_key_is_indexed() -> None:
    code = MODEL_HEAD + (
        'class Membership(TimestampMixin, Base):\n    __tablename__ = "memberships"\n'
        '    __table_args__ = (Index("ix_memberships_group", "group_id", "role"),)\n'
        '    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)\n'
        '    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"))\n'
        '    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id"))\n'
        'Index("ix_memberships_role", Membership.role_id)\n'
    )
    assert run_rule("backend-models", "unindexed-foreign-key", {MODEL: code}) == []


def test_sql_foreign_keys_covered_by_a_composite_key_or_added_by_alter_table() -> None:
    sql = (
        "CREATE TABLE members (\n    group_id bigint REFERENCES groups (id),\n    user_id bigint,\n"
        + SQL_TIMESTAMPS.rstrip("\n")
        + ",\n    PRIMARY KEY (group_id, user_id)\n);\n"
        "ALTER TABLE members ADD CONSTRAINT members_user_fk FOREIGN KEY (user_id) REFERENCES users (id);\n"
    )
    [finding] = run_rule("backend-models", "unindexed-foreign-key", {SQL: sql})
    assert (finding.line, finding.message) == (
        8,
        "foreign key members.user_id has no index; CREATE INDEX ON members (user_id)",
    )


def test_sql_comments_strings_and_temporary_tables_are_ignored() -> None:
    sql = "-- CREATE TABLE ghosts (id int);\nINSERT INTO notes VALUES ('CREATE TABLE x (id int)');\nCREATE TEMP TABLE scratch (id int);\n"
    assert run_rule("backend-models", "missing-timestamps", {SQL: sql}) == []


@pytest.mark.parametrize(
    ("code", "line"),
    [
        ('def f(cur, uid):\n    cur.execute("SELECT name FROM users WHERE id = %s" % uid)\n', 2),
        ('def f(cur, uid):\n    cur.execute("SELECT name FROM users WHERE id = " + uid)\n', 2),
        ('def f(db, uid):\n    db.execute(text("DELETE FROM users WHERE id = {}".format(uid)))\n', 2),
        (
            "def f(cur, uid):\n    sql = f\"SELECT name FROM users WHERE id = '{uid}'\"\n    cur.execute(sql)\n",
            3,
        ),
        (
            'def f(cur, name):\n    sql = "SELECT id FROM users WHERE active"\n'
            "    sql += f\" AND name = '{name}'\"\n    cur.execute(sql)\n",
            4,
        ),
    ],
)
def test_sql_built_from_input_in_every_spelling_is_an_error(code: str, line: int) -> None:
    [finding] = run_rule("backend-queries", "sql-string-building", {REPO: code})
    assert (finding.line, finding.severity) == (line, Severity.ERROR)


def test_sql_assembled_from_constants_and_literal_fragments_is_safe() -> None:
    code = """
    COLUMNS = "id, name"


    def page(cur, status, after, for_update):
        where = ["t.active"]
        params = []
        for column, value in (("t.status", status), ("t.owner", after)):
            if value is not None:
                where.append(f"{column} = %s")
                params.append(value)
        lock = " FOR UPDATE" if for_update else ""
        condition = " AND ".join(where)
        cur.execute(f"SELECT {COLUMNS} FROM tasks t WHERE {condition}{lock} LIMIT {int(50)}", params)
        for table in ("a", "b"):
            cur.execute(f"DELETE FROM {table} WHERE id = %s", (1,))
        return {t: cur.execute(f"SELECT count(*) FROM {t}").fetchone() for t in TABLES}
    """
    assert run_rule("backend-queries", "sql-string-building", {REPO: code}) == []


def test_one_insert_per_row_and_retry_loops_are_not_n_plus_one_reads() -> None:
    code = """
    async def record(cur, rows, session):
        for row in rows:
            await cur.execute("INSERT INTO results (score) VALUES (%s)", (row,))
            await session.execute(insert(Result).values(score=row))
        for attempt in range(3):
            await session.get(User, 1)
    """
    assert run_rule("backend-queries", "query-in-loop", {REPO: code}) == []
