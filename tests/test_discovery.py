"""`etl sync` with no job ids: listing, incremental fetches, lock and shards."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archive_helpers import CliResult, read_table, run_etl
from etl.load import connect, start_run
from etl.load.lock import RunLock
from standin_api import Fault, RunningStandin, StandinApi, run_standin

API_KEY = "sk_test_discovery_0042"
RESULTS = "/api/policy-optimization/online/jobs/{}/results"


def payload(
    job_id: str,
    status: str = "succeeded",
    *,
    created_at: str = "2026-10-01T00:00:00Z",
    frames: int = 1,
    reward: float = 0.5,
) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "status": status,
        "best_reward": reward,
        "created_at": created_at,
        "sensor_frames": [
            {
                "frame_id": f"f{n}",
                "created_at": created_at,
                "sensor_count": 1,
                "sensor_kinds": ["reward"],
            }
            for n in range(frames)
        ],
        "history": [{"generation": 1, "best_reward": reward}],
    }


def standin(**options: Any) -> StandinApi:
    api = StandinApi(api_keys=API_KEY, **options)
    api.add_payload(payload("job_done", created_at="2026-10-03T00:00:00Z"))
    api.add_payload(
        payload("job_running", "running", created_at="2026-10-02T00:00:00Z")
    )
    api.add_payload(payload("job_failed", "failed", created_at="2026-09-01T00:00:00Z"))
    return api


@pytest.fixture
def api() -> StandinApi:
    return standin()


@pytest.fixture
def server(api: StandinApi) -> Iterator[RunningStandin]:
    with run_standin(api) as running:
        yield running


def environment(server: RunningStandin, **extra: str) -> dict[str, str]:
    return {
        "SYNTH_API_KEY": API_KEY,
        "SYNTH_BACKEND_URL": server.url,
        "ETL_RETRY_MAX_WAIT": "0.05",
        "ETL_MAX_ATTEMPTS": "3",
        "ETL_READ_TIMEOUT": "2",
    } | extra


def sync(server: RunningStandin, url: str, *args: str, **extra: str) -> CliResult:
    return run_etl(
        "sync", "--database-url", url, *args, env=environment(server, **extra)
    )


def result_paths(server: RunningStandin) -> list[str]:
    return sorted(
        r.raw_path for r in server.requests if r.raw_path.endswith("/results")
    )


def job_ids(url: str) -> list[str]:
    return [job["job_id"] for job in read_table(url, "jobs")]


def last_run(url: str) -> dict[str, Any]:
    runs = read_table(url, "etl_runs")
    return max(runs, key=lambda run: run["started_at"])


def counts(run: dict[str, Any]) -> tuple[int, ...]:
    names = ("listed", "fetched", "unchanged", "loaded", "rejected", "failed")
    return tuple(run[name] for name in names)


@pytest.mark.parametrize("envelope", ["array", "jobs", "data", "items"])
def test_offset_listing_envelopes(envelope: str, sqlite_url: str) -> None:
    api = standin(offset_envelope=envelope, max_limit=2, default_limit=2)
    with run_standin(api) as server:
        result = sync(server, sqlite_url)

        listing = [r for r in server.requests if not r.raw_path.endswith("/results")]

    assert result.exit_code == 0, result.stderr
    assert job_ids(sqlite_url) == ["job_done", "job_failed", "job_running"]
    assert [r.params["offset"] for r in listing] == [["0"], ["2"]]
    assert counts(last_run(sqlite_url)) == (3, 3, 0, 3, 0, 0)


@pytest.mark.parametrize("last_page", ["absent", "empty", "null"])
@pytest.mark.parametrize("items_key", ["items", "data"])
def test_cursor_listing(last_page: str, items_key: str, sqlite_url: str) -> None:
    api = standin(
        cursor_items_key=items_key,
        last_page_cursor=last_page,
        max_limit=2,
        default_limit=2,
        id_key="id",
        status_key="state",
    )
    with run_standin(api) as server:
        result = sync(server, sqlite_url, ETL_LISTING_STYLE="cursor")

        listing = [r for r in server.requests if "/offline/jobs" in r.raw_path]

    assert result.exit_code == 0, result.stderr
    assert job_ids(sqlite_url) == ["job_done", "job_failed", "job_running"]
    assert len(listing) == 2
    assert "cursor" not in listing[0].params
    assert "cursor" in listing[1].params


def test_status_filter(server: RunningStandin, sqlite_url: str) -> None:
    result = sync(server, sqlite_url, "--status", "running")

    assert result.exit_code == 0, result.stderr
    assert job_ids(sqlite_url) == ["job_running"]
    assert result_paths(server) == [RESULTS.format("job_running")]


def test_created_after_filter(server: RunningStandin, sqlite_url: str) -> None:
    result = sync(server, sqlite_url, "--created-after", "2026-10-01T12:00:00+02:00")

    assert result.exit_code == 0, result.stderr
    assert job_ids(sqlite_url) == ["job_done", "job_running"]


def test_second_run_fetches_unfinished_only(
    server: RunningStandin, database_url: str
) -> None:
    first = sync(server, database_url)
    server.api.request_log.clear()

    second = sync(server, database_url)

    assert first.exit_code == 0, first.stderr
    assert second.exit_code == 0, second.stderr
    assert result_paths(server) == [RESULTS.format("job_running")]
    assert counts(last_run(database_url)) == (3, 1, 1, 0, 0, 0)
    assert "3 listed, 1 fetched, 0 loaded, 1 unchanged" in second.stdout


def test_unchanged_payload_moves_fetch_time_only(
    server: RunningStandin, database_url: str
) -> None:
    sync(server, database_url)
    before = {job["job_id"]: job for job in read_table(database_url, "jobs")}

    sync(server, database_url)
    after = {job["job_id"]: job for job in read_table(database_url, "jobs")}

    running_before = before["job_running"]
    running_after = after["job_running"]
    assert running_after["last_fetched_at"] > running_before["last_fetched_at"]
    assert running_after | {"last_fetched_at": None} == running_before | {
        "last_fetched_at": None
    }
    assert after["job_done"] == before["job_done"]


def test_full_fetches_everything(server: RunningStandin, sqlite_url: str) -> None:
    sync(server, sqlite_url)
    server.api.request_log.clear()

    result = sync(server, sqlite_url, "--full")

    assert result.exit_code == 0
    assert len(result_paths(server)) == 3
    assert counts(last_run(sqlite_url)) == (3, 3, 3, 0, 0, 0)


def test_archived_frames_and_history_kept(
    api: StandinApi, server: RunningStandin, database_url: str
) -> None:
    sync(server, database_url)
    later = payload("job_running", "succeeded", frames=0, reward=0.9)
    later["history"] = [{"generation": 2, "best_reward": 0.9}]
    api.add_payload(later, replace=True)

    result = sync(server, database_url)

    assert result.exit_code == 0, result.stderr
    frames = [f for f in read_table(database_url, "sensor_frames")]
    assert [(f["job_id"], f["frame_id"]) for f in frames] == [
        ("job_done", "f0"),
        ("job_failed", "f0"),
        ("job_running", "f0"),
    ]
    history = [
        h for h in read_table(database_url, "history") if h["job_id"] == "job_running"
    ]
    assert [(h["generation"], h["best_reward"]) for h in history] == [
        (1, 0.5),
        (2, 0.9),
    ]
    jobs = {job["job_id"]: job for job in read_table(database_url, "jobs")}
    assert jobs["job_running"]["state"] == "succeeded"
    assert len(read_table(database_url, "raw_payloads")) == 4


def test_overlapping_run_exits_with_lock_code(
    server: RunningStandin, database_url: str
) -> None:
    sync(server, database_url)
    engine = connect(database_url)
    lock = RunLock(engine, "all")
    lock.acquire()
    try:
        from datetime import UTC, datetime

        start_run(
            engine,
            "11111111-2222-3333-4444-555555555555",
            "api:test",
            "all",
            datetime(2026, 12, 1, 10, 0, tzinfo=UTC),
        )
        held = sync(server, database_url)
    finally:
        lock.release()
        engine.dispose()

    after = sync(server, database_url)

    assert held.exit_code == 4
    message = held.stderr.splitlines()[-1]
    assert message.startswith("error: Another etl run holds a lock of ")
    assert (
        "that a run of all jobs needs: run 11111111-2222-3333-4444-555555555555 (pid "
        in message
    )
    assert message.endswith(
        "started at 2026-12-01T10:00:00Z. This run exits; try again after that "
        "run ends."
    )
    assert after.exit_code == 0
    runs = {run["run_id"]: run for run in read_table(database_url, "etl_runs")}
    stale = runs["11111111-2222-3333-4444-555555555555"]
    assert stale["status"] == "failed"
    assert stale["error"].startswith("The run ended without recording its result")


def subprocess_env(server: RunningStandin, url: str, **extra: str) -> dict[str, str]:
    return os.environ | environment(server, **extra) | {"ETL_DATABASE_URL": url}


def test_killed_run_never_blocks(api: StandinApi, database_url: str) -> None:
    api.add_fault(Fault.latency(30_000, count=-1), job_id="job_running")
    with run_standin(api) as server:
        env = subprocess_env(server, database_url, ETL_READ_TIMEOUT="60")
        process = subprocess.Popen(
            [sys.executable, "-m", "etl", "sync", "--concurrency", "1"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while not any(
            r.raw_path == RESULTS.format("job_running") for r in server.requests
        ):
            assert time.monotonic() < deadline, "the run never reached job_running"
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait()
        api.clear_faults()

        result = sync(server, database_url)

    assert result.exit_code == 0, result.stderr
    assert job_ids(database_url) == ["job_done", "job_failed", "job_running"]
    statuses = sorted(run["status"] for run in read_table(database_url, "etl_runs"))
    assert statuses == ["failed", "succeeded"]


def test_four_shards_at_once(tmp_path: Path, postgres_url: str) -> None:
    api = StandinApi(api_keys=API_KEY)
    for number in range(120):
        api.add_payload(payload(f"job_{number:03d}", frames=3))
    with run_standin(api) as server:
        env = subprocess_env(server, postgres_url)
        run_etl("db", "upgrade", "--database-url", postgres_url)
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "etl", "sync", "--shard", f"{k}/4"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for k in range(1, 5)
        ]
        outputs = [process.communicate(timeout=120) for process in processes]

        fetched = result_paths(server)

    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr
    assert len(fetched) == 120
    assert len(set(fetched)) == 120
    assert job_ids(postgres_url) == [f"job_{n:03d}" for n in range(120)]
    assert len(read_table(postgres_url, "raw_payloads")) == 120
    assert len(read_table(postgres_url, "sensor_frames")) == 360
    runs = read_table(postgres_url, "etl_runs")
    assert sorted(run["scope"] for run in runs) == ["1/4", "2/4", "3/4", "4/4"]
    assert sum(run["listed"] for run in runs) == 120
    assert sum(run["loaded"] for run in runs) == 120


FAULTS = {
    "latency": (Fault.latency(300), 0, (3, 3, 0, 3, 0, 0)),
    "rate_limited_seconds": (Fault.rate_limited(retry_after=0), 0, (3, 3, 0, 3, 0, 0)),
    "rate_limited_date": (
        Fault.rate_limited(retry_after=0, http_date=True),
        0,
        (3, 3, 0, 3, 0, 0),
    ),
    "http_500": (Fault.http_error(500, count=2), 0, (3, 3, 0, 3, 0, 0)),
    "http_502": (Fault.http_error(502), 0, (3, 3, 0, 3, 0, 0)),
    "http_503_always": (Fault.http_error(503, count=-1), 3, (3, 2, 0, 2, 0, 1)),
    "slow_body": (Fault.slow_body(4000), 0, (3, 3, 0, 3, 0, 0)),
    "truncated_body": (Fault.truncated_body(), 0, (3, 3, 0, 3, 0, 0)),
    "invalid_json_once": (Fault.invalid_json(), 0, (3, 3, 0, 3, 0, 0)),
    "invalid_json_always": (Fault.invalid_json(count=-1), 3, (3, 3, 0, 2, 1, 0)),
    "not_found": (Fault.not_found(count=-1), 3, (3, 2, 0, 2, 0, 1)),
}


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_fault_kinds(name: str, database_url: str) -> None:
    fault, exit_code, expected = FAULTS[name]
    api = standin()
    api.add_fault(fault, job_id="job_running")
    with run_standin(api) as server:
        result = sync(server, database_url)

    assert result.exit_code == exit_code, result.stderr
    assert counts(last_run(database_url)) == expected
    archived = set(job_ids(database_url))
    assert {"job_done", "job_failed"} <= archived
    assert ("job_running" in archived) == (expected[3] == 3)
    rejected = read_table(database_url, "rejected_payloads")
    assert [row["job_id"] for row in rejected] == (
        ["job_running"] if expected[4] else []
    )


def test_listing_failure_fails_run(api: StandinApi, sqlite_url: str) -> None:
    api.add_listing_fault(Fault.http_error(500, count=-1))
    with run_standin(api) as server:
        result = sync(server, sqlite_url)

    assert result.exit_code == 1
    assert "returned HTTP 500" in result.stderr.splitlines()[-1]
    assert last_run(sqlite_url)["status"] == "failed"


def test_json_log_lines(server: RunningStandin, sqlite_url: str) -> None:
    result = run_etl(
        "--log-format",
        "json",
        "sync",
        "--database-url",
        sqlite_url,
        env=environment(server),
    )

    records = [json.loads(line) for line in result.stderr.splitlines()]
    summaries = [r for r in records if r["message"].startswith("Run ")]
    assert result.exit_code == 0
    assert len(summaries) == 1
    assert summaries[0]["level"] == "INFO"
    assert summaries[0]["logger"] == "etl.pipeline"
    assert "3 listed, 3 fetched, 3 loaded" in summaries[0]["message"]


@pytest.mark.parametrize(
    ("held", "requested", "message"),
    [
        ("all", ["--shard", "1/2"], "that a run of shard 1/2 needs"),
        ("1/2", [], "that a run of all jobs needs"),
        ("2/2", ["--shard", "2/2"], "that a run of shard 2/2 needs"),
    ],
)
def test_shard_and_full_locks_exclude(
    server: RunningStandin,
    database_url: str,
    held: str,
    requested: list[str],
    message: str,
) -> None:
    run_etl("db", "upgrade", "--database-url", database_url)
    engine = connect(database_url)
    lock = RunLock(engine, held)
    lock.acquire()
    try:
        result = sync(server, database_url, *requested)
        other = sync(server, database_url, "--shard", "1/2") if held == "2/2" else None
    finally:
        lock.release()
        engine.dispose()

    assert result.exit_code == 4
    assert message in result.stderr.splitlines()[-1]
    if other is not None:
        assert other.exit_code == 0, other.stderr


def test_concurrent_insert_falls_back_to_upsert(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str
) -> None:
    from etl.load import archive

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.json").write_text(json.dumps(payload("job_x", frames=2)))
    run_etl("sync", "--from", str(folder), "--database-url", database_url)
    later = payload("job_x", frames=3, reward=0.75)
    (folder / "a.json").write_text(json.dumps(later))
    # The job looks new, as if another process archived it after the check.
    monkeypatch.setattr(archive, "_current_versions", lambda connection, ids: {})

    result = run_etl("sync", "--from", str(folder), "--database-url", database_url)

    assert result.exit_code == 0, result.stderr
    (job,) = read_table(database_url, "jobs")
    assert job["best_reward"] == 0.75
    assert len(read_table(database_url, "sensor_frames")) == 3
    assert len(read_table(database_url, "raw_payloads")) == 2


def test_empty_status_rejected(sqlite_url: str) -> None:
    result = run_etl("sync", "--status", "", "--database-url", sqlite_url)

    assert result.exit_code == 2
    assert result.stderr == (
        "error: Invalid --status: it is empty; give a status such as running.\n"
    )


def test_missing_listing_names_setting(sqlite_url: str) -> None:
    api = standin(listing_styles=["offset"])
    with run_standin(api) as server:
        result = sync(server, sqlite_url, ETL_LISTING_STYLE="cursor")

    assert result.exit_code == 1
    message = result.stderr.splitlines()[-1]
    assert "returned HTTP 404" in message
    assert message.endswith(
        "The API has no job listing at /api/v1/offline/jobs; check "
        "ETL_LISTING_STYLE (offset or cursor)."
    )


def test_shards_on_new_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    api = StandinApi(api_keys=API_KEY)
    for number in range(40):
        api.add_payload(payload(f"job_{number:03d}"))
    with run_standin(api) as server:
        env = subprocess_env(server, url)
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "etl", "sync", "--shard", f"{k}/6"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for k in range(1, 7)
        ]
        outputs = [process.communicate(timeout=120) for process in processes]

    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr
    assert len(read_table(url, "jobs")) == 40


def test_replay_blocked_by_shard_run(server: RunningStandin, database_url: str) -> None:
    sync(server, database_url)
    engine = connect(database_url)
    lock = RunLock(engine, "1/2")
    lock.acquire()
    try:
        result = run_etl("replay", "--database-url", database_url)
    finally:
        lock.release()
        engine.dispose()

    assert result.exit_code == 4
    assert "that a run of all jobs needs" in result.stderr.splitlines()[-1]
