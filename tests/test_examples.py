"""Checks of the example payloads under examples/ and of their generator.

These tests read the files directly with the standard library and import
nothing from the project.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLES_DIR = REPO_ROOT / "examples"
GENERATOR = REPO_ROOT / "scripts" / "generate_examples.py"

NESTED_CONTAINERS = ("result", "metadata", "job_metadata")
LINE_SUFFIXES = (".jsonl", ".ndjson")
EARLIEST = datetime(2026, 1, 1, tzinfo=UTC)
LATEST = datetime(2026, 12, 1, tzinfo=UTC)
NINE_DIGIT_FRACTION = re.compile(r"\.\d{9}(Z|[+-]\d\d:\d\d)$")

STATUSES = (
    "pending",
    "queued",
    "running",
    "paused",
    "succeeded",
    "completed",
    "failed",
    "cancelled",
    "canceled",
    "success",
    "complete",
    "failure",
    "error",
    "in_progress",
    "cancel",
)
SENSOR_KINDS = (
    "reward",
    "timing",
    "rollout",
    "resource",
    "safety",
    "quality",
    "trace",
    "context_apply",
    "experiment",
    "custom",
)
KNOWN_FIELDS = {
    "job_id",
    "status",
    "best_reward",
    "best_score",
    "best_prompt",
    "best_candidate",
    "lever_summary",
    "lever_versions",
    "best_lever_version",
    "sensor_frames",
    "history",
    "algorithm",
    "created_at",
    "started_at",
    "finished_at",
    "total_cost_usd",
    "error",
    "error_message",
    "generations_completed",
    "candidates_evaluated",
    *NESTED_CONTAINERS,
}

Payload = dict[str, Any]


def read_payloads(path: Path) -> list[Payload]:
    """Read every payload of a .json, .jsonl or .ndjson file, gzip or not."""
    data = path.read_bytes()
    name = path.name
    if name.endswith(".gz"):
        data = gzip.decompress(data)
        name = name.removesuffix(".gz")
    text = data.decode("utf-8")
    if name.endswith(LINE_SUFFIXES):
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    document = json.loads(text)
    return document if isinstance(document, list) else [document]


def payload_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name != "README.md")


def field(payload: Payload, name: str) -> Any:
    """Return the first non-null value of `name` at the top level or nested."""
    for container in (payload, *(payload.get(k) or {} for k in NESTED_CONTAINERS)):
        value = container.get(name)
        if value is not None:
            return value
    return None


def present_anywhere(payload: Payload, name: str) -> bool:
    containers = (payload, *(payload.get(k) or {} for k in NESTED_CONTAINERS))
    return any(name in container for container in containers)


def null_everywhere(payload: Payload, name: str) -> bool:
    return present_anywhere(payload, name) and field(payload, name) is None


def frames(payload: Payload) -> list[Payload]:
    return field(payload, "sensor_frames") or []


def prompt_messages(payload: Payload) -> Iterator[Payload]:
    for name in ("best_prompt", "best_candidate"):
        prompt = field(payload, name) or {}
        yield from prompt.get("messages") or []


def version_values(payload: Payload) -> Iterator[Any]:
    summary = field(payload, "lever_summary") or {}
    yield from (summary.get("candidate_lever_versions") or {}).values()
    yield summary.get("latest_version")
    yield from (field(payload, "lever_versions") or {}).values()
    yield field(payload, "best_lever_version")
    for frame in frames(payload):
        yield from frame["lever_versions"].values()


def timestamps(payload: Payload) -> Iterator[str]:
    for name in ("created_at", "started_at", "finished_at"):
        value = field(payload, name)
        if value is not None:
            yield value
    for frame in frames(payload):
        yield frame["created_at"]


def rewards(payload: Payload) -> Iterator[float]:
    for name in ("best_reward", "best_score"):
        value = field(payload, name)
        if value is not None:
            yield value
    for name in ("best_prompt", "best_candidate"):
        reward = (field(payload, name) or {}).get("reward")
        if reward is not None:
            yield reward
    for entry in field(payload, "history") or []:
        yield entry["best_reward"]


@pytest.fixture(scope="module")
def jobs() -> list[Payload]:
    return [p for path in payload_files(EXAMPLES_DIR) for p in read_payloads(path)]


def test_generator_reproduces_examples(tmp_path: Path) -> None:
    # NOTE: the .gz files are compared byte for byte as well, so a zlib build
    # that compresses differently fails this test although the content agrees.
    subprocess.run(
        [sys.executable, str(GENERATOR), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    generated = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")}
    committed = {
        p.relative_to(EXAMPLES_DIR).as_posix() for p in EXAMPLES_DIR.rglob("*")
    }
    assert generated == committed

    different = sorted(
        path
        for path in generated
        if (tmp_path / path).is_file()
        and (tmp_path / path).read_bytes() != (EXAMPLES_DIR / path).read_bytes()
    )
    assert different == [], "rerun scripts/generate_examples.py and commit examples/"


def test_every_file_contains_payloads() -> None:
    for path in payload_files(EXAMPLES_DIR):
        payloads = read_payloads(path)
        assert payloads, f"{path} contains no payload"
        for payload in payloads:
            assert isinstance(payload, dict), f"{path} contains a non-object"
            assert isinstance(payload.get("job_id"), str), f"{path}: job_id missing"
            assert isinstance(payload.get("status"), str), f"{path}: status missing"


def test_job_count_and_unique_ids(jobs: list[Payload]) -> None:
    counts = Counter(job["job_id"] for job in jobs)
    duplicates = sorted(job_id for job_id, count in counts.items() if count > 1)
    assert len(jobs) >= 50
    assert duplicates == []


def test_job_id_prefixes(jobs: list[Payload]) -> None:
    unexpected = [
        j["job_id"] for j in jobs if not j["job_id"].startswith(("po_", "pl_"))
    ]
    assert unexpected == []


def test_both_algorithms_present(jobs: list[Payload]) -> None:
    algorithms = {field(job, "algorithm") for job in jobs}
    assert "mipro" in algorithms
    assert "gepa" in algorithms


def test_large_mipro_job_present(jobs: list[Payload]) -> None:
    large = [job for job in jobs if len(frames(job)) >= 200]
    long_history = [job for job in large if len(field(job, "history") or []) >= 20]
    assert large, "no job has 200 or more sensor frames"
    assert long_history, "no job with 200+ frames has 20+ history generations"


@pytest.mark.parametrize("status", [*STATUSES, "unknown"])
def test_status_present(jobs: list[Payload], status: str) -> None:
    seen = {job["status"] for job in jobs}
    if status == "unknown":
        assert seen - set(STATUSES), "no job has a status outside the known set"
    else:
        assert status in seen


@pytest.mark.parametrize("kind", SENSOR_KINDS)
def test_sensor_kind_present(jobs: list[Payload], kind: str) -> None:
    assert any(kind in frame["sensor_kinds"] for job in jobs for frame in frames(job))


def is_shadowed(job: Payload) -> bool:
    """Tell whether a field is null at the top level but set under `result`."""
    result = job.get("result") or {}
    return any(job.get(k, 1) is None and result.get(k) is not None for k in job)


def has_unknown_nested_field(job: Payload) -> bool:
    return any(k not in KNOWN_FIELDS and isinstance(v, dict) for k, v in job.items())


VARIANTS: dict[str, Callable[[Payload], bool]] = {
    "best_score": lambda j: field(j, "best_score") is not None,
    "full best_candidate": lambda j: "messages" in (field(j, "best_candidate") or {}),
    "bare best_candidate": lambda j: (
        (field(j, "best_candidate") or {}).keys() == {"candidate_id"}
    ),
    "best_candidate without best_prompt": lambda j: (
        field(j, "best_candidate") is not None
        and not present_anywhere(j, "best_prompt")
    ),
    "fields under result": lambda j: bool(j.get("result")),
    "fields under metadata": lambda j: bool(j.get("metadata")),
    "fields under job_metadata": lambda j: bool(j.get("job_metadata")),
    "null top-level field set under result": is_shadowed,
    "numeric string version": lambda j: any(
        isinstance(v, str) and v.isdigit() for v in version_values(j)
    ),
    "message with pattern": lambda j: any(
        "pattern" in m and "content" not in m for m in prompt_messages(j)
    ),
    "message with name": lambda j: any("name" in m for m in prompt_messages(j)),
    "null lever_summary": lambda j: null_everywhere(j, "lever_summary"),
    "missing lever_summary": lambda j: not present_anywhere(j, "lever_summary"),
    "null lever_versions": lambda j: null_everywhere(j, "lever_versions"),
    "missing lever_versions": lambda j: not present_anywhere(j, "lever_versions"),
    "null sensor_frames": lambda j: null_everywhere(j, "sensor_frames"),
    "missing sensor_frames": lambda j: not present_anywhere(j, "sensor_frames"),
    "empty sensor_frames": lambda j: field(j, "sensor_frames") == [],
    "null history": lambda j: null_everywhere(j, "history"),
    "missing history": lambda j: not present_anywhere(j, "history"),
    "frame with empty trace_ids": lambda j: any(
        f["trace_ids"] == [] for f in frames(j)
    ),
    "frame with empty lever_versions": lambda j: any(
        f["lever_versions"] == {} for f in frames(j)
    ),
    "frame without frame_id": lambda j: any("frame_id" not in f for f in frames(j)),
    "timestamp with Z": lambda j: any(t.endswith("Z") for t in timestamps(j)),
    "timestamp with +02:00": lambda j: any(t.endswith("+02:00") for t in timestamps(j)),
    "timestamp with -07:00": lambda j: any(t.endswith("-07:00") for t in timestamps(j)),
    "timestamp with +05:30": lambda j: any(t.endswith("+05:30") for t in timestamps(j)),
    "timestamp with nine fractional digits": lambda j: any(
        NINE_DIGIT_FRACTION.search(t) for t in timestamps(j)
    ),
    "error": lambda j: field(j, "error") is not None,
    "error_message": lambda j: field(j, "error_message") is not None,
    "total_cost_usd": lambda j: field(j, "total_cost_usd") is not None,
    "generations_completed": lambda j: field(j, "generations_completed") is not None,
    "candidates_evaluated": lambda j: field(j, "candidates_evaluated") is not None,
    "started_at": lambda j: field(j, "started_at") is not None,
    "finished_at": lambda j: field(j, "finished_at") is not None,
    "unknown nested field": has_unknown_nested_field,
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_variant_present(jobs: list[Payload], name: str) -> None:
    assert any(VARIANTS[name](job) for job in jobs)


def test_one_frame_without_frame_id(jobs: list[Payload]) -> None:
    missing = [
        job["job_id"]
        for job in jobs
        for frame in frames(job)
        if "frame_id" not in frame
    ]
    assert len(missing) == 1


def test_rewards_within_unit_interval(jobs: list[Payload]) -> None:
    outside = [
        (job["job_id"], reward)
        for job in jobs
        for reward in rewards(job)
        if not 0.0 <= reward <= 1.0
    ]
    assert outside == []


def test_timestamps_within_2026(jobs: list[Payload]) -> None:
    # datetime.fromisoformat drops digits past microseconds (Python 3.11+).
    outside = [
        (job["job_id"], text)
        for job in jobs
        for text in timestamps(job)
        if not EARLIEST <= datetime.fromisoformat(text) < LATEST
    ]
    assert outside == []


def test_gepa_jobs_without_levers(jobs: list[Payload]) -> None:
    gepa_jobs = [job for job in jobs if field(job, "algorithm") == "gepa"]
    with_levers = [
        job["job_id"]
        for job in gepa_jobs
        if field(job, "lever_summary") is not None
        or field(job, "sensor_frames") is not None
    ]
    assert gepa_jobs
    assert with_levers == []
