"""Reading the files a command is given: one clear line for every way it can fail."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from scanner.cli.lazy import lazy
from scanner.errors import InputError

if TYPE_CHECKING:
    from scanner import collect
    from scanner import facts as facts_module
    from scanner.facts import Facts
else:
    collect = lazy("scanner.collect")
    facts_module = lazy("scanner.facts")


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(str(path), "file not found") from None
    except IsADirectoryError:
        raise InputError(str(path), "is a directory, not a file") from None
    except OSError as exc:
        raise InputError(str(path), f"cannot read ({exc.strerror or exc})") from None


def read_text(path: Path) -> str:
    return decode_text(read_bytes(path), path)


def decode_text(raw: bytes, path: Path) -> str:
    """A file's bytes as text, or the one-line error naming it."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(str(path), "not valid UTF-8") from None


def read_evidence(path: Path) -> Facts:
    """Facts JSON, or the raw output of the collector script."""
    raw = read_bytes(path)
    if raw.lstrip()[:1] == b"{":
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(str(path), f"not valid JSON facts ({exc})") from None
        return facts_module.Facts.from_json(data, str(path))
    _, parsed = collect.parse_standalone(raw, str(path))
    # collected when the host's clock said so, not now (the evidence may be days old); a
    # collector output without the host's clock falls back to now
    collected_at = (parsed.clock_start.utc if parsed.clock_start and parsed.clock_start.utc
                    else collect.utc_now())
    host = facts_module.HostIdentity(path.stem, "offline", transport="offline")
    facts = facts_module.Facts(host, parsed.results, collected_at, 0.0)
    os_data = facts.os
    name = str(os_data["hostname"]) if os_data and os_data.get("hostname") else path.stem
    return facts_module.Facts(facts_module.HostIdentity(name, "offline", transport="offline"),
                              parsed.results, collected_at, 0.0,
                              complete=not parsed.problems,
                              incomplete_reason=parsed.problems[0] if parsed.problems else None,
                              host_clock_start=parsed.clock_start,
                              host_clock_end=parsed.clock_end)


