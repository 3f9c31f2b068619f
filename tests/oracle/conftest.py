"""Prints, at the end of a run, which rules the oracle suite covered and with which consumers.

Each agreed state is carried in its test report's ``user_properties``, so the summary
is complete when pytest-xdist runs the states in worker processes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.oracle._oracle import CURRENT_ITEM

AGREED: list[tuple[str, str, str]] = []  # (rule, consumer, scanner verdict)


@pytest.fixture(autouse=True)
def _current_item(request: pytest.FixtureRequest) -> Iterator[None]:
    CURRENT_ITEM.append(request.node)
    yield
    CURRENT_ITEM.pop()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and report.passed:
        AGREED.extend(tuple(value) for name, value in report.user_properties
                      if name == "oracle")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not AGREED:
        return
    rules = sorted({rule for rule, _, _ in AGREED})
    consumers = sorted({consumer for _, consumer, _ in AGREED})
    verdicts: dict[str, set[str]] = {}
    for rule, _, status in AGREED:
        verdicts.setdefault(rule, set()).add(status)
    both = [rule for rule, seen in verdicts.items() if "pass" in seen and seen - {"pass"}]
    terminalreporter.write_sep("-", "oracle: verdicts decided by the real consumer")
    terminalreporter.write_line(
        f"oracle: {len(AGREED)} states agreed with their consumer; {len(rules)} rules covered, "
        f"{len(both)} with a consumer-decided pass and non-pass")
    terminalreporter.write_line(f"oracle: {len(consumers)} consumers asked: "
                                + "; ".join(consumers))
