"""Pydantic models of a results payload, tolerant of every variant the API sends.

The models see a payload after `merge_containers` has lifted fields from
`result`, `metadata` and `job_metadata` to the top level, so they describe
one flat shape.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from etl.normalize.values import Identifier, Integer, Reward, Timestamp

__all__ = [
    "BestPrompt",
    "HistoryEntry",
    "LeverSummary",
    "PromptMessage",
    "ResultsPayload",
    "SensorFrame",
]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True, frozen=True)


class PromptMessage(_Lenient):
    """One message of the best prompt; `pattern` may replace `content`."""

    role: str | None = None
    content: str | None = None
    pattern: str | None = None
    name: str | None = None


class BestPrompt(_Lenient):
    """The best prompt (`best_prompt`) or best candidate (`best_candidate`)."""

    messages: list[PromptMessage] | None = None
    reward: Reward = None
    score: Reward = None
    candidate_id: Identifier | None = None


class LeverSummary(_Lenient):
    """The lever summary of a MIPRO job."""

    prompt_lever_id: Identifier | None = None
    candidate_lever_versions: dict[Identifier, Integer] | None = None
    best_candidate_id: Identifier | None = None
    selected_candidate_id: Identifier | None = None
    baseline_candidate_id: Identifier | None = None
    lever_count: Integer = None
    mutation_count: Integer = None
    latest_version: Integer = None


class SensorFrame(_Lenient):
    """One sensor frame; frames without `frame_id` are dropped later."""

    frame_id: Identifier | None = None
    created_at: Timestamp | None = None
    sensor_count: Integer = None
    sensor_kinds: list[Identifier | None] | None = None
    trace_ids: list[Identifier | None] | None = None
    lever_versions: dict[Identifier, Integer] | None = None


class HistoryEntry(_Lenient):
    """The best reward reached by one generation."""

    generation: Integer
    best_reward: Reward = None

    @field_validator("generation")
    @classmethod
    def _require_generation(cls, value: int | None) -> int:
        if value is None:
            raise ValueError("a history entry needs a generation")
        return value


class ResultsPayload(_Lenient):
    """The flat view of one results payload."""

    job_id: Identifier = Field(min_length=1)
    status: str | None = None
    algorithm: str | None = None
    best_reward: Reward = None
    best_score: Reward = None
    best_prompt: BestPrompt | None = None
    best_candidate: BestPrompt | None = None
    lever_summary: LeverSummary | None = None
    lever_versions: dict[Identifier, Integer] | None = None
    best_lever_version: Integer = None
    sensor_frames: list[SensorFrame | None] | None = None
    history: list[HistoryEntry | None] | None = None
    created_at: Timestamp | None = None
    started_at: Timestamp | None = None
    finished_at: Timestamp | None = None
    total_cost_usd: Reward = None
    error: Any = None
    error_message: str | None = None
    generations_completed: Integer = None
    candidates_evaluated: Integer = None

    @field_validator("job_id")
    @classmethod
    def _require_visible_job_id(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("job_id is blank")
        return value
