"""Normalize: validate a raw payload and split it into the rows of each table."""

from __future__ import annotations

from typing import Any

from etl.normalize.parse import parse_body, validate
from etl.normalize.rows import NormalizedJob, Row, build_rows
from etl.normalize.status import TERMINAL_STATES, normalize_status

__all__ = [
    "TERMINAL_STATES",
    "NormalizedJob",
    "Row",
    "normalize_body",
    "normalize_payload",
    "normalize_status",
    "parse_body",
]


def normalize_payload(payload: dict[str, Any]) -> NormalizedJob:
    """Validate a parsed payload and build its rows; raises `PayloadError`."""
    return build_rows(validate(payload), payload)


def normalize_body(body: bytes) -> NormalizedJob:
    """Parse, validate and split a payload body; raises `PayloadError`."""
    return normalize_payload(parse_body(body))
