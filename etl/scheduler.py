"""Run `etl db upgrade` once, then `etl sync` at a fixed interval, until stopped.

The container image runs this as `python -m etl.scheduler`. Each step is a
separate `python -m etl` process, so a crash or a leak in one run cannot
affect the next. SIGTERM or SIGINT stop the loop: a running sync receives
SIGINT, records itself as failed in `etl_runs` and exits, and the scheduler
exits 0 after it.

Environment: ETL_SYNC_INTERVAL sets the interval in seconds (default 900),
ETL_SYNC_ARGS adds arguments to every `etl sync` (split like a shell would),
and ETL_LOG_FORMAT (`text` or `json`) sets the log format of the scheduler
and of each step. Every `etl` setting, such as ETL_DATABASE_URL, passes to
the steps through the environment.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from types import FrameType

from etl.logs import configure_logging

__all__ = ["main", "run_schedule"]

# Named explicitly because __name__ is "__main__" under `python -m etl.scheduler`.
logger = logging.getLogger("etl.scheduler")

DEFAULT_INTERVAL = 900.0
# Exit codes of `etl` (see etl.cli) after which the loop stops, because waiting
# does not fix invalid configuration or usage.
_STOP_CODES = {2: "invalid configuration or usage"}
_SYNC_OUTCOMES = {
    0: "succeeded",
    1: "failed",
    3: "partly succeeded",
    4: "skipped because another run holds the lock",
}


class _Scheduler:
    """The loop's state: the stop request and the step that is running."""

    def __init__(self, log_format: str) -> None:
        self.stopping = threading.Event()
        self.child: subprocess.Popen[bytes] | None = None
        self.log_format = log_format

    def request_stop(self, signum: int, _frame: FrameType | None) -> None:
        logger.info("Received %s, stopping.", signal.Signals(signum).name)
        self.stopping.set()
        child = self.child
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGINT)

    def wait(self, seconds: float) -> None:
        """Sleep for `seconds`, or less when a stop is requested meanwhile."""
        self.stopping.wait(seconds)

    def run_step(self, arguments: Sequence[str]) -> int:
        command = [sys.executable, "-m", "etl", "--log-format", self.log_format]
        command += arguments
        logger.info("Starting etl %s.", " ".join(arguments))
        # A new session keeps a terminal's Ctrl-C away from the step, so the
        # step gets SIGINT once, from request_stop.
        self.child = subprocess.Popen(command, start_new_session=True)
        try:
            return self.child.wait()
        finally:
            self.child = None


def run_schedule(
    sync_arguments: Sequence[str],
    interval: float,
    once: bool = False,
    log_format: str = "text",
) -> int:
    """Upgrade the schema, then sync every `interval` seconds until stopped.

    Returns 0 after a stop signal. Returns the step's exit code when the
    upgrade fails, when a sync reports invalid configuration, and with `once`
    after the one sync.
    """
    scheduler = _Scheduler(log_format)
    previous = {
        signum: signal.signal(signum, scheduler.request_stop)
        for signum in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        return _loop(scheduler, sync_arguments, interval, once)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _loop(
    scheduler: _Scheduler, sync_arguments: Sequence[str], interval: float, once: bool
) -> int:
    code = scheduler.run_step(["db", "upgrade"])
    if scheduler.stopping.is_set():
        return 0
    if code != 0:
        logger.error(
            "etl db upgrade failed with exit code %d, so the scheduler stops. "
            "Check ETL_DATABASE_URL and the database, then restart.",
            code,
        )
        return code
    while not scheduler.stopping.is_set():
        started = time.monotonic()
        code = scheduler.run_step(["sync", *sync_arguments])
        if code in _STOP_CODES:
            logger.error(
                "etl sync exited with code %d (%s). Fix the configuration and "
                "restart the scheduler.",
                code,
                _STOP_CODES[code],
            )
            return code
        outcome = _SYNC_OUTCOMES.get(code, "ended unexpectedly")
        logger.info("etl sync %s (exit code %d).", outcome, code)
        if once:
            return code
        wait = max(interval - (time.monotonic() - started), 0.0)
        logger.info("Next sync in %.0f s.", wait)
        scheduler.wait(wait)
    return 0


def _positive_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        message = f"invalid number of seconds: {text!r}"
        raise argparse.ArgumentTypeError(message) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"the interval must be above 0, got {text}")
    return seconds


def _parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m etl.scheduler",
        description="Run `etl db upgrade` once, then `etl sync` every interval "
        "until SIGTERM or SIGINT.",
        epilog="ETL_SYNC_ARGS comes before the arguments given here. Example: "
        "python -m etl.scheduler --interval 900 -- --status running",
    )
    parser.add_argument(
        "--interval",
        type=_positive_seconds,
        default=os.environ.get("ETL_SYNC_INTERVAL", str(DEFAULT_INTERVAL)),
        help="Seconds from the start of one sync to the start of the next "
        "[env ETL_SYNC_INTERVAL; default 900]. A sync that takes longer is "
        "followed by the next one at once.",
    )
    parser.add_argument(
        "--once",
        action="store_true",
        help="Run one sync after the upgrade and exit with its exit code.",
    )
    parser.add_argument(
        "--log-format",
        choices=["text", "json"],
        default=os.environ.get("ETL_LOG_FORMAT", "text"),
        help="Log lines as plain text or as JSON objects [env ETL_LOG_FORMAT; "
        "default text].",
    )
    parser.add_argument(
        "sync_arguments",
        nargs="*",
        metavar="SYNC_ARGUMENT",
        help="Argument for every `etl sync`. Put -- before the first one.",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, run the schedule and return its exit code."""
    arguments = _parse_arguments(argv)
    configure_logging("INFO", arguments.log_format)
    try:
        sync_arguments = shlex.split(os.environ.get("ETL_SYNC_ARGS", ""))
    except ValueError as error:
        logger.error(
            "ETL_SYNC_ARGS is invalid (%s); fix its quoting and restart the scheduler.",
            error,
        )
        return 2
    sync_arguments += arguments.sync_arguments
    return run_schedule(
        sync_arguments, arguments.interval, arguments.once, arguments.log_format
    )


if __name__ == "__main__":
    sys.exit(main())
