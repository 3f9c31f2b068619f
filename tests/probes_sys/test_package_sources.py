"""The package_sources parser: apt's own answers plus the one field it does not show."""

from __future__ import annotations

import pytest

from scanner.probes.package_sources import apt_string_to_bool, one_line_options
from scanner.probes.package_sources_ini import ini_sections, libdnf_bool
from tests.conftest import interpret
from tests.probes_sys._helpers import file_frame, sec


@pytest.mark.parametrize(("text", "expected"), [
    ("1", True), ("0", False), ("01", True), ("0x1", True), ("+1", True), (" 1", True),
    ("2", None), ("-1", None), ("0x", None), ("", False), ("yes", True), ("On", True),
    ("ENABLE", True), ("with", True), ("without", False), ("off", False), ("y", None),
    ("1 ", None), ("true\u00a0", None),
])
def test_apt_string_to_bool_is_strutl_semantics(text: str, expected: bool | None) -> None:
    """Default ``None`` marks "neither": apt then keeps the caller's default."""
    assert apt_string_to_bool(text, True) is (True if expected is None else expected)
    assert apt_string_to_bool(text, False) is (False if expected is None else expected)


@pytest.mark.parametrize(("line", "options"), [
    (" [trusted=yes] http://x/ a b", {"trusted": "yes"}),
    (" [ arch=amd64 trusted=yes ] http://x/ a b", {"arch": "amd64", "trusted": "yes"}),
    (' ["trusted=yes"] http://x/ a b', {"trusted": "yes"}),
    (" [%74rusted=yes] http://x/ a b", {"trusted": "yes"}),
    (" [trusted=yes trusted=no] http://x/ a b", {"trusted": "no"}),
    (" http://x/ a b", {}),
    (" [trusted] http://x/ a b", None),
    (" [t=] http://x/ a b", None),
])
def test_one_line_options(line: str, options: dict[str, str] | None) -> None:
    assert one_line_options(line) == options


def _apt(entries: str, files: bytes, config: str = "", status: int = 0) -> bytes:
    return (sec("apt-indextargets", entries, status) + sec("apt-config", config)
            + sec("dnf", "cii:missing") + files)


def _row(entry: str, insecure: str = "$(ALLOW_INSECURE)") -> str:
    return f"{entry}\tdeb\t{insecure}\t$(ALLOW_WEAK)\t$(ALLOW_DOWNGRADE_TO_INSECURE)\thttp://x\tb\n"


def test_trusted_is_read_from_the_line_apt_names() -> None:
    gbk = "# 内部镜像\n".encode("gbk")
    payload = _apt(_row("/etc/apt/sources.list:2"), file_frame(
        "/etc/apt/sources.list", gbk + b"deb [trusted=yes] http://x/ b main\n"))
    repos = interpret("package_sources", payload).data["repos"]
    assert [(r["unsigned"], r["why"]) for r in repos] == [(True, ["trusted"])]


def test_a_cr_does_not_end_a_line() -> None:
    text = "#x\rdeb [trusted=yes] http://x/ b main\ndeb http://x/ b main\n"
    payload = _apt(_row("/etc/apt/sources.list:2"), file_frame("/etc/apt/sources.list", text))
    assert interpret("package_sources", payload).data["repos"][0]["unsigned"] is False


def test_deb822_stanza_number_and_field_case() -> None:
    text = ("Types: deb\nURIs: http://y/\nSuites: a\nComponents: main\nEnabled: no\n\n"
            "# comment\nTypes: deb\nURIs: http://x/\nSuites: b\nComponents: main\ntrusted: on\n")
    payload = _apt(_row("/etc/apt/sources.list.d/x.sources:2"),
                   file_frame("/etc/apt/sources.list.d/x.sources", text))
    assert interpret("package_sources", payload).data["repos"][0]["unsigned"] is True


def test_allow_insecure_as_apt_resolved_it() -> None:
    payload = _apt(_row("/etc/apt/sources.list:1", "true"),
                   file_frame("/etc/apt/sources.list", "deb http://x/ b main\n"))
    assert interpret("package_sources", payload).data["repos"][0]["why"] == ["allow-insecure"]


@pytest.mark.parametrize(("var", "insecure"), [
    ("UNAUTH", True), ("INSECURE", True), ("WEAK", True), ("DOWNGRADE", False)])
def test_apt_globals_from_apt_config(var: str, insecure: bool) -> None:
    payload = _apt("", b"", f"{var}='true'\n")
    assert bool(interpret("package_sources", payload).data["global_insecure"]) is insecure


def test_unread_entry_file_is_an_error() -> None:
    payload = _apt(_row("/srv/elsewhere.list:1"), b"")
    result = interpret("package_sources", payload)
    assert result.status == "error" and "could not read" in (result.error or "")


def test_apt_refusing_its_sources_is_an_error() -> None:
    payload = _apt("E: Malformed entry 1 in list file /etc/apt/sources.list\n", b"", status=100)
    assert interpret("package_sources", payload).status == "error"


def test_no_password_in_the_site() -> None:
    row = _row("/etc/apt/sources.list:1").replace("http://x", "https://u:pw@x")
    payload = _apt(row, file_frame("/etc/apt/sources.list", "deb https://u:pw@x/ b main\n"))
    assert "pw" not in str(interpret("package_sources", payload).data["repos"])


@pytest.mark.parametrize(("value", "expected"), [
    ("1", True), ("YES", True), ("on", True), ("False", False), ("2", None), ("", None),
    ("1 # c", None), (None, None),
])
def test_libdnf_bool(value: str | None, expected: bool | None) -> None:
    assert libdnf_bool(value) is expected


def test_ini_sections_as_libdnf_reads_them() -> None:
    text = "[a]\nk=1\n  more\n;c\n#c\nk2 = v \r\n[a]\nk=2\n"
    assert ini_sections(text) == {"a": {"k": "1\nmore", "k2": "v"}}
    assert ini_sections("[a]\nnot an option\n") is None


def _dnf_files(*frames: bytes) -> bytes:
    return (sec("apt-indextargets", "cii:missing") + sec("apt-config", "cii:missing")
            + sec("dnf", "cii:no-dnf-python") + b"".join(frames))


def test_dnf_main_default_is_off() -> None:
    payload = _dnf_files(file_frame("/etc/dnf/dnf.conf", "[main]\n"),
                         file_frame("/etc/yum.repos.d/a.repo", "[a]\nbaseurl=http://x/\n"))
    assert interpret("package_sources", payload).data["repos"][0]["unsigned"] is True


def test_dnf_answer_wins_over_files() -> None:
    answer = "cii:dnf main\t1\t0\t0\ncii:dnf repo\tb\t1\t0\t0\t/etc/yum.repos.d/b.repo\n"
    payload = (sec("apt-indextargets", "cii:missing") + sec("apt-config", "cii:missing")
               + sec("dnf", answer))
    data = interpret("package_sources", payload).data
    assert [(r["name"], r["unsigned"]) for r in data["repos"]] == [("b", True)]
    assert data["dnf_source"] == "dnf"


def test_yum_conf_repository_sections_count() -> None:
    payload = (sec("apt-indextargets", "cii:missing") + sec("apt-config", "cii:missing")
               + sec("dnf", "cii:missing")
               + file_frame("/etc/yum.conf", "[main]\ngpgcheck=1\n[site]\ngpgcheck=0\n"))
    assert interpret("package_sources", payload).data["repos"][0]["unsigned"] is True


@pytest.mark.parametrize("payload", [b"", b"\xff\xfe\xfd"])
def test_package_sources_without_output_is_an_error(payload: bytes) -> None:
    assert interpret("package_sources", payload).status == "error"


@pytest.mark.parametrize(("fields", "unsigned"), [
    ("Trusted: no\nTrusted: yes\n", True), ("Trusted: yes\nTrusted: no\n", False)])
def test_deb822_repeated_field_later_wins(fields: str, unsigned: bool) -> None:
    text = "Types: deb\nURIs: http://x/\nSuites: b\nComponents: main\n" + fields
    payload = _apt(_row("/etc/apt/sources.list.d/x.sources:1"),
                   file_frame("/etc/apt/sources.list.d/x.sources", text))
    assert interpret("package_sources", payload).data["repos"][0]["unsigned"] is unsigned
