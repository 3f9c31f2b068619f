"""The `sshd_effective` probe parser: `sshd -T` output as the daemon computes it."""

from __future__ import annotations

from tests.conftest import FIXTURES, interpret

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
