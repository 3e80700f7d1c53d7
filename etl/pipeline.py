"""One sync run: take the lock, read payloads, normalize, load, record the run."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from etl.config import Settings
from etl.errors import (
    AuthenticationError,
    ConfigurationError,
    EtlError,
    InvalidBodyError,
    LockHeldError,
    PayloadError,
    PermanentError,
    TlsError,
    UnreachableError,
)
from etl.extract import RawPayload, iter_files
from etl.extract.files import check_source, read_file
from etl.extract.listing import JobFilter, list_jobs
from etl.load import (
    Archive,
    Outcome,
    RunCounts,
    RunStatus,
    connect,
    ensure_schema,
    finish_run,
    schema,
    start_run,
)
from etl.load.database import describe_error
from etl.load.lock import RunLock
from etl.load.rejected import delete_rejected, iter_rejected
from etl.load.replay import ReplayCounts, replay
from etl.load.runs import mark_interrupted, newest_running, record_counts
from etl.normalize import NormalizedJob, normalize_body
from etl.normalize.values import ID_MAX_CHARACTERS
from etl.progress import Progress

if TYPE_CHECKING:
    from etl.extract.api import SynthClient

__all__ = [
    "RunResult",
    "Shard",
    "SyncRequest",
    "replay_archive",
    "retry_rejected",
    "run_sync",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count` (1-based): the jobs whose hash falls in it."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """Parse `K/N`, such as `2/4`; raises `ConfigurationError`."""
        index, _, count = text.partition("/")
        try:
            shard = cls(int(index), int(count))
        except ValueError:
            shard = cls(0, 0)
        if not 1 <= shard.index <= shard.count:
            raise ConfigurationError(
                f"Invalid shard {text!r}: expected K/N with 1 <= K <= N, such as 2/4."
            )
        return shard

    @property
    def label(self) -> str:
        return f"{self.index}/{self.count}"

    def contains(self, job_id: str) -> bool:
        """Tell whether the stable SHA-256 hash of `job_id` falls in this shard."""
        digest = hashlib.sha256(job_id.encode("utf-8", "surrogatepass")).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index - 1


@dataclass(frozen=True)
class SyncRequest:
    """The input of one run: saved files, named jobs, or the whole listing."""

    source: Path | None = None
    job_ids: tuple[str, ...] = ()
    full: bool = False
    job_filter: JobFilter = field(default_factory=JobFilter)
    shard: Shard | None = None

    @property
    def scope(self) -> str:
        """The lock scope: `all`, or the shard's `K/N`."""
        return self.shard.label if self.shard is not None else "all"


@dataclass(frozen=True)
class RunResult:
    """The outcome of one run, as stored in `etl_runs`."""

    run_id: str
    status: RunStatus
    counts: RunCounts
    seconds: float


# Payloads are written in batches of at most this many jobs or body bytes.
# Large batches amortize round trips; the bounds keep memory flat whatever
# the number of jobs.
BATCH_MAX_JOBS = 200
BATCH_MAX_BYTES = 16 * 1024 * 1024
FLUSH_INTERVAL_SECONDS = 1.0


class _Run:
    """Counts payloads and stores them in batches for one run."""

    def __init__(self, archive: Archive, progress: Progress) -> None:
        self.archive = archive
        self.progress = progress
        self.counts = RunCounts()
        self._pending: list[RawPayload] = []
        self._pending_bytes = 0

    def add(self, raw: RawPayload) -> None:
        """Queue a payload for the next batch; an unreadable one is rejected."""
        self.counts.fetched += 1
        if raw.read_error is not None:
            self._reject(raw, PayloadError(raw.read_error))
            return
        self._pending.append(raw)
        self._pending_bytes += len(raw.body)
        if (
            len(self._pending) >= BATCH_MAX_JOBS
            or self._pending_bytes >= BATCH_MAX_BYTES
        ):
            self.flush()

    def flush(self) -> list[Outcome]:
        """Archive the queued payloads; returns their outcomes in order.

        Payloads whose SHA-256 the archive already contains are settled
        without being parsed. The rest are normalized and written in transactions of
        distinct jobs.
        """
        pending, self._pending, self._pending_bytes = self._pending, [], 0
        if not pending:
            return []
        known = self.archive.known_payloads([raw.sha256 for raw in pending])
        outcomes: list[Outcome] = []
        touched: list[tuple[RawPayload, str]] = []
        to_store: list[tuple[int, RawPayload, NormalizedJob]] = []
        for index, raw in enumerate(pending):
            seen = known.get(raw.sha256)
            if seen is not None and raw.job_id in (None, seen.job_id):
                fetched_again = seen.current_last_fetched_at
                if fetched_again is not None and raw.fetched_at > fetched_again:
                    touched.append((raw, seen.job_id))
                outcomes.append(Outcome.UNCHANGED)
                continue
            outcomes.append(Outcome.REJECTED)
            job = self._normalize(raw)
            if job is not None:
                to_store.append((index, raw, job))
        self.archive.touch(touched)
        for index, outcome in self._store(to_store):
            outcomes[index] = outcome
        for outcome in outcomes:
            if outcome is Outcome.LOADED:
                self.counts.loaded += 1
            elif outcome is Outcome.UNCHANGED:
                self.counts.unchanged += 1
        # Stored after every batch, so a killed run keeps the counts of all
        # but the batch it was writing.
        record_counts(self.archive.engine, self.archive.run_id, self.counts)
        return outcomes

    def _normalize(self, raw: RawPayload) -> NormalizedJob | None:
        try:
            job = normalize_body(raw.body)
            _check_requested_job(raw, job)
        except PayloadError as error:
            self._reject(raw, error)
            return None
        return job

    def _store(
        self, items: list[tuple[int, RawPayload, NormalizedJob]]
    ) -> list[tuple[int, Outcome]]:
        """Write items in order, starting a new transaction when a job repeats."""
        results: list[tuple[int, Outcome]] = []
        group: dict[str, tuple[int, RawPayload, NormalizedJob]] = {}
        for item in [*items, None]:
            if group and (item is None or item[2].job_id in group):
                batch = list(group.values())
                stored = self.archive.store_batch([(raw, job) for _, raw, job in batch])
                for (index, _, _), outcome in zip(batch, stored, strict=True):
                    results.append((index, outcome))
                group = {}
            if item is not None:
                group[item[2].job_id] = item
        return results

    def _reject(self, raw: RawPayload, error: PayloadError) -> None:
        logger.warning("Rejected the payload from %s: %s", raw.source, error)
        self.archive.reject(raw, error)
        self.counts.rejected += 1

    def fail(self, job_id: str, error: EtlError) -> None:
        """Count a job that could not be fetched in this run."""
        logger.warning("Failed to fetch job %r: %s", job_id, error)
        self.counts.failed += 1

    @property
    def status(self) -> RunStatus:
        if self.counts.rejected or self.counts.failed:
            return RunStatus.PARTIAL
        return RunStatus.SUCCEEDED


_RunBody = Callable[[_Run], None]


def _check_requested_job(raw: RawPayload, job: NormalizedJob) -> None:
    """Reject a payload of another job than the one requested from the API."""
    if raw.job_id is not None and job.job_id != raw.job_id:
        raise PayloadError(
            f"The API returned the payload of job {job.job_id!r} for a request of "
            f"job {raw.job_id!r}; it is not archived under either id.",
            path="job_id",
            job_id=raw.job_id,
        )


def run_sync(settings: Settings, request: SyncRequest) -> RunResult:
    """Run one sync as requested and record it in `etl_runs`."""
    if request.source is not None:
        root = request.source
        check_source(root)
        return _execute(
            settings, request, f"files:{root}", lambda run: _load_files(run, root)
        )
    api_key = settings.require_api_key()
    return _execute(
        settings,
        request,
        f"api:{settings.backend_url}",
        lambda run: asyncio.run(_load_from_api(run, settings, api_key, request)),
    )


def retry_rejected(settings: Settings) -> RunResult:
    """Normalize every rejected payload again and archive those that now pass.

    A payload that passes leaves `rejected_payloads`, because its body is then
    kept in `raw_payloads`; one that still fails stays where it is.
    """
    return _execute(settings, SyncRequest(), "rejected_payloads", _retry_rejected)


def replay_archive(settings: Settings) -> ReplayCounts:
    """Rebuild the normalized tables from `raw_payloads` under the run lock."""
    engine = connect(settings.database_url)
    try:
        ensure_schema(engine)
        # The unsharded lock is exclusive, so no sync of any shard runs
        # during a replay.
        with _locked(engine, "all"):
            counts = replay(engine)
    finally:
        engine.dispose()
    logger.info(
        "Replayed %d payload versions of %d jobs; skipped %d that no longer pass.",
        counts.versions,
        counts.jobs,
        counts.skipped,
    )
    return counts


def _retry_rejected(run: _Run) -> None:
    engine = run.archive.engine
    for rejected_id, raw in iter_rejected(engine):
        run.add(raw)
        outcomes = run.flush()
        if outcomes and outcomes[0] is not Outcome.REJECTED:
            delete_rejected(engine, rejected_id)


def _load_files(run: _Run, root: Path) -> None:
    paths = list(iter_files(root))
    run.progress.start(len(paths), "Reading files")
    for path in paths:
        for raw in read_file(path):
            run.add(raw)
        run.progress.advance()


def _execute(
    settings: Settings, request: SyncRequest, source: str, body: _RunBody
) -> RunResult:
    engine = connect(settings.database_url)
    try:
        ensure_schema(engine)
        with _locked(engine, request.scope):
            return _record(engine, request, source, body)
    finally:
        engine.dispose()


@contextmanager
def _locked(engine: Engine, scope: str) -> Iterator[None]:
    """Hold the scope's run lock; mark runs that died holding it as failed."""
    lock = RunLock(engine, scope)
    try:
        lock.acquire()
    except LockHeldError as error:
        # An unsharded run is blocked by a run of any shard; a shard run by
        # runs of its own shard and by unsharded ones.
        holder = newest_running(engine, None if scope == "all" else [scope, "all"])
        if holder is not None:
            started = holder["started_at"].strftime("%Y-%m-%dT%H:%M:%SZ")
            raise LockHeldError(
                f"{error}: run {holder['run_id']} (pid {holder['pid']} on "
                f"{holder['host']}), started at {started}. This run exits; "
                "try again after that run ends."
            ) from None
        raise LockHeldError(f"{error}. This run exits; try again later.") from None
    try:
        interrupted = mark_interrupted(engine, scope)
        if interrupted:
            logger.warning(
                "Marked %d interrupted run(s) as failed: %s.",
                len(interrupted),
                ", ".join(interrupted),
            )
        yield
    finally:
        lock.release()


def _record(
    engine: Engine, request: SyncRequest, source: str, body: _RunBody
) -> RunResult:
    run_id = str(uuid.uuid4())
    started = time.monotonic()
    start_run(engine, run_id, source, request.scope, datetime.now(UTC))
    with Progress() as progress:
        run = _Run(Archive(engine, run_id), progress)
        try:
            body(run)
            run.flush()
        except BaseException as exc:
            _record_failure(engine, run, run_id, exc)
            raise
    seconds = time.monotonic() - started
    finish_run(engine, run_id, run.status, run.counts)
    _log_summary(run_id, run, seconds, engine.url.render_as_string(True))
    return RunResult(run_id, run.status, run.counts, seconds)


def _record_failure(engine: Engine, run: _Run, run_id: str, exc: BaseException) -> None:
    """Archive what was received, then mark the run failed, as far as possible."""
    error = describe_error(exc)
    if not isinstance(exc, SQLAlchemyError):
        try:
            run.flush()
        except SQLAlchemyError as flush_error:
            logger.error(
                "Could not write the last batch: %s", describe_error(flush_error)
            )
    try:
        finish_run(engine, run_id, RunStatus.FAILED, run.counts, error)
    except SQLAlchemyError as record_error:
        logger.error(
            "Could not record run %s as failed: %s",
            run_id,
            describe_error(record_error),
        )
    logger.error("Run %s failed: %s", run_id, error)


def _log_summary(run_id: str, run: _Run, seconds: float, url: str) -> None:
    counts = run.counts
    logger.info(
        "Run %s %s in %.2f s into %s: %d listed, %d fetched, %d loaded, "
        "%d unchanged, %d rejected, %d failed.",
        run_id,
        run.status.value,
        seconds,
        url,
        counts.listed,
        counts.fetched,
        counts.loaded,
        counts.unchanged,
        counts.rejected,
        counts.failed,
    )


async def _load_from_api(
    run: _Run, settings: Settings, api_key: str, request: SyncRequest
) -> None:
    # Imported here so that file syncs never load the HTTP client.
    from etl.extract.api import SynthClient

    terminal, current = await asyncio.to_thread(_archived_jobs, run.archive.engine)
    async with SynthClient(settings, api_key, archived_sha256=current) as client:
        job_ids = await _select_jobs(client, settings, request)
        run.counts.listed = len(job_ids)
        if not request.full:
            job_ids = [job_id for job_id in job_ids if job_id not in terminal]
        job_ids = _skip_long_ids(run, job_ids)
        if len(job_ids) < run.counts.listed:
            logger.info(
                "Fetching %d of %d listed jobs; the others are archived and "
                "finished, or have invalid ids.",
                len(job_ids),
                run.counts.listed,
            )
        run.progress.start(len(job_ids), "Fetching jobs")
        await _fetch_and_store(run, client, job_ids, settings.concurrency)


def _skip_long_ids(run: _Run, job_ids: list[str]) -> list[str]:
    """Count jobs whose id is too long to archive as failed, and drop them."""
    fetchable = []
    for job_id in job_ids:
        if len(job_id) <= ID_MAX_CHARACTERS:
            fetchable.append(job_id)
            continue
        shortened_id = job_id[:40] + "..."
        error = PermanentError(
            f"The job id is {len(job_id):,} characters long, over the "
            f"{ID_MAX_CHARACTERS} that an archived id may have, so the job was "
            "not fetched."
        )
        run.fail(shortened_id, error)
    return fetchable


async def _select_jobs(
    client: SynthClient, settings: Settings, request: SyncRequest
) -> list[str]:
    if request.job_ids:
        job_ids = list(dict.fromkeys(request.job_ids))
    else:
        listing = list_jobs(client, settings.listing_style, request.job_filter)
        job_ids = [summary.job_id async for summary in listing]
    if request.shard is not None:
        job_ids = [job_id for job_id in job_ids if request.shard.contains(job_id)]
    return job_ids


def _archived_jobs(engine: Engine) -> tuple[set[str], frozenset[str]]:
    """Return the ids of jobs archived in a finished state, and the SHA-256 of
    every job's current payload."""
    jobs = schema.jobs
    terminal: set[str] = set()
    current: set[str] = set()
    query = select(jobs.c.job_id, jobs.c.is_terminal, jobs.c.payload_sha256)
    with engine.connect() as connection:
        for job_id, is_terminal, payload_sha256 in connection.execute(query):
            if is_terminal:
                terminal.add(job_id)
            current.add(payload_sha256)
    return terminal, frozenset(current)


_Fetched = RawPayload | tuple[str, EtlError]


async def _fetch_and_store(
    run: _Run, client: SynthClient, job_ids: Sequence[str], concurrency: int
) -> None:
    """Fetch with bounded concurrency and store each payload as it arrives.

    The result queue is bounded too, so at most about twice `concurrency`
    payloads are held in memory whatever the number of jobs.
    """
    pending: asyncio.Queue[str] = asyncio.Queue()
    for job_id in job_ids:
        pending.put_nowait(job_id)
    fetched: asyncio.Queue[_Fetched] = asyncio.Queue(maxsize=2 * concurrency)
    workers = [
        asyncio.create_task(_fetch_worker(client, pending, fetched))
        for _ in range(min(concurrency, max(len(job_ids), 1)))
    ]
    last_flush = time.monotonic()
    try:
        for _ in range(len(job_ids)):
            item = await fetched.get()
            await asyncio.to_thread(_store_fetched, run, item)
            run.progress.advance()
            if time.monotonic() - last_flush >= FLUSH_INTERVAL_SECONDS:
                # Write what has arrived at least this often, so a slow API
                # never keeps fetched payloads unwritten for long.
                await asyncio.to_thread(run.flush)
                last_flush = time.monotonic()
    finally:
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)


async def _fetch_worker(
    client: SynthClient,
    pending: asyncio.Queue[str],
    fetched: asyncio.Queue[_Fetched],
) -> None:
    while True:
        try:
            job_id = pending.get_nowait()
        except asyncio.QueueEmpty:
            return
        try:
            item: _Fetched = await client.fetch_results(job_id)
        except EtlError as error:
            item = (job_id, error)
        except Exception as error:
            # Every job must produce an item, or the consumer waits forever.
            logger.exception("Unexpected error while fetching job %r", job_id)
            item = (job_id, PermanentError(f"Unexpected error: {error!r}"))
        await fetched.put(item)


def _store_fetched(run: _Run, item: _Fetched) -> None:
    if isinstance(item, RawPayload):
        run.add(item)
        return
    job_id, error = item
    if isinstance(error, AuthenticationError | TlsError | UnreachableError):
        raise error
    if isinstance(error, InvalidBodyError):
        raw = RawPayload(
            body=error.body,
            source=error.source,
            fetched_at=datetime.now(UTC),
            job_id=job_id,
        )
        run.add(raw)
        return
    run.fail(job_id, error)
