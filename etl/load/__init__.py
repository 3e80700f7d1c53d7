"""Load: the schema, migrations and per-job atomic upserts."""

from etl.load.archive import Archive, Outcome
from etl.load.database import connect, ensure_schema, mask_url, upgrade
from etl.load.runs import RunCounts, RunStatus, finish_run, latest_runs, start_run

__all__ = [
    "Archive",
    "Outcome",
    "RunCounts",
    "RunStatus",
    "connect",
    "ensure_schema",
    "finish_run",
    "latest_runs",
    "mask_url",
    "start_run",
    "upgrade",
]
