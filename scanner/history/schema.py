"""The store's tables, one schema for SQLite and PostgreSQL (SQLAlchemy Core).

This is the shape the migrations in ``migrations/versions`` build (a test compares the
two on both engines): change it only together with a new migration.

Sized for a year of daily scans of a fleet (365 × 200 hosts × ~77 rules ≈ 5.6 M results):
rules and hosts are small tables referenced by integer ids, results are keyed by
(scan, host, rule) with no other index (every read of them is by scan), counts per scan
and per scan × rule are rolled up as each scan is written, and every answer about the
present (open failures, ages, reopenings, time to resolve) reads the small per host × rule
``lifecycle`` and ``resolutions`` tables, kept up to date as each scan is written, never a
scan of all results. Timestamps are ISO-8601 UTC text (``YYYY-MM-DDTHH:MM:SSZ``): the same
on both engines, ordered as text.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

# the schema this module describes is the one scanner.history.revision.REVISION names

metadata = MetaData()
TIME = String(20)  # 2026-12-02T06:53:45Z
DIGEST = String(71)  # sha256:<64 hex>

scans = Table(
    "scans", metadata,
    Column("id", Integer, primary_key=True),
    Column("findings_digest", DIGEST, nullable=False),
    Column("baseline_id", Text, nullable=False),
    Column("baseline_version", Text, nullable=False),
    Column("baseline_digest", DIGEST, nullable=False),
    Column("profile", Text),
    Column("tool_version", Text, nullable=False),
    Column("operator", Text),
    Column("command", Text, nullable=False),
    Column("started_at", TIME, nullable=False),
    Column("ended_at", TIME, nullable=False),
    Column("scan_day", String(10), nullable=False),
    Column("complete", Boolean, nullable=False),
    Column("imported_at", TIME, nullable=False),
    Column("prev_chain_digest", DIGEST, nullable=False),
    Column("chain_digest", DIGEST, nullable=False),
    UniqueConstraint("findings_digest", name="uq_scans_findings_digest"),
    Index("ix_scans_started_at", "started_at"),
)

hosts = Table(
    "hosts", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False),
    Column("address", Text, nullable=False),
    Column("port", Integer, nullable=False),  # 0: the document gave none
    Column("hostkey_fingerprint", Text),
    Column("first_seen_at", TIME, nullable=False),
    Column("last_seen_at", TIME, nullable=False),  # in any scan's scope
    Column("last_scanned_at", TIME),  # last time it was actually assessed
    UniqueConstraint("name", "address", "port", name="uq_hosts_identity"),
)

rules = Table(
    "rules", metadata,
    Column("id", Integer, primary_key=True),
    Column("rule_key", Text, nullable=False),
    Column("severity", String(8), nullable=False),
    Column("title", Text, nullable=False),
    UniqueConstraint("rule_key", name="uq_rules_rule_key"),
)

scan_hosts = Table(
    "scan_hosts", metadata,
    Column("scan_id", Integer, ForeignKey("scans.id", ondelete="CASCADE"), primary_key=True),
    Column("host_id", Integer, ForeignKey("hosts.id"), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("complete", Boolean, nullable=False),
    Column("reason", Text, nullable=False),
    Column("hostkey_fingerprint", Text),
    Index("ix_scan_hosts_host", "host_id"),
)

results = Table(
    "results", metadata,
    Column("scan_id", Integer, ForeignKey("scans.id", ondelete="CASCADE"), primary_key=True),
    Column("host_id", Integer, ForeignKey("hosts.id"), primary_key=True),
    Column("rule_id", Integer, ForeignKey("rules.id"), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("severity", String(8), nullable=False),
    Column("evidence_digest", DIGEST, nullable=False),
    Column("waiver", Text),  # the waiver as canonical JSON, on a waived result
    # no secondary index (migration 0004): every read of results is by scan, the primary
    # key's prefix, and each index would cost the import a B-tree insert per row
)

# One row per host × rule ever seen: where it stands now. ``opened_at`` starts the
# current (or last) failing episode; ``resolved_at`` is set when a later scan passed it.
lifecycle = Table(
    "lifecycle", metadata,
    Column("host_id", Integer, ForeignKey("hosts.id"), primary_key=True),
    Column("rule_id", Integer, ForeignKey("rules.id"), primary_key=True),
    Column("severity", String(8), nullable=False),
    Column("first_failed_at", TIME),
    Column("opened_at", TIME),
    Column("resolved_at", TIME),
    Column("last_seen_at", TIME, nullable=False),
    Column("last_status", String(16), nullable=False),
    Column("last_scan_id", Integer, nullable=False),
    Column("reopened", Integer, nullable=False),
    Column("waived", Boolean, nullable=False),
    Index("ix_lifecycle_open", "resolved_at", "opened_at"),
)

# Every failing episode that ended: time to resolve, by severity. Survives pruning.
resolutions = Table(
    "resolutions", metadata,
    Column("id", Integer, primary_key=True),
    Column("host_id", Integer, ForeignKey("hosts.id"), nullable=False),
    Column("rule_id", Integer, ForeignKey("rules.id"), nullable=False),
    Column("severity", String(8), nullable=False),
    Column("opened_at", TIME, nullable=False),
    Column("resolved_at", TIME, nullable=False),
    Column("scan_id", Integer, nullable=False),
    Column("duration_s", Integer),  # resolved_at - opened_at (migration 0004; always set)
    Index("ix_resolutions_resolved", "resolved_at"),
)

# The hash chain's ends: ``anchor`` is the chain digest the oldest kept scan follows
# (the genesis value, or the last pruned scan's), ``head`` the newest scan's. Writers lock
# this row, so imports are serialised on both engines.
chain = Table(
    "chain", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("anchor_digest", DIGEST, nullable=False),
    Column("head_digest", DIGEST, nullable=False),
    Column("scans", Integer, nullable=False),
    Column("pruned", Integer, nullable=False),
)

# Counts by status and severity per scan and day (migration 0002): the trend's data,
# kept when the scan's results are pruned (no foreign key to scans on purpose).
daily_rollups = Table(
    "daily_rollups", metadata,
    Column("scan_id", Integer, primary_key=True, autoincrement=False),
    Column("scan_day", String(10), primary_key=True),
    Column("status", String(16), primary_key=True),
    Column("severity", String(8), primary_key=True),
    Column("results", Integer, nullable=False),
    Column("hosts", Integer, nullable=False),
    Index("ix_daily_rollups_day", "scan_day"),
)

# Every failing episode's start (migration 0003): new or reopened, per scan, for the
# trend; kept when pruning removes the scan (``scan_id`` is then a dangling number, and
# NULL for an episode an upgraded store could date but not place in a kept scan).
openings = Table(
    "openings", metadata,
    Column("id", Integer, primary_key=True),
    Column("host_id", Integer, ForeignKey("hosts.id"), nullable=False),
    Column("rule_id", Integer, ForeignKey("rules.id"), nullable=False),
    Column("severity", String(8), nullable=False),
    Column("opened_at", TIME, nullable=False),
    Column("reopened", Boolean, nullable=False),
    Column("scan_id", Integer),
    Index("ix_openings_opened", "opened_at"),
)

# Migration 0004's roll-ups, all kept when pruning removes the scan (no foreign key to
# scans on purpose). One row per scan: the trend's point for it.
scan_summaries = Table(
    "scan_summaries", metadata,
    Column("scan_id", Integer, primary_key=True, autoincrement=False),
    Column("started_at", TIME, nullable=False),
    Column("complete", Boolean, nullable=False),
    Column("hosts", Integer, nullable=False),  # in the scan's scope
    Column("assessed", Integer, nullable=False),  # of them, actually scanned
    Column("results", Integer, nullable=False),
    Column("score", Float),  # the document's summary score; NULL for scans before 0004
    # failing episodes the scan began (new, reopened) and ended (migration 0005)
    Column("opened", Integer),
    Column("reopened", Integer),
    Column("resolved", Integer),
    Index("ix_scan_summaries_started", "started_at"),
)

# Results per scan × rule × status: ``history rule`` and the per-area rates read these.
scan_rule_rollups = Table(
    "scan_rule_rollups", metadata,
    Column("scan_id", Integer, primary_key=True, autoincrement=False),
    Column("rule_id", Integer, ForeignKey("rules.id"), primary_key=True),
    Column("status", String(16), primary_key=True),
    Column("results", Integer, nullable=False),
    Index("ix_scan_rule_rollups_rule", "rule_id", "scan_id"),
)

# The GB/T 22239-2019 8.1.4 areas (e.g. "8.1.4.1") each rule checks, as the newest
# imported rule catalog says.
rule_areas = Table(
    "rule_areas", metadata,
    Column("rule_id", Integer, ForeignKey("rules.id"), primary_key=True),
    Column("area", String(16), primary_key=True),
)

GENESIS = "sha256:" + "0" * 64
