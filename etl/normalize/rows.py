"""Split a validated payload into the rows of each archive table.

The job row is a dict keyed by column name. Child rows are tuples in the
column order of `CHILD_COLUMNS`, which matches the tables, because a large
job has thousands of them and tuples are what bulk loaders take. Where one
payload lists the same key twice (a frame, a generation, a candidate), the
last occurrence wins.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from etl.normalize.models import BestPrompt, ResultsPayload, SensorFrame
from etl.normalize.parse import CONTAINERS, KNOWN_FIELDS
from etl.normalize.status import normalize_status

__all__ = ["CHILD_COLUMNS", "NormalizedJob", "Row", "build_rows"]

Row = dict[str, Any]
Values = tuple[Any, ...]

CHILD_COLUMNS: dict[str, tuple[str, ...]] = {
    "prompt_messages": (
        "job_id",
        "position",
        "role",
        "name",
        "content",
        "content_kind",
    ),
    "candidates": (
        "job_id",
        "candidate_id",
        "lever_version",
        "is_baseline",
        "is_best",
        "is_selected",
    ),
    "lever_versions": ("job_id", "lever_id", "version", "is_prompt_lever"),
    "sensor_frames": ("job_id", "frame_id", "created_at", "sensor_count"),
    "sensor_frame_kinds": ("job_id", "frame_id", "kind"),
    "sensor_frame_traces": ("job_id", "frame_id", "trace_id", "position"),
    "sensor_frame_lever_versions": ("job_id", "frame_id", "lever_id", "version"),
    "history": ("job_id", "generation", "best_reward"),
}


@dataclass(frozen=True)
class NormalizedJob:
    """The rows of one payload: the job row and child rows for each table."""

    job: Row
    prompt_messages: list[Values] = field(default_factory=list)
    candidates: list[Values] = field(default_factory=list)
    lever_versions: list[Values] = field(default_factory=list)
    sensor_frames: list[Values] = field(default_factory=list)
    sensor_frame_kinds: list[Values] = field(default_factory=list)
    sensor_frame_traces: list[Values] = field(default_factory=list)
    sensor_frame_lever_versions: list[Values] = field(default_factory=list)
    history: list[Values] = field(default_factory=list)

    @property
    def job_id(self) -> str:
        job_id: str = self.job["job_id"]
        return job_id

    def child_rows(self, table: str) -> list[Values]:
        """Return the child rows of one table by its name."""
        rows: list[Values] = getattr(self, table)
        return rows

    def as_dicts(self, table: str) -> list[Row]:
        """Return the child rows of one table as dicts keyed by column name."""
        columns = CHILD_COLUMNS[table]
        return [dict(zip(columns, row, strict=True)) for row in self.child_rows(table)]

    @property
    def row_count(self) -> int:
        """Count the job row and every child row."""
        return 1 + sum(len(self.child_rows(table)) for table in CHILD_COLUMNS)


def build_rows(payload: ResultsPayload, raw: dict[str, Any]) -> NormalizedJob:
    """Build the rows of every table from a validated payload.

    `raw` is the parsed payload before validation; its unknown fields are kept
    as JSON on the job row.
    """
    job_id = payload.job_id
    frames = _unique_frames(payload.sensor_frames)
    return NormalizedJob(
        job=_job_row(payload, raw),
        prompt_messages=_prompt_message_rows(job_id, payload),
        candidates=_candidate_rows(job_id, payload),
        lever_versions=_lever_version_rows(job_id, payload),
        sensor_frames=[
            (job_id, frame.frame_id, frame.created_at, frame.sensor_count)
            for frame in frames
        ],
        sensor_frame_kinds=_frame_kind_rows(job_id, frames),
        sensor_frame_traces=_frame_trace_rows(job_id, frames),
        sensor_frame_lever_versions=_frame_lever_rows(job_id, frames),
        history=_history_rows(job_id, payload),
    )


def _job_row(payload: ResultsPayload, raw: dict[str, Any]) -> Row:
    state, is_terminal = normalize_status(payload.status)
    levers = payload.lever_summary
    best = _best_prompt(payload)
    return {
        "job_id": payload.job_id,
        "status": payload.status,
        "state": state,
        "is_terminal": is_terminal,
        "algorithm": payload.algorithm,
        "best_reward": _first_present(payload.best_reward, payload.best_score),
        "best_prompt_reward": _best_prompt_reward(payload),
        "best_lever_version": payload.best_lever_version,
        "prompt_lever_id": levers.prompt_lever_id if levers else None,
        "best_candidate_id": _best_candidate_id(payload),
        "selected_candidate_id": levers.selected_candidate_id if levers else None,
        "baseline_candidate_id": levers.baseline_candidate_id if levers else None,
        "lever_count": levers.lever_count if levers else None,
        "mutation_count": levers.mutation_count if levers else None,
        "latest_version": levers.latest_version if levers else None,
        "message_count": len(best.messages or []) if best else 0,
        "created_at": payload.created_at,
        "started_at": payload.started_at,
        "finished_at": payload.finished_at,
        "total_cost_usd": payload.total_cost_usd,
        "error_message": _error_message(payload),
        "generations_completed": payload.generations_completed,
        "candidates_evaluated": payload.candidates_evaluated,
        "extra": _extra_fields(raw),
    }


def _first_present(*values: Any) -> Any:
    for value in values:
        if value is not None:
            return value
    return None


def _best_prompt(payload: ResultsPayload) -> BestPrompt | None:
    """Prefer `best_candidate` when it carries messages, else `best_prompt`."""
    candidate = payload.best_candidate
    if candidate is not None and candidate.messages is not None:
        return candidate
    return payload.best_prompt or candidate


def _best_prompt_reward(payload: ResultsPayload) -> float | None:
    prompts = [payload.best_candidate, payload.best_prompt]
    rewards = [_first_present(p.reward, p.score) for p in prompts if p is not None]
    reward: float | None = _first_present(*rewards)
    return reward


def _best_candidate_id(payload: ResultsPayload) -> str | None:
    levers = payload.lever_summary
    prompts = [payload.best_candidate, payload.best_prompt]
    candidate_id: str | None = _first_present(
        levers.best_candidate_id if levers else None,
        *(prompt.candidate_id for prompt in prompts if prompt is not None),
    )
    return candidate_id


def _error_message(payload: ResultsPayload) -> str | None:
    if payload.error_message is not None:
        return payload.error_message
    error = payload.error
    if error is None or isinstance(error, str):
        return error
    if isinstance(error, dict):
        for key in ("message", "detail", "error"):
            if isinstance(error.get(key), str):
                message: str = error[key]
                return message
    return json.dumps(error, sort_keys=True, ensure_ascii=False)


def _extra_fields(raw: dict[str, Any]) -> str | None:
    """Serialize the fields no column holds, so nothing of the payload is lost."""
    extra: dict[str, Any] = {}
    for key, value in raw.items():
        if key in CONTAINERS:
            unknown = _unknown_fields(value)
            if unknown is not None:
                extra[key] = unknown
        elif key not in KNOWN_FIELDS or (key == "error" and _is_structured(value)):
            extra[key] = value
    if not extra:
        return None
    return json.dumps(_finite(extra), sort_keys=True, ensure_ascii=False)


def _unknown_fields(container: Any) -> Any:
    if not isinstance(container, dict):
        return container
    unknown = {k: v for k, v in container.items() if k not in KNOWN_FIELDS}
    return unknown or None


def _is_structured(value: Any) -> bool:
    return isinstance(value, dict | list)


def _finite(value: Any) -> Any:
    """Replace NaN and infinities, which JSON cannot express, with null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def _prompt_message_rows(job_id: str, payload: ResultsPayload) -> list[Values]:
    best = _best_prompt(payload)
    if best is None or best.messages is None:
        return []
    rows = []
    for position, message in enumerate(best.messages):
        is_pattern = message.content is None and message.pattern is not None
        content = message.pattern if is_pattern else message.content
        kind = "pattern" if is_pattern else "content"
        rows.append((job_id, position, message.role, message.name, content, kind))
    return rows


def _candidate_rows(job_id: str, payload: ResultsPayload) -> list[Values]:
    levers = payload.lever_summary
    versions = (levers.candidate_lever_versions if levers else None) or {}
    best_id = _best_candidate_id(payload)
    selected_id = levers.selected_candidate_id if levers else None
    baseline_id = levers.baseline_candidate_id if levers else None
    candidate_ids = list(versions)
    for extra_id in (baseline_id, best_id, selected_id):
        if extra_id is not None and extra_id not in versions:
            candidate_ids.append(extra_id)
    return [
        (
            job_id,
            candidate_id,
            versions.get(candidate_id),
            candidate_id == baseline_id,
            candidate_id == best_id,
            candidate_id == selected_id,
        )
        for candidate_id in dict.fromkeys(candidate_ids)
    ]


def _lever_version_rows(job_id: str, payload: ResultsPayload) -> list[Values]:
    levers = payload.lever_summary
    prompt_lever_id = levers.prompt_lever_id if levers else None
    return [
        (job_id, lever_id, version, lever_id == prompt_lever_id)
        for lever_id, version in (payload.lever_versions or {}).items()
    ]


def _unique_frames(frames: list[SensorFrame | None] | None) -> list[SensorFrame]:
    """Drop frames without a frame_id and keep the last of repeated ids."""
    unique: dict[str, SensorFrame] = {}
    for frame in frames or []:
        if frame is not None and frame.frame_id is not None and frame.frame_id.strip():
            unique[frame.frame_id] = frame
    return list(unique.values())


def _frame_kind_rows(job_id: str, frames: list[SensorFrame]) -> list[Values]:
    return [
        (job_id, frame.frame_id, kind)
        for frame in frames
        for kind in dict.fromkeys(k for k in frame.sensor_kinds or [] if k is not None)
    ]


def _frame_trace_rows(job_id: str, frames: list[SensorFrame]) -> list[Values]:
    rows: list[Values] = []
    for frame in frames:
        positions = {
            trace_id: position
            for position, trace_id in enumerate(frame.trace_ids or [])
            if trace_id is not None
        }
        rows.extend(
            (job_id, frame.frame_id, trace_id, position)
            for trace_id, position in positions.items()
        )
    return rows


def _frame_lever_rows(job_id: str, frames: list[SensorFrame]) -> list[Values]:
    return [
        (job_id, frame.frame_id, lever_id, version)
        for frame in frames
        for lever_id, version in (frame.lever_versions or {}).items()
    ]


def _history_rows(job_id: str, payload: ResultsPayload) -> list[Values]:
    rewards = {
        entry.generation: entry.best_reward
        for entry in payload.history or []
        if entry is not None
    }
    return [(job_id, generation, reward) for generation, reward in rewards.items()]
