"""Parsers of the packages, listening and firewall probes, on captured and hostile output."""

from __future__ import annotations

import json

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
    # an inet chain filters both families
    assert result.data["ipv4"]["default_deny"] is True
    assert result.data["ipv6"]["default_deny"] is True
    assert "inet filter input drops it" in result.data["ipv4"]["why"]
    assert result.data["iptables"]["ipv4"]["default_deny"] is False
    assert result.data["inbound_default_deny"] is True


def test_iptables_nft_final_reject_leaves_ipv6_open() -> None:
    result = interpret("firewall", captured("fw-ipt-catchall"))
    assert result.data["ipv4"]["default_deny"] is True
    # nft sees the same table, but its conntrack match only as an opaque xt expression:
    # that view cannot prove the drop, while iptables-nft -S shows the match and does
    assert result.data["nftables"]["ipv4"]["default_deny"] is False
    assert "may accept it" in result.data["nftables"]["ipv4"]["why"]
    assert result.data["iptables"]["ipv4"]["default_deny"] is True
    assert result.data["ipv6"]["default_deny"] is False
    assert "ip6tables-nft INPUT policy ACCEPT" in result.data["why"]["ipv6.default_deny"]


def _nft_json(*rules: list[object], policy: str = "drop", family: str = "inet",
              table: str = "t") -> str:
    items: list[object] = [{"chain": {"family": family, "table": table, "name": "input",
                                      "type": "filter", "hook": "input", "prio": 0,
                                      "policy": policy}}]
    items += [{"rule": {"family": family, "table": table, "chain": "input", "expr": expr}}
              for expr in rules]
    return json.dumps({"nftables": items})


ACCEPT = {"accept": None}


def _deny(payload: bytes) -> tuple[object, object]:
    data = interpret("firewall", payload).data
    return data["ipv4"].get("default_deny"), data["ipv6"].get("default_deny")


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        ([], (True, True)),
        ([[ACCEPT]], (False, False)),
        ([[{"counter": None}, ACCEPT]], (False, False)),
        ([[{"match": {"op": "in", "left": {"ct": {"key": "state"}},
                      "right": ["established", "related"]}}, ACCEPT]], (True, True)),
        ([[{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": "new"}}, ACCEPT]],
         (False, False)),
        ([[{"match": {"op": "==", "left": {"meta": {"key": "iif"}}, "right": "lo"}}, ACCEPT]],
         (True, True)),
        ([[{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "eth0"}},
           ACCEPT]], (False, False)),
        ([[{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                      "right": {"prefix": {"addr": "0.0.0.0", "len": 0}}}}, ACCEPT]],
         (False, True)),
        ([[{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}},
                      "right": {"set": [22, {"range": [1, 65535]}]}}}, ACCEPT]],
         (False, False)),
        ([[{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}},
                      "right": {"range": [1, 65535]}}}, ACCEPT]], (True, True)),
        ([[{"xt": {"type": "match", "name": "conntrack"}}, ACCEPT]], (False, False)),
        ([[{"frobnicate": {}}, {"drop": None}]], (True, True)),
        ([[{"queue": {"num": 1}}]], (False, False)),
    ],
)
def test_nft_rules_walked_with_a_new_tcp_connection(rules: list[list[object]],
                                                     expected: tuple[bool, bool]) -> None:
    payload = sec("uid", "0") + sec("nft-json", _nft_json(*rules)) + sec("ipv6", "")
    assert _deny(payload) == expected


def _dport(right: object) -> list[object]:
    return [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}},
                       "right": right}}, ACCEPT]


def test_accepts_that_only_together_cover_every_port_or_source_leave_it_open() -> None:
    halves = [_dport({"range": [1, 40000]}), _dport({"range": [40001, 65535]})]
    payload = sec("uid", "0") + sec("nft-json", _nft_json(*halves)) + sec("ipv6", "")
    assert _deny(payload) == (False, False)
    gap = [_dport({"range": [1, 40000]}), _dport({"range": [40002, 65535]})]
    payload = sec("uid", "0") + sec("nft-json", _nft_json(*gap)) + sec("ipv6", "")
    assert _deny(payload) == (True, True)  # port 40001 is dropped
    rules = ("-P INPUT DROP\n-A INPUT -s 0.0.0.0/1 -j ACCEPT\n"
             "-A INPUT -s 128.0.0.0/2 -j ACCEPT\n-A INPUT -s 192.0.0.0/2 -j ACCEPT\n")
    payload = sec("uid", "0") + sec("iptables-nft", rules) + sec("ipv6", "cii:absent")
    assert _deny(payload) == (False, True)
    payload = payload.replace(b"192.0.0.0/2", b"192.0.0.0/3")
    assert _deny(payload) == (True, True)


def test_policy_accept_with_an_unknown_statement_before_drop_is_not_proven() -> None:
    payload = sec("uid", "0") + sec("nft-json", _nft_json(
        [{"frobnicate": {}}, ACCEPT], [{"drop": None}], policy="accept")) + sec("ipv6", "")
    assert _deny(payload) == (False, False)


def test_ipv6_disabled_everywhere_counts_as_closed() -> None:
    ipv6 = ("/proc/sys/net/ipv6/conf/all/disable_ipv6 1\n"
            "/proc/sys/net/ipv6/conf/default/disable_ipv6 1\n"
            "/proc/sys/net/ipv6/conf/eth0/disable_ipv6 1\n"
            "/proc/sys/net/ipv6/conf/lo/disable_ipv6 0\n")
    payload = (sec("uid", "0") + sec("nft-json", _nft_json(family="ip"))
               + sec("ipv6", ipv6))
    assert _deny(payload) == (True, True)
    payload = payload.replace(b"default/disable_ipv6 1", b"default/disable_ipv6 0")
    assert _deny(payload) == (True, False)
    absent = sec("uid", "0") + sec("nft-json", _nft_json(family="ip")) + sec("ipv6", "cii:absent")
    assert _deny(absent) == (True, True)


def test_iptables_rules_walked_with_a_new_tcp_connection() -> None:
    rules = ('-P INPUT DROP\n-N allow\n-A INPUT -i lo -j ACCEPT\n'
             '-A INPUT -m comment --comment "say \\"-j ACCEPT\\"" -j LOG\n'
             "-A INPUT -p tcp -m multiport --dports 22,80:90 -j ACCEPT\n"
             "-A INPUT -p udp -j ACCEPT\n-A INPUT -j allow\n-A allow -s 10.0.0.0/8 -j ACCEPT\n")
    payload = (sec("uid", "0") + sec("iptables-nft", rules) + sec("ip6tables-nft", rules)
               + sec("ipv6", ""))
    assert _deny(payload) == (True, True)
    opened = payload.replace(b"-s 10.0.0.0/8 ", b"! -i lo ")
    assert _deny(opened) == (False, False)


def test_non_root_firewall_is_an_error_naming_root() -> None:
    result = interpret("firewall", captured("firewall-nonroot"))
    assert result.status == "error"
    assert "root" in (result.error or "")


def test_one_family_denying_does_not_hide_the_other_family_error() -> None:
    payload = (sec("uid", "0") + sec("nft-json", "netlink: Error: cache initialization failed", 1)
               + sec("iptables-legacy", "-P INPUT DROP\n-P FORWARD DROP\n-P OUTPUT ACCEPT\n")
               + sec("ipv6", ""))
    result = interpret("firewall", payload)
    assert result.status == "ok"
    assert result.data["ipv4"]["default_deny"] is True
    assert "ipv6.default_deny" in result.data["unobservable"]
    assert "default_deny" not in result.data["ipv6"]


def test_no_tool_at_all_cannot_see_the_filter() -> None:
    payload = (sec("uid", "0") + sec("nft-json", "cii:missing")
               + sec("iptables-legacy", "cii:missing") + sec("ipv6", ""))
    result = interpret("firewall", payload)
    assert result.status == "ok"
    assert {"ipv4.default_deny", "ipv6.default_deny"} <= set(result.data["unobservable"])


def test_legacy_tables_not_loaded_are_not_asked() -> None:
    payload = (sec("uid", "0") + sec("nft-json", _nft_json())
               + sec("iptables-legacy", "cii:not-loaded") + sec("ipv6", ""))
    result = interpret("firewall", payload)
    assert result.data["iptables"] == {"present": True}
    assert result.data["inbound_default_deny"] is True


@pytest.mark.parametrize("payload", [b"", b"\x00\x01\x02", b"-P INPUT DROP\n"])
def test_firewall_garbage_is_an_error(payload: bytes) -> None:
    assert interpret("firewall", payload).status == "error"


def test_broken_nft_json_is_an_error_not_a_guess() -> None:
    payload = (sec("uid", "0") + sec("nft-json", '{"nftables": [{"chain": {"hook": "input"')
               + sec("ipv6", ""))
    result = interpret("firewall", payload)
    assert result.status == "error"


# ---------------------------------------------------------------- firewall after a restart

DROP_V4 = "-P INPUT DROP\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n-A INPUT -i lo -j ACCEPT\n"
RUNNING_DENY = sec("uid", "0") + sec("nft-json", _nft_json()) + sec("ipv6", "")


def _boot(payload: bytes) -> tuple[object, object, dict[str, str]]:
    data = interpret("firewall", payload).data
    boot = data["boot"]
    return (boot.get("ipv4", {}).get("default_deny"), boot.get("ipv6", {}).get("default_deny"),
            {**data.get("why", {}), **data.get("unobservable", {})})


def test_nothing_enabled_at_boot_loses_the_running_rules() -> None:
    v4, v6, why = _boot(RUNNING_DENY + sec("boot-loaders", ""))
    assert (v4, v6) == (False, False)
    assert "gone after a restart" in why["boot.ipv4.default_deny"]


def test_boot_nftables_file_walked_like_the_running_one() -> None:
    boot = sec("boot-loaders", "nftables\n") + sec("boot-nftables", _nft_json(family="ip"))
    assert _boot(RUNNING_DENY + boot)[:2] == (True, False)
    refused = sec("boot-loaders", "nftables\n") + sec(
        "boot-nftables", "cii:load-failed /etc/nftables.conf")
    v4, _, why = _boot(RUNNING_DENY + refused)
    assert v4 is False
    assert "/etc/nftables.conf is refused" in why["boot.ipv4.default_deny"]


def test_netfilter_persistent_without_rules_v6_leaves_ipv6_open_at_boot() -> None:
    boot = (sec("boot-loaders", "netfilter-persistent\n") + sec("boot-persistent-v4", DROP_V4)
            + sec("boot-persistent-v6", "cii:no-file /etc/iptables/rules.v6"))
    v4, v6, why = _boot(RUNNING_DENY + boot)
    assert (v4, v6) == (True, False)
    assert "rules.v6 is missing" in why["boot.ipv6.default_deny"]


def test_boot_loader_that_cannot_be_asked_is_unobservable() -> None:
    for boot in (sec("boot-loaders", "nftables\n") + sec("boot-nftables", "cii:no-unshare"),
                 sec("boot-loaders", "ufw\n"),
                 sec("boot-loaders", "firewalld\n") + sec("boot-firewalld", "cii:not-running")):
        v4, _, why = _boot(RUNNING_DENY + boot)
        assert v4 is None
        assert "boot.ipv4.default_deny" in why


def test_firewalld_boot_is_the_running_ruleset_when_permanent_agrees() -> None:
    zones = "public{}\n  target: default\n  interfaces: {}\n  services: ssh\n"
    same = "cii:runtime\n" + zones.format(" (default, active)", "eth0") + "cii:permanent\n" + \
        zones.format("", "")
    boot = sec("boot-loaders", "firewalld\n") + sec("boot-firewalld", same)
    running = sec("uid", "0") + sec("nft-json", _nft_json(table="firewalld")) + sec("ipv6", "")
    assert _boot(running + boot)[:2] == (True, True)
    differs = boot.replace(b"services: ssh\n\ncii", b"services: ssh telnet\n\ncii")
    assert b"ssh telnet" in differs
    assert _boot(running + differs)[0] is None
    # a drop in a table added by hand is not what firewalld rebuilds at boot
    v4, _, why = _boot(RUNNING_DENY + boot)
    assert v4 is False
    assert "firewalld's table is not what drops it" in why["boot.ipv4.default_deny"]


def test_an_ip6tables_error_does_not_blur_the_ipv4_verdict() -> None:
    payload = (sec("uid", "0") + sec("nft-json", _nft_json(policy="accept", family="ip"))
               + sec("ip6tables-nft", "ip6tables v1.8.9 (nf_tables): table `filter' is "
                     "incompatible, use 'nft' tool.", 1) + sec("ipv6", ""))
    result = interpret("firewall", payload)
    assert result.data["ipv4"]["default_deny"] is False
    assert "ipv6.default_deny" in result.data["unobservable"]
    assert "ipv4.default_deny" not in result.data["unobservable"]
