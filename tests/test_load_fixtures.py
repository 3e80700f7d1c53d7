"""Each fixture payload loads into exact rows, the same on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archive_helpers import dump_archive, fixture_path, read_table, run_etl

FETCHED_AT = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)

JOB_DEFAULTS: dict[str, Any] = {
    "algorithm": None,
    "created_at": None,
    "started_at": None,
    "finished_at": None,
    "total_cost_usd": None,
    "error_message": None,
    "generations_completed": None,
    "candidates_evaluated": None,
    "extra": None,
    "first_seen_at": FETCHED_AT,
    "last_changed_at": FETCHED_AT,
    "last_fetched_at": FETCHED_AT,
}


def stage(tmp_path: Path, *names: str) -> Path:
    """Copy fixtures into a folder and give them a known modification time."""
    folder = tmp_path / "input"
    folder.mkdir(exist_ok=True)
    for name in names:
        target = folder / f"{name}.json"
        shutil.copyfile(fixture_path(name), target)
        os.utime(target, (FETCHED_AT.timestamp(), FETCHED_AT.timestamp()))
    return folder


def sha256_of(name: str) -> str:
    return hashlib.sha256(fixture_path(name).read_bytes()).hexdigest()


def sync(folder: Path, url: str) -> None:
    result = run_etl("sync", "--from", str(folder), "--database-url", url)
    assert result.exit_code == 0, result.stderr


def rows(url: str, table: str, job_id: str) -> list[dict[str, Any]]:
    return [row for row in read_table(url, table) if row["job_id"] == job_id]


def test_documented_example_rows(tmp_path: Path, database_url: str) -> None:
    sync(stage(tmp_path, "documented_example"), database_url)
    job = "po_abc123"
    frame = "frame_01hzk..."

    assert read_table(database_url, "jobs") == [
        JOB_DEFAULTS
        | {
            "job_id": job,
            "status": "completed",
            "state": "succeeded",
            "is_terminal": True,
            "best_reward": 0.94,
            "best_prompt_reward": 0.94,
            "best_lever_version": 4,
            "prompt_lever_id": "mipro.prompt.sys_abc",
            "best_candidate_id": "candidate_9b12",
            "selected_candidate_id": "candidate_9b12",
            "baseline_candidate_id": "baseline",
            "lever_count": 4,
            "mutation_count": 3,
            "latest_version": 4,
            "message_count": 1,
            "payload_sha256": sha256_of("documented_example"),
        }
    ]
    assert rows(database_url, "prompt_messages", job) == [
        {
            "job_id": job,
            "position": 0,
            "role": "system",
            "name": None,
            "content": "You are a helpful assistant...",
            "content_kind": "content",
        }
    ]
    assert rows(database_url, "candidates", job) == [
        {
            "job_id": job,
            "candidate_id": "baseline",
            "lever_version": 1,
            "is_baseline": True,
            "is_best": False,
            "is_selected": False,
        },
        {
            "job_id": job,
            "candidate_id": "candidate_9b12",
            "lever_version": 4,
            "is_baseline": False,
            "is_best": True,
            "is_selected": True,
        },
    ]
    assert rows(database_url, "lever_versions", job) == [
        {
            "job_id": job,
            "lever_id": "mipro.prompt.sys_abc",
            "version": 4,
            "is_prompt_lever": True,
        }
    ]
    assert rows(database_url, "sensor_frames", job) == [
        {
            "job_id": job,
            "frame_id": frame,
            "created_at": datetime(2026, 2, 12, 18, 44, tzinfo=UTC),
            "sensor_count": 3,
        }
    ]
    assert rows(database_url, "sensor_frame_kinds", job) == [
        {"job_id": job, "frame_id": frame, "kind": kind}
        for kind in ("resource", "reward", "rollout")
    ]
    assert rows(database_url, "sensor_frame_traces", job) == [
        {"job_id": job, "frame_id": frame, "trace_id": "trace_abc", "position": 0}
    ]
    assert rows(database_url, "sensor_frame_lever_versions", job) == [
        {
            "job_id": job,
            "frame_id": frame,
            "lever_id": "mipro.prompt.sys_abc",
            "version": 4,
        }
    ]
    assert rows(database_url, "history", job) == [
        {"job_id": job, "generation": 1, "best_reward": 0.72},
        {"job_id": job, "generation": 2, "best_reward": 0.85},
        {"job_id": job, "generation": 3, "best_reward": 0.94},
    ]


def test_gepa_fixture_rows(tmp_path: Path, database_url: str) -> None:
    sync(stage(tmp_path, "gepa_succeeded"), database_url)
    job = "pl_5f0c2a9e81d34b77"

    assert read_table(database_url, "jobs") == [
        JOB_DEFAULTS
        | {
            "job_id": job,
            "status": "succeeded",
            "state": "succeeded",
            "is_terminal": True,
            "algorithm": "gepa",
            "best_reward": 0.81,
            "best_prompt_reward": None,
            "best_lever_version": None,
            "prompt_lever_id": None,
            "best_candidate_id": "cand_0007",
            "selected_candidate_id": None,
            "baseline_candidate_id": None,
            "lever_count": None,
            "mutation_count": None,
            "latest_version": None,
            "message_count": 2,
            "created_at": datetime(2026, 5, 2, 8, 0, tzinfo=UTC),
            "finished_at": datetime(2026, 5, 2, 9, 41, 12, tzinfo=UTC),
            "total_cost_usd": 3.42,
            "payload_sha256": sha256_of("gepa_succeeded"),
        }
    ]
    assert rows(database_url, "prompt_messages", job) == [
        {
            "job_id": job,
            "position": 0,
            "role": "system",
            "name": None,
            "content": "Classify the banking query into one of 77 intents.",
            "content_kind": "content",
        },
        {
            "job_id": job,
            "position": 1,
            "role": "user",
            "name": None,
            "content": "Query: {query}\nIntent:",
            "content_kind": "pattern",
        },
    ]
    assert rows(database_url, "candidates", job) == [
        {
            "job_id": job,
            "candidate_id": "cand_0007",
            "lever_version": None,
            "is_baseline": False,
            "is_best": True,
            "is_selected": False,
        }
    ]
    for table in (
        "lever_versions",
        "sensor_frames",
        "sensor_frame_kinds",
        "sensor_frame_traces",
        "sensor_frame_lever_versions",
        "history",
    ):
        assert rows(database_url, table, job) == [], table


def test_mipro_running_fixture_rows(tmp_path: Path, database_url: str) -> None:
    sync(stage(tmp_path, "mipro_running"), database_url)
    job = "po_7d41e0"

    assert read_table(database_url, "jobs") == [
        JOB_DEFAULTS
        | {
            "job_id": job,
            "status": "running",
            "state": "running",
            "is_terminal": False,
            "best_reward": 0.61,
            "best_prompt_reward": 0.61,
            "best_lever_version": 7,
            "prompt_lever_id": "mipro.prompt.pl_123",
            "best_candidate_id": "candidate_a1",
            "selected_candidate_id": "candidate_b2",
            "baseline_candidate_id": "baseline",
            "lever_count": 2,
            "mutation_count": 2,
            "latest_version": 7,
            "message_count": 1,
            "payload_sha256": sha256_of("mipro_running"),
        }
    ]
    assert rows(database_url, "prompt_messages", job) == [
        {
            "job_id": job,
            "position": 0,
            "role": "system",
            "name": None,
            "content": "Résumé the ticket in one line. 🚀",
            "content_kind": "content",
        }
    ]
    assert rows(database_url, "candidates", job) == [
        {
            "job_id": job,
            "candidate_id": "baseline",
            "lever_version": 1,
            "is_baseline": True,
            "is_best": False,
            "is_selected": False,
        },
        {
            "job_id": job,
            "candidate_id": "candidate_a1",
            "lever_version": 7,
            "is_baseline": False,
            "is_best": True,
            "is_selected": False,
        },
        {
            "job_id": job,
            "candidate_id": "candidate_b2",
            "lever_version": 3,
            "is_baseline": False,
            "is_best": False,
            "is_selected": True,
        },
    ]
    assert rows(database_url, "lever_versions", job) == [
        {
            "job_id": job,
            "lever_id": "mipro.context.pl_123",
            "version": 2,
            "is_prompt_lever": False,
        },
        {
            "job_id": job,
            "lever_id": "mipro.prompt.pl_123",
            "version": 7,
            "is_prompt_lever": True,
        },
    ]
    assert rows(database_url, "sensor_frames", job) == [
        {
            "job_id": job,
            "frame_id": "frame_a",
            # 09:15:30.123456789+02:00, cut to microseconds and moved to UTC.
            "created_at": datetime(2026, 3, 1, 7, 15, 30, 123456, tzinfo=UTC),
            "sensor_count": 2,
        },
        {
            "job_id": job,
            "frame_id": "frame_b",
            "created_at": datetime(2026, 3, 1, 7, 16, tzinfo=UTC),
            "sensor_count": 1,
        },
    ]
    assert rows(database_url, "sensor_frame_kinds", job) == [
        {"job_id": job, "frame_id": "frame_a", "kind": "reward"},
        {"job_id": job, "frame_id": "frame_a", "kind": "timing"},
        {"job_id": job, "frame_id": "frame_b", "kind": "safety"},
    ]
    assert rows(database_url, "sensor_frame_traces", job) == [
        {"job_id": job, "frame_id": "frame_b", "trace_id": "trace_1", "position": 0},
        {"job_id": job, "frame_id": "frame_b", "trace_id": "trace_2", "position": 1},
    ]
    assert rows(database_url, "sensor_frame_lever_versions", job) == [
        {
            "job_id": job,
            "frame_id": "frame_a",
            "lever_id": "mipro.prompt.pl_123",
            "version": 7,
        }
    ]
    assert rows(database_url, "history", job) == [
        {"job_id": job, "generation": 1, "best_reward": 0.4},
        {"job_id": job, "generation": 2, "best_reward": 0.61},
    ]


def test_raw_payloads_kept_verbatim(tmp_path: Path, database_url: str) -> None:
    names = ("documented_example", "gepa_succeeded", "mipro_running")
    folder = stage(tmp_path, *names)
    sync(folder, database_url)

    stored = read_table(database_url, "raw_payloads")
    by_job = {row["job_id"]: row for row in stored}
    assert len(stored) == 3
    for name, job in zip(
        names, ("po_abc123", "pl_5f0c2a9e81d34b77", "po_7d41e0"), strict=True
    ):
        body = fixture_path(name).read_bytes()
        assert bytes(by_job[job]["body"]) == body
        assert by_job[job]["sha256"] == hashlib.sha256(body).hexdigest()
        assert by_job[job]["source"] == str(folder / f"{name}.json")
        assert by_job[job]["fetched_at"] == FETCHED_AT


def test_second_run_changes_nothing(tmp_path: Path, database_url: str) -> None:
    folder = stage(tmp_path, "documented_example", "gepa_succeeded", "mipro_running")
    sync(folder, database_url)
    first = dump_archive(database_url)

    result = run_etl("sync", "--from", str(folder), "--database-url", database_url)

    assert result.exit_code == 0
    assert "3 fetched, 0 loaded, 3 unchanged, 0 rejected, 0 failed" in result.stdout
    assert dump_archive(database_url) == first
    assert len(read_table(database_url, "etl_runs")) == 2


def test_sqlite_and_postgres_agree(tmp_path: Path, postgres_url: str) -> None:
    folder = stage(tmp_path, "documented_example", "gepa_succeeded", "mipro_running")
    sqlite_url = f"sqlite:///{tmp_path / 'agree.db'}"
    sync(folder, sqlite_url)
    sync(folder, postgres_url)

    assert dump_archive(sqlite_url) == dump_archive(postgres_url)
