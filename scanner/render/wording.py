"""The words a report shows for a result: its message and its expectation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def result_message(result: Mapping[str, Any], lang: str) -> str:
    return str(result["message"])


def result_expected(result: Mapping[str, Any], lang: str) -> str:
    return str(result["expected"])
