"""The unit that flows from extract to load: one payload exactly as received."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["RawPayload"]


@dataclass(frozen=True)
class RawPayload:
    """A payload body with where and when it was received.

    `source` is the URL without credentials, or the file path with a line
    number for JSON Lines. `job_id` is the id the payload was requested under,
    when known. `read_error` is set when the source could not be read whole
    (a corrupt gzip stream, for instance); `body` then contains the bytes read.
    """

    body: bytes
    source: str
    fetched_at: datetime
    job_id: str | None = None
    read_error: str | None = None
    sha256: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha256", hashlib.sha256(self.body).hexdigest())
