"""`INSERT … ON CONFLICT DO NOTHING` for PostgreSQL and SQLite alike."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

__all__ = ["insert_ignoring_duplicates"]

Row = dict[str, Any]


def _insert(connection: Connection, table: Table) -> Any:
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


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
