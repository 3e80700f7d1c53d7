"""One sync run: read payloads, normalize them, load them, record the run."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from etl.config import Settings
from etl.errors import (
    AuthenticationError,
    EtlError,
    InvalidBodyError,
    PayloadError,
    UnreachableError,
)
from etl.extract import RawPayload, SynthClient, read_payloads
from etl.load import (
    Archive,
    Outcome,
    RunCounts,
    RunStatus,
    connect,
    ensure_schema,
    finish_run,
    start_run,
)
from etl.normalize import normalize_body

__all__ = ["RunResult", "sync_files", "sync_jobs"]

logger = logging.getLogger(__name__)


_RunBody = Callable[["_Run"], None]


@dataclass(frozen=True)
class RunResult:
    """The outcome of one run, as stored in `etl_runs`."""

    run_id: str
    status: RunStatus
    counts: RunCounts
    seconds: float
    error: str | None = None


class _Run:
    """Counts and stores payloads for one run."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self.counts = RunCounts()

    def process(self, raw: RawPayload) -> Outcome:
        """Normalize and store one payload; a bad payload becomes rejected."""
        self.counts.fetched += 1
        try:
            if raw.read_error is not None:
                raise PayloadError(raw.read_error)
            job = normalize_body(raw.body)
        except PayloadError as error:
            self._reject(raw, error)
            return Outcome.REJECTED
        outcome = self.archive.store(raw, job)
        if outcome is Outcome.LOADED:
            self.counts.loaded += 1
        else:
            self.counts.unchanged += 1
        return outcome

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


def sync_files(settings: Settings, root: Path) -> RunResult:
    """Archive every payload saved under `root`."""
    return _execute(settings, f"files:{root}", lambda run: _load_files(run, root))


def sync_jobs(settings: Settings, job_ids: Sequence[str]) -> RunResult:
    """Fetch and archive the named jobs from the API."""
    api_key = settings.require_api_key()
    unique_ids = list(dict.fromkeys(job_ids))
    return _execute(
        settings,
        f"api:{settings.backend_url}",
        lambda run: asyncio.run(_load_jobs(run, settings, api_key, unique_ids)),
    )


def _load_files(run: _Run, root: Path) -> None:
    for raw in read_payloads(root):
        run.process(raw)


def _execute(settings: Settings, source: str, body: _RunBody) -> RunResult:
    engine = connect(settings.database_url)
    try:
        ensure_schema(engine)
        run_id = str(uuid.uuid4())
        started = time.monotonic()
        start_run(engine, run_id, source, datetime.now(UTC))
        run = _Run(Archive(engine, run_id))
        try:
            body(run)
        except (EtlError, KeyboardInterrupt) as exc:
            error = str(exc) or type(exc).__name__
            finish_run(engine, run_id, RunStatus.FAILED, run.counts, error)
            raise
        seconds = time.monotonic() - started
        finish_run(engine, run_id, run.status, run.counts)
        _log_summary(run_id, run, seconds, engine.url.render_as_string(True))
        return RunResult(run_id, run.status, run.counts, seconds)
    finally:
        engine.dispose()


def _log_summary(run_id: str, run: _Run, seconds: float, url: str) -> None:
    counts = run.counts
    logger.info(
        "Run %s %s in %.2f s into %s: %d fetched, %d loaded, %d unchanged, "
        "%d rejected, %d failed.",
        run_id,
        run.status.value,
        seconds,
        url,
        counts.fetched,
        counts.loaded,
        counts.unchanged,
        counts.rejected,
        counts.failed,
    )


async def _load_jobs(
    run: _Run, settings: Settings, api_key: str, job_ids: Iterable[str]
) -> None:
    """Fetch jobs with bounded concurrency and store each as it arrives."""
    pending: asyncio.Queue[str] = asyncio.Queue()
    for job_id in job_ids:
        pending.put_nowait(job_id)
    run.counts.listed = pending.qsize()
    fetched: asyncio.Queue[RawPayload | tuple[str, EtlError]] = asyncio.Queue(
        maxsize=2 * settings.concurrency
    )
    async with SynthClient(settings, api_key) as client:
        workers = [
            asyncio.create_task(_fetch_worker(client, pending, fetched))
            for _ in range(min(settings.concurrency, max(pending.qsize(), 1)))
        ]
        try:
            for _ in range(run.counts.listed):
                item = await fetched.get()
                await asyncio.to_thread(_store_fetched, run, item)
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)


async def _fetch_worker(
    client: SynthClient,
    pending: asyncio.Queue[str],
    fetched: asyncio.Queue[RawPayload | tuple[str, EtlError]],
) -> None:
    while True:
        try:
            job_id = pending.get_nowait()
        except asyncio.QueueEmpty:
            return
        try:
            item: RawPayload | tuple[str, EtlError] = await client.fetch_results(job_id)
        except EtlError as error:
            item = (job_id, error)
        await fetched.put(item)


def _store_fetched(run: _Run, item: RawPayload | tuple[str, EtlError]) -> None:
    if isinstance(item, RawPayload):
        run.process(item)
        return
    job_id, error = item
    if isinstance(error, AuthenticationError | UnreachableError):
        raise error
    if isinstance(error, InvalidBodyError):
        raw = RawPayload(
            body=error.body,
            source=error.source,
            fetched_at=datetime.now(UTC),
            job_id=job_id,
        )
        run.process(raw)
        return
    run.fail(job_id, error)
