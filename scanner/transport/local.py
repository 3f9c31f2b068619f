"""Run the collector script on this machine with ``sh``.

stdout is read as it arrives (not ``communicate()``), so when the per-host budget is
spent, or the run cancels the host, the process group is killed and everything read so
far is returned with ``cut`` set: every part whose frame completed keeps its result.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import threading
import time

from scanner.transport import RunResult, TransportError

STDERR_TAIL_BYTES = 2000
# Of the budget, what the script itself may use on the host: the rest is room for
# starting it and reading its last output.
_MARGIN_SHARE = 0.1
_MARGIN_MIN_S = 1.0
_READ_SLICE_S = 0.25


def script_budget(timeout_s: float, margin_min_s: float = _MARGIN_MIN_S) -> float:
    """The host budget handed to the script: ``timeout_s`` less a margin."""
    return max(1.0, timeout_s - max(margin_min_s, timeout_s * _MARGIN_SHARE))


class LocalTransport:
    name = "local"

    def __init__(self, timeout_s: float = 600.0, max_output_bytes: int | None = None) -> None:
        self.timeout_s = timeout_s
        self.max_output_bytes = max_output_bytes
        self._process: subprocess.Popen[bytes] | None = None
        self._cancelled = threading.Event()

    @property
    def script_budget_s(self) -> float:
        return script_budget(self.timeout_s)

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
        deadline = time.monotonic() + self.timeout_s
        writer = threading.Thread(target=_feed, args=(process, script.encode("utf-8")),
                                  daemon=True)
        writer.start()
        try:
            stdout, stderr, cut = self._read(process, deadline)
        except BaseException:
            self._kill()
            raise
        if cut is not None:
            self._kill()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        try:
            status: int | None = process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            status = None
        writer.join(timeout=1)
        tail = stderr[-STDERR_TAIL_BYTES:].decode("utf-8", errors="replace").strip()
        if cut is not None:
            status = None
        timed_out = cut is not None and ("budget" in cut or cut.startswith("cancelled"))
        return RunResult(stdout=stdout, exit_status=status, stderr_tail=tail, cut=cut,
                         cut_status="timeout" if timed_out else "error")

    def _read(self, process: subprocess.Popen[bytes],
              deadline: float) -> tuple[bytes, bytes, str | None]:
        """Read stdout and stderr until both close, the deadline passes or a cancel."""
        assert process.stdout is not None and process.stderr is not None
        chunks: list[bytes] = []
        total = 0
        stderr = b""
        open_streams = 2
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ, "out")
            selector.register(process.stderr, selectors.EVENT_READ, "err")
            while open_streams:
                if self._cancelled.is_set():
                    return b"".join(chunks), stderr, "cancelled: the run stopped this host"
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return b"".join(chunks), stderr, (
                        f"per-host budget of {self.timeout_s:g} s spent")
                for key, _ in selector.select(min(_READ_SLICE_S, remaining)):
                    data = os.read(key.fileobj.fileno(), 65536)  # type: ignore[union-attr]
                    if not data:
                        selector.unregister(key.fileobj)
                        open_streams -= 1
                    elif key.data == "out":
                        chunks.append(data)
                        total += len(data)
                        if self.max_output_bytes is not None and total > self.max_output_bytes:
                            return b"".join(chunks), stderr, (
                                f"the collector printed more than {self.max_output_bytes} "
                                "bytes; the rest was not read")
                    else:
                        stderr = (stderr + data)[-STDERR_TAIL_BYTES:]
        if self._cancelled.is_set():  # the kill closed the pipes: not the script's end
            return b"".join(chunks), stderr, "cancelled: the run stopped this host"
        return b"".join(chunks), stderr, None

    def cancel(self) -> None:
        """Kill the collector's whole session (it runs in one of its own); :meth:`run`
        then returns what was read so far."""
        self._cancelled.set()
        self._kill()

    def _kill(self) -> None:
        """SIGKILL the collector's session: its own group, and the groups ``timeout``
        made inside it (each batch's ``timeout`` leads a group of its own, which
        killing sh's group alone would leave running)."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        for pid in _session_members(process.pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def _session_members(session: int) -> list[int]:
    """Processes whose session is ``session`` (Linux /proc; none found elsewhere)."""
    members = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # pid (comm) state ppid pgrp session ...: comm may hold spaces and parentheses
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 3 and fields[3] == str(session).encode():
            members.append(int(entry))
    return members


def _feed(process: subprocess.Popen[bytes], script: bytes) -> None:
    """Write the script to sh's stdin (a thread: sh may print before it has read it all)."""
    stdin = process.stdin
    if stdin is None:
        return
    with contextlib.suppress(OSError):
        stdin.write(script)
    with contextlib.suppress(OSError):
        stdin.close()
