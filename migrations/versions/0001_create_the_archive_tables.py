"""Create the archive tables

Revision ID: 0001
Revises:
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("job_id", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Text(),
            nullable=True,
            comment="Status string exactly as the API sent it.",
        ),
        sa.Column(
            "state", sa.String(length=32), nullable=False, comment="Normalized status."
        ),
        sa.Column("is_terminal", sa.Boolean(), nullable=False),
        sa.Column("algorithm", sa.Text(), nullable=True),
        sa.Column("best_reward", sa.Float(), nullable=True),
        sa.Column("best_prompt_reward", sa.Float(), nullable=True),
        sa.Column("best_lever_version", sa.BigInteger(), nullable=True),
        sa.Column("prompt_lever_id", sa.Text(), nullable=True),
        sa.Column("best_candidate_id", sa.Text(), nullable=True),
        sa.Column("selected_candidate_id", sa.Text(), nullable=True),
        sa.Column("baseline_candidate_id", sa.Text(), nullable=True),
        sa.Column("lever_count", sa.BigInteger(), nullable=True),
        sa.Column("mutation_count", sa.BigInteger(), nullable=True),
        sa.Column("latest_version", sa.BigInteger(), nullable=True),
        sa.Column("message_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("total_cost_usd", sa.Float(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("generations_completed", sa.BigInteger(), nullable=True),
        sa.Column("candidates_evaluated", sa.BigInteger(), nullable=True),
        sa.Column(
            "extra",
            sa.Text(),
            nullable=True,
            comment="Fields no column holds, as a JSON object.",
        ),
        sa.Column("payload_sha256", sa.String(length=64), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_jobs")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_jobs_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_jobs_state"), ["state"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_jobs_payload_sha256"), ["payload_sha256"], unique=False
        )

    op.create_table(
        "raw_payloads",
        sa.Column("job_id", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column(
            "body", sa.LargeBinary(), nullable=False, comment="The bytes as received."
        ),
        sa.Column(
            "source", sa.Text(), nullable=False, comment="URL, or file and line."
        ),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("job_id", "sha256", name=op.f("pk_raw_payloads")),
    )
    with op.batch_alter_table("raw_payloads", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_raw_payloads_fetched_at"), ["fetched_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_raw_payloads_sha256"), ["sha256"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_raw_payloads_job_id_version"),
            ["job_id", "version"],
            unique=True,
        )

    op.create_table(
        "candidates",
        sa.Column("job_id", sa.Text(), nullable=False),
        sa.Column("candidate_id", sa.Text(), nullable=False),
        sa.Column("lever_version", sa.BigInteger(), nullable=True),
        sa.Column("is_baseline", sa.Boolean(), nullable=False),
        sa.Column("is_best", sa.Boolean(), nullable=False),
        sa.Column("is_selected", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["jobs.job_id"],
            name=op.f("fk_candidates_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", "candidate_id", name=op.f("pk_candidates")),
    )
    op.create_table(
        "history",
        sa.Column("job_id", sa.Text(), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.Column("best_reward", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["jobs.job_id"],
            name=op.f("fk_history_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", "generation", name=op.f("pk_history")),
    )
    op.create_table(
        "lever_versions",
        sa.Column("job_id", sa.Text(), nullable=False),
        sa.Column("lever_id", sa.Text(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=True),
        sa.Column("is_prompt_lever", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["jobs.job_id"],
            name=op.f("fk_lever_versions_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", "lever_id", name=op.f("pk_lever_versions")),
    )
    op.create_table(
        "prompt_messages",
        sa.Column("job_id", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("role", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("content_kind", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["jobs.job_id"],
            name=op.f("fk_prompt_messages_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", "position", name=op.f("pk_prompt_messages")),
    )
    op.create_table(
        "sensor_frames",
        sa.Column("job_id", sa.Text(), nullable=False),
        sa.Column("frame_id", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sensor_count", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["jobs.job_id"],
            name=op.f("fk_sensor_frames_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", "frame_id", name=op.f("pk_sensor_frames")),
    )
    with op.batch_alter_table("sensor_frames", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sensor_frames_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "sensor_frame_kinds",
        sa.Column("job_id", sa.Text(), nullable=False),
        sa.Column("frame_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id", "frame_id"],
            ["sensor_frames.job_id", "sensor_frames.frame_id"],
            name=op.f("fk_sensor_frame_kinds_sensor_frames"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "job_id", "frame_id", "kind", name=op.f("pk_sensor_frame_kinds")
        ),
    )
    with op.batch_alter_table("sensor_frame_kinds", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sensor_frame_kinds_kind"), ["kind"], unique=False
        )

    op.create_table(
        "sensor_frame_lever_versions",
        sa.Column("job_id", sa.Text(), nullable=False),
        sa.Column("frame_id", sa.Text(), nullable=False),
        sa.Column("lever_id", sa.Text(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id", "frame_id"],
            ["sensor_frames.job_id", "sensor_frames.frame_id"],
            name=op.f("fk_sensor_frame_lever_versions_sensor_frames"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "job_id",
            "frame_id",
            "lever_id",
            name=op.f("pk_sensor_frame_lever_versions"),
        ),
    )
    op.create_table(
        "sensor_frame_traces",
        sa.Column("job_id", sa.Text(), nullable=False),
        sa.Column("frame_id", sa.Text(), nullable=False),
        sa.Column("trace_id", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id", "frame_id"],
            ["sensor_frames.job_id", "sensor_frames.frame_id"],
            name=op.f("fk_sensor_frame_traces_sensor_frames"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "job_id", "frame_id", "trace_id", name=op.f("pk_sensor_frame_traces")
        ),
    )


def downgrade() -> None:
    op.drop_table("sensor_frame_traces")
    op.drop_table("sensor_frame_lever_versions")
    with op.batch_alter_table("sensor_frame_kinds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sensor_frame_kinds_kind"))

    op.drop_table("sensor_frame_kinds")
    with op.batch_alter_table("sensor_frames", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sensor_frames_created_at"))

    op.drop_table("sensor_frames")
    op.drop_table("prompt_messages")
    op.drop_table("lever_versions")
    op.drop_table("history")
    op.drop_table("candidates")
    with op.batch_alter_table("raw_payloads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_raw_payloads_job_id_version"))
        batch_op.drop_index(batch_op.f("ix_raw_payloads_sha256"))
        batch_op.drop_index(batch_op.f("ix_raw_payloads_fetched_at"))

    op.drop_table("raw_payloads")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jobs_payload_sha256"))
        batch_op.drop_index(batch_op.f("ix_jobs_state"))
        batch_op.drop_index(batch_op.f("ix_jobs_created_at"))

    op.drop_table("jobs")
