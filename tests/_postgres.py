"""A throwaway PostgreSQL server for the history store's tests (Debian's postgresql).

initdb refuses to run as root, so as root the cluster belongs to ``nobody`` (runuser);
its data and its unix socket live in a temporary directory, and local (socket)
connections are trusted (nothing but the test can reach the socket's directory). It also
listens on 127.0.0.1 at a free port, where a password is required (scram-sha-256), so a
test can show credentials coming from libpq's passfile. Stopped and removed at the end
of the session. Without the binaries the tests skip, and with CI=true they fail
(tests/_scanner.skip_or_fail).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests._scanner import skip_or_fail

SUPERUSER = "cii"


@dataclass(frozen=True)
class Cluster:
    socket_dir: Path
    port: int

    def url(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@/{database}?host={self.socket_dir}&port={self.port}"

    def psql(self, database: str, sql: str) -> str:
        proc = subprocess.run(
            [_binary("psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h",
             str(self.socket_dir), "-p", str(self.port), "-U", SUPERUSER, "-d", database,
             "-c", sql],
            capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    def create_database(self, name: str) -> str:
        self.psql("postgres", f'CREATE DATABASE "{name}"')
        return self.url(name)


def _binary(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        skip_or_fail("PostgreSQL is not installed (Debian package postgresql, "
                     "tests/packages.d/history.txt)")
    return found[-1]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_owner(command: list[str]) -> list[str]:
    return ["runuser", "-u", "nobody", "--", *command] if os.geteuid() == 0 else command


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    root = Path(tempfile.mkdtemp(prefix="cii-pg-"))
    data, sockets = root / "data", root / "run"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "nobody")
        shutil.chown(sockets, "nobody")
    root.chmod(0o755)
    subprocess.run(_as_owner([initdb, "-D", str(data), "-U", SUPERUSER, "--auth-local=trust",
                              "--auth-host=scram-sha-256",
                              "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]),
                   check=True, capture_output=True, timeout=120)
    port = _free_port()
    options = (f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={sockets} "
               "-c fsync=off -c max_connections=50")
    started = subprocess.run(_as_owner([pg_ctl, "-D", str(data), "-l", str(root / "log"),
                                        "-o", options, "-w", "-t", "60", "start"]),
                             capture_output=True, text=True, timeout=120, check=False)
    if started.returncode != 0:
        log = (root / "log").read_text(errors="replace") if (root / "log").exists() else ""
        pytest.fail(f"PostgreSQL did not start: {started.stderr}{log[-2000:]}")
    try:
        yield Cluster(sockets, port)
    finally:
        subprocess.run(_as_owner([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]),
                       capture_output=True, timeout=60, check=False)
        shutil.rmtree(root, ignore_errors=True)
