"""Transports run the collector script on a host and hand back its output. Nothing else.

Each transport is one module with one class implementing :class:`Transport`; callers
import the module they need, so a local scan never imports paramiko.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from scanner.errors import CiiScanError

# not_started and interrupted are never raised by a transport: the fleet gives them to the
# hosts a stopped run never began, or was scanning when the stop came (nothing of theirs kept).
HostStatus = Literal["scanned", "unreachable", "auth_failed", "hostkey_mismatch", "timeout",
                     "error", "interrupted", "not_started"]

@dataclass(frozen=True)
class RunResult:
    stdout: bytes
    exit_status: int | None
    stderr_tail: str = ""
    hostkey_fingerprint: str | None = None
    # Why the output stopped before the script ended (per-host budget spent, connection
    # dropped or reset, channel closed without an exit status, cancelled); None when the
    # script ran to its end. Once the exec channel has started a transport no longer
    # raises for mid-output problems: it returns what arrived, with ``cut`` set, so every
    # part whose frame completed keeps its result.
    cut: str | None = None
    # The host status a cut output gives when not one frame arrived ("timeout", "error").
    cut_status: HostStatus = "error"


class TransportError(CiiScanError):
    """The host could not be assessed; ``status`` says how, ``reason`` says why (one line)."""

    def __init__(self, status: HostStatus, reason: str) -> None:
        super().__init__(reason)
        self.status: HostStatus = status
        self.reason = reason


class Transport(Protocol):
    name: str

    def run(self, script: str) -> RunResult:
        """Run the collector script once; raise TransportError when the host can't be used
        before any output (unreachable, auth, host key, sudo refusing); a problem once
        output has started is a RunResult with ``cut`` set."""
        ...

    def cancel(self) -> None:
        """Abandon the host from another thread (budget spent, run stopping): whatever
        :meth:`run` is waiting on is closed or killed, so it returns soon, with the output
        read so far and ``cut`` set."""
        ...
