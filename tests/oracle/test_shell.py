"""Login shell start-up: real ``bash -l -i`` and ``sh -l -i`` (dash) decide TMOUT and umask.

Each state is laid over /etc in a mount namespace; a regular account ``alice`` is made there
with ``useradd -m`` (home files from /etc/skel) and /bin/bash. The shells are asked as root
and as alice, in the session umask init and sshd hand down (022): a rule passes only when
every one of them ends up compliant.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.oracle._oracle import Answer, Ask, Case, Consumer, State, case_id, check_case

_LIBC = ctypes.CDLL(ctypes.util.find_library("c"))
_USERS = (("root", "/root"), ("alice", "/home/alice"))
_SETUP = ("useradd -m -s /bin/bash alice",)
_OVERLAYS = ("/etc", "/home", "/var")


def _session(shell: str, command: str, user: str, home: str) -> Ask:
    """An interactive login shell of ``user``, started the way sshd and login start it."""
    return Ask(["sh", "-c", f"umask 022; cd {home}; exec {shell} -l -i -c '{command}'"],
               user=None if user == "root" else user,
               env={"HOME": home, "USER": user, "LOGNAME": user, "SHELL": shell})


def _tmout_consumer() -> Consumer:
    """bash arms ``alarm(atoi(TMOUT))`` before each prompt (eval.c read_command): the real
    libc atoi of the value the real bash ends up with decides."""
    def decide(answers: Sequence[Answer], parameters: Mapping[str, Any]) -> bool:
        limit = int(parameters["shell_timeout_max_s"])
        for answer in answers:
            match = re.search(r"TMOUT<(.*)>(set|unset)\n", answer.stdout, re.S)
            assert match, f"bash printed no TMOUT line: {answer.stdout!r} {answer.stderr!r}"
            if match.group(2) == "unset":
                return False
            seconds = _LIBC.atoi(match.group(1).encode("utf-8", "surrogateescape"))
            if not 1 <= seconds <= limit:
                return False
        return True
    command = 'if [ -n "${TMOUT+x}" ]; then printf "TMOUT<%s>set\\n" "$TMOUT"; ' \
              'else printf "TMOUT<>unset\\n"; fi'
    return Consumer("bash -l -i (TMOUT)",
                    [_session("/bin/bash", command, user, home) for user, home in _USERS],
                    decide)


def _umask_consumer() -> Consumer:
    """The umask builtin of the real shell after its start-up files: at most 0750 granted."""
    def decide(answers: Sequence[Answer], parameters: Mapping[str, Any]) -> bool:
        for answer in answers:
            match = re.search(r"^UMASK<([0-7]{4})>$", answer.stdout, re.M)
            assert match, f"the shell printed no umask: {answer.stdout!r} {answer.stderr!r}"
            if (0o777 & ~int(match.group(1), 8)) & ~0o750:
                return False
        return True
    asks = [_session(shell, 'printf "UMASK<%s>\\n" "$(umask)"', user, home)
            for shell in ("/bin/bash", "/bin/sh") for user, home in _USERS]
    return Consumer("bash -l -i and sh -l -i (umask)", asks, decide)


def _pam_session_consumer() -> Consumer:
    """A session opened through PAM (``su -``: its stack includes common-session, as
    login's and sshd's do on Debian), then the user's interactive login shell."""
    def decide(answers: Sequence[Answer], parameters: Mapping[str, Any]) -> bool:
        return _umask_consumer().decide(answers, parameters)
    asks = [Ask(["su", "-", user, "-s", "/bin/sh", "-c",
                 f"exec {shell} -l -i -c 'printf \"UMASK<%s>\\n\" \"$(umask)\"'"],
                env={"HOME": "/root"})
            for shell in ("/bin/bash", "/bin/sh") for user, _ in _USERS]
    return Consumer("su - then bash -l -i / sh -l -i (pam_umask and umask)", asks, decide)


def _state(files: Mapping[str, str | bytes | None], modes: Mapping[str, int] | None = None,
           setup: Sequence[str] = ()) -> State:
    return State(files=files, modes=modes or {}, setup=(*_SETUP, *setup), overlays=_OVERLAYS)


_PROFILE = Path("/etc/profile").read_text() if Path("/etc/profile").exists() else ""
_BASHRC = Path("/etc/bash.bashrc").read_text() if Path("/etc/bash.bashrc").exists() else ""
_TM = "auth.shell-timeout"
_UM = "files.default-umask"
_RO600 = "TMOUT=600\nreadonly TMOUT\nexport TMOUT\n"


def _tm(name: str, files: Mapping[str, str | bytes | None], intent: str,
        modes: Mapping[str, int] | None = None) -> Case:
    return Case(_TM, name, _state(files, modes), _tmout_consumer(), intent)  # type: ignore[arg-type]


def _um(name: str, files: Mapping[str, str | bytes | None], intent: str,
        modes: Mapping[str, int] | None = None) -> Case:
    return Case(_UM, name, _state(files, modes), _umask_consumer(), intent)  # type: ignore[arg-type]


CASES = [
    _tm("stock", {}, "fail"),
    _tm("profile-d-readonly", {"/etc/profile.d/99-tmout.sh": _RO600}, "pass"),
    # The false pass: /etc/profile's own lines after its profile.d loop run last.
    _tm("after-loop-resets", {"/etc/profile.d/99-tmout.sh": "TMOUT=600\nexport TMOUT\n",
                              "/etc/profile": _PROFILE + "TMOUT=0\n"}, "fail"),
    _tm("after-loop-refused-by-readonly", {"/etc/profile.d/99-tmout.sh": _RO600,
                                           "/etc/profile": _PROFILE + "TMOUT=0\n"}, "pass"),
    _tm("later-file-resets", {"/etc/profile.d/10-tmout.sh": "TMOUT=600\n",
                              "/etc/profile.d/zz.sh": "TMOUT=0\n"}, "fail"),
    _tm("bashrc-before-loop", {"/etc/bash.bashrc": _BASHRC + "TMOUT=0\n",
                               "/etc/profile.d/99-tmout.sh": "TMOUT=600\n"}, "pass"),
    _tm("bashrc-after-readonly-loop", {"/etc/bash.bashrc": _BASHRC + _RO600,
                                       "/etc/profile.d/zz.sh": "TMOUT=0\n"}, "pass"),
    _tm("not-dot-sh", {"/etc/profile.d/tmout": _RO600}, "fail"),
    _tm("dot-file-not-globbed", {"/etc/profile.d/.tmout.sh": _RO600}, "fail"),
    _tm("only-non-root", {"/etc/profile.d/tmout.sh":
                          'if [ "$(id -u)" -ne 0 ]; then\n  TMOUT=600\nfi\n'}, "fail"),
    _tm("both-branches", {"/etc/profile.d/tmout.sh":
                          'if [ "$(id -u)" -eq 0 ]; then TMOUT=300; else TMOUT=600; fi\n'},
        "pass"),
    _tm("export-without-value", {"/etc/profile.d/tmout.sh": "export TMOUT\n"}, "fail"),
    _tm("too-long", {"/etc/profile.d/tmout.sh": "export TMOUT=900\n"}, "fail"),
    _tm("atoi-suffix", {"/etc/profile.d/tmout.sh": "TMOUT=300s\n"}, "pass"),
    _tm("crlf-value-still-counts", {"/etc/profile.d/tmout.sh": "TMOUT=600\r\nexport TMOUT\r\n"},
        "pass"),
    _tm("crlf-readonly-refused", {"/etc/profile.d/10-tmout.sh": "TMOUT=600\r\nreadonly TMOUT\r\n",
                                  "/etc/profile.d/zz.sh": "TMOUT=0\n"}, "fail"),
    _tm("control-char-comment", {"/etc/profile.d/tmout.sh":
                                 b"#\r\x1c\x85 TMOUT=0\nTMOUT=600 #\x0bTMOUT=0\n"}, "pass"),
    _tm("return-in-sourced", {"/etc/profile.d/10-tmout.sh": "TMOUT=600\n",
                              "/etc/profile.d/zz.sh": '[ -n "$PS1" ] && return\nTMOUT=0\n'},
        "pass"),
    _tm("return-when-not-interactive", {"/etc/profile.d/10-tmout.sh": "TMOUT=600\n",
                                        "/etc/profile.d/zz.sh":
                                        '[ -z "$PS1" ] && return\nTMOUT=0\n'}, "fail"),
    _tm("unreadable-to-users", {"/etc/profile.d/99-tmout.sh": _RO600}, "fail",
        {"/etc/profile.d/99-tmout.sh": 0o600}),
    _tm("syntax-error-stops-file", {"/etc/profile.d/tmout.sh": "TMOUT=600\nif then\nTMOUT=0\n"},
        "pass"),
    _tm("subshell-changes-nothing", {"/etc/profile.d/tmout.sh": "TMOUT=600\n( TMOUT=0 )\n"
                                     "TMOUT=0 | cat\n"}, "pass"),
    _tm("unset-readonly-fails", {"/etc/profile.d/tmout.sh": "readonly TMOUT=600\nunset TMOUT\n"},
        "pass"),
    _tm("unset-clears", {"/etc/profile.d/tmout.sh": "TMOUT=600\nunset TMOUT\n"}, "fail"),
    _tm("declare-rx", {"/etc/profile.d/tmout.sh": "declare -rx TMOUT=450\n"}, "pass"),
    _tm("sourced-outside-etc", {"/etc/profile.d/tmout.sh": ". /usr/local/lib/cii-tmout\n",
                                "/usr/local/lib/cii-tmout": _RO600}, "pass"),
    _tm("sourced-missing", {"/etc/profile.d/tmout.sh": "TMOUT=600\n. /usr/local/lib/nothere\n"},
        "pass"),
    _um("stock", {}, "fail"),
    # root reads the root-only file, alice cannot: its content never leaves the host, so the
    # scanner cannot know what root gets and says error, never pass.
    Case(_UM, "sourced-root-only", _state({"/etc/profile.d/umask.sh": ". /usr/local/lib/um\n",
                                           "/usr/local/lib/um": "umask 027\n"},
                                          {"/usr/local/lib/um": 0o600}),
         _umask_consumer(), "fail", noncompliant_verdict="error"),
    _um("profile-d", {"/etc/profile.d/99-umask.sh": "umask 027\n"}, "pass"),
    _um("after-loop-resets", {"/etc/profile.d/99-umask.sh": "umask 027\n",
                              "/etc/profile": _PROFILE + "umask 022\n"}, "fail"),
    _um("after-loop-sets", {"/etc/profile.d/99-umask.sh": "umask 022\n",
                            "/etc/profile": _PROFILE + "umask 027\n"}, "pass"),
    _um("bash-bashrc-only", {"/etc/bash.bashrc": _BASHRC + "umask 027\n"}, "fail"),
    _um("only-non-root", {"/etc/profile.d/umask.sh":
                          'if [ "$(id -u)" -ne 0 ]; then umask 027; fi\n'}, "fail"),
    _um("both-branches", {"/etc/profile.d/umask.sh":
                          'if [ "$(id -u)" -eq 0 ]; then umask 077; else umask 027; fi\n'},
        "pass"),
    _um("crlf-refused", {"/etc/profile.d/umask.sh": "umask 027\r\n"}, "fail"),
    _um("symbolic", {"/etc/profile.d/umask.sh": "umask u=rwx,g=rx,o=\n"}, "pass"),
    _um("symbolic-open", {"/etc/profile.d/umask.sh": "umask 027\numask o+r\n"}, "fail"),
    _um("short-octal", {"/etc/profile.d/umask.sh": "umask 27\n"}, "pass"),
    _um("not-dot-sh", {"/etc/profile.d/umask.conf": "umask 027\n"}, "fail"),
    _um("unreadable-to-users", {"/etc/profile.d/99-umask.sh": "umask 027\n"}, "fail",
        {"/etc/profile.d/99-umask.sh": 0o600}),
    _um("subshell", {"/etc/profile.d/umask.sh": "( umask 027 )\n"}, "fail"),
    Case(_UM, "pam-umask-login-defs", _state({}, setup=(
        "echo 'session optional pam_umask.so' >> /etc/pam.d/common-session",
        "sed -i 's/^UMASK.*/UMASK 027/' /etc/login.defs")), _pam_session_consumer(), "pass"),
    Case(_UM, "login-defs-without-pam-umask", _state({}, setup=(
        "sed -i 's/^UMASK.*/UMASK 027/' /etc/login.defs",)), _pam_session_consumer(), "fail"),
    Case(_UM, "pam-umask-then-profile-022", _state(
        {"/etc/profile.d/zz.sh": "umask 022\n"},
        setup=("echo 'session optional pam_umask.so' >> /etc/pam.d/common-session",
               "sed -i 's/^UMASK.*/UMASK 027/' /etc/login.defs")),
        _pam_session_consumer(), "fail"),
    # RHEL's /etc/profile and /etc/bashrc block: 002 for a user whose group is named as
    # the user (alice), 022 for the others
    _um("rhel-usergroups-block", {"/etc/profile.d/umask.sh":
                                  'if [ $UID -gt 199 ] && [ "`/usr/bin/id -gn`" = '
                                  '"`/usr/bin/id -un`" ]; then\n    umask 002\nelse\n'
                                  '    umask 022\nfi\n'}, "fail"),
    _um("out-of-range-refused", {"/etc/profile.d/umask.sh": "umask 027\numask 0800\n"}, "pass"),
]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_consumer_decides(case: Case, tmp_path: Path) -> None:
    check_case(case, tmp_path)
