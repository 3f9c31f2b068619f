"""A result's message and expectation as the human reports show them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def result_message(result: Mapping[str, Any], lang: str) -> str:
    """What the result says about the host."""
    return str(result["message"])


def result_expected(result: Mapping[str, Any], lang: str) -> str:
    """What the rule expected."""
    return str(result["expected"])
