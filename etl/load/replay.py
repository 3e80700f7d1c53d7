"""Rebuild every normalized table from `raw_payloads` alone.

Payload versions are applied in the order they were first archived
(`raw_payloads.version`), as the syncs applied them: first every job's
version 1, then every version 2, and so on. So the rebuilt tables equal the
ones the original loads produced. The rebuild runs in one transaction: it
completes or leaves the archive as it was.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, delete, func, select, update

from etl.errors import PayloadError
from etl.extract.records import RawPayload
from etl.load import schema
from etl.load.archive import NORMALIZED_TABLES, Version, write_jobs
from etl.load.bulk import BulkWriter, bulk_writer
from etl.normalize import normalize_body

__all__ = ["ReplayCounts", "replay"]

logger = logging.getLogger(__name__)

_PAGE = 200


@dataclass
class ReplayCounts:
    """Counts of a replay: jobs rebuilt, versions applied, versions skipped."""

    jobs: int = 0
    versions: int = 0
    skipped: int = 0


def replay(engine: Engine) -> ReplayCounts:
    """Delete the normalized tables and rebuild them from the raw payloads."""
    counts = ReplayCounts()
    written: dict[str, datetime] = {}
    with engine.begin() as connection:
        for table in NORMALIZED_TABLES:
            connection.execute(delete(table))
        writer = bulk_writer(connection)
        raw = schema.raw_payloads
        newest = connection.execute(select(func.max(raw.c.version))).scalar_one()
        for number in range(1, (newest or 0) + 1):
            _replay_version(connection, writer, number, written, counts)
        _restore_last_fetch(connection)
    counts.jobs = len(written)
    return counts


def _replay_version(
    connection: Connection,
    writer: BulkWriter,
    number: int,
    written: dict[str, datetime],
    counts: ReplayCounts,
) -> None:
    """Apply version `number` of every job, a page of jobs at a time.

    `written` maps each job applied so far to the fetch time of its applied
    version. A version fetched before that one is skipped, as a sync skips it.
    """
    raw = schema.raw_payloads
    after = ""
    while True:
        page = connection.execute(
            select(raw.c.job_id, raw.c.source, raw.c.fetched_at, raw.c.body)
            .where(raw.c.version == number, raw.c.job_id > after)
            .order_by(raw.c.job_id)
            .limit(_PAGE)
        ).all()
        if not page:
            return
        versions = []
        for row in page:
            after = row.job_id
            payload = RawPayload(
                body=bytes(row.body),
                source=row.source,
                fetched_at=row.fetched_at,
                job_id=row.job_id,
            )
            try:
                job = normalize_body(payload.body)
            except PayloadError as error:
                logger.warning(
                    "Skipped version %d of job %r in the replay: %s",
                    number,
                    row.job_id,
                    error,
                )
                counts.skipped += 1
                continue
            applied_at = written.get(job.job_id)
            if applied_at is not None and payload.fetched_at < applied_at:
                continue
            versions.append(Version(payload, job, number, applied_at is not None))
            written[job.job_id] = payload.fetched_at
        write_jobs(writer, versions)
        counts.versions += len(versions)


def _restore_last_fetch(connection: Connection) -> None:
    """Copy each current payload's last fetch time to its job row."""
    jobs, raw = schema.jobs, schema.raw_payloads
    last_fetch = (
        select(raw.c.last_fetched_at)
        .where(raw.c.job_id == jobs.c.job_id, raw.c.sha256 == jobs.c.payload_sha256)
        .scalar_subquery()
    )
    connection.execute(update(jobs).values(last_fetched_at=last_fetch))
