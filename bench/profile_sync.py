"""Profile one `etl sync --from` run with cProfile and summarize where time goes.

The run happens in a child process of the etl virtual environment
(`python -m cProfile -o FILE -m etl sync --from DIR --database-url URL`). The
summary has three parts: the inclusive time of the pipeline's stages (found by
function name, so a renamed stage is listed as missing), the self time grouped
by library, and the functions with the most self time.

cProfile adds a fixed cost to every Python call, so it inflates pure-Python
work (validation, row building, SQLAlchemy) relative to C code (sqlite3,
psycopg's COPY, the PostgreSQL server, which it does not see at all).

    .venv/bin/python bench/profile_sync.py --from DIR --database-url sqlite:///p.db
"""

from __future__ import annotations

import argparse
import pstats
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Pipeline stages as (label, file path part, function names). A stage's time
# is the largest inclusive time among its functions, so nested calls of the
# same stage are not counted twice.
STAGES = (
    ("read files", "/etl/", ("read_payloads", "read_file")),
    ("normalize: whole step", "/etl/", ("normalize_body",)),
    ("normalize: JSON parsing", "/etl/", ("parse_body",)),
    ("normalize: pydantic validation", "/etl/", ("validate",)),
    ("normalize: row building", "/etl/", ("build_rows",)),
    ("store: whole step (SQL)", "/etl/", ("store", "store_batch")),
    ("store: lookup of known payloads", "/etl/", ("known_payloads",)),
    ("store: row writes", "/etl/", ("write_jobs", "write_rows")),
    ("store: SQLAlchemy execute", "sqlalchemy/engine/base.py", ("execute",)),
)

# Self-time groups as (label, substrings of "file:function"); first match wins.
GROUPS = (
    ("JSON decoding", ("json/", "_json", "raw_decode")),
    ("pydantic validation", ("pydantic",)),
    ("sqlite3 driver", ("sqlite3",)),
    ("psycopg driver", ("psycopg",)),
    ("SQLAlchemy", ("sqlalchemy",)),
    ("etl normalize", ("/etl/normalize/",)),
    ("etl load", ("/etl/load/",)),
    ("etl other", ("/etl/",)),
    ("hashing, gzip and file reads", ("hashlib", "gzip", "_io.", "readline")),
)

Key = tuple[str, int, str]


def _label(key: Key) -> str:
    filename, line, function = key
    if filename == "~":
        return function
    return f"{filename}:{line}({function})"


def _stage_times(stats: pstats.Stats) -> list[tuple[str, float | None]]:
    table = stats.stats  # type: ignore[attr-defined]
    times: list[tuple[str, float | None]] = []
    for label, path_part, names in STAGES:
        found = [
            cumulative
            for (filename, _, function), (_, _, _, cumulative, _) in table.items()
            if function in names and path_part in filename
        ]
        times.append((label, max(found) if found else None))
    return times


def _group_times(stats: pstats.Stats) -> dict[str, float]:
    table = stats.stats  # type: ignore[attr-defined]
    groups: dict[str, float] = defaultdict(float)
    for key, (_, _, self_time, _, _) in table.items():
        text = f"{key[0]}:{key[2]}"
        group = next(
            (label for label, parts in GROUPS if any(p in text for p in parts)),
            "other",
        )
        groups[group] += self_time
    return dict(sorted(groups.items(), key=lambda item: -item[1]))


def summarize(profile: Path, wall_seconds: float, top: int) -> str:
    """Render the profile as markdown tables."""
    stats = pstats.Stats(str(profile))
    total = stats.total_tt  # type: ignore[attr-defined]
    lines = [
        f"Wall time {wall_seconds:.1f} s; profiled time {total:.1f} s.",
        "",
        "| stage | inclusive s | share |",
        "|---|---:|---:|",
    ]
    for label, seconds in _stage_times(stats):
        if seconds is None:
            lines.append(f"| {label} | not found | |")
        else:
            lines.append(f"| {label} | {seconds:.1f} | {100 * seconds / total:.0f} % |")
    lines += ["", "| self time by library | s | share |", "|---|---:|---:|"]
    for label, seconds in _group_times(stats).items():
        lines.append(f"| {label} | {seconds:.1f} | {100 * seconds / total:.0f} % |")
    lines += ["", "| function | self s | calls |", "|---|---:|---:|"]
    table = stats.stats  # type: ignore[attr-defined]
    ranked = sorted(table.items(), key=lambda item: -item[1][2])[:top]
    for key, (_, calls, self_time, _, _) in ranked:
        short = _label(key).replace(str(REPO) + "/", "")
        short = short.split("site-packages/")[-1]
        lines.append(f"| `{short}` | {self_time:.1f} | {calls:,} |")
    return "\n".join(lines) + "\n"


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path, required=True)
    parser.add_argument(
        "--database-url", required=True, help="an empty database for a first load"
    )
    parser.add_argument(
        "--etl",
        type=Path,
        default=REPO / ".venv" / "bin" / "etl",
        help="the etl executable; the python beside it runs the profile",
    )
    parser.add_argument(
        "--profile", type=Path, default=Path("sync.prof"), help="cProfile output"
    )
    parser.add_argument("--top", type=int, default=25, help="functions to list")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    python = args.etl.parent / "python"
    command = [str(python), "-m", "cProfile", "-o", str(args.profile), "-m", "etl"]
    command += ["sync", "--from", str(args.source), "--database-url", args.database_url]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        print(result.stderr[-4000:], file=sys.stderr)
        print(f"error: etl sync exited with {result.returncode}", file=sys.stderr)
        return 1
    print(summarize(args.profile, wall, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
