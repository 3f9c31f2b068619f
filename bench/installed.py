"""The environment a bench's whole processes run in: as an installed cii-scan runs.

An installed tool has bytecode caches; with PYTHONDONTWRITEBYTECODE=1, as on this CI
image, every process would compile every module it imports (~0.2 s for the probe
catalog alone). So each bench keeps caches of its own, out of the tree, under a
temporary prefix, and runs this checkout's ``scanner`` (PYTHONPATH).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def process_env(bench: str) -> dict[str, str]:
    """os.environ with bytecode caching on, under a prefix of ``bench``'s own."""
    cache = Path(tempfile.gettempdir()) / f"cii-scan-{bench}-bench-pycache"
    return {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
            "PYTHONPATH": str(REPO), "PYTHONPYCACHEPREFIX": str(cache)}
