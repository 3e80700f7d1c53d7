"""`INSERT … ON CONFLICT` statements that work the same on PostgreSQL and SQLite."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

__all__ = ["insert_ignoring_duplicates", "upsert"]

Row = dict[str, Any]


def _insert(connection: Connection, table: Table) -> Any:
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def upsert(
    connection: Connection,
    table: Table,
    rows: Sequence[Row],
    *,
    keep: Sequence[str] = (),
) -> None:
    """Insert rows, updating every non-key column of rows that already exist.

    Columns named in `keep` are written on insert only, so an update leaves
    them as they were (a job's `first_seen_at`, for instance).
    """
    if not rows:
        return
    statement = _insert(connection, table)
    key = [column.name for column in table.primary_key.columns]
    updated = {
        column.name: statement.excluded[column.name]
        for column in table.columns
        if column.name not in key and column.name not in keep
    }
    if updated:
        statement = statement.on_conflict_do_update(index_elements=key, set_=updated)
    else:
        statement = statement.on_conflict_do_nothing(index_elements=key)
    connection.execute(statement, list(rows))


def insert_ignoring_duplicates(
    connection: Connection,
    table: Table,
    rows: Sequence[Row],
    *,
    conflict_columns: Sequence[str] | None = None,
) -> int:
    """Insert rows, skipping those whose key already exists; returns rows added."""
    if not rows:
        return 0
    key = conflict_columns or [column.name for column in table.primary_key.columns]
    statement = _insert(connection, table).on_conflict_do_nothing(index_elements=key)
    result = connection.execute(statement, list(rows))
    return max(result.rowcount, 0)
