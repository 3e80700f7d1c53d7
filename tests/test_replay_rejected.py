"""`etl replay`, `etl rejected` and `etl retry-rejected`."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, delete, insert, update
from sqlalchemy.pool import NullPool

from archive_helpers import dump_archive, read_table, run_etl
from etl.load import schema
from standin_api import StandinApi, run_standin

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def damage(url: str) -> None:
    """Change normalized rows, so only a real rebuild restores them."""
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as connection:
        connection.execute(delete(schema.sensor_frame_kinds))
        connection.execute(delete(schema.history))
        connection.execute(update(schema.jobs).values(best_reward=-1.0))
    engine.dispose()


def test_replay_equals_direct_load(tmp_path: Path, database_url: str) -> None:
    later = tmp_path / "later"
    later.mkdir()
    (later / "changed.jsonl").write_text(
        "\n".join(
            json.dumps(p)
            for p in (
                {"job_id": "po_7d41e0", "status": "succeeded", "best_reward": 0.7},
                {"job_id": "po_abc123", "status": "completed", "sensor_frames": []},
            )
        )
        + "\n"
    )
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    first = run_etl(
        "sync", "--from", str(tmp_path / "examples"), "--database-url", database_url
    )
    second = run_etl("sync", "--from", str(later), "--database-url", database_url)
    direct = dump_archive(database_url)
    damage(database_url)

    replayed = run_etl("replay", "--database-url", database_url)

    assert first.exit_code == 0
    assert second.exit_code == 0
    assert replayed.exit_code == 0, replayed.stderr
    assert replayed.stdout == (
        "Replayed 71 payload versions of 69 jobs; skipped 0 that no longer pass.\n"
    )
    assert dump_archive(database_url) == direct
    assert sum(len(rows) for rows in direct.values()) == 16_036


def test_replay_keeps_fetch_times(database_url: str) -> None:
    api = StandinApi(api_keys="sk_test_replay")
    api.add_payload({"job_id": "j1", "status": "running", "best_reward": 0.1})
    env = {"SYNTH_API_KEY": "sk_test_replay"}
    with run_standin(api) as server:
        env["SYNTH_BACKEND_URL"] = server.url
        run_etl("sync", "--database-url", database_url, env=env)
        run_etl("sync", "--database-url", database_url, env=env)
    direct = dump_archive(database_url)
    (job,) = direct["jobs"]
    (raw,) = direct["raw_payloads"]

    damage(database_url)
    run_etl("replay", "--database-url", database_url)

    assert job["last_fetched_at"] > job["last_changed_at"]
    assert raw["last_fetched_at"] == job["last_fetched_at"]
    assert dump_archive(database_url) == direct


def add_rejected(url: str, body: bytes, source: str) -> None:
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as connection:
        connection.execute(
            insert(schema.rejected_payloads).values(
                run_id="00000000-0000-0000-0000-000000000000",
                job_id=None,
                source=source,
                error="Rejected by an older version.",
                error_path=None,
                body=body,
                body_sha256=hashlib.sha256(body).hexdigest(),
                received_at=datetime(2026, 11, 2, 3, 4, 5, tzinfo=UTC),
            )
        )
    engine.dispose()


def test_rejected_listing_and_retry(tmp_path: Path, database_url: str) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"job_id": "j_bad", "best_lever_version": true}\n')
    run_etl("sync", "--from", str(bad), "--database-url", database_url)
    good_body = b'{"job_id": "j_good", "status": "succeeded", "best_reward": 0.9}'
    add_rejected(database_url, good_body, "old-export.json")

    listing = run_etl("rejected", "--database-url", database_url)
    retried = run_etl("retry-rejected", "--database-url", database_url)

    assert listing.exit_code == 0
    lines = listing.stdout.splitlines()
    assert lines[0] == "#2  2026-11-02T03:04:05Z  job ?  old-export.json"
    assert lines[1] == "    Rejected by an older version."
    assert lines[2].endswith(f"job j_bad  {bad}:1")
    assert lines[3] == (
        "    Invalid value at best_lever_version: expected an integer, "
        "got the boolean true."
    )
    assert retried.exit_code == 3
    assert "2 fetched, 1 loaded, 0 unchanged, 1 rejected, 0 failed" in retried.stdout
    assert [job["job_id"] for job in read_table(database_url, "jobs")] == ["j_good"]
    remaining = read_table(database_url, "rejected_payloads")
    assert [row["job_id"] for row in remaining] == ["j_bad"]
    raw = read_table(database_url, "raw_payloads")
    assert [(row["job_id"], bytes(row["body"])) for row in raw] == [
        ("j_good", good_body)
    ]


def test_rejected_empty(sqlite_url: str) -> None:
    run_etl("db", "upgrade", "--database-url", sqlite_url)

    result = run_etl("rejected", "--database-url", sqlite_url)

    assert result.exit_code == 0
    assert result.stdout == "No rejected payloads.\n"


def test_read_commands_need_existing_file(tmp_path: Path) -> None:
    missing = tmp_path / "typo.db"
    for command in (["runs"], ["rejected"], ["db", "current"], ["replay"]):
        result = run_etl(*command, "--database-url", f"sqlite:///{missing}")

        assert result.exit_code == 2, command
        assert result.stderr == (
            f"error: The SQLite database {missing} does not exist. Run `etl sync` "
            "first, or check ETL_DATABASE_URL (--database-url).\n"
        )
        assert not missing.exists()


def test_rejected_from_deep_path(tmp_path: Path, database_url: str) -> None:
    folder = tmp_path.joinpath(*(f"{n:02d}" + "d" * 248 for n in range(12)))
    folder.mkdir(parents=True)
    (folder / "bad.json").write_text('{"job_id": "bad", "history": "not a list"}')
    (folder / "good.json").write_text('{"job_id": "good", "status": "completed"}')
    source = str(tmp_path)

    first = run_etl("sync", "--from", source, "--database-url", database_url)
    second = run_etl("sync", "--from", source, "--database-url", database_url)

    assert first.exit_code == 3, first.stderr
    assert "2 fetched, 1 loaded, 0 unchanged, 1 rejected, 0 failed" in first.stdout
    assert second.exit_code == 3, second.stderr
    assert [row["job_id"] for row in read_table(database_url, "jobs")] == ["good"]
    (rejected,) = read_table(database_url, "rejected_payloads")
    assert rejected["source"] == str(folder / "bad.json")
    assert len(rejected["source"]) > 3000
