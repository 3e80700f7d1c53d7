"""`python -m etl.scheduler`, the container's command, upgrades and syncs in a loop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archive_helpers import fixture_path, read_table
from etl import scheduler

FIXTURES_DIR = fixture_path("documented_example").parent


def scheduler_command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "etl.scheduler", *arguments]


def scheduler_environment(database_url: str, **extra: str) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items()}
    environment.pop("ETL_SYNC_ARGS", None)
    environment.pop("ETL_SYNC_INTERVAL", None)
    return {**environment, "ETL_DATABASE_URL": database_url, **extra}


def test_scheduler_once_stops_after_sync(monkeypatch: pytest.MonkeyPatch) -> None:
    steps: list[list[str]] = []
    exit_codes = iter([0, 3])

    def fake_step(_scheduler: object, arguments: list[str]) -> int:
        steps.append(list(arguments))
        return next(exit_codes)

    monkeypatch.setattr(scheduler._Scheduler, "run_step", fake_step)
    monkeypatch.delenv("ETL_SYNC_ARGS", raising=False)

    code = scheduler.main(["--once", "--", "--status", "running"])

    assert code == 3
    assert steps == [["db", "upgrade"], ["sync", "--status", "running"]]


def test_scheduler_stops_on_failed_upgrade(monkeypatch: pytest.MonkeyPatch) -> None:
    steps: list[list[str]] = []

    def fake_step(_scheduler: object, arguments: list[str]) -> int:
        steps.append(list(arguments))
        return 1

    monkeypatch.setattr(scheduler._Scheduler, "run_step", fake_step)

    code = scheduler.main(["--interval", "5"])

    assert code == 1
    assert steps == [["db", "upgrade"]]


def test_scheduler_stops_on_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    steps: list[list[str]] = []
    exit_codes = iter([0, 2])

    def fake_step(_scheduler: object, arguments: list[str]) -> int:
        steps.append(list(arguments))
        return next(exit_codes)

    monkeypatch.setattr(scheduler._Scheduler, "run_step", fake_step)
    monkeypatch.setenv("ETL_SYNC_ARGS", "--from 'saved results'")

    code = scheduler.main(["--interval", "5", "--", "--job-id", "po_abc123"])

    assert code == 2
    assert steps == [
        ["db", "upgrade"],
        ["sync", "--from", "saved results", "--job-id", "po_abc123"],
    ]


def test_scheduler_continues_after_failed_sync(monkeypatch: pytest.MonkeyPatch) -> None:
    steps: list[list[str]] = []
    exit_codes = iter([0, 1, 3, 0])
    waits: list[float] = []

    def fake_step(_scheduler: object, arguments: list[str]) -> int:
        steps.append(list(arguments))
        return next(exit_codes)

    def fake_wait(self: scheduler._Scheduler, seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 3:
            self.stopping.set()

    monkeypatch.setattr(scheduler._Scheduler, "run_step", fake_step)
    monkeypatch.setattr(scheduler._Scheduler, "wait", fake_wait)
    monkeypatch.delenv("ETL_SYNC_ARGS", raising=False)

    code = scheduler.main(["--interval", "5"])

    assert code == 0
    assert steps == [["db", "upgrade"], ["sync"], ["sync"], ["sync"]]
    assert len(waits) == 3
    assert all(0 < wait <= 5 for wait in waits)


def test_scheduler_stops_on_sigterm(sqlite_url: str, tmp_path: Path) -> None:
    log_path = tmp_path / "scheduler.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            scheduler_command("--", "--from", str(FIXTURES_DIR)),
            env=scheduler_environment(sqlite_url, ETL_SYNC_INTERVAL="3600"),
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            deadline = time.monotonic() + 60
            while "Next sync in" not in log_path.read_text():
                assert process.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.05)
            process.send_signal(signal.SIGTERM)
            returncode = process.wait(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()

    log_text = log_path.read_text()
    job_ids = [row["job_id"] for row in read_table(sqlite_url, "jobs")]
    assert returncode == 0
    assert "Starting etl db upgrade." in log_text
    assert f"Starting etl sync --from {FIXTURES_DIR}." in log_text
    assert "etl sync succeeded (exit code 0)." in log_text
    assert "Received SIGTERM, stopping." in log_text
    assert len(read_table(sqlite_url, "etl_runs")) == 1
    assert job_ids == ["pl_5f0c2a9e81d34b77", "po_7d41e0", "po_abc123"]


def test_scheduler_rejects_bad_quoting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ETL_SYNC_ARGS", "--status 'running")

    code = scheduler.main(["--once"])

    assert code == 2
    assert "ETL_SYNC_ARGS is invalid (No closing quotation)" in capsys.readouterr().err
