"""Turn the bytes of a payload into a flat, validated `ResultsPayload`."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import ValidationError

from etl.errors import PayloadError
from etl.normalize.models import ResultsPayload
from etl.normalize.values import clean_tree

__all__ = ["CONTAINERS", "KNOWN_FIELDS", "merge_containers", "parse_body", "validate"]

# Objects that may carry any payload field; the first non-null value wins,
# in this order, after the top level.
CONTAINERS = ("result", "metadata", "job_metadata")
# JSON can carry NUL or a surrogate only as a `\u` escape, because the parser
# rejects raw control characters and invalid UTF-8 fails to decode. A body
# without such an escape needs no cleaning.
_UNSAFE_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")
KNOWN_FIELDS = frozenset(ResultsPayload.model_fields)


def parse_body(body: bytes) -> dict[str, Any]:
    """Parse a payload body into a JSON object with text made storable."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PayloadError(
            f"The body is not valid UTF-8 (byte {exc.start}); "
            "save the payload as UTF-8 JSON."
        ) from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PayloadError(
            f"The body is not valid JSON ({exc.msg}, line {exc.lineno}, column "
            f"{exc.colno}); the payload may be truncated."
        ) from None
    except ValueError as exc:
        # Python refuses integers of more than 4,300 digits by default.
        raise PayloadError(f"The body contains an invalid JSON value: {exc}.") from None
    except RecursionError:
        raise PayloadError("The body nests JSON too deeply to parse.") from None
    if not isinstance(value, dict):
        raise PayloadError(
            f"The body is a JSON {_json_type(value)}, but a results payload must "
            "be a JSON object with a job_id."
        )
    if _UNSAFE_ESCAPE.search(text) is None:
        return value
    try:
        cleaned: dict[str, Any] = clean_tree(value)
    except RecursionError:
        raise PayloadError("The body nests JSON too deeply to clean.") from None
    return cleaned


def merge_containers(payload: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Lift known fields out of `result`, `metadata` and `job_metadata`.

    Returns the flat fields and, for each, the prefix of its source (``""``
    for the top level, ``"result."`` and so on), used in error paths.
    """
    flat: dict[str, Any] = {}
    origin: dict[str, str] = {}
    sources: list[tuple[str, dict[str, Any]]] = [("", payload)]
    for container in CONTAINERS:
        nested = payload.get(container)
        if isinstance(nested, dict):
            sources.append((f"{container}.", nested))
    for name in KNOWN_FIELDS:
        for prefix, source in sources:
            if source.get(name) is not None:
                flat[name] = source[name]
                origin[name] = prefix
                break
    return flat, origin


def validate(payload: dict[str, Any]) -> ResultsPayload:
    """Validate a parsed payload; errors name the full field path."""
    flat, origin = merge_containers(payload)
    if "job_id" not in flat:
        raise PayloadError(
            "The payload has no job_id at the top level or under "
            "result, metadata or job_metadata.",
            path="job_id",
        )
    try:
        return ResultsPayload.model_validate(flat)
    except ValidationError as exc:
        job_id = flat["job_id"]
        known_id = str(job_id) if isinstance(job_id, str | int) else None
        raise _describe(exc, origin, known_id) from None


def _describe(
    exc: ValidationError, origin: dict[str, str], job_id: str | None
) -> PayloadError:
    first = exc.errors(include_url=False)[0]
    location = [str(part) for part in first["loc"]]
    path = origin.get(location[0], "") + ".".join(location) if location else ""
    if first["type"] == "value_error":
        # The project's own validators already name the value they reject.
        problem = first["msg"].removeprefix("Value error, ")
    else:
        excerpt = repr(first.get("input"))
        if len(excerpt) > 80:
            excerpt = excerpt[:77] + "..."
        problem = f"{first['msg'].lower()}, got {excerpt}"
    more = exc.error_count() - 1
    suffix = f" ({more} more invalid field{'s' if more != 1 else ''})" if more else ""
    message = f"Invalid value at {path}: {problem}{suffix}."
    return PayloadError(message, path=path, job_id=job_id)


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"
