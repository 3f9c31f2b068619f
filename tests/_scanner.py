"""How tests run the scanner and what they do when the machine lacks something.

Every test runs the code of this checkout: ``python -m scanner`` with the checkout first
on ``PYTHONPATH`` (set for every subprocess by tests/conftest.py), never a ``cii-scan``
found on PATH, which may be another installation.

A test that needs root, a namespace or a Debian package skips off CI with its reason;
with ``CI=true`` it fails instead, so the suite cannot quietly turn into a no-op.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
CII_SCAN: tuple[str, ...] = (sys.executable, "-m", "scanner")
SARIF_SCHEMA = REPO_ROOT / "tests" / "schemas" / "sarif-schema-2.1.0.json"


def skip_or_fail(reason: str) -> None:
    """Skip off CI; on CI a test that cannot run is a failure, not a silent pass."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: this test must run)")
    pytest.skip(reason)


def require_root(what: str = "this test") -> None:
    if os.geteuid() != 0:
        skip_or_fail(f"{what} needs root")


def copy_source_tree(destination: Path) -> Path:
    """This checkout's files (no VCS data, caches, virtual environment or results) at
    ``destination``: what a clone of it holds, with any uncommitted change."""
    shutil.copytree(REPO_ROOT, destination, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "*.egg-info", "__pycache__", ".mypy_cache", ".ruff_cache",
        ".pytest_cache", "build", "cii-scan-results", ".hypothesis"))
    return destination
