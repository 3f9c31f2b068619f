"""The `sshd_effective` probe parser: `sshd -T` output as the daemon computes it."""

from __future__ import annotations

from scanner.baseline import load_baseline
from scanner.evaluate import evaluate_rule
from tests.conftest import FIXTURES, TEST_TOKEN, facts_from_outputs, interpret

BASELINE = load_baseline("cii-art9-linux")

CAPTURED = (FIXTURES / "probes" / "sshd_effective-debian12.txt").read_bytes()


def test_captured_stock_debian12() -> None:
    settings = interpret("sshd_effective", CAPTURED).data["settings"]
    assert settings["permitrootlogin"] == "without-password"
    assert settings["listenaddress"] == ["[::]:22", "0.0.0.0:22"]
    assert "aes256-gcm@openssh.com" in settings["ciphers"]
    assert settings["port"] == ["22"]


def test_captured_non_root_run_is_an_error_with_a_hint() -> None:
    payload = (FIXTURES / "probes" / "sshd_effective-debian12-nonroot.txt").read_bytes()
    result = interpret("sshd_effective", payload, exit_status=1)
    assert result.status == "error"
    assert "no hostkeys" in (result.error or "") and "root" in (result.error or "")


def test_keywords_lower_cased_first_value_kept_lists_split() -> None:
    payload = ("PermitRootLogin no\npermitrootlogin yes\nMACs hmac-sha2-256,,umac-128@openssh.com\n"
               "AllowUsers alice@10.0.0.1\nallowusers bob\n\t\nbanner\n")
    settings = interpret("sshd_effective", payload).data["settings"]
    assert settings["permitrootlogin"] == "no"
    assert settings["macs"] == ["hmac-sha2-256", "umac-128@openssh.com"]
    assert settings["allowusers"] == ["alice@10.0.0.1", "bob"]
    assert settings["banner"] == ""


def test_no_sshd_is_absent() -> None:
    assert interpret("sshd_effective", "cii:sshd-absent\n").status == "absent"


def test_empty_output_and_bad_config_are_errors() -> None:
    assert interpret("sshd_effective", b"").status == "error"
    result = interpret("sshd_effective", "/etc/ssh/sshd_config line 3: Bad configuration "
                       "option: PermitRootLogn\n", exit_status=255)
    assert result.status == "error" and "line 3" in (result.error or "")


def test_non_utf8_banner_path_does_not_break_parsing() -> None:
    payload = b"banner /etc/\xd3\xad\xbb\xb6.txt\npermitrootlogin no\n"
    settings = interpret("sshd_effective", payload).data["settings"]
    assert settings["permitrootlogin"] == "no"
    assert settings["banner"].startswith("/etc/")


def test_truncated_output_is_an_error() -> None:
    assert interpret("sshd_effective", CAPTURED[:100], exit_status=None).status == "error"


# ---------------------------------------------------------------- the framed output

_SETTINGS = "permitrootlogin no\nx11forwarding no\nmaxauthtries 3\nbanner /etc/issue.net\n"
_SPEC = "user=root,host=cii-unknown.invalid,addr=192.0.2.1,laddr=192.0.2.2,lport=22"
_ALICE = _SPEC.replace("user=root", "user=alice")


def _section(name: str, body: str, rc: int = 0) -> str:
    return f"{TEST_TOKEN} F cii:sshd/{name}\n{body}\ncii:rc {rc}\n"


def _framed(*sections: str, procs: str = "bin /usr/sbin/sshd\nuid0 root\n") -> str:
    return _section("procs", procs) + "".join(sections)


_KEY = "stat 600 0 0 root root 399 /etc/ssh/ssh_host_ed25519_key"
_DISK = (_section("scan disk", "cii:exit 0") + _section("hostkeys disk", _KEY)
         + _section(f"T disk {_SPEC}", _SETTINGS)
         + _section(f"T disk {_ALICE}", _SETTINGS))


def _running(pid: str, start: str, mtime: str, settings: str = _SETTINGS) -> str:
    return (_section(f"proc {pid}", f"start {start}\nexe /usr/sbin/sshd\n"
                     "title /usr/sbin/sshd -D -o PermitRootLogin yes\n"
                     "opts  -o 'PermitRootLogin yes'")
            + _section(f"scan pid{pid}", "cii:exit 0") + _section(f"hostkeys pid{pid}", _KEY)
            + _section(f"files pid{pid}", f"start {start}\nfile {mtime} {mtime} "
                       "/etc/ssh/sshd_config")
            + _section(f"T pid{pid} {_SPEC}", settings))


def _rule(payload: str, rule_id: str) -> tuple[str, str]:
    facts = facts_from_outputs("debian12", [{"probe": "sshd_effective", "stdout": payload}])
    rule = next(r for r in BASELINE.rules if r.id == rule_id)
    result = evaluate_rule(rule, facts, "debian")
    return result.status, result.message


def test_every_connection_answer_is_an_item_and_agreement_fills_settings() -> None:
    data = interpret("sshd_effective", _framed(_DISK)).data
    assert data["settings"]["permitrootlogin"] == "no"
    assert [item["uid0"] for item in data["connections"]] == [True, False]
    assert "after restart" in data["connections"][0]["name"]
    assert _rule(_framed(_DISK), "ssh.root-login-disabled")[0] == "pass"


def test_a_match_answer_that_differs_fails_and_leaves_settings_unknown() -> None:
    weak = _section(f"T disk {_SPEC.replace('192.0.2.1', '10.0.0.0')}",
                    _SETTINGS.replace("permitrootlogin no", "permitrootlogin yes"))
    data = interpret("sshd_effective", _framed(_DISK, weak)).data
    assert "permitrootlogin" not in data["settings"]
    assert "differs between connections" in data["unobservable"]["permitrootlogin"]
    status, message = _rule(_framed(_DISK, weak), "ssh.root-login-disabled")
    assert status == "fail" and "addr=10.0.0.0" in message and "PermitRootLogin yes" in message


def test_a_daemon_whose_files_changed_after_it_started_is_an_error_not_a_pass() -> None:
    payload = _framed(_running("41", "1000.000", "1000.500"), _DISK,
                      procs="top 41 /usr/sbin/sshd\nbin /usr/sbin/sshd\nuid0 root\n")
    status, message = _rule(payload, "ssh.root-login-disabled")
    assert status == "error"
    assert "sshd pid 41" in message and "changed after the daemon started" in message


def test_a_daemon_started_after_its_files_changed_is_asked() -> None:
    weak = _SETTINGS.replace("permitrootlogin no", "permitrootlogin yes")
    payload = _framed(_running("41", "1000.000", "990.000", weak), _DISK,
                      procs="top 41 /usr/sbin/sshd\nbin /usr/sbin/sshd\nuid0 root\n")
    status, message = _rule(payload, "ssh.root-login-disabled")
    assert status == "fail" and message.count("now: sshd pid 41") == 1


def test_a_daemon_serving_from_another_mount_namespace_or_with_hidden_options_is_unknown(
        ) -> None:
    for meta in ("mnt other", "start 5.0\nexe /usr/sbin/sshd\ntitle sshd: root [priv]\n"
                 "unknown its options are hidden by its process title"):
        payload = _framed(_section("proc 7", meta), _DISK, procs="ancestor 99\nancestor 7\n"
                          "top 7 /usr/sbin/sshd\nbin /usr/sbin/sshd\nuid0 root\n")
        status, message = _rule(payload, "ssh.x11-forwarding-disabled")
        assert status == "error" and "sshd pid 7" in message


def test_a_containers_daemon_is_another_systems() -> None:
    payload = _framed(_section("proc 7", "mnt other"), _DISK,
                      procs="ancestor 99\ntop 7 /usr/sbin/sshd\nbin /usr/sbin/sshd\nuid0 root\n")
    assert _rule(payload, "ssh.x11-forwarding-disabled")[0] == "pass"


def test_sshd_process_without_binary_is_asked_not_absent() -> None:
    weak = _SETTINGS.replace("x11forwarding no", "x11forwarding yes")
    payload = _framed(_running("9", "1000.000", "990.000", weak),
                      procs="top 9 /usr/lib/x/sshd\nbin \nuid0 root\n")
    assert _rule(payload, "ssh.x11-forwarding-disabled")[0] == "fail"


def test_no_binary_and_no_process_is_absent() -> None:
    assert interpret("sshd_effective", _framed(procs="bin \nuid0 root\n")).status == "absent"


def test_too_many_match_blocks_is_an_error() -> None:
    payload = _framed(_DISK, _section("specs disk", "cii:too-many 130"))
    assert _rule(_framed(_DISK), "ssh.banner-configured")[0] == "pass"
    status, message = _rule(payload, "ssh.banner-configured")
    assert status == "error" and "130 connection specs" in message
    assert interpret("sshd_effective", payload).data["unobservable"]["banner"].startswith(
        "its Match blocks need 130")


def test_config_sshd_refuses_is_an_error_with_its_reason() -> None:
    payload = _framed(_section("scan disk", "/etc/ssh/sshd_config line 2: Bad configuration "
                               "option: PermitRootLogn\ncii:exit 255", rc=255))
    result = interpret("sshd_effective", payload)
    assert result.status == "ok"
    status, message = _rule(payload, "ssh.root-login-disabled")
    assert status == "error" and "Bad configuration option" in message


def test_not_root_is_an_error_with_the_hint() -> None:
    payload = _framed(_section("scan disk", "sshd: no hostkeys available -- exiting.\n"
                               "cii:exit 1", rc=1))
    result = interpret("sshd_effective", payload)
    assert result.status == "error" and "must run as root" in (result.error or "")


def test_bare_sshd_t_output_has_no_connections_so_rules_error() -> None:
    assert "connections" not in interpret("sshd_effective", CAPTURED).data
    assert _rule(CAPTURED.decode(), "ssh.root-login-disabled")[0] == "error"


def test_host_keys_the_daemon_names_are_judged_with_the_default_ones() -> None:
    loose = _DISK.replace("stat 600 0 0", "stat 644 0 0")
    data = interpret("sshd_effective", _framed(loose)).data
    assert data["connections"][0]["hostkey_files"][0]["mode"] == "0644"
    missing = _DISK.replace(_KEY, "missing /etc/ssh/ssh_host_rsa_key")
    assert interpret("sshd_effective", _framed(missing)).data["connections"][0][
        "hostkey_files"] == []
