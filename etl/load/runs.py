"""Record each run in `etl_runs`: when it ran, how it ended, what it counted."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update

from etl.load import schema

__all__ = ["RunCounts", "RunStatus", "finish_run", "latest_runs", "start_run"]


class RunStatus(enum.StrEnum):
    """How a run ended; `running` while it is in progress or if it was killed."""

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


def start_run(engine: Engine, run_id: str, source: str, started_at: datetime) -> None:
    """Insert the run's row with status `running`."""
    with engine.begin() as connection:
        connection.execute(
            insert(schema.etl_runs).values(
                run_id=run_id,
                started_at=started_at,
                status=RunStatus.RUNNING.value,
                source=source,
                **RunCounts().as_row(),
            )
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
