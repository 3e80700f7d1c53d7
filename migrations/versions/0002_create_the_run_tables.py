"""Create the run bookkeeping tables

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "etl_runs",
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("listed", sa.Integer(), nullable=False),
        sa.Column("fetched", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("loaded", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_etl_runs")),
    )
    with op.batch_alter_table("etl_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_etl_runs_started_at"), ["started_at"], unique=False
        )

    op.create_table(
        "rejected_payloads",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("job_id", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("error_path", sa.Text(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rejected_payloads")),
    )
    with op.batch_alter_table("rejected_payloads", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rejected_payloads_body_sha256_source"),
            ["body_sha256", "source"],
            unique=True,
        )


def downgrade() -> None:
    with op.batch_alter_table("rejected_payloads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rejected_payloads_body_sha256_source"))

    op.drop_table("rejected_payloads")
    with op.batch_alter_table("etl_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_etl_runs_started_at"))

    op.drop_table("etl_runs")
