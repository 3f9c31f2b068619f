"""SSH transport pieces that need no sshd: fingerprints, known_hosts, ~/.ssh/config, keys,
and the failures a scanner meets before SSH even starts (closed port, tarpit)."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest

from scanner.errors import InputError
from scanner.inventory import Target
from scanner.transport import TransportError
from scanner.transport.ssh import (
    PASSPHRASE_ENV,
    Identities,
    KnownHosts,
    SshSettings,
    SshTransport,
    fingerprint,
    known_hosts_name,
    load_ssh_config,
    make_settings,
    resolve_endpoint,
)


def _need_keygen() -> None:
    if shutil.which("ssh-keygen") is None:
        reason = "ssh-keygen (Debian openssh-client) is not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


def _keygen(path: Path, passphrase: str = "") -> paramiko.PKey | None:
    _need_keygen()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-f", str(path)],
                   check=True)
    return None if passphrase else paramiko.PKey.from_path(str(path))


def _key(path: Path) -> paramiko.PKey:
    key = _keygen(path)
    assert key is not None
    return key


def test_fingerprint_is_openssh_sha256(tmp_path: Path) -> None:
    key = _key(tmp_path / "k")
    expected = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", str(tmp_path / "k")],
                              capture_output=True, text=True, check=True).stdout.split()[1]
    assert fingerprint(key) == expected
    assert len(expected) == len("SHA256:") + 43


def test_known_hosts_names() -> None:
    assert known_hosts_name("web1", 22) == "web1"
    assert known_hosts_name("10.0.0.1", 2222) == "[10.0.0.1]:2222"


def test_known_hosts_hashed_and_port_entries(tmp_path: Path) -> None:
    key_a = _key(tmp_path / "a")
    key_b = _key(tmp_path / "b")
    hashed = paramiko.HostKeys.hash_host("[10.0.0.1]:2222")
    (tmp_path / "kh").write_text(
        f"{hashed} {key_a.get_name()} {key_a.get_base64()}\n"
        f"web1 {key_b.get_name()} {key_b.get_base64()}\n")
    known = KnownHosts(tmp_path / "kh", accept_new=False)
    known.verify("[10.0.0.1]:2222", key_a)
    known.verify("web1", key_b)
    with pytest.raises(TransportError) as caught:
        known.verify("[10.0.0.1]:2222", key_b)
    assert caught.value.status == "hostkey_mismatch"
    assert fingerprint(key_b) in caught.value.reason
    with pytest.raises(TransportError) as unknown:
        known.verify("[10.0.0.1]:22", key_a)  # another port is another host
    assert unknown.value.status == "error"
    assert "--accept-new-hostkeys" in unknown.value.reason
    assert known.algorithms_for("web1") == ["ssh-ed25519"]
    assert known.algorithms_for("nowhere") == []


def test_revoked_key_is_refused_even_when_also_listed(tmp_path: Path) -> None:
    key = _key(tmp_path / "a")
    (tmp_path / "kh").write_text(f"web1 ssh-ed25519 {key.get_base64()}\n"
                                 f"@revoked * ssh-ed25519 {key.get_base64()}\n")
    with pytest.raises(TransportError) as caught:
        KnownHosts(tmp_path / "kh", accept_new=True).verify("web1", key)
    assert caught.value.status == "hostkey_mismatch"
    assert "@revoked" in caught.value.reason


def test_trust_on_first_use_records_and_then_refuses_a_change(tmp_path: Path) -> None:
    key_a = _key(tmp_path / "a")
    key_b = _key(tmp_path / "b")
    path = tmp_path / "dir" / "known_hosts"
    known = KnownHosts(path, accept_new=True)
    known.verify("[h]:2200", key_a)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    recorded = path.read_text()
    assert recorded == f"[h]:2200 ssh-ed25519 {key_a.get_base64()}\n"
    with pytest.raises(TransportError) as caught:
        known.verify("[h]:2200", key_b)
    assert caught.value.status == "hostkey_mismatch"
    # a later run reads what the first one recorded
    again = KnownHosts(path, accept_new=True)
    again.verify("[h]:2200", key_a)
    with pytest.raises(TransportError):
        again.verify("[h]:2200", key_b)
    assert path.read_text() == recorded


def _settings(tmp_path: Path, config: str = "", **kwargs: object) -> SshSettings:
    config_path = tmp_path / "ssh_config"
    config_path.write_text(config)
    return SshSettings(known_hosts=KnownHosts(tmp_path / "kh", accept_new=False),
                       identities=Identities(None), ssh_config=load_ssh_config(config_path),
                       default_user="scanner", **kwargs)  # type: ignore[arg-type]


SSH_CONFIG = """\
Host web1
    HostName 10.0.0.1
    User deploy
    Port 2222
    IdentityFile ~/.ssh/web_key
    ProxyJump bastion

Host bastion
    HostName 192.0.2.1
    User jumper

Host deep
    ProxyJump hopa,hopb:2200
"""


def test_ssh_config_fills_what_the_target_leaves_open(tmp_path: Path) -> None:
    settings = _settings(tmp_path, SSH_CONFIG)
    endpoint = resolve_endpoint(Target("web1", "web1"), settings)
    assert (endpoint.address, endpoint.port, endpoint.user) == ("10.0.0.1", 2222, "deploy")
    assert endpoint.identity_files == (Path("~/.ssh/web_key").expanduser(),)
    assert endpoint.jump is not None
    assert (endpoint.jump.address, endpoint.jump.port, endpoint.jump.user) == (
        "192.0.2.1", 22, "jumper")
    explicit = resolve_endpoint(Target("web1", "web1", port=22, user="root", jump="none"),
                                settings)
    assert (explicit.port, explicit.user, explicit.jump) == (22, "root", None)
    plain = resolve_endpoint(Target("other", "other"), settings)
    assert (plain.address, plain.port, plain.user, plain.jump) == ("other", 22, "scanner", None)


def test_proxyjump_chain_is_walked_in_order(tmp_path: Path) -> None:
    endpoint = resolve_endpoint(Target("deep", "deep"), _settings(tmp_path, SSH_CONFIG))
    hops = []
    current = endpoint.jump
    while current is not None:
        hops.append((current.address, current.port))
        current = current.jump
    # deep is reached through hopb, which is reached through hopa
    assert hops == [("hopb", 2200), ("hopa", 22)]


def test_encrypted_identity_reasons_never_carry_the_passphrase(tmp_path: Path) -> None:
    secret = "correct-horse-battery-42"
    _keygen(tmp_path / "locked", secret)
    missing = Identities(None).load(tmp_path / "locked")
    assert missing.key is None
    assert PASSPHRASE_ENV in missing.problem
    wrong = Identities("not-it").load(tmp_path / "locked")
    assert wrong.key is None
    assert "wrong passphrase" in wrong.problem
    assert PASSPHRASE_ENV in wrong.problem
    assert "not-it" not in wrong.problem
    right = Identities(secret).load(tmp_path / "locked")
    assert right.key is not None
    assert secret not in right.problem


def test_settings_refuse_missing_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="known_hosts file not found"):
        make_settings(known_hosts=tmp_path / "nope", accept_new=False, identity_files=[],
                      timeout_s=5, max_output_bytes=1000)
    with pytest.raises(InputError, match="identity file not found"):
        make_settings(known_hosts=None, accept_new=True, identity_files=[tmp_path / "nokey"],
                      timeout_s=5, max_output_bytes=1000)


def _free_port(address: str) -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        port: int = sock.getsockname()[1]
        return port


def test_closed_port_is_unreachable(tmp_path: Path) -> None:
    port = _free_port("127.0.0.1")
    transport = SshTransport(Target("closed", "127.0.0.1", port=port), _settings(tmp_path))
    with pytest.raises(TransportError) as caught:
        transport.run("true\n")
    assert caught.value.status == "unreachable"
    assert "refused" in caught.value.reason


@pytest.fixture
def tarpit() -> Iterator[int]:
    """A TCP server that accepts and never says a word."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.1)
    stop = threading.Event()
    held: list[socket.socket] = []

    def loop() -> None:
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(timeout=2)
    for sock in [server, *held]:
        sock.close()


def test_tarpit_is_a_timeout_within_the_budget(tmp_path: Path, tarpit: int) -> None:
    settings = _settings(tmp_path, timeout_s=1.5)
    transport = SshTransport(Target("tarpit", "127.0.0.1", port=tarpit), settings)
    with pytest.raises(TransportError) as caught:
        transport.run("true\n")
    assert caught.value.status == "timeout"
    assert "1.5 s" in caught.value.reason


def test_cancel_turns_a_hang_into_a_timeout(tmp_path: Path, tarpit: int) -> None:
    settings = _settings(tmp_path, timeout_s=60)
    transport = SshTransport(Target("tarpit", "127.0.0.1", port=tarpit), settings)
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            transport.run("true\n")
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(timeout=0.5)
    transport.cancel()
    worker.join(timeout=30)
    assert not worker.is_alive()
    assert isinstance(outcome[0], TransportError)
    assert outcome[0].status == "timeout"


def test_damaged_known_hosts_line_is_named(tmp_path: Path) -> None:
    (tmp_path / "kh").write_text("# comment\n\nweb1 ssh-ed25519 AAAA!!notbase64\n")
    with pytest.raises(InputError) as caught:
        KnownHosts(tmp_path / "kh", accept_new=False)
    assert caught.value.line == 3
