"""Benchmark `etl sync` against a bulk-load floor and dlt on one corpus.

One run generates a seeded corpus (`bench/corpus.py`), then measures on it:

- `etl sync --from` into a fresh SQLite file and a fresh PostgreSQL
  database: first load, re-sync of the unchanged corpus, and re-sync after a
  fraction of the jobs changed;
- the floor (`bench/floor.py`): the same rows flattened by a minimal loop and
  bulk-loaded into empty archive tables with `executemany` or `COPY`;
- dlt (pinned, in `bench/.venv-dlt`, which this script creates) loading the
  corpus with `write_disposition="merge"` into both databases;
- `etl sync --job-id` against `tests/standin_api.py` with injected latency;
- the peak RSS of `etl sync --from` at the default size and at a larger one.

It prints a markdown report with every figure and the targets marked pass or
fail, and writes it to `--out`. Run it with the project's virtual
environment, which has psycopg and httpx:

    .venv/bin/python bench/run.py --jobs 1000 --out bench/results.md
    .venv/bin/python bench/run.py --tiny          # a quick check, no dlt
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import re
import shlex
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import corpus
import floor
import harness
import psycopg
import report
from harness import BenchError, ChildRun, PostgresServer, StandinServer

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
DLT_VERSION = "1.31.0"
DLT_REQUIREMENT = f"dlt[postgres,sqlalchemy]=={DLT_VERSION}"
DLT_VENV = BENCH / ".venv-dlt"
# A key that only the stand-in API started by this script accepts.
STANDIN_API_KEY = "sk_test_bench"
ROWS_LINE = re.compile(r"^\s+(\w+)\s+(\d+)\s*$")
# The line before the row counts in the output of `etl db rows`, and of
# `etl sync` in versions that printed them after each run.
ROWS_HEADER = "Rows in "
# The summary line that `etl sync` prints, such as "Run … succeeded in 2.41 s:
# 1000 listed, 235 fetched, …"; older versions print no "listed" count.
RUN_SUMMARY = re.compile(
    r" in (?P<seconds>[0-9.]+) s: (?:(?P<listed>\d+) listed, )?(?P<fetched>\d+) fetched"
)
STEPS = ("etl", "floor", "dlt", "api", "rss")


_PASSWORD_IN_URL = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")


def mask_passwords(text: str) -> str:
    """Replace the password of every URL in `text` with `***`."""
    return _PASSWORD_IN_URL.sub(r"\1***@", text)


class Bench:
    """The corpus, the databases and the figures of one benchmark run."""

    def __init__(
        self, args: argparse.Namespace, work: Path, postgres: PostgresServer | None
    ) -> None:
        self.args = args
        self.work = work
        self.postgres = postgres
        self.etl = Path(args.etl)
        self.python = self.etl.parent / "python"
        self.shape = corpus.CorpusShape()
        self.figures: dict[str, report.Figure] = {}
        self.notes: list[str] = []
        self.errors: list[str] = []
        self.base_dir = work / "corpus" / "base"
        self.changed_dir = work / "corpus" / "changed"
        self.api_dir = work / "corpus" / "api"
        self.changed_jobs = len(
            corpus.changed_indexes(args.seed, args.jobs, args.change_fraction)
        )

    # -- helpers ---------------------------------------------------------

    def log(self, message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    def etl_env(self) -> dict[str, str]:
        """Return the environment without settings that would redirect `etl`."""
        return {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("ETL_", "SYNTH_"))
        }

    def run(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> ChildRun:
        log_path = self.work / "logs" / f"{name}.log"
        self.log(f"{name}: {mask_passwords(shlex.join(argv))[:200]}")
        child = harness.run_child(argv, log_path=log_path, env=env, cwd=cwd)
        self.log(f"{name}: exit {child.exit_code} in {child.seconds:.2f} s")
        return child

    def rows_in(self, changed: bool) -> int:
        """Return the table rows, raw payloads included, that a corpus represents."""
        jobs: int = self.args.jobs
        changed_jobs = self.changed_jobs if changed else 0
        per_job = corpus.rows_per_job(self.shape) + 1
        per_changed_job = corpus.rows_per_job(self.shape, changed=True) + 1
        return (jobs - changed_jobs) * per_job + changed_jobs * per_changed_job

    def sqlite_url(self, name: str) -> str:
        path = self.work / "db" / f"{name}.sqlite"
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"

    def database_url(self, database: str, name: str) -> str:
        if database == "sqlite":
            return self.sqlite_url(name)
        assert self.postgres is not None
        return self.postgres.create_database(f"bench_{name}")

    def databases(self) -> list[str]:
        return ["sqlite"] if self.postgres is None else ["sqlite", "postgresql"]

    # -- corpus ----------------------------------------------------------

    def write_corpora(self) -> None:
        """Write the corpora that the chosen steps read."""
        args = self.args
        self.log(f"writing the corpus: {args.jobs} jobs, seed {args.seed}")
        variants = [(self.base_dir, 0.0)]
        if "etl" in args.steps:
            variants.append((self.changed_dir, args.change_fraction))
        for directory, change_fraction in variants:
            corpus.write_corpus(
                directory,
                jobs=args.jobs,
                seed=args.seed,
                shape=self.shape,
                change_fraction=change_fraction,
                jobs_per_file=args.jobs_per_file,
            )
        if "api" in args.steps:
            corpus.write_corpus(
                self.api_dir,
                jobs=args.jobs,
                seed=args.seed,
                shape=self.shape,
                per_job_json=True,
            )

    # -- etl sync --from -------------------------------------------------

    def etl_sync(
        self, name: str, source: Path, url: str, expected_rows: int
    ) -> ChildRun:
        # A re-sync reads files written earlier; moving their modification
        # time to now makes etl treat them as just fetched, as the API would.
        now = time.time()
        for path in source.glob("*.jsonl"):
            os.utime(path, (now, now))
        child = self.run(
            name,
            [str(self.etl), "sync", "--from", str(source), "--database-url", url],
            env=self.etl_env(),
            cwd=self.work,
        )
        self.check_exit(name, child)
        counted = self.archived_rows(child.stdout, url)
        if child.exit_code == 0 and counted != expected_rows:
            self.notes.append(
                f"`{name}`: the archive holds {counted:,} rows after the run, "
                f"expected {expected_rows:,}."
            )
        return child

    def archived_rows(self, stdout: str, url: str) -> int:
        """Sum the archive's data-table rows, outside the timed run.

        etl versions that print the row counts after each sync are read from
        that output; later ones are counted with `etl db rows`.
        """
        if ROWS_HEADER in stdout:
            return _archived_rows(stdout)
        counted = subprocess.run(
            [str(self.etl), "db", "rows", "--database-url", url],
            capture_output=True,
            text=True,
            env=self.etl_env(),
            cwd=self.work,
            check=False,
        )
        return _archived_rows(counted.stdout)

    def check_exit(self, name: str, child: ChildRun) -> None:
        if child.exit_code != 0:
            self.errors.append(
                f"`{name}` exited with {child.exit_code}:\n\n```\n"
                f"{child.stderr_tail()}\n```"
            )

    def measure_etl(self, database: str) -> None:
        """Measure a first load, two re-syncs and an empty sync, best of N."""
        label = report.DATABASE_LABELS[database]
        first_rows = self.rows_in(changed=False)
        # The archive keeps the old payload of each changed job and adds the
        # new frames; every other row stays.
        changed_rows = self.rows_in(changed=True) + self.changed_jobs
        empty_dir = self.work / "corpus" / "empty"
        empty_dir.mkdir(parents=True, exist_ok=True)

        scenarios = (
            ("first", "etl first load", self.base_dir, first_rows, first_rows),
            (
                "unchanged",
                "etl re-sync, unchanged",
                self.base_dir,
                first_rows,
                first_rows,
            ),
            (
                "changed",
                f"etl re-sync, {self.changed_jobs} of the jobs changed",
                self.changed_dir,
                changed_rows,
                self.rows_in(changed=True),
            ),
            ("empty", "etl sync of an empty directory", empty_dir, changed_rows, 0),
        )

        runs: dict[str, list[ChildRun]] = {key: [] for key, *_ in scenarios}
        for repetition in range(1, self.args.repeat + 1):
            url = self.database_url(database, f"etl_{database}_{repetition}")
            for key, _, source, archived, _ in scenarios:
                name = f"etl-{database}-{key}-{repetition}"
                runs[key].append(self.etl_sync(name, source, url, archived))

        for key, step, _, _, rows in scenarios:
            jobs = 0 if key == "empty" else None
            self.add_best(f"etl.{database}.{key}", step, label, runs[key], rows, jobs)

    def add_best(
        self,
        key: str,
        step: str,
        database: str,
        children: Sequence[ChildRun],
        rows: int,
        jobs: int | None = None,
        note: str = "",
    ) -> None:
        """Record the fastest of repeated runs, with every time in the note.

        The fastest run is the one least slowed by other work on the machine.
        Peak RSS is the largest of all runs.
        """
        succeeded = [child for child in children if child.exit_code == 0]
        best = min(succeeded or children, key=lambda child: child.seconds)
        if len(children) > 1:
            times = " / ".join(f"{child.seconds:.2f}" for child in children)
            note = "; ".join(filter(None, [f"best of {times} s", note]))
        self.add(key, step, database, best, rows, jobs=jobs, note=note)
        self.figures[key] = dataclasses.replace(
            self.figures[key],
            ok=len(succeeded) == len(children),
            peak_rss_mb=max(child.peak_rss_mb for child in children),
        )

    def add(
        self,
        key: str,
        step: str,
        database: str,
        child: ChildRun,
        rows: int,
        *,
        jobs: int | None = None,
        note: str = "",
        run_seconds: float | None = None,
    ) -> None:
        if run_seconds is None:
            summary = RUN_SUMMARY.search(child.stdout)
            run_seconds = float(summary.group("seconds")) if summary else None
        self.figures[key] = report.Figure(
            step=step,
            database=database,
            jobs=self.args.jobs if jobs is None else jobs,
            rows=rows,
            seconds=child.seconds,
            peak_rss_mb=child.peak_rss_mb,
            ok=child.exit_code == 0,
            note=note,
            cpu_seconds=child.cpu_seconds,
            load_before=child.load_before,
            run_seconds=run_seconds,
        )

    # -- floor -----------------------------------------------------------

    def measure_floor(self, database: str) -> None:
        """Bulk-load the corpus into empty archive tables, best of N."""
        children: list[ChildRun] = []
        phases: list[str] = []
        for repetition in range(1, self.args.repeat + 1):
            name = f"floor-{database}-{repetition}"
            url = self.database_url(database, f"floor_{database}_{repetition}")
            upgrade = self.run(
                f"{name}-schema",
                [str(self.etl), "db", "upgrade", "--database-url", url],
                env=self.etl_env(),
                cwd=self.work,
            )
            self.check_exit(f"{name}-schema", upgrade)
            child = self.run(
                name,
                [
                    str(self.python),
                    str(BENCH / "floor.py"),
                    "--from",
                    str(self.base_dir),
                    "--database-url",
                    url,
                ],
                cwd=self.work,
            )
            self.check_exit(name, child)
            children.append(child)
            if child.exit_code == 0:
                result = json.loads(child.stdout.strip().splitlines()[-1])
                phases.append(
                    f"flatten {result['flatten_seconds']:.1f} s, "
                    f"load {result['load_seconds']:.1f} s"
                )
            else:
                phases.append("")
        fastest = min(range(len(children)), key=lambda index: children[index].seconds)
        step = "floor: executemany" if database == "sqlite" else "floor: COPY"
        self.add_best(
            f"floor.{database}",
            step,
            report.DATABASE_LABELS[database],
            children,
            self.rows_in(changed=False),
            note=phases[fastest],
        )

    # -- dlt -------------------------------------------------------------

    def ensure_dlt_venv(self) -> Path:
        """Create `bench/.venv-dlt` with the pinned dlt unless it is there."""
        python = DLT_VENV / "bin" / "python"
        installed = None
        if python.exists():
            script = "import importlib.metadata as m; print(m.version('dlt'))"
            probe = subprocess.run(
                [str(python), "-c", script],
                capture_output=True,
                text=True,
            )
            installed = probe.stdout.strip() if probe.returncode == 0 else None
        if installed == DLT_VERSION:
            return python
        self.log(f"installing {DLT_REQUIREMENT} into {DLT_VENV}")
        subprocess.run([sys.executable, "-m", "venv", str(DLT_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", DLT_REQUIREMENT],
            check=True,
        )
        return python

    def dlt_env(self) -> dict[str, str]:
        (self.work / "dlt").mkdir(parents=True, exist_ok=True)
        env = self.etl_env()
        # dlt sends anonymous usage data by default; this run stays on loopback.
        env["RUNTIME__DLTHUB_TELEMETRY"] = "false"
        env["DLT_DATA_DIR"] = str(self.work / "dlt" / "data")
        return env

    def dlt_credentials(self, database: str, name: str) -> str:
        url = self.database_url(database, name)
        # dlt's postgres destination uses psycopg2, so the URL names no driver.
        return url.replace("postgresql+psycopg://", "postgresql://", 1)

    def run_dlt(
        self, python: Path, database: str, variant: str, source: Path, name: str
    ) -> tuple[ChildRun, dict[str, object]]:
        credentials = self.dlt_credentials(database, name)
        destination = "sqlite" if database == "sqlite" else "postgres"
        child = self.run(
            name,
            [
                str(python),
                str(BENCH / "dlt_load.py"),
                "--from",
                str(source),
                "--destination",
                destination,
                "--credentials",
                credentials,
                "--variant",
                variant,
                "--pipelines-dir",
                str(self.work / "dlt" / "pipelines"),
                "--pipeline-name",
                name.replace("-", "_"),
            ],
            env=self.dlt_env(),
            cwd=self.work / "dlt",
        )
        lines = child.stdout.strip().splitlines()
        try:
            result: dict[str, object] = json.loads(lines[-1]) if lines else {}
        except json.JSONDecodeError:
            result = {}
        return child, result

    def measure_dlt(self, python: Path, database: str) -> None:
        label = report.DATABASE_LABELS[database]
        slice_jobs = min(self.args.dlt_as_shipped_jobs, self.args.jobs)
        slice_dir = self.work / "corpus" / f"first_{slice_jobs}"
        if not slice_dir.exists():
            corpus.write_corpus(
                slice_dir, jobs=slice_jobs, seed=self.args.seed, shape=self.shape
            )
        name = f"dlt-{database}-as-shipped"
        child, result = self.run_dlt(python, database, "as-shipped", slice_dir, name)
        slice_rows = slice_jobs * (corpus.rows_per_job(self.shape) + 1)
        if result.get("ok"):
            note = f"loaded {result.get('tables')} tables"
        else:
            message = str(result.get("message") or child.stderr_tail(5))
            note = _dlt_cause(message)
            self.notes.append(
                f"dlt as shipped, {label}, {slice_jobs} jobs: {_dlt_cause(message)}"
            )
        self.add(
            f"dlt.{database}.as_shipped",
            "dlt as shipped",
            label,
            child,
            slice_rows,
            jobs=slice_jobs,
            note=note,
        )

        name = f"dlt-{database}-maps-as-lists"
        child, result = self.run_dlt(
            python, database, "maps-as-lists", self.base_dir, name
        )
        self.check_exit(name, child)
        steps = result.get("steps")
        note = ""
        if isinstance(steps, dict):
            parts = [f"{step} {seconds:.0f} s" for step, seconds in steps.items()]
            note = ", ".join(parts)
        self.add(
            f"dlt.{database}.first",
            "dlt, maps as lists",
            label,
            child,
            self.rows_in(changed=False),
            note=note,
        )

    # -- API extraction --------------------------------------------------

    def measure_api(self) -> None:
        args = self.args
        job_ids = sorted(path.stem for path in self.api_dir.glob("*.json"))
        url = self.sqlite_url("etl_api")
        env = self.etl_env() | {"SYNTH_API_KEY": STANDIN_API_KEY}
        (self.work / "logs").mkdir(parents=True, exist_ok=True)
        with StandinServer(
            self.python,
            REPO / "tests" / "standin_api.py",
            self.api_dir,
            api_key=STANDIN_API_KEY,
            latency_ms=args.api_latency_ms,
            log_path=self.work / "logs" / "standin.log",
        ) as server:
            fixed = [str(self.etl), "sync", "--backend-url", server.url]
            fixed += ["--concurrency", str(args.concurrency), "--database-url", url]
            fitting = harness.fit_arguments(
                fixed, [["--job-id", job_id] for job_id in job_ids], env
            )
            if fitting < len(job_ids):
                self.notes.append(
                    f"API extraction: {fitting:,} of {len(job_ids):,} job ids fit on "
                    "one command line, so the API runs fetch those."
                )
                job_ids = job_ids[:fitting]
            argv = fixed + [item for job_id in job_ids for item in ("--job-id", job_id)]
            self.measure_plain_client(server.url, job_ids)
            runs: list[tuple[str, str, list[str]]] = [
                ("first", "first sync", []),
                ("unchanged", "re-sync", []),
            ]
            if self.etl_supports("sync", "--full"):
                runs.append(("full", "re-sync --full", ["--full"]))
            for key, step, extra in runs:
                name = f"etl-api-{key}"
                child = self.run(name, argv + extra, env=env, cwd=self.work)
                self.check_exit(name, child)
                self.add_api_figure(key, f"etl sync --job-id, {step}", child)

    def measure_plain_client(self, url: str, job_ids: Sequence[str]) -> None:
        """Time a plain client that fetches every job and archives nothing."""
        # The first pass warms the server's threads and caches; the second
        # pass is the figure.
        self.log("fetching every job twice with a plain httpx client")
        for _ in range(2):
            seconds = harness.fetch_all(
                url,
                job_ids,
                api_key=STANDIN_API_KEY,
                concurrency=self.args.concurrency,
            )
        self.figures["api.client"] = report.Figure(
            step="plain httpx client, no archiving, second pass",
            database="-",
            jobs=len(job_ids),
            rows=None,
            seconds=seconds,
            peak_rss_mb=None,
            ok=True,
            note="what the stand-in API serves at this concurrency",
        )

    def add_api_figure(self, key: str, step: str, child: ChildRun) -> None:
        """Record an API run by the jobs that etl fetched, not those it named.

        A re-sync without `--full` skips jobs archived in a finished state, so
        its rate counts only the jobs it fetched.
        """
        summary = RUN_SUMMARY.search(child.stdout)
        fetched = int(summary.group("fetched")) if summary else self.args.jobs
        run_seconds = float(summary.group("seconds")) if summary else None
        note = ""
        if summary and run_seconds:
            note = (
                f"{summary.group('listed') or fetched} named, {fetched} fetched; "
                f"run {run_seconds:.2f} s ({fetched / run_seconds:.0f} jobs/s) "
                "as etl reports it"
            )
        rows = fetched * (corpus.rows_per_job(self.shape) + 1)
        self.add(
            f"api.{key}",
            step,
            "SQLite",
            child,
            rows,
            jobs=fetched,
            note=note,
            run_seconds=run_seconds,
        )

    def etl_supports(self, command: str, option: str) -> bool:
        """Return whether `etl COMMAND --help` lists `option`."""
        help_text = subprocess.run(
            [str(self.etl), command, "--help"],
            capture_output=True,
            text=True,
            env=self.etl_env(),
        ).stdout
        return option in help_text

    # -- memory at a larger size -----------------------------------------

    def measure_rss(self) -> None:
        """Measure the peak RSS of a first load at `--jobs` and `--rss-jobs`.

        The `--jobs` figure comes from the etl step when it ran, so the two
        loads share the database kind (SQLite) and differ only in size.
        """
        if "etl.sqlite.first" not in self.figures:
            rows = self.rows_in(changed=False)
            url = self.sqlite_url("etl_rss_baseline")
            child = self.etl_sync("etl-sqlite-first", self.base_dir, url, rows)
            self.add("etl.sqlite.first", "etl first load", "SQLite", child, rows)
        jobs = self.args.rss_jobs
        directory = self.work / "corpus" / f"rss_{jobs}"
        self.log(f"writing the {jobs}-job corpus for the RSS run")
        corpus.write_corpus(
            directory,
            jobs=jobs,
            seed=self.args.seed,
            shape=self.shape,
            jobs_per_file=self.args.jobs_per_file,
        )
        rows = jobs * (corpus.rows_per_job(self.shape) + 1)
        url = self.sqlite_url("etl_rss")
        child = self.etl_sync("etl-sqlite-rss", directory, url, rows)
        self.add("etl.sqlite.rss", "etl first load", "SQLite", child, rows, jobs=jobs)
        # At this size the fixed start-up cost weighs less in the re-sync ratio.
        child = self.etl_sync("etl-sqlite-rss-unchanged", directory, url, rows)
        self.add(
            "etl.sqlite.rss_unchanged",
            "etl re-sync, unchanged",
            "SQLite",
            child,
            rows,
            jobs=jobs,
        )
        harness.remove_tree(directory)


def _archived_rows(stdout: str) -> int:
    """Sum the data-table row counts that `etl sync` prints after a run."""
    total = 0
    for line in stdout.splitlines():
        match = ROWS_LINE.match(line)
        if match and match.group(1) in floor.COLUMNS:
            total += int(match.group(2))
    return total


def _dlt_cause(message: str) -> str:
    """Return the line of a dlt error that names the cause."""
    for line in message.splitlines():
        if "Cause:" in line:
            return line.split("Cause:", 1)[1].strip().rstrip(".") + "."
    return message.strip().splitlines()[0] if message.strip() else "unknown error"


def _git(*args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(REPO), *args], capture_output=True, text=True
    )
    return result.stdout.strip()


def _git_state() -> str:
    """Describe the checkout's commit and whether `etl/` differs from it."""
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = _git("status", "--porcelain", "--", "etl", "migrations")
    return f"{commit} with uncommitted changes in etl/" if dirty else commit


def _install_commit(revision: str, work: Path) -> tuple[Path, str]:
    """Install `revision` of this repository into a venv under `work`.

    Returns the etl executable and the short commit id. The repository's own
    `.venv` runs the checkout in place, so edits made during a run would mix
    versions; an exported commit cannot change.
    """
    commit = _git("rev-parse", "--short", f"{revision}^{{commit}}")
    if not commit:
        raise BenchError(f"{revision!r} is not a commit of {REPO}.")
    source = work / "etl-src"
    venv = work / "etl-venv"
    harness.remove_tree(source)
    source.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", commit],
        capture_output=True,
        check=True,
    )
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive.stdout, check=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(source)],
        check=True,
    )
    return venv / "bin" / "etl", commit


def _machine(postgres: PostgresServer | None) -> dict[str, str]:
    cpu = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = subprocess.run(["free", "-h"], capture_output=True, text=True).stdout
    total = memory.splitlines()[1].split()[1] if memory else "unknown"
    return {
        "cpus": str(os.cpu_count()),
        "cpu": cpu,
        "memory": total,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": postgres.server_version() if postgres else "not measured",
    }


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--jobs", type=int, default=1000, help="jobs in the corpus")
    parser.add_argument("--seed", type=int, default=1, help="corpus seed")
    parser.add_argument(
        "--jobs-per-file", type=int, default=100, help="payloads a .jsonl file"
    )
    parser.add_argument(
        "--change-fraction",
        type=float,
        default=0.1,
        help="fraction of jobs changed for the re-sync after a change",
    )
    parser.add_argument(
        "--rss-jobs",
        type=int,
        default=10_000,
        help="jobs in the corpus of the second peak-RSS run",
    )

    parser.add_argument(
        "--dlt-as-shipped-jobs",
        type=int,
        default=120,
        help="jobs that dlt loads without changes; its time grows faster than "
        "the job count (about 10 s at 120 jobs, 12 minutes at 1,000)",
    )
    parser.add_argument(
        "--steps",
        default=",".join(STEPS),
        help="comma-separated steps to run, from: " + ", ".join(STEPS),
    )

    parser.add_argument(
        "--no-postgres", action="store_true", help="measure SQLite only"
    )
    parser.add_argument(
        "--postgres-url",
        help="PostgreSQL server to use, as a postgresql+psycopg:// URL of a role "
        "with CREATEDB, instead of a throwaway server",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs of each etl and floor step; the report keeps the fastest",
    )

    parser.add_argument(
        "--api-latency-ms",
        type=int,
        default=20,
        help="latency that the stand-in API adds to each request, in ms",
    )
    parser.add_argument(
        "--concurrency", type=int, default=8, help="etl's requests in flight"
    )

    parser.add_argument(
        "--etl",
        default=str(REPO / ".venv" / "bin" / "etl"),
        help="the etl executable; its directory must contain the python that "
        "runs floor.py and the stand-in API",
    )
    parser.add_argument(
        "--etl-commit",
        metavar="REV",
        help="install this commit of the repository into a venv in the work "
        "directory and measure it instead of --etl",
    )

    parser.add_argument(
        "--work-dir", type=Path, help="keep the corpus, logs and databases here"
    )
    parser.add_argument("--out", type=Path, help="write the markdown report here")
    parser.add_argument("--json", type=Path, help="write the figures as JSON here")

    parser.add_argument(
        "--tiny",
        action="store_true",
        help="5 jobs and every step but dlt and rss: checks that the steps "
        "still work, in well under a minute; its figures mean nothing",
    )
    return parser


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.tiny:
        args.jobs = 5
        args.jobs_per_file = 2
        args.repeat = 1
        args.steps = ",".join(step for step in STEPS if step not in ("dlt", "rss"))

    if args.jobs < 1:
        parser.error(f"invalid --jobs {args.jobs}: must be >= 1")
    if args.repeat < 1:
        parser.error(f"invalid --repeat {args.repeat}: must be >= 1")
    steps = [step.strip() for step in args.steps.split(",") if step.strip()]
    unknown = sorted(set(steps) - set(STEPS))
    if unknown:
        parser.error(
            f"invalid --steps {', '.join(unknown)}: expected some of {', '.join(STEPS)}"
        )
    args.steps = steps

    if "rss" in steps and args.rss_jobs < 1:
        parser.error(f"invalid --rss-jobs {args.rss_jobs}: must be >= 1 for rss")
    return args


def _measure(bench: Bench) -> None:
    """Run the chosen steps; a step that fails is recorded and the rest still run."""
    chosen = bench.args.steps
    bench.write_corpora()
    steps: list[tuple[str, Callable[[], None]]] = []
    for database in bench.databases():
        if "etl" in chosen:
            steps.append((f"etl on {database}", partial(bench.measure_etl, database)))
        if "floor" in chosen:
            steps.append(
                (f"floor on {database}", partial(bench.measure_floor, database))
            )
    if "dlt" in chosen:
        steps.append(("dlt", partial(_measure_dlt, bench)))
    if "api" in chosen:
        steps.append(("API extraction", bench.measure_api))
    if "rss" in chosen:
        steps.append(("peak RSS", bench.measure_rss))
    for name, step in steps:
        try:
            step()
        except (
            BenchError,
            OSError,
            subprocess.CalledProcessError,
            psycopg.Error,
        ) as error:
            bench.log(f"{name} failed: {error}")
            bench.errors.append(f"{name} failed: {error}")


def _measure_dlt(bench: Bench) -> None:
    python = bench.ensure_dlt_venv()
    for database in bench.databases():
        bench.measure_dlt(python, database)


def _choose_etl(args: argparse.Namespace, work: Path) -> tuple[str, str | None]:
    """Set `args.etl` and return its version label and the checkout's state.

    The checkout's state is None for an exported commit, which cannot change
    during the run.
    """
    if args.etl_commit:
        try:
            etl, commit = _install_commit(args.etl_commit, work)
        except subprocess.CalledProcessError as error:
            raise BenchError(f"Installing {args.etl_commit} failed: {error}") from error
        args.etl = str(etl)
        return f"{commit}, exported and installed into the work directory", None
    if Path(args.etl).resolve().is_relative_to(REPO):
        state = _git_state()
        return f"{state}, installed in place ({args.etl})", state
    return f"unknown, from {args.etl}", None


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    command = mask_passwords(
        shlex.join(["python", "bench/run.py", *(argv or sys.argv[1:])])
    )
    started_at = datetime.now(UTC)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="etl-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    postgres: PostgresServer | None = None
    try:
        etl_version, checkout_before = _choose_etl(args, work)
        needs_postgres = {"etl", "floor", "dlt"} & set(args.steps)
        if needs_postgres and not args.no_postgres:
            postgres = PostgresServer(
                REPO / "scripts" / "throwaway-postgres.sh", work, args.postgres_url
            )
        bench = Bench(args, work, postgres)
        _measure(bench)
        if checkout_before is not None and _git_state() != checkout_before:
            bench.notes.append(
                f"The checkout changed during the run, from {checkout_before} to "
                f"{_git_state()}, so the figures may mix versions of etl. "
                "Measure an exported commit with --etl-commit."
            )
        context = report.Context(
            command=command,
            started_at=started_at.strftime("%Y-%m-%d %H:%M UTC"),
            etl_version=etl_version,
            dlt_version=DLT_VERSION if "dlt" in args.steps else "not measured",
            jobs=args.jobs,
            seed=args.seed,
            rows=bench.rows_in(changed=False),
            changed_jobs=bench.changed_jobs,
            latency_ms=args.api_latency_ms,
            concurrency=args.concurrency,
            rss_jobs=args.rss_jobs if "rss" in args.steps else 0,
            tiny=args.tiny,
            machine=_machine(postgres),
        )
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        if postgres is not None:
            postgres.close()
        if args.work_dir is None:
            harness.remove_tree(work)

    text = report.render(context, bench.figures, bench.notes, bench.errors)
    print(text)
    if args.out:
        args.out.write_text(text, "utf-8")
    if args.json:
        figures = {key: asdict(figure) for key, figure in bench.figures.items()}
        payload = {"context": asdict(context), "figures": figures}
        args.json.write_text(json.dumps(payload, indent=2) + "\n", "utf-8")
    return 1 if bench.errors else 0


if __name__ == "__main__":
    sys.exit(main())
