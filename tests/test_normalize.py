"""The normalizer accepts every payload variant and applies one rule per value."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from etl.errors import PayloadError
from etl.normalize import normalize_body, normalize_payload, normalize_status


def body(payload: Any) -> bytes:
    return json.dumps(payload).encode("utf-8")


def test_best_score_replaces_best_reward() -> None:
    job = normalize_payload({"job_id": "j1", "status": "succeeded", "best_score": 0.5})

    assert job.job["best_reward"] == 0.5


def test_best_reward_wins_over_best_score() -> None:
    job = normalize_payload({"job_id": "j1", "best_reward": 0.7, "best_score": 0.5})

    assert job.job["best_reward"] == 0.7


def test_best_candidate_with_messages() -> None:
    job = normalize_payload(
        {
            "job_id": "j1",
            "best_candidate": {
                "candidate_id": "c9",
                "messages": [{"role": "system", "content": "Be brief."}],
                "score": 0.66,
            },
        }
    )

    assert job.job["best_candidate_id"] == "c9"
    assert job.job["best_prompt_reward"] == 0.66
    assert [row["content"] for row in job.as_dicts("prompt_messages")] == ["Be brief."]
    assert [row["candidate_id"] for row in job.as_dicts("candidates")] == ["c9"]


@pytest.mark.parametrize("container", ["result", "metadata", "job_metadata"])
def test_fields_under_container(container: str) -> None:
    job = normalize_payload(
        {
            "job_id": "j1",
            "status": "running",
            container: {
                "best_reward": 0.42,
                "history": [{"generation": 1, "best_reward": 0.42}],
                "created_at": "2026-01-02T03:04:05Z",
            },
        }
    )

    assert job.job["best_reward"] == 0.42
    assert job.job["created_at"] == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert job.as_dicts("history") == [
        {"job_id": "j1", "generation": 1, "best_reward": 0.42}
    ]
    assert job.job["extra"] is None


def test_first_non_null_container_wins() -> None:
    job = normalize_payload(
        {
            "job_id": "j1",
            "best_reward": None,
            "result": {"best_reward": None},
            "metadata": {"best_reward": 0.3},
            "job_metadata": {"best_reward": 0.9},
        }
    )

    assert job.job["best_reward"] == 0.3


def test_numeric_string_versions() -> None:
    job = normalize_payload(
        {
            "job_id": "j1",
            "lever_summary": {
                "candidate_lever_versions": {"a": "7", "b": 3, "c": 4.0},
                "latest_version": "7",
            },
            "lever_versions": {"lever": "2"},
            "best_lever_version": "7",
        }
    )

    versions = {
        row["candidate_id"]: row["lever_version"] for row in job.as_dicts("candidates")
    }
    assert versions == {"a": 7, "b": 3, "c": 4}
    assert job.job["latest_version"] == 7
    assert job.job["best_lever_version"] == 7
    assert job.as_dicts("lever_versions")[0]["version"] == 2


@pytest.mark.parametrize("field", ["lever_summary", "lever_versions", "sensor_frames"])
@pytest.mark.parametrize("present", [True, False])
def test_null_or_missing_mipro_fields(field: str, present: bool) -> None:
    payload: dict[str, Any] = {"job_id": "j1", "status": "succeeded"}
    if present:
        payload[field] = None

    job = normalize_payload(payload)

    assert job.as_dicts("candidates") == []
    assert job.as_dicts("lever_versions") == []
    assert job.as_dicts("sensor_frames") == []
    assert job.as_dicts("history") == []


def test_extra_fields_kept_as_json() -> None:
    job = normalize_payload(
        {
            "job_id": "j1",
            "algorithm": "mipro",
            "pareto": [{"reward": 0.5}],
            "result": {"best_reward": 0.5, "notes": "kept"},
            "metadata": "free text",
        }
    )

    assert json.loads(job.job["extra"]) == {
        "metadata": "free text",
        "pareto": [{"reward": 0.5}],
        "result": {"notes": "kept"},
    }


def test_error_object_becomes_message_and_extra() -> None:
    job = normalize_payload(
        {"job_id": "j1", "status": "failed", "error": {"message": "OOM", "code": 137}}
    )

    assert job.job["error_message"] == "OOM"
    assert json.loads(job.job["extra"]) == {"error": {"code": 137, "message": "OOM"}}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "2026-03-01T09:15:30.123456789+02:00",
            datetime(2026, 3, 1, 7, 15, 30, 123456),
        ),
        ("2026-03-01T07:16:00Z", datetime(2026, 3, 1, 7, 16)),
        ("2026-03-01T07:16:00", datetime(2026, 3, 1, 7, 16)),
        ("2026-03-01T00:30:00-07:00", datetime(2026, 3, 1, 7, 30)),
        (1772349360, datetime(2026, 3, 1, 7, 16)),
        (1772349360000, datetime(2026, 3, 1, 7, 16)),
    ],
)
def test_timestamps_stored_in_utc(text: Any, expected: datetime) -> None:
    job = normalize_payload(
        {"job_id": "j1", "sensor_frames": [{"frame_id": "f", "created_at": text}]}
    )

    assert job.as_dicts("sensor_frames")[0]["created_at"] == expected.replace(
        tzinfo=UTC
    )


def test_frames_without_id_dropped() -> None:
    job = normalize_payload(
        {
            "job_id": "j1",
            "sensor_frames": [{"sensor_count": 1}, {"frame_id": "f"}, None],
        }
    )

    assert [row["frame_id"] for row in job.as_dicts("sensor_frames")] == ["f"]


def test_repeated_keys_last_wins() -> None:
    job = normalize_payload(
        {
            "job_id": "j1",
            "sensor_frames": [
                {"frame_id": "f", "sensor_count": 1, "sensor_kinds": ["reward"]},
                {"frame_id": "f", "sensor_count": 2, "sensor_kinds": ["timing"]},
            ],
            "history": [
                {"generation": 1, "best_reward": 0.1},
                {"generation": 1, "best_reward": 0.2},
            ],
        }
    )

    assert job.as_dicts("sensor_frames") == [
        {"job_id": "j1", "frame_id": "f", "created_at": None, "sensor_count": 2}
    ]
    assert job.as_dicts("sensor_frame_kinds") == [
        {"job_id": "j1", "frame_id": "f", "kind": "timing"}
    ]
    assert job.as_dicts("history") == [
        {"job_id": "j1", "generation": 1, "best_reward": 0.2}
    ]


def test_unsafe_text_replaced() -> None:
    raw = (
        b'{"job_id": "j1", "best_prompt": '
        b'{"messages": [{"content": "a\\u0000b\\ud800c"}]}}'
    )

    job = normalize_body(raw)

    assert job.as_dicts("prompt_messages")[0]["content"] == "a\ufffdb\ufffdc"


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_rewards_stored_as_null(value: str) -> None:
    job = normalize_body(f'{{"job_id": "j1", "best_reward": {value}}}'.encode())

    assert job.job["best_reward"] is None


@pytest.mark.parametrize(
    ("payload", "path", "problem"),
    [
        ({"job_id": "j1", "best_lever_version": True}, "best_lever_version", "boolean"),
        ({"job_id": "j1", "best_lever_version": 2**64}, "best_lever_version", "64-bit"),
        ({"job_id": "j1", "best_lever_version": 1.5}, "best_lever_version", "1.5"),
        ({"job_id": "j1", "best_reward": "high"}, "best_reward", "'high'"),
        (
            {"job_id": "j1", "result": {"sensor_frames": [{"created_at": "soon"}]}},
            "result.sensor_frames.0.created_at",
            "'soon'",
        ),
        (
            {"job_id": "j1", "history": [{"best_reward": 0.2}]},
            "history.0.generation",
            "",
        ),
    ],
)
def test_invalid_values_name_field_path(
    payload: dict[str, Any], path: str, problem: str
) -> None:
    with pytest.raises(PayloadError) as caught:
        normalize_payload(payload)

    assert caught.value.path == path
    assert f"Invalid value at {path}:" in str(caught.value)
    assert problem in str(caught.value)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"[1, 2]", "The body is a JSON array"),
        (b'{"job_id": "j1"', "The body is not valid JSON"),
        (b"\xff\xfe", "The body is not valid UTF-8"),
        (b'{"status": "running"}', "The payload has no job_id"),
        (b'{"job_id": "  "}', "job_id is blank"),
    ],
)
def test_unusable_bodies_rejected(raw: bytes, message: str) -> None:
    with pytest.raises(PayloadError) as caught:
        normalize_body(raw)

    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("status", "state", "terminal"),
    [
        ("pending", "pending", False),
        ("queued", "queued", False),
        ("running", "running", False),
        ("in_progress", "running", False),
        ("paused", "paused", False),
        ("succeeded", "succeeded", True),
        ("completed", "succeeded", True),
        ("success", "succeeded", True),
        ("complete", "succeeded", True),
        ("failed", "failed", True),
        ("failure", "failed", True),
        ("error", "failed", True),
        ("cancelled", "cancelled", True),
        ("canceled", "cancelled", True),
        ("cancel", "cancelled", True),
        ("SUCCEEDED", "succeeded", True),
        ("preempted", "unknown", False),
        (None, "unknown", False),
    ],
)
def test_status_normalized(status: str | None, state: str, terminal: bool) -> None:
    assert normalize_status(status) == (state, terminal)
