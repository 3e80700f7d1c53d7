"""The analysis views: their SQL files and the statements that create and drop them.

Each view is defined in `sql/views/NAME.sql`, or in `NAME.DIALECT.sql` where
SQLite and PostgreSQL need different SQL (`DIALECT` is SQLAlchemy's dialect
name: `sqlite` or `postgresql`). The dialect file wins over the shared one.
Views keep each database's native types: booleans are boolean on PostgreSQL
and 0/1 on SQLite, and timestamps are timestamptz on PostgreSQL and UTC text
on SQLite, as in the tables.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Connection

from etl.errors import SchemaError

__all__ = ["VIEW_NAMES", "create_views", "drop_views", "read_view_sql", "sql_dir"]

logger = logging.getLogger(__name__)

# Creation order: a view comes after the views it reads from.
VIEW_NAMES = (
    "job_summary",
    "reward_history",
    "sensor_activity_daily",
    "candidate_versions",
    "lever_version_usage",
)

_PACKAGE_DIR = Path(__file__).resolve().parent.parent
# A wheel carries the SQL files inside the package, and a source checkout keeps
# them at the top of the repository.
_SQL_DIRS = (_PACKAGE_DIR / "_sql", _PACKAGE_DIR.parent / "sql")


def sql_dir() -> Path:
    """Return the directory that contains `views/` and `queries/`."""
    for directory in _SQL_DIRS:
        if (directory / "views").is_dir():
            return directory
    raise SchemaError(
        "The SQL files of the views are missing from this installation. "
        "Reinstall the package."
    )


def read_view_sql(name: str, dialect: str) -> str:
    """Return the `CREATE VIEW` statement of view `name` for `dialect`."""
    views = sql_dir() / "views"
    for path in (views / f"{name}.{dialect}.sql", views / f"{name}.sql"):
        if path.is_file():
            return path.read_text("utf-8")
    raise SchemaError(
        f"No SQL file defines the view {name!r} for {dialect}: expected "
        f"{views / (name + '.' + dialect + '.sql')} or {views / (name + '.sql')}."
    )


def create_views(connection: Connection, names: Sequence[str] = VIEW_NAMES) -> None:
    """Create the views `names`, in that order, from their SQL files."""
    dialect = connection.dialect.name
    for name in names:
        logger.debug("Creating the view %s for %s.", name, dialect)
        # exec_driver_sql sends the file as written, without bind parameters.
        connection.exec_driver_sql(read_view_sql(name, dialect))


def drop_views(connection: Connection, names: Sequence[str] = VIEW_NAMES) -> None:
    """Drop the views `names` that exist, in reverse order.

    A migration that rebuilds a table on SQLite (`batch_alter_table`) must drop
    the views before and create them after. SQLite (checked with 3.40) checks
    every view when it renames the rebuilt table into place, and fails with
    "error in view ...: no such table".
    """
    for name in reversed(names):
        logger.debug("Dropping the view %s.", name)
        connection.exec_driver_sql(f"DROP VIEW IF EXISTS {name}")
