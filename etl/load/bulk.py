"""Bulk statements: one round trip per table for a whole batch of jobs.

SQLite takes `executemany` of `INSERT … ON CONFLICT DO UPDATE` through the
driver. PostgreSQL takes `COPY` into a temporary staging table followed by
one `INSERT … SELECT … ON CONFLICT DO UPDATE`. Identifiers in the SQL come
from the schema only; every value travels as a bound parameter or through
COPY.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.exc import IntegrityError

from etl.load.schema import UtcDateTime

__all__ = ["BulkWriter", "bulk_writer"]

Values = tuple[Any, ...]
_SQLITE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


class BulkWriter:
    """Bulk upserts and deletes on one connection, inside its transaction."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def upsert(
        self,
        table: Table,
        columns: Sequence[str],
        rows: Sequence[Values],
        *,
        keep: Sequence[str] = (),
    ) -> None:
        """Insert rows, updating the columns not in the key or `keep`."""
        raise NotImplementedError

    def insert(
        self, table: Table, columns: Sequence[str], rows: Sequence[Values]
    ) -> None:
        """Insert rows whose keys cannot exist yet; a duplicate raises."""
        raise NotImplementedError

    def delete_by_job(self, table: Table, job_ids: Sequence[str]) -> None:
        """Delete every row of the given jobs."""
        raise NotImplementedError

    def delete_by_frame(self, table: Table, keys: Sequence[tuple[str, str]]) -> None:
        """Delete the rows of the given `(job_id, frame_id)` pairs."""
        raise NotImplementedError


def _conflict_clause(table: Table, columns: Sequence[str], keep: Sequence[str]) -> str:
    key = [column.name for column in table.primary_key.columns]
    updated = [name for name in columns if name not in key and name not in keep]
    target = ", ".join(key)
    if not updated:
        return f"ON CONFLICT ({target}) DO NOTHING"
    assignments = ", ".join(f"{name} = excluded.{name}" for name in updated)
    return f"ON CONFLICT ({target}) DO UPDATE SET {assignments}"


class _SqliteWriter(BulkWriter):
    def upsert(
        self,
        table: Table,
        columns: Sequence[str],
        rows: Sequence[Values],
        *,
        keep: Sequence[str] = (),
    ) -> None:
        self._insert_many(table, columns, rows, _conflict_clause(table, columns, keep))

    def insert(
        self, table: Table, columns: Sequence[str], rows: Sequence[Values]
    ) -> None:
        self._insert_many(table, columns, rows, "")

    def _insert_many(
        self,
        table: Table,
        columns: Sequence[str],
        rows: Sequence[Values],
        conflict: str,
    ) -> None:
        if not rows:
            return
        names = ", ".join(columns)
        marks = ", ".join("?" for _ in columns)
        statement = f"INSERT INTO {table.name} ({names}) VALUES ({marks}) {conflict}"
        self.connection.exec_driver_sql(statement, _sqlite_values(table, columns, rows))

    def delete_by_job(self, table: Table, job_ids: Sequence[str]) -> None:
        if job_ids:
            self.connection.exec_driver_sql(
                f"DELETE FROM {table.name} WHERE job_id = ?",
                [(job_id,) for job_id in job_ids],
            )

    def delete_by_frame(self, table: Table, keys: Sequence[tuple[str, str]]) -> None:
        if keys:
            self.connection.exec_driver_sql(
                f"DELETE FROM {table.name} WHERE job_id = ? AND frame_id = ?",
                list(keys),
            )


def _sqlite_values(
    table: Table, columns: Sequence[str], rows: Sequence[Values]
) -> list[Values]:
    """Store timestamps as UTC text, the form the schema's SQLite type reads."""
    times = [i for i, name in enumerate(columns) if _is_timestamp(table, name)]
    if not times:
        return list(rows)
    converted = []
    for row in rows:
        values = list(row)
        for index in times:
            if values[index] is not None:
                values[index] = _sqlite_time(values[index])
        converted.append(tuple(values))
    return converted


def _sqlite_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime(_SQLITE_TIME_FORMAT)


def _is_timestamp(table: Table, name: str) -> bool:
    return isinstance(table.columns[name].type, UtcDateTime)


class _PostgresWriter(BulkWriter):
    def upsert(
        self,
        table: Table,
        columns: Sequence[str],
        rows: Sequence[Values],
        *,
        keep: Sequence[str] = (),
    ) -> None:
        if not rows:
            return
        stage = self._stage(table)
        names = ", ".join(columns)
        self._copy(f"COPY {stage} ({names}) FROM STDIN", rows)
        conflict = _conflict_clause(table, columns, keep)
        self.connection.exec_driver_sql(
            f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {stage} {conflict}"
        )
        self.connection.exec_driver_sql(f"DELETE FROM {stage}")

    def insert(
        self, table: Table, columns: Sequence[str], rows: Sequence[Values]
    ) -> None:
        if rows:
            names = ", ".join(columns)
            self._copy(f"COPY {table.name} ({names}) FROM STDIN", rows)

    def delete_by_job(self, table: Table, job_ids: Sequence[str]) -> None:
        if job_ids:
            self.connection.exec_driver_sql(
                f"DELETE FROM {table.name} WHERE job_id = ANY(%(job_ids)s)",
                {"job_ids": list(job_ids)},
            )

    def delete_by_frame(self, table: Table, keys: Sequence[tuple[str, str]]) -> None:
        if keys:
            self.connection.exec_driver_sql(
                f"DELETE FROM {table.name} AS t "
                "USING unnest(%(job_ids)s::text[], %(frame_ids)s::text[]) "
                "AS k(job_id, frame_id) "
                "WHERE t.job_id = k.job_id AND t.frame_id = k.frame_id",
                {
                    "job_ids": [job_id for job_id, _ in keys],
                    "frame_ids": [frame_id for _, frame_id in keys],
                },
            )

    def _stage(self, table: Table) -> str:
        """Return a temporary table of the table's shape, created on first use.

        The statement runs every time, because a rolled-back transaction also
        undoes the creation.
        """
        name = f"etl_stage_{table.name}"
        self.connection.exec_driver_sql(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {name} "
            f"(LIKE {table.name} INCLUDING DEFAULTS)"
        )
        return name

    def _copy(self, statement: str, rows: Sequence[Values]) -> None:
        # Imported here so that SQLite runs never load the PostgreSQL driver.
        import psycopg

        driver = self.connection.connection.driver_connection
        assert driver is not None
        try:
            with driver.cursor() as cursor, cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
        except psycopg.IntegrityError as exc:
            # Raised as SQLAlchemy's error, like every other statement's.
            raise IntegrityError(statement, None, exc) from exc


def bulk_writer(connection: Connection) -> BulkWriter:
    """Return the bulk writer for the connection's dialect."""
    if connection.dialect.name == "postgresql":
        return _PostgresWriter(connection)
    return _SqliteWriter(connection)
