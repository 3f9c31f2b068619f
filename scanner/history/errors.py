"""The history store's one exception base, caught once by the CLI."""

from __future__ import annotations

from scanner.errors import EXIT_INPUT, EXIT_THRESHOLD, InputError


class HistoryError(InputError):
    """The store cannot be opened, read or written as asked: a bad location, a store
    newer than this cii-scan, an unreachable server, a document it refuses. One line that
    names the store (never a credential: locations with passwords are refused)."""

    exit_code = EXIT_INPUT


class ChainBroken(HistoryError):
    """``history verify`` found rows that do not hash to the chain: exit 1, as ``verify``
    of an altered findings file does."""

    exit_code = EXIT_THRESHOLD
