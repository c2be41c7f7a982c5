"""Reading the orchestrator's tables the way the tests check them."""

from __future__ import annotations

from typing import Any

import psycopg


def sql(database_url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(query, params).fetchall()


def audit(database_url: str, entity_id: str) -> list[dict[str, Any]]:
    """The entity's audit rows in order, each as its action, its changes and its user."""
    rows = sql(
        database_url,
        """SELECT action, changes, user_id FROM orchestrator.audit_log WHERE entity_id = %s
           ORDER BY "timestamp", id""",
        entity_id,
    )
    return [{"action": action, **changes, "user": user} for action, changes, user in rows]


def assert_audit_chains(database_url: str, spec_id: str) -> None:
    """Every task's status changes form one unbroken chain of audit rows, from the status
    it was created with to the status it has now."""
    tasks = sql(
        database_url, "SELECT id::text, key, status FROM orchestrator.tasks WHERE spec_id = %s", spec_id
    )
    for task_id, key, status in tasks:
        rows = audit(database_url, task_id)
        assert rows[0]["action"] == "CREATE", key
        current = rows[0]["status"]
        changes = [r for r in rows if r["action"] in ("STATUS_CHANGE", "STATUS_ROLLUP")]
        for change in changes:
            assert change["from"] == current, (key, changes)
            current = change["to"]
        assert current == status, (key, changes)
