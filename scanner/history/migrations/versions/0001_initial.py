"""The first store: scans, hosts, rules, per-scan host status, results, lifecycles,
resolutions and the hash chain's ends.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TIME = sa.String(20)
DIGEST = sa.String(71)


def upgrade() -> None:
    op.create_table(
        "scans",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("findings_digest", DIGEST, nullable=False),
        sa.Column("baseline_id", sa.Text, nullable=False),
        sa.Column("baseline_version", sa.Text, nullable=False),
        sa.Column("baseline_digest", DIGEST, nullable=False),
        sa.Column("profile", sa.Text),
        sa.Column("tool_version", sa.Text, nullable=False),
        sa.Column("operator", sa.Text),
        sa.Column("command", sa.Text, nullable=False),
        sa.Column("started_at", TIME, nullable=False),
        sa.Column("ended_at", TIME, nullable=False),
        sa.Column("scan_day", sa.String(10), nullable=False),
        sa.Column("complete", sa.Boolean, nullable=False),
        sa.Column("imported_at", TIME, nullable=False),
        sa.Column("prev_chain_digest", DIGEST, nullable=False),
        sa.Column("chain_digest", DIGEST, nullable=False),
        sa.UniqueConstraint("findings_digest", name="uq_scans_findings_digest"),
    )
    op.create_index("ix_scans_started_at", "scans", ["started_at"])
    op.create_table(
        "hosts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("address", sa.Text, nullable=False),
        sa.Column("port", sa.Integer, nullable=False),
        sa.Column("hostkey_fingerprint", sa.Text),
        sa.Column("first_seen_at", TIME, nullable=False),
        sa.Column("last_seen_at", TIME, nullable=False),
        sa.Column("last_scanned_at", TIME),
        sa.UniqueConstraint("name", "address", "port", name="uq_hosts_identity"),
    )
    op.create_table(
        "rules",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("rule_key", sa.Text, nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.UniqueConstraint("rule_key", name="uq_rules_rule_key"),
    )
    op.create_table(
        "scan_hosts",
        sa.Column("scan_id", sa.Integer, sa.ForeignKey("scans.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("host_id", sa.Integer, sa.ForeignKey("hosts.id"), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("complete", sa.Boolean, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("hostkey_fingerprint", sa.Text),
    )
    op.create_index("ix_scan_hosts_host", "scan_hosts", ["host_id"])
    op.create_table(
        "results",
        sa.Column("scan_id", sa.Integer, sa.ForeignKey("scans.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("host_id", sa.Integer, sa.ForeignKey("hosts.id"), primary_key=True),
        sa.Column("rule_id", sa.Integer, sa.ForeignKey("rules.id"), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("evidence_digest", DIGEST, nullable=False),
        sa.Column("waiver", sa.Text),
    )
    op.create_index("ix_results_host_rule", "results", ["host_id", "rule_id"])
    op.create_index("ix_results_status", "results", ["status", "severity"])
    op.create_index("ix_results_rule_scan", "results", ["rule_id", "scan_id"])
    op.create_table(
        "lifecycle",
        sa.Column("host_id", sa.Integer, sa.ForeignKey("hosts.id"), primary_key=True),
        sa.Column("rule_id", sa.Integer, sa.ForeignKey("rules.id"), primary_key=True),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("first_failed_at", TIME),
        sa.Column("opened_at", TIME),
        sa.Column("resolved_at", TIME),
        sa.Column("last_seen_at", TIME, nullable=False),
        sa.Column("last_status", sa.String(16), nullable=False),
        sa.Column("last_scan_id", sa.Integer, nullable=False),
        sa.Column("reopened", sa.Integer, nullable=False),
        sa.Column("waived", sa.Boolean, nullable=False),
    )
    op.create_index("ix_lifecycle_open", "lifecycle", ["resolved_at", "opened_at"])
    op.create_table(
        "resolutions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("host_id", sa.Integer, sa.ForeignKey("hosts.id"), nullable=False),
        sa.Column("rule_id", sa.Integer, sa.ForeignKey("rules.id"), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("opened_at", TIME, nullable=False),
        sa.Column("resolved_at", TIME, nullable=False),
        sa.Column("scan_id", sa.Integer, nullable=False),
    )
    op.create_index("ix_resolutions_resolved", "resolutions", ["resolved_at"])
    chain = op.create_table(
        "chain",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("anchor_digest", DIGEST, nullable=False),
        sa.Column("head_digest", DIGEST, nullable=False),
        sa.Column("scans", sa.Integer, nullable=False),
        sa.Column("pruned", sa.Integer, nullable=False),
    )
    genesis = "sha256:" + "0" * 64
    op.bulk_insert(chain, [{"id": 1, "anchor_digest": genesis, "head_digest": genesis,
                            "scans": 0, "pruned": 0}])


def downgrade() -> None:
    for table in ("chain", "resolutions", "lifecycle", "results", "scan_hosts", "rules",
                  "hosts", "scans"):
        op.drop_table(table)
