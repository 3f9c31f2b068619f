"""The schema revision this version reads and writes: the newest migration's.

A leaf, so the read path (:mod:`.reader`) can tell a current store from one to upgrade
without importing the schema's SQLAlchemy tables. A test holds it to Alembic's head.
"""

REVISION = "0005"
