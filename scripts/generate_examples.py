#!/usr/bin/env python3
"""Generate the example payloads under examples/.

Every file contains responses in the shape of
``GET /api/policy-optimization/online/jobs/{job_id}/results``, covering the
payload variants that the archive accepts. The output is deterministic: a fixed
seed, no wall-clock values and gzip headers with mtime 0, so a rerun writes the
same bytes. The compressed streams come from zlib, so a different zlib build
may compress to different (equally valid) bytes.

Usage: python scripts/generate_examples.py [--out examples]

Uses only the standard library, so it runs without the project installed.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import random
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

SEED = 20260212
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "examples"

# The payloads describe a snapshot taken at this UTC moment. Every timestamp,
# including fractional seconds and offsets, stays before 2026-12-01.
SNAPSHOT_AT = datetime(2026, 11, 30, 18, 0, 0)
FIRST_CREATED_AT = datetime(2026, 1, 5, 8, 0, 0)

# --------------------------------------------------------------------------
# Fixed payloads: the documented example and the two small test fixtures.
# --------------------------------------------------------------------------

DOCUMENTED_EXAMPLE: dict[str, Any] = {
    "job_id": "po_abc123",
    "status": "completed",
    "best_reward": 0.94,
    "best_prompt": {
        "messages": [{"role": "system", "content": "You are a helpful assistant..."}],
        "reward": 0.94,
    },
    "lever_summary": {
        "prompt_lever_id": "mipro.prompt.sys_abc",
        "candidate_lever_versions": {"baseline": 1, "candidate_9b12": 4},
        "best_candidate_id": "candidate_9b12",
        "selected_candidate_id": "candidate_9b12",
        "baseline_candidate_id": "baseline",
        "lever_count": 4,
        "mutation_count": 3,
        "latest_version": 4,
    },
    "lever_versions": {"mipro.prompt.sys_abc": 4},
    "best_lever_version": 4,
    "sensor_frames": [
        {
            "frame_id": "frame_01hzk...",
            "created_at": "2026-02-12T18:44:00Z",
            "sensor_count": 3,
            "sensor_kinds": ["rollout", "reward", "resource"],
            "trace_ids": ["trace_abc"],
            "lever_versions": {"mipro.prompt.sys_abc": 4},
        }
    ],
    "history": [
        {"generation": 1, "best_reward": 0.72},
        {"generation": 2, "best_reward": 0.85},
        {"generation": 3, "best_reward": 0.94},
    ],
}

GEPA_SUCCEEDED: dict[str, Any] = {
    "job_id": "pl_5f0c2a9e81d34b77",
    "status": "succeeded",
    "algorithm": "gepa",
    "best_score": 0.81,
    "best_candidate": {"candidate_id": "cand_0007"},
    "best_prompt": {
        "messages": [
            {
                "role": "system",
                "content": "Classify the banking query into one of 77 intents.",
            },
            {"role": "user", "pattern": "Query: {query}\nIntent:"},
        ]
    },
    "lever_summary": None,
    "lever_versions": None,
    "best_lever_version": None,
    "sensor_frames": None,
    "created_at": "2026-05-02T08:00:00Z",
    "finished_at": "2026-05-02T09:41:12Z",
    "total_cost_usd": 3.42,
}

MIPRO_RUNNING: dict[str, Any] = {
    "job_id": "po_7d41e0",
    "status": "running",
    "best_reward": 0.61,
    "best_prompt": {
        "messages": [
            {"role": "system", "content": "Résumé the ticket in one line. 🚀"}
        ],
        "reward": 0.61,
    },
    "lever_summary": {
        "prompt_lever_id": "mipro.prompt.pl_123",
        "candidate_lever_versions": {
            "baseline": "1",
            "candidate_a1": "7",
            "candidate_b2": 3,
        },
        "best_candidate_id": "candidate_a1",
        "selected_candidate_id": "candidate_b2",
        "baseline_candidate_id": "baseline",
        "lever_count": 2,
        "mutation_count": 2,
        "latest_version": "7",
    },
    "lever_versions": {"mipro.prompt.pl_123": 7, "mipro.context.pl_123": 2},
    "best_lever_version": 7,
    "sensor_frames": [
        {
            "frame_id": "frame_a",
            "created_at": "2026-03-01T09:15:30.123456789+02:00",
            "sensor_count": 2,
            "sensor_kinds": ["reward", "timing"],
            "trace_ids": [],
            "lever_versions": {"mipro.prompt.pl_123": 7},
        },
        {
            "frame_id": "frame_b",
            "created_at": "2026-03-01T07:16:00Z",
            "sensor_count": 1,
            "sensor_kinds": ["safety"],
            "trace_ids": ["trace_1", "trace_2"],
            "lever_versions": {},
        },
    ],
    "history": [
        {"generation": 1, "best_reward": 0.4},
        {"generation": 2, "best_reward": 0.61},
    ],
}

# (relative path, payload, algorithm) of the fixed files.
FIXED_PAYLOADS: tuple[tuple[str, dict[str, Any], str], ...] = (
    ("documented_example.json", DOCUMENTED_EXAMPLE, "mipro"),
    ("fixtures/gepa_succeeded.json", GEPA_SUCCEEDED, "gepa"),
    ("fixtures/mipro_running.json", MIPRO_RUNNING, "mipro"),
)

# --------------------------------------------------------------------------
# Statuses and file layout of the generated jobs.
# --------------------------------------------------------------------------

# Raw status string -> number of generated jobs with it. "preempted" is not a
# documented status, and the archive must keep it rather than reject it.
STATUS_COUNTS: dict[str, int] = {
    "succeeded": 15,
    "completed": 12,
    "success": 3,
    "complete": 2,
    "failed": 7,
    "failure": 2,
    "error": 2,
    "cancelled": 3,
    "canceled": 2,
    "cancel": 1,
    "running": 6,
    "in_progress": 2,
    "paused": 2,
    "pending": 3,
    "queued": 3,
    "preempted": 1,
}

# Raw status -> normalized state. SDK aliases such as "success" and "cancel"
# map to the documented statuses.
NORMALIZED_STATUS: dict[str, str] = {
    "pending": "pending",
    "queued": "queued",
    "running": "running",
    "in_progress": "running",
    "paused": "paused",
    "succeeded": "succeeded",
    "completed": "succeeded",
    "success": "succeeded",
    "complete": "succeeded",
    "failed": "failed",
    "failure": "failed",
    "error": "failed",
    "cancelled": "cancelled",
    "canceled": "cancelled",
    "cancel": "cancelled",
    "preempted": "unknown",
}

# Normalized state -> life-cycle phase that decides which fields a job has.
PHASE_BY_STATE: dict[str, str] = {
    "pending": "waiting",
    "queued": "waiting",
    "running": "active",
    "paused": "active",
    "unknown": "active",
    "succeeded": "succeeded",
    "failed": "failed",
    "cancelled": "cancelled",
}


@dataclass(frozen=True)
class FileSpec:
    """One output file, or one file per job when the path contains {job_id}."""

    path: str
    form: str  # "json" (one payload), "json-list" or "jsonl"
    job_count: int


FILE_PLAN: tuple[FileSpec, ...] = (
    FileSpec("jobs/single/{job_id}.json", "json", 12),
    FileSpec("jobs/single/{job_id}.json.gz", "json", 3),
    FileSpec("jobs/nested/deeper/{job_id}.json", "json", 2),
    FileSpec("jobs/batches/batch_01.json", "json-list", 7),
    FileSpec("jobs/batches/batch_02.json.gz", "json-list", 6),
    FileSpec("jobs/exports/export_01.jsonl", "jsonl", 8),
    FileSpec("jobs/exports/export_02.ndjson", "jsonl", 7),
    FileSpec("jobs/exports/export_03.jsonl.gz", "jsonl", 7),
    FileSpec("jobs/nested/export_04.jsonl", "jsonl", 5),
    FileSpec("jobs/nested/deeper/export_05.ndjson", "jsonl", 4),
    FileSpec("jobs/nested/deeper/export_06.jsonl.gz", "jsonl", 5),
)

# Number of MIPRO jobs that get 200-600 sensor frames and 20-40 generations.
LARGE_MIPRO_JOBS = 4

# --------------------------------------------------------------------------
# Tasks and prompt text.
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    """A prompt-optimization task: the baseline prompt and candidate edits."""

    name: str
    system: str
    user_pattern: str
    example_input: str
    example_output: str
    # Sentences that optimized candidates append to the system prompt.
    refinements: tuple[str, ...]


TASKS: tuple[Task, ...] = (
    Task(
        "banking77",
        "Classify the banking query into one of 77 intents.",
        "Query: {query}\nIntent:",
        "Query: My card still hasn't arrived after two weeks.\nIntent:",
        "card_arrival",
        (
            "Reply with the intent label only, in snake_case.",
            "Prefer the most specific intent when two labels overlap.",
            "Queries about top-ups by card are 'top_up_by_card_charge' only "
            "when a fee is mentioned.",
        ),
    ),
    Task(
        "hotpotqa",
        "Answer the multi-hop question using only the supporting passages.",
        "Passages:\n{passages}\n\nQuestion: {question}\nAnswer:",
        "Passages:\n[1] Ada Lovelace was born in London.\n"
        "[2] London is the capital of England.\n\n"
        "Question: In which country was Ada Lovelace born?\nAnswer:",
        "England",
        (
            "Identify the bridge entity before answering.",
            "Answer with a short span copied from the passages.",
            "If the passages do not contain the answer, reply 'unknown'.",
        ),
    ),
    Task(
        "support_tickets",
        "Summarize the support ticket in one line for the on-call engineer.",
        "Ticket #{ticket_id}:\n{body}",
        "Ticket #4411:\nCheckout fails with a 502 since this morning's deploy.",
        "Checkout returns 502 since today's deploy.",
        (
            "Start with the affected component.",
            "Keep the summary under 15 words.",
            "Mention the customer impact if the ticket states it.",
        ),
    ),
    Task(
        "text_to_sql",
        "Translate the request into a single SQLite query over the given schema.",
        "Schema:\n{schema}\n\nRequest: {request}\nSQL:",
        "Schema:\norders(id, customer_id, total, created_at)\n\n"
        "Request: total revenue in March 2026\nSQL:",
        "SELECT SUM(total) FROM orders WHERE created_at >= '2026-03-01' "
        "AND created_at < '2026-04-01';",
        (
            "Use only tables and columns that appear in the schema.",
            "Qualify column names when the query joins tables.",
            "Return the SQL statement without an explanation.",
        ),
    ),
    Task(
        "crafter_agent",
        "You control an agent in Crafter. Choose the next action from the "
        "allowed list.",
        "Observation:\n{observation}\nAllowed actions: {actions}",
        "Observation:\nA tree is to the north. Inventory: empty.\n"
        "Allowed actions: move_north, do, noop",
        "move_north",
        (
            "Collect wood before trying to craft a table.",
            "Avoid zombies at night unless you hold a sword.",
            "Reply with exactly one action name.",
        ),
    ),
    Task(
        "gsm8k",
        "Solve the grade-school math problem. Put the final number after '####'.",
        "{problem}",
        "A box holds 12 pencils. How many pencils are in 7 boxes?",
        "12 * 7 = 84\n#### 84",
        (
            "Write one short reasoning step per line.",
            "Check the arithmetic before writing the final answer.",
            "Do not include units after the final number.",
        ),
    ),
    Task(
        "ticket_translation",
        "Traduisez le message du client en anglais, sans changer le ton.",
        "Message : {message}",
        "Message : Bonjour, ma commande n'est toujours pas arrivée. Merci !",
        "Hello, my order still hasn't arrived. Thanks!",
        (
            "Conservez les noms de produits tels quels.",
            "Traduisez les montants sans convertir la devise.",
            "Gardez les émojis 🙂 du message d'origine.",
        ),
    ),
    Task(
        "review_sentiment",
        "Classify the product review as positive, neutral or negative. "
        "Reviews may be in Japanese, for example 「とても良い」.",
        "Review: {review}\nSentiment:",
        "Review: 配送が遅かったが、品質は良い。\nSentiment:",
        "neutral",
        (
            "Weigh the final sentence of the review most.",
            "Sarcasm counts as negative.",
            "Answer in lowercase English.",
        ),
    ),
    Task(
        "invoice_extraction",
        "Extract the invoice number, date and total from the OCR text as JSON.",
        "OCR text:\n{ocr_text}",
        "OCR text:\nINVOICE No. 2026-0457  Date 14.03.2026  Total EUR 1.240,00",
        '{"invoice_number": "2026-0457", "date": "2026-03-14", "total": 1240.0}',
        (
            "Write dates as YYYY-MM-DD.",
            "Use null for a field that the text does not contain.",
            "Parse European number formats with a decimal comma.",
        ),
    ),
)

POLICY_MODELS = ("gpt-4.1-mini", "gpt-4o-mini", "qwen3-8b", "llama-3.1-8b-instruct")
PROPOSER_MODELS = ("gpt-4.1", "claude-sonnet-4", "gpt-4o")
TEAMS = ("search-quality", "support-automation", "agents", "finance-ops")

SENSOR_KIND_RATES: tuple[tuple[str, float], ...] = (
    ("reward", 0.9),
    ("rollout", 0.7),
    ("timing", 0.5),
    ("resource", 0.35),
    ("quality", 0.25),
    ("trace", 0.25),
    ("safety", 0.15),
    ("context_apply", 0.1),
    ("experiment", 0.08),
    ("custom", 0.05),
)

FAILURE_MESSAGES = (
    "Rollout workers exceeded the 900 s timeout on 12 of 40 seeds.",
    "Task app returned HTTP 500 for every rollout in generation 3.",
    "Proposer model rejected the request: context length exceeded.",
    "Budget limit of 25.00 USD reached before the first evaluation finished.",
    "Invalid task app response: missing 'reward' in rollout result.",
)

CANCEL_REASONS = (
    "superseded by a job with a larger seed set",
    "wrong policy model selected",
    "cost limit for the sprint reached",
)

ULID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"

# --------------------------------------------------------------------------
# Small value generators.
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class TimeStyle:
    """Offset and fractional precision of one job's timestamps."""

    offset: str  # "Z" or "+HH:MM" / "-HH:MM"
    fraction_digits: int  # 0 for whole seconds, else 3, 6 or 9


TIME_STYLES: tuple[TimeStyle, ...] = (
    TimeStyle("Z", 0),
    TimeStyle("Z", 0),
    TimeStyle("Z", 3),
    TimeStyle("+02:00", 0),
    TimeStyle("-07:00", 6),
    TimeStyle("+05:30", 0),
    TimeStyle("Z", 9),
    TimeStyle("+02:00", 9),
    TimeStyle("Z", 6),
)


def format_timestamp(moment: datetime, style: TimeStyle, rng: random.Random) -> str:
    """Format a naive UTC moment as ISO-8601 in the style's offset.

    The fractional part is random noise below one second, so it never moves
    the moment past the next whole second.
    """
    if style.offset == "Z":
        shift = timedelta(0)
    else:
        sign = 1 if style.offset[0] == "+" else -1
        hours, minutes = style.offset[1:].split(":")
        shift = sign * timedelta(hours=int(hours), minutes=int(minutes))
    text = (moment + shift).strftime("%Y-%m-%dT%H:%M:%S")
    if style.fraction_digits:
        digits = style.fraction_digits
        text += f".{rng.randrange(10**digits):0{digits}d}"
    return text + style.offset


def random_hex(rng: random.Random, length: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(length))


def new_job_id(rng: random.Random, used_ids: set[str]) -> str:
    """Return a `pl_` (SDK style) or `po_` (documentation style) id not yet used."""
    while True:
        if rng.random() < 0.7:
            job_id = "pl_" + random_hex(rng, 16)
        else:
            job_id = "po_" + random_hex(rng, rng.choice((6, 8, 12)))
        if job_id not in used_ids:
            used_ids.add(job_id)
            return job_id


def new_frame_id(rng: random.Random) -> str:
    return "frame_01" + "".join(rng.choice(ULID_ALPHABET) for _ in range(24))


def random_moment(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """Return a whole-second moment in [start, end)."""
    span = int((end - start).total_seconds())
    return start + timedelta(seconds=rng.randrange(span))


def pick_sensor_kinds(rng: random.Random) -> list[str]:
    kinds = [kind for kind, rate in SENSOR_KIND_RATES if rng.random() < rate]
    return kinds or ["reward"]


def build_messages(
    rng: random.Random, task: Task, refinement_count: int, style: str
) -> list[dict[str, Any]]:
    """Build a prompt's messages in one of the accepted message styles.

    Styles: "content" (plain role and content), "pattern" (the user template
    under `pattern`), "named" (messages carry `name`), or "pattern+named".
    """
    refinements = rng.sample(task.refinements, refinement_count)
    system_text = " ".join((task.system, *refinements))
    use_pattern = "pattern" in style
    use_names = "named" in style

    messages: list[dict[str, Any]] = [{"role": "system", "content": system_text}]
    if use_names:
        messages[0]["name"] = "instructions"
        messages.append(
            {"role": "user", "name": "example_input", "content": task.example_input}
        )
        messages.append(
            {
                "role": "assistant",
                "name": "example_output",
                "content": task.example_output,
            }
        )
    template_key = "pattern" if use_pattern else "content"
    messages.append({"role": "user", template_key: task.user_pattern})
    return messages


def build_history(
    rng: random.Random, generations: int, final_best: float
) -> list[dict[str, Any]]:
    """Build a best-so-far curve that rises from a baseline to `final_best`."""
    baseline = final_best * rng.uniform(0.5, 0.85)
    middle = sorted(rng.uniform(baseline, final_best) for _ in range(generations - 2))
    values = [baseline, *middle, final_best]
    return [
        {"generation": index, "best_reward": round(value, 4)}
        for index, value in enumerate(values, start=1)
    ]


def maybe_text(rng: random.Random, value: int, enabled: bool) -> int | str:
    """Return the version as a numeric string half the time when enabled."""
    if enabled and rng.random() < 0.5:
        return str(value)
    return value


# --------------------------------------------------------------------------
# MIPRO levers and sensor frames.
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class LeverSetup:
    """The levers of one MIPRO job and the payload fields that describe them."""

    lever_ids: tuple[str, ...]  # the prompt lever comes first
    latest_version: int
    best_candidate_id: str
    summary: dict[str, Any]
    lever_versions: dict[str, Any]
    best_lever_version: int | str


def build_lever_setup(rng: random.Random, versions_as_text: bool) -> LeverSetup:
    suffix = rng.choice(
        (
            f"sys_{random_hex(rng, 3)}",
            f"pl_{rng.randrange(100, 1000)}",
            random_hex(rng, 6),
        )
    )
    extra_kinds = rng.sample(("context", "fewshot", "tools"), rng.randint(0, 2))
    lever_ids = (
        f"mipro.prompt.{suffix}",
        *(f"mipro.{k}.{suffix}" for k in extra_kinds),
    )

    mutation_count = rng.randint(2, 9)
    latest_version = mutation_count + 1
    candidate_count = rng.randint(1, min(4, mutation_count))
    versions = sorted(rng.sample(range(2, latest_version + 1), candidate_count))
    candidate_ids = [f"candidate_{random_hex(rng, 4)}" for _ in versions]
    best_index = len(versions) - 1 if rng.random() < 0.75 else 0
    best_candidate_id = candidate_ids[best_index]
    best_version = versions[best_index]
    if rng.random() < 0.8:
        selected_candidate_id = best_candidate_id
    else:
        selected_candidate_id = rng.choice(candidate_ids)

    candidate_versions: dict[str, Any] = {
        "baseline": maybe_text(rng, 1, versions_as_text)
    }
    for candidate_id, version in zip(candidate_ids, versions, strict=True):
        candidate_versions[candidate_id] = maybe_text(rng, version, versions_as_text)

    summary = {
        "prompt_lever_id": lever_ids[0],
        "candidate_lever_versions": candidate_versions,
        "best_candidate_id": best_candidate_id,
        "selected_candidate_id": selected_candidate_id,
        "baseline_candidate_id": "baseline",
        "lever_count": len(lever_ids) + rng.randint(0, 2),
        "mutation_count": mutation_count,
        "latest_version": maybe_text(rng, latest_version, versions_as_text),
    }
    lever_versions: dict[str, Any] = {
        lever_ids[0]: maybe_text(rng, best_version, versions_as_text)
    }
    for lever_id in lever_ids[1:]:
        lever_versions[lever_id] = maybe_text(rng, rng.randint(1, 3), versions_as_text)

    return LeverSetup(
        lever_ids=lever_ids,
        latest_version=latest_version,
        best_candidate_id=best_candidate_id,
        summary=summary,
        lever_versions=lever_versions,
        best_lever_version=maybe_text(rng, best_version, versions_as_text),
    )


def build_sensor_frames(
    rng: random.Random,
    count: int,
    start: datetime,
    end: datetime,
    levers: LeverSetup,
    style: TimeStyle,
    versions_as_text: bool,
) -> list[dict[str, Any]]:
    """Build `count` frames spread over [start, end], oldest first.

    Lever versions grow with the frame's position in the run. About one frame
    in eight has no traces, one in ten has no lever versions, and one in ten
    is written in UTC with whole seconds whatever the job's time style.
    """
    span = int((end - start).total_seconds())
    offsets = sorted(rng.randrange(max(span, 1)) for _ in range(count))
    frames = []
    for index, offset in enumerate(offsets):
        moment = start + timedelta(seconds=offset)
        frame_style = style if rng.random() < 0.9 else TimeStyle("Z", 0)
        progress = (index + 1) / count
        prompt_version = 1 + int(progress * (levers.latest_version - 1))

        lever_versions: dict[str, Any] = {}
        if rng.random() >= 0.1:
            lever_versions[levers.lever_ids[0]] = maybe_text(
                rng, prompt_version, versions_as_text
            )
            for lever_id in levers.lever_ids[1:]:
                if rng.random() < 0.5:
                    lever_versions[lever_id] = rng.randint(1, 3)

        trace_count = 0 if rng.random() < 0.125 else rng.randint(1, 3)
        kinds = pick_sensor_kinds(rng)
        frames.append(
            {
                "frame_id": new_frame_id(rng),
                "created_at": format_timestamp(moment, frame_style, rng),
                "sensor_count": len(kinds) + rng.choice((0, 0, 0, 1, 2)),
                "sensor_kinds": kinds,
                "trace_ids": [
                    f"trace_{random_hex(rng, 12)}" for _ in range(trace_count)
                ],
                "lever_versions": lever_versions,
            }
        )
    return frames


# --------------------------------------------------------------------------
# Job plans and payloads.
# --------------------------------------------------------------------------

REWARD_KEYS = ("best_reward", "best_reward", "best_score")
PROMPT_FORMS = (
    "best_prompt",
    "best_candidate",
    "best_prompt+candidate_id",
    "best_prompt",
    "best_candidate+best_prompt",
)
MESSAGE_STYLES = ("content", "pattern", "content", "named", "pattern+named")
PLACEMENTS = (
    "top",
    "top",
    "result",
    "top",
    "metadata",
    "job_metadata",
    "top",
    "result+job_metadata",
    "shadowed",
)
EXTRA_SETS = (
    (),
    ("config",),
    ("usage", "labels"),
    ("config", "usage"),
    ("task_app",),
    ("labels",),
)
# MIPRO shapes beyond the plain one: numeric-string versions, and history
# or frames that are null, omitted or empty.
MIPRO_SHAPES = (
    "plain",
    "text_versions",
    "plain",
    "no_history",
    "text_versions",
    "null_history",
    "plain",
    "empty_frames",
    "null_lever_versions",
)
GEPA_LEVER_FORMS = ("null", "omit", "null", "omit", "null_summary_only")
GEPA_HISTORY_FORMS = ("list", "omit", "null", "list")


@dataclass(frozen=True)
class JobPlan:
    """Choices that fix the shape of one generated job."""

    job_id: str
    algorithm: str
    status: str
    phase: str
    task: Task
    created_at: datetime
    time_style: TimeStyle
    reward_key: str
    prompt_form: str
    message_style: str
    placement: str
    extras: tuple[str, ...]
    include_algorithm: bool
    shape: str  # a MIPRO_SHAPES entry, a GEPA_LEVER_FORMS entry for GEPA
    history_form: str
    large: bool


@dataclass(frozen=True)
class GeneratedJob:
    plan: JobPlan
    payload: dict[str, Any]


def plan_jobs(rng: random.Random, used_ids: set[str]) -> list[JobPlan]:
    """Choose the algorithm, status and payload variant of every generated job.

    Variants cycle through fixed lists by job position instead of being drawn
    at random, so every variant appears. tests/test_examples.py checks that.
    """
    statuses = [s for s, count in STATUS_COUNTS.items() for _ in range(count)]
    rng.shuffle(statuses)

    plans = []
    algorithm_index: Counter[str] = Counter()
    large_left = LARGE_MIPRO_JOBS
    for index, status in enumerate(statuses):
        algorithm = "mipro" if rng.random() < 0.55 else "gepa"
        # The first two jobs are one of each algorithm, so neither can be missing.
        if index < 2:
            algorithm = ("mipro", "gepa")[index]
        nth = algorithm_index[algorithm]
        algorithm_index[algorithm] += 1

        phase = PHASE_BY_STATE[NORMALIZED_STATUS[status]]
        large = (
            algorithm == "mipro"
            and large_left > 0
            and phase in ("succeeded", "active", "failed")
        )
        if large:
            large_left -= 1

        if algorithm == "mipro":
            shape = "plain" if large else MIPRO_SHAPES[nth % len(MIPRO_SHAPES)]
            history_form = "list"
        else:
            shape = GEPA_LEVER_FORMS[nth % len(GEPA_LEVER_FORMS)]
            history_form = GEPA_HISTORY_FORMS[nth % len(GEPA_HISTORY_FORMS)]

        plans.append(
            JobPlan(
                job_id=new_job_id(rng, used_ids),
                algorithm=algorithm,
                status=status,
                phase=phase,
                task=rng.choice(TASKS),
                created_at=plan_created_at(rng, phase),
                time_style=TIME_STYLES[index % len(TIME_STYLES)],
                reward_key=REWARD_KEYS[index % len(REWARD_KEYS)],
                prompt_form=PROMPT_FORMS[index % len(PROMPT_FORMS)],
                message_style=MESSAGE_STYLES[index % len(MESSAGE_STYLES)],
                placement=PLACEMENTS[index % len(PLACEMENTS)],
                extras=EXTRA_SETS[index % len(EXTRA_SETS)],
                include_algorithm=index % 6 != 5,
                shape=shape,
                history_form=history_form,
                large=large,
            )
        )
    if large_left:
        raise RuntimeError(
            f"{large_left} of {LARGE_MIPRO_JOBS} large MIPRO jobs are missing because"
            " too few MIPRO jobs are active, failed or succeeded. Lower"
            " LARGE_MIPRO_JOBS or add statuses to STATUS_COUNTS."
        )
    return plans


def plan_created_at(rng: random.Random, phase: str) -> datetime:
    """Pick a creation time that fits the phase at the snapshot moment.

    Finished jobs spread over the year, active jobs started within the last
    two days, and waiting jobs were created in the last six hours.
    """
    if phase == "waiting":
        return random_moment(rng, SNAPSHOT_AT - timedelta(hours=6), SNAPSHOT_AT)
    if phase == "active":
        return random_moment(
            rng, SNAPSHOT_AT - timedelta(hours=44), SNAPSHOT_AT - timedelta(hours=16)
        )
    return random_moment(rng, FIRST_CREATED_AT, datetime(2026, 11, 24))


@dataclass(frozen=True)
class RunTimes:
    started_at: datetime | None
    # When the job stopped, or the snapshot moment for an active job.
    last_activity_at: datetime | None
    finished_at: datetime | None


def plan_run_times(rng: random.Random, plan: JobPlan) -> RunTimes:
    if plan.phase == "waiting":
        return RunTimes(None, None, None)
    started_at = plan.created_at + timedelta(seconds=rng.randint(5, 900))
    if plan.phase == "active":
        return RunTimes(started_at, SNAPSHOT_AT, None)
    hours = rng.uniform(8, 14) if plan.large else rng.uniform(0.3, 6)
    if plan.phase in ("failed", "cancelled"):
        hours *= rng.uniform(0.05, 0.7)
    finished_at = started_at + timedelta(seconds=int(hours * 3600))
    return RunTimes(started_at, finished_at, finished_at)


def plan_best_reward(rng: random.Random, plan: JobPlan) -> float | None:
    """Return the best reward so far, or None when no evaluation finished."""
    if plan.phase == "waiting":
        return None
    if plan.phase == "failed" and rng.random() < 0.4:
        return None
    if plan.phase == "succeeded":
        return round(rng.uniform(0.55, 0.97), 4)
    return round(rng.uniform(0.3, 0.8), 4)


def plan_generations(rng: random.Random, plan: JobPlan) -> int:
    if plan.large:
        return rng.randint(20, 40)
    if plan.phase == "succeeded":
        return rng.randint(3, 12)
    return rng.randint(2, 6)


def build_best_prompt_fields(
    rng: random.Random, plan: JobPlan, best_reward: float, candidate_id: str
) -> dict[str, Any]:
    """Build the best prompt under `best_prompt`, `best_candidate` or both."""
    messages = build_messages(rng, plan.task, rng.randint(0, 2), plan.message_style)
    fields: dict[str, Any] = {}
    if plan.prompt_form == "best_prompt":
        fields["best_prompt"] = {"messages": messages, "reward": best_reward}
    elif plan.prompt_form == "best_candidate":
        fields["best_candidate"] = {
            "candidate_id": candidate_id,
            "messages": messages,
            "reward": best_reward,
        }
    elif plan.prompt_form == "best_prompt+candidate_id":
        fields["best_candidate"] = {"candidate_id": candidate_id}
        fields["best_prompt"] = {"messages": messages}
    else:
        fields["best_candidate"] = {
            "candidate_id": candidate_id,
            "messages": messages,
            "reward": best_reward,
        }
        fields["best_prompt"] = {"messages": messages, "reward": best_reward}
    return fields


def build_mipro_fields(
    rng: random.Random, plan: JobPlan, times: RunTimes, best_reward: float | None
) -> dict[str, Any]:
    """Build the lever, sensor-frame and history fields of a MIPRO job."""
    if plan.phase == "waiting" or best_reward is None:
        fields: dict[str, Any] = {
            "lever_summary": None,
            "lever_versions": None,
            "best_lever_version": None,
            "sensor_frames": [] if plan.phase == "waiting" else None,
        }
        return fields

    as_text = plan.shape == "text_versions"
    levers = build_lever_setup(rng, as_text)
    fields = {
        "lever_summary": levers.summary,
        "lever_versions": levers.lever_versions,
        "best_lever_version": levers.best_lever_version,
    }
    if plan.shape == "null_lever_versions":
        fields["lever_versions"] = None

    if plan.shape == "empty_frames":
        fields["sensor_frames"] = []
    else:
        assert times.started_at is not None and times.last_activity_at is not None
        frame_count = rng.randint(200, 600) if plan.large else rng.randint(1, 25)
        fields["sensor_frames"] = build_sensor_frames(
            rng,
            frame_count,
            times.started_at,
            times.last_activity_at,
            levers,
            plan.time_style,
            as_text,
        )

    history = build_history(rng, plan_generations(rng, plan), best_reward)
    if plan.shape == "null_history":
        fields["history"] = None
    elif plan.shape != "no_history":
        fields["history"] = history
    return fields


def build_gepa_fields(
    rng: random.Random, plan: JobPlan, best_reward: float | None
) -> dict[str, Any]:
    """Build the fields of a GEPA job, which leaves levers and frames unset."""
    fields: dict[str, Any] = {}
    if plan.shape == "null":
        fields.update(
            lever_summary=None,
            lever_versions=None,
            best_lever_version=None,
            sensor_frames=None,
        )
    elif plan.shape == "null_summary_only":
        fields["lever_summary"] = None

    if plan.history_form == "null":
        fields["history"] = None
    elif plan.history_form == "list" and best_reward is not None:
        fields["history"] = build_history(rng, plan_generations(rng, plan), best_reward)
    return fields


def build_extra_fields(
    rng: random.Random, plan: JobPlan, times: RunTimes, generations: int | None
) -> dict[str, Any]:
    """Build the fields beside the documented ones: times, cost and counters."""
    fields: dict[str, Any] = {}
    fields["created_at"] = format_timestamp(plan.created_at, plan.time_style, rng)
    if times.started_at is not None:
        fields["started_at"] = format_timestamp(times.started_at, plan.time_style, rng)
    if times.finished_at is not None:
        fields["finished_at"] = format_timestamp(
            times.finished_at, plan.time_style, rng
        )

    if plan.phase == "waiting":
        if plan.status == "queued":
            fields["total_cost_usd"] = 0.0
    elif plan.large:
        fields["total_cost_usd"] = round(rng.uniform(20, 80), 2)
    else:
        fields["total_cost_usd"] = round(rng.uniform(0.2, 15), 2)

    if generations is not None:
        fields["generations_completed"] = generations
        fields["candidates_evaluated"] = generations * rng.randint(4, 12)
    return fields


def build_unknown_fields(rng: random.Random, plan: JobPlan) -> dict[str, Any]:
    """Build fields outside the documented response, which the archive must keep."""
    fields: dict[str, Any] = {}
    for name in plan.extras:
        if name == "config":
            fields["config"] = {
                "policy_model": rng.choice(POLICY_MODELS),
                "rollout_budget": rng.choice((200, 400, 800, 1600)),
                "seeds": sorted(rng.sample(range(1000), 5)),
                "proposer": {
                    "model": rng.choice(PROPOSER_MODELS),
                    "temperature": rng.choice((0.2, 0.7, 1.0)),
                },
            }
        elif name == "usage":
            fields["usage"] = {
                "tokens": {
                    "input": rng.randint(50_000, 9_000_000),
                    "output": rng.randint(5_000, 900_000),
                },
                "rollouts": rng.randint(40, 4000),
            }
        elif name == "labels":
            fields["labels"] = {
                "team": rng.choice(TEAMS),
                "environment": rng.choice(("staging", "production")),
            }
        elif name == "task_app":
            fields["task_app"] = {
                "id": f"{plan.task.name}-app",
                "version": f"1.{rng.randint(0, 9)}.{rng.randint(0, 20)}",
            }

    if plan.phase == "cancelled":
        fields["cancelled_by"] = {
            "user_id": "usr_" + random_hex(rng, 10),
            "reason": rng.choice(CANCEL_REASONS),
        }
    if plan.status == "preempted":
        fields["status_detail"] = {
            "reason": "spot capacity reclaimed",
            "resumable": True,
        }
    if plan.algorithm == "gepa" and plan.phase == "succeeded" and rng.random() < 0.5:
        fields["pareto_front"] = [
            {
                "candidate_id": f"cand_{rng.randrange(1, 200):04d}",
                "reward": round(rng.uniform(0.4, 0.95), 4),
                "prompt_tokens": rng.randint(40, 900),
            }
            for _ in range(rng.randint(2, 4))
        ]
    return fields


def build_error_fields(rng: random.Random, nth: int) -> dict[str, Any]:
    """Build `error`, `error_message` or both for a failed job."""
    message = rng.choice(FAILURE_MESSAGES)
    if nth % 3 == 0:
        return {"error": message}
    if nth % 3 == 1:
        return {"error_message": message}
    return {"error": "job_failed", "error_message": message}


def build_payload(
    rng: random.Random, plan: JobPlan, failed_index: int
) -> dict[str, Any]:
    """Build the flat payload of one job, then apply its placement."""
    times = plan_run_times(rng, plan)
    best_reward = plan_best_reward(rng, plan)

    payload: dict[str, Any] = {"job_id": plan.job_id, "status": plan.status}
    if plan.include_algorithm:
        payload["algorithm"] = plan.algorithm

    if plan.phase == "waiting":
        # Waiting jobs either report an explicit null or leave the field out.
        if plan.status == "pending":
            payload[plan.reward_key] = None
    else:
        payload[plan.reward_key] = best_reward

    if best_reward is not None:
        if plan.algorithm == "mipro":
            candidate_id = f"candidate_{random_hex(rng, 4)}"
        else:
            candidate_id = f"cand_{rng.randrange(1, 200):04d}"
        payload.update(build_best_prompt_fields(rng, plan, best_reward, candidate_id))

    if plan.algorithm == "mipro":
        algorithm_fields = build_mipro_fields(rng, plan, times, best_reward)
        summary = algorithm_fields.get("lever_summary")
        # The best candidate id must agree with the lever summary.
        if summary and "best_candidate" in payload:
            payload["best_candidate"]["candidate_id"] = summary["best_candidate_id"]
    else:
        algorithm_fields = build_gepa_fields(rng, plan, best_reward)
    payload.update(algorithm_fields)

    history = algorithm_fields.get("history")
    generations = len(history) if history else None
    payload.update(build_extra_fields(rng, plan, times, generations))
    if plan.phase == "failed":
        payload.update(build_error_fields(rng, failed_index))
    payload.update(build_unknown_fields(rng, plan))
    return place_fields(payload, plan.placement)


# Fields that a placement may move under `result`, or under `metadata` /
# `job_metadata`. `job_id` and `status` always stay at the top level.
RESULT_FIELDS = (
    "best_reward",
    "best_score",
    "best_prompt",
    "best_candidate",
    "lever_summary",
    "lever_versions",
    "best_lever_version",
    "sensor_frames",
    "history",
)
METADATA_FIELDS = (
    "algorithm",
    "created_at",
    "started_at",
    "finished_at",
    "total_cost_usd",
    "generations_completed",
    "candidates_evaluated",
)


def place_fields(payload: dict[str, Any], placement: str) -> dict[str, Any]:
    """Move fields from the top level into nested objects.

    "result", "metadata" and "job_metadata" move the fields into that object.
    "shadowed" leaves each result field at the top level as null and puts the
    value under `result`, so only a reader that falls back finds it.
    """
    moves: list[tuple[str, tuple[str, ...]]] = []
    if placement in ("result", "result+job_metadata", "shadowed"):
        moves.append(("result", RESULT_FIELDS))
    if placement == "metadata":
        moves.append(("metadata", METADATA_FIELDS))
    if placement in ("job_metadata", "result+job_metadata"):
        moves.append(("job_metadata", METADATA_FIELDS))

    placed = dict(payload)
    for container, names in moves:
        nested = {}
        for name in names:
            if name not in placed or placed[name] is None:
                continue
            nested[name] = placed[name]
            if placement == "shadowed":
                placed[name] = None
            else:
                del placed[name]
        if nested:
            placed[container] = nested
    return placed


def drop_one_frame_id(jobs: list[GeneratedJob]) -> None:
    """Remove `frame_id` from one frame of the first small MIPRO job with frames.

    The SDK drops such frames, and the archive must not fail on them.
    """
    for job in jobs:
        frames = job.payload.get("sensor_frames")
        if job.plan.large or not frames or len(frames) < 3:
            continue
        del frames[len(frames) // 2]["frame_id"]
        return
    raise RuntimeError(
        "No small MIPRO job has 3 or more top-level sensor frames, so no frame_id"
        " was removed. Change SEED or the MIPRO shapes."
    )


def generate_jobs(rng: random.Random) -> list[GeneratedJob]:
    used_ids = {payload["job_id"] for _, payload, _ in FIXED_PAYLOADS}
    jobs = []
    failed_index = 0
    for plan in plan_jobs(rng, used_ids):
        jobs.append(GeneratedJob(plan, build_payload(rng, plan, failed_index)))
        if plan.phase == "failed":
            failed_index += 1
    drop_one_frame_id(jobs)
    return jobs


# --------------------------------------------------------------------------
# Encoding and the README.
# --------------------------------------------------------------------------


def encode_document(value: Any) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def encode_lines(payloads: Iterable[dict[str, Any]], ensure_ascii: bool) -> bytes:
    lines = [json.dumps(p, ensure_ascii=ensure_ascii) + "\n" for p in payloads]
    return "".join(lines).encode("utf-8")


def gzip_bytes(data: bytes) -> bytes:
    """Compress with an empty file name and mtime 0, so the header is fixed."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as archive:
        archive.write(data)
    return buffer.getvalue()


@dataclass(frozen=True)
class FileSummary:
    path: str
    form: str
    job_count: int


def layout_job_files(
    rng: random.Random, jobs: list[GeneratedJob]
) -> tuple[dict[str, bytes], list[FileSummary]]:
    """Spread the jobs over FILE_PLAN and encode each file.

    Jobs go to files at random. Within a multi-job file they are ordered by
    creation time. `.ndjson` files escape non-ASCII text, as some exporters do.
    """
    planned = sum(spec.job_count for spec in FILE_PLAN)
    if planned != len(jobs):
        raise RuntimeError(
            f"FILE_PLAN places {planned} jobs, but STATUS_COUNTS defines {len(jobs)}."
            " Make the two totals equal."
        )

    shuffled = list(jobs)
    rng.shuffle(shuffled)
    files: dict[str, bytes] = {}
    summaries: list[FileSummary] = []
    position = 0
    for spec in FILE_PLAN:
        group = shuffled[position : position + spec.job_count]
        position += spec.job_count
        group.sort(key=lambda job: (job.plan.created_at, job.plan.job_id))
        payloads = [job.payload for job in group]
        compress = spec.path.endswith(".gz")

        if "{job_id}" in spec.path:
            for payload in payloads:
                path = spec.path.format(job_id=payload["job_id"])
                data = encode_document(payload)
                files[path] = gzip_bytes(data) if compress else data
            summaries.append(FileSummary(spec.path, describe_form(spec), len(group)))
            continue

        if spec.form == "json-list":
            data = encode_document(payloads)
        else:
            data = encode_lines(payloads, ensure_ascii=".ndjson" in spec.path)
        files[spec.path] = gzip_bytes(data) if compress else data
        summaries.append(FileSummary(spec.path, describe_form(spec), len(group)))
    return files, summaries


def describe_form(spec: FileSpec) -> str:
    names = {
        "json": "one payload per file",
        "json-list": "JSON array of payloads",
        "jsonl": "one payload per line",
    }
    text = names[spec.form]
    if spec.path.endswith(".gz"):
        text += ", gzip"
    return text


def render_readme(jobs: list[GeneratedJob], summaries: list[FileSummary]) -> bytes:
    algorithm_counts: Counter[str] = Counter()
    status_counts: Counter[str] = Counter()
    for _, payload, algorithm in FIXED_PAYLOADS:
        algorithm_counts[algorithm] += 1
        status_counts[payload["status"]] += 1
    for job in jobs:
        algorithm_counts[job.plan.algorithm] += 1
        status_counts[job.plan.status] += 1
    total = sum(algorithm_counts.values())
    large = [job for job in jobs if job.plan.large]
    frame_counts = sorted(len(job_frames(job.payload)) for job in large)

    lines = [
        "# Example payloads",
        "",
        "Responses in the shape of",
        "`GET /api/policy-optimization/online/jobs/{job_id}/results`, for trying the",
        "archive without an API key and for the tests. `scripts/generate_examples.py`",
        "writes every file here, including this page, from a fixed seed. Do not edit",
        "them by hand: change the generator and rerun it.",
        "",
        "## Files",
        "",
        "- `documented_example.json`: the example response from the Synth API",
        "  documentation.",
        "- `fixtures/gepa_succeeded.json`, `fixtures/mipro_running.json`: small",
        "  payloads that the tests load by path.",
        f"- `jobs/`: {len(jobs)} further jobs in these forms:",
        "",
        "| path | form | jobs |",
        "|---|---|---|",
    ]
    for summary in summaries:
        lines.append(f"| `{summary.path}` | {summary.form} | {summary.job_count} |")
    lines += [
        "",
        "Each job id appears once in the whole tree. `.ndjson` files escape",
        "non-ASCII characters, and the other files keep them as UTF-8.",
        "",
        f"## Jobs by algorithm and status ({total} in total)",
        "",
        "| algorithm | jobs |",
        "|---|---|",
    ]
    for algorithm in sorted(algorithm_counts):
        lines.append(f"| {algorithm} | {algorithm_counts[algorithm]} |")
    lines += [
        "",
        "Some jobs leave out the `algorithm` field, and `documented_example.json`",
        "has none. For those the tables count the algorithm the generator used.",
        "",
        "| status | normalized state | jobs |",
        "|---|---|---|",
    ]
    for status in sorted(status_counts, key=lambda s: (NORMALIZED_STATUS[s], s)):
        state = NORMALIZED_STATUS[status]
        lines.append(f"| `{status}` | {state} | {status_counts[status]} |")
    lines += [
        "",
        "## Variants covered",
        "",
        "- MIPRO jobs with levers, sensor frames and history.",
        "- GEPA jobs whose lever and sensor fields are null or left out.",
        f"- {len(large)} MIPRO jobs with 20-40 history generations and many sensor",
        f"  frames ({', '.join(str(n) for n in frame_counts)}).",
        "- `best_score` in place of `best_reward`.",
        "- `best_candidate` as a full object or as a bare `{candidate_id}`, alone",
        "  or beside `best_prompt`.",
        "- Fields under `result`, `metadata` or `job_metadata`, and null top-level",
        "  fields whose value sits under `result`.",
        "- Versions as numeric strings, and messages with `pattern` or `name`.",
        "- Null or missing `lever_summary`, `lever_versions`, `sensor_frames` and",
        "  `history`.",
        "- Empty frame lists, frames with empty `trace_ids` or `lever_versions`,",
        "  and one frame without `frame_id`.",
        "- Timestamps with `Z`, `+02:00`, `-07:00`, `+05:30` and with 3, 6 or 9",
        "  fractional digits, all before 2026-12-01.",
        "- Extra fields: `algorithm`, `created_at`, `started_at`, `finished_at`,",
        "  `total_cost_usd`, `error`, `error_message`, `generations_completed`,",
        "  `candidates_evaluated`, and unknown ones such as `config`, `usage`,",
        "  `labels`, `task_app`, `cancelled_by`, `status_detail`, `pareto_front`.",
        "",
        "## Regenerate",
        "",
        "```",
        "python scripts/generate_examples.py            # writes examples/",
        "python scripts/generate_examples.py --out DIR  # writes elsewhere",
        "```",
        "",
        "`tests/test_examples.py` checks that the generator reproduces this tree byte",
        "for byte. The `.gz` files depend on the zlib build, so that check may fail",
        "on a platform whose zlib compresses differently.",
        "",
    ]
    return "\n".join(lines).encode("utf-8")


NESTED_CONTAINERS = ("result", "metadata", "job_metadata")


def job_frames(payload: dict[str, Any]) -> list[Any]:
    """Return the first non-null `sensor_frames` of the payload, or []."""
    for container in (payload, *(payload.get(k) or {} for k in NESTED_CONTAINERS)):
        frames = container.get("sensor_frames")
        if frames is not None:
            return list(frames)
    return []


def build_example_files() -> dict[str, bytes]:
    """Return every file of the example tree, keyed by path relative to it."""
    rng = random.Random(SEED)
    jobs = generate_jobs(rng)
    job_files, summaries = layout_job_files(rng, jobs)

    files: dict[str, bytes] = {}
    for path, payload, _ in FIXED_PAYLOADS:
        files[path] = encode_document(payload)
    files.update(job_files)
    files["README.md"] = render_readme(jobs, summaries)
    return files


def write_files(out_dir: Path, files: dict[str, bytes]) -> None:
    for relative_path, data in files.items():
        target = out_dir / relative_path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def find_stale_files(out_dir: Path, files: dict[str, bytes]) -> list[str]:
    """List files under out_dir that this run did not write."""
    written = set(files)
    present = (p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*"))
    return sorted(p for p in present if p not in written and (out_dir / p).is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Write the example result payloads (deterministic output)."
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="directory to write the example tree into "
        "(default: examples/ in the repository)",
    )
    args = parser.parse_args(argv)

    files = build_example_files()
    write_files(args.out, files)
    total_bytes = sum(len(data) for data in files.values())
    print(f"wrote {len(files)} files, {total_bytes} bytes, to {args.out}")

    stale = find_stale_files(args.out, files)
    for path in stale:
        print(
            f"warning: {args.out / path} was not written by this run", file=sys.stderr
        )
    if stale:
        print(
            "Delete the files above, or the example tests will fail.", file=sys.stderr
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
