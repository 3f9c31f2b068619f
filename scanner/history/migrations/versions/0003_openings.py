"""Openings: every failing episode's start (new or reopened), the trend's "new" and
"reopened" per scan, kept when pruning removes the scan's results. Filled for an older
store from what it already knows exactly: each ended episode's start (resolutions) and
each open one's (lifecycle); an episode is a reopening when it began after the host ×
rule first failed.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "openings",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("host_id", sa.Integer, sa.ForeignKey("hosts.id"), nullable=False),
        sa.Column("rule_id", sa.Integer, sa.ForeignKey("rules.id"), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("opened_at", sa.String(20), nullable=False),
        sa.Column("reopened", sa.Boolean, nullable=False),
        sa.Column("scan_id", sa.Integer),
    )
    op.create_index("ix_openings_opened", "openings", ["opened_at"])
    op.execute(
        "INSERT INTO openings (host_id, rule_id, severity, opened_at, reopened, scan_id) "
        "SELECT e.host_id, e.rule_id, e.severity, e.opened_at, e.opened_at > e.first_failed_at,"
        " (SELECT MIN(s.id) FROM scans s WHERE s.started_at = e.opened_at) FROM ("
        "SELECT r.host_id, r.rule_id, r.severity, r.opened_at, l.first_failed_at "
        "FROM resolutions r JOIN lifecycle l ON l.host_id = r.host_id AND l.rule_id = r.rule_id "
        "UNION ALL SELECT host_id, rule_id, severity, opened_at, first_failed_at FROM lifecycle "
        "WHERE opened_at IS NOT NULL AND resolved_at IS NULL) e")


def downgrade() -> None:
    op.drop_table("openings")
