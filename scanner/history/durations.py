"""Durations as operators type them (``30d``, ``12h``, ``2w``, ``400d``) and timestamps
as the store keeps them (``YYYY-MM-DDTHH:MM:SSZ``, the same text on both engines)."""

from __future__ import annotations

import datetime
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


def parse_time(value: str) -> datetime.datetime:
    """A stored timestamp (always ``YYYY-MM-DDTHH:MM:SSZ``; fromisoformat is C, and
    ``mttr`` reads every resolution)."""
    return datetime.datetime.fromisoformat(value[:19]).replace(tzinfo=datetime.timezone.utc)


def format_time(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
