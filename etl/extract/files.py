"""Read saved results: `.json` (one payload or a list), `.jsonl`/`.ndjson`.

Each form may be gzip-compressed (`.gz`). A directory is read recursively in
sorted path order. Payload bodies are kept byte for byte: a list element's
body is its exact text in the file, and a line's body is the line.
"""

from __future__ import annotations

import gzip
import json
import logging
import re
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from etl.errors import SourceError
from etl.extract.records import RawPayload
from etl.normalize.values import clean_text

__all__ = [
    "SUPPORTED_SUFFIXES",
    "check_source",
    "iter_files",
    "read_file",
    "read_payloads",
]

logger = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".json", ".jsonl", ".ndjson")
_LINE_SUFFIXES = (".jsonl", ".ndjson")
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_GZIP_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error)


def _kind(path: Path) -> tuple[str, bool] | None:
    """Return the payload suffix and whether the file is gzip-compressed."""
    name = path.name.lower()
    compressed = name.endswith(".gz")
    if compressed:
        name = name[:-3]
    for suffix in SUPPORTED_SUFFIXES:
        if name.endswith(suffix):
            return suffix, compressed
    return None


def check_source(root: Path) -> None:
    """Raise `SourceError` unless `root` is a results file or a directory."""
    if root.is_dir():
        return
    if not root.exists():
        raise SourceError(f"{str(root)!r} does not exist; check the --from path.")
    if not root.is_file():
        raise SourceError(
            f"{str(root)!r} is neither a regular file nor a directory; point "
            "--from at saved result files or a folder of them."
        )
    if _kind(root) is None:
        raise SourceError(
            f"{str(root)!r} is not a results file; expected a name ending in "
            ".json, .jsonl or .ndjson, optionally followed by .gz."
        )


def iter_files(root: Path) -> Iterator[Path]:
    """Yield the result files under `root`, or `root` itself if it is a file."""
    check_source(root)
    if root.is_file():
        yield root
        return
    for path in sorted(root.rglob("*")):
        if path.is_file() and _kind(path) is not None:
            yield path
        elif path.is_file():
            logger.debug("Skipped %s: not a results file.", path)


def read_payloads(root: Path) -> Iterator[RawPayload]:
    """Yield every payload under `root`, in file order and then line order."""
    for path in iter_files(root):
        yield from read_file(path)


def read_file(path: Path) -> Iterator[RawPayload]:
    """Yield the payloads of one results file, in order."""
    kind = _kind(path)
    assert kind is not None
    suffix, compressed = kind
    try:
        fetched_at = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        with path.open("rb"):
            pass
    except OSError as exc:
        # An unreadable file is rejected on its own; the run goes on.
        yield RawPayload(
            body=b"",
            source=_name(path),
            fetched_at=datetime.now(UTC),
            read_error=(
                f"Cannot read {_name(path)!r}: {exc.strerror or exc}. "
                "Check that the file exists and is readable."
            ),
        )
        return
    if suffix in _LINE_SUFFIXES:
        yield from _read_lines(path, compressed, fetched_at)
    else:
        yield from _read_document(path, compressed, fetched_at)


def _open(path: Path, compressed: bool) -> gzip.GzipFile | BinaryIO:
    if compressed:
        return gzip.open(path, "rb")
    return path.open("rb")


def _read_document(
    path: Path, compressed: bool, fetched_at: datetime
) -> Iterator[RawPayload]:
    source = _name(path)
    try:
        with _open(path, compressed) as stream:
            body = stream.read()
    except _GZIP_ERRORS as exc:
        yield _unreadable(path, fetched_at, exc)
        return
    elements = _split_array(body)
    if elements is None:
        yield RawPayload(body=body, source=source, fetched_at=fetched_at)
        return
    for index, element in enumerate(elements):
        yield RawPayload(
            body=element, source=f"{source}[{index}]", fetched_at=fetched_at
        )


def _read_lines(
    path: Path, compressed: bool, fetched_at: datetime
) -> Iterator[RawPayload]:
    number = 0
    try:
        with _open(path, compressed) as stream:
            for number, line in enumerate(stream, start=1):
                body = line.rstrip(b"\r\n")
                if body.strip():
                    yield RawPayload(
                        body=body,
                        source=f"{_name(path)}:{number}",
                        fetched_at=fetched_at,
                    )
    except _GZIP_ERRORS as exc:
        yield _unreadable(path, fetched_at, exc, after_line=number)


def _unreadable(
    path: Path, fetched_at: datetime, exc: BaseException, after_line: int = 0
) -> RawPayload:
    """Describe a file that could not be read to the end, keeping its bytes."""
    where = f" after line {after_line}" if after_line else ""
    return RawPayload(
        body=path.read_bytes(),
        source=_name(path),
        fetched_at=fetched_at,
        read_error=(
            f"The gzip stream of {_name(path)!r} is corrupt or truncated{where}: "
            f"{exc}. Save the file again from its source."
        ),
    )


def _split_array(body: bytes) -> list[bytes] | None:
    """Split a JSON array into the exact text of its elements.

    Returns None when the body is not a well-formed JSON array, so the caller
    treats it as one payload (which then fails or passes validation whole).
    """
    # surrogateescape keeps invalid bytes through the round trip, so one bad
    # element is rejected on its own while the others load.
    text = body.decode("utf-8", "surrogateescape").removeprefix("\ufeff")
    position = _skip_whitespace(text, 0)
    if not text.startswith("[", position):
        return None
    decoder = json.JSONDecoder()
    elements: list[bytes] = []
    position = _skip_whitespace(text, position + 1)
    if text.startswith("]", position):
        return elements if not text[position + 1 :].strip() else None
    while True:
        try:
            _, end = decoder.raw_decode(text, position)
        except (ValueError, RecursionError):
            return None
        elements.append(text[position:end].encode("utf-8", "surrogateescape"))
        position = _skip_whitespace(text, end)
        if text.startswith(",", position):
            position = _skip_whitespace(text, position + 1)
        elif text.startswith("]", position):
            return elements if not text[position + 1 :].strip() else None
        else:
            return None


def _name(path: Path) -> str:
    """Return the path as storable text: undecodable bytes become U+FFFD."""
    return clean_text(str(path))


def _skip_whitespace(text: str, position: int) -> int:
    match = _WHITESPACE.match(text, position)
    assert match is not None
    return match.end()
