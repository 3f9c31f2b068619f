"""Roll-ups that outlive pruning, and a lighter results table.

- ``scan_summaries``: one row per scan (start, completeness, hosts in scope and assessed,
  results, the document's score), so the trend keeps a point for a scan whose rows were
  pruned. An older store's scans have no score: the results do not record which were an
  assessor's judgements, which the score leaves out, so it is not recomputed (NULL);
- ``scan_rule_rollups``: results per scan × rule × status, which ``history rule`` and the
  trend's control-point table read instead of the results (and keep after pruning);
- ``rule_areas``: the GB/T 22239 area each rule checks, from the findings' rule catalog.
  An older store has no record of it: it is filled by the next import, whose catalog names
  every rule it judged (the rates of older scans are then placed too);
- ``resolutions.duration_s``: each ended episode's length, so ``history mttr`` reads numbers
  instead of parsing two timestamps per row;
- the three secondary indexes on ``results`` go: nothing reads results by them any more
  (every read is by scan, the primary key's prefix), and at a year of daily scans each cost
  the import a B-tree insert per row.

Filled from what the store already holds. Revision ID: 0004; revises 0003.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_RESULT_INDEXES = (("ix_results_host_rule", ["host_id", "rule_id"]),
                   ("ix_results_status", ["status", "severity"]),
                   ("ix_results_rule_scan", ["rule_id", "scan_id"]))


def upgrade() -> None:
    op.create_table(
        "scan_summaries",
        sa.Column("scan_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("started_at", sa.String(20), nullable=False),
        sa.Column("complete", sa.Boolean, nullable=False),
        sa.Column("hosts", sa.Integer, nullable=False),
        sa.Column("assessed", sa.Integer, nullable=False),
        sa.Column("results", sa.Integer, nullable=False),
        sa.Column("score", sa.Float),
    )
    op.create_index("ix_scan_summaries_started", "scan_summaries", ["started_at"])
    op.create_table(
        "scan_rule_rollups",
        sa.Column("scan_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("rule_id", sa.Integer, sa.ForeignKey("rules.id"), primary_key=True),
        sa.Column("status", sa.String(16), primary_key=True),
        sa.Column("results", sa.Integer, nullable=False),
    )
    op.create_index("ix_scan_rule_rollups_rule", "scan_rule_rollups", ["rule_id", "scan_id"])
    op.create_table(
        "rule_areas",
        sa.Column("rule_id", sa.Integer, sa.ForeignKey("rules.id"), primary_key=True),
        sa.Column("area", sa.String(16), primary_key=True),
    )
    op.add_column("resolutions", sa.Column("duration_s", sa.Integer))
    if op.get_bind().dialect.name == "sqlite":
        op.execute("UPDATE resolutions SET duration_s = CAST(ROUND((julianday(resolved_at) "
                   "- julianday(opened_at)) * 86400) AS INTEGER)")
    else:
        op.execute("UPDATE resolutions SET duration_s = CAST(EXTRACT(EPOCH FROM ("
                   "CAST(resolved_at AS timestamp) - CAST(opened_at AS timestamp))) "
                   "AS INTEGER)")
    op.execute(
        "INSERT INTO scan_summaries (scan_id, started_at, complete, hosts, assessed, results) "
        "SELECT s.id, s.started_at, s.complete, "
        "(SELECT COUNT(*) FROM scan_hosts h WHERE h.scan_id = s.id), "
        "(SELECT COUNT(*) FROM scan_hosts h WHERE h.scan_id = s.id AND h.status = 'scanned'), "
        "(SELECT COUNT(*) FROM results r WHERE r.scan_id = s.id) FROM scans s")
    op.execute(
        "INSERT INTO scan_rule_rollups (scan_id, rule_id, status, results) "
        "SELECT scan_id, rule_id, status, COUNT(*) FROM results "
        "GROUP BY scan_id, rule_id, status")
    for name, _columns in _RESULT_INDEXES:
        op.drop_index(name, table_name="results")


def downgrade() -> None:
    for name, columns in _RESULT_INDEXES:
        op.create_index(name, "results", columns)
    with op.batch_alter_table("resolutions") as batch:
        batch.drop_column("duration_s")
    op.drop_table("rule_areas")
    op.drop_table("scan_rule_rollups")
    op.drop_table("scan_summaries")
