"""Bulk-load a benchmark corpus the fastest plain way, as a floor for `etl`.

The script reads the `.jsonl` files under a directory and flattens each
payload into tuples for the archive's tables with a minimal loop: `json.loads`
and list building, with no validation. It then writes every row into the
tables that `etl db upgrade` created in an empty database:

- SQLite: one transaction with one `executemany` a table, with the pragmas
  that `etl` sets (WAL, `synchronous=NORMAL`, foreign keys on).
- PostgreSQL: one transaction with one `COPY … FROM STDIN` a table
  (psycopg 3 `cursor.copy`).

It handles only the payload shape that `bench/corpus.py` writes: top-level
fields, maps for lever versions and timestamps like `2026-01-01T00:00:00.000Z`.
Its last line on stdout is a JSON object with the timings and row count.

    python bench/floor.py --from DIR --database-url sqlite:///floor.db
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

_STATES = {
    "running": ("running", False),
    "succeeded": ("succeeded", True),
    "completed": ("succeeded", True),
    "failed": ("failed", True),
    "error": ("failed", True),
}

# Column lists in the order of the tuples that `_flatten` builds.
COLUMNS: dict[str, tuple[str, ...]] = {
    "jobs": (
        "job_id",
        "status",
        "state",
        "is_terminal",
        "algorithm",
        "best_reward",
        "best_prompt_reward",
        "best_lever_version",
        "prompt_lever_id",
        "best_candidate_id",
        "selected_candidate_id",
        "baseline_candidate_id",
        "lever_count",
        "mutation_count",
        "latest_version",
        "message_count",
        "created_at",
        "started_at",
        "finished_at",
        "total_cost_usd",
        "generations_completed",
        "candidates_evaluated",
        "extra",
        "payload_sha256",
        "first_seen_at",
        "last_changed_at",
        "last_fetched_at",
    ),
    "raw_payloads": (
        "job_id",
        "sha256",
        "body",
        "source",
        "fetched_at",
        "last_fetched_at",
        "version",
    ),
    "prompt_messages": (
        "job_id",
        "position",
        "role",
        "name",
        "content",
        "content_kind",
    ),
    "candidates": (
        "job_id",
        "candidate_id",
        "lever_version",
        "is_baseline",
        "is_best",
        "is_selected",
    ),
    "lever_versions": ("job_id", "lever_id", "version", "is_prompt_lever"),
    "sensor_frames": ("job_id", "frame_id", "created_at", "sensor_count"),
    "sensor_frame_kinds": ("job_id", "frame_id", "kind"),
    "sensor_frame_traces": ("job_id", "frame_id", "trace_id", "position"),
    "sensor_frame_lever_versions": ("job_id", "frame_id", "lever_id", "version"),
    "history": ("job_id", "generation", "best_reward"),
}

Rows = dict[str, list[tuple[Any, ...]]]


def _sqlite_time(value: str | None) -> str | None:
    """Turn `2026-01-01T00:00:00.000Z` into the text form `etl` stores."""
    if value is None:
        return None
    return value.replace("T", " ").replace("Z", "000")


def _flatten(
    rows: Rows, line: bytes, source: str, fetched_at: str, for_sqlite: bool
) -> None:
    """Append the rows of one payload line to `rows`, one list a table."""
    payload = json.loads(line)
    job_id = payload["job_id"]
    sha256 = hashlib.sha256(line).hexdigest()
    convert = _sqlite_time if for_sqlite else _same

    rows["jobs"].append(_job_row(payload, sha256, fetched_at, convert))
    rows["raw_payloads"].append(
        (job_id, sha256, line, source, fetched_at, fetched_at, 1)
    )
    _append_prompt_rows(rows, job_id, payload)
    for frame in payload["sensor_frames"]:
        _append_frame_rows(rows, job_id, frame, convert)
    for entry in payload["history"]:
        rows["history"].append((job_id, entry["generation"], entry["best_reward"]))


def _job_row(
    payload: dict[str, Any],
    sha256: str,
    fetched_at: str,
    convert: Callable[[str | None], str | None],
) -> tuple[Any, ...]:
    summary = payload["lever_summary"]
    best = payload["best_prompt"]
    state, is_terminal = _STATES.get(payload["status"], ("unknown", False))
    return (
        payload["job_id"],
        payload["status"],
        state,
        is_terminal,
        payload["algorithm"],
        payload["best_reward"],
        best["reward"],
        payload["best_lever_version"],
        summary["prompt_lever_id"],
        summary["best_candidate_id"],
        summary["selected_candidate_id"],
        summary["baseline_candidate_id"],
        summary["lever_count"],
        summary["mutation_count"],
        summary["latest_version"],
        len(best["messages"]),
        convert(payload["created_at"]),
        convert(payload["started_at"]),
        convert(payload["finished_at"]),
        payload["total_cost_usd"],
        payload["generations_completed"],
        payload["candidates_evaluated"],
        json.dumps({"labels": payload["labels"]}, sort_keys=True),
        sha256,
        fetched_at,
        fetched_at,
        fetched_at,
    )


def _append_prompt_rows(rows: Rows, job_id: str, payload: dict[str, Any]) -> None:
    """Append the rows of the messages, candidates and lever versions."""
    for position, message in enumerate(payload["best_prompt"]["messages"]):
        content = message.get("content")
        kind = "content" if content is not None else "pattern"
        text = content if content is not None else message.get("pattern")
        rows["prompt_messages"].append(
            (job_id, position, message["role"], message.get("name"), text, kind)
        )

    summary = payload["lever_summary"]
    best_id = summary["best_candidate_id"]
    selected_id = summary["selected_candidate_id"]
    baseline_id = summary["baseline_candidate_id"]
    for candidate_id, version in summary["candidate_lever_versions"].items():
        rows["candidates"].append(
            (
                job_id,
                candidate_id,
                version,
                candidate_id == baseline_id,
                candidate_id == best_id,
                candidate_id == selected_id,
            )
        )

    prompt_lever_id = summary["prompt_lever_id"]
    for lever_id, version in payload["lever_versions"].items():
        rows["lever_versions"].append(
            (job_id, lever_id, version, lever_id == prompt_lever_id)
        )


def _append_frame_rows(
    rows: Rows,
    job_id: str,
    frame: dict[str, Any],
    convert: Callable[[str | None], str | None],
) -> None:
    frame_id = frame["frame_id"]
    rows["sensor_frames"].append(
        (job_id, frame_id, convert(frame["created_at"]), frame["sensor_count"])
    )
    for kind in frame["sensor_kinds"]:
        rows["sensor_frame_kinds"].append((job_id, frame_id, kind))
    for position, trace_id in enumerate(frame["trace_ids"]):
        rows["sensor_frame_traces"].append((job_id, frame_id, trace_id, position))
    for lever_id, version in frame["lever_versions"].items():
        rows["sensor_frame_lever_versions"].append(
            (job_id, frame_id, lever_id, version)
        )


def _same(value: str | None) -> str | None:
    return value


def _iter_lines(root: Path) -> Iterator[tuple[bytes, str, float]]:
    for path in sorted(root.rglob("*.jsonl")):
        modified = path.stat().st_mtime
        with path.open("rb") as stream:
            for number, line in enumerate(stream, start=1):
                body = line.rstrip(b"\r\n")
                if body.strip():
                    yield body, f"{path}:{number}", modified


def read_rows(root: Path, *, for_sqlite: bool) -> Rows:
    """Flatten every payload under `root` into rows, one list a table."""
    rows: Rows = {table: [] for table in COLUMNS}
    for body, source, modified in _iter_lines(root):
        moment = datetime.fromtimestamp(modified, UTC)
        fetched_at = (
            moment.strftime("%Y-%m-%d %H:%M:%S.%f")
            if for_sqlite
            else moment.isoformat()
        )
        _flatten(rows, body, source, fetched_at, for_sqlite)
    return rows


def _sqlite_required_columns(path: str) -> dict[str, set[str]]:
    connection = sqlite3.connect(path)
    try:
        required: dict[str, set[str]] = {}
        for table in COLUMNS:
            info = connection.execute(f"PRAGMA table_info({table})").fetchall()
            # Each row is (cid, name, type, notnull, dflt_value, pk).
            required[table] = {row[1] for row in info if row[3] and row[4] is None}
        return required
    finally:
        connection.close()


def _postgres_required_columns(url: str) -> dict[str, set[str]]:
    query = (
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND is_nullable = 'NO' "
        "AND column_default IS NULL"
    )
    required: dict[str, set[str]] = {table: set() for table in COLUMNS}
    with psycopg.connect(url) as connection:
        for table, column in connection.execute(query):
            if table in required:
                required[table].add(column)
    return required


def check_schema(required: dict[str, set[str]]) -> list[str]:
    """Return the NOT NULL columns without a default that this script leaves out.

    The archive's schema belongs to `etl` and changes with it, so the floor
    stops with a clear message rather than loading a different shape.
    """
    return [
        f"{table}.{column}"
        for table, columns in required.items()
        for column in sorted(columns - set(COLUMNS[table]))
    ]


def load_sqlite(path: str, rows: Rows) -> None:
    """Insert all rows in one transaction with one `executemany` a table."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA foreign_keys=ON")
        connection.execute("BEGIN IMMEDIATE")
        for table, columns in COLUMNS.items():
            marks = ", ".join("?" for _ in columns)
            statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
            connection.executemany(statement, rows[table])
        connection.execute("COMMIT")
    finally:
        connection.close()


def load_postgres(url: str, rows: Rows) -> None:
    """Copy all rows in one transaction with one `COPY` a table."""
    with psycopg.connect(url) as connection, connection.cursor() as cursor:
        for table, columns in COLUMNS.items():
            statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
            with cursor.copy(statement) as copy:
                for row in rows[table]:
                    copy.write_row(row)


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path, required=True)
    parser.add_argument(
        "--database-url",
        required=True,
        help="sqlite:///PATH, or postgresql://USER:PASSWORD@HOST:PORT/DB "
        "(a +psycopg suffix on the scheme is accepted)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    url: str = args.database_url
    for_sqlite = url.startswith("sqlite:///")
    path = url.removeprefix("sqlite:///")
    conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)

    required = (
        _sqlite_required_columns(path)
        if for_sqlite
        else _postgres_required_columns(conninfo)
    )
    missing = check_schema(required)
    if missing:
        print(
            f"error: the archive schema has required columns that floor.py does "
            f"not fill: {', '.join(missing)}. Add them to COLUMNS and to the "
            "functions that build the rows.",
            file=sys.stderr,
        )
        return 2

    started = time.perf_counter()
    rows = read_rows(args.source, for_sqlite=for_sqlite)
    flattened = time.perf_counter()
    if for_sqlite:
        load_sqlite(path, rows)
    else:
        load_postgres(conninfo, rows)
    finished = time.perf_counter()

    result = {
        "flatten_seconds": flattened - started,
        "load_seconds": finished - flattened,
        "seconds": finished - started,
        "rows": sum(len(table_rows) for table_rows in rows.values()),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
