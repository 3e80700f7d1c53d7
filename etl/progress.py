"""Progress of a long run: a bar on a terminal, periodic log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time
from types import TracebackType
from typing import Any

import click

__all__ = ["Progress"]

logger = logging.getLogger(__name__)

_LOG_EVERY_SECONDS = 30.0


class Progress:
    """Count finished work items; show a bar only when stderr is a terminal."""

    def __init__(self) -> None:
        self.total: int | None = None
        self.label = "Working"
        self.done = 0
        self._bar: Any = None
        self._last_log = time.monotonic()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.render_finish()
            self._bar = None

    def start(self, total: int, label: str) -> None:
        """Set the number of items expected; shows the bar on a terminal."""
        self.total = total
        self.label = label
        if total > 1 and sys.stderr.isatty() and _logs_are_text():
            self._bar = click.progressbar(length=total, label=label, file=sys.stderr)
            self._bar.render_progress()

    def advance(self) -> None:
        """Count one finished item: a fetched job or a read file."""
        self.done += 1
        if self._bar is not None:
            self._bar.update(1)
            return
        now = time.monotonic()
        if now - self._last_log >= _LOG_EVERY_SECONDS:
            self._last_log = now
            of_total = f" of {self.total}" if self.total is not None else ""
            logger.info("%s: %d%s done.", self.label, self.done, of_total)


def _logs_are_text() -> bool:
    """Tell whether no handler writes JSON logs, which a bar would corrupt."""
    handlers = logging.getLogger().handlers
    return not any(type(h.formatter).__name__ == "JsonFormatter" for h in handlers)
