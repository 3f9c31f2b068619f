"""Run the collector over SSH with paramiko: one connection and ONE exec channel per host.

The host key is verified right after key exchange, before any authentication:
a changed key (or, without ``--accept-new-hostkeys``, an unknown one) ends the
connection there, so no credential is offered and no command is sent. The
script travels on stdin to ``sh -s`` (or ``sudo -n -- sh -s``: never a password
prompt, never a tty). Connect, authentication and collection all share one
per-host budget; output is bounded. Secrets (passphrases, key material) never
appear in a reason or a log line.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import fcntl
import getpass
import hashlib
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import paramiko

from scanner.errors import InputError
from scanner.inventory import Target, parse_target
from scanner.lines import split_lines
from scanner.probes._common import first_line
from scanner.transport import HostStatus, RunResult, TransportError

DEFAULT_PORT = 22
STDERR_TAIL_BYTES = 2000
DEFAULT_KEY_NAMES = ("id_ed25519", "id_ecdsa", "id_rsa")
PASSPHRASE_ENV = "CII_SCAN_IDENTITY_PASSPHRASE"  # noqa: S105 (a variable name)
MAX_JUMP_HOPS = 4
READ_SLICE_S = 0.25
# The collector needs nothing else: the command line is fixed text, no argument is
# interpolated into it.
COMMAND = "sh -s"
SUDO_COMMAND = "sudo -n -- sh -s"
_RSA_ALGORITHMS = ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa")

# paramiko's transport thread logs handshake failures with tracebacks; each is already
# reported as the host's one-line reason, so they are kept off the terminal.
logging.getLogger("paramiko").addHandler(logging.NullHandler())


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's ``SHA256:<base64 without padding>`` fingerprint (43 characters)."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def known_hosts_name(address: str, port: int) -> str:
    """The name known_hosts files use: ``host`` on port 22, ``[host]:port`` otherwise."""
    return address if port == DEFAULT_PORT else f"[{address}]:{port}"


class KnownHosts:
    """Strict host-key verification against one known_hosts file.

    Hashed (``|1|``) and ``[host]:port`` entries are understood (paramiko's
    HostKeys does the matching). Unknown hosts are refused unless
    ``accept_new`` (trust on first use), which records the key in the file; a
    key that differs from a recorded one is always refused.
    """

    def __init__(self, path: Path, accept_new: bool) -> None:
        self.path = path
        self.accept_new = accept_new
        self._lock = threading.Lock()
        self._keys = paramiko.HostKeys()
        self._revoked: set[str] = set()
        if path.exists():
            self._load(path)

    def _load(self, path: Path) -> None:
        """Read entries line by line: a damaged line is an error naming it, ``@revoked``
        keys are refused for every host, ``@cert-authority`` lines are not used."""
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise InputError(str(path), f"cannot read known_hosts: {exc.strerror or exc}"
                             ) from None
        for number, raw in enumerate(split_lines(text), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            fields = line.split()
            if fields[0] == "@revoked":
                if len(fields) >= 4:
                    self._revoked.add(fields[3])
                continue
            if fields[0].startswith("@"):
                continue
            try:
                entry = paramiko.hostkeys.HostKeyEntry.from_line(line, number)
            except (paramiko.hostkeys.InvalidHostKey, paramiko.SSHException, ValueError):
                raise InputError(str(path), "damaged known_hosts entry", number) from None
            if entry is None or entry.key is None:
                continue  # a key type paramiko does not know; it can never match
            for hostname in entry.hostnames:
                self._keys.add(hostname, entry.key.get_name(), entry.key)

    def algorithms_for(self, name: str) -> list[str]:
        """Host key algorithms to ask for: those recorded for ``name`` (all when unknown)."""
        with self._lock:
            found = self._keys.lookup(name)
        if not found:
            return []
        algorithms: list[str] = []
        for key_type in list(found):
            algorithms.extend(_RSA_ALGORITHMS if key_type == "ssh-rsa" else (key_type,))
        return algorithms

    def verify(self, name: str, key: paramiko.PKey) -> None:
        """Return if ``key`` is the recorded key of ``name`` (or newly trusted); else raise."""
        presented = fingerprint(key)
        if key.get_base64() in self._revoked:
            raise TransportError("hostkey_mismatch", f"host key for {name} ({presented}) is "
                                 f"marked @revoked in {self.path}; refused, nothing was sent")
        with self._lock:
            recorded = self._keys.lookup(name)
            if recorded:
                if self._keys.check(name, key):
                    return
                raise TransportError(
                    "hostkey_mismatch",
                    f"host key for {name} is {presented}, which differs from the key recorded "
                    f"in {self.path}; refused (possible man-in-the-middle), nothing was sent")
            if not self.accept_new:
                raise TransportError(
                    "error",
                    f"host key for {name} ({presented}) is not in {self.path}; verify it and "
                    "add it, or scan with --accept-new-hostkeys to trust on first use")
            self._record(name, key)

    def _record(self, name: str, key: paramiko.PKey) -> None:
        line = f"{name} {key.get_name()} {key.get_base64()}\n"
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(descriptor, "a", encoding="ascii") as handle:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise TransportError("error", f"cannot record the new host key in {self.path}: "
                                 f"{exc.strerror or exc}") from None
        self._keys.add(name, key.get_name(), key)


@dataclass(frozen=True)
class LoadedKey:
    path: str
    key: paramiko.PKey | None
    problem: str = ""  # why it could not be used (never contains the passphrase)


class Identities:
    """Private keys read once per run and shared by every host's connection."""

    def __init__(self, passphrase: str | None) -> None:
        self._passphrase = passphrase
        self._lock = threading.Lock()
        self._cache: dict[str, LoadedKey] = {}

    def load(self, path: Path) -> LoadedKey:
        resolved = str(path.expanduser())
        with self._lock:
            if resolved not in self._cache:
                self._cache[resolved] = self._read(resolved)
            return self._cache[resolved]

    def _read(self, path: str) -> LoadedKey:
        encrypted = f"{path} is encrypted: load it into ssh-agent or set {PASSPHRASE_ENV}"
        secret = self._passphrase.encode("utf-8") if self._passphrase else None
        try:
            # cryptography wants bytes here; types-paramiko says str.
            key = paramiko.PKey.from_path(path, secret)  # type: ignore[arg-type]
        except paramiko.PasswordRequiredException:
            return LoadedKey(path, None, encrypted)
        except TypeError:  # cryptography: "password-protected, but password was not provided"
            return LoadedKey(path, None, encrypted)
        except (ValueError, paramiko.SSHException):
            if secret is not None:
                return LoadedKey(path, None, f"{path}: cannot decrypt it (wrong passphrase in "
                                 f"{PASSPHRASE_ENV}?) or it is not a private key")
            return LoadedKey(path, None, f"{path}: not a usable private key")
        except OSError as exc:
            return LoadedKey(path, None, f"{path}: {exc.strerror or 'cannot read'}")
        return LoadedKey(path, key)


@dataclass(frozen=True)
class SshSettings:
    """What every host's connection shares in one run."""

    known_hosts: KnownHosts
    identities: Identities
    identity_files: tuple[Path, ...] = ()
    ssh_config: paramiko.SSHConfig | None = None
    use_agent: bool = True
    timeout_s: float = 120.0
    max_output_bytes: int = 16 * 1024 * 1024
    default_user: str = field(default_factory=lambda: _current_user())


def _current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "root"


def load_ssh_config(path: Path | None) -> paramiko.SSHConfig | None:
    """``~/.ssh/config`` (or ``path``) parsed by paramiko; None when there is none."""
    config_path = path or Path("~/.ssh/config").expanduser()
    if not config_path.is_file():
        if path is not None:
            raise InputError(str(path), "ssh config file not found")
        return None
    try:
        return paramiko.SSHConfig.from_path(str(config_path))
    except (OSError, paramiko.SSHException, ValueError) as exc:
        raise InputError(str(config_path), f"cannot read ssh config: {first_line(str(exc))}"
                         ) from None


@dataclass(frozen=True)
class Endpoint:
    """Where and as whom to connect, after ~/.ssh/config is applied."""

    label: str
    address: str
    port: int
    user: str
    identity_files: tuple[Path, ...] = ()
    jump: Endpoint | None = None


def resolve_endpoint(target: Target, settings: SshSettings, depth: int = 0) -> Endpoint:
    """Apply ~/.ssh/config (HostName, Port, User, IdentityFile, ProxyJump) under explicit
    values: the target's own settings win, the config fills the rest."""
    config: dict[str, object] = {}
    if settings.ssh_config is not None:
        config = dict(settings.ssh_config.lookup(target.address))
    address = str(config.get("hostname") or target.address)
    port = target.port or _to_port(config.get("port")) or DEFAULT_PORT
    user = target.user or str(config.get("user") or settings.default_user)
    files_value = config.get("identityfile") or []
    files = tuple(Path(str(f)).expanduser()
                  for f in (files_value if isinstance(files_value, list) else [files_value]))
    jump_spec = target.jump or str(config.get("proxyjump") or "") or None
    jump: Endpoint | None = None
    if jump_spec and jump_spec.lower() != "none":
        if depth >= MAX_JUMP_HOPS:
            raise InputError("--jump", f"more than {MAX_JUMP_HOPS} jump hops for {target.name}")
        hops = [h.strip() for h in jump_spec.split(",") if h.strip()]
        for hop in hops:
            hop_target = parse_target(hop, "--jump" if target.jump else "ssh config ProxyJump")
            resolved = resolve_endpoint(hop_target, settings, depth + 1)
            jump = _chain(resolved, jump)
    return Endpoint(label=target.name, address=address, port=port, user=user,
                    identity_files=files, jump=jump)


def _chain(endpoint: Endpoint, before: Endpoint | None) -> Endpoint:
    """``endpoint`` reached through ``before`` (the hops of ProxyJump a,b in order)."""
    if before is None:
        return endpoint
    inner = endpoint.jump
    return Endpoint(endpoint.label, endpoint.address, endpoint.port, endpoint.user,
                    endpoint.identity_files, _chain(inner, before) if inner else before)


def _to_port(value: object) -> int | None:
    try:
        port = int(str(value))
    except (TypeError, ValueError):
        return None
    return port if 1 <= port <= 65535 else None


class SshTransport:
    """One host over SSH. ``run`` opens, verifies, authenticates, runs the script, closes."""

    name = "ssh"

    def __init__(self, target: Target, settings: SshSettings) -> None:
        self.target = target
        self.settings = settings
        self.endpoint = resolve_endpoint(target, settings)
        self.sudo = bool(target.sudo)
        self._opened: list[paramiko.Transport | socket.socket | paramiko.Channel] = []
        self._cancelled = threading.Event()
        self._deadline = 0.0

    # -- public

    @property
    def script_budget_s(self) -> float:
        """The host budget handed to the script: --timeout less room for connecting,
        authenticating and sending the script and the last output."""
        timeout = self.settings.timeout_s
        return max(1.0, timeout - max(3.0, timeout * 0.15))

    def run(self, script: str) -> RunResult:
        with self.connected() as (transport, host_fingerprint):
            stdout, stderr, status, cut = self.execute_partial(transport, script.encode("utf-8"))
        if self.sudo and status not in (0, None) and not stdout.strip():
            sudo_lines = [ln.strip() for ln in split_lines(stderr) if "sudo" in ln.lower()]
            why = (sudo_lines[-1][:200] if sudo_lines else first_line(stderr)) or \
                f"exit status {status}"
            raise TransportError("error", f"sudo -n could not run the collector: {why}")
        return RunResult(stdout=stdout, exit_status=status, stderr_tail=stderr,
                         hostkey_fingerprint=host_fingerprint,
                         cut=None if cut is None else cut[1],
                         cut_status="error" if cut is None else cut[0])

    @contextlib.contextmanager
    def connected(self) -> Iterator[tuple[paramiko.Transport, str]]:
        """An authenticated connection (host key verified first) and the key's fingerprint.

        The per-host budget starts here; every failure inside, including in the
        caller's block, comes out as a TransportError; everything is closed after.
        """
        self._deadline = time.monotonic() + self.settings.timeout_s
        try:
            yield self._open(self.endpoint)
        except TransportError as exc:
            if self._cancelled.is_set() and exc.status != "hostkey_mismatch":
                raise self._budget_error() from None
            raise
        except TimeoutError:
            raise self._budget_error() from None
        except (paramiko.SSHException, EOFError, OSError) as exc:
            if self._cancelled.is_set() or self._remaining() <= 0:
                raise self._budget_error() from None
            raise TransportError("error", f"SSH session failed: {_one_line(exc)}") from None
        finally:
            self.close()

    def cancel(self) -> None:
        """Abandon the host (budget spent, or the run is stopping): close every socket."""
        self._cancelled.set()
        self.close()

    def close(self) -> None:
        opened, self._opened = self._opened, []
        for item in reversed(opened):
            with contextlib.suppress(Exception):
                item.close()

    # -- connection

    def _remaining(self) -> float:
        return self._deadline - time.monotonic()

    def _budget_error(self) -> TransportError:
        return TransportError("timeout", f"no result within the {self.settings.timeout_s:g} s "
                              "per-host budget (connect, authentication and collection)")

    def _check_budget(self) -> float:
        remaining = self._remaining()
        if remaining <= 0 or self._cancelled.is_set():
            raise self._budget_error()
        return remaining

    def _open(self, endpoint: Endpoint) -> tuple[paramiko.Transport, str]:
        if endpoint.jump is not None:
            try:
                jump_transport, _ = self._open(endpoint.jump)
            except TransportError as exc:
                raise TransportError(exc.status,
                                     f"jump host {endpoint.jump.label}: {exc.reason}") from None
            sock: socket.socket | paramiko.Channel = self._through_jump(jump_transport, endpoint)
        else:
            sock = self._connect(endpoint)
        transport = paramiko.Transport(sock)
        self._opened.append(transport)
        remaining = self._check_budget()
        transport.banner_timeout = remaining
        transport.handshake_timeout = remaining
        transport.auth_timeout = remaining
        name = known_hosts_name(endpoint.address, endpoint.port)
        wanted = self.settings.known_hosts.algorithms_for(name)
        if wanted:
            options = transport.get_security_options()
            supported = [a for a in wanted if a in options.key_types]
            if supported:
                options.key_types = supported
        try:
            transport.start_client(timeout=remaining)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            if self._remaining() <= 0 or self._cancelled.is_set():
                raise TransportError(
                    "timeout", f"{endpoint.address}:{endpoint.port} accepted TCP but completed "
                    f"no SSH handshake within the {self.settings.timeout_s:g} s budget"
                ) from None
            text = _one_line(exc)
            if wanted and "host key" in text.lower():
                raise TransportError(
                    "hostkey_mismatch", f"{name} offers none of the host key types recorded "
                    "for it in known_hosts; refused, nothing was sent") from None
            raise TransportError("error", f"SSH handshake with {name} failed: {text}") from None
        key = transport.get_remote_server_key()
        host_fingerprint = fingerprint(key)
        self.settings.known_hosts.verify(name, key)
        self._authenticate(transport, endpoint)
        return transport, host_fingerprint

    def _connect(self, endpoint: Endpoint) -> socket.socket:
        remaining = self._check_budget()
        where = f"{endpoint.address}:{endpoint.port}"
        try:
            sock = socket.create_connection((endpoint.address, endpoint.port),
                                            timeout=remaining)
        except socket.gaierror as exc:
            raise TransportError("unreachable", f"cannot resolve {endpoint.address}: "
                                 f"{exc.strerror or exc}") from None
        except ConnectionRefusedError:
            raise TransportError("unreachable", f"connection refused by {where}") from None
        except TimeoutError:
            raise TransportError("timeout", f"no TCP answer from {where} within "
                                 f"{self.settings.timeout_s:g} s") from None
        except OSError as exc:
            if exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EHOSTDOWN,
                             errno.EADDRNOTAVAIL):
                raise TransportError("unreachable", f"{where}: {exc.strerror}") from None
            raise TransportError("unreachable", f"cannot connect to {where}: "
                                 f"{exc.strerror or exc}") from None
        self._opened.append(sock)
        sock.settimeout(None)
        return sock

    def _through_jump(self, jump: paramiko.Transport, endpoint: Endpoint) -> paramiko.Channel:
        remaining = self._check_budget()
        where = f"{endpoint.address}:{endpoint.port}"
        try:
            channel = jump.open_channel("direct-tcpip", (endpoint.address, endpoint.port),
                                        ("127.0.0.1", 0), timeout=remaining)
        except paramiko.ChannelException as exc:
            raise TransportError("unreachable", f"the jump host could not open {where}: "
                                 f"{exc.text or exc.code}") from None
        except paramiko.SSHException as exc:
            if self._remaining() <= 0:
                raise self._budget_error() from None
            raise TransportError("unreachable", f"the jump host could not open {where}: "
                                 f"{_one_line(exc)}") from None
        self._opened.append(channel)
        return channel

    def _authenticate(self, transport: paramiko.Transport, endpoint: Endpoint) -> None:
        offered, problems = self._keys_for(endpoint)
        label = f"{endpoint.user}@{known_hosts_name(endpoint.address, endpoint.port)}"
        if not offered:
            detail = "; ".join(problems) or "give --identity FILE or start ssh-agent"
            raise TransportError("auth_failed", f"{label}: no usable key to offer ({detail})")
        for key in offered:
            self._check_budget()
            try:
                remaining_methods = transport.auth_publickey(endpoint.user, key)
            except paramiko.AuthenticationException:
                continue
            except (paramiko.SSHException, EOFError, OSError) as exc:
                if self._remaining() <= 0 or self._cancelled.is_set():
                    raise self._budget_error() from None
                raise TransportError("auth_failed", f"{label}: authentication aborted: "
                                     f"{_one_line(exc)}") from None
            if transport.is_authenticated():
                return
            raise TransportError("auth_failed", f"{label}: the server asks for more "
                                 f"authentication ({', '.join(remaining_methods)}); only "
                                 "public keys are used")
        extra = f"; {'; '.join(problems)}" if problems else ""
        raise TransportError("auth_failed", f"{label}: none of {len(offered)} offered key(s) "
                             f"was accepted{extra}")

    def _keys_for(self, endpoint: Endpoint) -> tuple[list[paramiko.PKey], list[str]]:
        keys: list[paramiko.PKey] = []
        problems: list[str] = []
        if self.settings.use_agent and os.environ.get("SSH_AUTH_SOCK"):
            with contextlib.suppress(paramiko.SSHException, OSError):
                keys.extend(paramiko.Agent().get_keys())
        paths = list(self.settings.identity_files) + list(endpoint.identity_files)
        if not paths and not keys:
            home = Path("~/.ssh").expanduser()
            paths = [home / n for n in DEFAULT_KEY_NAMES if (home / n).is_file()]
        seen: set[str] = set()
        for path in paths:
            loaded = self.settings.identities.load(path)
            if loaded.path in seen:
                continue
            seen.add(loaded.path)
            if loaded.key is None:
                problems.append(loaded.problem)
            else:
                keys.append(loaded.key)
        return keys, problems

    # -- the one exec

    def execute(self, transport: paramiko.Transport,
                script: bytes) -> tuple[bytes, str, int | None]:
        """One exec channel: ``script`` on stdin of ``sh -s``; (stdout, stderr tail, status).

        All or nothing: an output that was cut raises TransportError (see
        :meth:`execute_partial`, which :meth:`run` uses, for what arrived before)."""
        stdout, stderr, status, cut = self.execute_partial(transport, script)
        if cut is not None:
            raise TransportError(cut[0], cut[1])
        return stdout, stderr, status

    def execute_partial(self, transport: paramiko.Transport, script: bytes) -> tuple[
            bytes, str, int | None, tuple[HostStatus, str] | None]:
        """One exec channel: ``script`` on stdin of ``sh -s``.

        Returns (stdout, stderr tail, exit status, cut): once the channel has started,
        a budget spent, a cancel, a dropped connection or too much output end the read
        and return what arrived, with ``cut`` = (host status, why)."""
        channel = transport.open_session(timeout=self._check_budget())
        self._opened.append(channel)
        channel.exec_command(SUDO_COMMAND if self.sudo else COMMAND)
        channel.settimeout(self._check_budget())
        try:
            channel.sendall(script)
            channel.shutdown_write()
        except TimeoutError:
            raise
        except OSError:
            # The remote command ended before it read the whole script (sudo refusing,
            # a broken shell): what it printed and its exit status say why.
            pass
        chunks: list[bytes] = []
        stderr_box = [b""]
        cut = self._read_all(channel, chunks, stderr_box)
        status: int | None = None
        if cut is None:
            if not channel.status_event.wait(max(0.0, min(self._remaining(), 5.0))):
                cut = self._why_stopped() or ("error", "the channel closed without an exit "
                                              "status (output may be incomplete)")
            elif channel.exit_status_ready():
                status = channel.recv_exit_status()
                if status == -1:  # paramiko: the channel closed and no status came
                    status = None
                    cut = ("error", "the channel closed without an exit status")
        with contextlib.suppress(Exception):
            while channel.recv_stderr_ready():
                stderr_box[0] = (stderr_box[0] + channel.recv_stderr(65536))[-STDERR_TAIL_BYTES:]
        text = stderr_box[0].decode("utf-8", errors="replace").strip()
        return b"".join(chunks), text, status, cut

    def _why_stopped(self) -> tuple[HostStatus, str] | None:
        if self._cancelled.is_set():
            return ("timeout", f"cancelled: the {self.settings.timeout_s:g} s per-host budget "
                    "was spent or the run stopped")
        if self._remaining() <= 0:
            return ("timeout", f"per-host budget of {self.settings.timeout_s:g} s spent")
        return None

    def _read_all(self, channel: paramiko.Channel, chunks: list[bytes],
                  stderr_box: list[bytes]) -> tuple[HostStatus, str] | None:
        """Read stdout into ``chunks`` until EOF (None) or a reason to stop (the cut)."""
        limit = self.settings.max_output_bytes
        total = 0
        while True:
            stopped = self._why_stopped()
            if stopped is not None:
                return stopped
            channel.settimeout(min(READ_SLICE_S, self._remaining()))
            try:
                data = channel.recv(65536)
                while channel.recv_stderr_ready():
                    stderr_box[0] = (stderr_box[0]
                                     + channel.recv_stderr(65536))[-STDERR_TAIL_BYTES:]
            except TimeoutError:
                continue
            except (paramiko.SSHException, EOFError, OSError) as exc:
                return self._why_stopped() or ("error", "the connection dropped mid-output: "
                                               f"{_one_line(exc)}")
            if data == b"":
                if channel.exit_status_ready() and not self._cancelled.is_set():
                    return None
                if self._cancelled.is_set() or not transport_alive(channel):
                    return self._why_stopped() or ("error", "the connection dropped "
                                                   "mid-output")
                return None
            if total + len(data) > limit:  # keep exactly the bound, not the chunk past it
                chunks.append(data[:limit - total])
                return ("error", f"the host sent more than {limit} bytes of collector "
                        "output; the rest was refused")
            chunks.append(data)
            total += len(data)


def transport_alive(channel: paramiko.Channel) -> bool:
    """False when the SSH connection under ``channel`` has gone (reset, closed)."""
    transport = channel.get_transport()
    return transport is not None and transport.is_active()


def _one_line(exc: BaseException) -> str:
    return first_line(str(exc)) or type(exc).__name__


def make_settings(*, known_hosts: Path | None, accept_new: bool,
                  identity_files: Sequence[Path], timeout_s: float, max_output_bytes: int,
                  ssh_config: Path | None = None) -> SshSettings:
    """Settings for a run; the identity passphrase (if any) comes from the environment."""
    kh_path = known_hosts or Path("~/.ssh/known_hosts").expanduser()
    if known_hosts is not None and not known_hosts.exists() and not accept_new:
        raise InputError(str(known_hosts), "known_hosts file not found (give "
                         "--accept-new-hostkeys to create it by trusting first use)")
    for path in identity_files:
        if not path.expanduser().is_file():
            raise InputError(str(path), "identity file not found")
    return SshSettings(
        known_hosts=KnownHosts(kh_path, accept_new),
        identities=Identities(os.environ.get(PASSPHRASE_ENV)),
        identity_files=tuple(identity_files),
        ssh_config=load_ssh_config(ssh_config),
        timeout_s=timeout_s,
        max_output_bytes=max_output_bytes,
    )
