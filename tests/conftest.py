"""Database fixtures that run tests against SQLite and PostgreSQL.

PostgreSQL tests need ETL_TEST_POSTGRES_URL, a SQLAlchemy URL of a role with
CREATEDB. `make test` starts a throwaway server and sets it. Without the
variable, PostgreSQL tests are skipped, unless ETL_REQUIRE_POSTGRES=1 makes
them fail.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, ProgrammingError
from sqlalchemy.pool import NullPool

pytest_plugins = ["pytester"]

POSTGRES_URL_VARIABLE = "ETL_TEST_POSTGRES_URL"
REQUIRE_POSTGRES_VARIABLE = "ETL_REQUIRE_POSTGRES"
# Database that every PostgreSQL server has, used to create and drop test
# databases.
MAINTENANCE_DATABASE = "postgres"
TEST_DATABASE_PREFIX = "etl_test_"


class MaskedUrl(str):
    """A database URL whose repr hides the password, so test reports omit it."""

    def __new__(cls, url: URL) -> MaskedUrl:
        masked = super().__new__(cls, url.render_as_string(hide_password=False))
        masked.masked = url.render_as_string(hide_password=True)
        return masked

    masked: str

    def __repr__(self) -> str:
        return repr(self.masked)


def make_sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'archive.db'}"


def get_postgres_server_url() -> URL:
    """Return ETL_TEST_POSTGRES_URL as a URL.

    Skip the test when the variable is unset, or fail it when ETL_REQUIRE_POSTGRES=1.
    Fail the test when the URL is invalid or not a PostgreSQL URL.
    """
    raw_url = os.environ.get(POSTGRES_URL_VARIABLE, "").strip()
    if not raw_url:
        message = (
            f"{POSTGRES_URL_VARIABLE} is not set. Run `make test`, which starts a "
            "throwaway PostgreSQL server, or set it to the URL of a role with "
            "CREATEDB, such as postgresql+psycopg://user:password@127.0.0.1:5432/db."
        )
        if os.environ.get(REQUIRE_POSTGRES_VARIABLE) == "1":
            pytest.fail(f"{REQUIRE_POSTGRES_VARIABLE}=1, but {message}")
        pytest.skip(message)

    try:
        url = make_url(raw_url)
    except ArgumentError as error:
        pytest.fail(f"{POSTGRES_URL_VARIABLE} is not a valid SQLAlchemy URL: {error}")
    if url.get_backend_name() != "postgresql":
        pytest.fail(
            f"{POSTGRES_URL_VARIABLE} must be a postgresql:// URL, "
            f"got {url.render_as_string(hide_password=True)}"
        )
    return url


@contextmanager
def create_postgres_database() -> Iterator[str]:
    """Create an empty, uniquely named database, yield its URL, then drop it."""
    server_url = get_postgres_server_url()
    database_name = f"{TEST_DATABASE_PREFIX}{uuid.uuid4().hex}"
    maintenance_engine = create_engine(
        server_url.set(database=MAINTENANCE_DATABASE),
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
    )
    try:
        try:
            with maintenance_engine.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{database_name}"'))
        except OperationalError as error:
            server = server_url.render_as_string(hide_password=True)
            pytest.fail(f"cannot create a test database on {server}: {error}")

        try:
            database_url = server_url.set(database=database_name)
            yield MaskedUrl(database_url)
        finally:
            _drop_database(maintenance_engine, database_name)
    finally:
        maintenance_engine.dispose()


def _drop_database(engine: Engine, name: str) -> None:
    """Drop a test database, retrying while a server process still uses it."""
    for attempt in range(10):
        try:
            # FORCE ends connections that the test left open (PostgreSQL 13+).
            with engine.connect() as connection:
                connection.execute(
                    text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                )
            return
        except (OperationalError, ProgrammingError):
            if attempt == 9:
                raise
            time.sleep(0.5)


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of an empty database, once for SQLite and once for PostgreSQL."""
    if request.param == "sqlite":
        yield make_sqlite_url(tmp_path)
    else:
        with create_postgres_database() as url:
            yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of an empty SQLite database file in the test's temporary directory."""
    return make_sqlite_url(tmp_path)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """URL of an empty PostgreSQL database that is dropped after the test."""
    with create_postgres_database() as url:
        yield url


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A fixture cannot mark its tests, so mark them here to make
    # `-m postgres` and `-m "not postgres"` select them.
    for item in items:
        if "postgres_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)
