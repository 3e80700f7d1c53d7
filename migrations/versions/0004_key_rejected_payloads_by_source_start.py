"""Key rejected payloads by the start of their source

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04

The unique index on (body_sha256, source) failed on PostgreSQL for a source
longer than about 2,700 bytes, such as a deep file path, and so failed the
run. The new index takes the first 500 characters of the source.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SOURCE_START = "substr(source, 1, 500)"


def upgrade() -> None:
    # Rows whose sources differ only after 500 characters would break the new
    # unique index; the newest of each such group stays.
    op.execute(
        "DELETE FROM rejected_payloads WHERE id NOT IN ("
        f"SELECT max(id) FROM rejected_payloads GROUP BY body_sha256, {_SOURCE_START})"
    )
    op.drop_index(
        "ix_rejected_payloads_body_sha256_source", table_name="rejected_payloads"
    )
    op.create_index(
        "ix_rejected_payloads_body_sha256_source_start",
        "rejected_payloads",
        ["body_sha256", sa.text(_SOURCE_START)],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index(
        "ix_rejected_payloads_body_sha256_source_start",
        table_name="rejected_payloads",
    )
    op.create_index(
        "ix_rejected_payloads_body_sha256_source",
        "rejected_payloads",
        ["body_sha256", "source"],
        unique=True,
    )
