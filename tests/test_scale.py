"""A first sync of a large account with injected faults, then an incremental one."""

from __future__ import annotations

import random

from archive_helpers import read_table, run_etl
from standin_api import Fault, StandinApi, run_standin

API_KEY = "sk_test_scale_5150"
JOBS = 1500
SEED = 7


def test_large_account_with_faults(database_url: str) -> None:
    chooser = random.Random(SEED)
    api = StandinApi(api_keys=API_KEY)
    running = set()
    for number in range(JOBS):
        status = chooser.choice(["succeeded", "failed", "running", "queued"])
        if status in {"running", "queued"}:
            running.add(f"job_{number:05d}")
        api.add_payload(
            {
                "job_id": f"job_{number:05d}",
                "status": status,
                "best_reward": round(chooser.random(), 4),
                "created_at": f"2026-{1 + number % 11:02d}-01T00:00:00Z",
                "sensor_frames": [
                    {"frame_id": f"f{n}", "sensor_kinds": ["reward"]}
                    for n in range(number % 5)
                ],
            }
        )
    faults = [
        Fault.http_error(503),
        Fault.http_error(500, count=2),
        Fault.rate_limited(retry_after=0),
        Fault.truncated_body(),
        Fault.invalid_json(),
        Fault.latency(50),
    ]
    faulty = chooser.sample(range(JOBS), 300)
    for number in faulty:
        api.add_fault(chooser.choice(faults), job_id=f"job_{number:05d}")
    api.add_listing_fault(Fault.http_error(502), page=3)
    with run_standin(api) as server:
        env = {
            "SYNTH_API_KEY": API_KEY,
            "SYNTH_BACKEND_URL": server.url,
            "ETL_RETRY_MAX_WAIT": "0.02",
        }
        first = run_etl("sync", "--database-url", database_url, env=env)
        first_fetches = [r.raw_path for r in server.requests if r.status == 200]
        api.request_log.clear()
        second = run_etl("sync", "--database-url", database_url, env=env)
        second_fetches = [
            r.raw_path.split("/")[-2]
            for r in server.requests
            if r.raw_path.endswith("/results")
        ]

    assert first.exit_code == 0, first.stderr[-2000:]
    assert f"{JOBS} listed, {JOBS} fetched, {JOBS} loaded, 0 unchanged" in first.stdout
    jobs = read_table(database_url, "jobs")
    assert len(jobs) == JOBS
    assert len({job["job_id"] for job in jobs}) == JOBS
    assert len(read_table(database_url, "raw_payloads")) == JOBS
    assert len(read_table(database_url, "sensor_frames")) == sum(
        n % 5 for n in range(JOBS)
    )
    served = {p.split("/")[-2] for p in first_fetches if p.endswith("/results")}
    assert len(served) == JOBS
    assert second.exit_code == 0, second.stderr[-2000:]
    assert sorted(second_fetches) == sorted(running)
    assert f"{JOBS} listed, {len(running)} fetched, 0 loaded" in second.stdout
