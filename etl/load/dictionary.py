"""Meanings of the archive's tables, views and columns, for docs/schema.md.

`etl.schema_doc` reflects the types, keys and nullability from a migrated
database and takes only the meanings from here. It rejects a column without a
meaning and a meaning for a column that does not exist, so this module has
to change with every migration that adds or removes a column.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["RELATIONS", "Relation"]


@dataclass(frozen=True)
class Relation:
    """Meaning of one table or view and of each of its columns.

    `key` is the set of columns that identifies a row of a view. Tables take
    their primary key from the database instead. `not_null` lists the view
    columns that are never NULL, because PostgreSQL reports every view column
    as nullable.
    """

    meaning: str
    columns: dict[str, str]
    key: tuple[str, ...] = ()
    not_null: frozenset[str] = field(default_factory=frozenset)


_JOB_ID = "Id of the job, as the API sends it."

_JOBS = Relation(
    "One row per job, from the job's latest archived payload.",
    {
        "job_id": _JOB_ID,
        "status": "Status string exactly as the API sent it.",
        "state": "Normalized status: pending, queued, paused, running, succeeded, "
        "failed, cancelled or unknown.",
        "is_terminal": "Whether the state is final (succeeded, failed or cancelled).",
        "algorithm": "Optimization algorithm, such as gepa or mipro, when sent.",
        "best_reward": "Best reward of the job: best_reward, or else best_score.",
        "best_prompt_reward": "Reward stored with the best prompt or best candidate.",
        "best_lever_version": "Lever version that produced the best result.",
        "prompt_lever_id": "Id of the prompt lever, from the lever summary.",
        "best_candidate_id": "Best candidate, from the lever summary or "
        "best_candidate.",
        "selected_candidate_id": "Selected candidate, from the lever summary.",
        "baseline_candidate_id": "Baseline candidate, from the lever summary.",
        "lever_count": "Number of levers, from the lever summary.",
        "mutation_count": "Number of mutations, from the lever summary.",
        "latest_version": "Latest lever version, from the lever summary.",
        "message_count": "Number of messages in the best prompt, or 0 without one.",
        "created_at": "When the job was created, in UTC, when sent.",
        "started_at": "When the job started, in UTC, when sent.",
        "finished_at": "When the job finished, in UTC, when sent.",
        "total_cost_usd": "Cost of the job in US dollars, when sent.",
        "error_message": "error_message, or the text of error.",
        "generations_completed": "Number of completed generations, when sent.",
        "candidates_evaluated": "Number of evaluated candidates, when sent.",
        "extra": "Payload fields that no column holds, as a JSON object.",
        "payload_sha256": "SHA-256 of the raw payload that the row comes from.",
        "first_seen_at": "When the job was first fetched.",
        "last_changed_at": "When a changed payload of the job was last fetched.",
        "last_fetched_at": "When the job was last fetched.",
    },
)

_PROMPT_MESSAGES = Relation(
    "Messages of the job's best prompt, in order.",
    {
        "job_id": _JOB_ID,
        "position": "Index of the message in the prompt, from 0.",
        "role": "Role of the message, such as system or user.",
        "name": "Name of the message's author, when sent.",
        "content": "Text of the message, or its pattern when content_kind is pattern.",
        "content_kind": "content, or pattern when the message had only a pattern.",
    },
)

_CANDIDATES = Relation(
    "Candidates of the job: the lever summary's candidate_lever_versions plus "
    "the best, selected and baseline candidates.",
    {
        "job_id": _JOB_ID,
        "candidate_id": "Id of the candidate.",
        "lever_version": "Version of the prompt lever that the candidate used.",
        "is_baseline": "Whether this is the job's baseline candidate.",
        "is_best": "Whether this is the job's best candidate.",
        "is_selected": "Whether this is the job's selected candidate.",
    },
)

_LEVER_VERSIONS = Relation(
    "Current version of each lever of the job.",
    {
        "job_id": _JOB_ID,
        "lever_id": "Id of the lever.",
        "version": "Version of the lever in the job's latest payload.",
        "is_prompt_lever": "Whether the lever is the job's prompt lever.",
    },
)

_SENSOR_FRAMES = Relation(
    "Sensor frames of the job. Rows stay when a later payload omits the frame.",
    {
        "job_id": _JOB_ID,
        "frame_id": "Id of the frame.",
        "created_at": "When the frame was created, in UTC.",
        "sensor_count": "Number of sensors in the frame, when sent.",
    },
)

_SENSOR_FRAME_KINDS = Relation(
    "Sensor kinds of a frame, one row per kind.",
    {
        "job_id": _JOB_ID,
        "frame_id": "Id of the frame.",
        "kind": "Sensor kind, such as reward, rollout or timing.",
    },
)

_SENSOR_FRAME_TRACES = Relation(
    "Trace ids of a frame.",
    {
        "job_id": _JOB_ID,
        "frame_id": "Id of the frame.",
        "trace_id": "Id of the trace.",
        "position": "Index of the trace id in the frame's trace_ids, from 0.",
    },
)

_SENSOR_FRAME_LEVER_VERSIONS = Relation(
    "Lever versions that a frame used.",
    {
        "job_id": _JOB_ID,
        "frame_id": "Id of the frame.",
        "lever_id": "Id of the lever.",
        "version": "Version of the lever that the frame used.",
    },
)

_HISTORY = Relation(
    "Best reward per generation of the job. Rows stay when a later payload "
    "omits the generation.",
    {
        "job_id": _JOB_ID,
        "generation": "Generation number.",
        "best_reward": "Best reward of the generation, or NULL for NaN or infinity.",
    },
)

_RAW_PAYLOADS = Relation(
    "Every distinct payload of a job, byte for byte.",
    {
        "job_id": _JOB_ID,
        "sha256": "SHA-256 of body, in hex.",
        "body": "The payload's bytes as received.",
        "source": "URL, or file with :line or [index], that the payload came from.",
        "fetched_at": "When the payload was first fetched, or the file's "
        "modification time.",
        "last_fetched_at": "When a fetch last returned this payload.",
        "version": "Number of the payload among the job's archived payloads: 1 for "
        "the first, counting up.",
    },
)

_REJECTED_PAYLOADS = Relation(
    "Payloads that could not be normalized, one row per distinct body and "
    "source; sources that share their first 500 characters count as one.",
    {
        "id": "Row id.",
        "run_id": "Run that rejected the payload (etl_runs.run_id).",
        "job_id": "Id of the job, when the payload names one.",
        "source": "URL, or file with :line or [index], that the payload came from.",
        "error": "Why the payload was rejected.",
        "error_path": "Path of the invalid field in the payload, when known.",
        "body": "The payload's bytes as received.",
        "body_sha256": "SHA-256 of body, in hex.",
        "received_at": "When the payload was received.",
    },
)

_ETL_RUNS = Relation(
    "One row per `etl sync` run.",
    {
        "run_id": "Id of the run (a UUID).",
        "started_at": "When the run started.",
        "finished_at": "When the run finished, or NULL while it runs or after a crash.",
        "status": "running, succeeded, partial or failed.",
        "source": "API base URL, or the path given to --from.",
        "scope": "Lock scope of the run: all, or the shard as K/N.",
        "host": "Host name of the machine that ran it.",
        "pid": "Process id of the run on that host.",
        "listed": "Jobs listed by the API.",
        "fetched": "Payloads fetched or read.",
        "unchanged": "Payloads equal to the job's current one.",
        "loaded": "Payloads written to the archive.",
        "rejected": "Payloads written to rejected_payloads.",
        "failed": "Jobs that could not be fetched.",
        "error": "Why the run failed, when it did.",
    },
)

_ALEMBIC_VERSION = Relation(
    "Schema revision of the database, written by Alembic (`etl db upgrade`).",
    {"version_num": "Revision id of the newest applied migration."},
)

_JOB_SUMMARY = Relation(
    "View: one row per job, with its rewards, child-row counts and times.",
    {
        "job_id": _JOB_ID,
        "state": "Normalized status (jobs.state).",
        "is_terminal": "Whether the state is final (jobs.is_terminal).",
        "algorithm": "Optimization algorithm (jobs.algorithm).",
        "best_reward": "Best reward of the job (jobs.best_reward).",
        "first_generation": "Lowest generation in history, or NULL without history.",
        "last_generation": "Highest generation in history, or NULL without history.",
        "first_generation_reward": "best_reward of first_generation.",
        "last_generation_reward": "best_reward of last_generation.",
        "improvement": "last_generation_reward minus first_generation_reward.",
        "candidate_count": "Rows in candidates.",
        "lever_version_count": "Rows in lever_versions.",
        "sensor_frame_count": "Rows in sensor_frames.",
        "generation_count": "Rows in history.",
        "first_sensor_frame_at": "Earliest sensor_frames.created_at.",
        "last_sensor_frame_at": "Latest sensor_frames.created_at.",
        "created_at": "When the job was created (jobs.created_at).",
        "started_at": "When the job started (jobs.started_at).",
        "finished_at": "When the job finished (jobs.finished_at).",
    },
    key=("job_id",),
    not_null=frozenset(
        {
            "job_id",
            "state",
            "is_terminal",
            "candidate_count",
            "lever_version_count",
            "sensor_frame_count",
            "generation_count",
        }
    ),
)

_REWARD_HISTORY = Relation(
    "View: history with the change from the job's previous archived generation.",
    {
        "job_id": _JOB_ID,
        "generation": "Generation number.",
        "best_reward": "Best reward of the generation.",
        "reward_change": "best_reward minus that of the next lower archived "
        "generation of the job, or NULL for the first generation or a NULL reward.",
    },
    key=("job_id", "generation"),
    not_null=frozenset({"job_id", "generation"}),
)

_SENSOR_ACTIVITY_DAILY = Relation(
    "View: sensor frames per UTC day and sensor kind. A frame counts once for "
    "each of its kinds.",
    {
        "day": "UTC day of the frame's created_at (text YYYY-MM-DD on SQLite), or "
        "NULL for frames without created_at.",
        "kind": "Sensor kind, or NULL for frames without kinds.",
        "frame_count": "Frames of that day and kind.",
        "job_count": "Distinct jobs with frames of that day and kind.",
    },
    key=("day", "kind"),
    not_null=frozenset({"frame_count", "job_count"}),
)

_CANDIDATE_VERSIONS = Relation(
    "View: candidates with the prompt lever and version they used.",
    {
        "job_id": _JOB_ID,
        "candidate_id": "Id of the candidate.",
        "prompt_lever_id": "jobs.prompt_lever_id: the lever that lever_version "
        "belongs to.",
        "lever_version": "Version of the prompt lever that the candidate used.",
        "is_baseline": "Whether this is the job's baseline candidate.",
        "is_best": "Whether this is the job's best candidate.",
        "is_selected": "Whether this is the job's selected candidate.",
    },
    key=("job_id", "candidate_id"),
    not_null=frozenset(
        {"job_id", "candidate_id", "is_baseline", "is_best", "is_selected"}
    ),
)

_LEVER_VERSION_USAGE = Relation(
    "View: one row per lever id and version that a sensor frame used or that a "
    "job's lever_versions row names.",
    {
        "lever_id": "Id of the lever.",
        "version": "Version of the lever. NULL counts as a version of its own.",
        "frame_job_count": "Distinct jobs with a sensor frame that used the version.",
        "frame_count": "Sensor frames that used the version.",
        "current_job_count": "Jobs whose lever_versions row names the version.",
    },
    key=("lever_id", "version"),
    not_null=frozenset(
        {"lever_id", "frame_job_count", "frame_count", "current_job_count"}
    ),
)

RELATIONS: dict[str, Relation] = {
    "jobs": _JOBS,
    "prompt_messages": _PROMPT_MESSAGES,
    "candidates": _CANDIDATES,
    "lever_versions": _LEVER_VERSIONS,
    "sensor_frames": _SENSOR_FRAMES,
    "sensor_frame_kinds": _SENSOR_FRAME_KINDS,
    "sensor_frame_traces": _SENSOR_FRAME_TRACES,
    "sensor_frame_lever_versions": _SENSOR_FRAME_LEVER_VERSIONS,
    "history": _HISTORY,
    "raw_payloads": _RAW_PAYLOADS,
    "rejected_payloads": _REJECTED_PAYLOADS,
    "etl_runs": _ETL_RUNS,
    "alembic_version": _ALEMBIC_VERSION,
    "job_summary": _JOB_SUMMARY,
    "reward_history": _REWARD_HISTORY,
    "sensor_activity_daily": _SENSOR_ACTIVITY_DAILY,
    "candidate_versions": _CANDIDATE_VERSIONS,
    "lever_version_usage": _LEVER_VERSION_USAGE,
}
