"""The `os` probe parser: distribution, family and the collector's uid."""

from __future__ import annotations

import pytest

from tests.conftest import FIXTURES, interpret, os_output

CAPTURED = (FIXTURES / "probes" / "os-debian12.txt").read_bytes()


def test_captured_debian12_output() -> None:
    result = interpret("os", CAPTURED)
    assert result.status == "ok"
    assert (result.data["id"], result.data["family"], result.data["uid"]) == ("debian", "debian", 0)
    assert result.data["version_id"] == "12"
    assert result.data["package_tools"] == ["dpkg"]


@pytest.mark.parametrize(("name", "family", "distro"), [
    ("debian12", "debian", "debian"), ("rocky9", "rhel", "rocky"), ("openeuler2203", "rhel",
                                                                    "openeuler")])
def test_fixture_systems(name: str, family: str, distro: str) -> None:
    result = interpret("os", os_output(name))
    assert (result.data["family"], result.data["id"]) == (family, distro)


def test_kylin_is_decided_by_id_like_then_package_tool() -> None:
    server = "pkgtool=rpm\nosr:ID=kylin\nosr:ID_LIKE=\"rhel fedora\"\n"
    desktop = "pkgtool=dpkg\nosr:ID=kylin\n"
    both_tools = "pkgtool=dpkg\npkgtool=rpm\nosr:ID=kylin\n"
    assert interpret("os", server).data["family"] == "rhel"
    assert interpret("os", desktop).data["family"] == "debian"
    assert interpret("os", both_tools).data["family"] == "unknown"


def test_quotes_escapes_case_and_gbk_bytes() -> None:
    payload = (b"uid=1000\nosr:ID=\"UOS\"\nosr:NAME='Uniontech OS'\n"
               b"osr:PRETTY_NAME=\"a \\\"quoted\\\" name\"\n") + \
        "osr:VERSION=\"20 专业版\"\n".encode("gbk")
    data = interpret("os", payload).data
    assert (data["id"], data["family"], data["uid"]) == ("uos", "debian", 1000)
    assert data["name"] == "Uniontech OS"
    assert data["pretty_name"] == 'a "quoted" name'


def test_comments_and_junk_lines_are_ignored() -> None:
    data = interpret("os", "kernel=6.1.0\nosr:# comment\nosr:not a pair\nosr:ID=debian\n").data
    assert data["id"] == "debian" and data["kernel"] == "6.1.0"


def test_no_os_release_and_no_kernel_is_an_error() -> None:
    assert interpret("os", b"").status == "error"
    assert interpret("os", "hostname=x\n").status == "error"


def test_uname_only_host_is_unknown_family() -> None:
    data = interpret("os", "kernel=5.10.0\nuid=0\n").data
    assert (data["family"], data["id"]) == ("unknown", "")


def test_truncated_output_is_an_error() -> None:
    assert interpret("os", CAPTURED[:40], exit_status=None).status == "error"
