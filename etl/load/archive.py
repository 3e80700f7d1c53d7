"""Write normalized jobs, raw payloads and rejected payloads, one job at a time.

Each job is written in one transaction, so its rows always come from one
payload version. Tables describing the best result (prompt messages,
candidates, lever versions) mirror the latest payload; sensor frames and
history accumulate, so rows once archived stay when a later payload of the
same job omits them.
"""

from __future__ import annotations

import enum
import logging
from datetime import datetime

from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)

from etl.errors import PayloadError
from etl.extract.records import RawPayload
from etl.load import schema
from etl.load.upsert import insert_ignoring_duplicates, upsert
from etl.normalize import NormalizedJob

__all__ = ["NORMALIZED_TABLES", "Archive", "Outcome", "write_rows"]

logger = logging.getLogger(__name__)

# Every table built from payloads, children before parents.
NORMALIZED_TABLES = (
    schema.sensor_frame_kinds,
    schema.sensor_frame_traces,
    schema.sensor_frame_lever_versions,
    schema.sensor_frames,
    schema.history,
    schema.prompt_messages,
    schema.candidates,
    schema.lever_versions,
    schema.jobs,
)
_SNAPSHOT_TABLES = (schema.prompt_messages, schema.candidates, schema.lever_versions)
_FRAME_CHILD_TABLES = (
    schema.sensor_frame_kinds,
    schema.sensor_frame_traces,
    schema.sensor_frame_lever_versions,
)


class Outcome(enum.StrEnum):
    """What storing one payload did."""

    LOADED = "loaded"
    UNCHANGED = "unchanged"
    REJECTED = "rejected"


class Archive:
    """The database side of a run: stores payloads under one run id."""

    def __init__(self, engine: Engine, run_id: str) -> None:
        self.engine = engine
        self.run_id = run_id

    def store(self, raw: RawPayload, job: NormalizedJob) -> Outcome:
        """Archive the raw payload and upsert the job's rows atomically.

        A payload whose SHA-256 is the job's current one only moves
        `last_fetched_at`. A payload already archived as an older version of
        the job is skipped, so re-reading old saved files never rolls a job
        back.
        """
        with self.engine.begin() as connection:
            current = connection.execute(
                select(
                    schema.jobs.c.payload_sha256, schema.jobs.c.last_fetched_at
                ).where(schema.jobs.c.job_id == job.job_id)
            ).first()
            if current is not None and current.payload_sha256 == raw.sha256:
                if raw.fetched_at > current.last_fetched_at:
                    _touch(connection, job.job_id, raw.sha256, raw.fetched_at)
                return Outcome.UNCHANGED
            if _is_archived(connection, job.job_id, raw.sha256):
                logger.debug("Skipped an older payload version of job %s.", job.job_id)
                return Outcome.UNCHANGED
            _insert_raw(connection, raw, job.job_id)
            write_rows(connection, raw, job)
        return Outcome.LOADED

    def reject(self, raw: RawPayload, error: PayloadError) -> None:
        """Keep a payload that could not be normalized, with the reason."""
        row = {
            "run_id": self.run_id,
            "job_id": raw.job_id or error.job_id,
            "source": raw.source,
            "error": str(error),
            "error_path": error.path or None,
            "body": raw.body,
            "body_sha256": raw.sha256,
            "received_at": raw.fetched_at,
        }
        with self.engine.begin() as connection:
            insert_ignoring_duplicates(
                connection,
                schema.rejected_payloads,
                [row],
                conflict_columns=["body_sha256", "source"],
            )


def _touch(
    connection: Connection, job_id: str, sha256: str, fetched_at: datetime
) -> None:
    """Record a fetch that returned the current payload again."""
    connection.execute(
        update(schema.jobs)
        .where(schema.jobs.c.job_id == job_id)
        .values(last_fetched_at=fetched_at)
    )
    raw = schema.raw_payloads
    connection.execute(
        update(raw)
        .where(raw.c.job_id == job_id, raw.c.sha256 == sha256)
        .values(last_fetched_at=fetched_at)
    )


def _is_archived(connection: Connection, job_id: str, sha256: str) -> bool:
    table = schema.raw_payloads
    found = connection.execute(
        select(table.c.job_id).where(table.c.job_id == job_id, table.c.sha256 == sha256)
    ).first()
    return found is not None


def _insert_raw(connection: Connection, raw: RawPayload, job_id: str) -> None:
    """Archive a new payload version as the job's next version number."""
    table = schema.raw_payloads
    latest = connection.execute(
        select(func.max(table.c.version)).where(table.c.job_id == job_id)
    ).scalar_one()
    row = {
        "job_id": job_id,
        "sha256": raw.sha256,
        "body": raw.body,
        "source": raw.source,
        "fetched_at": raw.fetched_at,
        "last_fetched_at": raw.fetched_at,
        "version": (latest or 0) + 1,
    }
    connection.execute(insert(table).values(row))


def write_rows(connection: Connection, raw: RawPayload, job: NormalizedJob) -> None:
    """Upsert the job row and its children from one payload version."""
    job_id = job.job_id
    job_row = job.job | {
        "payload_sha256": raw.sha256,
        "first_seen_at": raw.fetched_at,
        "last_changed_at": raw.fetched_at,
        "last_fetched_at": raw.fetched_at,
    }
    upsert(connection, schema.jobs, [job_row], keep=["first_seen_at"])

    for table in _SNAPSHOT_TABLES:
        connection.execute(delete(table).where(table.c.job_id == job_id))
    upsert(connection, schema.prompt_messages, job.prompt_messages)
    upsert(connection, schema.candidates, job.candidates)
    upsert(connection, schema.lever_versions, job.lever_versions)

    _replace_frame_children(connection, job)
    upsert(connection, schema.sensor_frames, job.sensor_frames)
    upsert(connection, schema.sensor_frame_kinds, job.sensor_frame_kinds)
    upsert(connection, schema.sensor_frame_traces, job.sensor_frame_traces)
    upsert(
        connection, schema.sensor_frame_lever_versions, job.sensor_frame_lever_versions
    )
    upsert(connection, schema.history, job.history)


def _replace_frame_children(connection: Connection, job: NormalizedJob) -> None:
    """Delete the lists of the frames this payload sends, before rewriting them."""
    keys = [
        {"key_job_id": row["job_id"], "key_frame_id": row["frame_id"]}
        for row in job.sensor_frames
    ]
    if not keys:
        return
    for table in _FRAME_CHILD_TABLES:
        connection.execute(
            delete(table).where(
                table.c.job_id == bindparam("key_job_id"),
                table.c.frame_id == bindparam("key_frame_id"),
            ),
            keys,
        )
