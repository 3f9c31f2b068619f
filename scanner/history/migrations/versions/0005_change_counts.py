"""Each scan's new, reopened and resolved failures, counted on write in ``scan_summaries``
(``opened``, ``reopened``, ``resolved``), so the trend reads one row per scan instead of
grouping every episode the store has seen (``openings``, ``resolutions``). Filled for an
older store from those tables, which hold exactly what its writes counted.

Revision ID: 0005; revises 0004.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_COUNTS = ("opened", "reopened", "resolved")


def upgrade() -> None:
    for name in _COUNTS:
        op.add_column("scan_summaries", sa.Column(name, sa.Integer))
    op.execute(
        "UPDATE scan_summaries SET "
        "opened = (SELECT COUNT(*) FROM openings o "
        "WHERE o.scan_id = scan_summaries.scan_id AND NOT o.reopened), "
        "reopened = (SELECT COUNT(*) FROM openings o "
        "WHERE o.scan_id = scan_summaries.scan_id AND o.reopened), "
        "resolved = (SELECT COUNT(*) FROM resolutions x "
        "WHERE x.scan_id = scan_summaries.scan_id)")


def downgrade() -> None:
    with op.batch_alter_table("scan_summaries") as batch:
        for name in _COUNTS:
            batch.drop_column(name)
