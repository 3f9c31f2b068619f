"""Where the shipped data lives, installed or in a source checkout.

An installed wheel carries ``baselines/`` and ``reports/`` inside the package
(``scanner/baselines``, ``scanner/reports``); a source checkout keeps them at the
repository top. Both layouts are looked up here and nowhere else.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _data_dir(name: str) -> Path:
    for candidate in (_PACKAGE_DIR / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"shipped data folder {name!r} is missing from the installation")


def baselines_dir() -> Path:
    return _data_dir("baselines")


def reports_dir() -> Path:
    return _data_dir("reports")


def schema_path(name: str) -> Path:
    return _PACKAGE_DIR / "schemas" / name
