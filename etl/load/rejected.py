"""Read and clear `rejected_payloads`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, delete, select

from etl.extract.records import RawPayload
from etl.load import schema

__all__ = ["delete_rejected", "iter_rejected", "latest_rejected"]

_BATCH = 100


def latest_rejected(engine: Engine, limit: int) -> list[dict[str, Any]]:
    """Return the newest rejected payloads first, without their bodies."""
    table = schema.rejected_payloads
    columns = [column for column in table.columns if column.name != "body"]
    with engine.connect() as connection:
        result = connection.execute(
            select(*columns).order_by(table.c.id.desc()).limit(limit)
        )
        return [dict(row._mapping) for row in result]


def iter_rejected(engine: Engine) -> Iterator[tuple[int, RawPayload]]:
    """Yield every rejected payload with its id, a batch of rows at a time."""
    table = schema.rejected_payloads
    after = 0
    while True:
        with engine.connect() as connection:
            rows = connection.execute(
                select(table)
                .where(table.c.id > after)
                .order_by(table.c.id)
                .limit(_BATCH)
            ).all()
        if not rows:
            return
        for row in rows:
            after = row.id
            yield (
                row.id,
                RawPayload(
                    body=bytes(row.body),
                    source=row.source,
                    fetched_at=row.received_at,
                    job_id=row.job_id,
                ),
            )


def delete_rejected(engine: Engine, rejected_id: int) -> None:
    """Remove a rejected payload that has now been archived."""
    table = schema.rejected_payloads
    with engine.begin() as connection:
        connection.execute(delete(table).where(table.c.id == rejected_id))
