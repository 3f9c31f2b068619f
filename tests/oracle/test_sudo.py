"""sudo decides: real ``sudo -n`` attempts, a command's terminal and its log, in each state.

Accounts made in the namespace: alice (uid 1500, no sudo rights unless a state gives them)
and bob, a member of the ``sudo`` group that Debian's sudoers lets run anything with a
password; both have the password below. Root never authenticates to sudo.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.oracle._oracle import Answer, Ask, Case, Consumer, State, case_id, check_case

_PASSWORD = "cii-Oracle-7"
_SETUP = ("useradd -m -u 1500 -s /bin/sh alice", "useradd -m -s /bin/sh -G sudo bob",
          f"printf '%s\\n' 'alice:{_PASSWORD}' 'bob:{_PASSWORD}' | chpasswd")
_OVERLAYS = ("/etc", "/home", "/var", "/run")
_MAIN = Path("/etc/sudoers").read_text() if Path("/etc/sudoers").exists() else ""
_MARK = "cii-oracle-mark"


def _no_password_consumer() -> Consumer:
    """Does any attempt run without a password? ``sudo -n`` never prompts: it succeeds only
    where sudo asks for nothing."""
    attempts = [(user, runas, command) for user in ("alice", "bob")
                for runas in ((), ("-u", "nobody"))
                for command in ("/usr/bin/true", "/usr/bin/id")]
    asks = [Ask(["sudo", "-n", *runas, command], user=user, env={"HOME": f"/home/{user}"})
            for user, runas, command in attempts]

    def decide(answers: Sequence[Answer], parameters: Mapping[str, Any]) -> bool:
        return not any(answer.ok for answer in answers)
    return Consumer("sudo -n as each user", asks, decide)


def _as(user: str, command: str) -> str:
    """sh running ``command`` through sudo as ``user``: root needs no password, others
    give theirs on stdin (``-S``)."""
    if user == "root":
        return f"sudo -n {command}"
    return f"runuser -u {user} -- sh -c \"echo {_PASSWORD} | sudo -S -k -p '' {command}\""


def _pty_consumer() -> Consumer:
    """With use_pty sudo runs the command on a pseudo-terminal of its own: inside
    ``script`` (a terminal), the command's stdout is another /dev/pts than the caller's."""
    asks = [Ask(["script", "-qec", f"readlink /proc/self/fd/1; "
                 f"{_as(user, 'readlink /proc/self/fd/1')}", "/dev/null"])
            for user in ("root", "bob")]

    def decide(answers: Sequence[Answer], parameters: Mapping[str, Any]) -> bool:
        for answer in answers:
            terminals = re.findall(r"/dev/pts/\d+", answer.stdout)
            assert len(terminals) == 2, f"no two terminals: {answer.stdout!r} {answer.stderr!r}"
            if terminals[0] == terminals[1]:
                return False
        return True
    return Consumer("sudo's terminal under script(1)", asks, decide)


def _log_consumer() -> Consumer:
    """Run a marked command through sudo as root and as bob, then look for a file under
    /var/log that recorded both."""
    script = (f"{_as('root', '/usr/bin/true ' + _MARK)}; {_as('bob', '/usr/bin/true ' + _MARK)}; "
              f"grep -rl -e {_MARK} /var/log 2>/dev/null | while read -r f; do "
              "grep -q ' : root : ' \"$f\" && grep -q ' : bob : ' \"$f\" && echo \"LOGGED $f\"; "
              "done; true")
    asks = [Ask(["sh", "-c", script])]

    def decide(answers: Sequence[Answer], parameters: Mapping[str, Any]) -> bool:
        return "LOGGED /" in answers[0].stdout
    return Consumer("sudo's own log file after a command", asks, decide)


def _state(dropins: Mapping[str, str | bytes], main: str = _MAIN) -> State:
    files: dict[str, str | bytes | None] = {"/etc/sudoers": main}
    files.update({f"/etc/sudoers.d/{name}": text for name, text in dropins.items()})
    return State(files=files, modes={path: 0o440 for path in files}, setup=_SETUP,
                 overlays=_OVERLAYS)


def _np(name: str, dropins: Mapping[str, str | bytes], intent: str, main: str = _MAIN) -> Case:
    return Case("sudo.no-nopasswd", name, _state(dropins, main), _no_password_consumer(),
                intent)  # type: ignore[arg-type]


def _pty(name: str, dropins: Mapping[str, str | bytes], intent: str, main: str = _MAIN) -> Case:
    return Case("sudo.use-pty", name, _state(dropins, main), _pty_consumer(),
                intent)  # type: ignore[arg-type]


def _log(name: str, dropins: Mapping[str, str | bytes], intent: str, main: str = _MAIN) -> Case:
    return Case("sudo.logfile", name, _state(dropins, main), _log_consumer(),
                intent)  # type: ignore[arg-type]


_NOPASSWD = "alice ALL=(ALL) NOPASSWD: ALL\n"
_NO_PTY = _MAIN.replace("Defaults\tuse_pty\n", "")
_LOGFILE = "Defaults logfile=/var/log/sudo.log\n"

CASES = [
    _np("stock", {}, "pass"),
    _np("nopasswd-all", {"ops": _NOPASSWD}, "fail"),
    _np("nopasswd-one-command", {"ops": "alice ALL=(root) NOPASSWD: /usr/bin/id\n"}, "fail"),
    _np("dotted-name-skipped", {"ops.conf": _NOPASSWD}, "pass"),
    _np("backup-name-skipped", {"ops~": _NOPASSWD}, "pass"),
    _np("later-entry-asks", {"ops": _NOPASSWD + "alice ALL=(ALL:ALL) ALL\n"}, "pass"),
    _np("later-entry-in-main-after-includedir", {"ops": _NOPASSWD},
        "pass", _MAIN + "alice ALL=(ALL:ALL) ALL\n"),
    _np("earlier-entry-asks", {"ops": "alice ALL=(ALL:ALL) ALL\n" + _NOPASSWD}, "fail"),
    _np("tag-carries-along", {"ops": "alice ALL=(root) NOPASSWD: /usr/bin/true, "
                              "/usr/bin/id\n"}, "fail"),
    _np("passwd-tag-carries-along", {"ops": "alice ALL=(root) PASSWD: /usr/bin/true, "
                                     "/usr/bin/id\n"}, "pass"),
    _np("passwd-tag-resets-later-only", {"ops": "alice ALL=(root) NOPASSWD: /usr/bin/id, "
                                         "PASSWD: /usr/bin/true\n"}, "fail"),
    _np("crlf", {"ops": _NOPASSWD.replace("\n", "\r\n")}, "fail"),
    _np("commented", {"ops": b"# alice ALL=(ALL) NOPASSWD: ALL\n#\x1c\r " + _NOPASSWD.encode()},
        "pass"),
    _np("continued-line", {"ops": "alice ALL=(ALL) \\\n    NOPASSWD: ALL\n"}, "fail"),
    _np("uid-is-not-a-comment", {"ops": "#1500 ALL=(ALL) NOPASSWD: ALL\n"}, "fail"),
    _np("syntax-error-line-dropped", {"ops": "alice ALL=(ALL NOPASSWD: ALL\n"}, "pass"),
    _np("syntax-error-does-not-stop-the-rest", {"ops": "alice ALL=(ALL NOPASSWD: ALL\n"
                                                + _NOPASSWD}, "fail"),
    _np("old-includedir", {"ops": _NOPASSWD},
        "fail", _MAIN.replace("@includedir", "#includedir")),
    _np("user-alias", {"ops": "User_Alias OPS = alice\nOPS ALL=(ALL) NOPASSWD: ALL\n"}, "fail"),
    _np("cmnd-alias", {"ops": "Cmnd_Alias SAFE = /usr/bin/id\nalice ALL=(root) NOPASSWD: SAFE\n"},
        "fail"),
    _np("group", {"ops": "%sudo ALL=(ALL:ALL) NOPASSWD: ALL\n"}, "fail"),
    _np("other-runas-only", {"ops": "alice ALL=(nobody) NOPASSWD: ALL\n"}, "fail"),
    _np("include-relative", {"ops": "@include ops.inc\n", "ops.inc": _NOPASSWD}, "fail"),
    _np("include-absolute", {"ops": "#include /etc/sudoers.d/ops.inc\n", "ops.inc": _NOPASSWD},
        "fail"),
    _np("include-missing", {"ops": "@include /etc/sudoers.d/nothere\n"}, "pass"),
    _np("alias-no-authenticate", {"ops": "User_Alias ADMINS = bob\nDefaults:ADMINS "
                                  "!authenticate\n"}, "fail"),
    _np("global-no-authenticate", {"ops": "Defaults !authenticate\n"}, "fail"),
    _np("global-no-authenticate-reset", {"a": "Defaults !authenticate\n",
                                         "b": "Defaults authenticate\n"}, "pass"),
    _np("user-no-authenticate", {"ops": "Defaults:bob !authenticate\n"}, "fail"),
    _np("user-no-authenticate-then-global", {"a": "Defaults:bob !authenticate\n",
                                             "b": "Defaults authenticate\n"}, "pass"),
    _np("command-no-authenticate", {"a": "Defaults!/usr/bin/id !authenticate\n",
                                    "b": "Defaults authenticate\n"}, "fail"),
    _pty("stock", {}, "pass"),
    _pty("off-by-default-before-1.9.14", {}, "fail", _NO_PTY),
    _pty("negated", {"ops": "Defaults !use_pty\n"}, "fail"),
    _pty("user-negated", {"ops": "Defaults:bob !use_pty\n"}, "fail"),
    _pty("user-negated-then-global", {"a": "Defaults:bob !use_pty\n", "b": "Defaults use_pty\n"},
         "pass"),
    _pty("runas-negated", {"ops": "Defaults>root !use_pty\n"}, "fail"),
    _pty("command-negated-survives-global", {"a": "Defaults!/usr/bin/readlink !use_pty\n",
                                             "b": "Defaults use_pty\n"}, "fail"),
    _pty("dropin-turns-on", {"ops": "Defaults use_pty\n"}, "pass", _NO_PTY),
    _pty("nbsp-is-a-syntax-error", {"ops": "Defaults\u00a0use_pty\n"}, "fail", _NO_PTY),
    _log("stock", {}, "fail"),
    _log("set", {"log": _LOGFILE}, "pass"),
    _log("quoted", {"log": 'Defaults logfile="/var/log/sudo.log"\n'}, "pass"),
    _log("dotted-name-skipped", {"log.conf": _LOGFILE}, "fail"),
    _log("user-negated", {"log": _LOGFILE + "Defaults:bob !logfile\n"}, "fail"),
    _log("later-negated", {"a": _LOGFILE, "b": "Defaults !logfile\n"}, "fail"),
    _log("relative-path", {"log": "Defaults logfile=var/log/sudo.log\n"}, "fail"),
    _log("comma-list", {"log": "Defaults env_reset, logfile=/var/log/sudo.log, !lecture\n"},
         "pass"),
]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_consumer_decides(case: Case, tmp_path: Path) -> None:
    check_case(case, tmp_path)
