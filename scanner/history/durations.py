"""Durations as operators type them: ``30d``, ``12h``, ``2w``, ``400d``."""

from __future__ import annotations

import re

from scanner.history.errors import HistoryError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)([smhdw])")


def parse_duration(text: str, where: str) -> float:
    """Seconds in ``text`` (a number and a unit: s, m, h, d or w); HistoryError naming
    ``where`` otherwise."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        raise HistoryError(where, f"{text!r} is not a duration (a number and a unit: 90m, "
                           "12h, 30d, 2w)")
    return float(match.group(1)) * _UNITS[match.group(2)]
