"""Exit codes and messages of the `etl` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from archive_helpers import fixture_path, run_etl


def test_listing_needs_api_key(sqlite_url: str) -> None:
    env = {"SYNTH_API_KEY": "", "SYNTH_API_KEY_FILE": ""}

    result = run_etl("sync", "--database-url", sqlite_url, env=env)

    assert result.exit_code == 2
    assert result.stderr.startswith("error: No Synth API key is set.")


def test_from_rejects_job_options(sqlite_url: str) -> None:
    for option in (
        ["--job-id", "j1"],
        ["--full"],
        ["--status", "running"],
        ["--shard", "1/2"],
    ):
        result = run_etl(
            "sync", "--from", "x.json", *option, "--database-url", sqlite_url
        )

        assert result.exit_code == 2, option
        assert result.stderr == (
            "error: --from reads saved files, so it takes no --job-id, --full, "
            "--status, --created-after or --shard.\n"
        )


def test_invalid_shard(sqlite_url: str) -> None:
    for text in ("0/4", "5/4", "a/b", "3"):
        result = run_etl("sync", "--shard", text, "--database-url", sqlite_url)

        assert result.exit_code == 2, text
        assert result.stderr == (
            f"error: Invalid shard {text!r}: expected K/N with 1 <= K <= N, "
            "such as 2/4.\n"
        )


def test_invalid_created_after(sqlite_url: str) -> None:
    result = run_etl(
        "sync", "--created-after", "last tuesday", "--database-url", sqlite_url
    )

    assert result.exit_code == 2
    assert result.stderr.startswith(
        "error: Invalid --created-after 'last tuesday': expected an ISO-8601"
    )


def test_missing_api_key_names_variable(sqlite_url: str) -> None:
    env = {"SYNTH_API_KEY": "", "SYNTH_API_KEY_FILE": ""}

    result = run_etl("sync", "--job-id", "j1", "--database-url", sqlite_url, env=env)

    assert result.exit_code == 2
    assert result.stderr.startswith("error: No Synth API key is set. Set SYNTH_API_KEY")


def test_unreadable_key_file(sqlite_url: str, tmp_path: Path) -> None:
    missing = tmp_path / "absent.key"
    env = {"SYNTH_API_KEY": ""}

    result = run_etl(
        "sync",
        "--job-id",
        "j1",
        "--api-key-file",
        str(missing),
        "--database-url",
        sqlite_url,
        env=env,
    )

    assert result.exit_code == 2
    assert f"Cannot read the API key file '{missing}'" in result.stderr


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("sk_live_SECRETPART\nX", "a line break at position 19"),
        ("sk_live_SECRET PART", "a space at position 15"),
        ("sk_live_SECRET\x07PART", "a control character at position 15"),
        ("sk_live_SECRÉTPART", "a character outside ASCII at position 13"),
    ],
)
def test_unsendable_api_key(sqlite_url: str, key: str, problem: str) -> None:
    env = {"SYNTH_API_KEY": key, "SYNTH_BACKEND_URL": "http://127.0.0.1:9"}

    result = run_etl("sync", "--job-id", "j1", "--database-url", sqlite_url, env=env)

    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"error: The API key from SYNTH_API_KEY contains {problem}, which an HTTP "
        "header cannot carry."
    )
    assert "SECRET" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"sk_live_SECRETPART\nsecond line\n", "contains a line break at position 19"),
        (b"\xff\xfesk_live_SECRETPART", "is not UTF-8 text"),
        (b"\xef\xbb\xbfsk_live_SECRETPART\n", "contains a byte order mark"),
        (b"sk_live_SECRET\tPART\n", "contains a tab at position 15"),
        (b"sk_live_SECRETPART" * 4000, "is larger than 64 KB"),
    ],
)
def test_invalid_key_file(
    sqlite_url: str, tmp_path: Path, content: bytes, message: str
) -> None:
    key_file = tmp_path / "synth.key"
    key_file.write_bytes(content)
    env = {"SYNTH_API_KEY": "", "SYNTH_BACKEND_URL": "http://127.0.0.1:9"}

    result = run_etl(
        "sync",
        "--job-id",
        "j1",
        "--api-key-file",
        str(key_file),
        "--database-url",
        sqlite_url,
        env=env,
    )

    assert result.exit_code == 2
    assert f"{key_file}' named by SYNTH_API_KEY_FILE or --api-key-file" in (
        result.stderr
    )
    assert message in result.stderr
    assert "SECRET" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://h/db", "only sqlite and postgresql are supported"),
        ("postgres://u:pw-SECRET@h/db", "write postgresql+psycopg:// instead"),
        ("postgresql+psycopg://u:pw-SECRET@h:x/db", "port that is not a number"),
    ],
)
def test_invalid_database_url(url: str, message: str) -> None:
    result = run_etl("sync", "--from", "x.json", "--database-url", url)

    assert result.exit_code == 2
    assert message in result.stderr
    assert "SECRET" not in result.stderr + result.stdout


def test_from_path_not_a_file(sqlite_url: str, tmp_path: Path) -> None:
    link = tmp_path / "zero.json"
    link.symlink_to("/dev/zero")

    result = run_etl("sync", "--from", str(link), "--database-url", sqlite_url)

    assert result.exit_code == 1
    assert f"'{link}' is neither a regular file nor a directory" in result.stderr


def test_invalid_concurrency(sqlite_url: str) -> None:
    result = run_etl(
        "sync", "--from", "x.json", "--concurrency", "0", "--database-url", sqlite_url
    )

    assert result.exit_code == 2
    assert result.stderr == (
        "error: Invalid configuration: ETL_CONCURRENCY (--concurrency): "
        "Input should be greater than or equal to 1.\n"
    )


def test_unreachable_database_masks_password() -> None:
    url = "postgresql+psycopg://etl:hunter2-secret@127.0.0.1:9/etl"

    result = run_etl(
        "sync", "--from", str(fixture_path("gepa_succeeded")), "--database-url", url
    )

    assert result.exit_code == 1
    assert "Cannot use the database postgresql+psycopg://etl:***@127.0.0.1:9/etl" in (
        result.stderr
    )
    assert "Check ETL_DATABASE_URL" in result.stderr
    assert "hunter2-secret" not in result.stderr + result.stdout


def test_missing_from_path(sqlite_url: str, tmp_path: Path) -> None:
    result = run_etl(
        "sync", "--from", str(tmp_path / "nowhere"), "--database-url", sqlite_url
    )

    assert result.exit_code == 1
    assert "does not exist; check the --from path" in result.stderr


def test_summary_and_runs_listing(sqlite_url: str) -> None:
    source = str(fixture_path("mipro_running"))

    sync = run_etl("sync", "--from", source, "--database-url", sqlite_url)
    rows = run_etl("db", "rows", "--database-url", sqlite_url)
    runs = run_etl("runs", "--database-url", sqlite_url)

    assert sync.exit_code == 0
    assert len(sync.stdout.splitlines()) == 1
    assert sync.stdout.endswith(
        "1 fetched, 1 loaded, 0 unchanged, 0 rejected, 0 failed.\n"
    )
    assert rows.exit_code == 0
    lines = rows.stdout.splitlines()
    assert lines[0] == f"Rows in {sqlite_url}:"
    assert lines[1].split() == ["jobs", "1"]
    assert lines[5].split() == ["sensor_frames", "2"]
    assert lines[12].split() == ["etl_runs", "1"]
    assert len(lines) == 13
    assert runs.exit_code == 0
    header, row = runs.stdout.splitlines()
    assert header.split()[:8] == [
        "started_at",
        "status",
        "listed",
        "fetched",
        "unchanged",
        "loaded",
        "rejected",
        "failed",
    ]
    assert row.split()[1:8] == ["succeeded", "0", "1", "0", "1", "0", "0"]


def test_rows_of_missing_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'missing.db'}"

    result = run_etl("db", "rows", "--database-url", url)

    assert result.exit_code == 2
    assert f"The SQLite database {tmp_path / 'missing.db'} does not exist" in (
        result.stderr
    )
    assert not (tmp_path / "missing.db").exists()


def test_console_script_and_module(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = os.environ | {"ETL_DATABASE_URL": url}
    source = str(fixture_path("documented_example"))
    script = Path(sys.executable).with_name("etl")

    by_script = subprocess.run(
        [str(script), "sync", "--from", source],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    by_module = subprocess.run(
        [sys.executable, "-m", "etl", "sync", "--from", source],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )

    assert by_script.returncode == 0, by_script.stderr
    assert "1 fetched, 1 loaded" in by_script.stdout
    assert by_module.returncode == 0, by_module.stderr
    assert "1 fetched, 0 loaded, 1 unchanged" in by_module.stdout
    assert "INFO etl.pipeline: Run " in by_module.stderr
