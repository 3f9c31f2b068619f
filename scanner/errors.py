"""Errors that reach the user. Each seam raises its own subclass; the CLI catches them once.

Exit codes (documented in README and ``cii-scan --help``):
0 complete, nothing at or above --fail-on failed; 1 a failure at or above --fail-on;
2 bad usage or invalid input, nothing scanned; 3 incomplete (a host or probe could
not be assessed) with no threshold failure.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_THRESHOLD = 1
EXIT_INPUT = 2
EXIT_INCOMPLETE = 3


class CiiScanError(Exception):
    """Base of every error the CLI reports as one line."""

    exit_code = EXIT_INPUT


class InputError(CiiScanError):
    """A file or argument from the user is wrong; names where, when it can."""

    def __init__(self, source: str, message: str, line: int | None = None) -> None:
        self.source = source
        self.line = line
        self.message = message
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {message}")


class OutputError(CiiScanError):
    """A result could not be written where the user asked."""
