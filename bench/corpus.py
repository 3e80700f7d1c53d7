"""Generate a seeded benchmark corpus of Synth job results as `.jsonl` files.

Every job has the same shape by default: 16 candidates, 4 levers, 200 sensor
frames (3 kinds, 2 traces and 2 lever versions each), 30 history generations
and 2 prompt messages. `etl` splits such a job into 1,653 table rows plus the
raw payload. Each job draws from its own random generator seeded by the corpus
seed and the job's index, so a job's bytes depend only on those two values and
on whether the job is changed.

`--change-fraction F` writes the same corpus with a fraction F of the jobs
changed: each changed job gets new sensor frames, a higher `best_reward` and a
new status. The other jobs keep their exact bytes, so `etl` finds them
unchanged in an archive that loaded the original corpus.

    python bench/corpus.py DIR --jobs 1000
    python bench/corpus.py DIR --jobs 1000 --change-fraction 0.1
    python bench/corpus.py DIR --jobs 1000 --per-job-json   # one .json per job
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

__all__ = [
    "CorpusShape",
    "changed_indexes",
    "generate_job",
    "iter_jobs",
    "rows_per_job",
    "write_corpus",
]

_SENSOR_KINDS = ("reward", "rollout", "timing", "quality", "resource", "trace")
_TASKS = (
    (
        "Classify the banking query into one of 77 intents.",
        "Query: {query}\nIntent:",
    ),
    (
        "Translate the request into one SQLite query over the given schema.",
        "Schema:\n{schema}\n\nRequest: {request}\nSQL:",
    ),
    (
        "Answer the question using only the retrieved passages.",
        "Passages:\n{passages}\n\nQuestion: {question}\nAnswer:",
    ),
)
_TEAMS = ("support-automation", "search-quality", "data-platform", "risk")
# Statuses of jobs before a change, and the status a changed job moves to.
_INITIAL_STATUSES = (("running", 0.25), ("succeeded", 0.6), ("failed", 0.15))
_CHANGED_STATUS = {"running": "succeeded", "succeeded": "completed", "failed": "error"}
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
_ULID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


@dataclass(frozen=True)
class CorpusShape:
    """Sizes of each job's lists; the defaults give 1,653 rows a job."""

    candidates: int = 16
    levers: int = 4
    frames: int = 200
    kinds_per_frame: int = 3
    traces_per_frame: int = 2
    levers_per_frame: int = 2
    generations: int = 30
    messages: int = 2
    # Frames that a changed job adds to its list.
    new_frames_on_change: int = 20


def rows_per_job(shape: CorpusShape, *, changed: bool = False) -> int:
    """Return the table rows `etl` writes for one job, without `raw_payloads`."""
    frames = shape.frames + (shape.new_frames_on_change if changed else 0)
    per_frame = (
        1 + shape.kinds_per_frame + shape.traces_per_frame + shape.levers_per_frame
    )
    return (
        1
        + shape.messages
        + shape.candidates
        + shape.levers
        + frames * per_frame
        + shape.generations
    )


def _timestamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _token(rng: random.Random, length: int, alphabet: str = "0123456789abcdef") -> str:
    return "".join(rng.choices(alphabet, k=length))


def _unique_tokens(
    rng: random.Random, count: int, prefix: str, length: int
) -> list[str]:
    tokens: dict[str, None] = {}
    while len(tokens) < count:
        tokens[f"{prefix}{_token(rng, length)}"] = None
    return list(tokens)


def _frames(
    rng: random.Random,
    shape: CorpusShape,
    count: int,
    start: datetime,
    lever_ids: Sequence[str],
    latest_version: int,
) -> list[dict[str, Any]]:
    frames = []
    moment = start
    for _ in range(count):
        moment += timedelta(seconds=rng.uniform(5, 90))
        levers = rng.sample(list(lever_ids), shape.levers_per_frame)
        frames.append(
            {
                "frame_id": "frame_01" + _token(rng, 24, _ULID_ALPHABET),
                "created_at": _timestamp(moment),
                "sensor_count": rng.randint(1, 8),
                "sensor_kinds": rng.sample(_SENSOR_KINDS, shape.kinds_per_frame),
                "trace_ids": [
                    "trace_" + _token(rng, 12) for _ in range(shape.traces_per_frame)
                ],
                "lever_versions": {
                    lever_id: rng.randint(1, latest_version) for lever_id in levers
                },
            }
        )
    return frames


def generate_job(
    seed: int, index: int, shape: CorpusShape, *, changed: bool = False
) -> dict[str, Any]:
    """Build the payload of job `index`, as the API would return it.

    A changed job is the same job fetched later: it has the same id, lists
    and messages, `shape.new_frames_on_change` more sensor frames, a higher
    `best_reward` and a new status.
    """
    rng = random.Random(f"{seed}:{index}")
    job_id = f"po_{index:06d}_{_token(rng, 10)}"
    algorithm = rng.choice(("gepa", "mipro"))
    status = rng.choices(
        [name for name, _ in _INITIAL_STATUSES],
        weights=[weight for _, weight in _INITIAL_STATUSES],
    )[0]
    created = _EPOCH + timedelta(minutes=index * 7 + rng.randint(0, 6))
    started = created + timedelta(seconds=rng.randint(5, 600))
    latest_version = rng.randint(3, 9)

    lever_ids = _unique_tokens(rng, shape.levers, f"{algorithm}.prompt.sys_", 6)
    prompt_lever_id = lever_ids[0]
    candidate_ids = ["baseline", *_unique_tokens(rng, shape.candidates - 1, "cand_", 8)]
    best_id = rng.choice(candidate_ids[1:])
    system, pattern = rng.choice(_TASKS)
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}]
    messages += [{"role": "user", "pattern": pattern}] * (shape.messages - 1)

    rewards = sorted(round(rng.uniform(0.4, 0.9), 4) for _ in range(shape.generations))
    best_reward = rewards[-1]
    frames = _frames(rng, shape, shape.frames, started, lever_ids, latest_version)
    finished: datetime | None = datetime.fromisoformat(frames[-1]["created_at"])

    if changed:
        change_rng = random.Random(f"{seed}:{index}:changed")
        status = _CHANGED_STATUS[status]
        best_reward = round(min(best_reward + change_rng.uniform(0.01, 0.08), 1.0), 4)
        assert finished is not None
        frames += _frames(
            change_rng,
            shape,
            shape.new_frames_on_change,
            finished,
            lever_ids,
            latest_version,
        )
        finished = datetime.fromisoformat(frames[-1]["created_at"])
    if status == "running":
        finished = None

    payload: dict[str, Any] = {
        "job_id": job_id,
        "status": status,
        "algorithm": algorithm,
        "created_at": _timestamp(created),
        "started_at": _timestamp(started),
        "finished_at": None if finished is None else _timestamp(finished),
        "total_cost_usd": round(rng.uniform(0.5, 40.0), 2),
        "generations_completed": shape.generations,
        "candidates_evaluated": shape.candidates,
        "best_reward": best_reward,
        "best_prompt": {
            "candidate_id": best_id,
            "messages": messages,
            "reward": best_reward,
        },
        "lever_summary": {
            "prompt_lever_id": prompt_lever_id,
            "candidate_lever_versions": {
                candidate_id: rng.randint(1, latest_version)
                for candidate_id in candidate_ids
            },
            "best_candidate_id": best_id,
            "selected_candidate_id": best_id,
            "baseline_candidate_id": "baseline",
            "lever_count": shape.levers,
            "mutation_count": rng.randint(1, 40),
            "latest_version": latest_version,
        },
        "lever_versions": {
            lever_id: rng.randint(1, latest_version) for lever_id in lever_ids
        },
        "best_lever_version": latest_version,
        "sensor_frames": frames,
        "history": [
            {"generation": generation, "best_reward": reward}
            for generation, reward in enumerate(rewards, start=1)
        ],
        "labels": {"team": rng.choice(_TEAMS), "environment": "production"},
    }
    return payload


def changed_indexes(seed: int, jobs: int, fraction: float) -> set[int]:
    """Return the indexes of the jobs that `fraction` changes, for this seed.

    A fraction above 0 changes at least one job, so small corpora change too.
    """
    if not 0 <= fraction <= 1:
        raise ValueError(f"invalid change fraction {fraction}: expected 0 to 1")
    count = round(jobs * fraction)
    if fraction > 0 and jobs > 0:
        count = max(count, 1)
    return set(random.Random(f"{seed}:changes").sample(range(jobs), count))


def iter_jobs(
    seed: int, jobs: int, shape: CorpusShape, changed: set[int]
) -> Iterator[dict[str, Any]]:
    """Yield the payloads of jobs 0 to `jobs` - 1 in index order."""
    for index in range(jobs):
        yield generate_job(seed, index, shape, changed=index in changed)


def write_corpus(
    directory: Path,
    *,
    jobs: int,
    seed: int = 1,
    shape: CorpusShape | None = None,
    change_fraction: float = 0.0,
    jobs_per_file: int = 100,
    per_job_json: bool = False,
) -> list[str]:
    """Write the corpus into `directory` and return the job ids in order.

    Files are `jobs_NNNNN.jsonl` with `jobs_per_file` payloads each, or one
    `{job_id}.json` per job with `per_job_json`, the form that the stand-in
    API serves. Files of earlier runs with other names are left in place.
    """
    if jobs < 0:
        raise ValueError(f"invalid job count {jobs}: must be >= 0")
    if jobs_per_file < 1:
        raise ValueError(f"invalid jobs per file {jobs_per_file}: must be >= 1")
    shape = shape or CorpusShape()
    changed = changed_indexes(seed, jobs, change_fraction)
    directory.mkdir(parents=True, exist_ok=True)
    job_ids: list[str] = []
    batch: list[str] = []
    for index, payload in enumerate(iter_jobs(seed, jobs, shape, changed)):
        job_ids.append(payload["job_id"])
        line = json.dumps(payload, ensure_ascii=False)
        if per_job_json:
            (directory / f"{payload['job_id']}.json").write_text(line, "utf-8")
            continue
        batch.append(line)
        if len(batch) == jobs_per_file or index == jobs - 1:
            number = index // jobs_per_file
            text = "\n".join(batch) + "\n"
            (directory / f"jobs_{number:05d}.jsonl").write_text(text, "utf-8")
            batch = []
    return job_ids


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, help="directory to write files into")
    parser.add_argument("--jobs", type=int, default=1000, help="number of jobs")
    parser.add_argument("--seed", type=int, default=1, help="corpus seed")
    parser.add_argument(
        "--change-fraction",
        type=float,
        default=0.0,
        help="fraction of jobs written with changed content, 0 to 1 (default 0)",
    )
    parser.add_argument(
        "--jobs-per-file", type=int, default=100, help="payloads per .jsonl file"
    )
    parser.add_argument(
        "--per-job-json",
        action="store_true",
        help="write one {job_id}.json file per job instead of .jsonl files",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    try:
        job_ids = write_corpus(
            args.directory,
            jobs=args.jobs,
            seed=args.seed,
            change_fraction=args.change_fraction,
            jobs_per_file=args.jobs_per_file,
            per_job_json=args.per_job_json,
        )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"Wrote {len(job_ids)} jobs into {args.directory}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
