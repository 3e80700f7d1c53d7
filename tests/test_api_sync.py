"""`etl sync --job-id` against a real HTTP server on loopback."""

from __future__ import annotations

import asyncio
import hashlib
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive_helpers import (
    FIXTURE_NAMES,
    CliResult,
    fixture_path,
    read_table,
    run_etl,
)
from etl.config import load_settings
from etl.errors import InvalidBodyError
from etl.extract.api import SynthClient
from etl.extract.records import RawPayload
from standin_api import Fault, RunningStandin, StandinApi, run_standin

API_KEY = "sk_test_a1b2c3d4e5f6_recognizable"
RESULTS = "/api/policy-optimization/online/jobs/{}/results"


@pytest.fixture
def api() -> StandinApi:
    standin = StandinApi(api_keys=API_KEY)
    for name in FIXTURE_NAMES:
        standin.add_file(fixture_path(name))
    return standin


@pytest.fixture
def server(api: StandinApi) -> Iterator[RunningStandin]:
    with run_standin(api) as running:
        yield running


def sync(
    server: RunningStandin, database_url: str, *job_ids: str, key: str = API_KEY
) -> CliResult:
    arguments = ["sync", "--database-url", database_url]
    for job_id in job_ids:
        arguments += ["--job-id", job_id]
    env = {
        "SYNTH_API_KEY": key,
        "SYNTH_BACKEND_URL": server.url,
        "ETL_RETRY_MAX_WAIT": "0.05",
        "ETL_MAX_ATTEMPTS": "3",
    }
    return run_etl(*arguments, env=env)


def test_fetches_fixtures_with_bearer(
    server: RunningStandin, database_url: str
) -> None:
    result = sync(server, database_url, "po_abc123", "pl_5f0c2a9e81d34b77", "po_7d41e0")

    assert result.exit_code == 0, result.stderr
    assert "3 fetched, 3 loaded, 0 unchanged, 0 rejected, 0 failed" in result.stdout
    assert sorted(request.raw_path for request in server.requests) == sorted(
        RESULTS.format(job) for job in ("po_abc123", "pl_5f0c2a9e81d34b77", "po_7d41e0")
    )
    for request in server.requests:
        assert request.header("Authorization") == f"Bearer {API_KEY}"
    jobs = read_table(database_url, "jobs")
    assert [job["job_id"] for job in jobs] == [
        "pl_5f0c2a9e81d34b77",
        "po_7d41e0",
        "po_abc123",
    ]
    raw = {row["job_id"]: row for row in read_table(database_url, "raw_payloads")}
    assert (
        bytes(raw["po_abc123"]["body"])
        == fixture_path("documented_example").read_bytes()
    )
    assert raw["po_abc123"]["source"] == server.url + RESULTS.format("po_abc123")


def test_api_and_file_loads_agree(
    server: RunningStandin, tmp_path: Path, database_url: str
) -> None:
    from_api = sync(server, database_url, "po_7d41e0")
    file_url = f"sqlite:///{tmp_path / 'files.db'}"
    run_etl(
        "sync", "--from", str(fixture_path("mipro_running")), "--database-url", file_url
    )

    assert from_api.exit_code == 0
    for table in ("candidates", "sensor_frames", "sensor_frame_traces", "history"):
        assert read_table(database_url, table) == read_table(file_url, table), table


def test_rejected_key_stops_run(server: RunningStandin, database_url: str) -> None:
    result = sync(server, database_url, "po_abc123", key="sk_wrong")

    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].startswith(
        "error: The Synth API rejected the API key with HTTP 401 at "
    )
    assert "Check that the key in SYNTH_API_KEY, or in the file named by" in (
        result.stderr
    )
    assert "sk_wrong" not in result.stderr + result.stdout
    assert read_table(database_url, "jobs") == []
    runs = read_table(database_url, "etl_runs")
    assert [run["status"] for run in runs] == ["failed"]
    assert "HTTP 401" in runs[0]["error"]


def test_forbidden_key_stops_run(api: StandinApi, sqlite_url: str) -> None:
    api_with_forbidden = StandinApi(api_keys=API_KEY, forbidden_keys=["sk_readonly"])
    api_with_forbidden.add_file(fixture_path("documented_example"))
    with run_standin(api_with_forbidden) as running:
        result = sync(running, sqlite_url, "po_abc123", key="sk_readonly")

    assert result.exit_code == 1
    assert "rejected the API key with HTTP 403" in result.stderr


def test_unknown_job_is_partial(server: RunningStandin, database_url: str) -> None:
    result = sync(server, database_url, "po_abc123", "po_missing")

    assert result.exit_code == 3
    assert "2 fetched" not in result.stdout
    assert "1 fetched, 1 loaded, 0 unchanged, 0 rejected, 1 failed" in result.stdout
    assert "Job 'po_missing' was not found (HTTP 404" in result.stderr
    assert [job["job_id"] for job in read_table(database_url, "jobs")] == ["po_abc123"]
    runs = read_table(database_url, "etl_runs")
    assert [(run["status"], run["failed"], run["loaded"]) for run in runs] == [
        ("partial", 1, 1)
    ]


def test_transient_errors_retried(
    api: StandinApi, server: RunningStandin, sqlite_url: str
) -> None:
    api.add_fault(Fault.http_error(503), job_id="po_abc123")
    api.add_fault(Fault.rate_limited(retry_after=0), job_id="po_abc123")
    api.add_fault(Fault.truncated_body(), job_id="po_7d41e0")

    result = sync(server, sqlite_url, "po_abc123", "po_7d41e0")

    assert result.exit_code == 0, result.stderr
    paths = [request.raw_path for request in server.requests]
    assert paths.count(RESULTS.format("po_abc123")) == 3
    assert paths.count(RESULTS.format("po_7d41e0")) == 2
    assert "Retrying in" in result.stderr
    assert len(read_table(sqlite_url, "jobs")) == 2


def test_persistent_invalid_json_rejected(
    api: StandinApi, server: RunningStandin, sqlite_url: str
) -> None:
    api.add_fault(Fault.invalid_json(b'{"job_id": "po_abc123", "sta', count=-1))

    result = sync(server, sqlite_url, "po_abc123")

    assert result.exit_code == 3
    assert "1 fetched, 0 loaded, 0 unchanged, 1 rejected, 0 failed" in result.stdout
    rejected = read_table(sqlite_url, "rejected_payloads")
    assert len(rejected) == 1
    assert rejected[0]["job_id"] == "po_abc123"
    assert bytes(rejected[0]["body"]) == b'{"job_id": "po_abc123", "sta'
    assert rejected[0]["source"] == server.url + RESULTS.format("po_abc123")
    assert len(server.requests) == 3


def fetch_once(server: RunningStandin, archived_sha256: frozenset[str]) -> RawPayload:
    settings = load_settings(backend_url=server.url, max_attempts=1)

    async def fetch() -> RawPayload:
        client = SynthClient(settings, API_KEY, archived_sha256=archived_sha256)
        async with client:
            return await client.fetch_results("po_abc123")

    return asyncio.run(fetch())


def test_archived_body_skips_json_check(
    api: StandinApi, server: RunningStandin
) -> None:
    invalid = b'{"job_id": "po_abc123", "sta'
    api.add_fault(Fault.invalid_json(invalid, count=-1))

    with pytest.raises(InvalidBodyError, match="not valid JSON"):
        fetch_once(server, frozenset({hashlib.sha256(b"other").hexdigest()}))
    payload = fetch_once(server, frozenset({hashlib.sha256(invalid).hexdigest()}))

    assert payload.body == invalid
    assert payload.job_id == "po_abc123"


@pytest.mark.parametrize(
    ("job_id", "segment"),
    [
        ("../admin", "..%2Fadmin"),
        ("a/b", "a%2Fb"),
        ("x?y=1", "x%3Fy%3D1"),
        ("#frag", "%23frag"),
        ("two words", "two%20words"),
        ("café", "caf%C3%A9"),
        ("..", "%2E%2E"),
    ],
)
def test_job_id_sent_as_one_segment(
    api: StandinApi, server: RunningStandin, sqlite_url: str, job_id: str, segment: str
) -> None:
    api.add_payload({"job_id": job_id, "status": "succeeded", "best_reward": 0.5})

    result = sync(server, sqlite_url, job_id)

    assert result.exit_code == 0, result.stderr
    assert [request.raw_path for request in server.requests] == [
        RESULTS.format(segment)
    ]
    assert [job["job_id"] for job in read_table(sqlite_url, "jobs")] == [job_id]


def test_unreachable_host(sqlite_url: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        "SYNTH_API_KEY": API_KEY,
        "SYNTH_BACKEND_URL": f"http://127.0.0.1:{port}",
        "ETL_RETRY_MAX_WAIT": "0.01",
        "ETL_MAX_ATTEMPTS": "2",
    }

    result = run_etl("sync", "--job-id", "j1", "--database-url", sqlite_url, env=env)

    assert result.exit_code == 1
    last_line = result.stderr.splitlines()[-1]
    assert last_line.startswith(f"error: Cannot connect to http://127.0.0.1:{port}")
    assert last_line.endswith("Check SYNTH_BACKEND_URL and the network.")
    assert API_KEY not in result.stderr


def test_long_listed_id_not_fetched(
    api: StandinApi, server: RunningStandin, sqlite_url: str
) -> None:
    long_id = "po_" + "x" * 298
    api.add_job(long_id, b'{"job_id": "' + long_id.encode() + b'"}')

    result = sync(server, sqlite_url, "po_abc123", long_id)

    assert result.exit_code == 3
    assert "2 listed, 1 fetched, 1 loaded, 0 unchanged, 0 rejected, 1 failed" in (
        result.stdout
    )
    assert "The job id is 301 characters long, over the 200" in result.stderr
    assert [request.raw_path for request in server.requests] == [
        RESULTS.format("po_abc123")
    ]
    assert [row["job_id"] for row in read_table(sqlite_url, "jobs")] == ["po_abc123"]
