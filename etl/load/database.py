"""Engines, migrations and the schema check that guards every write."""

from __future__ import annotations

import fcntl
import hashlib
import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError

from etl.errors import ConfigurationError, SchemaError, SourceError

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "connect",
    "current_revision",
    "describe_error",
    "ensure_schema",
    "head_revision",
    "mask_url",
    "require_archive",
    "require_existing",
    "upgrade",
]

logger = logging.getLogger(__name__)

# Advisory lock key of schema changes, distinct from the run locks' keys.
_SCHEMA_KEY = int.from_bytes(
    hashlib.sha256(b"synth-results-archive:schema").digest()[:8], "big", signed=True
)

_PACKAGE_DIR = Path(__file__).resolve().parent.parent
# A wheel carries the migrations inside the package; a source checkout keeps
# them at the top of the repository.
_MIGRATION_DIRS = (_PACKAGE_DIR / "_migrations", _PACKAGE_DIR.parent / "migrations")

# The newest migration revision. Runs compare it with the database's revision
# and import alembic only when the two differ. A test keeps it equal to the
# newest migration script.
HEAD_REVISION = "0004"


def mask_url(url: str) -> str:
    """Return the URL with its password replaced by `***`, for logs and errors."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except SQLAlchemyError:
        return "<unparsable database URL>"


def require_existing(url: str | URL) -> None:
    """Raise `ConfigurationError` if a SQLite URL names a file that is missing.

    Commands that only read the archive call this, so a mistyped path fails
    instead of creating an empty database.
    """
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return
    if not Path(database).exists():
        raise ConfigurationError(
            f"The SQLite database {database} does not exist. Run `etl sync` "
            "first, or check ETL_DATABASE_URL (--database-url)."
        )


def connect(url: str, *, read_only: bool = False) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and real transactions.

    With `read_only`, a SQLite file keeps its journal mode and transactions
    take no write lock, so commands that only read leave the file as it was.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, read_only=read_only)
    return create_engine(url, pool_pre_ping=True)


def _sqlite_engine(url: str, *, read_only: bool) -> Engine:
    engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own transaction handling starts transactions late and
        # commits DDL implicitly; turning it off lets SQLAlchemy's BEGIN rule.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not read_only:
            _use_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def _use_wal(cursor: Any) -> None:
    """Switch the SQLite file to WAL mode unless it is in WAL mode already.

    Processes that open a new file at the same moment race to switch it, and
    SQLite reports "database is locked" to a loser without waiting for the
    busy timeout, so that error is retried.
    """
    (mode,) = cursor.execute("PRAGMA journal_mode").fetchone()
    if mode == "wal":
        return
    from tenacity import (
        Retrying,
        retry_if_exception,
        stop_after_delay,
        wait_random,
    )

    retrying = Retrying(
        retry=retry_if_exception(_is_locked),
        stop=stop_after_delay(30),
        wait=wait_random(0.01, 0.1),
        reraise=True,
    )
    for attempt in retrying:
        with attempt:
            cursor.execute("PRAGMA journal_mode=WAL")


def _is_locked(error: BaseException) -> bool:
    return isinstance(error, sqlite3.OperationalError) and "locked" in str(error)


def _alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    for directory in _MIGRATION_DIRS:
        if (directory / "env.py").is_file():
            config.set_main_option("script_location", str(directory))
            return config
    raise SchemaError(
        "The migration scripts are missing from this installation; "
        "reinstall the package."
    )


def head_revision() -> str:
    """Return the newest migration revision this version of the package has."""
    return HEAD_REVISION


def script_head_revision() -> str | None:
    """Return the newest revision among the installed migration scripts."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """Return the revision the database is at, or None for an empty database."""
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return None
            stored = connection.execute(text("SELECT version_num FROM alembic_version"))
            revisions = list(stored.scalars())
    except SQLAlchemyError as exc:
        raise _unreachable(engine, exc) from exc
    if len(revisions) > 1:
        url = engine.url.render_as_string(hide_password=True)
        raise SchemaError(
            f"The alembic_version table of {url} contains {len(revisions)} "
            "revisions, but etl's migrations form a single line. Delete every "
            "row except the revision that the schema is at."
        )
    return revisions[0] if revisions else None


@contextmanager
def _sqlite_schema_lock(engine: Engine) -> Iterator[None]:
    """Hold an exclusive `flock` on `DATABASE.schema.lock` while it exists."""
    database = engine.url.database
    if not database or database == ":memory:":
        yield
        return
    path = f"{database}.schema.lock"
    try:
        handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        raise SourceError(
            f"Cannot create the schema lock file {path} beside the SQLite "
            f"database: {exc.strerror}. Check that its folder exists and is "
            "writable."
        ) from exc
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


@contextmanager
def _schema_lock(engine: Engine) -> Iterator[None]:
    """Serialize schema changes of concurrent processes.

    PostgreSQL takes an advisory lock, SQLite an `flock` on a file beside the
    database; both wait for the holder rather than fail.
    """
    if engine.dialect.name != "postgresql":
        with _sqlite_schema_lock(engine):
            yield
        return
    try:
        connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    except SQLAlchemyError as exc:
        raise _unreachable(engine, exc) from exc
    try:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _SCHEMA_KEY})
        yield
    finally:
        connection.close()


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str]:
    """Apply pending migrations up to `revision`; returns the revisions before and
    after."""
    with _schema_lock(engine):
        return _upgrade(engine, revision)


def _upgrade(engine: Engine, revision: str) -> tuple[str | None, str]:
    from alembic import command

    before = current_revision(engine)
    url = engine.url.render_as_string(hide_password=True)
    if before is None:
        _require_no_archive_tables(engine, url)
    else:
        _require_known_revision(url, before)
    config = _alembic_config()
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    except SQLAlchemyError as exc:
        raise _unreachable(engine, exc) from exc
    after = current_revision(engine) or "empty"
    if after != (before or "empty"):
        logger.info(
            "Upgraded the schema of %s from %s to %s.",
            engine.url.render_as_string(hide_password=True),
            before or "empty",
            after,
        )
    return before, after


def require_archive(engine: Engine) -> None:
    """Raise unless the database contains an archive at the current revision.

    Read-only commands call this instead of `ensure_schema`, so that a
    mistyped URL fails instead of getting an empty schema.
    """
    # Connecting would create a missing SQLite file, so check first.
    require_existing(engine.url)
    if current_revision(engine) is None:
        masked_url = engine.url.render_as_string(hide_password=True)
        raise SchemaError(
            f"{masked_url} contains no archive. Check --database-url, or archive "
            "jobs into it first with `etl sync`."
        )
    ensure_schema(engine)


def ensure_schema(engine: Engine) -> None:
    """Create the schema in an empty database, or stop if it is not current."""
    if current_revision(engine) == head_revision():
        return
    with _schema_lock(engine):
        _ensure_schema(engine)


def _ensure_schema(engine: Engine) -> None:
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return
    url = engine.url.render_as_string(hide_password=True)
    if current is None:
        _create_in_empty_database(engine, url)
        return
    _require_known_revision(url, current)
    raise SchemaError(
        f"The schema of {url} is at revision {current}, behind {head}. "
        "Run `etl db upgrade` to bring it up to date."
    )


def _require_known_revision(url: str, current: str) -> None:
    if current not in {script.revision for script in _scripts()}:
        raise SchemaError(
            f"The schema of {url} is at revision {current}, which this version of "
            "etl does not know; a newer version wrote it. Upgrade etl."
        )


def _create_in_empty_database(engine: Engine, url: str) -> None:
    _require_no_archive_tables(engine, url)
    logger.info("Creating the archive schema in %s.", url)
    _upgrade(engine, "head")


def _require_no_archive_tables(engine: Engine, url: str) -> None:
    """Raise if a database without a recorded revision has archive tables."""
    existing = set(inspect(engine).get_table_names())
    if existing & {"jobs", "raw_payloads"}:
        raise SchemaError(
            f"{url} has archive tables but no schema revision in an "
            "alembic_version table, so etl cannot tell which migrations it has. "
            "Point ETL_DATABASE_URL at an empty database or at one that etl "
            "created."
        )


def _scripts() -> list[Any]:
    from alembic.script import ScriptDirectory

    return list(ScriptDirectory.from_config(_alembic_config()).walk_revisions())


def describe_error(exc: BaseException) -> str:
    """Return a one-line description of an error, driver errors included."""
    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines()
    return lines[0] if lines else type(original).__name__


def _unreachable(engine: Engine, exc: SQLAlchemyError) -> SourceError:
    url = engine.url.render_as_string(hide_password=True)
    reason = describe_error(exc)
    if engine.dialect.name == "sqlite":
        hint = "Check ETL_DATABASE_URL, the file's permissions, and that no other "
        hint += "process holds a write lock on it."
    else:
        hint = "Check ETL_DATABASE_URL and that the server is running."
    return SourceError(f"Cannot use the database {url}: {reason}. {hint}")
