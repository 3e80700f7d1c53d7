"""Migrations build exactly the schema the loader writes against."""

from __future__ import annotations

import multiprocessing
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, inspect, select
from sqlalchemy.exc import IntegrityError

from archive_helpers import CliResult, fixture_path, run_etl
from etl.load import connect, schema, upgrade
from etl.load.database import current_revision, head_revision, script_head_revision


# Neither dialect reflects the expression index of rejected_payloads, so
# autogenerate skips it; test_upgrade_keys_rejected_by_source_start covers it.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified")
def test_migrations_match_metadata(database_url: str) -> None:
    engine = connect(database_url)
    try:
        upgrade(engine)
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True}
            )
            differences = compare_metadata(context, schema.metadata)
    finally:
        engine.dispose()

    assert differences == []


def test_head_revision_matches_scripts() -> None:
    assert head_revision() == script_head_revision()


def test_upgrade_is_repeatable(database_url: str) -> None:
    first = run_etl("db", "upgrade", "--database-url", database_url)
    second = run_etl("db", "upgrade", "--database-url", database_url)

    assert first.exit_code == 0
    assert f"from empty to {head_revision()}" in first.stdout
    assert second.exit_code == 0
    assert f"is already at revision {head_revision()}" in second.stdout


def test_sync_creates_schema_in_empty_database(database_url: str) -> None:
    result = run_etl(
        "sync",
        "--from",
        str(fixture_path("documented_example")),
        "--database-url",
        database_url,
    )

    assert result.exit_code == 0
    engine = connect(database_url)
    try:
        assert current_revision(engine) == head_revision()
        assert set(schema.metadata.tables) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_sync_stops_on_schema_behind(database_url: str) -> None:
    engine = connect(database_url)
    try:
        upgrade(engine, "0001")
    finally:
        engine.dispose()

    result = run_etl(
        "sync",
        "--from",
        str(fixture_path("documented_example")),
        "--database-url",
        database_url,
    )

    assert result.exit_code == 2
    assert f"is at revision 0001, behind {head_revision()}" in result.stderr
    assert "Run `etl db upgrade`" in result.stderr
    engine = connect(database_url)
    try:
        assert "jobs" in inspect(engine).get_table_names()
        assert "etl_runs" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def sync_after_edit(database_url: str, statement: str) -> CliResult:
    """Create the schema, run `statement` on it, then sync a fixture."""
    engine = connect(database_url)
    try:
        upgrade(engine)
        with engine.begin() as connection:
            connection.exec_driver_sql(statement)
    finally:
        engine.dispose()
    return run_etl(
        "sync",
        "--from",
        str(fixture_path("documented_example")),
        "--database-url",
        database_url,
    )


def test_sync_stops_on_unknown_revision(database_url: str) -> None:
    result = sync_after_edit(
        database_url, "UPDATE alembic_version SET version_num = '9999'"
    )

    assert result.exit_code == 2
    assert "at revision 9999, which this version of etl does not know" in result.stderr


def test_sync_stops_on_two_revisions(database_url: str) -> None:
    result = sync_after_edit(
        database_url, "INSERT INTO alembic_version (version_num) VALUES ('0001')"
    )

    assert result.exit_code == 2
    assert "alembic_version table of" in result.stderr
    assert "contains 2 revisions, but etl's migrations form a single" in result.stderr


def test_child_columns_match_tables() -> None:
    from etl.normalize.rows import CHILD_COLUMNS

    for name, columns in CHILD_COLUMNS.items():
        table = schema.metadata.tables[name]
        assert columns == tuple(column.name for column in table.columns), name


def test_upgrade_stops_on_unknown_revision(database_url: str) -> None:
    engine = connect(database_url)
    try:
        upgrade(engine)
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "UPDATE alembic_version SET version_num = '9999'"
            )
    finally:
        engine.dispose()

    result = run_etl("db", "upgrade", "--database-url", database_url)

    assert result.exit_code == 2
    assert "at revision 9999, which this version of etl does not know" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


def test_upgrade_in_missing_folder(tmp_path: Path) -> None:
    database = tmp_path / "absent" / "archive.db"

    result = run_etl("db", "upgrade", "--database-url", f"sqlite:///{database}")

    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"error: Cannot create the schema lock file {database}.schema.lock beside "
        "the SQLite database: No such file or directory. Check that its folder "
        "exists and is writable."
    )


@pytest.mark.parametrize("command", ["runs", "rejected", ("db", "rows")])
def test_read_commands_keep_empty_database(
    database_url: str, command: str | tuple[str, ...]
) -> None:
    engine = connect(database_url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE unrelated (id INTEGER)")
    finally:
        engine.dispose()
    words = (command,) if isinstance(command, str) else command

    result = run_etl(*words, "--database-url", database_url)

    assert result.exit_code == 2
    assert "contains no archive. Check --database-url" in result.stderr
    engine = connect(database_url)
    try:
        assert inspect(engine).get_table_names() == ["unrelated"]
    finally:
        engine.dispose()


def test_archive_without_revision(database_url: str) -> None:
    sync = sync_after_edit(database_url, "DELETE FROM alembic_version")
    upgrade_result = run_etl("db", "upgrade", "--database-url", database_url)

    for result in (sync, upgrade_result):
        assert result.exit_code == 2
        assert "has archive tables but no schema revision in an alembic_version" in (
            result.stderr
        )


def test_upgrade_keys_rejected_by_source_start(database_url: str) -> None:
    def rejected(source: str) -> dict[str, Any]:
        return {
            "run_id": "r",
            "source": source,
            "error": "e",
            "body": b"{}",
            "body_sha256": "abc",
            "received_at": datetime(2026, 12, 4, tzinfo=UTC),
        }

    long_source = "s" * 600
    table = schema.rejected_payloads
    engine = connect(database_url)
    try:
        upgrade(engine, "0003")
        with engine.begin() as connection:
            connection.execute(insert(table), [rejected(long_source)])
        upgrade(engine)
        with engine.begin() as connection:
            sources = connection.execute(select(table.c.source)).scalars()
            assert list(sources) == [long_source]
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(insert(table), [rejected("s" * 500 + "t")])
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "command",
    [("runs",), ("rejected",), ("db", "rows"), ("db", "current"), ("report",)],
)
def test_read_commands_leave_sqlite_file(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    database = tmp_path / "other.db"
    connection = sqlite3.connect(database)
    connection.execute("CREATE TABLE unrelated (id INTEGER)")
    connection.commit()
    connection.close()
    before = database.read_bytes()
    url = f"sqlite:///{database}"
    out = ("--out", str(tmp_path / "report.html")) if command == ("report",) else ()

    result = run_etl(*command, "--database-url", url, *out)

    assert result.exit_code == (0 if command == ("db", "current") else 2)
    assert database.read_bytes() == before
    assert not Path(f"{database}-wal").exists()


def open_at_barrier(path: str, barrier: Any, errors: Any) -> None:
    barrier.wait()
    try:
        engine = connect(f"sqlite:///{path}")
        current_revision(engine)
        engine.dispose()
    except Exception as error:
        errors.put(str(error))


def test_new_sqlite_file_opened_together(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    errors = context.Queue()
    for round_number in range(30):
        path = str(tmp_path / f"new_{round_number}.db")
        barrier = context.Barrier(8)
        processes = [
            context.Process(target=open_at_barrier, args=(path, barrier, errors))
            for _ in range(8)
        ]
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=60)

        assert [process.exitcode for process in processes] == [0] * 8
    assert errors.empty()
