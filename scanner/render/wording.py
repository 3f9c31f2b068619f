"""What a result says, in the report's language: one seam every human format reads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def result_message(result: Mapping[str, Any], lang: str) -> str:
    """The result's message as a report shows it."""
    return str(result["message"])


def result_expected(result: Mapping[str, Any], lang: str) -> str:
    """What the rule expected, as a report shows it."""
    return str(result["expected"])
