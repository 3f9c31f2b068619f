"""Modules a command needs, loaded on first use.

Each command imports only what it uses, when it runs: `--help` and `baselines list` need
neither the collector, the fleet nor the SSH layer (importing all of it took most of
--help's time). A module named here loads on its first attribute access.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any


def lazy(name: str) -> Any:
    """``name``'s module, executed when first used (as an import would bind it)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.loader is not None
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    parent, _, child = name.rpartition(".")
    setattr(sys.modules[parent], child, module)  # as an import binds it in its package
    return module
