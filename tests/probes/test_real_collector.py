"""Every probe of the system, files, ssh, kernel, accounts, auth and access modules, for real.

The real snippets go through the real collector and LocalTransport on this
machine; each parse must be `ok`, or an error/absence that says why.
"""

from __future__ import annotations

import os

import pytest

from scanner.collect import collect
from scanner.facts import Facts, HostIdentity
from scanner.probes import ProbeCall
from scanner.transport.local import LocalTransport

CALLS = [
    ProbeCall.of("os"),
    ProbeCall.of("file", {"path": "/etc/passwd"}),
    ProbeCall.of("file", {"path": "/nonexistent/cii-scan-test"}),
    ProbeCall.of("sshd_effective"),
    ProbeCall.of("sysctl", {"name": "kernel.randomize_va_space"}),
    ProbeCall.of("sysctl", {"name": "net.ipv4.no_such_setting"}),
    ProbeCall.of("accounts"),
    ProbeCall.of("login_defs"),
    ProbeCall.of("pam"),
    ProbeCall.of("pwquality"),
    ProbeCall.of("faillock"),
    ProbeCall.of("shell_timeout"),
    ProbeCall.of("pam_module", {"service": "login", "type": "auth", "module": "pam_unix.so"}),
    ProbeCall.of("sudoers"),
    ProbeCall.of("identities"),
    ProbeCall.of("useradd_defaults"),
    ProbeCall.of("glob_stat", {"glob": "ssh_host_private_keys"}),
    ProbeCall.of("pwhistory"),
    ProbeCall.of("mac"),
    ProbeCall.of("shell_umask"),
]


@pytest.fixture(scope="module")
def facts() -> Facts:
    return collect(LocalTransport(), HostIdentity("local", "localhost"), CALLS)


def test_every_probe_parses_on_this_machine(facts: Facts) -> None:
    for call in CALLS:
        result = facts.results[call]
        if call.probe == "sshd_effective" and result.status != "ok":
            assert result.status == "absent" or "sshd" in (result.error or ""), result
            continue
        if call.probe == "sudoers" and result.status == "absent":
            continue  # sudo not installed
        if call.args.get("name") == "net.ipv4.no_such_setting":
            assert result.status == "absent"
            continue
        assert result.status == "ok", f"{call.key}: {result.error}"


def test_real_values_are_plausible(facts: Facts) -> None:
    def data(probe: str, args: dict[str, str] | None = None) -> dict:  # type: ignore[type-arg]
        result = facts.results[ProbeCall.of(probe, args)]
        assert result.data is not None
        return result.data  # type: ignore[no-any-return]

    assert data("os")["family"] == "debian"
    assert data("os")["uid"] == os.getuid()
    assert data("file", {"path": "/etc/passwd"})["owner"] == "root"
    assert data("file", {"path": "/nonexistent/cii-scan-test"}) == {"exists": False}
    assert data("sysctl", {"name": "kernel.randomize_va_space"})["value"] in ("0", "1", "2")
    assert any(user["uid"] == 0 for user in data("accounts")["users"])
    assert isinstance(data("login_defs")["settings"]["PASS_MAX_DAYS"], int)
    assert "login" in data("pam")["services"]
    assert data("pwquality")["service"] == "passwd"
    assert data("faillock")["mechanism"] in ("none", "faillock", "tally2")
    assert isinstance(data("shell_timeout")["tmout"], int)
    assert data("pam_module", {"service": "login", "type": "auth",
                               "module": "pam_unix.so"})["present"] is True
    assert data("identities")["user_count"] >= 1
    assert isinstance(data("useradd_defaults")["settings"]["INACTIVE"], int)
    assert data("shell_umask")["umask"].startswith("0")
    assert isinstance(data("pwhistory")["remember"], int)
