"""Keys and passwords never leak; TLS is verified; hostile ids stay one segment."""

from __future__ import annotations

import http.server
import os
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from archive_helpers import read_table, run_etl
from etl.load import schema
from standin_api import Fault, StandinApi, run_standin

SECRET_KEY = "sk_live_SECRET_7f3a9c1e5b2d"
WRONG_KEY = "sk_live_WRONG_0c8e2a4f6b1d"
RESULTS = "/api/policy-optimization/online/jobs/{}/results"


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "etl", "--log-level", "DEBUG", *args],
        env=os.environ | env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def database_text(url: str) -> str:
    """Return every value of every table as text, bodies included."""
    engine = create_engine(url, poolclass=NullPool)
    parts: list[str] = []
    with engine.connect() as connection:
        for table in schema.metadata.sorted_tables:
            for row in connection.execute(select(table)):
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        parts.append(bytes(value).decode("utf-8", "replace"))
                    else:
                        parts.append(str(value))
    engine.dispose()
    return "\n".join(parts)


def test_key_and_password_never_leak(database_url: str) -> None:
    password = make_url(database_url).password
    api = StandinApi(api_keys=SECRET_KEY)
    api.add_payload({"job_id": "j_ok", "status": "succeeded", "best_reward": 0.5})
    api.add_payload({"job_id": "j_bad", "status": "running"})
    api.add_payload({"job_id": "j_down", "status": "running"})
    api.add_fault(Fault.invalid_json(count=-1), job_id="j_bad")
    api.add_fault(Fault.http_error(503, count=-1), job_id="j_down")
    outputs: list[str] = []
    with run_standin(api) as server:
        env = {
            "SYNTH_BACKEND_URL": server.url,
            "ETL_DATABASE_URL": database_url,
            "ETL_RETRY_MAX_WAIT": "0.01",
            "ETL_MAX_ATTEMPTS": "2",
        }
        runs = [
            run_cli("sync", env=env | {"SYNTH_API_KEY": SECRET_KEY}),
            run_cli("sync", "--full", env=env | {"SYNTH_API_KEY": WRONG_KEY}),
            run_cli("runs", env=env),
            run_cli("rejected", env=env),
            run_cli("db", "current", env=env),
        ]
        seen_keys = {r.header("Authorization") for r in server.requests}
    for result in runs:
        outputs += [result.stdout, result.stderr]

    assert [result.returncode for result in runs] == [3, 1, 0, 0, 0]
    assert seen_keys == {f"Bearer {SECRET_KEY}", f"Bearer {WRONG_KEY}"}
    everything = "\n".join(outputs) + database_text(database_url)
    assert "DEBUG" in everything or "INFO" in everything
    for secret in (SECRET_KEY, WRONG_KEY):
        assert secret not in everything
        assert secret[-12:] not in everything
    if password:
        assert password not in everything


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


class _PayloadHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"job_id": "tls_job", "status": "succeeded", "best_reward": 0.25}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def https_url(certificate: tuple[Path, Path]) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _PayloadHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_untrusted_certificate_stops_run(https_url: str, sqlite_url: str) -> None:
    env = {"SYNTH_API_KEY": SECRET_KEY, "SYNTH_BACKEND_URL": https_url}

    result = run_etl(
        "sync", "--job-id", "tls_job", "--database-url", sqlite_url, env=env
    )

    assert result.exit_code == 1
    message = result.stderr.splitlines()[-1]
    assert message.startswith(f"error: The TLS certificate of {https_url} could not")
    assert "CERTIFICATE_VERIFY_FAILED" in message
    assert message.endswith("Set ETL_CA_BUNDLE to a PEM file of the CA that signed it.")
    assert read_table(sqlite_url, "jobs") == []


def test_ca_bundle_trusts_certificate(
    https_url: str, sqlite_url: str, certificate: tuple[Path, Path]
) -> None:
    env = {
        "SYNTH_API_KEY": SECRET_KEY,
        "SYNTH_BACKEND_URL": https_url,
        "ETL_CA_BUNDLE": str(certificate[0]),
    }

    result = run_etl(
        "sync", "--job-id", "tls_job", "--database-url", sqlite_url, env=env
    )

    assert result.exit_code == 0, result.stderr
    assert [job["job_id"] for job in read_table(sqlite_url, "jobs")] == ["tls_job"]


def test_unreadable_ca_bundle(sqlite_url: str, tmp_path: Path) -> None:
    env = {
        "SYNTH_API_KEY": SECRET_KEY,
        "SYNTH_BACKEND_URL": "https://127.0.0.1:9",
        "ETL_CA_BUNDLE": str(tmp_path / "missing.pem"),
    }

    result = run_etl("sync", "--job-id", "j", "--database-url", sqlite_url, env=env)

    assert result.exit_code == 2
    assert "Cannot load the CA bundle" in result.stderr.splitlines()[-1]


HOSTILE = {
    "../admin": "..%2Fadmin",
    "a/b": "a%2Fb",
    "x?y=1": "x%3Fy%3D1",
    "#frag": "%23frag",
    "with space": "with%20space",
    "naïve-日本": "na%C3%AFve-%E6%97%A5%E6%9C%AC",
    "..": "%2E%2E",
    "%41": "%2541",
}


@pytest.mark.parametrize("style", ["offset", "cursor"])
def test_hostile_listed_ids(style: str, database_url: str) -> None:
    api = StandinApi(api_keys=SECRET_KEY)
    for job_id in HOSTILE:
        api.add_payload({"job_id": job_id, "status": "succeeded"})
    with run_standin(api) as server:
        env = {
            "SYNTH_API_KEY": SECRET_KEY,
            "SYNTH_BACKEND_URL": server.url,
            "ETL_LISTING_STYLE": style,
        }
        result = run_etl("sync", "--database-url", database_url, env=env)
        paths = [r.raw_path for r in server.requests if r.raw_path.endswith("/results")]

    assert result.exit_code == 0, result.stderr
    assert sorted(paths) == sorted(RESULTS.format(s) for s in HOSTILE.values())
    stored = sorted(job["job_id"] for job in read_table(database_url, "jobs"))
    assert stored == sorted(HOSTILE)
