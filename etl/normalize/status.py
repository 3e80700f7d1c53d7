"""Map the raw job status strings of the API to one normalized state."""

from __future__ import annotations

__all__ = ["TERMINAL_STATES", "normalize_status"]

TERMINAL_STATES = frozenset({"succeeded", "failed", "cancelled"})

_STATE_OF_STATUS = {
    "pending": "pending",
    "queued": "queued",
    "running": "running",
    "in_progress": "running",
    "paused": "paused",
    "succeeded": "succeeded",
    "success": "succeeded",
    "completed": "succeeded",
    "complete": "succeeded",
    "failed": "failed",
    "failure": "failed",
    "error": "failed",
    "cancelled": "cancelled",
    "canceled": "cancelled",
    "cancel": "cancelled",
}


def normalize_status(status: str | None) -> tuple[str, bool]:
    """Return the normalized state and whether it is terminal.

    An unknown or missing status maps to `unknown`, which is not terminal, so
    such a job is fetched again on the next run.
    """
    if status is None:
        return "unknown", False
    state = _STATE_OF_STATUS.get(status.strip().lower().replace("-", "_"), "unknown")
    return state, state in TERMINAL_STATES
