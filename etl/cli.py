"""The `etl` command: a thin shell over the pipeline and the loader.

Exit codes: 0 success; 1 the run failed; 2 invalid configuration or usage
(including a schema that needs `etl db upgrade`); 3 partial success (some
payloads were rejected or some jobs failed to fetch); 4 another run holds the
lock.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from etl import __version__
from etl.config import load_settings
from etl.errors import ConfigurationError, EtlError, LockHeldError, SchemaError
from etl.extract.listing import JobFilter
from etl.load import RunStatus, connect, latest_runs, mask_url, upgrade
from etl.load.database import (
    current_revision,
    describe_error,
    head_revision,
    require_archive,
    require_existing,
)
from etl.load.inspect import count_rows
from etl.load.rejected import latest_rejected
from etl.logs import configure_logging
from etl.normalize.values import parse_timestamp
from etl.pipeline import (
    RunResult,
    Shard,
    SyncRequest,
    replay_archive,
    retry_rejected,
    run_sync,
)
from etl.report import write_report

__all__ = [
    "EXIT_CONFIG",
    "EXIT_FAILED",
    "EXIT_LOCKED",
    "EXIT_OK",
    "EXIT_PARTIAL",
    "main",
]

_Read = TypeVar("_Read")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_PARTIAL = 3
EXIT_LOCKED = 4

logger = logging.getLogger(__name__)

_database_option = click.option(
    "--database-url",
    metavar="URL",
    help="SQLAlchemy database URL [env ETL_DATABASE_URL; "
    "default sqlite:///synth_results.db].",
)


def _stop(message: str, exit_code: int) -> NoReturn:
    """Print a one-line error and exit with the code for its kind."""
    click.echo(f"error: {message}", err=True)
    sys.exit(exit_code)


def _exit_code_for(error: EtlError) -> int:
    if isinstance(error, ConfigurationError | SchemaError):
        return EXIT_CONFIG
    if isinstance(error, LockHeldError):
        return EXIT_LOCKED
    return EXIT_FAILED


def _fail(error: BaseException) -> NoReturn:
    if isinstance(error, EtlError):
        _stop(str(error), _exit_code_for(error))
    reason = describe_error(error)
    hint = "Check ETL_DATABASE_URL and the database server."
    if "database is locked" in reason:
        hint = (
            "Another process held a write lock on the SQLite file for over 30 s; "
            "try again when it has finished."
        )
    elif "readonly database" in reason:
        hint = (
            "Check that this user may write the SQLite file and its folder, where "
            "SQLite keeps its -wal and -shm files."
        )
    _stop(f"The database failed: {reason}. {hint}", EXIT_FAILED)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="etl")
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    default="INFO",
    show_default=True,
    help="Lowest level of log records written to stderr.",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Log lines as plain text or as one JSON object a line.",
)
def cli(log_level: str, log_format: str) -> None:
    """Archive Synth policy-optimization job results into SQL.

    Example: etl sync --from examples/
    """
    configure_logging(log_level, log_format)


@cli.command()
@click.option(
    "--job-id",
    "job_ids",
    multiple=True,
    metavar="ID",
    help="Fetch this job instead of listing the account's jobs; repeatable.",
)
@click.option(
    "--full",
    is_flag=True,
    help="Fetch every job again, including finished jobs already archived.",
)
@click.option(
    "--status",
    metavar="STATUS",
    help="Archive only listed jobs with this raw status, such as running.",
)
@click.option(
    "--created-after",
    metavar="TIME",
    help="Archive only listed jobs created after this ISO-8601 time (UTC if no "
    "offset), such as 2026-11-01 or 2026-11-01T08:00:00+02:00.",
)
@click.option(
    "--shard",
    metavar="K/N",
    help="Archive only shard K of N (1-based) by a stable hash of the job id; "
    "each shard takes its own lock.",
)
@click.option(
    "--from",
    "source",
    type=click.Path(path_type=Path),
    help="Read saved results from this file or directory instead of the API.",
)
@_database_option
@click.option(
    "--backend-url",
    metavar="URL",
    help="Synth API base URL [env SYNTH_BACKEND_URL; default https://api.usesynth.ai].",
)
@click.option(
    "--api-key-file",
    type=click.Path(path_type=Path),
    help="Read the API key from this file [env SYNTH_API_KEY_FILE]; "
    "the key itself is never taken as an option.",
)
@click.option(
    "--concurrency",
    type=int,
    help="Maximum requests in flight, 1 to 256 [env ETL_CONCURRENCY; default 8].",
)
@click.option(
    "--listing-style",
    type=click.Choice(["offset", "cursor"]),
    help="How the API lists jobs [env ETL_LISTING_STYLE; default offset].",
)
@click.option(
    "--connect-timeout",
    type=float,
    help="Seconds to wait for a connection [env ETL_CONNECT_TIMEOUT; default 10].",
)
@click.option(
    "--read-timeout",
    type=float,
    help="Seconds to wait for response data [env ETL_READ_TIMEOUT; default 60].",
)
def sync(
    job_ids: tuple[str, ...],
    full: bool,
    status: str | None,
    created_after: str | None,
    shard: str | None,
    source: Path | None,
    **overrides: Any,
) -> None:
    """Fetch job results and upsert them into the archive.

    Without --job-id or --from, lists every job of the account and fetches
    those not yet archived in a finished state. The API key comes from
    SYNTH_API_KEY or the file SYNTH_API_KEY_FILE names. --from reads .json,
    .jsonl and .ndjson files, optionally gzip-compressed, and takes none of
    the job options.

    Exit codes: 0 success, 1 failed, 2 invalid configuration, 3 some payloads
    rejected or jobs failed, 4 another run holds the lock.

    Example: etl sync --job-id po_abc123 --job-id po_7d41e0
    """
    if source is not None and (job_ids or full or status or created_after or shard):
        _stop(
            "--from reads saved files, so it takes no --job-id, --full, --status, "
            "--created-after or --shard.",
            EXIT_CONFIG,
        )
    if status is not None and not status.strip():
        _stop(
            "Invalid --status: it is empty; give a status such as running.", EXIT_CONFIG
        )
    for job_id in job_ids:
        _check_job_id(job_id)
    try:
        request = SyncRequest(
            source=source,
            job_ids=job_ids,
            full=full,
            job_filter=JobFilter(status, _parse_created_after(created_after)),
            shard=Shard.parse(shard) if shard is not None else None,
        )
        settings = load_settings(**overrides)
        result = run_sync(settings, request)
        _print_summary(result)
    except (EtlError, SQLAlchemyError) as error:
        _fail(error)
    if result.status is RunStatus.PARTIAL:
        sys.exit(EXIT_PARTIAL)


def _check_job_id(job_id: str) -> None:
    if not job_id.strip():
        _stop("Invalid --job-id: it is empty; give the id of a job.", EXIT_CONFIG)
    try:
        job_id.encode("utf-8")
    except UnicodeEncodeError:
        _stop(f"Invalid --job-id {job_id!r}: it is not valid UTF-8 text.", EXIT_CONFIG)


def _parse_created_after(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_timestamp(text)
    except ValueError:
        raise ConfigurationError(
            f"Invalid --created-after {text!r}: expected an ISO-8601 date or time "
            "such as 2026-11-01 or 2026-11-01T08:00:00Z."
        ) from None


def _print_summary(result: RunResult) -> None:
    counts = result.counts
    click.echo(
        f"Run {result.run_id} {result.status.value} in {result.seconds:.2f} s: "
        f"{counts.listed} listed, {counts.fetched} fetched, {counts.loaded} loaded, "
        f"{counts.unchanged} unchanged, {counts.rejected} rejected, "
        f"{counts.failed} failed."
    )


@cli.group()
def db() -> None:
    """Manage the archive's schema.

    Example: etl db upgrade
    """


@db.command("upgrade")
@_database_option
def db_upgrade(database_url: str | None) -> None:
    """Apply every pending migration to the database.

    Example: ETL_DATABASE_URL=postgresql+psycopg://etl@localhost/etl etl db upgrade
    """
    try:
        settings = load_settings(database_url=database_url)
        engine = connect(settings.database_url)
        try:
            before, after = upgrade(engine)
        finally:
            engine.dispose()
    except (EtlError, SQLAlchemyError) as error:
        _fail(error)
    url = mask_url(settings.database_url)
    if before == after:
        click.echo(f"The schema of {url} is already at revision {after}.")
    else:
        click.echo(f"Upgraded the schema of {url} from {before or 'empty'} to {after}.")


@db.command("current")
@_database_option
def db_current(database_url: str | None) -> None:
    """Print the database's schema revision and the newest one known.

    Example: etl db current
    """
    try:
        settings = load_settings(database_url=database_url)
        require_existing(settings.database_url)
        engine = connect(settings.database_url, read_only=True)
        try:
            current = current_revision(engine)
        finally:
            engine.dispose()
    except (EtlError, SQLAlchemyError) as error:
        _fail(error)
    click.echo(f"current: {current or 'empty'}")
    click.echo(f"head:    {head_revision()}")


@db.command("rows")
@_database_option
def db_rows(database_url: str | None) -> None:
    """Print the number of rows in each archive table.

    Counting reads every table, so it takes longer as the archive grows.

    Example: etl db rows
    """
    url, rows = _read_archive(database_url, _count_rows)
    click.echo(f"Rows in {url}:")
    for table, count in rows.items():
        click.echo(f"  {table:<28} {count:>10}")


def _count_rows(engine: Engine) -> tuple[str, dict[str, int]]:
    return engine.url.render_as_string(hide_password=True), count_rows(engine)


def _read_archive(database_url: str | None, read: Callable[[Engine], _Read]) -> _Read:
    """Run a read on an existing archive; errors end the command."""
    try:
        settings = load_settings(database_url=database_url)
        require_existing(settings.database_url)
        engine = connect(settings.database_url, read_only=True)
        try:
            require_archive(engine)
            return read(engine)
        finally:
            engine.dispose()
    except (EtlError, SQLAlchemyError) as error:
        _fail(error)


@cli.command()
@_database_option
@click.option(
    "--limit",
    type=click.IntRange(1),
    default=10,
    show_default=True,
    help="Maximum number of runs shown.",
)
def runs(database_url: str | None, limit: int) -> None:
    """Print the latest runs, newest first.

    Example: etl runs --limit 5
    """
    rows = _read_archive(database_url, lambda engine: latest_runs(engine, limit))
    columns = (
        "started_at",
        "status",
        "listed",
        "fetched",
        "unchanged",
        "loaded",
        "rejected",
        "failed",
        "run_id",
    )
    click.echo("  ".join(columns))
    for row in rows:
        started = row["started_at"].strftime("%Y-%m-%dT%H:%M:%SZ")
        values = [started] + [str(row[name]) for name in columns[1:]]
        click.echo("  ".join(values))


@cli.command()
@_database_option
@click.option(
    "--limit",
    type=click.IntRange(1),
    default=20,
    show_default=True,
    help="Maximum number of rejected payloads shown.",
)
def rejected(database_url: str | None, limit: int) -> None:
    """Print the newest rejected payloads with the reason for each.

    Example: etl rejected --limit 50
    """
    rows = _read_archive(database_url, lambda engine: latest_rejected(engine, limit))
    if not rows:
        click.echo("No rejected payloads.")
    for row in rows:
        received = row["received_at"].strftime("%Y-%m-%dT%H:%M:%SZ")
        click.echo(
            f"#{row['id']}  {received}  job {row['job_id'] or '?'}  {row['source']}"
        )
        click.echo(f"    {row['error']}")


@cli.command("retry-rejected")
@_database_option
def retry_rejected_command(database_url: str | None) -> None:
    """Normalize rejected payloads again and archive those that now pass.

    Run it after upgrading etl, when a newer version accepts more payloads.

    Example: etl retry-rejected
    """
    try:
        settings = load_settings(database_url=database_url)
        require_existing(settings.database_url)
        result = retry_rejected(settings)
        _print_summary(result)
    except (EtlError, SQLAlchemyError) as error:
        _fail(error)
    if result.status is RunStatus.PARTIAL:
        sys.exit(EXIT_PARTIAL)


@cli.command("replay")
@_database_option
def replay_command(database_url: str | None) -> None:
    """Rebuild every normalized table from the archived raw payloads.

    Example: etl replay --database-url sqlite:///synth_results.db
    """
    try:
        settings = load_settings(database_url=database_url)
        require_existing(settings.database_url)
        counts = replay_archive(settings)
    except (EtlError, SQLAlchemyError) as error:
        _fail(error)
    click.echo(
        f"Replayed {counts.versions} payload versions of {counts.jobs} jobs; "
        f"skipped {counts.skipped} that no longer pass."
    )


@cli.command()
@_database_option
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("report.html"),
    show_default=True,
    help="HTML file to write; an existing file is replaced.",
)
def report(database_url: str | None, out: Path) -> None:
    """Write an HTML report: a table of jobs and each job's reward and sensor charts.

    The file is self-contained (inline CSS and SVG, no scripts or links).

    Example: etl report --out report.html
    """
    try:
        settings = load_settings(database_url=database_url)
        require_existing(settings.database_url)
        engine = connect(settings.database_url, read_only=True)
        try:
            summary = write_report(engine, out, mask_url(settings.database_url))
        finally:
            engine.dispose()
    except (EtlError, SQLAlchemyError) as error:
        _fail(error)
    except OSError as error:
        _stop(
            f"Cannot write the report to {out}: {error.strerror or error}. "
            "Check that its directory exists and is writable.",
            EXIT_FAILED,
        )
    click.echo(
        f"Wrote {out}: {summary.job_count} jobs, {summary.reward_chart_count} "
        f"reward charts, {summary.activity_chart_count} sensor activity "
        f"chart{'' if summary.activity_chart_count == 1 else 's'}."
    )


def main() -> None:
    """Run the command line; the console script `etl` calls this."""
    cli(prog_name="etl")
