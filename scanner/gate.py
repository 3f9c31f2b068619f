"""Exit codes from a findings document: the gate a pipeline reads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scanner.errors import EXIT_INCOMPLETE, EXIT_OK, EXIT_THRESHOLD
from scanner.vocabulary import SEVERITIES


def failures_at_or_above(document: Mapping[str, Any], threshold: str) -> int:
    """How many results failed with severity at or above ``threshold`` (waived ones never do)."""
    limit = SEVERITIES.index(threshold)
    return sum(
        1
        for host in document["hosts"]
        for result in host["results"]
        if result["status"] == "fail" and SEVERITIES.index(result["severity"]) <= limit
    )


def exit_code(document: Mapping[str, Any], fail_on: str | None,
              fail_on_incomplete: bool = True) -> int:
    """1 if anything at/above ``fail_on`` failed; else 3 if incomplete (when asked); else 0."""
    if fail_on is not None and failures_at_or_above(document, fail_on):
        return EXIT_THRESHOLD
    if fail_on_incomplete and not document["summary"]["complete"]:
        return EXIT_INCOMPLETE
    return EXIT_OK
