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
import os
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
    """The lock of one scope (`all`, or a shard such as `2/4`) in a database."""

    def __init__(self, engine: Engine, scope: str) -> None:
        self.engine = engine
        self.scope = scope
        self._connection: Connection | None = None
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock at once or raise `LockHeldError`."""
        if self.engine.dialect.name == "postgresql":
            self._acquire_advisory()
        else:
            self._acquire_file()

    def release(self) -> None:
        """Give the lock back; closing its connection or file releases it."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        if self._file is not None:
            self._file.close()
            self._file = None

    def _acquire_advisory(self) -> None:
        connection = self.engine.connect().execution_options(
            isolation_level="AUTOCOMMIT"
        )
        acquired = connection.execute(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": lock_key(self.scope)}
        ).scalar_one()
        if not acquired:
            connection.close()
            raise self._held()
        self._connection = connection

    def _acquire_file(self) -> None:
        path = self.lock_path()
        if path is None:
            return
        handle = path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise self._held() from None
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle

    def lock_path(self) -> Path | None:
        """Return the lock file of a SQLite database, or None for `:memory:`."""
        database = self.engine.url.database
        if not database or database == ":memory:":
            return None
        suffix = (
            "" if self.scope == "all" else "-shard-" + self.scope.replace("/", "-of-")
        )
        return Path(f"{database}{suffix}.lock")

    def _held(self) -> LockHeldError:
        url = self.engine.url.render_as_string(hide_password=True)
        return LockHeldError(
            f"Another etl run holds the lock of {url} for {self._scope_text()}"
        )

    def _scope_text(self) -> str:
        if self.scope == "all":
            return "all jobs"
        return f"shard {self.scope}"
