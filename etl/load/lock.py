"""One run at a time per database and shard.

PostgreSQL: a session-level advisory lock on a dedicated connection. SQLite:
an exclusive `flock` on a file beside the database. The server or the kernel
releases both when the process dies, even by SIGKILL, so a killed run never
blocks later runs.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, Engine, text

from etl.errors import LockHeldError

__all__ = ["RunLock", "lock_key"]

logger = logging.getLogger(__name__)

_LOCK_NAMESPACE = b"synth-results-archive:"


def lock_key(scope: str) -> int:
    """Return the signed 64-bit advisory lock key of a lock scope."""
    digest = hashlib.sha256(_LOCK_NAMESPACE + scope.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class RunLock:
    """The lock of one scope (`all`, or a shard such as `2/4`) in a database.

    An unsharded run holds the `all` lock exclusively. A shard run holds its
    own shard lock exclusively and the `all` lock shared, so shards run side
    by side but never beside an unsharded run.
    """

    def __init__(self, engine: Engine, scope: str) -> None:
        self.engine = engine
        self.scope = scope
        self._connection: Connection | None = None
        self._files: list[IO[str]] = []

    def acquire(self) -> None:
        """Take the lock at once or raise `LockHeldError`."""
        if self.engine.dialect.name == "postgresql":
            self._acquire_advisory()
        else:
            self._acquire_files()

    def release(self) -> None:
        """Give the lock back; closing its connection or files releases it."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        for handle in self._files:
            handle.close()
        self._files = []

    def _acquire_advisory(self) -> None:
        connection = self.engine.connect().execution_options(
            isolation_level="AUTOCOMMIT"
        )
        try:
            if self.scope == "all":
                acquired = self._try(connection, "pg_try_advisory_lock", "all")
            else:
                acquired = self._try(
                    connection, "pg_try_advisory_lock_shared", "all"
                ) and self._try(connection, "pg_try_advisory_lock", self.scope)
        except BaseException:
            connection.close()
            raise
        if not acquired:
            connection.close()
            raise self._held()
        self._connection = connection

    @staticmethod
    def _try(connection: Connection, function: str, scope: str) -> bool:
        statement = text(f"SELECT {function}(:key)")
        acquired: bool = connection.execute(
            statement, {"key": lock_key(scope)}
        ).scalar_one()
        return acquired

    def _acquire_files(self) -> None:
        database = self.engine.url.database
        if not database or database == ":memory:":
            return
        main = Path(f"{database}.lock")
        try:
            if self.scope == "all":
                self._lock_file(main, fcntl.LOCK_EX)
            else:
                self._lock_file(main, fcntl.LOCK_SH)
                self._lock_file(self.lock_path(), fcntl.LOCK_EX)
        except BlockingIOError:
            self.release()
            raise self._held() from None

    def _lock_file(self, path: Path, mode: int) -> None:
        handle = path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise
        self._files.append(handle)

    def lock_path(self) -> Path:
        """Return the lock file of this scope beside a SQLite database."""
        database = self.engine.url.database
        suffix = (
            "" if self.scope == "all" else "-shard-" + self.scope.replace("/", "-of-")
        )
        return Path(f"{database}{suffix}.lock")

    def _held(self) -> LockHeldError:
        url = self.engine.url.render_as_string(hide_password=True)
        return LockHeldError(
            f"Another etl run holds a lock of {url} that a run of "
            f"{self._scope_text()} needs"
        )

    def _scope_text(self) -> str:
        if self.scope == "all":
            return "all jobs"
        return f"shard {self.scope}"
