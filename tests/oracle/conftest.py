"""Prints, at the end of a run, which rules the oracle suite covered and with which consumers."""

from __future__ import annotations

from typing import Any

from tests.oracle._oracle import RAN


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not RAN:
        return
    rules = sorted({case.rule for case, _ in RAN})
    consumers = sorted({case.consumer.name for case, _ in RAN})
    verdicts = {case.rule: set() for case, _ in RAN}
    for case, status in RAN:
        verdicts[case.rule].add(status)
    both = [rule for rule, seen in verdicts.items() if "pass" in seen and seen - {"pass"}]
    terminalreporter.write_sep("-", "oracle: verdicts decided by the real consumer")
    terminalreporter.write_line(
        f"oracle: {len(RAN)} states agreed with their consumer; {len(rules)} rules covered, "
        f"{len(both)} with a consumer-decided pass and non-pass")
    terminalreporter.write_line(f"oracle: consumers asked: {', '.join(consumers)}")
