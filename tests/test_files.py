"""Saved results in every file form load, and unreadable ones are rejected."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from archive_helpers import fixture_path, read_table, run_etl
from etl.errors import SourceError
from etl.extract import read_payloads


def payload(job_id: str, reward: float = 0.5) -> dict[str, object]:
    return {"job_id": job_id, "status": "succeeded", "best_reward": reward}


def write_gzip(path: Path, data: bytes) -> None:
    with gzip.GzipFile(path, "wb", mtime=0) as stream:
        stream.write(data)


def test_json_list_split_verbatim(tmp_path: Path) -> None:
    text = '[\n  {"job_id": "a",  "status": "running"},\n  {"job_id":"b"}\n]\n'
    path = tmp_path / "list.json"
    path.write_text(text, "utf-8")

    payloads = list(read_payloads(path))

    assert [p.body for p in payloads] == [
        b'{"job_id": "a",  "status": "running"}',
        b'{"job_id":"b"}',
    ]
    assert [p.source for p in payloads] == [f"{path}[0]", f"{path}[1]"]


def test_jsonl_lines_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "jobs.ndjson"
    path.write_bytes(b'{"job_id": "a"}\r\n\n{"job_id": "b"}\n')

    payloads = list(read_payloads(path))

    assert [p.body for p in payloads] == [b'{"job_id": "a"}', b'{"job_id": "b"}']
    assert [p.source for p in payloads] == [f"{path}:1", f"{path}:3"]


def test_directory_read_in_sorted_order(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "two.jsonl").write_text(json.dumps(payload("j2")) + "\n")
    (tmp_path / "a.json").write_text(json.dumps(payload("j1")))
    write_gzip(tmp_path / "c.json.gz", json.dumps([payload("j3")]).encode())
    write_gzip(tmp_path / "d.jsonl.gz", (json.dumps(payload("j4")) + "\n").encode())
    (tmp_path / "notes.txt").write_text("not a results file")

    job_ids = [json.loads(p.body)["job_id"] for p in read_payloads(tmp_path)]

    assert job_ids == ["j1", "j2", "j3", "j4"]


def test_every_form_loads(tmp_path: Path, database_url: str) -> None:
    folder = tmp_path / "input"
    folder.mkdir()
    (folder / "one.json").write_text(json.dumps(payload("j1")))
    (folder / "list.json").write_text(json.dumps([payload("j2"), payload("j3")]))
    (folder / "lines.jsonl").write_text(json.dumps(payload("j4")) + "\n")
    (folder / "lines.ndjson").write_text(json.dumps(payload("j5")) + "\n")
    write_gzip(folder / "one.json.gz", json.dumps(payload("j6")).encode())
    write_gzip(folder / "lines.jsonl.gz", (json.dumps(payload("j7")) + "\n").encode())
    write_gzip(folder / "lines.ndjson.gz", (json.dumps(payload("j8")) + "\n").encode())

    result = run_etl("sync", "--from", str(folder), "--database-url", database_url)

    assert result.exit_code == 0
    assert "8 fetched, 8 loaded, 0 unchanged, 0 rejected, 0 failed" in result.stdout
    jobs = read_table(database_url, "jobs")
    assert [job["job_id"] for job in jobs] == [f"j{n}" for n in range(1, 9)]


def test_bad_files_rejected_rest_loads(tmp_path: Path, database_url: str) -> None:
    folder = tmp_path / "input"
    folder.mkdir()
    (folder / "good.json").write_bytes(fixture_path("documented_example").read_bytes())
    (folder / "truncated.json").write_text('{"job_id": "cut", "status": "run')
    (folder / "lines.jsonl").write_text('{"job_id": "ok"}\nnot json\n')
    (folder / "corrupt.json.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")

    result = run_etl("sync", "--from", str(folder), "--database-url", database_url)

    assert result.exit_code == 3
    assert "5 fetched, 2 loaded, 0 unchanged, 3 rejected, 0 failed" in result.stdout
    assert [job["job_id"] for job in read_table(database_url, "jobs")] == [
        "ok",
        "po_abc123",
    ]
    rejected = {
        row["source"]: row for row in read_table(database_url, "rejected_payloads")
    }
    assert set(rejected) == {
        str(folder / "corrupt.json.gz"),
        str(folder / "lines.jsonl:2"),
        str(folder / "truncated.json"),
    }
    truncated = rejected[str(folder / "truncated.json")]
    assert bytes(truncated["body"]) == b'{"job_id": "cut", "status": "run'
    assert truncated["error"].startswith("The body is not valid JSON")
    assert bytes(rejected[str(folder / "lines.jsonl:2")]["body"]) == b"not json"
    corrupt = rejected[str(folder / "corrupt.json.gz")]
    assert bytes(corrupt["body"]) == b"\x1f\x8b\x08\x00garbage"
    assert "gzip stream" in corrupt["error"]
    assert "corrupt or truncated" in corrupt["error"]


def test_rejections_not_duplicated_on_rerun(tmp_path: Path, sqlite_url: str) -> None:
    (tmp_path / "bad.json").write_text("[1]")

    run_etl("sync", "--from", str(tmp_path), "--database-url", sqlite_url)
    again = run_etl("sync", "--from", str(tmp_path), "--database-url", sqlite_url)

    assert again.exit_code == 3
    assert len(read_table(sqlite_url, "rejected_payloads")) == 1


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist; check the --from path"):
        list(read_payloads(tmp_path / "absent"))


def test_unsupported_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "jobs.csv"
    path.write_text("job_id\n")

    with pytest.raises(SourceError, match="is not a results file"):
        list(read_payloads(path))
