"""Rebuild every normalized table from `raw_payloads` alone.

Each job's payload versions are applied in the order they were first
archived (`raw_payloads.version`), exactly as a sync applied them, so the
rebuilt tables equal the ones the original loads produced. The rebuild runs
in one transaction: it completes or leaves the archive as it was.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, delete, select, update

from etl.errors import PayloadError
from etl.extract.records import RawPayload
from etl.load import schema
from etl.load.archive import NORMALIZED_TABLES, write_rows
from etl.normalize import normalize_body

__all__ = ["ReplayCounts", "replay"]

logger = logging.getLogger(__name__)


@dataclass
class ReplayCounts:
    """What a replay rebuilt."""

    jobs: int = 0
    versions: int = 0
    skipped: int = 0


def replay(engine: Engine) -> ReplayCounts:
    """Delete the normalized tables and rebuild them from the raw payloads."""
    counts = ReplayCounts()
    with engine.begin() as connection:
        for table in NORMALIZED_TABLES:
            connection.execute(delete(table))
        for job_id in _job_ids(connection):
            counts.jobs += 1
            _replay_job(connection, job_id, counts)
    return counts


def _job_ids(connection: Connection) -> list[str]:
    table = schema.raw_payloads
    query = select(table.c.job_id).distinct().order_by(table.c.job_id)
    return list(connection.execute(query).scalars())


def _replay_job(connection: Connection, job_id: str, counts: ReplayCounts) -> None:
    table = schema.raw_payloads
    versions = connection.execute(
        select(table.c.sha256, table.c.source, table.c.fetched_at, table.c.body)
        .where(table.c.job_id == job_id)
        .order_by(table.c.version)
    )
    written = None
    for version in versions:
        raw = RawPayload(
            body=bytes(version.body),
            source=version.source,
            fetched_at=version.fetched_at,
            job_id=job_id,
        )
        try:
            job = normalize_body(raw.body)
        except PayloadError as error:
            logger.warning(
                "Skipped payload %s of job %r in the replay: %s",
                raw.sha256,
                job_id,
                error,
            )
            counts.skipped += 1
            continue
        write_rows(connection, raw, job)
        written = raw.sha256
        counts.versions += 1
    if written is not None:
        _restore_last_fetch(connection, job_id, written)


def _restore_last_fetch(connection: Connection, job_id: str, sha256: str) -> None:
    raw = schema.raw_payloads
    last = connection.execute(
        select(raw.c.last_fetched_at).where(
            raw.c.job_id == job_id, raw.c.sha256 == sha256
        )
    ).scalar_one()
    connection.execute(
        update(schema.jobs)
        .where(schema.jobs.c.job_id == job_id)
        .values(last_fetched_at=last)
    )
