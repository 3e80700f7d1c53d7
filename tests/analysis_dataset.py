"""A small, fully known data set for the tests of the views, queries and report.

Three jobs:

- job_alpha (gepa, succeeded): generations 1-4 with a drop at generation 3,
  two candidates, two levers, and two frames. Frame a2 was created at
  2026-03-01T22:30:00-02:00, which is 00:30 on 2026-03-02 in UTC.
- job_beta (mipro, running): generations 1, 2 and 5 with a drop at 2, no
  best_lever_version, and two frames on 2026-03-02 UTC. Frame b2 has no
  sensor kinds and was created at exactly midnight UTC, written with +09:00.
- job_gamma (failed): one generation without a reward, a lever with a NULL
  version, and one frame without created_at.

Every reward is a multiple of 1/8, so sums and differences are exact in
binary floating point and print the same in sqlite3 and psql.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from conftest import create_postgres_database

JOB_ALPHA: dict[str, Any] = {
    "job_id": "job_alpha",
    "status": "succeeded",
    "algorithm": "gepa",
    "best_reward": 0.875,
    "created_at": "2026-03-01T08:00:00Z",
    "started_at": "2026-03-01T08:05:00Z",
    "finished_at": "2026-03-02T02:00:00+01:00",
    "lever_summary": {
        "prompt_lever_id": "lever.prompt.alpha",
        "candidate_lever_versions": {"alpha_base": 1, "alpha_cand": 3},
        "best_candidate_id": "alpha_cand",
        "selected_candidate_id": "alpha_cand",
        "baseline_candidate_id": "alpha_base",
    },
    "lever_versions": {"lever.prompt.alpha": 3, "lever.shared": 2},
    "best_lever_version": 3,
    "history": [
        {"generation": 1, "best_reward": 0.25},
        {"generation": 2, "best_reward": 0.5},
        {"generation": 3, "best_reward": 0.375},
        {"generation": 4, "best_reward": 0.875},
    ],
    "sensor_frames": [
        {
            "frame_id": "a1",
            "created_at": "2026-03-01T10:00:00Z",
            "sensor_kinds": ["reward", "rollout"],
            "lever_versions": {"lever.prompt.alpha": 2, "lever.shared": 2},
        },
        {
            "frame_id": "a2",
            "created_at": "2026-03-01T22:30:00-02:00",
            "sensor_kinds": ["reward"],
            "lever_versions": {"lever.prompt.alpha": 3},
        },
    ],
}

JOB_BETA: dict[str, Any] = {
    "job_id": "job_beta",
    "status": "in_progress",
    "algorithm": "mipro",
    "best_reward": 0.5,
    "created_at": "2026-03-01T12:00:00Z",
    "lever_summary": {
        "prompt_lever_id": "lever.prompt.beta",
        "candidate_lever_versions": {"beta_base": 1, "beta_cand": 2},
        "best_candidate_id": "beta_base",
        "selected_candidate_id": "beta_cand",
        "baseline_candidate_id": "beta_base",
    },
    "lever_versions": {"lever.prompt.beta": 2, "lever.shared": 2},
    "history": [
        {"generation": 1, "best_reward": 0.5},
        {"generation": 2, "best_reward": 0.25},
        {"generation": 5, "best_reward": 0.375},
    ],
    "sensor_frames": [
        {
            "frame_id": "b1",
            "created_at": "2026-03-02T00:15:00+00:00",
            "sensor_kinds": ["reward", "timing"],
            "lever_versions": {"lever.shared": 2},
        },
        {
            "frame_id": "b2",
            "created_at": "2026-03-02T09:00:00+09:00",
            "sensor_kinds": [],
            "lever_versions": {"lever.shared": 2},
        },
    ],
}

JOB_GAMMA: dict[str, Any] = {
    "job_id": "job_gamma",
    "status": "failed",
    "error": "evaluation crashed",
    "lever_versions": {"lever.gamma": None},
    "history": [{"generation": 1, "best_reward": None}],
    "sensor_frames": [
        {
            "frame_id": "g1",
            "sensor_kinds": ["quality"],
            "lever_versions": {"lever.gamma": None},
        }
    ],
}

PAYLOADS = (JOB_ALPHA, JOB_BETA, JOB_GAMMA)


def write_payloads(directory: Path, payloads: tuple[dict[str, Any], ...]) -> Path:
    """Write the payloads as one JSON array file in `directory`; return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "jobs.json"
    path.write_text(json.dumps(list(payloads), indent=2), "utf-8")
    return path


# Parameters of module-scoped fixtures that load a data set once per database;
# the function-scoped `database_url` fixture would load it for every test.
DATABASE_PARAMS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


@contextmanager
def empty_database(kind: str, directory: Path) -> Iterator[str]:
    """Yield the URL of an empty `kind` database (`sqlite` or `postgresql`)."""
    if kind == "sqlite":
        yield f"sqlite:///{directory / 'archive.db'}"
    else:
        with create_postgres_database() as url:
            yield url
