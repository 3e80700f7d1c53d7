"""Discover the account's jobs through either listing style of the API.

- offset: `GET /api/policy-optimization/online/jobs?limit=&offset=&status=`
  returns a bare array or a `{jobs|data|items: [...]}` envelope. The last
  page is an empty one or one shorter than the longest page so far, which
  also ends the listing correctly when the server caps `limit` lower.
- cursor: `GET /api/v1/offline/jobs?limit=&cursor=&state=&created_after=`
  returns `{items|data: [...], next_cursor}`; an absent or empty cursor ends
  the listing.

Summaries carry `job_id` or `id`, and `status` or `state`. Filters are also
applied to each summary here, because a server may ignore them.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from etl.errors import PermanentError
from etl.normalize.values import clean_text, parse_timestamp

if TYPE_CHECKING:
    from etl.extract.api import SynthClient

__all__ = [
    "CURSOR_LISTING_PATH",
    "OFFSET_LISTING_PATH",
    "JobFilter",
    "JobSummary",
    "list_jobs",
]

logger = logging.getLogger(__name__)

OFFSET_LISTING_PATH = "/api/policy-optimization/online/jobs"
CURSOR_LISTING_PATH = "/api/v1/offline/jobs"
PAGE_SIZE = 200
_ENVELOPE_KEYS = ("jobs", "data", "items")


@dataclass(frozen=True)
class JobSummary:
    """One entry of a job listing."""

    job_id: str
    status: str | None
    created_at: datetime | None


@dataclass(frozen=True)
class JobFilter:
    """Listing filters: a raw status and a creation time (exclusive bound)."""

    status: str | None = None
    created_after: datetime | None = None

    def accepts(self, summary: JobSummary) -> bool:
        """Tell whether a summary passes; a summary without the field passes."""
        if self.status is not None and summary.status is not None:
            expected = self.status.strip().lower()
            if summary.status.strip().lower() != expected:
                return False
        if self.created_after is not None and summary.created_at is not None:
            return summary.created_at > self.created_after
        return True


async def list_jobs(
    client: SynthClient, style: str, job_filter: JobFilter
) -> AsyncIterator[JobSummary]:
    """Yield every job of the listing once, reading it to the last page."""
    pages = _offset_pages if style == "offset" else _cursor_pages
    seen: set[str] = set()
    async for items in pages(client, job_filter):
        for item in items:
            summary = _parse_summary(item)
            if summary is None or summary.job_id in seen:
                continue
            seen.add(summary.job_id)
            if job_filter.accepts(summary):
                yield summary


async def _offset_pages(
    client: SynthClient, job_filter: JobFilter
) -> AsyncIterator[list[Any]]:
    offset = 0
    longest = 0
    while True:
        params: dict[str, Any] = {"limit": PAGE_SIZE, "offset": offset}
        if job_filter.status is not None:
            params["status"] = job_filter.status
        document = await _get_page(client, OFFSET_LISTING_PATH, params)
        items = _page_items(document, OFFSET_LISTING_PATH)
        yield items
        if not items or len(items) < longest:
            return
        longest = len(items)
        offset += len(items)


async def _cursor_pages(
    client: SynthClient, job_filter: JobFilter
) -> AsyncIterator[list[Any]]:
    cursor: str | None = None
    used: set[str] = set()
    while True:
        params: dict[str, Any] = {"limit": PAGE_SIZE}
        if cursor:
            params["cursor"] = cursor
        if job_filter.status is not None:
            params["state"] = job_filter.status
        if job_filter.created_after is not None:
            params["created_after"] = job_filter.created_after.isoformat()
        document = await _get_page(client, CURSOR_LISTING_PATH, params)
        yield _page_items(document, CURSOR_LISTING_PATH)
        cursor = document.get("next_cursor") if isinstance(document, dict) else None
        if not cursor:
            return
        if not isinstance(cursor, str) or cursor in used:
            raise PermanentError(
                f"The job listing at {CURSOR_LISTING_PATH} returned the cursor "
                f"{str(cursor)[:60]!r} twice; stopping to avoid an endless listing."
            )
        used.add(cursor)


async def _get_page(client: SynthClient, path: str, params: dict[str, Any]) -> Any:
    try:
        return await client.get_json(path, params)
    except PermanentError as error:
        if "returned HTTP 404" not in str(error):
            raise
        raise PermanentError(
            f"{error} The API has no job listing at {path}; check "
            "ETL_LISTING_STYLE (offset or cursor)."
        ) from None


def _page_items(document: Any, path: str) -> list[Any]:
    if isinstance(document, list):
        return document
    if isinstance(document, dict):
        for key in _ENVELOPE_KEYS:
            if isinstance(document.get(key), list):
                items: list[Any] = document[key]
                return items
    raise PermanentError(
        f"The job listing at {path} returned neither an array nor an object with "
        "a jobs, data or items array. Check ETL_LISTING_STYLE."
    )


def _parse_summary(item: Any) -> JobSummary | None:
    if not isinstance(item, dict):
        logger.warning("Skipped a job listing entry that is not an object: %.80r", item)
        return None
    job_id = item.get("job_id", item.get("id"))
    if isinstance(job_id, int) and not isinstance(job_id, bool):
        job_id = str(job_id)
    if not isinstance(job_id, str) or not job_id.strip():
        logger.warning("Skipped a job listing entry without job_id or id: %.80r", item)
        return None
    status = item.get("status", item.get("state"))
    return JobSummary(
        job_id=clean_text(job_id),
        status=status if isinstance(status, str) else None,
        created_at=_created_at(item.get("created_at")),
    )


def _created_at(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        return None
