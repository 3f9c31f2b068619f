"""The `sysctl` probe parser: one runtime kernel parameter from /proc/sys."""

from __future__ import annotations

from tests.conftest import FIXTURES, interpret

FORWARD = {"name": "net.ipv4.ip_forward"}


def test_captured_tab_separated_value_is_normalised() -> None:
    args = {"name": "net.ipv4.ip_local_port_range"}
    payload = (FIXTURES / "probes" / "sysctl-ip_local_port_range.txt").read_bytes()
    assert b"\t" in payload
    result = interpret("sysctl", payload, args)
    assert result.data == {"name": "net.ipv4.ip_local_port_range", "value": "32768 60999"}


def test_single_value() -> None:
    assert interpret("sysctl", "0\n", FORWARD).data["value"] == "0"


def test_missing_entry_is_absent_not_a_pass() -> None:
    result = interpret("sysctl", "cii:missing\n", FORWARD)
    assert result.status == "absent" and "net.ipv4.ip_forward" in (result.error or "")


def test_unreadable_or_failed_read_is_an_error() -> None:
    assert interpret("sysctl", "cii:unreadable\n", FORWARD, exit_status=3).status == "error"
    assert interpret("sysctl", "1\n", FORWARD, exit_status=1).status == "error"


def test_empty_value_and_non_utf8_bytes() -> None:
    assert interpret("sysctl", "", FORWARD).data["value"] == ""
    assert interpret("sysctl", b"\xb9\xfe\n", FORWARD).data["value"] == "\ufffd\ufffd"


def test_truncated_output_is_an_error() -> None:
    assert interpret("sysctl", "1", FORWARD, exit_status=None).status == "error"
