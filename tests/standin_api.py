"""Stand-in for the Synth job API, served on loopback for tests and benchmarks.

The server implements the results endpoint, the offset and cursor job listings,
Bearer authentication and injected faults, and it records every request it
receives. Tests start it with `run_standin`. Benchmarks and manual runs start it
as a script that serves a directory of payload files:

    SYNTH_API_KEY=sk_test_1 python tests/standin_api.py --corpus DIR --port 8000

The script prints the base URL as its first line on stdout and never prints
the API key.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import email.utils
import gzip
import json
import logging
import os
import signal
import socket
import socketserver
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any, Literal, cast, get_args
from urllib.parse import parse_qs, unquote

__all__ = [
    "CURSOR_LISTING_PATH",
    "DEFAULT_API_KEY",
    "OFFSET_LISTING_PATHS",
    "RESULTS_PATH_TEMPLATE",
    "Fault",
    "RecordedRequest",
    "RequestLog",
    "RunningStandin",
    "StandinApi",
    "add_faults_from_json",
    "main",
    "run_standin",
]

logger = logging.getLogger("standin_api")

FaultKind = Literal[
    "latency",
    "http_error",
    "slow_body",
    "truncated_body",
    "invalid_json",
    "not_found",
]
ListingStyle = Literal["offset", "cursor"]
OffsetEnvelope = Literal["array", "jobs", "data", "items"]
CursorItemsKey = Literal["items", "data"]
LastPageCursor = Literal["absent", "empty", "null"]
IdKey = Literal["job_id", "id"]
StatusKey = Literal["status", "state"]

DEFAULT_API_KEY = "sk_test_standin"
RESULTS_PATH_TEMPLATE = "/api/policy-optimization/online/jobs/{job_id}/results"
OFFSET_LISTING_PATHS = (
    "/api/prompt-learning/online/jobs",
    "/api/policy-optimization/online/jobs",
)
CURSOR_LISTING_PATH = "/api/v1/offline/jobs"

# Raw path segments of the results endpoint, where segment 5 is the job id.
_RESULTS_SEGMENTS = ("", "api", "policy-optimization", "online", "jobs", "", "results")
_JOB_ID_SEGMENT = 5

# Fields that may carry a job's values, in the order the Synth SDK reads them.
_PAYLOAD_CONTAINERS = ("result", "metadata", "job_metadata")

_DEFAULT_INVALID_JSON = b'{"job_id": "truncated", "status": "succeeded", "best_'
_CURSOR_PREFIX = "position:"


# ---------------------------------------------------------------------------
# Faults
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """An injected failure and the number of matching requests it fires on.

    `count` is how many matching requests the fault fires on before requests
    succeed again, and -1 makes it fire on every request. Only the fields that
    belong to `kind` take effect. The class methods build each kind:

    - latency: wait `latency_ms` before handling the request, which then goes on.
    - http_error: respond with `status` (429, 408, 500, 502, 503, ...), an
      optional `Retry-After` header and a `{"detail": ...}` body or `body`.
    - slow_body: send the normal response but spread the body over `chunks`
      writes, so that its last byte leaves `duration_ms` after the headers.
    - truncated_body: send the normal headers with the full Content-Length,
      then `sent_fraction` of the body, then close the connection.
    - invalid_json: respond 200 with `body`, or a cut-off JSON document.
    - not_found: respond 404 even for a job that the corpus and listing contain.
    """

    kind: FaultKind
    count: int = 1
    latency_ms: int = 0
    status: int = 503
    # Seconds as an int, or a string sent verbatim (such as a malformed value).
    retry_after: int | str | None = None
    # Send `retry_after` seconds as an HTTP-date computed when the fault fires.
    retry_after_http_date: bool = False
    duration_ms: int = 1000
    chunks: int = 10
    sent_fraction: float = 0.5
    body: bytes | None = None
    content_type: str = "application/json"

    def __post_init__(self) -> None:
        if self.kind not in get_args(FaultKind):
            raise ValueError(
                f"invalid fault kind {self.kind!r}: "
                f"expected one of {', '.join(get_args(FaultKind))}"
            )
        if self.count < -1:
            raise ValueError(
                f"invalid fault count {self.count}: expected -1 (always) or >= 0"
            )
        if self.latency_ms < 0:
            raise ValueError(f"invalid latency_ms {self.latency_ms}: must be >= 0")
        if self.kind == "http_error" and not 400 <= self.status <= 599:
            raise ValueError(f"invalid status {self.status}: expected 400 to 599")
        if isinstance(self.retry_after, int) and self.retry_after < 0:
            raise ValueError(f"invalid retry_after {self.retry_after}: must be >= 0")
        if self.retry_after_http_date and not isinstance(self.retry_after, int):
            raise ValueError(
                "retry_after_http_date needs retry_after as whole seconds (int)"
            )
        if self.duration_ms < 0:
            raise ValueError(f"invalid duration_ms {self.duration_ms}: must be >= 0")
        if self.chunks < 1:
            raise ValueError(f"invalid chunks {self.chunks}: must be >= 1")
        if not 0 <= self.sent_fraction < 1:
            raise ValueError(
                f"invalid sent_fraction {self.sent_fraction}: expected 0 <= x < 1"
            )

    @classmethod
    def latency(cls, latency_ms: int, *, count: int = 1) -> Fault:
        return cls("latency", count=count, latency_ms=latency_ms)

    @classmethod
    def rate_limited(
        cls,
        retry_after: int | str | None = 1,
        *,
        http_date: bool = False,
        count: int = 1,
    ) -> Fault:
        """Build a 429 fault whose Retry-After is seconds or an HTTP-date."""
        return cls(
            "http_error",
            count=count,
            status=429,
            retry_after=retry_after,
            retry_after_http_date=http_date,
        )

    @classmethod
    def http_error(
        cls,
        status: int,
        *,
        retry_after: int | str | None = None,
        body: bytes | None = None,
        content_type: str = "application/json",
        count: int = 1,
    ) -> Fault:
        return cls(
            "http_error",
            count=count,
            status=status,
            retry_after=retry_after,
            body=body,
            content_type=content_type,
        )

    @classmethod
    def slow_body(cls, duration_ms: int, *, chunks: int = 10, count: int = 1) -> Fault:
        return cls("slow_body", count=count, duration_ms=duration_ms, chunks=chunks)

    @classmethod
    def truncated_body(cls, sent_fraction: float = 0.5, *, count: int = 1) -> Fault:
        return cls("truncated_body", count=count, sent_fraction=sent_fraction)

    @classmethod
    def invalid_json(cls, body: bytes | None = None, *, count: int = 1) -> Fault:
        return cls("invalid_json", count=count, body=body)

    @classmethod
    def not_found(cls, *, count: int = 1) -> Fault:
        return cls("not_found", count=count)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fault:
        """Build a fault from JSON-style data: the field names, `body` as text.

        Raises ValueError on an unknown field or a value of the wrong type.
        """
        known = {item.name for item in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"unknown fault field(s) {', '.join(unknown)}: "
                f"expected some of {', '.join(sorted(known))}"
            )
        if "kind" not in data:
            raise ValueError("missing fault field 'kind'")
        values = dict(data)
        for name in ("count", "latency_ms", "status", "duration_ms", "chunks"):
            if name in values:
                _require_type(name, values[name], int)
        if "sent_fraction" in values:
            _require_type("sent_fraction", values["sent_fraction"], (int, float))
        if "retry_after_http_date" in values:
            _require_type(
                "retry_after_http_date", values["retry_after_http_date"], bool
            )
        for name in ("kind", "content_type"):
            if name in values:
                _require_type(name, values[name], str)
        if values.get("retry_after") is not None:
            _require_type("retry_after", values["retry_after"], (int, str))
        if values.get("body") is not None:
            _require_type("body", values["body"], str)
            values["body"] = values["body"].encode("utf-8")
        return cls(**values)


def _require_type(name: str, value: object, expected: type | tuple[type, ...]) -> None:
    # bool is a subclass of int, but true/false in JSON is never meant as a number.
    is_bool_as_number = isinstance(value, bool) and expected is not bool
    if is_bool_as_number or not isinstance(value, expected):
        raise ValueError(f"invalid fault field {name}: {value!r} has the wrong type")


@dataclass
class _FaultSlot:
    fault: Fault
    remaining: int

    def claim(self) -> bool:
        """Consume one firing, or return False if the fault is used up."""
        if self.remaining == 0:
            return False
        if self.remaining > 0:
            self.remaining -= 1
        return True


# ---------------------------------------------------------------------------
# Request log
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    """A request as the server received it, with the response status it got.

    `raw_path` and `query` are the request target split at the first "?" and
    still percent-encoded. `status` is None while the response is pending.
    """

    method: str
    raw_path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    status: int | None = None
    faults: tuple[Fault, ...] = ()

    def header(self, name: str) -> str | None:
        """Return the first value of header `name`, compared case-insensitively."""
        lowered_name = name.lower()
        for header_name, value in self.headers:
            if header_name.lower() == lowered_name:
                return value
        return None

    @property
    def params(self) -> dict[str, list[str]]:
        """The decoded query parameters, each with all its values in order."""
        return parse_qs(self.query, keep_blank_values=True)


class RequestLog:
    """A thread-safe, ordered list of the requests the server received."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[RecordedRequest] = []

    def append(self, request: RecordedRequest) -> int:
        """Add a request and return its index for `set_response`."""
        with self._lock:
            self._entries.append(request)
            return len(self._entries) - 1

    def set_response(self, index: int, status: int, faults: Sequence[Fault]) -> None:
        with self._lock:
            entry = self._entries[index]
            self._entries[index] = RecordedRequest(
                method=entry.method,
                raw_path=entry.raw_path,
                query=entry.query,
                headers=entry.headers,
                status=status,
                faults=tuple(faults),
            )

    def snapshot(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


# ---------------------------------------------------------------------------
# Corpus
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    job_id: str
    body: bytes
    status: str | None
    created_at: str | None
    created: datetime | None = field(compare=False)


def parse_timestamp(text: str) -> datetime | None:
    """Parse an ISO-8601 timestamp, or return None if it is invalid.

    A timestamp without an offset is taken as UTC. Python 3.11's
    datetime.fromisoformat accepts "Z" and truncates fractions longer than six
    digits, such as the nine-digit ones some payloads carry.
    """
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def _payload_field(payload: Mapping[str, Any], name: str) -> Any:
    """Return the first non-null `name` at the top level or in a container."""
    value = payload.get(name)
    if value is not None:
        return value
    for container_name in _PAYLOAD_CONTAINERS:
        container = payload.get(container_name)
        if isinstance(container, Mapping):
            value = container.get(name)
            if value is not None:
                return value
    return None


def _payload_job_id(payload: Mapping[str, Any]) -> str | None:
    for name in ("job_id", "id"):
        value = _payload_field(payload, name)
        if isinstance(value, str):
            return value
    return None


def _payload_text(payload: Mapping[str, Any], *names: str) -> str | None:
    for name in names:
        value = _payload_field(payload, name)
        if isinstance(value, str):
            return value
    return None


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(
            f"invalid {name} {value!r}: expected one of {', '.join(choices)}"
        )


class StandinApi:
    """A corpus of job payloads, the server options and the injected faults.

    The corpus maps job ids to payload bodies, kept as the exact bytes to serve,
    in insertion order. Options are plain attributes, so a test may change them
    between requests. Methods are thread-safe, so a test may add jobs and faults
    while the server runs.
    """

    def __init__(
        self,
        api_keys: str | Iterable[str] = DEFAULT_API_KEY,
        *,
        forbidden_keys: Iterable[str] = (),
        latency_ms: int = 0,
        listing_styles: Iterable[ListingStyle] = ("offset", "cursor"),
        offset_envelope: OffsetEnvelope = "array",
        cursor_items_key: CursorItemsKey = "items",
        last_page_cursor: LastPageCursor = "absent",
        id_key: IdKey = "job_id",
        status_key: StatusKey = "status",
        default_limit: int = 50,
        max_limit: int = 200,
        gzip_responses: bool = False,
    ) -> None:
        keys = [api_keys] if isinstance(api_keys, str) else list(api_keys)
        if not keys or any(not key for key in keys):
            raise ValueError("api_keys must contain at least one non-empty key")
        styles = frozenset(listing_styles)
        for style in styles:
            _check_choice("listing style", style, get_args(ListingStyle))
        _check_choice("offset_envelope", offset_envelope, get_args(OffsetEnvelope))
        _check_choice("cursor_items_key", cursor_items_key, get_args(CursorItemsKey))
        _check_choice("last_page_cursor", last_page_cursor, get_args(LastPageCursor))
        _check_choice("id_key", id_key, get_args(IdKey))
        _check_choice("status_key", status_key, get_args(StatusKey))
        if latency_ms < 0:
            raise ValueError(f"invalid latency_ms {latency_ms}: must be >= 0")
        if not 1 <= default_limit <= max_limit:
            raise ValueError(
                f"invalid default_limit {default_limit}: "
                f"expected 1 to max_limit ({max_limit})"
            )

        self.api_keys: frozenset[str] = frozenset(keys)
        self.forbidden_keys: frozenset[str] = frozenset(forbidden_keys)
        # Wait applied to every request before anything else, in milliseconds.
        self.latency_ms = latency_ms
        self.listing_styles: frozenset[ListingStyle] = styles
        self.offset_envelope: OffsetEnvelope = offset_envelope
        self.cursor_items_key: CursorItemsKey = cursor_items_key
        self.last_page_cursor: LastPageCursor = last_page_cursor
        self.id_key: IdKey = id_key
        self.status_key: StatusKey = status_key
        self.default_limit = default_limit
        self.max_limit = max_limit
        # Gzip-compress bodies for requests that accept gzip.
        self.gzip_responses = gzip_responses
        self.request_log = RequestLog()

        self._lock = threading.Lock()
        self._jobs: dict[str, _Job] = {}
        self._job_faults: dict[str, list[_FaultSlot]] = {}
        self._results_faults: list[_FaultSlot] = []
        self._listing_faults: list[tuple[int | None, _FaultSlot]] = []

    # -- corpus ------------------------------------------------------------

    @classmethod
    def from_payloads(
        cls, payloads: Iterable[Mapping[str, Any]], **options: Any
    ) -> StandinApi:
        """Create an API that serves `payloads`, passing `options` to __init__."""
        api = cls(**options)
        api.load_payloads(payloads)
        return api

    @classmethod
    def from_directory(cls, directory: str | Path, **options: Any) -> StandinApi:
        """Create an API that serves the `.json` files of `directory`."""
        api = cls(**options)
        api.load_directory(directory)
        return api

    def add_job(
        self,
        job_id: str,
        body: bytes,
        *,
        status: str | None = None,
        created_at: str | None = None,
        replace: bool = False,
    ) -> None:
        """Add a job whose results body is `body`, served byte for byte.

        `status` and `created_at` fill the listing summary and are not checked
        against the body, so the body may be anything, even invalid JSON.
        Raises ValueError if the job id exists, unless `replace` is true, in
        which case the job keeps its position in the insertion order.
        """
        created = None if created_at is None else parse_timestamp(created_at)
        job = _Job(job_id, bytes(body), status, created_at, created)
        with self._lock:
            if job_id in self._jobs and not replace:
                raise ValueError(
                    f"duplicate job id {job_id!r}: pass replace=True to replace it"
                )
            self._jobs[job_id] = job

    def add_payload(
        self,
        payload: Mapping[str, Any],
        *,
        job_id: str | None = None,
        replace: bool = False,
    ) -> str:
        """Add a payload serialized as UTF-8 JSON and return its job id.

        The job id defaults to the payload's `job_id` or `id` field, and the
        summary takes `status` (or `state`) and `created_at` from the payload.
        """
        resolved_id = job_id if job_id is not None else _payload_job_id(payload)
        if resolved_id is None:
            raise ValueError("payload has no string job_id or id: pass job_id")
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.add_job(
            resolved_id,
            body,
            status=_payload_text(payload, "status", "state"),
            created_at=_payload_text(payload, "created_at"),
            replace=replace,
        )
        return resolved_id

    def add_file(self, path: str | Path, *, replace: bool = False) -> str:
        """Add a payload file, served byte for byte, and return its job id.

        The job id defaults to the file name without `.json` when the payload
        has no `job_id` or `id` field. Raises ValueError if the file does not
        contain a JSON object.
        """
        file_path = Path(path)
        body = file_path.read_bytes()
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"invalid JSON in {file_path}: {error}") from error
        if not isinstance(payload, dict):
            raise ValueError(f"invalid payload in {file_path}: expected an object")
        job_id = _payload_job_id(payload) or file_path.stem
        self.add_job(
            job_id,
            body,
            status=_payload_text(payload, "status", "state"),
            created_at=_payload_text(payload, "created_at"),
            replace=replace,
        )
        return job_id

    def load_payloads(self, payloads: Iterable[Mapping[str, Any]]) -> list[str]:
        return [self.add_payload(payload) for payload in payloads]

    def load_directory(self, directory: str | Path) -> list[str]:
        """Add every `*.json` file of `directory` in file name order."""
        directory_path = Path(directory)
        if not directory_path.is_dir():
            raise ValueError(f"corpus directory not found: {directory_path}")
        return [self.add_file(path) for path in sorted(directory_path.glob("*.json"))]

    def job_ids(self) -> list[str]:
        with self._lock:
            return list(self._jobs)

    def body(self, job_id: str) -> bytes:
        """Return the bytes served for `job_id`, or raise KeyError if unknown."""
        with self._lock:
            return self._jobs[job_id].body

    def summaries(
        self,
        *,
        status: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
    ) -> list[dict[str, str]]:
        """Return the listing summaries, newest first, filtered as given.

        Jobs sort by created_at descending, ties keep insertion order, and jobs
        without a valid created_at come last. The date filters are exclusive
        and drop jobs without created_at.
        """
        with self._lock:
            jobs = list(self._jobs.values())
        if status is not None:
            jobs = [job for job in jobs if job.status == status]
        if created_after is not None or created_before is not None:
            jobs = [
                job
                for job in jobs
                if job.created is not None
                and (created_after is None or job.created > created_after)
                and (created_before is None or job.created < created_before)
            ]
        dated = [job for job in jobs if job.created is not None]
        undated = [job for job in jobs if job.created is None]
        # list.sort is stable even with reverse=True, so ties keep insertion order.
        dated.sort(key=lambda job: cast(datetime, job.created), reverse=True)
        return [self._summary(job) for job in dated + undated]

    def _summary(self, job: _Job) -> dict[str, str]:
        summary: dict[str, str] = {self.id_key: job.job_id}
        if job.status is not None:
            summary[self.status_key] = job.status
        if job.created_at is not None:
            summary["created_at"] = job.created_at
        return summary

    def _find_job(self, job_id: str) -> _Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    # -- faults ------------------------------------------------------------

    def add_fault(self, fault: Fault, *, job_id: str | None = None) -> None:
        """Inject `fault` into results requests for `job_id`, or for every job.

        Faults for a job are tried before faults for every job.
        """
        slot = _FaultSlot(fault, fault.count)
        with self._lock:
            if job_id is None:
                self._results_faults.append(slot)
            else:
                self._job_faults.setdefault(job_id, []).append(slot)

    def add_listing_fault(self, fault: Fault, *, page: int | None = None) -> None:
        """Inject `fault` into listing requests for page `page`, or every page.

        Pages count from 0 as the start position divided by the limit, in both
        listing styles.
        """
        if page is not None and page < 0:
            raise ValueError(f"invalid page {page}: must be >= 0")
        with self._lock:
            self._listing_faults.append((page, _FaultSlot(fault, fault.count)))

    def clear_faults(self) -> None:
        with self._lock:
            self._job_faults.clear()
            self._results_faults.clear()
            self._listing_faults.clear()

    def _claim_results_faults(self, job_id: str) -> list[Fault]:
        with self._lock:
            slots = [*self._job_faults.get(job_id, []), *self._results_faults]
            return _claim(slots)

    def _claim_listing_faults(self, page: int) -> list[Fault]:
        with self._lock:
            slots = [
                slot
                for slot_page, slot in self._listing_faults
                if slot_page is None or slot_page == page
            ]
            return _claim(slots)

    # -- request log -------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.request_log.snapshot()


def _claim(slots: Iterable[_FaultSlot]) -> list[Fault]:
    """Fire every active latency fault and the first active other fault.

    The caller holds the API lock. Returns the fired faults, latency first and
    at most one other fault last.
    """
    latencies: list[Fault] = []
    final: Fault | None = None
    for slot in slots:
        if slot.fault.kind == "latency":
            if slot.claim():
                latencies.append(slot.fault)
        elif final is None and slot.claim():
            final = slot.fault
    return latencies if final is None else [*latencies, final]


# ---------------------------------------------------------------------------
# HTTP server
# ---------------------------------------------------------------------------


class _ServerStopping(Exception):
    """Raised when the server shuts down while a request waits."""


class _QueryError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _json_bytes(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def _detail(message: str) -> bytes:
    return _json_bytes({"detail": message})


def _bearer_token(header: str | None) -> str | None:
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def _accepts_gzip(header: str | None) -> bool:
    """Return whether an Accept-Encoding value allows gzip (q > 0)."""
    if header is None:
        return False
    for item in header.split(","):
        coding, *parameters = (part.strip() for part in item.split(";"))
        if coding.lower() not in ("gzip", "*"):
            continue
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    return float(value) > 0
                except ValueError:
                    return False
        return True
    return False


def _split_body(body: bytes, chunks: int) -> list[bytes]:
    count = min(chunks, len(body))
    if count == 0:
        return []
    size = -(-len(body) // count)
    return [body[start : start + size] for start in range(0, len(body), size)]


def encode_cursor(position: int) -> str:
    """Encode a start position as an opaque cursor (URL-safe base64)."""
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{position}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    """Decode a cursor from `encode_cursor`, or raise ValueError if invalid."""
    try:
        text = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii")
    except (UnicodeError, binascii.Error) as error:
        raise ValueError(f"invalid cursor {cursor!r}") from error
    number = text.removeprefix(_CURSOR_PREFIX)
    if number == text or not number.isdigit():
        raise ValueError(f"invalid cursor {cursor!r}")
    return int(number)


def _last_param(params: Mapping[str, list[str]], name: str) -> str | None:
    """Return the last value of `name`, treating an empty value as absent."""
    values = params.get(name)
    if not values or values[-1] == "":
        return None
    return values[-1]


def _int_param(
    params: Mapping[str, list[str]],
    name: str,
    *,
    default: int,
    minimum: int,
) -> int:
    text = _last_param(params, name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise _QueryError(
            422, f"invalid {name} {text!r}: expected an integer >= {minimum}"
        )
    return value


def _time_param(params: Mapping[str, list[str]], name: str) -> datetime | None:
    text = _last_param(params, name)
    if text is None:
        return None
    value = parse_timestamp(text)
    if value is None:
        raise _QueryError(422, f"invalid {name} {text!r}: expected ISO-8601")
    return value


class _StandinServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, api: StandinApi, port: int) -> None:
        self.api = api
        # Set on shutdown so that latency and slow bodies stop waiting.
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _StandinHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (socket.getfqdn), which
        # can wait on DNS. The stand-in only needs the port.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        if isinstance(request, socket.socket):
            with self._connections_lock:
                self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Shut down open keep-alive connections so handler threads exit."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _StandinHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SynthStandin/1.0"
    # Headers and body go out in separate writes; with Nagle's algorithm on,
    # the body then waits for the client's delayed ACK, about 40 ms.
    disable_nagle_algorithm = True
    # Idle keep-alive connections close after this many seconds.
    timeout = 60

    _log_index: int
    _fired: list[Fault]

    @property
    def _standin_server(self) -> _StandinServer:
        return cast(_StandinServer, self.server)

    @property
    def _api(self) -> StandinApi:
        return self._standin_server.api

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    # -- dispatch ----------------------------------------------------------

    def _handle(self) -> None:
        api = self._api
        raw_path, _, query = self.path.partition("?")
        self._fired = []
        self._log_index = api.request_log.append(
            RecordedRequest(
                method=self.command,
                raw_path=raw_path,
                query=query,
                headers=tuple(self.headers.items()),
            )
        )
        self._discard_request_body()
        if api.latency_ms and self._pause(api.latency_ms):
            self.close_connection = True
            return
        if not self._authorize():
            return
        if self.command != "GET":
            self._send(HTTPStatus.METHOD_NOT_ALLOWED, _detail("Method Not Allowed"))
            return

        params = parse_qs(query, keep_blank_values=True)
        try:
            self._route(raw_path, params)
        except _QueryError as error:
            self._send(error.status, _detail(error.detail))
        except _ServerStopping:
            self.close_connection = True

    def _route(self, raw_path: str, params: dict[str, list[str]]) -> None:
        api = self._api
        segments = raw_path.split("/")
        if self._is_results_path(segments):
            self._serve_results(unquote(segments[_JOB_ID_SEGMENT]))
        elif raw_path in OFFSET_LISTING_PATHS and "offset" in api.listing_styles:
            self._serve_offset_listing(params)
        elif raw_path == CURSOR_LISTING_PATH and "cursor" in api.listing_styles:
            self._serve_cursor_listing(params)
        else:
            self._send(HTTPStatus.NOT_FOUND, _detail("Not Found"))

    @staticmethod
    def _is_results_path(segments: list[str]) -> bool:
        if len(segments) != len(_RESULTS_SEGMENTS):
            return False
        for index, expected in enumerate(_RESULTS_SEGMENTS):
            if index == _JOB_ID_SEGMENT:
                if not segments[index]:
                    return False
            elif segments[index] != expected:
                return False
        return True

    def _discard_request_body(self) -> None:
        """Read any request body so the connection can serve the next request."""
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            return
        try:
            length = int(length_text)
        except ValueError:
            self.close_connection = True
            return
        if length > 0:
            self.rfile.read(length)

    def _authorize(self) -> bool:
        """Send 401 or 403 and return False unless the Bearer key is accepted."""
        api = self._api
        token = _bearer_token(self.headers.get("Authorization"))
        if token is not None and token in api.forbidden_keys:
            self._send(HTTPStatus.FORBIDDEN, _detail("Not authorized"))
            return False
        if token is None or token not in api.api_keys:
            self._send(
                HTTPStatus.UNAUTHORIZED,
                _detail("Invalid API key"),
                headers=[("WWW-Authenticate", "Bearer")],
            )
            return False
        return True

    # -- endpoints ---------------------------------------------------------

    def _serve_results(self, job_id: str) -> None:
        api = self._api
        final = self._run_faults(api._claim_results_faults(job_id))
        if final is not None and final.kind not in ("slow_body", "truncated_body"):
            self._send_fault(final, not_found_detail="Job not found")
            return
        job = api._find_job(job_id)
        if job is None:
            self._send(HTTPStatus.NOT_FOUND, _detail("Job not found"))
            return
        self._send(HTTPStatus.OK, job.body, delivery=final)

    def _serve_offset_listing(self, params: dict[str, list[str]]) -> None:
        api = self._api
        limit = _int_param(params, "limit", default=api.default_limit, minimum=1)
        limit = min(limit, api.max_limit)
        offset = _int_param(params, "offset", default=0, minimum=0)
        summaries = api.summaries(status=_last_param(params, "status"))
        page: list[dict[str, str]] = summaries[offset : offset + limit]

        body: object = page
        if api.offset_envelope != "array":
            body = {api.offset_envelope: page}
        self._send_listing(offset // limit, _json_bytes(body))

    def _serve_cursor_listing(self, params: dict[str, list[str]]) -> None:
        api = self._api
        limit = _int_param(params, "limit", default=api.default_limit, minimum=1)
        limit = min(limit, api.max_limit)
        cursor = _last_param(params, "cursor")
        try:
            start = 0 if cursor is None else decode_cursor(cursor)
        except ValueError as error:
            raise _QueryError(400, "Invalid cursor") from error
        summaries = api.summaries(
            status=_last_param(params, "state"),
            created_after=_time_param(params, "created_after"),
            created_before=_time_param(params, "created_before"),
        )
        end = start + limit

        body: dict[str, object] = {api.cursor_items_key: summaries[start:end]}
        if end < len(summaries):
            body["next_cursor"] = encode_cursor(end)
        elif api.last_page_cursor == "empty":
            body["next_cursor"] = ""
        elif api.last_page_cursor == "null":
            body["next_cursor"] = None
        self._send_listing(start // limit, _json_bytes(body))

    def _send_listing(self, page: int, body: bytes) -> None:
        final = self._run_faults(self._api._claim_listing_faults(page))
        if final is not None and final.kind not in ("slow_body", "truncated_body"):
            self._send_fault(final, not_found_detail="Not Found")
            return
        self._send(HTTPStatus.OK, body, delivery=final)

    # -- faults and responses ---------------------------------------------

    def _run_faults(self, faults: list[Fault]) -> Fault | None:
        """Wait out the latency faults and return the other fault, if any.

        Raises _ServerStopping if the server shuts down during a wait.
        """
        final: Fault | None = None
        for fault in faults:
            self._fired.append(fault)
            if fault.kind == "latency":
                if self._pause(fault.latency_ms):
                    raise _ServerStopping
            else:
                final = fault
        return final

    def _send_fault(self, fault: Fault, *, not_found_detail: str) -> None:
        if fault.kind == "not_found":
            self._send(HTTPStatus.NOT_FOUND, _detail(not_found_detail))
            return
        if fault.kind == "invalid_json":
            invalid_body = _DEFAULT_INVALID_JSON if fault.body is None else fault.body
            self._send(HTTPStatus.OK, invalid_body, content_type=fault.content_type)
            return

        headers: list[tuple[str, str]] = []
        if fault.retry_after is not None:
            headers.append(("Retry-After", self._retry_after_value(fault)))
        error_body = fault.body
        if error_body is None:
            error_body = _detail(HTTPStatus(fault.status).phrase)
        self._send(
            fault.status, error_body, content_type=fault.content_type, headers=headers
        )

    @staticmethod
    def _retry_after_value(fault: Fault) -> str:
        if fault.retry_after_http_date:
            seconds = cast(int, fault.retry_after)
            moment = datetime.now(UTC) + timedelta(seconds=seconds)
            return email.utils.format_datetime(moment, usegmt=True)
        return str(fault.retry_after)

    def _pause(self, milliseconds: int) -> bool:
        """Wait, and return True if the server began to shut down meanwhile."""
        return self._standin_server.stopping.wait(milliseconds / 1000)

    def _send(
        self,
        status: int,
        body: bytes,
        *,
        content_type: str = "application/json",
        headers: Sequence[tuple[str, str]] = (),
        delivery: Fault | None = None,
    ) -> None:
        """Send a response, delivering the body slowly or cut off if asked."""
        api = self._api
        payload = body
        extra_headers = list(headers)
        if api.gzip_responses:
            extra_headers.append(("Vary", "Accept-Encoding"))
            if body and _accepts_gzip(self.headers.get("Accept-Encoding")):
                payload = gzip.compress(body, mtime=0)
                extra_headers.append(("Content-Encoding", "gzip"))
        # Record the status before any byte goes out, so a client that has
        # read the response always finds it in the log.
        api.request_log.set_response(self._log_index, int(status), self._fired)

        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in extra_headers:
            self.send_header(name, value)
        try:
            self.end_headers()
            if self.command == "HEAD":
                return
            if delivery is None:
                self.wfile.write(payload)
            elif delivery.kind == "slow_body":
                self._trickle(payload, delivery)
            else:
                sent = int(len(payload) * delivery.sent_fraction)
                self.wfile.write(payload[:sent])
                self.close_connection = True
        except (BrokenPipeError, ConnectionResetError) as error:
            logger.debug(
                "client closed the connection to %s early: %s", self.path, error
            )
            self.close_connection = True

    def _trickle(self, payload: bytes, fault: Fault) -> None:
        pieces = _split_body(payload, fault.chunks)
        interval_ms = fault.duration_ms // max(len(pieces), 1)
        for piece in pieces:
            if self._pause(interval_ms):
                self.close_connection = True
                return
            self.wfile.write(piece)


# ---------------------------------------------------------------------------
# Running the server
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RunningStandin:
    """A started server: its base URL, its API and its request log."""

    url: str
    api: StandinApi

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.api.request_log.snapshot()


@contextmanager
def run_standin(api: StandinApi, *, port: int = 0) -> Iterator[RunningStandin]:
    """Serve `api` on 127.0.0.1 from a daemon thread until the block exits.

    Port 0 picks a free port. On exit the server stops accepting requests,
    cuts open connections and ends pending latency and slow-body waits.
    """
    server = _StandinServer(api, port)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name=f"standin-api-{server.server_port}",
        daemon=True,
    )
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    logger.debug("stand-in API started on %s", url)
    try:
        yield RunningStandin(url=url, api=api)
    finally:
        server.stopping.set()
        server.shutdown()
        server.close_connections()
        server.server_close()
        thread.join(timeout=5)
        logger.debug("stand-in API on %s stopped", url)


# ---------------------------------------------------------------------------
# Script
# ---------------------------------------------------------------------------


def add_faults_from_json(api: StandinApi, entries: object) -> int:
    """Add faults described as a JSON list and return how many were added.

    Each entry contains `Fault` fields (`kind`, `count`, `status`, ...) plus
    where the fault applies: `"scope": "results"` (the default) with an
    optional `job_id`, or `"scope": "listing"` with an optional `page`.
    """
    if not isinstance(entries, list):
        raise ValueError("invalid fault file: expected a JSON list of objects")
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise ValueError(f"invalid fault entry {number}: expected an object")
        fault_fields = dict(entry)
        scope = fault_fields.pop("scope", "results")
        job_id = fault_fields.pop("job_id", None)
        page = fault_fields.pop("page", None)
        try:
            fault = Fault.from_dict(fault_fields)
        except (TypeError, ValueError) as error:
            raise ValueError(f"invalid fault entry {number}: {error}") from error
        if scope == "results" and page is None and isinstance(job_id, str | None):
            api.add_fault(fault, job_id=job_id)
        elif scope == "listing" and job_id is None and isinstance(page, int | None):
            api.add_listing_fault(fault, page=page)
        else:
            raise ValueError(
                f"invalid fault entry {number}: expected scope 'results' with an "
                "optional string job_id, or 'listing' with an optional int page"
            )
    return len(entries)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=(
            "Serve a stand-in Synth job API on 127.0.0.1. "
            "The first line on stdout is the base URL."
        ),
    )
    parser.add_argument(
        "--corpus",
        required=True,
        type=Path,
        help="directory of .json payload files, one job each",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        help="TCP port, where 0 (the default) picks a free one",
    )
    parser.add_argument(
        "--api-key",
        help="accepted Bearer key. Prefer the SYNTH_API_KEY environment variable, "
        "because other local users can see command lines",
    )
    parser.add_argument(
        "--latency-ms",
        type=int,
        default=0,
        help="wait before handling each request, in milliseconds (default 0)",
    )
    parser.add_argument(
        "--listing",
        choices=get_args(ListingStyle),
        help="serve only this job-listing style (default: both)",
    )
    parser.add_argument(
        "--envelope",
        choices=get_args(OffsetEnvelope),
        default="array",
        help="shape of offset-listing pages (default: bare array)",
    )
    parser.add_argument(
        "--faults",
        type=Path,
        help="JSON file with a list of faults to inject (see add_faults_from_json)",
    )
    parser.add_argument(
        "--verbose", action="store_true", help="log every request to stderr"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    api_key = args.api_key or os.environ.get("SYNTH_API_KEY")
    if not api_key:
        parser.error("missing API key: pass --api-key or set SYNTH_API_KEY")
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )

    listing_styles: tuple[ListingStyle, ...] = get_args(ListingStyle)
    if args.listing is not None:
        listing_styles = (args.listing,)
    try:
        api = StandinApi.from_directory(
            args.corpus,
            api_keys=[api_key],
            latency_ms=args.latency_ms,
            listing_styles=listing_styles,
            offset_envelope=args.envelope,
        )
        if args.faults is not None:
            add_faults_from_json(api, json.loads(args.faults.read_text("utf-8")))
    except (OSError, ValueError) as error:
        logger.error("failed to load the stand-in configuration: %s", error)
        return 2

    stop = threading.Event()

    def request_stop(signal_number: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        with run_standin(api, port=args.port) as running:
            print(running.url, flush=True)
            logger.info(
                "serving %d jobs from %s on %s",
                len(api.job_ids()),
                args.corpus,
                running.url,
            )
            while not stop.wait(0.5):
                pass
    except OSError as error:
        logger.error("failed to listen on 127.0.0.1:%d: %s", args.port, error)
        return 1
    logger.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
