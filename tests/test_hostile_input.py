"""Broken and hostile input: each case ends in a defined result, never a crash."""

from __future__ import annotations

import gzip
import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from archive_helpers import read_table, run_etl
from etl.extract.files import read_file
from standin_api import Fault, StandinApi, run_standin

API_KEY = "sk_test_hostile_77"


def sync_files(folder: Path, url: str) -> tuple[int, str, str]:
    result = run_etl("sync", "--from", str(folder), "--database-url", url)
    return result.exit_code, result.stdout, result.stderr


def rejected_errors(url: str) -> list[str]:
    return [row["error"] for row in read_table(url, "rejected_payloads")]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (
            '{"job_id": "t1", "created_at": "0001-01-01T00:00:00+05:00"}',
            "Invalid value at created_at: ",
        ),
        (
            '{"job_id": "t2", "created_at": "9999-12-31T23:59:59-05:00"}',
            "Invalid value at created_at: ",
        ),
        ('{"job_id": "t3", "lever_count": ' + "9" * 5000 + "}", "invalid JSON value"),
        (
            '{"job_id": "t4", "x": ' + "[" * 600 + '"\\u0000"' + "]" * 600 + "}",
            "nests JSON too deeply",
        ),
    ],
)
def test_payloads_that_used_to_crash(
    tmp_path: Path, database_url: str, body: str, problem: str
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "bad.jsonl").write_text(body + "\n" + '{"job_id": "good"}\n')

    exit_code, stdout, _ = sync_files(folder, database_url)

    assert exit_code == 3
    assert "2 fetched, 1 loaded, 0 unchanged, 1 rejected, 0 failed" in stdout
    assert [job["job_id"] for job in read_table(database_url, "jobs")] == ["good"]
    (error,) = rejected_errors(database_url)
    assert problem in error


def test_bad_array_element_alone_rejected(tmp_path: Path, sqlite_url: str) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "list.json").write_bytes(
        b'[{"job_id": "a1"}, {"job_id": "a2", "error_message": "\xff"}, '
        b'{"job_id": "a3"}]'
    )

    exit_code, _, _ = sync_files(folder, sqlite_url)

    assert exit_code == 3
    assert [job["job_id"] for job in read_table(sqlite_url, "jobs")] == ["a1", "a3"]
    (rejected,) = read_table(sqlite_url, "rejected_payloads")
    assert rejected["source"] == f"{folder / 'list.json'}[1]"
    assert bytes(rejected["body"]) == b'{"job_id": "a2", "error_message": "\xff"}'
    assert rejected["error"].startswith("The body is not valid UTF-8")


def test_undecodable_file_name(tmp_path: Path, sqlite_url: str) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    name = os.fsencode(folder) + b"/caf\xe9.json"
    with open(name, "wb") as stream:
        stream.write(b'{"job_id": "named"}')

    exit_code, _, _ = sync_files(folder, sqlite_url)

    assert exit_code == 0
    (raw,) = read_table(sqlite_url, "raw_payloads")
    assert raw["source"] == f"{folder}/caf\ufffd.json"


def test_unreadable_file_rejected(tmp_path: Path) -> None:
    # Root reads files whatever their mode, so a directory serves as a
    # file that cannot be opened.
    path = tmp_path / "locked.json"
    path.mkdir()

    (payload,) = list(read_file(path))

    assert payload.body == b""
    assert payload.source == str(path)
    assert payload.read_error is not None
    assert payload.read_error.startswith(f"Cannot read '{path}': Is a directory.")


def test_older_file_never_rolls_back(tmp_path: Path, database_url: str) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    newer = folder / "a_latest.json"
    older = folder / "b_older.json"
    newer.write_text(
        json.dumps(
            {
                "job_id": "po_x",
                "status": "succeeded",
                "best_reward": 0.9,
                "history": [{"generation": 1}, {"generation": 2}],
            }
        )
    )
    older.write_text(
        json.dumps(
            {
                "job_id": "po_x",
                "status": "running",
                "best_reward": 0.5,
                "history": [{"generation": 1, "best_reward": 0.1}],
            }
        )
    )
    os.utime(newer, (1767312000, 1767312000))
    os.utime(older, (1767225600, 1767225600))

    first = sync_files(folder, database_url)
    second = sync_files(folder, database_url)

    assert first[0] == 0
    assert "2 fetched, 1 loaded, 1 unchanged" in first[1]
    (job,) = read_table(database_url, "jobs")
    assert (job["status"], job["best_reward"]) == ("succeeded", 0.9)
    assert job["first_seen_at"] == job["last_changed_at"]
    assert [h["best_reward"] for h in read_table(database_url, "history")] == [
        None,
        None,
    ]
    raw = read_table(database_url, "raw_payloads")
    assert sorted(row["version"] for row in raw) == [1, 2]
    assert "2 fetched, 0 loaded, 2 unchanged" in second[1]
    replay = run_etl("replay", "--database-url", database_url)
    assert replay.exit_code == 0
    assert read_table(database_url, "jobs") == [job]


def api_sync(server_url: str, url: str, *args: str, **extra: str) -> tuple[int, str]:
    env = {
        "SYNTH_API_KEY": API_KEY,
        "SYNTH_BACKEND_URL": server_url,
        "ETL_RETRY_MAX_WAIT": "0.01",
        "ETL_MAX_ATTEMPTS": "2",
    } | extra
    result = run_etl("sync", "--database-url", url, *args, env=env)
    return result.exit_code, result.stdout + result.stderr


def test_fetch_errors_never_hang(sqlite_url: str) -> None:
    api = StandinApi(api_keys=API_KEY, gzip_responses=True)
    api.add_job("gz_bad", b'{"job_id": "gz_bad"}')
    api.add_job("big_int", b'{"job_id": "big_int", "n": ' + b"9" * 5000 + b"}")
    api.add_job("other", b'{"job_id": "someone_else", "status": "running"}')
    api.add_job("ok", b'{"job_id": "ok", "status": "succeeded"}')
    with run_standin(api) as server:
        api.add_fault(
            Fault.invalid_json(b"\x1f\x8b\x08\x00 broken gzip", count=-1),
            job_id="gz_bad",
        )
        code, output = api_sync(
            server.url,
            sqlite_url,
            *("--job-id", "gz_bad", "--job-id", "big_int"),
            *("--job-id", "other", "--job-id", "ok"),
        )

    assert code == 3
    assert "4 fetched, 1 loaded, 0 unchanged, 3 rejected, 0 failed" in output
    assert [job["job_id"] for job in read_table(sqlite_url, "jobs")] == ["ok"]
    errors = {
        row["job_id"]: row["error"]
        for row in read_table(sqlite_url, "rejected_payloads")
    }
    assert errors["other"] == (
        "The API returned the payload of job 'someone_else' for a request of job "
        "'other'; it is not archived under either id."
    )
    assert "Exceeds the limit" in errors["big_int"]


def test_every_5xx_retried(sqlite_url: str) -> None:
    api = StandinApi(api_keys=API_KEY)
    for status in (501, 505, 520, 599):
        api.add_payload({"job_id": f"j{status}", "status": "succeeded"})
        api.add_fault(Fault.http_error(status), job_id=f"j{status}")
    with run_standin(api) as server:
        code, output = api_sync(
            server.url,
            sqlite_url,
            *("--job-id", "j501", "--job-id", "j505"),
            *("--job-id", "j520", "--job-id", "j599"),
        )

    assert code == 0, output
    assert len(read_table(sqlite_url, "jobs")) == 4


class _Redirect(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(302)
        self.send_header("Location", "https://elsewhere.invalid/login")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


def test_redirect_named(sqlite_url: str) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Redirect)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        code, output = api_sync(url, sqlite_url, "--job-id", "j1")
    finally:
        server.shutdown()
        server.server_close()

    assert code == 3
    assert (
        "returned a redirect (HTTP 302) to https://elsewhere.invalid/login. "
        "Redirects are not followed; check SYNTH_BACKEND_URL." in output
    )


def test_whole_request_deadline(sqlite_url: str) -> None:
    api = StandinApi(api_keys=API_KEY)
    api.add_payload({"job_id": "slow", "status": "succeeded", "pad": "x" * 200})
    api.add_fault(Fault.slow_body(3000, chunks=30, count=-1), job_id="slow")
    with run_standin(api) as server:
        code, output = api_sync(
            server.url,
            sqlite_url,
            "--job-id",
            "slow",
            ETL_REQUEST_TIMEOUT="0.5",
            ETL_READ_TIMEOUT="2",
        )

    assert code == 3
    assert (
        "took longer than 0.5 s in all; ETL_REQUEST_TIMEOUT sets this limit" in output
    )


def test_body_size_limit(sqlite_url: str) -> None:
    api = StandinApi(api_keys=API_KEY)
    api.add_payload({"job_id": "huge", "pad": "x" * 200_000})
    with run_standin(api) as server:
        code, output = api_sync(
            server.url, sqlite_url, "--job-id", "huge", ETL_MAX_BODY_MB="0.1"
        )

    assert code == 3
    assert "returned a body larger than 0.1 MB; raise ETL_MAX_BODY_MB" in output
    assert read_table(sqlite_url, "jobs") == []


@pytest.mark.parametrize(
    ("job_id", "message"),
    [
        ("", "Invalid --job-id: it is empty; give the id of a job."),
        ("   ", "Invalid --job-id: it is empty; give the id of a job."),
    ],
)
def test_invalid_job_id_option(sqlite_url: str, job_id: str, message: str) -> None:
    result = run_etl("sync", "--job-id", job_id, "--database-url", sqlite_url)

    assert result.exit_code == 2
    assert result.stderr == f"error: {message}\n"


def test_non_utf8_job_id_option(tmp_path: Path) -> None:
    env = os.environ | {"ETL_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    result = subprocess.run(
        [sys.executable, "-m", "etl", "sync", "--job-id", os.fsdecode(b"bad\xffid")],
        env=env,
        capture_output=True,
        check=False,
        timeout=60,
    )

    assert result.returncode == 2
    assert b"it is not valid UTF-8 text" in result.stderr


def test_backend_url_with_credentials(sqlite_url: str) -> None:
    result = run_etl(
        "sync",
        "--job-id",
        "j1",
        "--backend-url",
        "http://user:s3cretpw@127.0.0.1:9",
        "--database-url",
        sqlite_url,
        env={"SYNTH_API_KEY": API_KEY},
    )

    assert result.exit_code == 2
    assert "must not contain a user name or password" in result.stderr
    assert "s3cretpw" not in result.stderr


def test_rejected_row_names_last_run(tmp_path: Path, sqlite_url: str) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "bad.json").write_text("[1]")

    sync_files(folder, sqlite_url)
    sync_files(folder, sqlite_url)

    (rejected,) = read_table(sqlite_url, "rejected_payloads")
    runs = sorted(read_table(sqlite_url, "etl_runs"), key=lambda run: run["started_at"])
    assert rejected["run_id"] == runs[-1]["run_id"]


def test_concurrent_first_runs_on_empty_postgres(
    tmp_path: Path, postgres_url: str
) -> None:
    examples = Path(__file__).resolve().parent.parent / "examples"
    env = os.environ | {"ETL_DATABASE_URL": postgres_url}
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "etl", "sync", "--from", str(examples)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = [
        (p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in processes
    ]

    codes = sorted(code for code, _ in results)
    assert set(codes) <= {0, 4}, results
    assert 0 in codes
    for code, stderr in results:
        if code == 4:
            assert "Another etl run holds a lock" in stderr
    assert len(read_table(postgres_url, "jobs")) == 69


def test_gzip_file_not_gzip(tmp_path: Path, sqlite_url: str) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "plain.json.gz").write_text('{"job_id": "x"}')
    with gzip.open(folder / "good.jsonl.gz", "wt") as stream:
        stream.write('{"job_id": "y"}\n')

    exit_code, _, _ = sync_files(folder, sqlite_url)

    assert exit_code == 3
    assert [job["job_id"] for job in read_table(sqlite_url, "jobs")] == ["y"]
    (error,) = rejected_errors(sqlite_url)
    assert "is corrupt or truncated" in error


class _CorruptGzip(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"\x1f\x8b\x08\x00 this is not a gzip stream"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


def test_corrupt_content_encoding_fails_job(sqlite_url: str) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CorruptGzip)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        code, output = api_sync(url, sqlite_url, "--job-id", "j1", "--job-id", "j2")
    finally:
        server.shutdown()
        server.server_close()

    assert code == 3
    assert "0 fetched, 0 loaded, 0 unchanged, 0 rejected, 2 failed" in output
    assert "returned a body that could not be decoded" in output
