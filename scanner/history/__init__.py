"""The scan history store: findings documents remembered, so periodic scans answer what
is new, fixed, back again, how long failures stay open and which hosts stopped being
scanned.

findings.json stays the one contract: the store reads documents (:mod:`.write`), queries
read the store (:mod:`.queries`), and nothing reads the store to write findings. One
schema (:mod:`.schema`, SQLAlchemy Core) serves both engines, SQLite embedded by default
and PostgreSQL for a team, and is migrated in place by Alembic (:mod:`.migrate`).

This package's own ``__init__`` imports nothing heavy: the CLI loads SQLAlchemy only when
a history command runs (tests/test_startup.py holds it to that).
"""
