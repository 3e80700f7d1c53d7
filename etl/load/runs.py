"""Record each run in `etl_runs`: when it ran, how it ended, what it counted."""

from __future__ import annotations

import enum
import os
import socket
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update

from etl.load import schema

__all__ = [
    "RunCounts",
    "RunStatus",
    "finish_run",
    "latest_runs",
    "mark_interrupted",
    "newest_running",
    "record_counts",
    "start_run",
]

INTERRUPTED_ERROR = (
    "The run ended without recording its result: the process was killed or "
    "crashed. A later run took over."
)


class RunStatus(enum.StrEnum):
    """The state of a run: `running` while in progress or after it was killed."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"
    FAILED = "failed"


@dataclass
class RunCounts:
    """Payload counts of one run, by outcome."""

    listed: int = 0
    fetched: int = 0
    unchanged: int = 0
    loaded: int = 0
    rejected: int = 0
    failed: int = 0

    def as_row(self) -> dict[str, int]:
        return asdict(self)


def start_run(
    engine: Engine, run_id: str, source: str, scope: str, started_at: datetime
) -> None:
    """Insert the run's row with status `running`, this host and process id."""
    with engine.begin() as connection:
        connection.execute(
            insert(schema.etl_runs).values(
                run_id=run_id,
                started_at=started_at,
                status=RunStatus.RUNNING.value,
                source=source,
                scope=scope,
                host=socket.gethostname(),
                pid=os.getpid(),
                **RunCounts().as_row(),
            )
        )


def record_counts(engine: Engine, run_id: str, counts: RunCounts) -> None:
    """Store the counts of a run in progress, so a killed run keeps them."""
    with engine.begin() as connection:
        connection.execute(
            update(schema.etl_runs)
            .where(schema.etl_runs.c.run_id == run_id)
            .values(**counts.as_row())
        )


def finish_run(
    engine: Engine,
    run_id: str,
    status: RunStatus,
    counts: RunCounts,
    error: str | None = None,
) -> None:
    """Store the run's end time, status, counts and error."""
    with engine.begin() as connection:
        connection.execute(
            update(schema.etl_runs)
            .where(schema.etl_runs.c.run_id == run_id)
            .values(
                finished_at=datetime.now(UTC),
                status=status.value,
                error=error,
                **counts.as_row(),
            )
        )


def latest_runs(engine: Engine, limit: int) -> list[dict[str, Any]]:
    """Return the newest runs first."""
    table = schema.etl_runs
    with engine.connect() as connection:
        result = connection.execute(
            select(table).order_by(table.c.started_at.desc()).limit(limit)
        )
        return [dict(row._mapping) for row in result]


def mark_interrupted(engine: Engine, scope: str) -> list[str]:
    """Mark runs still `running` that cannot be alive as failed; returns their ids.

    Call only while holding the scope's run lock. Holding `all` excludes every
    other run, so every run still `running` then died; holding a shard's lock
    excludes only that shard's other runs.
    """
    table = schema.etl_runs
    query = update(table).where(table.c.status == RunStatus.RUNNING.value)
    if scope != "all":
        query = query.where(table.c.scope == scope)
    query = query.values(status=RunStatus.FAILED.value, error=INTERRUPTED_ERROR)
    with engine.begin() as connection:
        result = connection.execute(query.returning(table.c.run_id))
        return sorted(result.scalars())


def newest_running(engine: Engine, scopes: list[str] | None) -> dict[str, Any] | None:
    """Return the newest run still `running` in one of `scopes` (None: any)."""
    table = schema.etl_runs
    query = select(table).where(table.c.status == RunStatus.RUNNING.value)
    if scopes is not None:
        query = query.where(table.c.scope.in_(scopes))
    with engine.connect() as connection:
        row = connection.execute(
            query.order_by(table.c.started_at.desc()).limit(1)
        ).first()
    return dict(row._mapping) if row is not None else None
