"""The `sysctl` probe parser: a kernel parameter now (/proc/sys) and after the next boot."""

from __future__ import annotations

from scanner.probes.kernel import Assignment, kernel_int, parse_assignments
from tests.conftest import FIXTURES, TEST_TOKEN, frame_files, interpret

ASLR = {"name": "kernel.randomize_va_space"}
SEND = {"name": "net.ipv4.conf.all.send_redirects"}


def _section(name: str, body: str, rc: int = 0) -> str:
    return f"{TEST_TOKEN} F cii:{name}\n{body}\ncii:rc {rc}\n"


def _init(systemd: bool = False) -> str:
    return _section("init", ("systemd" if systemd else "other") + "\ninit\n")


def _payload(running: str, files: dict[str, str | None] | None = None, systemd: bool = False,
             section: str = "running") -> bytes:
    return (_init(systemd) + _section(section, running)).encode() + frame_files(files or {})


def test_captured_tab_separated_value_is_normalised() -> None:
    args = {"name": "net.ipv4.ip_local_port_range"}
    payload = (FIXTURES / "probes" / "sysctl-ip_local_port_range.txt").read_bytes()
    assert b"\t" in payload
    result = interpret("sysctl", _payload(payload.decode()), args)
    assert result.data["value"] == "32768 60999"


def test_value_now_and_at_boot() -> None:
    files: dict[str, str | None] = {"/etc/sysctl.d/1.conf": "kernel.randomize_va_space=1\n"}
    result = interpret("sysctl", _payload("2\n", files), ASLR)
    assert result.data["running"][0]["value"] == 2
    assert result.data["at_boot"][0]["value"] == 1
    assert "/etc/sysctl.d/1.conf:1" in result.data["at_boot"][0]["name"]


def test_unset_key_without_known_default_is_unobservable_at_boot() -> None:
    result = interpret("sysctl", _payload("2\n"), ASLR)
    assert "at_boot" not in result.data and "at_boot" in result.data["unobservable"]


def test_missing_entry_is_absent_but_missing_yama_is_the_weak_state() -> None:
    result = interpret("sysctl", _payload("cii:missing\n"), {"name": "net.ipv4.ip_forward"})
    assert result.status == "absent"
    yama = interpret("sysctl", _payload("cii:missing\n"), {"name": "kernel.yama.ptrace_scope"})
    assert yama.status == "ok" and yama.data["running"][0]["value"] == 0


def test_unreadable_or_failed_read_is_an_error() -> None:
    assert interpret("sysctl", _payload("cii:unreadable\n"), ASLR).status == "error"
    assert interpret("sysctl", _init().encode() + _section("running", "1", 1).encode(),
                     ASLR).status == "error"
    unreadable = _payload("2\n") + f"{TEST_TOKEN} U /etc/sysctl.d/x.conf\n".encode()
    result = interpret("sysctl", unreadable, ASLR)
    assert "at_boot" in result.data["unobservable"]


def test_non_utf8_bytes_do_not_crash() -> None:
    result = interpret("sysctl", _payload("\ufffd\n"), ASLR)
    assert result.data["running"][0]["value"] == "\ufffd"


def test_truncated_output_is_an_error() -> None:
    assert interpret("sysctl", b"1", ASLR, exit_status=None).status == "error"


def test_interfaces_combine_as_the_kernel_does() -> None:
    listing = ("all send_redirects 0\ndefault send_redirects 0\nlo send_redirects 1\n"
               "eth0 send_redirects 1\nall forwarding 0\ndefault forwarding 0\n"
               "lo forwarding 0\neth0 forwarding 0\n")
    result = interpret("sysctl", _payload(listing, section="interfaces"), SEND)
    running = {item["name"].split(" ")[0]: item["value"] for item in result.data["running"]}
    assert running == {"net.ipv4.conf.eth0.send_redirects": 1,
                       "net.ipv4.conf.(new-interface).send_redirects": 0}


def test_kernel_int_parses_as_proc_get_long() -> None:
    assert [kernel_int(t) for t in ("0x10", "010", " 1", "1 # c", "-1", "1x", "+1", "1\r",
                                    "\u00a01", "")] == [16, 8, 1, 1, -1, None, None, None,
                                                        None, None]


def test_loader_order_masking_and_sysctl_conf() -> None:
    files = {"/usr/lib/sysctl.d/50-a.conf": "a.b = 1\n", "/etc/sysctl.d/50-a.conf": "a.b = 2\n",
             "/run/sysctl.d/10-z.conf": "a.b = 3\n", "/etc/sysctl.conf": "a.b = 4\n"}
    procps = parse_assignments(files, procps=True)
    assert [a.source for a in procps] == ["/run/sysctl.d/10-z.conf:1", "/etc/sysctl.d/50-a.conf:1",
                                          "/etc/sysctl.conf:1"]
    systemd = parse_assignments(files, procps=False)
    assert systemd[-1] == Assignment("a/b", "2", "/etc/sysctl.d/50-a.conf:1", False)


def test_comment_cr_and_slash_keys() -> None:
    text = "#\ra.b = 9\n; a.b = 8\n-net/ipv4/conf/eth0.100/rp_filter = 1\r\n"
    found = parse_assignments({"/etc/sysctl.d/x.conf": text}, procps=True)
    assert found == [Assignment("net/ipv4/conf/eth0.100/rp_filter", "1",
                                "/etc/sysctl.d/x.conf:3", False)]


def test_systemd_exclusion_keeps_globs_off_a_key() -> None:
    conf = ("net.ipv4.conf.default.rp_filter = 2\nnet.ipv4.conf.*.rp_filter = 2\n"
            "-net.ipv4.conf.all.rp_filter\n")
    listing = "".join(f"{i} {k} {v}\n" for i in ("all", "default", "eth0")
                      for k, v in (("rp_filter", "1"), ("forwarding", "0")))
    args = {"name": "net.ipv4.conf.all.rp_filter"}
    files: dict[str, str | None] = {"/usr/lib/sysctl.d/50-default.conf": conf}
    systemd = interpret("sysctl", _payload(listing, files, systemd=True, section="interfaces"),
                        args).data["at_boot"]
    # all keeps its kernel default 0; eth0 and new interfaces get 2: max(0, 2) = 2
    assert [item["value"] for item in systemd] == [2, 2]
    assert "all 0 max of eth0 2" in systemd[0]["name"]


def test_build_configuration_decides_an_unset_default() -> None:
    payload = _payload("2\n") + _section("kconfig", "# CONFIG_COMPAT_BRK is not set\n").encode()
    assert interpret("sysctl", payload, ASLR).data["at_boot"][0]["value"] == 2
    payload = _payload("2\n") + _section("kconfig", "CONFIG_COMPAT_BRK=y\n").encode()
    assert interpret("sysctl", payload, ASLR).data["at_boot"][0]["value"] == 1
