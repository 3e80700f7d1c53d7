"""Load a benchmark corpus with dlt, for comparison with `etl sync --from`.

Runs inside the dlt virtual environment that `bench/run.py` creates
(`bench/.venv-dlt`), never inside the project's, and imports nothing from
`etl`. Each payload becomes a row of the `jobs` resource with
`write_disposition="merge"` and `primary_key="job_id"`, so dlt splits the
nested lists into child tables and replaces a job's rows on each load.

Variants:

- `as-shipped`: the payloads exactly as the API sends them. dlt flattens
  every JSON object into columns, so each map keyed by an id
  (`lever_summary.candidate_lever_versions`, `lever_versions` and each frame's
  `lever_versions`) adds one column per distinct key.
- `maps-as-lists`: the minimal change a dlt user would make for that data:
  those three maps become lists of `{"id": ..., "version": ...}` objects, so
  dlt stores them as child tables with one row per entry, as `etl` does.

The script prints one JSON object with the step timings and row counts as
its last line on stdout, or exits with status 1 after printing the error.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import dlt
from dlt.common.pipeline import LoadInfo

_VARIANTS = ("as-shipped", "maps-as-lists")


def _map_as_list(mapping: Any) -> Any:
    if not isinstance(mapping, dict):
        return mapping
    return [{"id": key, "version": value} for key, value in mapping.items()]


def _maps_as_lists(payload: dict[str, Any]) -> dict[str, Any]:
    """Turn the id-keyed maps of a payload into lists of id/version objects."""
    summary = payload.get("lever_summary")
    if isinstance(summary, dict):
        summary["candidate_lever_versions"] = _map_as_list(
            summary.get("candidate_lever_versions")
        )
    payload["lever_versions"] = _map_as_list(payload.get("lever_versions"))
    for frame in payload.get("sensor_frames") or []:
        if isinstance(frame, dict):
            frame["lever_versions"] = _map_as_list(frame.get("lever_versions"))
    return payload


def _read_payloads(root: Path, variant: str) -> Iterator[list[dict[str, Any]]]:
    """Yield the payloads of each `.jsonl` file under `root` as one list."""
    for path in sorted(root.rglob("*.jsonl")):
        with path.open("rb") as stream:
            payloads = [json.loads(line) for line in stream if line.strip()]
        if variant == "maps-as-lists":
            payloads = [_maps_as_lists(payload) for payload in payloads]
        yield payloads


def _destination(kind: str, credentials: str) -> Any:
    if kind == "postgres":
        return dlt.destinations.postgres(credentials=credentials)
    return dlt.destinations.sqlalchemy(credentials=credentials)


def _row_counts(info: LoadInfo, pipeline: dlt.Pipeline) -> dict[str, int]:
    trace = pipeline.last_trace
    if trace is None or trace.last_normalize_info is None:
        return {}
    counts: dict[str, int] = trace.last_normalize_info.row_counts
    return {
        table: count for table, count in counts.items() if not table.startswith("_")
    }


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path, required=True)
    parser.add_argument("--destination", choices=("postgres", "sqlite"), required=True)
    parser.add_argument(
        "--credentials",
        required=True,
        help="postgresql://USER:PASSWORD@HOST:PORT/DB, or sqlite:////ABSOLUTE/PATH",
    )
    parser.add_argument("--variant", choices=_VARIANTS, default="as-shipped")
    parser.add_argument(
        "--pipelines-dir", type=Path, required=True, help="dlt's working directory"
    )
    parser.add_argument("--pipeline-name", default="synth_results")
    parser.add_argument("--dataset-name", default="synth")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    pipeline = dlt.pipeline(
        pipeline_name=args.pipeline_name,
        destination=_destination(args.destination, args.credentials),
        dataset_name=args.dataset_name,
        pipelines_dir=str(args.pipelines_dir),
    )
    resource = dlt.resource(
        _read_payloads(args.source, args.variant),
        name="jobs",
        write_disposition="merge",
        primary_key="job_id",
    )
    started = time.perf_counter()
    steps: dict[str, float] = {}
    try:
        step = time.perf_counter()
        pipeline.extract(resource)
        steps["extract"] = time.perf_counter() - step
        step = time.perf_counter()
        pipeline.normalize()
        steps["normalize"] = time.perf_counter() - step
        step = time.perf_counter()
        info = pipeline.load()
        steps["load"] = time.perf_counter() - step
    except Exception as error:  # dlt wraps destination errors in many types
        message = str(error).strip()
        print(
            json.dumps(
                {
                    "ok": False,
                    "error": type(error).__name__,
                    "message": message[:4000],
                    "seconds": time.perf_counter() - started,
                    "steps": steps,
                }
            )
        )
        return 1
    tables = _row_counts(info, pipeline)
    result = {
        "ok": True,
        "seconds": time.perf_counter() - started,
        "steps": steps,
        "tables": len(tables),
        "rows": sum(tables.values()),
        "row_counts": tables,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
