"""The accepted code of each task (orchestrator.task_files): what a deployment writes to
disk later, so paths are checked here, before they are stored."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from psycopg import AsyncConnection
from psycopg.rows import class_row

from devmatrix.runtime.errors import FieldViolation, InvalidArgument

MAX_PATH = 1000
MAX_LANGUAGE = 50
MAX_FILES = 500


@dataclass(frozen=True)
class TaskFile:
    path: str
    content: str
    language: str = ""


def check_files(files: list[TaskFile], field: str = "files") -> list[TaskFile]:
    """Relative, normalised paths without '..', each once: a path that could escape the
    project directory is refused rather than rewritten."""
    if len(files) > MAX_FILES:
        raise InvalidArgument(
            f"{field}: {len(files)} files; the limit is {MAX_FILES}",
            [FieldViolation(field, f"at most {MAX_FILES} files")],
        )
    violations: list[FieldViolation] = []
    seen: set[str] = set()
    for i, f in enumerate(files):
        where = f"{field}[{i}].path"
        parts = PurePosixPath(f.path).parts
        if not f.path or len(f.path) > MAX_PATH:
            violations.append(FieldViolation(where, f"1 to {MAX_PATH} characters"))
        elif (
            f.path.startswith("/") or "\\" in f.path or ".." in parts or str(PurePosixPath(f.path)) != f.path
        ):
            violations.append(FieldViolation(where, f"{f.path!r} is not a normalised relative path"))
        elif f.path in seen:
            violations.append(FieldViolation(where, f"{f.path!r} appears twice"))
        if len(f.language) > MAX_LANGUAGE:
            violations.append(FieldViolation(f"{field}[{i}].language", f"at most {MAX_LANGUAGE} characters"))
        seen.add(f.path)
    if violations:
        raise InvalidArgument(f"{field}: {violations[0].description}", violations)
    return files


async def replace_files(conn: AsyncConnection, task_id: str, files: list[TaskFile]) -> None:
    """The task's files become exactly `files` (a new attempt or a reviewer's edit replaces
    the previous code as a whole: a file it no longer produces must not be deployed)."""
    await conn.execute("DELETE FROM orchestrator.task_files WHERE task_id = %s", (task_id,))
    if files:
        async with conn.cursor() as cur:
            await cur.executemany(
                """INSERT INTO orchestrator.task_files (task_id, path, content, language)
                   VALUES (%s, %s, %s, %s)""",
                [(task_id, f.path, f.content, f.language) for f in files],
            )


async def files_of(conn: AsyncConnection, task_ids: list[str]) -> dict[str, list[TaskFile]]:
    found: dict[str, list[TaskFile]] = {task_id: [] for task_id in task_ids}
    async with conn.cursor() as cur:
        await cur.execute(
            """SELECT task_id::text, path, content, language FROM orchestrator.task_files
               WHERE task_id = ANY(%s::uuid[]) ORDER BY task_id, path""",
            (task_ids,),
        )
        for task_id, path, content, language in await cur.fetchall():
            found[task_id].append(TaskFile(path, content, language))
    return found


async def task_files(conn: AsyncConnection, task_id: str) -> list[TaskFile]:
    async with conn.cursor(row_factory=class_row(TaskFile)) as cur:
        await cur.execute(
            "SELECT path, content, language FROM orchestrator.task_files WHERE task_id = %s ORDER BY path",
            (task_id,),
        )
        return await cur.fetchall()
