"""The failure model: every error the pipeline raises derives from `EtlError`.

A `TransientError` may succeed when tried again (timeouts, 429, 5xx); a
`PermanentError` will not. The CLI maps each kind to an exit code, so callers
never inspect messages to decide what to do.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "ConfigurationError",
    "EtlError",
    "InvalidBodyError",
    "JobNotFoundError",
    "LockHeldError",
    "PayloadError",
    "PermanentError",
    "SchemaError",
    "SourceError",
    "TlsError",
    "TransientError",
    "UnreachableError",
]


class EtlError(Exception):
    """Base class of the errors this package raises on purpose."""


class TransientError(EtlError):
    """A failure that may pass when the same request is tried again.

    `retry_after` is the delay in seconds the server asked for, if any.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UnreachableError(TransientError):
    """The API host refused the connection or did not respond."""


class InvalidBodyError(TransientError):
    """The API returned 200 with a body that is not valid JSON.

    `body` keeps the bytes received from the URL `source`, so a payload that
    stays invalid after every retry can still be archived as rejected.
    """

    def __init__(self, message: str, body: bytes, source: str) -> None:
        super().__init__(message)
        self.body = body
        self.source = source


class PermanentError(EtlError):
    """A failure that trying again will not fix."""


class ConfigurationError(PermanentError):
    """A missing or invalid setting, such as an absent API key."""


class AuthenticationError(PermanentError):
    """The API rejected the key (401 or 403); the whole run stops."""


class SourceError(PermanentError):
    """A source that cannot be read: an unreachable host or a missing file."""


class TlsError(PermanentError):
    """The API's TLS certificate could not be verified; the whole run stops."""


class JobNotFoundError(PermanentError):
    """The API returned 404 for a job id."""


class LockHeldError(EtlError):
    """Another run holds the lock of the same database and shard."""


class SchemaError(PermanentError):
    """The database schema is not at the revision this version expects."""


class PayloadError(PermanentError):
    """A payload that cannot be parsed or normalized.

    `path` is the location of the offending field, such as
    `sensor_frames.3.created_at`, or empty when the whole body is at fault.
    `job_id` is the payload's job id when it could be read.
    """

    def __init__(self, message: str, path: str = "", job_id: str | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.job_id = job_id
