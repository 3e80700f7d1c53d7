"""The example queries in sql/queries/ return exactly known rows on both databases.

Each query runs through SQLAlchemy `text()` on SQLite and PostgreSQL, and
through the sqlite3 and psql command-line clients, with the data set of
`analysis_dataset`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from analysis_dataset import DATABASE_PARAMS, PAYLOADS, empty_database, write_payloads
from archive_helpers import run_etl

QUERIES_DIR = Path(__file__).resolve().parent.parent / "sql" / "queries"

# (query file, value of :job_id or None, expected rows in order)
CASES: list[tuple[str, str | None, list[tuple[Any, ...]]]] = [
    (
        "top_jobs_by_improvement",
        None,
        [
            ("job_alpha", "gepa", "succeeded", 1, 4, 0.25, 0.875, 0.625),
            ("job_beta", "mipro", "running", 1, 5, 0.5, 0.375, -0.125),
        ],
    ),
    (
        "reward_regressions",
        None,
        [("job_beta", 2, 0.25, -0.25), ("job_alpha", 3, 0.375, -0.125)],
    ),
    (
        "daily_sensor_volume",
        None,
        [
            ("2026-03-01", "reward", 1, 1),
            ("2026-03-01", "rollout", 1, 1),
            ("2026-03-02", "reward", 2, 2),
            ("2026-03-02", "timing", 1, 1),
            ("2026-03-02", None, 1, 1),
        ],
    ),
    (
        "winning_lever_version",
        "job_alpha",
        [("job_alpha", "alpha_cand", "lever.prompt.alpha", 3, 0.875)],
    ),
    # No best_lever_version: the best candidate's lever version is used.
    (
        "winning_lever_version",
        "job_beta",
        [("job_beta", "beta_base", "lever.prompt.beta", 1, 0.5)],
    ),
    ("winning_lever_version", "job_missing", []),
]
CASE_IDS = [f"{name}-{job_id}" if job_id else name for name, job_id, _ in CASES]


def query_path(name: str) -> Path:
    return QUERIES_DIR / f"{name}.sql"


def as_cli_lines(rows: list[tuple[Any, ...]]) -> list[str]:
    """Format rows as both clients print them with '|' between fields.

    NULL prints as an empty field. Every reward in the data set is a multiple
    of 1/8, so Python, sqlite3 and psql print the same shortest form.
    """
    return [
        "|".join("" if value is None else str(value) for value in row) for row in rows
    ]


@pytest.fixture(scope="module", params=DATABASE_PARAMS)
def dataset_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """URL of a database that contains the known data set, once per database."""
    directory = tmp_path_factory.mktemp(f"queries-{request.param}")
    with empty_database(request.param, directory) as url:
        path = write_payloads(directory / "payloads", PAYLOADS)
        result = run_etl("sync", "--from", str(path), "--database-url", url)
        assert result.exit_code == 0, result.stderr
        yield url


def test_every_query_file_has_a_case() -> None:
    files = {path.stem for path in QUERIES_DIR.glob("*.sql")}

    assert files == {name for name, _, _ in CASES}


@pytest.mark.parametrize("name", sorted({name for name, _, _ in CASES}))
def test_query_starts_with_header_comment(name: str) -> None:
    first_line = query_path(name).read_text("utf-8").splitlines()[0]

    assert first_line.startswith("-- ")
    assert first_line.endswith("?")


@pytest.mark.parametrize(("name", "job_id", "expected"), CASES, ids=CASE_IDS)
def test_query_rows_through_sqlalchemy(
    dataset_url: str, name: str, job_id: str | None, expected: list[tuple[Any, ...]]
) -> None:
    parameters = {} if job_id is None else {"job_id": job_id}
    engine = create_engine(dataset_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            result = connection.execute(
                text(query_path(name).read_text("utf-8")), parameters
            )
            rows = [
                tuple(v.isoformat() if isinstance(v, date) else v for v in row)
                for row in result
            ]
    finally:
        engine.dispose()

    assert rows == expected


def require_client(program: str, package: str) -> str:
    path = shutil.which(program)
    if path is None:
        pytest.fail(f"{program} is not installed; install the Debian package {package}")
    return path


def run_sqlite3(url: str, name: str, job_id: str | None) -> list[str]:
    database = make_url(url).database
    assert database is not None
    command = [require_client("sqlite3", "sqlite3"), "-batch", "-bail", "-noheader"]
    command += ["-separator", "|"]
    if job_id is not None:
        command += ["-cmd", f".parameter set :job_id '{job_id}'"]
    command.append(database)
    completed = subprocess.run(
        command,
        stdin=query_path(name).open("rb"),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout.splitlines()


def run_psql(url: str, name: str, job_id: str | None) -> list[str]:
    parsed = make_url(url)
    command = [require_client("psql", "postgresql-client"), "-X", "-q", "-A", "-t"]
    command += ["-F", "|", "-v", "ON_ERROR_STOP=1"]
    command += ["-h", str(parsed.host), "-p", str(parsed.port or 5432)]
    command += ["-U", str(parsed.username), "-d", str(parsed.database)]
    if job_id is not None:
        command += ["-v", f"job_id='{job_id}'"]
    command += ["-f", str(query_path(name))]
    # The password goes through the environment only, never the command line.
    environment = {
        **os.environ,
        "PGPASSWORD": parsed.password or "",
        "PGTZ": "UTC",
        "PGDATESTYLE": "ISO",
    }
    completed = subprocess.run(
        command,
        env=environment,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout.splitlines()


@pytest.mark.parametrize(("name", "job_id", "expected"), CASES, ids=CASE_IDS)
def test_query_rows_through_cli_client(
    dataset_url: str, name: str, job_id: str | None, expected: list[tuple[Any, ...]]
) -> None:
    if make_url(dataset_url).get_backend_name() == "sqlite":
        lines = run_sqlite3(dataset_url, name, job_id)
    else:
        lines = run_psql(dataset_url, name, job_id)

    assert lines == as_cli_lines(expected)
