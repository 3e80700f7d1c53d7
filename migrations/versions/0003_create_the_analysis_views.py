"""Create the analysis views

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from etl.load.views import create_views, drop_views

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# This revision's own list, so that views added later to etl.load.views
# belong to the migration that adds them.
# NOTE: the statements come from sql/views/ as installed. A change to a view
# file needs a new migration that drops and recreates the view, or databases
# upgraded earlier keep the old definition.
VIEWS = (
    "job_summary",
    "reward_history",
    "sensor_activity_daily",
    "candidate_versions",
    "lever_version_usage",
)


def upgrade() -> None:
    create_views(op.get_bind(), VIEWS)


def downgrade() -> None:
    drop_views(op.get_bind(), VIEWS)
