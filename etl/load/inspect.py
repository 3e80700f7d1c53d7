"""Read-only summaries of an archive database."""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from etl.load import schema

__all__ = ["ARCHIVE_TABLES", "count_rows"]

ARCHIVE_TABLES = (
    schema.jobs,
    schema.prompt_messages,
    schema.candidates,
    schema.lever_versions,
    schema.sensor_frames,
    schema.sensor_frame_kinds,
    schema.sensor_frame_traces,
    schema.sensor_frame_lever_versions,
    schema.history,
    schema.raw_payloads,
    schema.rejected_payloads,
    schema.etl_runs,
)


def count_rows(engine: Engine) -> dict[str, int]:
    """Return the number of rows in each table of `ARCHIVE_TABLES`."""
    counts: dict[str, int] = {}
    with engine.connect() as connection:
        for table in ARCHIVE_TABLES:
            counted = connection.execute(select(func.count()).select_from(table))
            counts[table.name] = counted.scalar_one()
    return counts
