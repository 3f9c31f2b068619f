"""The simulated network link of the benchmarks: a TCP proxy that adds latency.

tc netem cannot be used in this machine's namespaces, so the delay is a loopback proxy
per host that holds every chunk for half the round trip in each direction.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.fleet import Fleet

PROXY_PORT_BASE = 4000


class DelayProxy:
    """A loopback TCP proxy that delays every chunk by ``one_way_s`` in each direction.

    Each chunk is due ``one_way_s`` after it was read and chunks leave in the order they
    came, so the link adds latency without limiting bandwidth (what tc netem's delay does,
    which this machine's namespaces cannot use). :meth:`close` also closes every
    connection it carries, so a benchmark that is stopped leaves no socket behind."""

    def __init__(self, listen: tuple[str, int], upstream: tuple[str, int],
                 one_way_s: float) -> None:
        self.upstream = upstream
        self.one_way_s = one_way_s
        self.server = socket.create_server(listen, backlog=256)
        self.server.settimeout(0.2)
        self.stop = threading.Event()
        self._open: dict[tuple[socket.socket, socket.socket], int] = {}
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                client, _ = self.server.accept()
            except OSError:
                continue
            try:
                upstream = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            client.settimeout(None)
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pair = (client, upstream)
            with self._lock:
                self._open[pair] = 2  # writers still running
            for source, sink in (pair, pair[::-1]):
                pending: queue.Queue[tuple[float, bytes]] = queue.Queue()
                threading.Thread(target=self._read, args=(source, pending), daemon=True).start()
                threading.Thread(target=self._write, args=(sink, pending, pair),
                                 daemon=True).start()

    def _read(self, source: socket.socket, pending: queue.Queue[tuple[float, bytes]]) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            pending.put((time.monotonic() + self.one_way_s, data))
            if not data:
                return

    def _write(self, sink: socket.socket, pending: queue.Queue[tuple[float, bytes]],
               pair: tuple[socket.socket, socket.socket]) -> None:
        while True:
            due, data = pending.get()
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            try:
                if not data:
                    sink.shutdown(socket.SHUT_WR)
                    break
                sink.sendall(data)
            except OSError:
                break
        self._finished(pair)

    def _finished(self, pair: tuple[socket.socket, socket.socket]) -> None:
        """Close a connection's two sockets once both directions ended (no fd is kept)."""
        with self._lock:
            left = self._open.get(pair, 0) - 1
            if left > 0:
                self._open[pair] = left
                return
            self._open.pop(pair, None)
        for sock in pair:
            with contextlib.suppress(OSError):
                sock.close()

    def close(self) -> None:
        self.stop.set()
        self.server.close()
        with self._lock:
            pairs = list(self._open)
            self._open.clear()
        for pair in pairs:
            for sock in pair:
                with contextlib.suppress(OSError):
                    sock.close()


@dataclass(frozen=True)
class Endpoint:
    name: str
    address: str
    port: int


@dataclass
class Link:
    """Where the client connects for each fleet host: a delay proxy, or the host itself."""

    endpoints: list[Endpoint]
    known_hosts: Path
    proxies: list[DelayProxy] = field(default_factory=list)

    def close(self) -> None:
        for proxy in self.proxies:
            proxy.close()


def open_link(fleet: Fleet, rtt_ms: float) -> Link:
    hosts = list(fleet.hosts.values())
    if rtt_ms <= 0:
        return Link([Endpoint(h.name, h.address, h.port) for h in hosts], fleet.known_hosts)
    link = Link([], fleet.base / "known_hosts_link")
    known = []
    try:
        for number, host in enumerate(hosts, start=1):
            address, port = f"127.0.3.{number}", PROXY_PORT_BASE + number
            link.proxies.append(DelayProxy((address, port), (host.address, host.port),
                                           rtt_ms / 2000))
            link.endpoints.append(Endpoint(host.name, address, port))
            key_type, key_b64 = host.host_pub.read_text().split()[:2]
            known.append(f"[{address}]:{port} {key_type} {key_b64}\n")
    except BaseException:
        link.close()
        raise
    link.known_hosts.write_text("".join(known))
    return link


def check_link(rtt_ms: float) -> str:
    """The link's round trip, measured: 1-byte ping-pongs through a DelayProxy to an echo."""
    if rtt_ms <= 0:
        return "no delay proxy"
    echo = socket.create_server(("127.0.3.250", 0))

    def serve() -> None:
        with contextlib.suppress(OSError):
            conn, _ = echo.accept()
            with conn:
                while data := conn.recv(64):
                    conn.sendall(data)

    threading.Thread(target=serve, daemon=True).start()
    proxy = DelayProxy(("127.0.3.251", 0), echo.getsockname()[:2], rtt_ms / 2000)
    try:
        samples = []
        with socket.create_connection(proxy.server.getsockname()[:2], timeout=10) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for _ in range(10):
                started = time.perf_counter()
                sock.sendall(b"x")
                sock.recv(64)
                samples.append((time.perf_counter() - started) * 1000)
    finally:
        proxy.close()
        echo.close()
    return f"link round trip measured {statistics.median(samples):.1f} ms (median of 10)"
