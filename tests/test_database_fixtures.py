"""Tests for the database fixtures in conftest.py."""

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

# Names of the PostgreSQL databases that earlier tests in this module received.
seen_postgres_databases: list[str] = []


def check_round_trip(url: str) -> None:
    """Assert that the database is empty and accepts a table, an insert and a select."""
    engine = create_engine(url)
    try:
        assert inspect(engine).get_table_names() == []

        with engine.begin() as connection:
            connection.execute(
                text("CREATE TABLE probe (id INTEGER PRIMARY KEY, name TEXT)")
            )
            connection.execute(
                text("INSERT INTO probe (id, name) VALUES (:id, :name)"),
                [{"id": 1, "name": "first"}, {"id": 2, "name": "second"}],
            )

        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT id, name FROM probe ORDER BY id")
            ).all()
        assert [tuple(row) for row in rows] == [(1, "first"), (2, "second")]
    finally:
        engine.dispose()


def record_postgres_database(url: str) -> None:
    """Assert that the database is new and that earlier test databases were dropped."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            current = connection.execute(text("SELECT current_database()")).scalar_one()
            existing = set(
                connection.execute(text("SELECT datname FROM pg_database")).scalars()
            )
    finally:
        engine.dispose()

    assert current == make_url(url).database
    assert current not in seen_postgres_databases
    leftovers = existing.intersection(seen_postgres_databases)
    assert not leftovers, f"test databases were not dropped: {sorted(leftovers)}"
    seen_postgres_databases.append(current)


def test_database_url_round_trip(database_url: str) -> None:
    check_round_trip(database_url)


def test_sqlite_url_round_trip(sqlite_url: str, tmp_path: Path) -> None:
    assert make_url(sqlite_url).database == str(tmp_path / "archive.db")
    check_round_trip(sqlite_url)


def test_postgres_url_round_trip(postgres_url: str) -> None:
    check_round_trip(postgres_url)


def test_postgres_url_requires_password(postgres_url: str) -> None:
    url = make_url(postgres_url)
    assert url.password, "the fixture URL must carry the password"
    engine = create_engine(url.set(password="wrong-password"))
    try:
        with pytest.raises(OperationalError, match="password authentication failed"):
            engine.connect().close()
    finally:
        engine.dispose()


@pytest.mark.parametrize("run", ["first", "second"])
def test_postgres_url_is_new_database(postgres_url: str, run: str) -> None:
    record_postgres_database(postgres_url)
    # Creating the same table in both runs fails if they share a database.
    check_round_trip(postgres_url)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("run", ["first", "second"])
def test_database_url_postgresql_is_new_database(database_url: str, run: str) -> None:
    assert make_url(database_url).get_backend_name() == "postgresql"
    record_postgres_database(database_url)


def test_markers_select_postgres_tests(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(Path(__file__).with_name("conftest.py").read_text())
    pytester.makeini("[pytest]\nmarkers =\n    postgres: needs a PostgreSQL server\n")
    pytester.makepyfile(
        """
        def test_both(database_url):
            pass

        def test_sqlite(sqlite_url):
            pass

        def test_postgres(postgres_url):
            pass
        """
    )

    result = pytester.runpytest("-m", "postgres", "--collect-only", "-q")

    result.stdout.fnmatch_lines(
        [
            "*test_both?postgresql?",
            "*test_postgres",
            "2/4 tests collected (2 deselected)*",
        ]
    )


def test_missing_postgres_url_skips(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ETL_TEST_POSTGRES_URL", raising=False)
    monkeypatch.delenv("ETL_REQUIRE_POSTGRES", raising=False)
    pytester.makeconftest(Path(__file__).with_name("conftest.py").read_text())
    pytester.makepyfile(
        """
        def test_both(database_url):
            pass

        def test_postgres(postgres_url):
            pass
        """
    )

    result = pytester.runpytest("-rs")

    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(["*ETL_TEST_POSTGRES_URL is not set*"])


def test_missing_postgres_url_fails_when_required(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ETL_TEST_POSTGRES_URL", raising=False)
    monkeypatch.setenv("ETL_REQUIRE_POSTGRES", "1")
    pytester.makeconftest(Path(__file__).with_name("conftest.py").read_text())
    pytester.makepyfile(
        """
        def test_both(database_url):
            pass

        def test_postgres(postgres_url):
            pass
        """
    )

    result = pytester.runpytest()

    result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines(["*ETL_REQUIRE_POSTGRES=1, but ETL_TEST_POSTGRES_URL*"])
