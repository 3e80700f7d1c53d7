"""Fetch job results from the Synth policy-optimization API with httpx.

One pooled `httpx.AsyncClient` serves the whole run. Transient failures
(timeouts, dropped connections, truncated or invalid bodies, 408, 429, 5xx)
are retried by tenacity with exponential backoff and jitter, honouring
`Retry-After` up to a cap. 401 and 403 raise `AuthenticationError`, which
stops the run.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import ssl
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from etl import __version__
from etl.config import Settings
from etl.errors import (
    AuthenticationError,
    ConfigurationError,
    InvalidBodyError,
    JobNotFoundError,
    PermanentError,
    TlsError,
    TransientError,
    UnreachableError,
)
from etl.extract.records import RawPayload

__all__ = ["RESULTS_PATH", "SynthClient", "job_path_segment", "results_path"]

logger = logging.getLogger(__name__)

RESULTS_PATH = "/api/policy-optimization/online/jobs/{}/results"
# Every 5xx status is transient too.
_TRANSIENT_STATUSES = frozenset({408, 425, 429})
_ERROR_EXCERPT_CHARS = 300


def job_path_segment(job_id: str) -> str:
    """Percent-encode a job id as exactly one URL path segment.

    Every reserved character is encoded, and the dot segments `.` and `..`
    are encoded too, so no job id can change which path is requested.
    """
    if job_id in {".", ".."}:
        return job_id.replace(".", "%2E")
    return quote(job_id, safe="")


def results_path(job_id: str) -> str:
    """Return the request path of a job's results."""
    return RESULTS_PATH.format(job_path_segment(job_id))


class SynthClient:
    """An async client of the Synth API; use it as an async context manager."""

    def __init__(
        self,
        settings: Settings,
        api_key: str,
        *,
        archived_sha256: Collection[str] = frozenset(),
    ) -> None:
        """Create the client.

        A results body whose SHA-256 is in `archived_sha256` was parsed when it
        was archived, so the client skips its JSON check.
        """
        self.settings = settings
        self._archived_sha256 = archived_sha256
        self._client = httpx.AsyncClient(
            base_url=settings.backend_url,
            headers={
                "Authorization": f"Bearer {api_key}",
                "Accept": "application/json",
                "User-Agent": f"synth-results-archive/{__version__}",
            },
            timeout=httpx.Timeout(
                connect=settings.connect_timeout,
                read=settings.read_timeout,
                write=settings.read_timeout,
                pool=settings.read_timeout,
            ),
            limits=httpx.Limits(
                max_connections=settings.concurrency,
                max_keepalive_connections=settings.concurrency,
            ),
            verify=_tls_context(settings),
            follow_redirects=False,
        )

    async def __aenter__(self) -> SynthClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._client.aclose()

    async def fetch_results(self, job_id: str) -> RawPayload:
        """Fetch one job's results payload, retrying transient failures."""
        path = results_path(job_id)
        reply = await self._get_with_retries(path, job_id=job_id)
        return RawPayload(
            body=reply.body,
            source=reply.url,
            fetched_at=datetime.now(UTC),
            job_id=job_id,
        )

    async def get_json(self, path: str, params: dict[str, Any]) -> Any:
        """GET a JSON document (a listing page), retrying transient failures."""
        reply = await self._get_with_retries(path, params=params)
        return json.loads(reply.body)

    async def _get_with_retries(
        self,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        job_id: str | None = None,
    ) -> _Reply:
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(TransientError),
            stop=stop_after_attempt(self.settings.max_attempts),
            wait=_RetryAfterWait(self.settings.retry_max_wait),
            before_sleep=_log_retry,
            reraise=True,
        )
        reply: _Reply | None = None
        async for attempt in retrying:
            with attempt:
                reply = await self._get_once(path, params, job_id)
        assert reply is not None
        return reply

    async def _get_once(
        self, path: str, params: dict[str, Any] | None, job_id: str | None
    ) -> _Reply:
        url = f"{self.settings.backend_url}{path}"
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.settings.request_timeout):
                reply = await self._download(path, params)
        except TimeoutError:
            raise TransientError(
                f"GET {url} took longer than {self.settings.request_timeout:g} s in "
                "all; ETL_REQUEST_TIMEOUT sets this limit."
            ) from None
        except httpx.ConnectError as exc:
            raise self._connect_error(exc) from exc
        except httpx.TimeoutException as exc:
            raise TransientError(
                f"GET {url} timed out ({type(exc).__name__})."
            ) from exc
        except httpx.DecodingError as exc:
            raise TransientError(
                f"GET {url} returned a body that could not be decoded ({_reason(exc)})."
            ) from exc
        except httpx.TransportError as exc:
            raise TransientError(
                f"GET {url} failed: the connection dropped ({_reason(exc)})."
            ) from exc
        elapsed_ms = (time.perf_counter() - started) * 1000
        logger.info(
            "GET %s -> %d (%d bytes, %.0f ms)",
            reply.url,
            reply.status,
            len(reply.body),
            elapsed_ms,
        )
        _raise_for_status(reply, job_id)
        if not self._is_archived(reply):
            _check_json(reply)
        return reply

    def _is_archived(self, reply: _Reply) -> bool:
        if not self._archived_sha256:
            return False
        return hashlib.sha256(reply.body).hexdigest() in self._archived_sha256

    async def _download(self, path: str, params: dict[str, Any] | None) -> _Reply:
        """Send the request and read the body, stopping past the size limit."""
        request = self._client.build_request("GET", path, params=params)
        response = await self._client.send(request, stream=True)
        try:
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self.settings.max_body_bytes:
                    raise PermanentError(
                        f"GET {request.url} returned a body larger than "
                        f"{self.settings.max_body_mb:g} MB; raise ETL_MAX_BODY_MB if "
                        "such payloads are expected."
                    )
                chunks.append(chunk)
        finally:
            await response.aclose()
        return _Reply(
            url=str(request.url),
            status=response.status_code,
            headers=response.headers,
            body=b"".join(chunks),
        )

    def _connect_error(self, exc: httpx.ConnectError) -> TransientError | TlsError:
        if _caused_by_tls(exc):
            return TlsError(
                f"The TLS certificate of {self.settings.backend_url} could not "
                f"be verified: {_reason(exc)}. Set ETL_CA_BUNDLE to a PEM file "
                "of the CA that signed it."
            )
        return UnreachableError(
            f"Cannot connect to {self.settings.backend_url}: {_reason(exc)}. "
            "Check SYNTH_BACKEND_URL and the network."
        )


@dataclass(frozen=True)
class _Reply:
    """A response read whole: the request URL, status, headers and body."""

    url: str
    status: int
    headers: httpx.Headers
    body: bytes

    def text_excerpt(self) -> str:
        text = self.body.decode("utf-8", "replace").strip().replace("\n", " ")
        if len(text) > _ERROR_EXCERPT_CHARS:
            return text[:_ERROR_EXCERPT_CHARS] + "..."
        return text or "(empty body)"


class _RetryAfterWait:
    """Wait for the server's `Retry-After` delay, else back off exponentially."""

    def __init__(self, cap: float) -> None:
        self.cap = cap
        self.backoff = wait_exponential_jitter(
            multiplier=0.5, max=min(5.0, cap), jitter=0.5
        )

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        if isinstance(error, TransientError) and error.retry_after is not None:
            return min(error.retry_after, self.cap)
        return min(self.backoff(retry_state), self.cap)


def _log_retry(retry_state: RetryCallState) -> None:
    outcome = retry_state.outcome
    error = outcome.exception() if outcome is not None else None
    delay = retry_state.next_action.sleep if retry_state.next_action else 0.0
    logger.warning(
        "Retrying in %.1f s after attempt %d: %s",
        delay,
        retry_state.attempt_number,
        error,
    )


def _raise_for_status(reply: _Reply, job_id: str | None) -> None:
    status = reply.status
    if status < 300:
        return
    if status in (401, 403):
        raise AuthenticationError(
            f"The Synth API rejected the API key with HTTP {status} at {reply.url}. "
            "Check that the key in SYNTH_API_KEY, or in the file named by "
            "SYNTH_API_KEY_FILE or --api-key-file, is valid for this backend."
        )
    if status == 404 and job_id is not None:
        raise JobNotFoundError(
            f"Job {job_id!r} was not found (HTTP 404 at {reply.url})."
        )
    if status < 400:
        location = reply.headers.get("Location", "(no Location header)")
        raise PermanentError(
            f"GET {reply.url} returned a redirect (HTTP {status}) to {location}. "
            "Redirects are not followed; check SYNTH_BACKEND_URL."
        )
    detail = reply.text_excerpt()
    if status in _TRANSIENT_STATUSES or status >= 500:
        raise TransientError(
            f"GET {reply.url} returned HTTP {status}: {detail}",
            retry_after=_retry_after_seconds(reply.headers.get("Retry-After")),
        )
    raise PermanentError(f"GET {reply.url} returned HTTP {status}: {detail}")


def _check_json(reply: _Reply) -> None:
    """Raise `InvalidBodyError` unless the body parses as JSON."""
    try:
        json.loads(reply.body)
    except (ValueError, RecursionError) as exc:
        # ValueError covers JSONDecodeError, invalid UTF-8 and integers past
        # Python's limit on digits.
        raise InvalidBodyError(
            f"GET {reply.url} returned a body that is not valid JSON ({exc}); "
            "it may be truncated.",
            body=reply.body,
            source=reply.url,
        ) from None


def _retry_after_seconds(value: str | None) -> float | None:
    """Parse `Retry-After` as seconds or as an HTTP date."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _caused_by_tls(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _tls_context(settings: Settings) -> ssl.SSLContext | bool:
    if settings.ca_bundle is None:
        return True
    try:
        return ssl.create_default_context(cafile=str(settings.ca_bundle))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationError(
            f"Cannot load the CA bundle {str(settings.ca_bundle)!r} named by "
            f"ETL_CA_BUNDLE: {exc}. Point it at a PEM file of trusted certificates."
        ) from exc
