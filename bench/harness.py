"""Process plumbing for `bench/run.py`: timed child processes and servers.

Every measured program runs as a child process, and its wall time is
measured from the parent. Its peak resident set size and CPU time come from
`os.wait4` in a small launcher process that starts it, not from this process.
Linux counts the memory of the process that forks into the child's
`ru_maxrss`, so a child started straight from the benchmark would report at
least the benchmark's own peak, which reaches hundreds of MB.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import httpx
import psycopg
from psycopg import sql

__all__ = [
    "BenchError",
    "ChildRun",
    "PostgresServer",
    "StandinServer",
    "fetch_all",
    "fit_arguments",
    "remove_tree",
    "run_child",
]

# Room left for the loader's own use of the argument area, on top of the
# environment and the pointer of each string.
_ARGUMENT_MARGIN_BYTES = 64 * 1024
_RESULTS_PATH = "/api/policy-optimization/online/jobs/{job_id}/results"

# Run by `python -I -S -c` with the usage file and the command as arguments.
# Starting without site-packages keeps the launcher near 10 MB, the least
# peak RSS that a measured child can report.
_LAUNCHER = """
import json, os, sys
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as usage_file:
    json.dump({"status": status, "maxrss_kib": usage.ru_maxrss,
               "cpu_seconds": usage.ru_utime + usage.ru_stime}, usage_file)
"""


class BenchError(Exception):
    """A benchmark step failed in a way that makes its figures meaningless."""


@dataclass(frozen=True)
class ChildRun:
    """The outcome of one timed child process."""

    argv: tuple[str, ...]
    seconds: float
    # User plus system CPU time of the child itself, not of servers it used.
    cpu_seconds: float
    # The 1-minute load average when the child started: other work on the
    # machine that competed for the CPUs.
    load_before: float
    peak_rss_kib: int
    exit_code: int
    stdout: str
    stderr_path: Path

    @property
    def peak_rss_mb(self) -> float:
        return self.peak_rss_kib * 1024 / 1e6

    def stderr_tail(self, lines: int = 20) -> str:
        text = self.stderr_path.read_text("utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def run_child(
    argv: Sequence[str],
    *,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 1800.0,
) -> ChildRun:
    """Run `argv`, wait for it and return its wall time, CPU time and peak RSS.

    Standard output is kept in memory and in a `.stdout` file beside
    `log_path`; standard error goes to `log_path`. The child and its
    launcher are killed after `timeout` seconds, which shows as exit code -9.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    stdout_path = log_path.with_suffix(".stdout")
    usage_path = log_path.with_suffix(".usage.json")
    usage_path.unlink(missing_ok=True)
    launcher = [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(usage_path)]
    with stdout_path.open("wb") as stdout, log_path.open("wb") as stderr:
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        process = subprocess.Popen(
            [*launcher, *argv],
            stdout=stdout,
            stderr=stderr,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
        watchdog = threading.Timer(timeout, os.killpg, (process.pid, signal.SIGKILL))
        watchdog.start()
        try:
            process.wait()
        finally:
            watchdog.cancel()
        seconds = time.perf_counter() - started
    try:
        usage = json.loads(usage_path.read_text("utf-8"))
    except (OSError, json.JSONDecodeError):
        # The launcher was killed before it wrote the usage of its child.
        usage = {"status": None, "maxrss_kib": 0, "cpu_seconds": 0.0}
    status = usage["status"]
    exit_code = -9 if status is None else os.waitstatus_to_exitcode(status)
    return ChildRun(
        argv=tuple(argv),
        seconds=seconds,
        cpu_seconds=usage["cpu_seconds"],
        load_before=load_before,
        peak_rss_kib=usage["maxrss_kib"],
        exit_code=exit_code,
        stdout=stdout_path.read_text("utf-8", errors="replace"),
        stderr_path=log_path,
    )


def fit_arguments(
    fixed: Sequence[str], repeated: Sequence[Sequence[str]], env: Mapping[str, str]
) -> int:
    """Return how many groups of `repeated` fit on one command line after `fixed`.

    The budget is the kernel's `ARG_MAX` less the environment and a margin.
    Each string costs its UTF-8 bytes, a NUL and one pointer.
    """
    budget = os.sysconf("SC_ARG_MAX") - _ARGUMENT_MARGIN_BYTES
    pointer = 8

    def cost(strings: Sequence[str]) -> int:
        return sum(len(item.encode()) + 1 + pointer for item in strings)

    used = cost(fixed) + cost([f"{key}={value}" for key, value in env.items()])
    count = 0
    for group in repeated:
        used += cost(group)
        if used > budget:
            break
        count += 1
    return count


class PostgresServer:
    """A throwaway PostgreSQL server from `scripts/throwaway-postgres.sh`.

    With `url` set, the server at that URL is used instead and nothing is
    started or stopped. Either way the role needs `CREATEDB`, because each
    measurement gets a fresh database that `close` drops again.
    """

    def __init__(self, script: Path, work_dir: Path, url: str | None = None) -> None:
        self._script = script
        self._cluster_dir = work_dir / "pg"
        self._owned = url is None
        self._created: list[str] = []
        self.url = url or self._start(work_dir)

    def _start(self, work_dir: Path) -> str:
        # The cluster runs as the postgres OS user when this runs as root, and
        # that user must be able to reach the cluster directory.
        work_dir.chmod(0o755)
        port = subprocess.run(
            ["bash", str(self._script), "free-port"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        started = subprocess.run(
            ["bash", str(self._script), "start", str(self._cluster_dir), port],
            capture_output=True,
            text=True,
        )
        if started.returncode != 0:
            raise BenchError(
                f"Starting PostgreSQL with {self._script} failed:\n{started.stderr}"
            )
        return started.stdout.strip().splitlines()[-1]

    def _admin_conninfo(self) -> str:
        return self.url.replace("postgresql+psycopg://", "postgresql://", 1)

    def create_database(self, name: str) -> str:
        """Create an empty database and return its SQLAlchemy URL."""
        with psycopg.connect(self._admin_conninfo(), autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name))
            )
            connection.execute(
                sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            )
        self._created.append(name)
        base, _, _ = self.url.rpartition("/")
        return f"{base}/{name}"

    def server_version(self) -> str:
        with psycopg.connect(self._admin_conninfo()) as connection:
            row = connection.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "unknown"

    def close(self) -> None:
        """Drop the databases this object created and stop the owned server."""
        if self._owned:
            subprocess.run(
                ["bash", str(self._script), "stop", str(self._cluster_dir)],
                check=False,
                capture_output=True,
            )
            return
        with psycopg.connect(self._admin_conninfo(), autocommit=True) as connection:
            for name in self._created:
                connection.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name))
                )

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class StandinServer:
    """`tests/standin_api.py` serving a corpus directory in a child process."""

    def __init__(
        self,
        python: Path,
        script: Path,
        corpus: Path,
        *,
        api_key: str,
        latency_ms: int,
        log_path: Path,
    ) -> None:
        env = dict(os.environ, SYNTH_API_KEY=api_key)
        self._log = log_path.open("wb")
        self._process = subprocess.Popen(
            [
                str(python),
                str(script),
                "--corpus",
                str(corpus),
                "--latency-ms",
                str(latency_ms),
            ],
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
            text=True,
        )
        assert self._process.stdout is not None
        # The script prints the base URL once it has loaded the corpus.
        first_line = self._process.stdout.readline().strip()
        if not first_line.startswith("http://"):
            self.close()
            raise BenchError(
                f"The stand-in API did not start; see {log_path} for its log."
            )
        self.url = first_line

    def close(self) -> None:
        """Stop the server with SIGTERM, or SIGKILL if it has not exited in 10 s."""
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._log.close()

    def __enter__(self) -> StandinServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def remove_tree(path: Path) -> None:
    """Delete a directory tree if it exists."""
    if path.exists():
        shutil.rmtree(path)


def fetch_all(
    base_url: str, job_ids: Sequence[str], *, api_key: str, concurrency: int
) -> float:
    """Fetch every job's results with a plain httpx client; return the seconds.

    The client reads each body and drops it, so the time is what the server
    and the loopback connection allow at this concurrency, with no archiving.
    Raises BenchError on any response other than 200.
    """

    async def fetch_everything() -> float:
        pending: asyncio.Queue[str] = asyncio.Queue()
        for job_id in job_ids:
            pending.put_nowait(job_id)
        limits = httpx.Limits(
            max_connections=concurrency, max_keepalive_connections=concurrency
        )
        headers = {"Authorization": f"Bearer {api_key}"}
        async with httpx.AsyncClient(
            base_url=base_url, limits=limits, headers=headers, timeout=60
        ) as client:

            async def worker() -> None:
                while not pending.empty():
                    job_id = pending.get_nowait()
                    response = await client.get(_RESULTS_PATH.format(job_id=job_id))
                    if response.status_code != 200:
                        raise BenchError(
                            f"The stand-in API returned {response.status_code} "
                            f"for job {job_id}."
                        )

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return time.perf_counter() - started

    return asyncio.run(fetch_everything())
