"""Single-row `INSERT … ON CONFLICT` for PostgreSQL and SQLite alike."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table

__all__ = ["insert_or_update"]

Row = dict[str, Any]


def _insert(connection: Connection, table: Table) -> Any:
    # Each dialect's module is imported on first use, so a run loads only its own.
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)


def insert_or_update(
    connection: Connection,
    table: Table,
    row: Row,
    *,
    conflict_columns: Sequence[str | ColumnElement[Any]],
    update_columns: Sequence[str],
) -> None:
    """Insert a row, or update `update_columns` of the row it conflicts with."""
    statement = _insert(connection, table)
    statement = statement.on_conflict_do_update(
        index_elements=list(conflict_columns),
        set_={name: statement.excluded[name] for name in update_columns},
    )
    connection.execute(statement, [row])
