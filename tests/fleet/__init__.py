"""A real OpenSSH test fleet on one machine: each "host" is its own sshd.

Every host is a Debian ``/usr/sbin/sshd`` started inside ``unshare --mount
--uts`` with its own hostname, its own loopback address (127.0.1.N) and port,
its own host key, and fixture files bind-mounted over /etc (sshd_config,
passwd/shadow/group, login.defs, hosts, sudoers.d), so hosts differ the way real
ones do. Each host's daemon serves from that host's own /etc/ssh/sshd_config: the
configuration the probes judge is the one the daemon enforces, so a verdict can be
checked against a real login. Scans log in as the unprivileged ``auditor`` and
collect through ``sudo -n``, as operators do: a scan that logged in as root would
itself prove that root may log in.

Besides plain hosts the fleet has:

* ``hidden``: its sshd runs in a private network namespace (only a loopback),
  so nothing outside that namespace can connect to it -- the kernel enforces
  "only through the jump host". ``jumpbox`` is an inetd-mode sshd (``sshd -i``)
  whose listening socket lives in the normal namespace (a fixture thread
  accepts) but whose per-connection daemon is started inside hidden's network
  namespace (``nsenter --net``), with ``PermitOpen`` limited to hidden's
  address.
* ``echo``: a host whose key changed since known_hosts was written.
* ``foxtrot``: a hostile login -- the auditor's shell prints banners and a forged
  collector frame before every command.
* ``hotel``: a /usr/bin/sudo that cannot run.
* ``closed``: an address and port where nothing listens.
* ``tarpit``: a thread that accepts TCP and never says a word.

The faults of the SSH layer (a reset, a stall, a hanging sudo, a flood, a channel without
exit status, a dying jump host) are a fleet of their own: tests/fleet/faults.py.

Requirements: root, util-linux unshare/nsenter, iproute2, openssh-server and
sudo. Without them the fixture skips, except in CI (``CI=true``), where it fails.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paramiko

from scanner.probes.ssh import _START_SLACK_S

SSHD = "/usr/sbin/sshd"
CLIENT_KEY = "id_fleet"
LOCKED_KEY = "id_locked"
# Planted secrets: a test greps every output for them.
LOCKED_KEY_PASSPHRASE = "fleet-passphrase-7Qz9"
AUDITOR_PASSWORD = "auditor-sudo-pw-Xk4r"
AUDITOR_SALT = "fleetSALTx9"

REQUIRED_TOOLS = ("unshare", "nsenter", "ip", "sudo", "ssh-keygen", "openssl", "hostname",
                  "busybox")

BASE_SSHD_SETTINGS = {
    # the probed config (bind-mounted over /etc/ssh/sshd_config): the hardened default
    "PermitRootLogin": "no",
    "PermitEmptyPasswords": "no",
    "MaxAuthTries": "3",
    "ClientAliveInterval": "300",
    "ClientAliveCountMax": "0",
    "X11Forwarding": "no",
    "Banner": "/etc/issue.net",
    "Ciphers": "aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr",
    "MACs": "hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com",
    "KexAlgorithms": "curve25519-sha256,diffie-hellman-group16-sha512",
}


@dataclass
class HostSpec:
    name: str
    address: str
    port: int
    sshd_settings: dict[str, str] = field(default_factory=dict)
    extra_passwd: str = ""
    sudoers: str = "auditor ALL=(root) NOPASSWD: ALL\n"  # /etc/sudoers.d/auditor
    pass_max_days: int = 90
    # A hostile login: the auditor's shell prints banners and a forged collector frame on
    # stdout and stderr before running the command.
    noisy_shell: bool = False
    # /usr/bin/sudo is not executable.
    broken_sudo: bool = False
    # A broken host: its sh is busybox ash, /dev/zero and a 4 GiB sparse file stand in
    # for two /proc/sys files, and its account files and login.defs carry GBK, Latin-1
    # and binary bytes (a GBK-named account has an empty password).
    hostile_output: bool = False
    # Executable scripts bind-mounted over host paths (a sudo that hangs, a tool that floods).
    replace_files: dict[str, str] = field(default_factory=dict)
    # The auditor's login shell, as script text (a shell that kills itself after the command).
    login_shell: str = ""
    # The host forwards TCP for its logins (a jump host).
    forwarding: bool = False


@dataclass
class Host:
    spec: HostSpec
    directory: Path
    log: Path
    host_pub: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def address(self) -> str:
        return self.spec.address

    @property
    def port(self) -> int:
        return self.spec.port

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


HOSTS = (
    HostSpec("alpha", "127.0.1.11", 2211),
    HostSpec("bravo", "127.0.1.12", 2212,
             {"PermitRootLogin": "yes", "X11Forwarding": "yes", "MaxAuthTries": "6",
              "Banner": "none"},
             extra_passwd="toor:x:0:0:second root:/root:/bin/sh\n", pass_max_days=99999),
    HostSpec("charlie", "127.0.1.13", 2213, {"PermitRootLogin": "prohibit-password"}),
    HostSpec("delta", "127.0.1.14", 2214, sudoers="auditor ALL=(root) ALL\n"),
    HostSpec("echo", "127.0.1.15", 2215),
    HostSpec("hidden", "127.0.1.16", 2216, {"X11Forwarding": "yes"}),
    HostSpec("jumpbox", "127.0.1.17", 2217),
    HostSpec("foxtrot", "127.0.1.20", 2220, noisy_shell=True),
    HostSpec("golf", "127.0.1.21", 2221, hostile_output=True),
    HostSpec("hotel", "127.0.1.22", 2222, broken_sudo=True),
)
GBK_USER = "用户".encode("gbk")
LATIN1_USER = "josé".encode("latin-1")
CLOSED = ("closed", "127.0.1.18", 2218)
TARPIT = ("tarpit", "127.0.1.19", 2219)


class FleetUnavailable(Exception):
    """The machine cannot run the fleet (not root, a tool missing, unshare refused)."""


def check_requirements() -> None:
    if os.geteuid() != 0:
        raise FleetUnavailable("the sshd fleet needs root (unshare --mount and bind mounts)")
    if not os.access(SSHD, os.X_OK):
        raise FleetUnavailable(f"{SSHD} missing: install Debian's openssh-server")
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]
    if missing:
        raise FleetUnavailable(f"missing tools for the sshd fleet: {', '.join(missing)}")
    probe = subprocess.run(["unshare", "--mount", "--uts", "--net", "true"],
                           capture_output=True, check=False)
    if probe.returncode != 0:
        raise FleetUnavailable("unshare --mount --uts --net is not permitted here: "
                               + probe.stderr.decode(errors="replace").strip())


def _keygen(path: Path, passphrase: str = "") -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", path.name,
                    "-f", str(path)], check=True)


NOISY_SHELL = """#!/bin/sh
echo "Welcome to foxtrot. Authorised use only."
echo "CIIM00000000000000000000000000000000 E 0 0"
echo "Last login: Mon Jan  5 09:00:00 2026 from 10.0.0.1" >&2
exec /bin/sh "$@"
"""


def _passwd(spec: HostSpec, auditor_shell: str = "/bin/sh") -> str:
    return ("root:x:0:0:root:/root:/bin/bash\n"
            "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
            "sshd:x:102:65534::/run/sshd:/usr/sbin/nologin\n"
            "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
            f"auditor:x:1500:1500:auditor:/home/auditor:{auditor_shell}\n" + spec.extra_passwd)


def sha512_crypt(password: str, salt: str) -> str:
    """A real /etc/shadow hash of ``password`` (so the planted secret is the genuine article)."""
    return subprocess.run(["openssl", "passwd", "-6", "-salt", salt, "-stdin"],
                          input=password, capture_output=True, text=True,
                          check=True).stdout.strip()


def _shadow(spec: HostSpec, auditor_hash: str) -> str:
    toor = "toor:*:20000:0:99999:7:::\n" if spec.extra_passwd else ""
    return ("root:*:20000:0:99999:7:::\n"
            "daemon:*:20000:0:99999:7:::\n"
            "sshd:!:20000::::::\n"
            "nobody:*:20000:0:99999:7:::\n"
            f"auditor:{auditor_hash}:20000:0:90:7:::\n" + toor)


class Fleet:
    """Builds, starts and stops the fleet; every process it starts is tracked and killed."""

    def __init__(self, base: Path, specs: tuple[HostSpec, ...] = HOSTS,
                 tarpit: bool = True) -> None:
        self.base = base
        self.specs = specs
        self.with_tarpit = tarpit
        self.hosts: dict[str, Host] = {}
        self.client_key = base / CLIENT_KEY
        self.locked_key = base / LOCKED_KEY
        self.known_hosts = base / "known_hosts"
        self.home = base / "scanner-home"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._listeners: list[socket.socket] = []
        self._held: list[socket.socket] = []
        self._jump_processes: list[subprocess.Popen[bytes]] = []
        self._namespaces: set[str] = set()
        self.echo_old_pub: Path = base / "echo-old-key.pub"
        self.auditor_hash = ""

    # -- layout

    def build(self) -> None:
        self.base.chmod(0o755)
        self.auditor_hash = sha512_crypt(AUDITOR_PASSWORD, AUDITOR_SALT)
        (self.home / ".ssh").mkdir(parents=True)
        (self.base / "home" / "auditor").mkdir(parents=True)
        (self.base / "home").chmod(0o755)
        _keygen(self.client_key)
        _keygen(self.locked_key, LOCKED_KEY_PASSPHRASE)
        keys_dir = self.base / "authorized_keys"
        keys_dir.mkdir(mode=0o755)
        authorized = (self.client_key.with_suffix(".pub").read_text()
                      + (self.base / f"{LOCKED_KEY}.pub").read_text())
        for user in ("root", "auditor"):
            (keys_dir / user).write_text(authorized)
            (keys_dir / user).chmod(0o644)
        known_lines = []
        for spec in self.specs:
            host = self._build_host(spec)
            self.hosts[spec.name] = host
            pub = host.host_pub
            if spec.name == "echo":  # known_hosts holds an older key than the one served
                _keygen(self.base / "echo-old-key")
                pub = self.echo_old_pub
            key_type, key_b64 = pub.read_text().split()[:2]
            name = f"[{spec.address}]:{spec.port}"
            if spec.name in ("alpha", "hidden"):  # hashed entries, as HashKnownHosts writes
                name = paramiko.HostKeys.hash_host(name)
            known_lines.append(f"{name} {key_type} {key_b64}\n")
        self.known_hosts.write_text("".join(known_lines))

    def _build_host(self, spec: HostSpec) -> Host:
        directory = self.base / spec.name
        etc = directory / "etc"
        (etc / "sudoers.d").mkdir(parents=True)
        host_key = directory / "ssh_host_ed25519_key"
        _keygen(host_key)
        settings = {**BASE_SSHD_SETTINGS, **spec.sshd_settings}
        serving = [
            f"ListenAddress {spec.address}:{spec.port}",
            f"HostKey {host_key}",
            "PidFile none",
            f"AuthorizedKeysFile {self.base}/authorized_keys/%u",
            "StrictModes no",
            "UsePAM no",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PrintMotd no",
            "LogLevel DEBUG1",
            "MaxStartups 200",
        ]
        if spec.name == "jumpbox":
            hidden = next(h for h in HOSTS if h.name == "hidden")
            serving += ["AllowTcpForwarding yes", f"PermitOpen {hidden.address}:{hidden.port}"]
        else:
            serving += [f"AllowTcpForwarding {'yes' if spec.forwarding else 'no'}"]
        config = [f"{k} {v}" for k, v in settings.items()] + serving
        (etc / "sshd_config").write_text(
            "# fleet fixture: the config this host's sshd serves from and sshd -T reports\n"
            + "\n".join(config) + "\n")
        login_defs = Path("/etc/login.defs").read_text(encoding="utf-8", errors="replace")
        login_defs = "\n".join(ln for ln in login_defs.splitlines()
                               if not ln.startswith("PASS_MAX_DAYS"))
        (etc / "login.defs").write_text(login_defs + f"\nPASS_MAX_DAYS\t{spec.pass_max_days}\n")
        shell = "/bin/sh"
        if spec.noisy_shell:
            noisy = directory / "noisy-shell"
            noisy.write_text(NOISY_SHELL)
            noisy.chmod(0o755)
            shell = str(noisy)
        if spec.login_shell:
            shell = str(directory / "login-shell")
            Path(shell).write_text(spec.login_shell)
            Path(shell).chmod(0o755)
        for number, text in enumerate(spec.replace_files.values()):
            (directory / f"replaced-{number}").write_text(text)
            (directory / f"replaced-{number}").chmod(0o755)
        if spec.broken_sudo:
            (directory / "not-sudo").write_text("not an executable\n")
        (etc / "passwd").write_text(_passwd(spec, shell))
        (etc / "shadow").write_text(_shadow(spec, self.auditor_hash))
        if spec.hostile_output:
            with (etc / "passwd").open("ab") as passwd:
                passwd.write(GBK_USER + b":x:1600:1600:\xd6\xd0\xce\xc4:/home/u:/bin/sh\n"
                             + LATIN1_USER + b":x:1601:1601::/home/j:/bin/sh\n"
                             + b"\x00\x01\xff\xfe binary junk \x00\n")
            with (etc / "shadow").open("ab") as shadow:
                shadow.write(GBK_USER + b"::20000:0:90:7:::\n"
                             + LATIN1_USER + b":!:20000:0:90:7:::\n\x00\xff\n")
            with (etc / "login.defs").open("ab") as defs:
                defs.write("# 密码最长使用期限 PASS_MAX_DAYS 99999\n".encode("gbk")
                           + b"# caf\xe9 PASS_MAX_DAYS 99999\n\x00\x00\xff\n")
            with (directory / "huge").open("wb") as huge:
                huge.truncate(4 * 1024**3)  # 4 GiB of NUL bytes, no disk used
        (etc / "shadow").chmod(0o640)
        (etc / "group").write_text("root:x:0:\ndaemon:x:1:\nshadow:x:42:\nnogroup:x:65534:\n"
                                   "auditor:x:1500:\n")
        (etc / "hosts").write_text(f"127.0.0.1 localhost\n{spec.address} {spec.name}\n")
        rule = etc / "sudoers.d" / "auditor"
        rule.write_text(spec.sudoers)
        rule.chmod(0o440)
        return Host(spec, directory, directory / "sshd.log", host_key.with_suffix(".pub"))

    def _namespace_script(self, host: Host, final: str, net: bool = False) -> str:
        etc = host.directory / "etc"
        mounts = [("sshd_config", "/etc/ssh/sshd_config"), ("login.defs", "/etc/login.defs"),
                  ("passwd", "/etc/passwd"), ("shadow", "/etc/shadow"), ("group", "/etc/group"),
                  ("hosts", "/etc/hosts"), ("sudoers.d", "/etc/sudoers.d")]
        # sshd's privilege separation directory: made at boot by the package's tmpfiles or
        # init script, which a machine without systemd (or a fresh /run) has not run
        lines = ["set -e", "mkdir -p /run/sshd"]
        if net:
            lines.append("ip link set lo up")
        lines.append(f"hostname {host.name}")
        lines += [f"mount --bind {etc / src} {dst}" for src, dst in mounts]
        if host.spec.broken_sudo:
            lines.append(f"mount --bind {host.directory / 'not-sudo'} /usr/bin/sudo")
        lines += [f"mount --bind {host.directory / f'replaced-{number}'} {os.path.realpath(path)}"
                  for number, path in enumerate(host.spec.replace_files)]
        if host.spec.hostile_output:
            lines += [f"mount --bind /usr/bin/busybox {os.path.realpath('/bin/sh')}",
                      "mount --bind /dev/zero /proc/sys/kernel/randomize_va_space",
                      f"mount --bind {host.directory / 'huge'} "
                      "/proc/sys/net/ipv4/conf/all/forwarding"]
        lines.append(final)
        return "\n".join(lines)

    # -- processes

    def start(self) -> None:
        # The ssh probe takes a config file changed less than its slack before the
        # daemon's start as changed after it (the start time is known to ~10 ms): start
        # the daemons well after their files were written, as on a real host.
        time.sleep(max(0.3, 4 * _START_SLACK_S))
        hidden = self.hosts.get("hidden")
        jumpbox = self.hosts.get("jumpbox")
        for host in self.hosts.values():
            if host is jumpbox:
                continue
            script = self._namespace_script(
                host, f"exec {SSHD} -D -e",
                net=host is hidden)
            # a process table of its own, as a real host has: the ssh probe asks every
            # running sshd it sees, and must not see the other hosts' session daemons
            flags = ["--mount", "--uts", "--pid", "--fork", "--mount-proc"] + (
                ["--net"] if host is hidden else [])
            with host.log.open("ab") as log:
                host.process = subprocess.Popen(
                    ["unshare", *flags, "sh", "-c", script], stdin=subprocess.DEVNULL,
                    stdout=log, stderr=log, start_new_session=True)
            self._remember_namespace(host.process.pid)
        for host in self.hosts.values():
            if host is not jumpbox and host is not hidden:
                self._wait_for_banner(host)
        if hidden is not None:
            self._wait_for_log(hidden, "Server listening on")
            if jumpbox is not None:
                self._start_jumpbox(jumpbox, hidden)
        if self.with_tarpit:
            self._start_tarpit()

    def _remember_namespace(self, pid: int) -> None:
        for _ in range(50):
            with contextlib.suppress(OSError):
                mine = os.readlink("/proc/self/ns/mnt")
                theirs = os.readlink(f"/proc/{pid}/ns/mnt")
                if theirs != mine:
                    self._namespaces.add(theirs)
                    return
            time.sleep(0.05)

    def _wait_for_banner(self, host: Host) -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(
                    (host.address, host.port), timeout=2) as sock:
                if sock.recv(4).startswith(b"SSH-"):
                    return
            time.sleep(0.05)
        raise RuntimeError(f"sshd for {host.name} did not start; log:\n{host.log_text()}")

    def _wait_for_log(self, host: Host, text: str) -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if host.log.exists() and text in host.log_text():
                return
            time.sleep(0.05)
        raise RuntimeError(f"sshd for {host.name} did not start; log:\n{host.log_text()}")

    def _start_jumpbox(self, jump: Host, hidden: Host) -> None:
        assert hidden.process is not None
        listener = socket.create_server((jump.address, jump.port), backlog=64)
        listener.settimeout(0.2)
        self._listeners.append(listener)
        script = self._namespace_script(
            jump, f"exec {SSHD} -i -e")
        command = ["nsenter", f"--net=/proc/{hidden.process.pid}/ns/net",
                   "unshare", "--mount", "--uts", "sh", "-c", script]

        def accept_loop() -> None:
            while not self._stop.is_set():
                try:
                    conn, _ = listener.accept()
                except (TimeoutError, OSError):
                    continue
                with conn, jump.log.open("ab") as log:
                    conn.setblocking(True)
                    process = subprocess.Popen(command, stdin=conn.fileno(),
                                               stdout=conn.fileno(), stderr=log,
                                               start_new_session=True)
                self._jump_processes.append(process)
                self._remember_namespace(process.pid)

        self._spawn(accept_loop)

    def _start_tarpit(self) -> None:
        listener = socket.create_server((TARPIT[1], TARPIT[2]), backlog=64)
        listener.settimeout(0.2)
        self._listeners.append(listener)

        def accept_loop() -> None:
            while not self._stop.is_set():
                try:
                    conn, _ = listener.accept()
                except (TimeoutError, OSError):
                    continue
                self._held.append(conn)  # accepted, never answered

        self._spawn(accept_loop)

    def _spawn(self, loop: Callable[[], None]) -> None:
        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        """Kill every process the fleet started and every process left in its namespaces."""
        self._stop.set()
        for sock in self._listeners + self._held:
            with contextlib.suppress(OSError):
                sock.close()
        processes = [h.process for h in self.hosts.values() if h.process is not None]
        processes += self._jump_processes
        for process in processes:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        for process in processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)
        self._kill_namespace_leftovers()
        for thread in self._threads:
            thread.join(timeout=2)

    def _kill_namespace_leftovers(self) -> None:
        if not self._namespaces:
            return
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                if os.readlink(entry / "ns" / "mnt") in self._namespaces:
                    os.kill(int(entry.name), signal.SIGKILL)

    # -- what tests use

    def fingerprint(self, name: str) -> str:
        """The host key fingerprint as OpenSSH's ssh-keygen computes it."""
        out = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f",
                              str(self.hosts[name].host_pub)],
                             capture_output=True, text=True, check=True).stdout
        return out.split()[1]

    def env(self) -> dict[str, str]:
        """Environment for a scanner process: a clean HOME, no agent."""
        env = {k: v for k, v in os.environ.items()
               if k not in ("SSH_AUTH_SOCK", "CII_SCAN_IDENTITY_PASSPHRASE")}
        env["HOME"] = str(self.home)
        return env

    def inventory_yaml(self, names: list[str] | None = None) -> str:
        entries = []
        for spec in HOSTS:
            jump = ", jump: auditor@127.0.1.17:2217" if spec.name == "hidden" else ""
            entry = f"  - {{name: {spec.name}, address: {spec.address}, port: {spec.port}{jump}}}"
            entries.append((spec.name, entry))
        for name, address, port in (CLOSED, TARPIT):
            entries.append((name, f"  - {{name: {name}, address: {address}, port: {port}}}"))
        chosen = names or [name for name, _ in entries]
        by_name = dict(entries)
        return ("defaults: {user: auditor, sudo: true}\nhosts:\n"
                + "\n".join(by_name[n] for n in chosen) + "\n")


@contextlib.contextmanager
def running_fleet(specs: tuple[HostSpec, ...] = HOSTS, tarpit: bool = True) -> Iterator[Fleet]:
    """A started fleet, always torn down (processes killed, files removed) afterwards."""
    base = Path(tempfile.mkdtemp(prefix="cii-fleet-"))
    fleet = Fleet(base, specs, tarpit)
    try:
        fleet.build()
        fleet.start()
        yield fleet
    finally:
        fleet.stop()
        shutil.rmtree(base, ignore_errors=True)
