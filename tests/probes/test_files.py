"""The `file` probe parser: stat metadata of one path, never its content."""

from __future__ import annotations

import pytest

from tests.conftest import FIXTURES, interpret

SHADOW = {"path": "/etc/shadow"}


def test_captured_shadow_and_directory() -> None:
    shadow = interpret("file", (FIXTURES / "probes" / "file-etc-shadow.txt").read_bytes(), SHADOW)
    assert shadow.data == {"exists": True, "mode": "0640", "uid": 0, "gid": 42, "owner": "root",
                           "group": "shadow", "size": 672, "type": "regular file",
                           "acl": False}
    etc = interpret("file", (FIXTURES / "probes" / "file-etc.txt").read_bytes(), {"path": "/etc"})
    assert (etc.data["mode"], etc.data["type"]) == ("0755", "directory")


def test_acl_from_the_ls_mode_and_unknown_without_it() -> None:
    acl = interpret("file", "stat 640 0 42 root shadow 692 regular file\nlsmode -rw-r-----+\n",
                    SHADOW).data
    assert acl["acl"] is True and acl["mode"] == "0640"
    selinux = interpret("file", "stat 0 0 0 root root 731 regular file\nlsmode ----------.\n",
                        SHADOW).data
    assert selinux["acl"] is False
    for old in ("stat 640 0 42 root shadow 692 regular file\n",
                "stat 640 0 42 root shadow 692 regular file\nlsmode \n"):
        data = interpret("file", old, SHADOW).data
        assert data["acl"] is None and "acl" in data["unobservable"]


def test_special_bits_and_spaces_in_the_type() -> None:
    data = interpret("file", "stat 4755 0 0 root root 0 character special file\n", SHADOW).data
    assert (data["mode"], data["type"]) == ("4755", "character special file")


def test_missing_and_dangling() -> None:
    assert interpret("file", "missing\n", SHADOW).data == {"exists": False}
    assert interpret("file", "dangling\n", SHADOW).data == {"exists": False,
                                                             "dangling_link": True}


def test_owner_names_that_do_not_resolve() -> None:
    data = interpret("file", "stat 600 1234 5678 UNKNOWN UNKNOWN 10 regular file", SHADOW).data
    assert (data["uid"], data["owner"]) == (1234, "UNKNOWN")


@pytest.mark.parametrize("payload", [
    "", "stat 640 0\n", "stat 9z9 0 0 root root 1 regular file\n", "garbage line\n",
    "stat 640 0 0 root root 1 regular file\n".encode("utf-16"),
])
def test_odd_output_is_an_error(payload: str | bytes) -> None:
    assert interpret("file", payload, SHADOW).status == "error"


def test_stat_failure_reports_its_message() -> None:
    result = interpret("file", "stat: cannot statx '/etc/x': Permission denied\n", SHADOW,
                       exit_status=1)
    assert result.status == "error" and "Permission denied" in (result.error or "")


def test_truncated_output_is_an_error() -> None:
    assert interpret("file", "stat 64", SHADOW, exit_status=None).status == "error"
