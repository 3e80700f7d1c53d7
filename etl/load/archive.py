"""Write normalized jobs, raw payloads and rejected payloads in batches.

A batch of jobs is written in one transaction with one bulk statement per
table. A batch lands whole or not at all, so each job's rows always come
from one payload version. Tables that describe the best result (prompt
messages, candidates, lever versions) mirror the latest payload. Sensor
frames and history accumulate, so rows once archived stay when a later
payload of the same job omits them.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, bindparam, select, update
from sqlalchemy.exc import IntegrityError

from etl.errors import PayloadError
from etl.extract.records import RawPayload
from etl.load import schema
from etl.load.bulk import BulkWriter, bulk_writer
from etl.load.schema import UtcDateTime
from etl.load.upsert import insert_or_update
from etl.normalize import NormalizedJob
from etl.normalize.rows import CHILD_COLUMNS

__all__ = ["NORMALIZED_TABLES", "Archive", "KnownPayload", "Outcome", "write_jobs"]

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
# Parents before children, as foreign keys require.
_CHILD_TABLES = (
    schema.prompt_messages,
    schema.candidates,
    schema.lever_versions,
    schema.sensor_frames,
    schema.sensor_frame_kinds,
    schema.sensor_frame_traces,
    schema.sensor_frame_lever_versions,
    schema.history,
)
_JOB_COLUMNS = tuple(column.name for column in schema.jobs.columns)
_RAW_COLUMNS = tuple(column.name for column in schema.raw_payloads.columns)
# SQLite allows 32,766 bound parameters a statement; IN lists stay far below.
_LOOKUP_CHUNK = 500


class Outcome(enum.StrEnum):
    """The result of storing one payload."""

    LOADED = "loaded"
    UNCHANGED = "unchanged"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Version:
    """A payload version to write, with its number among the job's versions.

    `applied` is False for a version that is archived but older than the
    job's current one, so its rows are not written.
    """

    raw: RawPayload
    job: NormalizedJob
    number: int
    job_exists: bool
    applied: bool = True


@dataclass(frozen=True)
class KnownPayload:
    """An archived payload: its job, and its last fetch time if it is current."""

    job_id: str
    current_last_fetched_at: datetime | None

    @property
    def is_current(self) -> bool:
        return self.current_last_fetched_at is not None


@dataclass(frozen=True)
class _Current:
    """A job's archived state: its current payload hash and fetch times."""

    sha256: str
    last_changed_at: datetime
    last_fetched_at: datetime


class Archive:
    """The database side of a run: stores payloads under one run id."""

    def __init__(self, engine: Engine, run_id: str) -> None:
        self.engine = engine
        self.run_id = run_id

    def store(self, raw: RawPayload, job: NormalizedJob) -> Outcome:
        """Archive one payload; see `store_batch`."""
        return self.store_batch([(raw, job)])[0]

    def store_batch(
        self, items: Sequence[tuple[RawPayload, NormalizedJob]]
    ) -> list[Outcome]:
        """Archive payloads of distinct jobs in one transaction.

        A payload whose SHA-256 is the job's current one only moves its fetch
        time. A payload archived before as an older version of the job is
        skipped. A new payload fetched before the job's current one (an older
        saved file) is archived in `raw_payloads` but not applied. So reading
        old files never rolls a job back.
        """
        job_ids = [job.job_id for _, job in items]
        if len(set(job_ids)) != len(job_ids):
            raise ValueError("a batch must not hold two payloads of one job")
        try:
            return self._store_batch(items, job_ids, bulk_insert=True)
        except IntegrityError:
            logger.info(
                "Another process archived some of these jobs meanwhile; writing "
                "the batch again with upserts."
            )
            return self._store_batch(items, job_ids, bulk_insert=False)

    def _store_batch(
        self,
        items: Sequence[tuple[RawPayload, NormalizedJob]],
        job_ids: list[str],
        *,
        bulk_insert: bool,
    ) -> list[Outcome]:
        with self.engine.begin() as connection:
            current = _current_versions(connection, job_ids)
            archived = _archived_versions(connection, job_ids)
            outcomes: list[Outcome] = []
            touched: list[tuple[RawPayload, str]] = []
            versions: list[Version] = []
            for raw, job in items:
                known = archived.get(job.job_id, {})
                state = current.get(job.job_id)
                if state is not None and state.sha256 == raw.sha256:
                    if raw.fetched_at > state.last_fetched_at:
                        touched.append((raw, job.job_id))
                    outcomes.append(Outcome.UNCHANGED)
                elif raw.sha256 in known:
                    logger.debug("Skipped an older payload of job %s.", job.job_id)
                    outcomes.append(Outcome.UNCHANGED)
                elif state is not None and raw.fetched_at < state.last_changed_at:
                    logger.info(
                        "Archived a payload of job %s from %s without applying it: "
                        "it was fetched before the job's current payload.",
                        job.job_id,
                        raw.source,
                    )
                    number = max(known.values(), default=0) + 1
                    versions.append(Version(raw, job, number, True, applied=False))
                    outcomes.append(Outcome.UNCHANGED)
                else:
                    number = max(known.values(), default=0) + 1
                    exists = state is not None or not bulk_insert
                    versions.append(Version(raw, job, number, exists))
                    outcomes.append(Outcome.LOADED)
            writer = bulk_writer(connection)
            _touch(connection, touched)
            _insert_raw(writer, versions, bulk_insert=bulk_insert)
            write_jobs(writer, [version for version in versions if version.applied])
        return outcomes

    def known_payloads(self, hashes: Sequence[str]) -> dict[str, KnownPayload]:
        """Return which of these payload hashes the archive already holds.

        This lets a sync skip parsing and normalizing payloads it has seen,
        which is most of them in an incremental run.
        """
        jobs, raw = schema.jobs, schema.raw_payloads
        known: dict[str, KnownPayload] = {}
        with self.engine.connect() as connection:
            for chunk in _chunks(list(dict.fromkeys(hashes))):
                older = select(raw.c.sha256, raw.c.job_id).where(
                    raw.c.sha256.in_(chunk)
                )
                for archived in connection.execute(older):
                    known[archived.sha256] = KnownPayload(archived.job_id, None)
                current = select(
                    jobs.c.payload_sha256, jobs.c.job_id, jobs.c.last_fetched_at
                ).where(jobs.c.payload_sha256.in_(chunk))
                for job in connection.execute(current):
                    known[job.payload_sha256] = KnownPayload(
                        job.job_id, job.last_fetched_at
                    )
        return known

    def touch(self, touched: list[tuple[RawPayload, str]]) -> None:
        """Record fetches of `(payload, job id)` that returned the current payload."""
        if touched:
            with self.engine.begin() as connection:
                _touch(connection, touched)

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
            # The same body from the same source is kept once, under the run
            # that rejected it last (see REJECTED_SOURCE_KEY).
            insert_or_update(
                connection,
                schema.rejected_payloads,
                row,
                conflict_columns=[
                    schema.rejected_payloads.c.body_sha256,
                    schema.REJECTED_SOURCE_KEY,
                ],
                update_columns=["run_id", "error", "error_path"],
            )


def _chunks(values: Sequence[str]) -> list[Sequence[str]]:
    return [
        values[start : start + _LOOKUP_CHUNK]
        for start in range(0, len(values), _LOOKUP_CHUNK)
    ]


def _current_versions(
    connection: Connection, job_ids: Sequence[str]
) -> dict[str, _Current]:
    """Return the current payload hash and fetch times of each archived job."""
    jobs = schema.jobs
    current: dict[str, _Current] = {}
    for chunk in _chunks(job_ids):
        query = select(
            jobs.c.job_id,
            jobs.c.payload_sha256,
            jobs.c.last_changed_at,
            jobs.c.last_fetched_at,
        ).where(jobs.c.job_id.in_(chunk))
        for row in connection.execute(query):
            current[row.job_id] = _Current(
                row.payload_sha256, row.last_changed_at, row.last_fetched_at
            )
    return current


def _archived_versions(
    connection: Connection, job_ids: Sequence[str]
) -> dict[str, dict[str, int]]:
    """Return each job's archived payload hashes with their version numbers."""
    raw = schema.raw_payloads
    archived: dict[str, dict[str, int]] = {}
    for chunk in _chunks(job_ids):
        query = select(raw.c.job_id, raw.c.sha256, raw.c.version).where(
            raw.c.job_id.in_(chunk)
        )
        for row in connection.execute(query):
            archived.setdefault(row.job_id, {})[row.sha256] = row.version
    return archived


def _touch(connection: Connection, touched: list[tuple[RawPayload, str]]) -> None:
    """Record fetches that returned a job's current payload again."""
    if not touched:
        return
    jobs, raw = schema.jobs, schema.raw_payloads
    parameters = [
        {"key_job_id": job_id, "key_sha256": item.sha256, "fetched": item.fetched_at}
        for item, job_id in touched
    ]
    fetched = bindparam("fetched", type_=UtcDateTime())
    connection.execute(
        update(jobs)
        .where(jobs.c.job_id == bindparam("key_job_id"))
        .values(last_fetched_at=fetched),
        parameters,
    )
    connection.execute(
        update(raw)
        .where(
            raw.c.job_id == bindparam("key_job_id"),
            raw.c.sha256 == bindparam("key_sha256"),
        )
        .values(last_fetched_at=fetched),
        parameters,
    )


def _insert_raw(
    writer: BulkWriter, versions: Sequence[Version], *, bulk_insert: bool
) -> None:
    rows = []
    for version in versions:
        values = {
            "job_id": version.job.job_id,
            "sha256": version.raw.sha256,
            "body": version.raw.body,
            "source": version.raw.source,
            "fetched_at": version.raw.fetched_at,
            "last_fetched_at": version.raw.fetched_at,
            "version": version.number,
        }
        rows.append(tuple(values[name] for name in _RAW_COLUMNS))
    if bulk_insert:
        writer.insert(schema.raw_payloads, _RAW_COLUMNS, rows)
    else:
        writer.upsert(schema.raw_payloads, _RAW_COLUMNS, rows, keep=_RAW_COLUMNS)


def write_jobs(writer: BulkWriter, versions: Sequence[Version]) -> None:
    """Write the job rows and child rows of payload versions of distinct jobs.

    Rows of jobs new to the archive are inserted in bulk (COPY on
    PostgreSQL); rows of archived jobs replace theirs by upsert. A job
    inserted by another process in the meantime makes the insert raise
    `IntegrityError`, and the caller then writes the batch again by upsert.
    """
    if not versions:
        return
    new = [version for version in versions if not version.job_exists]
    rewritten = [version for version in versions if version.job_exists]
    writer.insert(schema.jobs, _JOB_COLUMNS, [_job_values(v) for v in new])
    writer.upsert(
        schema.jobs,
        _JOB_COLUMNS,
        [_job_values(v) for v in rewritten],
        keep=("first_seen_at",),
    )

    rewritten_ids = [version.job.job_id for version in rewritten]
    for table in _SNAPSHOT_TABLES:
        writer.delete_by_job(table, rewritten_ids)
    frame_keys = [
        (version.job.job_id, frame[1])
        for version in rewritten
        for frame in version.job.sensor_frames
    ]
    for table in _FRAME_CHILD_TABLES:
        writer.delete_by_frame(table, frame_keys)

    for table in _CHILD_TABLES:
        columns = CHILD_COLUMNS[table.name]
        writer.insert(table, columns, _child_rows(table, new))
        writer.upsert(table, columns, _child_rows(table, rewritten))


def _child_rows(table: Table, versions: Sequence[Version]) -> list[tuple[Any, ...]]:
    return [row for version in versions for row in version.job.child_rows(table.name)]


def _job_values(version: Version) -> tuple[Any, ...]:
    fetched_at = version.raw.fetched_at
    row = version.job.job | {
        "payload_sha256": version.raw.sha256,
        "first_seen_at": fetched_at,
        "last_changed_at": fetched_at,
        "last_fetched_at": fetched_at,
    }
    return tuple(row[name] for name in _JOB_COLUMNS)
