"""The figures of a benchmark run, the targets they are held to, and markdown."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["DATABASE_LABELS", "Context", "Figure", "Target", "render", "targets"]

DATABASE_LABELS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


@dataclass(frozen=True)
class Figure:
    """One measured step: a child process's wall time and peak RSS."""

    step: str
    database: str
    jobs: int
    # Rows that the step's input represents, raw payloads included, or None
    # where the step writes no rows.
    rows: int | None
    seconds: float | None
    peak_rss_mb: float | None
    ok: bool
    note: str = ""
    cpu_seconds: float | None = None
    load_before: float | None = None
    # The run time that `etl` prints, without start-up and schema checks.
    run_seconds: float | None = None

    @property
    def jobs_per_second(self) -> float | None:
        if not (self.ok and self.seconds and self.jobs):
            return None
        return self.jobs / self.seconds

    @property
    def rows_per_second(self) -> float | None:
        if not (self.ok and self.seconds and self.rows):
            return None
        return self.rows / self.seconds


@dataclass(frozen=True)
class Context:
    """The settings, software and machine of a run, for the report's header."""

    command: str
    started_at: str
    etl_version: str
    dlt_version: str
    jobs: int
    seed: int
    rows: int
    changed_jobs: int
    latency_ms: int
    concurrency: int
    rss_jobs: int
    tiny: bool
    machine: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Target:
    """A goal for one ratio; `passed` is None when a figure is missing."""

    name: str
    value: float | None
    unit: str
    goal: str
    passed: bool | None


def _ratio(
    figures: Mapping[str, Figure],
    numerator: str,
    denominator: str,
    *,
    run_time: bool = False,
) -> float | None:
    """Divide two figures' wall times, or the run times that etl printed."""
    top = figures.get(numerator)
    bottom = figures.get(denominator)
    if top is None or bottom is None or not (top.ok and bottom.ok):
        return None
    if run_time:
        top_seconds, bottom_seconds = top.run_seconds, bottom.run_seconds
    else:
        top_seconds, bottom_seconds = top.seconds, bottom.seconds
    if top_seconds is None or not bottom_seconds:
        return None
    return top_seconds / bottom_seconds


def _target(
    name: str,
    value: float | None,
    unit: str,
    goal: str,
    meets: Callable[[float], bool],
) -> Target:
    passed = None if value is None else meets(value)
    return Target(name, value, unit, goal, passed)


def targets(context: Context, figures: Mapping[str, Figure]) -> list[Target]:
    """Compute every target ratio from the figures that exist."""
    found: list[Target] = []
    for database, label in DATABASE_LABELS.items():
        # The etl step measures both loads; the rss step alone measures one.
        if f"etl.{database}.unchanged" in figures:
            found += _database_targets(figures, database, label)
    found += _api_targets(context, figures)
    found += _memory_targets(context, figures)
    return found


def _database_targets(
    figures: Mapping[str, Figure], database: str, label: str
) -> list[Target]:
    first = f"etl.{database}.first"
    unchanged = f"etl.{database}.unchanged"
    found = [
        _target(
            f"etl first load / floor, {label}",
            _ratio(figures, first, f"floor.{database}"),
            "x",
            "≤ 3x",
            lambda value: value <= 3,
        )
    ]
    if f"dlt.{database}.first" in figures:
        found.append(
            _target(
                f"dlt / etl first load, {label}",
                _ratio(figures, f"dlt.{database}.first", first),
                "x",
                "≥ 10x",
                lambda value: value >= 10,
            )
        )
    found.append(
        _target(
            f"etl first load / unchanged re-sync, {label}",
            _ratio(figures, first, unchanged),
            "x",
            "≥ 20x",
            lambda value: value >= 20,
        )
    )
    found.append(
        _target(
            f"the same on etl's run time, without start-up, {label}",
            _ratio(figures, first, unchanged, run_time=True),
            "x",
            "≥ 20x",
            lambda value: value >= 20,
        )
    )
    return found


def _api_targets(context: Context, figures: Mapping[str, Figure]) -> list[Target]:
    """Rate the API runs by the jobs each fetched per second of run time."""
    bound = context.concurrency / (context.latency_ms / 1000)
    api_runs = (
        ("api.first", "first sync"),
        ("api.unchanged", "re-sync"),
        ("api.full", "re-sync --full"),
    )
    found = []
    for key, step in api_runs:
        figure = figures.get(key)
        if figure is None:
            continue
        rate = figure.jobs_per_second
        basis = "wall time"
        if figure.ok and figure.run_seconds:
            rate = figure.jobs / figure.run_seconds
            basis = "run time"
        found.append(
            _target(
                f"API extraction, {step}, fetched jobs/s as % of {bound:.0f} ({basis})",
                None if rate is None else 100 * rate / bound,
                "%",
                "≥ 80 %",
                lambda value: value >= 80,
            )
        )
    return found


def _memory_targets(context: Context, figures: Mapping[str, Figure]) -> list[Target]:
    """Rate peak RSS, and the re-sync ratio of the larger corpus, if measured."""
    sync_runs = [
        figure
        for key, figure in figures.items()
        if key.startswith("etl.") and figure.jobs == context.jobs and figure.ok
    ]
    peak = max((figure.peak_rss_mb or 0.0 for figure in sync_runs), default=None)
    found = [
        _target(
            f"peak RSS of etl sync --from, {context.jobs:,} jobs",
            peak,
            "MB",
            "< 300 MB",
            lambda value: value < 300,
        )
    ]
    large = figures.get("etl.sqlite.rss")
    small = figures.get("etl.sqlite.first")
    if large is not None and "etl.sqlite.rss_unchanged" in figures:
        found.append(
            _target(
                f"etl first load / unchanged re-sync, SQLite, {large.jobs:,} jobs",
                _ratio(figures, "etl.sqlite.rss", "etl.sqlite.rss_unchanged"),
                "x",
                "≥ 20x",
                lambda value: value >= 20,
            )
        )
    if large is not None and small is not None:
        ratio = None
        if large.ok and small.ok and large.peak_rss_mb and small.peak_rss_mb:
            ratio = large.peak_rss_mb / small.peak_rss_mb
        found.append(
            _target(
                f"peak RSS {large.jobs:,} / {small.jobs:,} jobs, SQLite",
                ratio,
                "x",
                "≤ 1.2x",
                lambda value: value <= 1.2,
            )
        )
    return found


def _number(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _measured(target: Target) -> str:
    if target.value is None:
        return "-"
    if target.unit == "x":
        return f"{target.value:.2f}x"
    if target.unit == "%":
        return f"{target.value:.0f} %"
    return f"{target.value:.0f} MB"


def _result(target: Target) -> str:
    if target.passed is None:
        return "n/a"
    return "pass" if target.passed else "**fail**"


def render(
    context: Context,
    figures: Mapping[str, Figure],
    notes: Sequence[str],
    errors: Sequence[str],
) -> str:
    """Render the report as markdown: header, targets, figures, notes."""
    machine = context.machine
    lines = ["# etl benchmark results", ""]
    if context.tiny:
        lines += [
            "**Tiny run:** it checks that every step works, and its figures "
            "and pass/fail marks mean nothing.",
            "",
        ]
    lines += [
        f"- Date: {context.started_at}",
        f"- Command: `{context.command}`",
        f"- etl: commit {context.etl_version}; dlt {context.dlt_version}",
        f"- Corpus: {context.jobs:,} jobs (seed {context.seed}), "
        f"{context.rows:,} rows with the raw payloads; "
        f"{context.changed_jobs:,} jobs changed for the re-sync after a change",
        f"- API: stand-in with {context.latency_ms} ms latency a request, "
        f"etl concurrency {context.concurrency}",
        f"- Machine: {machine.get('cpus')} CPUs ({machine.get('cpu')}), "
        f"{machine.get('memory')} memory; Python {machine.get('python')}, "
        f"SQLite {machine.get('sqlite')}, PostgreSQL {machine.get('postgresql')}",
        "",
        "## Targets",
        "",
        "| target | measured | goal | result |",
        "|---|---:|---|---|",
    ]
    for target in targets(context, figures):
        lines.append(
            f"| {target.name} | {_measured(target)} | {target.goal} | "
            f"{_result(target)} |"
        )
    lines += [
        "",
        "## Measurements",
        "",
        "Wall time is that of the child process from start to exit, including "
        "interpreter start-up and, on a fresh database, creating the schema. "
        "Etl run time is the time that etl prints for the run, without start-up. "
        "CPU time is the child's own user and system time, without the "
        "PostgreSQL server's. Rows/s counts every row that the step's input "
        "represents, raw payloads included, also where a re-sync writes fewer. "
        "Load before is the 1-minute load average when the step started: "
        "above 0 means other processes shared the CPUs.",
        "",
        "| step | database | jobs | wall time (s) | etl run time (s) | CPU time (s) "
        "| jobs/s | rows/s | peak RSS (MB) | load before | note |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for figure in figures.values():
        note = (
            figure.note
            if figure.ok
            else "; ".join(filter(None, ["failed", figure.note]))
        )
        lines.append(
            f"| {figure.step} | {figure.database} | {figure.jobs:,} | "
            f"{_number(figure.seconds, 2)} | {_number(figure.run_seconds, 2)} | "
            f"{_number(figure.cpu_seconds, 1)} | "
            f"{_number(figure.jobs_per_second, 1)} | "
            f"{_number(figure.rows_per_second)} | {_number(figure.peak_rss_mb)} | "
            f"{_number(figure.load_before, 1)} | {note} |"
        )
    if notes:
        lines += ["", "## Notes", ""]
        lines += [f"- {note}" for note in notes]
    if errors:
        lines += ["", "## Errors", ""]
        lines += [f"- {error}" for error in errors]
    return "\n".join(lines) + "\n"
