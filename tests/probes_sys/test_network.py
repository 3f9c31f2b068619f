"""Parsers of the packages, listening and firewall probes, on captured and hostile output."""

from __future__ import annotations

import pytest

from tests.conftest import interpret
from tests.probes_sys._helpers import captured, sec

# ---------------------------------------------------------------- packages


def test_dpkg_capture_lists_installed_packages_only() -> None:
    result = interpret("packages", captured("pkgs"))
    assert result.status == "ok"
    names = {p["name"]: p["version"] for p in result.data["packages"]}
    assert result.data["manager"] == "dpkg"
    assert result.data["count"] == len(names) > 800
    assert names["openssh-server"] == "1:9.2p1-2+deb12u10"
    # removed but not purged ("rc"): its config is there, the package is not
    assert "systemd-timesyncd" not in names


def test_rpm_lines_with_and_without_epoch() -> None:
    payload = sec("dpkg", "cii:missing") + sec(
        "rpm", "bash\t5.1.8-9.el9\ntelnet-server\t1:0.17-85.el9\n")
    result = interpret("packages", payload)
    assert result.status == "ok"
    assert result.data["manager"] == "rpm"
    assert {"name": "telnet-server", "version": "1:0.17-85.el9", "state": "installed",
            "configured": True} in result.data["packages"]


@pytest.mark.parametrize(("abbrev", "listed", "configured"), [
    ("ii ", True, True), ("it ", True, True), ("iW ", True, False), ("iU ", True, False),
    ("iF ", True, False), ("iH ", True, False), ("iHR", True, False), ("rc ", False, False),
    ("un ", False, False), ("pn ", False, False),
])
def test_dpkg_states(abbrev: str, listed: bool, configured: bool) -> None:
    """dpkg-query(1): every state but not-installed and config-files has files on disk;
    dpkg accepts only installed and triggers-pending for a dependency (packages.c)."""
    payload = sec("dpkg", f"ii \tbase-files\t12\n{abbrev}\ttelnetd\t0.17\n")
    found = [p for p in interpret("packages", payload).data["packages"] if p["name"] == "telnetd"]
    assert bool(found) is listed
    if found:
        assert found[0]["configured"] is configured


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "neither dpkg-query nor rpm"),
        (b"\x00\xff garbage \xfe", "neither dpkg-query nor rpm"),
        (sec("dpkg", "cii:missing") + sec("rpm", "cii:missing"), "neither dpkg-query nor rpm"),
        (sec("dpkg", "dpkg-query: error: cannot open /var/lib/dpkg/status", 2), "could not list"),
        (sec("dpkg", "rc \told-package\t1.0\n"), "no installed packages"),
    ],
)
def test_packages_errors(payload: bytes, reason: str) -> None:
    result = interpret("packages", payload)
    assert result.status == "error"
    assert reason in (result.error or "")


def test_packages_section_cut_short_is_an_error() -> None:
    payload = b"CIIM" + b"5a" * 16 + b" F cii:dpkg\nii \tbash\t5.2\n"  # no rc line
    assert interpret("packages", payload).status == "error"


def test_non_utf8_version_does_not_break_the_list() -> None:
    payload = sec("dpkg", b"ii \tbash\t5.2\xff\xfe\nii \tcoreutils\t9.1-1\n")
    result = interpret("packages", payload)
    assert result.status == "ok"
    assert [p["name"] for p in result.data["packages"]] == ["bash", "coreutils"]


def test_truncated_packages_output_is_not_evaluated() -> None:
    assert interpret("packages", captured("pkgs"), exit_status=None).status == "error"


# ---------------------------------------------------------------- listening


SS_HEADER = "Netid State  Recv-Q Send-Q Local Address:Port Peer Address:PortProcess\n"


def test_ss_output_with_processes_and_address_forms() -> None:
    body = SS_HEADER + (
        'udp   UNCONN 0      0          127.0.0.1:323       0.0.0.0:*    '
        'users:(("chronyd",pid=1,fd=5))\n'
        "udp   UNCONN 0      0       127.0.0.53%lo:53        0.0.0.0:*\n"
        "tcp   LISTEN 0      128              *:22             *:*\n"
        "tcp   LISTEN 0      128    [::ffff:127.0.0.1]:8080   [::]:*\n"
        "tcp   ESTAB  0      0          10.0.0.5:22    10.0.0.9:51234\n"
        "tcp   LISTEN 0      128    [fe80::1%eth0]:9100     [::]:*\n"
    )
    result = interpret("listening", sec("uid", "0") + sec("ss", body))
    assert result.status == "ok"
    sockets = {(s["proto"], s["address"], s["port"]): s for s in result.data["sockets"]}
    assert sockets[("udp", "127.0.0.1", 323)]["process"] == "chronyd"
    assert sockets[("udp", "127.0.0.53", 53)]["loopback"] is True
    assert sockets[("tcp", "0.0.0.0", 22)]["loopback"] is False
    assert sockets[("tcp", "::ffff:127.0.0.1", 8080)]["loopback"] is True
    assert sockets[("tcp", "fe80::1", 9100)]["loopback"] is False
    assert ("tcp", "10.0.0.5", 22) not in sockets  # an established connection is not listening
    assert "process_names" not in result.data  # root: ss -p names the owners


def test_proc_net_fallback_decodes_ipv4_and_ipv6() -> None:
    result = interpret("listening", captured("listen-69-proc"))
    assert result.status == "ok"
    assert result.data["method"] == "/proc/net"
    assert {"proto": "udp", "address": "::", "port": 69, "loopback": False} in \
        result.data["sockets"]
    assert {"proto": "tcp", "address": "127.0.0.1", "port": 25, "loopback": True} in \
        result.data["sockets"]
    assert "ss is missing" in result.data["process_names"]


def test_proc_net_ipv6_loopback_word_order() -> None:
    tcp6 = ("  sl  local_address                         remote_address                        "
            "st tx_queue rx_queue\n"
            "   0: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 "
            "0A 00000000:00000000\n")
    payload = sec("uid", "1000") + sec("ss", "cii:missing") + sec("proc /proc/net/tcp6", tcp6)
    result = interpret("listening", payload)
    assert result.data["sockets"] == [
        {"proto": "tcp", "address": "::1", "port": 22, "loopback": True}]


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\xff\xfe random bytes",
        sec("uid", "0") + sec("ss", "Cannot open netlink socket: Protocol not supported", 1),
        sec("uid", "0") + sec("ss", "something else entirely\n"),
        sec("uid", "0") + sec("ss", "cii:missing") + sec("proc /proc/net/tcp", "", 1),
    ],
)
def test_listening_errors(payload: bytes) -> None:
    assert interpret("listening", payload).status == "error"


def test_ss_with_only_a_header_means_nothing_listens() -> None:
    result = interpret("listening", sec("uid", "0") + sec("ss", SS_HEADER))
    assert result.status == "ok"
    assert result.data["sockets"] == []


# ---------------------------------------------------------------- firewall


def test_nftables_policy_drop_capture() -> None:
    result = interpret("firewall", captured("fw-nft-drop"))
    assert result.status == "ok"
    assert result.data["nftables"]["default_deny"] is True
    assert result.data["nftables"]["input_chains"][0]["policy"] == "drop"
    assert result.data["iptables"]["default_deny"] is False
    assert result.data["deny_by"] == ["nftables"]


def test_iptables_nft_final_reject_seen_by_both_views() -> None:
    result = interpret("firewall", captured("fw-ipt-catchall"))
    assert result.data["iptables"]["default_deny"] is True
    # nft sees the same table; the REJECT arrives as an xt target expression
    assert result.data["nftables"]["input_chains"][0]["final_catch_all_deny"] is True


def test_nft_text_used_when_json_is_unavailable() -> None:
    text = ("table inet filter {\n\tchain input {\n"
            "\t\ttype filter hook input priority filter; policy accept;\n"
            "\t\tiif \"lo\" accept\n"
            "\t\tcounter packets 10 bytes 600 reject with icmpx admin-prohibited\n"
            "\t}\n\tchain output {\n\t\ttype filter hook output priority filter; policy drop;\n"
            "\t}\n}\n")
    payload = (sec("uid", "0") + sec("nft-json", "Error: syntax error, unexpected -j", 1)
               + sec("nft-text", text) + sec("iptables-plain", "cii:missing"))
    result = interpret("firewall", payload)
    assert result.status == "ok"
    chains = result.data["nftables"]["input_chains"]
    assert [c["chain"] for c in chains] == ["input"]  # the output hook is not inbound
    assert chains[0]["final_catch_all_deny"] is True
    assert result.data["inbound_default_deny"] is True


def test_conditional_final_drop_is_not_default_deny() -> None:
    text = ("table ip filter {\n\tchain INPUT {\n"
            "\t\ttype filter hook input priority filter; policy accept;\n"
            "\t\ttcp dport 23 drop\n\t}\n}\n")
    payload = (sec("uid", "0") + sec("nft-json", "", 1) + sec("nft-text", text))
    assert interpret("firewall", payload).data["inbound_default_deny"] is False


def test_non_root_firewall_is_an_error_naming_root() -> None:
    result = interpret("firewall", captured("firewall-nonroot"))
    assert result.status == "error"
    assert "root" in (result.error or "")


def test_one_tool_denying_is_enough_even_if_another_errored() -> None:
    payload = (sec("uid", "0") + sec("nft-json", "netlink: Error: cache initialization failed", 1)
               + sec("nft-text", "netlink: Error: cache initialization failed", 1)
               + sec("iptables-legacy", "-P INPUT DROP\n-P FORWARD DROP\n-P OUTPUT ACCEPT\n"))
    result = interpret("firewall", payload)
    assert result.status == "ok"
    assert result.data["iptables"]["default_deny"] is True
    assert "nftables.default_deny" in result.data["unobservable"]


def test_legacy_tables_not_loaded_are_not_asked() -> None:
    payload = (sec("uid", "0") + sec("nft-json", "cii:missing") + sec("nft-text", "cii:missing")
               + sec("iptables-legacy", "cii:not-loaded"))
    result = interpret("firewall", payload)
    assert result.status == "ok"
    assert result.data["iptables"] == {
        "present": True, "active": False, "input_chains": [], "input_policy": "NONE",
        "rule_count": 0, "default_deny": False}


@pytest.mark.parametrize("payload", [b"", b"\x00\x01\x02", b"-P INPUT DROP\n"])
def test_firewall_garbage_is_an_error(payload: bytes) -> None:
    assert interpret("firewall", payload).status == "error"


def test_broken_nft_json_falls_back_to_text() -> None:
    payload = (sec("uid", "0") + sec("nft-json", '{"nftables": [{"chain": {"hook": "input"')
               + sec("nft-text", "table inet filter {\n\tchain input {\n"
                     "\t\ttype filter hook input priority 0; policy drop;\n\t}\n}\n"))
    assert interpret("firewall", payload).data["nftables"]["default_deny"] is True
