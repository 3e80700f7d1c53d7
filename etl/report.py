"""`etl report`: one self-contained HTML file with the archived jobs and charts.

The page has inline CSS and inline SVG only: no script, no font, no image and
no URL outside the file, and a Content-Security-Policy that blocks any load.
Every text from the database passes through `html.escape`.
"""

from __future__ import annotations

import html
import logging
import os
import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import BigInteger, Engine, Float, Text, column, select, table

from etl.load import schema
from etl.load.database import require_archive

__all__ = ["JobSection", "ReportSummary", "load_jobs", "render_report", "write_report"]

logger = logging.getLogger(__name__)

# Columns of the job_summary view that the report reads. UtcDateTime converts
# SQLite's timestamp text to datetimes.
_job_summary = table(
    "job_summary",
    column("job_id", Text),
    column("state", Text),
    column("algorithm", Text),
    column("best_reward", Float),
    column("first_generation_reward", Float),
    column("last_generation_reward", Float),
    column("improvement", Float),
    column("generation_count", BigInteger),
    column("sensor_frame_count", BigInteger),
    column("created_at", schema.UtcDateTime),
)

_CHART_WIDTH = 360
_REWARD_CHART_HEIGHT = 150
_ACTIVITY_CHART_HEIGHT = 110
# Room for the axis labels, in SVG user units (pixels at 100 % zoom).
_PAD_LEFT = 48
_PAD_RIGHT = 12
_PAD_TOP = 10
_PAD_BOTTOM = 24

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1d2330; }
h1 { font-size: 1.5rem; margin-bottom: 0.25rem; }
p.meta, p.empty, p.note { color: #5a6272; margin: 0.25rem 0; }
table.jobs { border-collapse: collapse; margin: 1rem 0 2rem; }
table.jobs caption { caption-side: bottom; text-align: left; color: #5a6272;
  padding-top: 0.4rem; }
table.jobs th, table.jobs td { border-bottom: 1px solid #d8dce3;
  padding: 0.3rem 0.6rem; text-align: left; white-space: nowrap; }
table.jobs td.number { text-align: right; font-variant-numeric: tabular-nums; }
section.job { border-top: 2px solid #d8dce3; padding: 0.5rem 0 1rem; }
section.job h2 { font-size: 1.1rem; word-break: break-all; }
div.charts { display: flex; flex-wrap: wrap; gap: 2rem; }
figure { margin: 0; }
figcaption { font-size: 0.85rem; color: #5a6272; }
svg text { font-size: 10px; fill: #5a6272; }
svg .axis { stroke: #9aa1ad; stroke-width: 1; }
svg .reward-line { fill: none; stroke: #2f6fd6; stroke-width: 2; }
svg .reward-point { fill: #2f6fd6; }
svg .activity-bar { fill: #e08a2c; }
"""

# Blocks every fetch, so the file renders the same offline and leaks nothing.
# Text for a missing value. It is already an HTML entity, so it is not escaped.
_MISSING = "&ndash;"

_CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'"


@dataclass(frozen=True)
class JobSection:
    """Data of one job in the report."""

    job_id: str
    state: str
    algorithm: str | None
    best_reward: float | None
    first_generation_reward: float | None
    last_generation_reward: float | None
    improvement: float | None
    generation_count: int
    sensor_frame_count: int
    created_at: datetime | None
    rewards: tuple[tuple[int, float | None], ...]
    frames_per_day: tuple[tuple[date, int], ...]
    undated_frame_count: int


@dataclass(frozen=True)
class ReportSummary:
    """Counts of the jobs and charts in a written report."""

    job_count: int
    reward_chart_count: int
    activity_chart_count: int


def write_report(
    engine: Engine, out: Path, source: str, generated_at: datetime | None = None
) -> ReportSummary:
    """Read the archive behind `engine` and write the report to `out`.

    `source` is the label of the database shown on the page, such as the
    masked URL. The file is replaced atomically, so a reader never sees half
    a report.
    """
    require_archive(engine)
    jobs = load_jobs(engine)
    page = render_report(jobs, source, generated_at or datetime.now(UTC))
    _write_atomically(out, page)
    summary = ReportSummary(
        job_count=len(jobs),
        reward_chart_count=sum(1 for job in jobs if _has_rewards(job)),
        activity_chart_count=sum(1 for job in jobs if job.frames_per_day),
    )
    logger.info(
        "Wrote the report %s: %d jobs, %d reward charts, %d activity charts.",
        out,
        summary.job_count,
        summary.reward_chart_count,
        summary.activity_chart_count,
    )
    return summary


def load_jobs(engine: Engine) -> list[JobSection]:
    """Return every job with its rewards and daily frame counts.

    Jobs come newest first by created_at, jobs without created_at last, and
    ties by job_id.
    """
    with engine.connect() as connection:
        summaries = connection.execute(select(_job_summary)).mappings().all()
        history = connection.execute(
            select(
                schema.history.c.job_id,
                schema.history.c.generation,
                schema.history.c.best_reward,
            ).order_by(schema.history.c.job_id, schema.history.c.generation)
        ).all()
        frames = connection.execute(
            select(schema.sensor_frames.c.job_id, schema.sensor_frames.c.created_at)
        ).all()

    rewards: dict[str, list[tuple[int, float | None]]] = defaultdict(list)
    for job_id, generation, best_reward in history:
        rewards[job_id].append((generation, best_reward))
    daily: dict[str, Counter[date]] = defaultdict(Counter)
    undated: Counter[str] = Counter()
    for job_id, created_at in frames:
        if created_at is None:
            undated[job_id] += 1
        else:
            daily[job_id][created_at.astimezone(UTC).date()] += 1

    jobs = [
        JobSection(
            job_id=row["job_id"],
            state=row["state"],
            algorithm=row["algorithm"],
            best_reward=row["best_reward"],
            first_generation_reward=row["first_generation_reward"],
            last_generation_reward=row["last_generation_reward"],
            improvement=row["improvement"],
            generation_count=row["generation_count"],
            sensor_frame_count=row["sensor_frame_count"],
            created_at=row["created_at"],
            rewards=tuple(rewards[row["job_id"]]),
            frames_per_day=tuple(sorted(daily[row["job_id"]].items())),
            undated_frame_count=undated[row["job_id"]],
        )
        for row in summaries
    ]
    jobs.sort(key=lambda job: job.job_id)
    jobs.sort(key=_created_sort_key, reverse=True)
    return jobs


def _created_sort_key(job: JobSection) -> tuple[bool, datetime]:
    # Sorted in reverse: jobs with created_at first, the newest of them first.
    missing = job.created_at is None
    return (not missing, job.created_at or datetime.min.replace(tzinfo=UTC))


def render_report(
    jobs: Sequence[JobSection], source: str, generated_at: datetime
) -> str:
    """Return the report page for `jobs` as one HTML document."""
    stamp = generated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" '
        f'content="{_CONTENT_SECURITY_POLICY}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>Synth results archive report</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
        "<h1>Synth results archive report</h1>",
        f'<p class="meta">{len(jobs)} jobs from {_text(source)}, '
        f"generated {stamp}.</p>",
        _jobs_table(jobs),
    ]
    parts += [_job_section(index, job) for index, job in enumerate(jobs, start=1)]
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def _text(value: object) -> str:
    return html.escape(str(value), quote=True)


def _optional_text(value: str | None) -> str:
    return _MISSING if value is None else _text(value)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _reward(value: float | None) -> str:
    return _MISSING if value is None else f"{value:.4g}"


def _jobs_table(jobs: Sequence[JobSection]) -> str:
    if not jobs:
        return '<p class="empty">The archive contains no jobs.</p>'
    header = (
        "<tr><th>job</th><th>state</th><th>algorithm</th><th>best reward</th>"
        "<th>first reward</th><th>last reward</th><th>improvement</th>"
        "<th>generations</th><th>sensor frames</th><th>created (UTC)</th></tr>"
    )
    caption = (
        "<caption>First and last reward are the best reward of the job's first and "
        "last generation in its history.</caption>"
    )
    rows = [_job_row(index, job) for index, job in enumerate(jobs, start=1)]
    return "\n".join(['<table class="jobs">', caption, header, *rows, "</table>"])


def _job_row(index: int, job: JobSection) -> str:
    created = job.created_at.strftime("%Y-%m-%d %H:%M") if job.created_at else None
    cells = [
        f'<td><a href="#job-{index}">{_text(job.job_id)}</a></td>',
        f"<td>{_text(job.state)}</td>",
        f"<td>{_optional_text(job.algorithm)}</td>",
        f'<td class="number">{_reward(job.best_reward)}</td>',
        f'<td class="number">{_reward(job.first_generation_reward)}</td>',
        f'<td class="number">{_reward(job.last_generation_reward)}</td>',
        f'<td class="number">{_reward(job.improvement)}</td>',
        f'<td class="number">{job.generation_count}</td>',
        f'<td class="number">{job.sensor_frame_count}</td>',
        f"<td>{_optional_text(created)}</td>",
    ]
    return '<tr class="job">' + "".join(cells) + "</tr>"


def _job_section(index: int, job: JobSection) -> str:
    # The element id uses the row number, never the job id, so no database
    # text ends up in an attribute that other markup refers to.
    return "\n".join(
        [
            f'<section class="job" id="job-{index}">',
            f"<h2>{_text(job.job_id)}</h2>",
            f'<p class="meta">state {_text(job.state)}, algorithm '
            f"{_optional_text(job.algorithm)}, best reward "
            f"{_reward(job.best_reward)}</p>",
            '<div class="charts">',
            _reward_figure(job),
            _activity_figure(job),
            "</div>",
            "</section>",
        ]
    )


def _has_rewards(job: JobSection) -> bool:
    return any(reward is not None for _, reward in job.rewards)


def _reward_figure(job: JobSection) -> str:
    if not _has_rewards(job):
        return '<p class="empty">No rewards in the history.</p>'
    caption = "Best reward by generation"
    return (
        f"<figure>{_reward_chart(job.rewards)}"
        f"<figcaption>{caption}</figcaption></figure>"
    )


def _reward_chart(points: Sequence[tuple[int, float | None]]) -> str:
    """Return an SVG line chart of best reward (y) by generation (x).

    A generation without a reward breaks the line instead of joining across it.
    """
    rewards = [reward for _, reward in points if reward is not None]
    generations = [generation for generation, _ in points]
    low, high = _padded_range(min(rewards), max(rewards))
    plot = _Plot(_CHART_WIDTH, _REWARD_CHART_HEIGHT)
    first, last = min(generations), max(generations)

    def x_of(generation: int) -> float:
        if first == last:
            return plot.left + plot.width / 2
        return plot.left + (generation - first) / (last - first) * plot.width

    def y_of(reward: float) -> float:
        return plot.bottom - (reward - low) / (high - low) * plot.height

    commands: list[str] = []
    markers: list[str] = []
    pen_down = False
    for generation, reward in points:
        if reward is None:
            pen_down = False
            continue
        x, y = x_of(generation), y_of(reward)
        commands.append(f"{'L' if pen_down else 'M'}{x:.1f},{y:.1f}")
        pen_down = True
        markers.append(
            f'<circle class="reward-point" cx="{x:.1f}" cy="{y:.1f}" r="3">'
            f"<title>generation {generation}: {_reward(reward)}</title></circle>"
        )
    highest, lowest = max(rewards), min(rewards)
    labels = [plot.y_label(y_of(highest), _reward(highest))]
    if lowest != highest:
        labels.append(plot.y_label(y_of(lowest), _reward(lowest)))
    labels.append(plot.x_label(x_of(first), f"gen {first}"))
    if last != first:
        labels.append(plot.x_label(x_of(last), f"gen {last}", anchor="end"))
    return plot.svg(
        "reward-chart",
        "Best reward by generation",
        [f'<path class="reward-line" d="{" ".join(commands)}"/>', *markers, *labels],
    )


def _padded_range(low: float, high: float) -> tuple[float, float]:
    if high == low:
        margin = max(abs(low) * 0.1, 0.05)
        return low - margin, high + margin
    margin = (high - low) * 0.05
    return low - margin, high + margin


def _activity_figure(job: JobSection) -> str:
    notes = []
    if job.undated_frame_count:
        notes.append(
            f'<p class="note">Not shown: {_count(job.undated_frame_count, "frame")} '
            "without a creation time.</p>"
        )
    if not job.frames_per_day:
        return '<p class="empty">No dated sensor frames.</p>' + "".join(notes)
    caption = "Sensor frames per UTC day (days without frames are not shown)"
    return (
        f"<figure>{_activity_chart(job.frames_per_day)}"
        f"<figcaption>{caption}</figcaption>{''.join(notes)}</figure>"
    )


def _activity_chart(days: Sequence[tuple[date, int]]) -> str:
    """Return an SVG bar chart with one bar per day that has frames."""
    plot = _Plot(_CHART_WIDTH, _ACTIVITY_CHART_HEIGHT)
    most = max(count for _, count in days)
    slot = plot.width / len(days)
    bar_width = max(slot * 0.8, 1.0)
    elements = []
    for position, (day, count) in enumerate(days):
        height = max(count / most * plot.height, 1.0)
        x = plot.left + position * slot + (slot - bar_width) / 2
        elements.append(
            f'<rect class="activity-bar" x="{x:.1f}" y="{plot.bottom - height:.1f}" '
            f'width="{bar_width:.1f}" height="{height:.1f}">'
            f"<title>{day.isoformat()}: {_count(count, 'frame')}</title></rect>"
        )
    elements += [
        plot.y_label(plot.top, str(most)),
        plot.y_label(plot.bottom, "0"),
        plot.x_label(plot.left + slot / 2, days[0][0].isoformat()),
    ]
    if len(days) > 1:
        last_day = days[-1][0].isoformat()
        elements.append(plot.x_label(plot.right, last_day, anchor="end"))
    return plot.svg("activity-chart", "Sensor frames per UTC day", elements)


@dataclass(frozen=True)
class _Plot:
    """Geometry of one chart: the SVG size and the plotting area inside it."""

    svg_width: int
    svg_height: int

    @property
    def left(self) -> float:
        return _PAD_LEFT

    @property
    def right(self) -> float:
        return self.svg_width - _PAD_RIGHT

    @property
    def top(self) -> float:
        return _PAD_TOP

    @property
    def bottom(self) -> float:
        return self.svg_height - _PAD_BOTTOM

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top

    def y_label(self, y: float, label: str) -> str:
        return (
            f'<text x="{self.left - 6:.1f}" y="{y + 3:.1f}" text-anchor="end">'
            f"{_text(label)}</text>"
        )

    def x_label(self, x: float, label: str, anchor: str = "middle") -> str:
        return (
            f'<text x="{x:.1f}" y="{self.svg_height - 8:.1f}" '
            f'text-anchor="{anchor}">{_text(label)}</text>'
        )

    def svg(self, css_class: str, title: str, elements: Sequence[str]) -> str:
        axes = (
            f'<line class="axis" x1="{self.left}" y1="{self.top}" '
            f'x2="{self.left}" y2="{self.bottom}"/>'
            f'<line class="axis" x1="{self.left}" y1="{self.bottom}" '
            f'x2="{self.right}" y2="{self.bottom}"/>'
        )
        return (
            f'<svg class="{css_class}" width="{self.svg_width}" '
            f'height="{self.svg_height}" '
            f'viewBox="0 0 {self.svg_width} {self.svg_height}" role="img">'
            f"<title>{_text(title)}</title>{axes}{''.join(elements)}</svg>"
        )


def _write_atomically(out: Path, page: str) -> None:
    # open() applies the umask, so the report gets the usual file mode.
    temporary = out.with_name(f".{out.name}.{uuid.uuid4().hex}.tmp")
    try:
        temporary.write_text(page, "utf-8")
        os.replace(temporary, out)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
