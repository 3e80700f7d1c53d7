"""One rule per kind of value, the same on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from archive_helpers import read_table, run_etl


def load(tmp_path: Path, url: str, *bodies: str | bytes, name: str = "in") -> int:
    """Write each body as one line of a JSON Lines file and sync it."""
    folder = tmp_path / name
    folder.mkdir(exist_ok=True)
    lines = [b if isinstance(b, bytes) else b.encode("utf-8") for b in bodies]
    (folder / "payloads.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    return run_etl("sync", "--from", str(folder), "--database-url", url).exit_code


def job(url: str) -> dict[str, Any]:
    (row,) = read_table(url, "jobs")
    return row


def test_nul_and_lone_surrogate(tmp_path: Path, database_url: str) -> None:
    body = (
        '{"job_id": "j\\u0000id", "status": "run\\ud800ning", "best_prompt": '
        '{"messages": [{"role": "sys\\udfff", "content": "a\\u0000b\\ud83dc"}]}}'
    )

    assert load(tmp_path, database_url, body) == 0

    assert job(database_url)["job_id"] == "j\ufffdid"
    assert job(database_url)["status"] == "run\ufffdning"
    (message,) = read_table(database_url, "prompt_messages")
    assert message["role"] == "sys\ufffd"
    assert message["content"] == "a\ufffdb\ufffdc"
    (raw,) = read_table(database_url, "raw_payloads")
    assert bytes(raw["body"]) == body.encode("utf-8")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_rewards(tmp_path: Path, database_url: str, literal: str) -> None:
    body = (
        f'{{"job_id": "j1", "best_reward": {literal}, "total_cost_usd": {literal}, '
        f'"history": [{{"generation": 1, "best_reward": {literal}}}], '
        f'"extra_score": {literal}}}'
    )

    assert load(tmp_path, database_url, body) == 0

    row = job(database_url)
    assert row["best_reward"] is None
    assert row["total_cost_usd"] is None
    assert json.loads(row["extra"]) == {"extra_score": None}
    assert read_table(database_url, "history") == [
        {"job_id": "j1", "generation": 1, "best_reward": None}
    ]
    (raw,) = read_table(database_url, "raw_payloads")
    assert literal.encode() in bytes(raw["body"])


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("best_lever_version", 2**63, "integer 9223372036854775808 is outside"),
        ("best_lever_version", -(2**63) - 1, "is outside the signed 64-bit range"),
        ("generations_completed", 10**30, "is outside the signed 64-bit range"),
        ("best_lever_version", True, "expected an integer, got the boolean true"),
        ("candidates_evaluated", False, "expected an integer, got the boolean false"),
        ("best_reward", True, "expected a number, got the boolean true"),
        ("best_lever_version", 4.5, "expected an integer, got 4.5"),
        ("best_lever_version", "seven", "expected an integer, got the text 'seven'"),
    ],
)
def test_invalid_integers_rejected(
    tmp_path: Path, database_url: str, field: str, value: Any, problem: str
) -> None:
    body = json.dumps({"job_id": "j1", field: value})

    assert load(tmp_path, database_url, body, '{"job_id": "good"}') == 3

    assert [row["job_id"] for row in read_table(database_url, "jobs")] == ["good"]
    (rejected,) = read_table(database_url, "rejected_payloads")
    assert rejected["job_id"] == "j1"
    assert rejected["error_path"] == field
    assert rejected["error"] == f"Invalid value at {field}: {problem}." or (
        problem in rejected["error"]
    )
    assert problem in rejected["error"]
    assert bytes(rejected["body"]) == body.encode()


def test_largest_integers_kept(tmp_path: Path, database_url: str) -> None:
    body = json.dumps(
        {
            "job_id": "j1",
            "best_lever_version": 2**63 - 1,
            "lever_summary": {"lever_count": -(2**63)},
        }
    )

    assert load(tmp_path, database_url, body) == 0

    assert job(database_url)["best_lever_version"] == 2**63 - 1
    assert job(database_url)["lever_count"] == -(2**63)


def test_numeric_strings_and_integral_floats(tmp_path: Path, database_url: str) -> None:
    body = json.dumps(
        {
            "job_id": "j1",
            "best_reward": "0.75",
            "best_lever_version": "7",
            "lever_summary": {"lever_count": 4.0, "latest_version": " 12 "},
            "history": [{"generation": "3", "best_reward": 1}],
        }
    )

    assert load(tmp_path, database_url, body) == 0

    row = job(database_url)
    assert row["best_reward"] == 0.75
    assert row["best_lever_version"] == 7
    assert row["lever_count"] == 4
    assert row["latest_version"] == 12
    assert read_table(database_url, "history") == [
        {"job_id": "j1", "generation": 3, "best_reward": 1.0}
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-03-01T09:15:30+02:00", datetime(2026, 3, 1, 7, 15, 30)),
        ("2026-03-01T01:45:30-05:30", datetime(2026, 3, 1, 7, 15, 30)),
        ("2026-03-01T07:15:30", datetime(2026, 3, 1, 7, 15, 30)),
        ("2026-03-01T07:15:30.123456789Z", datetime(2026, 3, 1, 7, 15, 30, 123456)),
        (1772349330, datetime(2026, 3, 1, 7, 15, 30)),
        (1772349330500, datetime(2026, 3, 1, 7, 15, 30, 500000)),
    ],
)
def test_timestamps_in_utc(
    tmp_path: Path, database_url: str, value: Any, expected: datetime
) -> None:
    body = json.dumps(
        {
            "job_id": "j1",
            "created_at": value,
            "sensor_frames": [{"frame_id": "f", "created_at": value}],
        }
    )

    assert load(tmp_path, database_url, body) == 0

    assert job(database_url)["created_at"] == expected.replace(tzinfo=UTC)
    (frame,) = read_table(database_url, "sensor_frames")
    assert frame["created_at"] == expected.replace(tzinfo=UTC)


def test_repeated_keys_last_wins(tmp_path: Path, database_url: str) -> None:
    body = (
        '{"job_id": "j1", "lever_summary": {"candidate_lever_versions": '
        '{"c1": 1, "c1": 2}}, "sensor_frames": ['
        '{"frame_id": "f", "sensor_count": 1, "trace_ids": ["t1"]}, '
        '{"frame_id": "f", "sensor_count": 2, "trace_ids": ["t2", "t3"]}], '
        '"history": [{"generation": 1, "best_reward": 0.1}, '
        '{"generation": 1, "best_reward": 0.2}]}'
    )

    assert load(tmp_path, database_url, body) == 0

    (candidate,) = read_table(database_url, "candidates")
    assert candidate["lever_version"] == 2
    (frame,) = read_table(database_url, "sensor_frames")
    assert frame["sensor_count"] == 2
    traces = read_table(database_url, "sensor_frame_traces")
    assert [(t["trace_id"], t["position"]) for t in traces] == [("t2", 0), ("t3", 1)]
    assert read_table(database_url, "history") == [
        {"job_id": "j1", "generation": 1, "best_reward": 0.2}
    ]


FULL = {
    "job_id": "j1",
    "best_prompt": {"messages": [{"role": "system", "content": "hi"}]},
    "lever_summary": {"candidate_lever_versions": {"c1": 1}},
    "lever_versions": {"lever": 1},
    "sensor_frames": [{"frame_id": "f1", "sensor_kinds": ["reward"]}],
    "history": [{"generation": 1, "best_reward": 0.1}],
}


@pytest.mark.parametrize("form", ["empty", "null", "missing"])
def test_child_lists_empty_null_missing(
    tmp_path: Path, database_url: str, form: str
) -> None:
    later: dict[str, Any] = {"job_id": "j1", "status": "running"}
    if form == "empty":
        later |= {
            "best_prompt": {"messages": []},
            "lever_summary": {"candidate_lever_versions": {}},
            "lever_versions": {},
            "sensor_frames": [],
            "history": [],
        }
    elif form == "null":
        later |= dict.fromkeys(
            (
                "best_prompt",
                "lever_summary",
                "lever_versions",
                "sensor_frames",
                "history",
            )
        )

    assert load(tmp_path, database_url, json.dumps(FULL), name="first") == 0
    assert load(tmp_path, database_url, json.dumps(later), name="second") == 0

    # Snapshot tables follow the latest payload; accumulating tables keep rows.
    assert read_table(database_url, "prompt_messages") == []
    assert read_table(database_url, "candidates") == []
    assert read_table(database_url, "lever_versions") == []
    assert [f["frame_id"] for f in read_table(database_url, "sensor_frames")] == ["f1"]
    kinds = read_table(database_url, "sensor_frame_kinds")
    assert [k["kind"] for k in kinds] == ["reward"]
    assert [h["generation"] for h in read_table(database_url, "history")] == [1]
    assert job(database_url)["status"] == "running"


def test_unusual_map_keys(tmp_path: Path, database_url: str) -> None:
    keys = ["mipro.prompt.v2", "lever with spaces", "lévier_日本", "k" * 200]
    body = json.dumps(
        {
            "job_id": "j1",
            "lever_versions": {key: n for n, key in enumerate(keys)},
            "sensor_frames": [
                {"frame_id": "f", "lever_versions": {key: 1 for key in keys}}
            ],
            keys[3]: "unknown field with a long name",
        },
        ensure_ascii=False,
    )

    assert load(tmp_path, database_url, body) == 0

    levers = {
        row["lever_id"]: row["version"]
        for row in read_table(database_url, "lever_versions")
    }
    assert levers == {key: n for n, key in enumerate(keys)}
    frame_levers = read_table(database_url, "sensor_frame_lever_versions")
    assert sorted(row["lever_id"] for row in frame_levers) == sorted(keys)
    assert json.loads(job(database_url)["extra"]) == {
        keys[3]: "unknown field with a long name"
    }


def test_multi_megabyte_prompt(tmp_path: Path, database_url: str) -> None:
    content = ("Résumé 🚀 " * 400_000)[:3_500_000]
    body = json.dumps(
        {"job_id": "j1", "best_prompt": {"messages": [{"content": content}]}},
        ensure_ascii=False,
    )

    assert load(tmp_path, database_url, body) == 0

    (message,) = read_table(database_url, "prompt_messages")
    assert message["content"] == content
    assert len(message["content"]) == 3_500_000


def test_sqlite_timestamps_one_text_form(tmp_path: Path, sqlite_url: str) -> None:
    import re
    import sqlite3

    from etl.load import schema
    from etl.load.schema import UtcDateTime
    from standin_api import StandinApi, run_standin

    body = json.dumps(
        {
            "job_id": "j1",
            "status": "running",
            "created_at": "2026-03-01T09:15:30+02:00",
            "sensor_frames": [{"frame_id": "f", "created_at": 1772349330}],
        }
    )
    load(tmp_path, sqlite_url, body)
    api = StandinApi(api_keys="sk_test_times")
    api.add_job("j1", body.encode())
    with run_standin(api) as server:
        env = {"SYNTH_API_KEY": "sk_test_times", "SYNTH_BACKEND_URL": server.url}
        run_etl("sync", "--job-id", "j1", "--database-url", sqlite_url, env=env)
    run_etl("replay", "--database-url", sqlite_url)

    pattern = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}")
    connection = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))
    checked = 0
    for table in schema.metadata.sorted_tables:
        for column in table.columns:
            if not isinstance(column.type, UtcDateTime):
                continue
            query = f"SELECT {column.name} FROM {table.name}"
            for (value,) in connection.execute(query):
                if value is not None:
                    checked += 1
                    assert pattern.fullmatch(value), (table.name, column.name, value)
    connection.close()
    assert checked >= 10


def test_huge_rewards_stored_as_null(tmp_path: Path, database_url: str) -> None:
    body = json.dumps(
        {
            "job_id": "j1",
            "best_reward": 2e15,
            "history": [
                {"generation": 1, "best_reward": 1e308},
                {"generation": 2, "best_reward": -1e308},
                {"generation": 3, "best_reward": 1e15},
            ],
        }
    )

    assert load(tmp_path, database_url, body) == 0

    assert job(database_url)["best_reward"] is None
    rewards = [row["best_reward"] for row in read_table(database_url, "history")]
    assert rewards == [None, None, 1e15]
    engine = create_engine(database_url, poolclass=NullPool)
    with engine.connect() as connection:
        summary = connection.execute(text("SELECT * FROM job_summary")).all()
    engine.dispose()
    assert len(summary) == 1


LONG_ID = "x" * 201


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        ({"job_id": "j" * 10_000}, "job_id"),
        ({"sensor_frames": [{"frame_id": LONG_ID}]}, "sensor_frames.0.frame_id"),
        (
            {"sensor_frames": [{"frame_id": "f", "trace_ids": ["t", LONG_ID]}]},
            "sensor_frames.0.trace_ids.1",
        ),
        (
            {"sensor_frames": [{"frame_id": "f", "sensor_kinds": [LONG_ID]}]},
            "sensor_frames.0.sensor_kinds.0",
        ),
        (
            {"sensor_frames": [{"frame_id": "f", "lever_versions": {LONG_ID: 1}}]},
            f"sensor_frames.0.lever_versions.{LONG_ID}.[key]",
        ),
        ({"lever_versions": {LONG_ID: 1}}, f"lever_versions.{LONG_ID}.[key]"),
        (
            {"lever_summary": {"prompt_lever_id": LONG_ID}},
            "lever_summary.prompt_lever_id",
        ),
        (
            {"best_prompt": {"candidate_id": LONG_ID}},
            "best_prompt.candidate_id",
        ),
    ],
)
def test_long_ids_rejected(
    tmp_path: Path, database_url: str, payload: dict[str, Any], path: str
) -> None:
    body = json.dumps({"job_id": "j1"} | payload)

    assert load(tmp_path, database_url, body, '{"job_id": "good"}') == 3

    assert [row["job_id"] for row in read_table(database_url, "jobs")] == ["good"]
    (rejected,) = read_table(database_url, "rejected_payloads")
    assert rejected["error_path"] == path
    assert "at most 200 characters" in rejected["error"]
    assert bytes(rejected["body"]) == body.encode()


def test_longest_ids_kept(tmp_path: Path, database_url: str) -> None:
    # Four UTF-8 bytes a character, so the frame's lever key is three 800-byte ids.
    job_id, frame_id, lever_id = ("\U0001f600" * 199 + mark for mark in "jfl")
    body = json.dumps(
        {
            "job_id": job_id,
            "lever_versions": {lever_id: 2},
            "sensor_frames": [
                {
                    "frame_id": frame_id,
                    "sensor_kinds": [lever_id],
                    "trace_ids": [lever_id],
                    "lever_versions": {lever_id: 2},
                }
            ],
        }
    )

    assert load(tmp_path, database_url, body) == 0

    (row,) = read_table(database_url, "sensor_frame_lever_versions")
    assert (row["job_id"], row["frame_id"], row["lever_id"]) == (
        job_id,
        frame_id,
        lever_id,
    )
    assert row["version"] == 2
    assert len(read_table(database_url, "sensor_frame_traces")) == 1
