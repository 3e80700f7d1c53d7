"""SIGKILL at random moments of a large load never leaves a job half-written."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select
from sqlalchemy.pool import NullPool

from archive_helpers import dump_archive
from etl.load import schema
from etl.normalize import normalize_body

JOBS = 250
KILLS = 20
SEED = 20261204


def payload(number: int, version: int) -> dict[str, Any]:
    frames = 20 + 10 * version
    return {
        "job_id": f"crash_{number:04d}",
        "status": "succeeded" if version == 2 else "running",
        "best_reward": round(0.3 + number / 1000 + version / 10, 4),
        "lever_summary": {
            "prompt_lever_id": "lever.prompt",
            "candidate_lever_versions": {f"c{n}": n + version for n in range(8)},
            "best_candidate_id": f"c{version}",
        },
        "lever_versions": {"lever.prompt": version, "lever.context": 1},
        "best_prompt": {"messages": [{"role": "system", "content": f"v{version}"}]},
        "sensor_frames": [
            {
                "frame_id": f"f{n:03d}",
                "created_at": f"2026-06-01T00:{n // 60:02d}:{n % 60:02d}Z",
                "sensor_count": version,
                "sensor_kinds": ["reward", "timing", f"k{version}"],
                "trace_ids": [f"t{n}", f"t{n}-{version}"],
                "lever_versions": {"lever.prompt": version},
            }
            for n in range(frames)
        ],
        "history": [
            {"generation": g, "best_reward": g / 100 + version} for g in range(10)
        ],
    }


def write_corpus(folder: Path) -> None:
    """Version 1 of every job, then version 2 of every third job in later files."""
    folder.mkdir()
    for part in range(4):
        numbers = range(part * JOBS // 4, (part + 1) * JOBS // 4)
        lines = [json.dumps(payload(n, 1)) for n in numbers]
        (folder / f"a_{part}.jsonl").write_text("\n".join(lines) + "\n")
    lines = [json.dumps(payload(n, 2)) for n in range(0, JOBS, 3)]
    (folder / "b_updates.jsonl").write_text("\n".join(lines) + "\n")


def sync_command(folder: Path, url: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "etl",
        "sync",
        "--from",
        str(folder),
        "--database-url",
        url,
    ]


def rows_by_job(url: str, table_name: str) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    engine = create_engine(url, poolclass=NullPool)
    table = schema.metadata.tables[table_name]
    with engine.connect() as connection:
        query = select(table).order_by(*table.primary_key.columns)
        for row in connection.execute(query):
            grouped.setdefault(row.job_id, []).append(dict(row._mapping))
    engine.dispose()
    return grouped


def assert_whole_jobs(url: str) -> None:
    """Every archived job's rows match the payload its hash names, and no more."""
    raw = {
        (row["job_id"], row["sha256"]): bytes(row["body"])
        for rows in rows_by_job(url, "raw_payloads").values()
        for row in rows
    }
    tables = {
        name: rows_by_job(url, name)
        for name in ("candidates", "lever_versions", "prompt_messages", "sensor_frames")
    }
    jobs = rows_by_job(url, "jobs")
    for job_id, (job,) in jobs.items():
        expected = normalize_body(raw[(job_id, job["payload_sha256"])])
        assert job["best_reward"] == expected.job["best_reward"], job_id
        assert tables["candidates"].get(job_id, []) == expected.as_dicts(
            "candidates"
        ), job_id
        assert tables["lever_versions"].get(job_id, []) == sorted(
            expected.as_dicts("lever_versions"), key=lambda row: row["lever_id"]
        ), job_id
        assert tables["prompt_messages"].get(job_id, []) == expected.as_dicts(
            "prompt_messages"
        )
        frames = {row["frame_id"]: row for row in tables["sensor_frames"][job_id]}
        for frame in expected.as_dicts("sensor_frames"):
            assert frames[frame["frame_id"]] == frame, job_id
    orphans = set(raw) - {
        (job_id, rows[0]["payload_sha256"]) for job_id, rows in jobs.items()
    }
    for job_id, _ in orphans:
        assert job_id in jobs, f"raw payload of {job_id} archived without its job"


def test_kills_leave_whole_jobs(tmp_path: Path, database_url: str) -> None:
    folder = tmp_path / "corpus"
    write_corpus(folder)
    reference = f"sqlite:///{tmp_path / 'reference.db'}"
    started = time.monotonic()
    subprocess.run(sync_command(folder, reference), check=True, capture_output=True)
    duration = time.monotonic() - started
    subprocess.run(
        [sys.executable, "-m", "etl", "db", "upgrade", "--database-url", database_url],
        check=True,
        capture_output=True,
    )
    chooser = random.Random(SEED)

    for _ in range(KILLS):
        process = subprocess.Popen(
            sync_command(folder, database_url),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(chooser.uniform(0.2, max(duration, 0.5)))
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait()
        assert_whole_jobs(database_url)

    final = subprocess.run(
        sync_command(folder, database_url), capture_output=True, text=True, check=False
    )

    assert final.returncode == 0, final.stderr
    assert_whole_jobs(database_url)
    assert dump_archive(database_url, skip=("etl_runs",)) == dump_archive(reference)
    runs = dump_archive(database_url, skip=())["etl_runs"]
    assert all(run["status"] != "running" for run in runs)


def recorded_loads(url: str) -> int:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            loads = connection.execute(select(schema.etl_runs.c.loaded)).scalars()
            return max(loads, default=0)
    finally:
        engine.dispose()


def test_killed_run_keeps_counts(tmp_path: Path, database_url: str) -> None:
    folder = tmp_path / "corpus"
    write_corpus(folder)
    subprocess.run(
        [sys.executable, "-m", "etl", "db", "upgrade", "--database-url", database_url],
        check=True,
        capture_output=True,
    )
    process = subprocess.Popen(
        sync_command(folder, database_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    seen = 0
    deadline = time.monotonic() + 120
    while not seen and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
        seen = recorded_loads(database_url)
    process.kill()
    process.wait()

    final = subprocess.run(
        sync_command(folder, database_url), capture_output=True, text=True, check=False
    )

    assert final.returncode == 0, final.stderr
    assert seen >= 200
    runs = dump_archive(database_url, skip=())["etl_runs"]
    (killed,) = [run for run in runs if run["status"] == "failed"]
    assert f"Marked 1 interrupted run(s) as failed: {killed['run_id']}." in (
        final.stderr
    )
    assert killed["loaded"] >= seen
    assert killed["fetched"] >= killed["loaded"]
