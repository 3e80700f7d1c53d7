"""The archive's tables as SQLAlchemy Core metadata.

Migrations own the schema in a database; this module is the reference the
loader writes against and the target that `alembic check` compares with.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ColumnClause,
    DateTime,
    Dialect,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    literal_column,
)

__all__ = [
    "UtcDateTime",
    "candidates",
    "etl_runs",
    "history",
    "jobs",
    "lever_versions",
    "metadata",
    "prompt_messages",
    "raw_payloads",
    "rejected_payloads",
    "sensor_frame_kinds",
    "sensor_frame_lever_versions",
    "sensor_frame_traces",
    "sensor_frames",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware.

    PostgreSQL stores `timestamptz`; SQLite stores the UTC wall time as text
    (`YYYY-MM-DD HH:MM:SS.ffffff`), which sorts and compares correctly.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"expected a timezone-aware datetime, got {value!r}")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _job_child(name: str, *columns: Column[Any]) -> Table:
    return Table(
        name,
        metadata,
        Column("job_id", Text, primary_key=True),
        *columns,
        ForeignKeyConstraint(["job_id"], ["jobs.job_id"], ondelete="CASCADE"),
    )


def _frame_child(name: str, *columns: Column[Any]) -> Table:
    return Table(
        name,
        metadata,
        Column("job_id", Text, primary_key=True),
        Column("frame_id", Text, primary_key=True),
        *columns,
        ForeignKeyConstraint(
            ["job_id", "frame_id"],
            ["sensor_frames.job_id", "sensor_frames.frame_id"],
            ondelete="CASCADE",
        ),
    )


jobs = Table(
    "jobs",
    metadata,
    Column("job_id", Text, primary_key=True),
    Column("status", Text, comment="Status string exactly as the API sent it."),
    Column("state", String(32), nullable=False, comment="Normalized status."),
    Column("is_terminal", Boolean, nullable=False),
    Column("algorithm", Text),
    Column("best_reward", Float),
    Column("best_prompt_reward", Float),
    Column("best_lever_version", BigInteger),
    Column("prompt_lever_id", Text),
    Column("best_candidate_id", Text),
    Column("selected_candidate_id", Text),
    Column("baseline_candidate_id", Text),
    Column("lever_count", BigInteger),
    Column("mutation_count", BigInteger),
    Column("latest_version", BigInteger),
    Column("message_count", Integer, nullable=False),
    Column("created_at", UtcDateTime),
    Column("started_at", UtcDateTime),
    Column("finished_at", UtcDateTime),
    Column("total_cost_usd", Float),
    Column("error_message", Text),
    Column("generations_completed", BigInteger),
    Column("candidates_evaluated", BigInteger),
    Column("extra", Text, comment="Fields no column holds, as a JSON object."),
    Column("payload_sha256", String(64), nullable=False),
    Column("first_seen_at", UtcDateTime, nullable=False),
    Column("last_changed_at", UtcDateTime, nullable=False),
    Column("last_fetched_at", UtcDateTime, nullable=False),
    Index(None, "state"),
    Index(None, "payload_sha256"),
    Index(None, "created_at"),
)

prompt_messages = _job_child(
    "prompt_messages",
    Column("position", Integer, primary_key=True),
    Column("role", Text),
    Column("name", Text),
    Column("content", Text),
    Column("content_kind", String(16), nullable=False),
)

candidates = _job_child(
    "candidates",
    Column("candidate_id", Text, primary_key=True),
    Column("lever_version", BigInteger),
    Column("is_baseline", Boolean, nullable=False),
    Column("is_best", Boolean, nullable=False),
    Column("is_selected", Boolean, nullable=False),
)

lever_versions = _job_child(
    "lever_versions",
    Column("lever_id", Text, primary_key=True),
    Column("version", BigInteger),
    Column("is_prompt_lever", Boolean, nullable=False),
)

sensor_frames = _job_child(
    "sensor_frames",
    Column("frame_id", Text, primary_key=True),
    Column("created_at", UtcDateTime),
    Column("sensor_count", BigInteger),
)
Index(None, sensor_frames.c.created_at)

sensor_frame_kinds = _frame_child(
    "sensor_frame_kinds", Column("kind", Text, primary_key=True)
)
Index(None, sensor_frame_kinds.c.kind)

sensor_frame_traces = _frame_child(
    "sensor_frame_traces",
    Column("trace_id", Text, primary_key=True),
    Column("position", Integer, nullable=False),
)

sensor_frame_lever_versions = _frame_child(
    "sensor_frame_lever_versions",
    Column("lever_id", Text, primary_key=True),
    Column("version", BigInteger),
)

history = _job_child(
    "history",
    Column("generation", BigInteger, primary_key=True),
    Column("best_reward", Float),
)

raw_payloads = Table(
    "raw_payloads",
    metadata,
    Column("job_id", Text, primary_key=True),
    Column("sha256", String(64), primary_key=True),
    Column("body", LargeBinary, nullable=False, comment="The bytes as received."),
    Column("source", Text, nullable=False, comment="URL, or file and line."),
    Column("fetched_at", UtcDateTime, nullable=False),
    Column("last_fetched_at", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Index(None, "fetched_at"),
    Index(None, "sha256"),
    Index(None, "job_id", "version", unique=True),
)

rejected_payloads = Table(
    "rejected_payloads",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(36), nullable=False),
    Column("job_id", Text),
    Column("source", Text, nullable=False),
    Column("error", Text, nullable=False),
    Column("error_path", Text),
    Column("body", LargeBinary, nullable=False),
    Column("body_sha256", String(64), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
)

# The same body from the same source is kept once. The key takes the first
# 500 characters of the source: PostgreSQL cannot index an entry over about
# 2,700 bytes, and a path or URL can be longer.
REJECTED_SOURCE_KEY: ColumnClause[Any] = literal_column("substr(source, 1, 500)")
Index(
    "ix_rejected_payloads_body_sha256_source_start",
    rejected_payloads.c.body_sha256,
    REJECTED_SOURCE_KEY,
    unique=True,
)

etl_runs = Table(
    "etl_runs",
    metadata,
    Column("run_id", String(36), primary_key=True),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    Column("status", String(16), nullable=False),
    Column("source", Text, nullable=False),
    Column("scope", Text, nullable=False),
    Column("host", Text, nullable=False),
    Column("pid", Integer, nullable=False),
    Column("listed", Integer, nullable=False, default=0),
    Column("fetched", Integer, nullable=False, default=0),
    Column("unchanged", Integer, nullable=False, default=0),
    Column("loaded", Integer, nullable=False, default=0),
    Column("rejected", Integer, nullable=False, default=0),
    Column("failed", Integer, nullable=False, default=0),
    Column("error", Text),
    Index(None, "started_at"),
)
