"""Run the collector script on this machine with ``sh``."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading

from scanner.transport import RunResult, TransportError

STDERR_TAIL_BYTES = 2000


class LocalTransport:
    name = "local"

    def __init__(self, timeout_s: float = 600.0) -> None:
        self.timeout_s = timeout_s
        self._process: subprocess.Popen[bytes] | None = None
        self._cancelled = threading.Event()

    def run(self, script: str) -> RunResult:
        try:
            process = subprocess.Popen(
                ["sh", "-s"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            raise TransportError("error", f"cannot start sh: {exc.strerror or exc}") from None
        self._process = process
        if self._cancelled.is_set():
            self._kill()
        try:
            stdout, stderr = process.communicate(script.encode("utf-8"), timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
            raise TransportError(
                "timeout", f"collector did not finish within {self.timeout_s:g} s"
            ) from None
        tail = stderr[-STDERR_TAIL_BYTES:].decode("utf-8", errors="replace").strip()
        return RunResult(stdout=stdout, exit_status=process.returncode, stderr_tail=tail)

    def cancel(self) -> None:
        """Kill the collector's whole session (it runs in one of its own)."""
        self._cancelled.set()
        self._kill()

    def _kill(self) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
