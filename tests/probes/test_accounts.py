"""The `accounts` and `identities` parsers (getent and the files, read as glibc reads
them, reduced on the host) and `useradd_defaults` (useradd -D, or the file as useradd
reads it)."""

from __future__ import annotations

from typing import Any

import pytest

from scanner.probes import ProbeResult
from scanner.probes._nss import passwd_entry, shadow_entry
from tests.conftest import frame_files, interpret

ROOT = "root:x:0:0:root:/root:/bin/bash\n"


def _section(body: str, rc: int = 0) -> str:
    return body + f"\ncii:rc {rc}"


def _payload(passwd: str = ROOT, shadow: str | None = "root:set:19700:0:99999:7:::\n",
             group: str = "root:x:0:\n", getent: str | None = "same", login_defs: str | None = None,
             shadow_rc: int = 0, passwd_rc: int = 0) -> bytes:
    """Sections as the snippet prints them; ``getent`` "same" lists what the files hold,
    None: the host has no getent."""
    def reduced(text: str) -> str:
        return "".join(f"L {line}\n" for line in text.split("\n") if line)

    def nss(text: str) -> str:
        if getent is None:
            return _section("getent-missing\n")
        return _section(reduced(text if getent == "same" else getent) + "getent-rc 0\n")

    files: dict[str, str | None] = {
        "cii:nss-passwd": nss(passwd),
        "cii:file-passwd": _section(reduced(passwd), passwd_rc),
        "cii:nss-group": nss(group) if getent in (None, "same") else _section("getent-rc 0\n"),
        "cii:file-group": _section(reduced(group)),
        "cii:nss-shadow": _section(reduced(shadow or "") + "getent-rc 0\n"),
        "cii:file-shadow": _section("shadow-missing\n" if shadow is None else reduced(shadow),
                                    shadow_rc),
    }
    if login_defs is not None:
        files["/etc/login.defs"] = login_defs
    return frame_files(files)


def _users(**kwargs: Any) -> dict[str, dict[str, Any]]:
    result = interpret("accounts", _payload(**kwargs))
    assert result.status == "ok", result.error
    return {user["name"]: user for user in result.data["users"]}


def test_passwd_lines_as_glibc_parses_them() -> None:
    assert passwd_entry("eve:empty:0:0::/root") is not None  # 6 fields: shell ""
    assert passwd_entry("eve:empty:0:0").shell == ""  # type: ignore[union-attr]
    assert passwd_entry("eve:x: 0:0::/:/bin/sh").uid == 0  # type: ignore[union-attr]
    assert passwd_entry("eve:x:-0:0::/:/bin/sh").uid == 0  # type: ignore[union-attr]
    assert passwd_entry("eve:x:4294967296:0::/:").uid == 0xFFFFFFFF  # type: ignore[union-attr]
    assert passwd_entry("eve:x:0x0:0::/:/bin/sh") is None
    assert passwd_entry("eve:x:0") is None  # no gid
    assert passwd_entry("eve:x::0::/:") is None  # no digits
    assert passwd_entry("+eve:x:0:0::/:") is None  # nss_compat marker
    assert passwd_entry("eve:x:0:0::/:/bin/sh:extra").shell == "/bin/sh:extra"  # type: ignore[union-attr]


def test_shadow_lines_as_glibc_parses_them() -> None:
    assert shadow_entry("eve:empty") is None
    assert shadow_entry("eve:empty:") is None
    assert shadow_entry("eve:empty::::") is not None  # max then the end: "the old form"
    assert shadow_entry("eve:empty:::::") is None  # a warn field, then no inact field
    old = shadow_entry("eve:empty:1:2:3")
    assert old is not None and (old.max_days, old.warn_days) == (3, -1)
    assert shadow_entry("eve:set:19700:0:99999:7:::").warn_days == 7  # type: ignore[union-attr]
    assert shadow_entry("eve:set:4294967295::::::").last_change == -1  # type: ignore[union-attr]
    assert shadow_entry("eve:set:x:0:99999:7:::") is None
    assert shadow_entry("eve:set:1:0:99999:7:::1x") is None


def test_short_and_indented_lines_count_and_comments_do_not() -> None:
    users = _users(passwd=ROOT + "eve:empty:0:0::/root\n \tbob:empty:1001:1001::/:/bin/sh\n"
                   "#carl:empty:0:0::/:/bin/sh\n+dan:empty:0:0:::\n")
    assert set(users) == {"root", "eve", "bob"}
    assert users["eve"]["uid"] == 0 and users["eve"]["password"] == "empty"
    assert users["eve"]["login_shell"] is True  # empty shell: /bin/sh
    assert users["bob"]["password"] == "empty"


def test_password_from_shadow_when_shadowed() -> None:
    users = _users(passwd=ROOT + "eve:##eve:1001:1001::/:/bin/sh\nold:set:1002:1002::/:/bin/sh\n"
                   "nosh:x:1003:1003::/:/bin/sh\nodd:##other:1004:1004::/:/bin/sh\n",
                   shadow="root:empty:19700:0:99999:7:::\neve:empty::::\nnosh:empty:\n")
    assert users["root"]["password"] == "empty"
    assert users["eve"]["password"] == "empty"
    assert users["old"]["password"] == "set"
    assert users["nosh"]["password"] == "no_shadow_entry"  # glibc rejects "nosh::"
    assert users["odd"]["password"] == "set"


def test_getent_accounts_count_and_files_only_once() -> None:
    ldap = ROOT + "ldapadmin:x:0:0::/:/bin/sh\n"
    users = interpret("accounts", _payload(getent=ldap)).data["users"]
    assert [(u["name"], u["sources"]) for u in users] == [("root", ["nss", "file"]),
                                                          ("ldapadmin", ["nss"])]
    only_file = interpret("accounts", _payload(passwd=ROOT + "toor:x:0:0::/:/bin/sh\n",
                                               getent=ROOT)).data["users"]
    assert [u["sources"] for u in only_file] == [["nss", "file"], ["file"]]
    without = interpret("accounts", _payload(getent=None)).data
    assert without["getent"] is False and without["users"][0]["sources"] == ["file"]


def test_uid_min_from_login_defs_as_shadow_reads_it() -> None:
    passwd = ROOT + "svc:x:600:600::/srv:/usr/sbin/nologin\napp:x:700:700::/:/bin/bash\n"
    data = interpret("accounts", _payload(passwd=passwd, login_defs="UID_MIN 0x1f4\n")).data
    users = {u["name"]: u for u in data["users"]}
    assert data["uid_min"] == 500
    assert users["svc"]["system"] is False and users["app"]["login_shell"] is True
    assert interpret("accounts", _payload(login_defs="UID_MIN 0500x\n")).data["uid_min"] == 1000


def test_unreadable_or_missing_shadow_is_unobservable() -> None:
    data = interpret("accounts", _payload(shadow="", shadow_rc=2)).data
    assert "password" not in data["users"][0]
    assert "not readable" in data["unobservable"]["password"]
    missing = interpret("accounts", _payload(shadow=None)).data
    assert missing["unobservable"]["password"] == "/etc/shadow does not exist"


def test_unreadable_passwd_failed_getent_and_truncated_are_errors() -> None:
    assert interpret("accounts", _payload(passwd_rc=2)).status == "error"
    assert interpret("accounts", b"").status == "error"
    assert interpret("accounts", _payload(passwd="#only a comment\n")).status == "error"
    failed = _payload().replace(b"getent-rc 0", b"getent-rc 1", 1)
    assert "getent passwd failed" in str(interpret("accounts", failed).error)
    assert interpret("accounts", _payload(), exit_status=None).status == "error"


def _identities(**kwargs: Any) -> ProbeResult:
    return interpret("identities", _payload(**kwargs))


def test_identities_duplicates_as_glibc_sees_them() -> None:
    data = _identities(passwd=ROOT + "toor:x:00:0::/:/bin/sh\n a:x:1000:1000::/:\n"
                       "a:x:1001:1001::/:\n#b:x:0:0::/:\nc:x:5\n",
                       group="sudo:x:27:\n\tsudo:x:999:\nadm:x:4:\nwheel:x:4:\nx:x\n").data
    assert data["duplicate_uids"] == [{"id": "0", "names": ["root", "toor"]}]
    assert data["duplicate_user_names"] == [{"name": "a", "ids": ["1000", "1001"]}]
    assert data["duplicate_group_names"] == [{"name": "sudo", "ids": ["27", "999"]}]
    assert data["duplicate_gids"] == [{"id": "4", "names": ["adm", "wheel"]}]


def test_identities_clean_and_failed() -> None:
    assert _identities().data["duplicate_uids"] == []
    assert _identities(passwd_rc=1).status == "error"
    assert interpret("identities", b"").status == "error"


def _useradd(content: str | None, answer: str | None = None, **kwargs: Any) -> ProbeResult:
    files: dict[str, str | None] = {}
    if answer is not None:
        files["cii:useradd-D"] = answer
    files["/etc/default/useradd"] = content
    return interpret("useradd_defaults", frame_files(files, **kwargs))


@pytest.mark.parametrize(("line", "inactive"), [
    ("INACTIVE=35", 35), ("INACTIVE=0x1e", 30), ("INACTIVE=030", 24), ("INACTIVE=-1", -1),
    (" INACTIVE=30", -1), ('INACTIVE="30"', -1), ("INACTIVE=30\r", -1), ("# INACTIVE=30", -1),
    ("INACTIVE=30 # grace", -1), ("INACTIVE=-2", -1), ("INACTIVE=", -1), ("INACTIVE=never", -1),
])
def test_useradd_file_as_get_defaults_reads_it(line: str, inactive: int) -> None:
    assert _useradd(f"SHELL=/bin/sh\n{line}\n").data["settings"]["INACTIVE"] == inactive


def test_useradd_file_last_line_wins_and_missing_file_means_defaults() -> None:
    assert _useradd("INACTIVE=30\nINACTIVE=35\n").data["settings"]["INACTIVE"] == 35
    assert _useradd("INACTIVE=30\nINACTIVE=x\n").data["settings"]["INACTIVE"] == -1
    missing = _useradd(None).data
    assert missing["file_present"] is False and missing["settings"]["INACTIVE"] == -1
    assert _useradd("", unreadable=("/etc/default/useradd",)).status == "error"


def test_useradd_d_answer_wins_over_the_file() -> None:
    answer = _section("GROUP=100\nHOME=/home\nINACTIVE=35\nEXPIRE=\nSHELL=/bin/sh\n")
    data = _useradd("INACTIVE=90\n", answer).data
    assert data["settings"]["INACTIVE"] == 35 and data["source"] == "useradd -D"
    assert _useradd(None, _section("useradd: error\n", 1)).status == "error"
    assert _useradd(None, _section("GROUP=100\n")).status == "error"
    fallback = _useradd("INACTIVE=20\n", _section("useradd-missing\n")).data
    assert fallback["settings"]["INACTIVE"] == 20
    assert fallback["source"] == "/etc/default/useradd"


def test_login_shell_is_what_the_host_would_execute() -> None:
    passwd = ROOT + ("svc:x:101:101::/:/opt/nologin\nlink:x:102:102::/:/opt/shell\n"
                     "cr:x:103:103::/:/bin/bash\r\nold:x:104:104::/:/usr/sbin/nologin\n")
    shells = ("refuse /usr/sbin/nologin\nshellname /bin/bash\nshell x /usr/bin/bash\n"
              "shellname /opt/nologin\nshell x /opt/nologin\nshellname /opt/shell\n"
              "shell x /usr/sbin/nologin\nshellname /bin/bash\r\nshell -\n")
    payload = _payload(passwd=passwd) + frame_files({"cii:shells": _section(shells)})
    users = {u["name"]: u for u in interpret("accounts", payload).data["users"]}
    assert users["root"]["login_shell"] is True
    assert users["svc"]["login_shell"] is True  # a copy of bash named nologin
    assert users["link"]["login_shell"] is False  # resolves to the real nologin
    assert users["cr"]["login_shell"] is False  # "/bin/bash\r" does not exist
    assert users["old"]["login_shell"] is False  # not reported: judged by its name
