"""Faults of the SSH layer for the real fleet: hosts and a TCP proxy that break on purpose.

The fault fleet is a small fleet of its own (see :data:`FAULT_SPECS`), built by the same
:class:`tests.fleet.Fleet` machinery, plus loopback proxies in front of its clean host:

* ``india``: the clean twin; every fault host has india's configuration, so a rule
  whose probes' frames completed must be judged on a faulty host exactly as on india.
* ``reset`` (proxy): forwards india's first bytes, then resets the connection (SO_LINGER
  0 and close: the kernel sends RST) -- a connection that dies mid-output.
* ``stall`` (proxy): forwards india's first bytes, then forwards nothing more while
  keeping both sockets open -- a host that hangs after sending half.
* ``juliet``: its /usr/bin/sudo sleeps forever.
* ``kilo``: its ``ss`` prints as fast as it can, forever (output faster than it can
  be parsed; the collector's cap and the client's bound must hold).
* ``lima``: the auditor's login shell runs the command, then kills itself with SIGKILL,
  so sshd ends the channel with ``exit-signal`` and no ``exit-status``.
* ``mike``: a jump host (TCP forwarding allowed) that a test kills mid-fleet.

Proxies are served from this test process's threads; every socket they open is closed
by :meth:`FaultProxy.stop`.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tests.fleet import Fleet, HostSpec, running_fleet

HANGING_SUDO = "#!/bin/sh\n# a sudo that never returns\nexec sleep 100000\n"
FLOODING_TOOL = "#!/bin/sh\n# a tool that never stops printing\nexec yes 'flood flood flood'\n"
SELF_KILLING_SHELL = """#!/bin/sh
# run the command as a login shell would, then die by a signal: no exit status is sent
/bin/sh "$@"
kill -KILL $$
"""

TWIN = HostSpec("india", "127.0.1.30", 2230)
FAULT_SPECS = (
    TWIN,
    HostSpec("juliet", "127.0.1.31", 2231, replace_files={"/usr/bin/sudo": HANGING_SUDO}),
    HostSpec("kilo", "127.0.1.32", 2232, replace_files={"/usr/bin/ss": FLOODING_TOOL}),
    HostSpec("lima", "127.0.1.33", 2233, login_shell=SELF_KILLING_SHELL),
    HostSpec("mike", "127.0.1.34", 2234, forwarding=True),
)
Mode = Literal["reset", "stall"]


@dataclass(frozen=True)
class ProxySpec:
    name: str
    address: str
    port: int
    mode: Mode
    after_bytes: int  # server->client bytes forwarded before the fault


# india's whole scan sends a few hundred KiB; the key exchange and authentication a few
# KiB. The fault strikes after the session began and some frames arrived, before the end.
FAULT_AFTER_BYTES = 48 * 1024
PROXIES = (
    ProxySpec("reset", "127.0.1.40", 2240, "reset", FAULT_AFTER_BYTES),
    ProxySpec("stall", "127.0.1.41", 2241, "stall", FAULT_AFTER_BYTES),
)


class FaultProxy:
    """A loopback TCP proxy to one sshd that breaks every connection the same way."""

    def __init__(self, spec: ProxySpec, backend: tuple[str, int]) -> None:
        self.spec = spec
        self.backend = backend
        self.forwarded = 0  # server->client bytes of the latest connection
        self.faulted = threading.Event()
        self._stop = threading.Event()
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server((spec.address, spec.port), backlog=16)
        self._listener.settimeout(0.2)
        self._threads = [threading.Thread(target=self._accept_loop, daemon=True)]
        self._threads[0].start()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            try:
                server = socket.create_connection(self.backend, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            self._sockets += [client, server]
            thread = threading.Thread(target=self._pump, args=(client, server), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _pump(self, client: socket.socket, server: socket.socket) -> None:
        self.forwarded = 0
        peers = {client: server, server: client}
        while not self._stop.is_set():
            readable, _, _ = select.select([client, server], [], [], 0.2)
            for sock in readable:
                try:
                    data = sock.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    self._close(client, server)
                    return
                if sock is server:
                    room = self.spec.after_bytes - self.forwarded
                    if len(data) >= room:
                        self._fault(client, server, data[:room])
                        return
                    self.forwarded += len(data)
                with contextlib.suppress(OSError):
                    peers[sock].sendall(data)

    def _fault(self, client: socket.socket, server: socket.socket, last: bytes) -> None:
        with contextlib.suppress(OSError):
            client.sendall(last)
        self.forwarded += len(last)
        self.faulted.set()
        if self.spec.mode == "reset":
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self._close(client, server)
        # "stall": nothing more is read or forwarded; both sockets stay open until stop()

    @staticmethod
    def _close(*sockets: socket.socket) -> None:
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.close()

    def stop(self) -> None:
        self._stop.set()
        self._close(self._listener, *self._sockets)
        for thread in self._threads:
            thread.join(timeout=2)


class FaultFleet:
    """The fault fleet's hosts, its proxies, and what tests need to reach them."""

    def __init__(self, fleet: Fleet, proxies: dict[str, FaultProxy]) -> None:
        self.fleet = fleet
        self.proxies = proxies

    def inventory_yaml(self, entries: list[tuple[str, str]]) -> str:
        """Hosts as (name, where): ``where`` is a fleet host or proxy name, optionally
        ``via:<jump host name>``; several names may reach the same host."""
        lines = []
        for name, where in entries:
            target, _, jump = where.partition(" via:")
            address, port = self.address_of(target)
            extra = ""
            if jump:
                jump_address, jump_port = self.address_of(jump)
                extra = f", jump: auditor@{jump_address}:{jump_port}"
            lines.append(f"  - {{name: {name}, address: {address}, port: {port}{extra}}}")
        return "defaults: {user: auditor, sudo: true}\nhosts:\n" + "\n".join(lines) + "\n"

    def address_of(self, name: str) -> tuple[str, int]:
        if name in self.proxies:
            spec = self.proxies[name].spec
            return spec.address, spec.port
        host = self.fleet.hosts[name]
        return host.address, host.port

    def kill_host(self, name: str) -> None:
        """Kill every process of one fleet host (its sshd and every session it serves):
        everything in that host's mount namespace."""
        host = self.fleet.hosts[name]
        assert host.process is not None
        namespace = os.readlink(f"/proc/{host.process.pid}/ns/mnt")
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    if os.readlink(entry / "ns" / "mnt") == namespace:
                        os.kill(int(entry.name), signal.SIGKILL)
        with contextlib.suppress(Exception):
            host.process.wait(timeout=5)


@contextlib.contextmanager
def running_fault_fleet() -> Iterator[FaultFleet]:
    """The fault fleet and its proxies, started; everything stopped afterwards."""
    with running_fleet(FAULT_SPECS, tarpit=False) as fleet:
        twin = fleet.hosts[TWIN.name]
        key_type, key_b64 = twin.host_pub.read_text().split()[:2]
        with fleet.known_hosts.open("a") as known:  # the proxies serve india's key
            for spec in PROXIES:
                known.write(f"[{spec.address}]:{spec.port} {key_type} {key_b64}\n")
        proxies: dict[str, FaultProxy] = {}
        try:
            for spec in PROXIES:
                proxies[spec.name] = FaultProxy(spec, (twin.address, twin.port))
            yield FaultFleet(fleet, proxies)
        finally:
            for proxy in proxies.values():
                proxy.stop()
