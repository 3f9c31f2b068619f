"""Where cii-scan keeps a user's own files, as the XDG base directory specification says:
the history store under the data home, compiled templates under the cache home.

A leaf: the history store and the renderers both call it.
"""

from __future__ import annotations

import os
from pathlib import Path


def _home(variable: str, fallback: tuple[str, ...]) -> Path:
    """``$variable``/cii-scan, or ~/``fallback``/cii-scan when it is unset or relative (the
    specification says a relative value is to be ignored)."""
    base = os.environ.get(variable) or ""
    root = Path(base) if os.path.isabs(base) else Path.home().joinpath(*fallback)
    return root / "cii-scan"


def data_dir() -> Path:
    """$XDG_DATA_HOME/cii-scan (~/.local/share/cii-scan when unset)."""
    return _home("XDG_DATA_HOME", (".local", "share"))


def cache_dir() -> Path:
    """$XDG_CACHE_HOME/cii-scan (~/.cache/cii-scan when unset)."""
    return _home("XDG_CACHE_HOME", (".cache",))
