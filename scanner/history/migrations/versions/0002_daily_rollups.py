"""Daily roll-ups: counts by status and severity per scan and day, kept when pruning
removes the scan's results (the trend report's data). Filled from the results already
stored, so an older store upgraded in place has its whole trend.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "daily_rollups",
        sa.Column("scan_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("scan_day", sa.String(10), primary_key=True),
        sa.Column("status", sa.String(16), primary_key=True),
        sa.Column("severity", sa.String(8), primary_key=True),
        sa.Column("results", sa.Integer, nullable=False),
        sa.Column("hosts", sa.Integer, nullable=False),
    )
    op.create_index("ix_daily_rollups_day", "daily_rollups", ["scan_day"])
    op.execute(
        "INSERT INTO daily_rollups (scan_id, scan_day, status, severity, results, hosts) "
        "SELECT s.id, s.scan_day, r.status, r.severity, COUNT(*), COUNT(DISTINCT r.host_id) "
        "FROM results r JOIN scans s ON s.id = r.scan_id "
        "GROUP BY s.id, s.scan_day, r.status, r.severity")


def downgrade() -> None:
    op.drop_table("daily_rollups")
