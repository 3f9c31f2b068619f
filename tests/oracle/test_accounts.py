"""Accounts: glibc NSS, libpam and the login shell decide.

* empty passwords: a real ``pam_authenticate`` through Debian's ``login`` stack
  (``pam_unix.so nullok``) with an empty password, by ``pamtester``, for each account
  the state names;
* uid 0: ``id -u NAME`` (getpwnam through NSS) for the state's names;
* system accounts: the shell sshd and login would run (``getent passwd`` field 7, empty
  meaning /bin/sh) asked to ``-c 'echo cii-ok'``;
* unique uids and names: glibc's own enumeration, ``getent passwd`` / ``getent group``;
* host trust files: ``pam_rhosts`` (glibc ``ruserok``) through ``pamtester`` with
  PAM_RHOST=localhost and PAM_RUSER=alice.

States replace /etc/passwd, /etc/shadow and /etc/group with base-passwd's master files
plus one admin account and the lines the case adds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.oracle._oracle import (
    Answer,
    Ask,
    Case,
    Consumer,
    State,
    Verdict,
    case_id,
    check_case,
)

_MASTER = Path("/usr/share/base-passwd/passwd.master").read_text().replace(":*:", ":x:")
_NAMES = [line.split(":")[0] for line in _MASTER.split("\n") if line]
_PASSWD = _MASTER + "admin:x:1000:1000:Admin,,,:/home/admin:/bin/bash\n"
_SHADOW = "".join(f"{name}:{'$y$j9T$placeholder$placeholder' if name == 'root' else '*'}"
                  ":19700:0:99999:7:::\n" for name in _NAMES) + \
    "admin:$y$j9T$placeholder$placeholder:19700:0:90:7:::\n"
_GROUP = Path("/usr/share/base-passwd/group.master").read_text() + "admin:x:1000:\n"


def _accounts(passwd: str = "", shadow: str = "", group: str = "",
              setup: Sequence[str] = ()) -> State:
    return State(files={"/etc/passwd": _PASSWD + passwd, "/etc/shadow": _SHADOW + shadow,
                        "/etc/group": _GROUP + group},
                 modes={"/etc/shadow": 0o640}, owners={"/etc/shadow": "root:shadow"},
                 setup=setup, overlays=["/var", "/root", "/home"])


def _empty_login(*names: str) -> Consumer:
    def decide(answers: Sequence[Answer], parameters: Mapping[str, Any]) -> bool:
        return not any(answer.ok for answer in answers)
    return Consumer("pam_authenticate (pamtester login) with an empty password",
                    [Ask(["pamtester", "login", name, "authenticate"], stdin=b"\n")
                     for name in ("root", "admin", *names)], decide)


def _no_other_uid0(*names: str) -> Consumer:
    def decide(answers: Sequence[Answer], parameters: Mapping[str, Any]) -> bool:
        return not any(answer.ok and answer.stdout.strip() == "0" for answer in answers[1:])
    return Consumer("id -u (getpwnam through NSS)",
                    [Ask(["id", "-u", name]) for name in ("root", *names)], decide)


_SHELL_RUNS = ('e=$(getent passwd "$0") || exit 2; s=$(printf %s "$e" | cut -d: -f7-); '
               '[ -n "$s" ] || s=/bin/sh; exec "$s" -c "echo cii-ok"')


def _no_shell(*names: str) -> Consumer:
    def decide(answers: Sequence[Answer], parameters: Mapping[str, Any]) -> bool:
        return not any("cii-ok" in answer.stdout for answer in answers)
    return Consumer("the account's login shell as sshd runs it (pw_shell, empty: /bin/sh)",
                    [Ask(["sh", "-c", _SHELL_RUNS, name])
                     for name in ("daemon", "bin", "www-data", *names)], decide)


def _enumerated(database: str, field: int) -> Consumer:
    def decide(answers: Sequence[Answer], parameters: Mapping[str, Any]) -> bool:
        for answer in answers:  # one database each: a user and a group may share a name
            seen: Counter[str] = Counter()
            for line in answer.stdout.split("\n"):
                parts = line.split(":")
                if len(parts) > field and not parts[0].startswith(("+", "-")):
                    seen[parts[field]] += 1
            if any(count > 1 for count in seen.values()):
                return False
        return True
    databases = database.split(",")
    what = "names" if field == 0 else "ids"
    return Consumer(f"getent {' and '.join(databases)} (glibc NSS enumeration, {what})",
                    [Ask(["getent", name]) for name in databases], decide)


UNIQUE_UIDS = _enumerated("passwd", 2)
UNIQUE_NAMES = _enumerated("passwd,group", 0)


def _rhosts_state(*setup: str) -> State:
    return State(files={"/etc/pam.d/cii-rhosts": "auth required pam_rhosts.so\n"},
                 setup=["useradd -m -s /bin/sh bob", *setup],
                 overlays=["/etc", "/var", "/root", "/home"])


def _rhosts_decide(answers: Sequence[Answer], parameters: Mapping[str, Any]) -> bool:
    return not any(answer.ok for answer in answers)


RHOSTS = Consumer("pam_rhosts (ruserok) through pamtester",
                  [Ask(["pamtester", "-I", "rhost=localhost", "-I", "ruser=alice", "cii-rhosts",
                        name, "authenticate"]) for name in ("root", "bob")], _rhosts_decide)


def _empty(name: str, intent: Verdict, state: State, *names: str) -> Case:
    return Case("accounts.no-empty-passwords", name, state, _empty_login("eve", *names), intent)


def _uid0(name: str, intent: Verdict, passwd: str, *names: str) -> Case:
    return Case("accounts.single-uid0", name, _accounts(passwd), _no_other_uid0("eve", *names),
                intent)


def _nologin(name: str, intent: Verdict, passwd: str, *setup: str) -> Case:
    return Case("accounts.system-accounts-nologin", name, _accounts(passwd, setup=setup),
                _no_shell("svc"), intent)


CASES = [
    _empty("base", "pass", _accounts()),
    _empty("shadow-empty", "fail", _accounts("eve:x:1003:1003::/home/eve:/bin/sh\n",
                                             "eve::19700:0:99999:7:::\n")),
    _empty("passwd-empty", "fail", _accounts("eve::1003:1003::/home/eve:/bin/sh\n")),
    _empty("short-line-6-fields", "fail", _accounts("eve::1003:1003::/home/eve\n")),
    _empty("short-line-4-fields", "fail", _accounts("eve::1003:1003\n")),
    _empty("leading-blanks", "fail", _accounts(" \teve::1003:1003::/:/bin/sh\n")),
    _empty("last-line-unterminated", "fail", _accounts("eve::1003:1003::/:/bin/sh")),
    _empty("commented", "pass", _accounts("#eve::1003:1003::/:/bin/sh\n")),
    _empty("shadow-line-rejected", "pass", _accounts("eve:x:1003:1003::/:/bin/sh\n",
                                                     "eve::\n")),
    _empty("shadow-short-accepted", "fail", _accounts("eve:x:1003:1003::/:/bin/sh\n",
                                                      "eve:::::\n")),
    _empty("shadow-7-fields-rejected", "pass", _accounts("eve:x:1003:1003::/:/bin/sh\n",
                                                         "eve::::::\n")),
    _empty("shadow-cr-is-a-hash", "pass", _accounts("eve:x:1003:1003::/:/bin/sh\n",
                                                    "eve:\r:19700:0:99999:7:::\n")),
    _empty("hash-hash-name-means-shadow", "fail",
           _accounts("eve:##eve:1003:1003::/:/bin/sh\n", "eve::19700:0:99999:7:::\n")),
    _empty("compat-plus-entry", "pass", _accounts("+eve::1003:1003::/:/bin/sh\n"), "+eve"),
    _empty("bad-uid-rejected", "pass", _accounts("eve::1003x:1003::/:/bin/sh\n")),
    _empty("locked", "pass", _accounts("eve:x:1003:1003::/:/bin/sh\n",
                                       "eve:!:19700:0:99999:7:::\n")),
    _uid0("base", "pass", ""),
    _uid0("toor", "fail", "toor:x:0:0::/root:/bin/bash\n", "toor"),
    _uid0("short-line", "fail", "eve::0:0::/root\n"),
    _uid0("blank-before-uid", "fail", "eve:x: 0:0::/root:/bin/sh\n"),
    _uid0("zero-zero", "fail", "eve:x:00:0::/root:/bin/sh\n"),
    _uid0("minus-zero", "fail", "eve:x:-0:0::/root:/bin/sh\n"),
    _uid0("crlf", "fail", "eve:x:0:0::/root:/bin/bash\r\n"),
    _uid0("hex-rejected", "pass", "eve:x:0x0:0::/root:/bin/sh\n"),
    _uid0("no-gid-rejected", "pass", "eve:x:0\n"),
    _uid0("commented", "pass", "#eve:x:0:0::/root:/bin/sh\n"),
    _uid0("compat-plus", "pass", "+eve:x:0:0::/root:/bin/sh\n", "+eve"),
    _uid0("wraps-to-max", "pass", "eve:x:4294967296:0::/root:/bin/sh\n"),
    _nologin("base", "pass", ""),
    _nologin("bash", "fail", "svc:x:101:101::/var/lib/svc:/bin/bash\n"),
    _nologin("empty-shell", "fail", "svc:x:101:101::/:\n"),
    _nologin("short-line", "fail", "svc:x:101:101\n"),
    _nologin("false", "pass", "svc:x:101:101::/:/bin/false\n"),
    _nologin("nologin", "pass", "svc:x:101:101::/:/usr/sbin/nologin\n"),
    _nologin("true", "pass", "svc:x:101:101::/:/bin/true\n"),
    _nologin("bash-named-nologin", "fail", "svc:x:101:101::/:/var/lib/cii/nologin\n",
             "mkdir -p /var/lib/cii", "cp /bin/bash /var/lib/cii/nologin"),
    _nologin("symlink-to-nologin", "pass", "svc:x:101:101::/:/var/lib/cii/shell\n",
             "mkdir -p /var/lib/cii", "ln -s /usr/sbin/nologin /var/lib/cii/shell"),
    _nologin("shell-with-cr-does-not-exist", "pass", "svc:x:101:101::/:/bin/bash\r\n"),
    _nologin("missing-shell", "pass", "svc:x:101:101::/:/bin/no-such-shell\n"),
    Case("accounts.unique-uids", "base", _accounts(), UNIQUE_UIDS, "pass"),
    Case("accounts.unique-uids", "shared", _accounts("ops:x:1000:1000::/home/ops:/bin/bash\n"),
         UNIQUE_UIDS, "fail"),
    Case("accounts.unique-uids", "short-line", _accounts("ops::1000:1000\n"), UNIQUE_UIDS,
         "fail"),
    Case("accounts.unique-uids", "leading-zero", _accounts("ops:x:01000:1000::/:/bin/sh\n"),
         UNIQUE_UIDS, "fail"),
    Case("accounts.unique-uids", "blank-before-uid", _accounts("ops:x: 1000:1000::/:/bin/sh\n"),
         UNIQUE_UIDS, "fail"),
    Case("accounts.unique-uids", "no-gid-rejected", _accounts("ops:x:1000\n"), UNIQUE_UIDS,
         "pass"),
    Case("accounts.unique-uids", "commented", _accounts("#ops:x:1000:1000::/:/bin/sh\n"),
         UNIQUE_UIDS, "pass"),
    Case("accounts.unique-names", "base", _accounts(), UNIQUE_NAMES, "pass"),
    Case("accounts.unique-names", "user", _accounts("admin:x:1001:1001::/home/a2:/bin/bash\n"),
         UNIQUE_NAMES, "fail"),
    Case("accounts.unique-names", "group", _accounts(group="sudo:x:999:ops\n"), UNIQUE_NAMES,
         "fail"),
    Case("accounts.unique-names", "user-leading-blank",
         _accounts(" admin:x:1001:1001::/:/bin/sh\n"), UNIQUE_NAMES, "fail"),
    Case("accounts.unique-names", "group-leading-tab", _accounts(group="\tsudo:x:999:\n"),
         UNIQUE_NAMES, "fail"),
    Case("accounts.unique-names", "group-short-line", _accounts(group="sudo:x:999\n"),
         UNIQUE_NAMES, "fail"),
    Case("accounts.unique-names", "group-no-gid-rejected", _accounts(group="sudo:x\n"),
         UNIQUE_NAMES, "pass"),
    Case("accounts.unique-names", "commented", _accounts("#admin:x:1001:1001::/:/bin/sh\n"),
         UNIQUE_NAMES, "pass"),
    Case("accounts.no-rhosts", "stock", _rhosts_state(), RHOSTS, "pass"),
    Case("accounts.no-rhosts", "hosts-equiv", _rhosts_state("echo 'localhost alice' > "
                                                            "/etc/hosts.equiv"), RHOSTS, "fail"),
    Case("accounts.no-rhosts", "root-rhosts",
         _rhosts_state("echo 'localhost alice' > /root/.rhosts", "chmod 0600 /root/.rhosts"),
         RHOSTS, "fail"),
    Case("accounts.no-rhosts", "user-rhosts",
         _rhosts_state("echo 'localhost alice' > /home/bob/.rhosts",
                       "chown bob /home/bob/.rhosts", "chmod 0600 /home/bob/.rhosts"),
         RHOSTS, "fail"),
]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_consumer_decides(case: Case, tmp_path: Path) -> None:
    check_case(case, tmp_path)
