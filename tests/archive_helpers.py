"""Helpers shared by the tests: run the CLI, read tables back as plain rows."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import create_engine, select
from sqlalchemy.pool import NullPool

from etl.cli import cli
from etl.load import schema
from etl.load.inspect import ARCHIVE_TABLES

DATA_DIR = Path(__file__).parent / "data"
FIXTURE_NAMES = ("documented_example", "gepa_succeeded", "mipro_running")


@dataclass(frozen=True)
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


def run_etl(*args: str, env: dict[str, str] | None = None) -> CliResult:
    """Run the `etl` command in-process and capture its output and exit code."""
    runner = CliRunner()
    result = runner.invoke(cli, list(args), env=env, catch_exceptions=False)
    return CliResult(result.exit_code, result.stdout, result.stderr)


def fixture_path(name: str) -> Path:
    return DATA_DIR / f"{name}.json"


def fixture_payload(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(fixture_path(name).read_text("utf-8"))
    return loaded


def read_table(url: str, table_name: str) -> list[dict[str, Any]]:
    """Return a table's rows as dicts, ordered by primary key."""
    table = schema.metadata.tables[table_name]
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            query = select(table).order_by(*table.primary_key.columns)
            return [dict(row._mapping) for row in connection.execute(query)]
    finally:
        engine.dispose()


def dump_archive(url: str, *, skip: tuple[str, ...] = ("etl_runs",)) -> dict[str, Any]:
    """Return every archive table as comparable values, keyed by table name.

    Timestamps become ISO strings in UTC and bytes stay bytes, so dumps from
    SQLite and PostgreSQL compare equal when the stored values are equal.
    """
    return {
        table.name: [_plain(row) for row in read_table(url, table.name)]
        for table in ARCHIVE_TABLES
        if table.name not in skip
    }


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value.isoformat() if isinstance(value, datetime) else value
        for key, value in row.items()
    }
