"""PAM rules decided by the real libpam: pam_authenticate / pam_chauthtok in the case's state,
and the real ``su``.

Every state writes a whole /etc/pam.d (Debian 12's layout, ``@include common-*``), so the
machine's own PAM files never decide a case. Accounts are made in the overlay with
``useradd -M`` (no home directory: /home is not overlaid).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.oracle._oracle import Answer, Ask, Case, Consumer, State, case_id, check_case
from tests.oracle._pam import pam_ask, pam_succeeded

COMMON_AUTH = ("auth\t[success=1 default=ignore]\tpam_unix.so\n"
               "auth\trequisite\t\t\tpam_deny.so\n"
               "auth\trequired\t\t\tpam_permit.so\n")
COMMON_ACCOUNT = ("account\t[success=1 new_authtok_reqd=done default=ignore]\tpam_unix.so\n"
                  "account\trequisite\t\t\tpam_deny.so\naccount\trequired\t\t\tpam_permit.so\n")
COMMON_PASSWORD = ("password\t[success=1 default=ignore]\tpam_unix.so obscure yescrypt\n"
                   "password\trequisite\t\t\tpam_deny.so\n"
                   "password\trequired\t\t\tpam_permit.so\n")
COMMON_SESSION = "session\trequired\tpam_permit.so\nsession\trequired\tpam_unix.so\n"
SU = ("auth       sufficient pam_rootok.so\n"
      "@include common-auth\n@include common-account\n@include common-session\n")
BASE: dict[str, str | bytes | None] = {
    "/etc/pam.d/common-auth": COMMON_AUTH,
    "/etc/pam.d/common-account": COMMON_ACCOUNT,
    "/etc/pam.d/common-password": COMMON_PASSWORD,
    "/etc/pam.d/common-session": COMMON_SESSION,
    "/etc/pam.d/login": "auth optional pam_faildelay.so delay=3000000\n@include common-auth\n"
    "@include common-account\n@include common-session\n@include common-password\n",
    "/etc/pam.d/sshd": "@include common-auth\naccount required pam_nologin.so\n"
    "@include common-account\n@include common-session\n@include common-password\n",
    "/etc/pam.d/passwd": "@include common-password\n",
    "/etc/pam.d/su": SU,
    "/etc/pam.d/other": "@include common-auth\n@include common-account\n"
    "@include common-password\n@include common-session\n",
    "/etc/security/faillock.conf": "",
    # setup's chpasswd must not go through the password stack under test
    "/etc/pam.d/chpasswd": "password required pam_unix.so yescrypt\n",
}
EMPTY_USER = ["useradd -M alice", "passwd -d alice >/dev/null"]


def pam_state(files: Mapping[str, str | bytes | None] | None = None,
              setup: Sequence[str] = (), overlays: Sequence[str] = ()) -> State:
    return State(files={**BASE, **(files or {})}, setup=list(setup),
                 overlays=["/etc", "/run", *overlays])


def _all_refused(answers: Sequence[Answer], parameters: Mapping[str, Any]) -> bool:
    return not any(pam_succeeded(answer) for answer in answers)


EMPTY_LOGIN = Consumer("libpam pam_authenticate", [
    pam_ask("login", "alice", ["", "", ""]), pam_ask("sshd", "alice", ["", "", ""])],
    _all_refused)


def nullok(name: str, intent: str, files: Mapping[str, str | bytes | None],
           setup: Sequence[str] = ()) -> Case:
    return Case("auth.pam-nullok-absent", name, pam_state(files, [*EMPTY_USER, *setup]),
                EMPTY_LOGIN, intent)  # type: ignore[arg-type]


NULLOK_CASES = [
    nullok("stock-without-nullok", "pass", {}),
    nullok("debian-nullok", "fail",
           {"/etc/pam.d/common-auth": COMMON_AUTH.replace("pam_unix.so", "pam_unix.so nullok")}),
    nullok("nullok_secure-is-nullok", "fail",
           {"/etc/pam.d/common-auth": COMMON_AUTH.replace("pam_unix.so",
                                                          "pam_unix.so nullok_secure")}),
    # pam_unix matches option names by prefix: "nullok\r" is nullok
    nullok("crlf-nullok", "fail",
           {"/etc/pam.d/common-auth": COMMON_AUTH.replace("pam_unix.so\n",
                                                          "pam_unix.so nullok\r\n")}),
    nullok("second-unix-line-nullok", "fail",
           {"/etc/pam.d/common-auth": "auth [success=2 default=ignore] pam_unix.so\n"
            "auth [success=1 default=ignore] pam_unix.so nullok try_first_pass\n"
            "auth requisite pam_deny.so\nauth required pam_permit.so\n"}),
    nullok("comment-with-cr-stays-comment", "pass",
           {"/etc/pam.d/common-auth": "#\rauth sufficient pam_unix.so nullok\n" + COMMON_AUTH}),
    nullok("nullok-line-jumped-over", "pass",
           {"/etc/pam.d/common-auth": "auth [success=2 default=ignore] pam_unix.so\n"
            "auth requisite pam_deny.so\n"
            "auth sufficient pam_unix.so nullok\n"
            "auth required pam_deny.so\n"}),
    nullok("nullok-after-requisite-deny", "pass",
           {"/etc/pam.d/common-auth": "auth requisite pam_deny.so\n"
            "auth sufficient pam_unix.so nullok\n"}),
    nullok("nullok-in-continued-line", "fail",
           {"/etc/pam.d/common-auth": "auth [success=1 default=ignore] \\\n"
            "# a comment inside the continuation\n  pam_unix.so \\\n nullok\n"
            "auth requisite pam_deny.so\nauth required pam_permit.so\n"}),
    nullok("nullok-only-in-sshd", "fail",
           {"/etc/pam.d/sshd": "auth sufficient pam_unix.so nullok\n@include common-auth\n"
            "@include common-account\n"}),
    nullok("sshd-file-missing-other-has-nullok", "fail",
           {"/etc/pam.d/sshd": None,
            "/etc/pam.d/other": "auth sufficient pam_unix.so nullok\nauth required pam_deny.so\n"}),
    nullok("nullok-in-substack-then-deny", "pass",
           {"/etc/pam.d/common-auth": "auth substack unix-sub\nauth requisite pam_deny.so\n",
            "/etc/pam.d/unix-sub": "auth sufficient pam_unix.so nullok\n"}),
    nullok("nullok-in-included-stack", "fail",
           {"/etc/pam.d/common-auth": "auth include unix-sub\nauth requisite pam_deny.so\n",
            "/etc/pam.d/unix-sub": "auth sufficient pam_unix.so nullok\n"}),
    nullok("uppercase-type-and-control", "fail",
           {"/etc/pam.d/common-auth": "AUTH SUFFICIENT pam_unix.so nullok\n"
            "auth required pam_deny.so\n"}),
    nullok("full-module-path", "fail",
           {"/etc/pam.d/common-auth": "auth sufficient "
            "/lib/x86_64-linux-gnu/security/pam_unix.so nullok\nauth required pam_deny.so\n"}),
    nullok("missing-optional-module-is-ignored", "fail",
           {"/etc/pam.d/common-auth": "-auth sufficient pam_nonexistent.so\n"
            "auth sufficient pam_unix.so nullok\nauth required pam_deny.so\n"}),
    nullok("missing-required-module-fails", "pass",
           {"/etc/pam.d/common-auth": "auth required pam_nonexistent.so\n"
            "auth sufficient pam_unix.so nullok\n"}),
    nullok("cr-line-fails-the-stack", "pass",
           {"/etc/pam.d/common-auth": "\r\n" + COMMON_AUTH.replace("pam_unix.so",
                                                                    "pam_unix.so nullok")}),
]


ROOT_PASSWORD = "Rootpw-42x"
SU_BY_NON_MEMBER = Consumer("su (util-linux) as a user outside the group", [
    Ask(["su", "-c", "true", "root"], stdin=f"{ROOT_PASSWORD}\n".encode(), user="bob")],
    lambda answers, parameters: not answers[0].ok)


def su(name: str, intent: str, su_file: str, files: Mapping[str, str | bytes | None] | None
       = None, setup: Sequence[str] = ()) -> Case:
    return Case("auth.su-restricted", name,
                pam_state({"/etc/pam.d/su": su_file, **(files or {})},
                          ["useradd -M bob", f"echo 'root:{ROOT_PASSWORD}' | chpasswd",
                           *setup]),
                SU_BY_NON_MEMBER, intent)  # type: ignore[arg-type]


WHEEL = "auth       required   pam_wheel.so use_uid\n"
SU_CASES = [
    su("debian-stock-no-wheel", "fail", SU),
    su("wheel-required", "pass",
       SU.replace("@include common-auth", WHEEL + "@include common-auth")),
    su("wheel-comment-with-cr", "fail", SU.replace("@include common-auth",
                                                   "#\r" + WHEEL + "@include common-auth")),
    su("wheel-optional", "fail", SU.replace("@include common-auth",
                                            WHEEL.replace("required", "optional")
                                            + "@include common-auth")),
    su("wheel-sufficient", "fail", SU.replace("@include common-auth",
                                              WHEEL.replace("required", "sufficient")
                                              + "@include common-auth")),
    su("wheel-after-common-auth", "pass", SU + WHEEL),
    su("wheel-jumped-over", "fail", SU.replace(
        "@include common-auth", "auth [success=1 default=ignore] pam_permit.so\n" + WHEEL
        + "@include common-auth")),
    su("wheel-missing-group", "pass", SU.replace(
        "@include common-auth", WHEEL.replace("use_uid", "use_uid group=nosuchgroup")
        + "@include common-auth")),
    su("wheel-deny-of-other-group", "fail", SU.replace(
        "@include common-auth", WHEEL.replace("use_uid", "use_uid deny group=root")
        + "@include common-auth")),
    su("wheel-requisite-in-substack", "pass",
       SU.replace("@include common-auth", "auth substack su-wheel\n@include common-auth"),
       {"/etc/pam.d/su-wheel": WHEEL.replace("required", "requisite")}),
    su("wheel-without-use_uid", "pass", SU.replace(
        "@include common-auth", "auth required pam_wheel.so\n@include common-auth")),
    su("wheel-bracket-control", "pass", SU.replace(
        "@include common-auth", "auth [success=ignore ignore=ignore default=die] "
        "pam_wheel.so use_uid\n@include common-auth")),
    su("wheel-default-ignore", "fail", SU.replace(
        "@include common-auth", "auth [success=ok default=ignore] pam_wheel.so use_uid\n"
        "@include common-auth")),
    su("su-file-missing-other-used", "fail", SU, {"/etc/pam.d/su": None}),
]

RIGHT = "Right-pw-42x"
# libfaketime: every attempt starts at the same moment, the last one 599 s after it
NOW = ["faketime", "-f", "@2030-01-01 00:00:00"]
LATER = ["faketime", "-f", "@2030-01-01 00:09:59"]


def _lockout_asks(service: str, user: str) -> list[Ask]:
    return [*[pam_ask(service, user, ["wrong-password"], prefix=NOW) for _ in range(5)],
            pam_ask(service, user, [RIGHT], prefix=NOW),
            pam_ask(service, user, [RIGHT], prefix=LATER)]


def _locked(answers: Sequence[Answer], parameters: Mapping[str, Any]) -> bool:
    """After 5 wrong passwords the right one is refused, and still 599 s later."""
    assert (parameters["lockout_deny_max"], parameters["lockout_unlock_min_s"]) == (5, 600)
    for start in (0, 7):
        assert not any(pam_succeeded(a) for a in answers[start:start + 5]), "a wrong one got in"
        if pam_succeeded(answers[start + 5]) or pam_succeeded(answers[start + 6]):
            return False
    return True


LOCKOUT = Consumer("libpam pam_authenticate (faketime for later)",
                   [*_lockout_asks("login", "alice"), *_lockout_asks("sshd", "bob")], _locked)
FAILLOCK_STACK = ("auth required pam_faillock.so preauth\n"
                  "auth [success=1 default=ignore] pam_unix.so\n"
                  "auth [default=die] pam_faillock.so authfail\n"
                  "auth sufficient pam_faillock.so authsucc\n"
                  "auth requisite pam_deny.so\nauth required pam_permit.so\n")


def lockout(name: str, intent: str, common_auth: str, conf: str = "",
            files: Mapping[str, str | bytes | None] | None = None,
            setup: Sequence[str] = ()) -> Case:
    users = ["useradd -M alice", "useradd -M bob",
             f"printf 'alice:{RIGHT}\\nbob:{RIGHT}\\n' | chpasswd", "rm -rf /run/faillock"]
    return Case("auth.login-lockout", name,
                pam_state({"/etc/pam.d/common-auth": common_auth,
                           "/etc/security/faillock.conf": conf, **(files or {})},
                          [*users, *setup]),
                LOCKOUT, intent)  # type: ignore[arg-type]


LOCK_5 = "deny = 5\nunlock_time = 600\n"
# authselect's sssd profile with-faillock (pam_sss is not installed here: a missing module)
RHEL_AUTH = ("auth required pam_env.so\nauth required pam_faildelay.so delay=2000000\n"
             "auth required pam_faillock.so preauth silent\n"
             "auth [default=1 ignore=ignore success=ok] pam_usertype.so isregular\n"
             "auth [default=1 ignore=ignore success=ok] pam_localuser.so\n"
             "auth sufficient pam_unix.so\n"
             "auth [default=1 ignore=ignore success=ok] pam_usertype.so isregular\n"
             "auth sufficient pam_sss.so forward_pass\n"
             "auth required pam_faillock.so authfail\nauth required pam_deny.so\n")
LOCKOUT_CASES = [
    lockout("no-faillock", "fail", COMMON_AUTH),
    lockout("faillock-deny5-unlock600", "pass", FAILLOCK_STACK, LOCK_5),
    lockout("faillock-module-defaults", "pass", FAILLOCK_STACK),
    lockout("deny-6", "fail", FAILLOCK_STACK, "deny = 6\n"),
    lockout("unlock-300", "fail", FAILLOCK_STACK, "unlock_time = 300\n"),
    lockout("unlock-never", "pass", FAILLOCK_STACK, "deny=5\nunlock_time=never\n"),
    lockout("arguments-override-conf", "pass",
            FAILLOCK_STACK.replace("preauth", "preauth deny=5").replace(
                "authfail", "authfail deny=5").replace("authsucc", "authsucc deny=5"),
            "deny = 10\n"),
    # the authsucc line's own deny=10 resets the tally while the account is locked
    lockout("authsucc-with-higher-deny-unlocks", "fail",
            FAILLOCK_STACK.replace("preauth", "preauth deny=5").replace(
                "authfail", "authfail deny=5"), "deny = 10\n"),
    lockout("conf-double-equals-keeps-default", "pass", FAILLOCK_STACK, "deny == 9\n"),
    lockout("conf-comment-with-cr", "pass", FAILLOCK_STACK, "#\rdeny = 9\ndeny = 4\n"),
    lockout("sufficient-unix-before-preauth", "fail",
            "auth sufficient pam_unix.so\n" + FAILLOCK_STACK, LOCK_5),
    lockout("no-authfail-line", "fail", "auth required pam_faillock.so preauth\n"
            + COMMON_AUTH, LOCK_5),
    # the fixture no-authfail-line with its pam_unix line repeated: success=1 of the first
    # copy skips the second and lands on pam_deny, so the right password never gets in
    lockout("repeated-jump-line-refuses-everyone", "pass",
            "auth required pam_faillock.so preauth\n"
            "auth [success=1 default=ignore] pam_unix.so\n" + COMMON_AUTH, LOCK_5),
    lockout("authfail-optional-still-counts", "pass",
            "auth required pam_faillock.so preauth\n"
            "auth [success=2 default=ignore] pam_unix.so\n"
            "auth optional pam_faillock.so authfail\nauth requisite pam_deny.so\n"
            "auth sufficient pam_faillock.so authsucc\nauth required pam_permit.so\n", LOCK_5),
    lockout("preauth-optional-authsucc-still-locks", "pass",
            FAILLOCK_STACK.replace("required pam_faillock.so preauth",
                                   "optional pam_faillock.so preauth"), LOCK_5),
    lockout("preauth-optional-unix-sufficient", "fail",
            "auth optional pam_faillock.so preauth\nauth sufficient pam_unix.so\n"
            "auth [default=die] pam_faillock.so authfail\n", LOCK_5),
    lockout("preauth-commented-with-cr", "fail",
            "#\rauth required pam_faillock.so preauth\nauth sufficient pam_unix.so\n"
            "auth [default=die] pam_faillock.so authfail\n", LOCK_5),
    lockout("fail-interval-0-counts-nothing", "fail", FAILLOCK_STACK,
            LOCK_5 + "fail_interval = 0\n"),
    lockout("separate-tally-dirs", "fail",
            FAILLOCK_STACK.replace("preauth", "preauth dir=/run/fl-a").replace(
                "authfail", "authfail dir=/run/fl-b").replace(
                "authsucc", "authsucc dir=/run/fl-a"), LOCK_5,
            setup=["mkdir -p /run/fl-a /run/fl-b"]),
    lockout("faillock-only-for-login", "fail", COMMON_AUTH, LOCK_5,
            {"/etc/pam.d/login": "auth required pam_faillock.so preauth\n"
             "auth [success=1 default=ignore] pam_unix.so\n"
             "auth [default=die] pam_faillock.so authfail\n"
             "auth sufficient pam_faillock.so authsucc\nauth requisite pam_deny.so\n"
             "@include common-account\n"}),
    lockout("deny-as-negative-wraps-to-65531", "fail", FAILLOCK_STACK, "deny = -5\n"),
    # the fixture auth.login-lockout:argument-overrides-conf: authsucc reads deny = 5
    lockout("preauth-deny10-conf-deny5", "pass",
            FAILLOCK_STACK.replace("preauth", "preauth deny=10"), LOCK_5 + "even_deny_root\n"),
    lockout("rhel-authselect-style", "pass", RHEL_AUTH, LOCK_5),
    # authfail (deny 3 from the defaults) stops recording at 3: preauth's 5 is never reached
    lockout("preauth-deny-above-authfail-deny", "fail",
            "auth required pam_faillock.so preauth deny=5\nauth sufficient pam_unix.so\n"
            "auth [default=die] pam_faillock.so authfail\n"),
]

STRONG = "Zq7-x9Kv#b3W"  # 12 characters, 4 classes
SHORT = "Ab1-xyz"  # 7 characters, 4 classes
TWO_CLASSES = "qzmxkwpr7tvb3n"  # 14 characters, lower case and digits


def _change(user: str, new: str, old: str = RIGHT) -> Ask:
    return pam_ask("passwd", user, [old, *[new] * 8], calls=["pam_chauthtok"], as_user=user)


def _weak_refused(answers: Sequence[Answer], parameters: Mapping[str, Any]) -> bool:
    """A 7-character and a 2-class password are refused (a strong one is taken)."""
    assert (parameters["password_min_length"], parameters["password_min_classes"]) == (8, 3)
    assert pam_succeeded(answers[2]), "the state refuses even a strong password"
    return not pam_succeeded(answers[0]) and not pam_succeeded(answers[1])


QUALITY = Consumer("libpam pam_chauthtok as the user",
                   [_change("alice", SHORT), _change("bob", TWO_CLASSES),
                    _change("carol", STRONG)], _weak_refused)
PWQ = "password requisite pam_pwquality.so retry=3\n"
UNIX_AFTER = ("password [success=1 default=ignore] pam_unix.so obscure use_authtok "
              "try_first_pass yescrypt\npassword requisite pam_deny.so\n"
              "password required pam_permit.so\n")


UNIX_PROMPTS = UNIX_AFTER.replace(" use_authtok try_first_pass", "")


def quality(name: str, intent: str, common_password: str, conf: str = "",
            files: Mapping[str, str | bytes | None] | None = None) -> Case:
    users = ["useradd -M alice", "useradd -M bob", "useradd -M carol",
             f"printf 'alice:{RIGHT}\\nbob:{RIGHT}\\ncarol:{RIGHT}\\n' | chpasswd"]
    return Case("auth.password-complexity", name,
                pam_state({"/etc/pam.d/common-password": common_password,
                           "/etc/security/pwquality.conf": conf, **(files or {})}, users),
                QUALITY, intent)  # type: ignore[arg-type]


MIN_8_3 = "minlen = 8\nminclass = 3\n"
QUALITY_CASES = [
    quality("no-pwquality", "fail", COMMON_PASSWORD),
    quality("pwquality-minlen8-minclass3", "pass", PWQ + UNIX_AFTER, MIN_8_3),
    quality("pwquality-defaults", "fail", PWQ + UNIX_AFTER),
    # a rejected password is never set as PAM_AUTHTOK: pam_unix use_authtok then fails
    quality("pwquality-optional-use_authtok", "pass",
            PWQ.replace("requisite", "optional") + UNIX_AFTER, MIN_8_3),
    quality("pwquality-optional-unix-prompts", "fail",
            PWQ.replace("requisite", "optional") + UNIX_PROMPTS, MIN_8_3),
    quality("pwquality-after-unix-jump", "fail",
            "password [success=2 default=ignore] pam_unix.so obscure yescrypt\n" + PWQ
            + "password requisite pam_deny.so\npassword required pam_permit.so\n", MIN_8_3),
    quality("enforcing-0", "fail", PWQ + UNIX_AFTER, MIN_8_3 + "enforcing = 0\n"),
    quality("drop-in-adds-minclass", "pass", PWQ + UNIX_AFTER, "minlen = 8\n",
            {"/etc/security/pwquality.conf.d/50-classes.conf": "minclass = 3\n"}),
    quality("bad-line-stops-reading", "fail", PWQ + UNIX_AFTER,
            "minlen = 8\nbogus = 1\nminclass = 3\n"),
    quality("arguments-override-conf", "pass",
            PWQ.replace("retry=3", "retry=3 minclass=3") + UNIX_AFTER,
            "minlen = 8\nminclass = 1\n"),
    quality("negative-credits", "pass", PWQ + UNIX_AFTER,
            "minlen = 8\ndcredit = -1\nucredit = -1\nlcredit = -1\n"),
    quality("positive-credits-shorten", "fail", PWQ + UNIX_AFTER,
            MIN_8_3 + "dcredit = 1\nucredit = 1\nocredit = 1\n"),
    quality("crlf-conf", "pass", PWQ + UNIX_AFTER, "minlen = 8\r\nminclass = 3\r\n"),
    quality("comment-with-cr", "pass", PWQ + UNIX_AFTER, MIN_8_3 + "#\rminclass = 1\n"),
    quality("maxtries-ignored", "fail",
            "password [success=ok maxtries=ignore default=die] pam_pwquality.so retry=3\n"
            + UNIX_PROMPTS, MIN_8_3),
    quality("authtok_err-ignored-but-maxtries-dies", "pass",
            "password [success=ok authtok_err=ignore default=die] pam_pwquality.so retry=3\n"
            + UNIX_PROMPTS, MIN_8_3),
]

OLD = ["Kq8#vT2m!Lp9", "Wz3$hN7c@Rf5", "Bx6%jM4d&Yt1", "Gs9^kP2e*Qn7"]


def _reuse_asks() -> list[Ask]:
    chain = [RIGHT, *OLD]
    return [*[_change("dave", new, old) for old, new in itertools.pairwise(chain)],
            _change("dave", RIGHT, OLD[-1])]


def _reuse_refused(answers: Sequence[Answer], parameters: Mapping[str, Any]) -> bool:
    """After 4 changes the first password, the 5th most recent one, cannot be set again
    (pam_pwhistory's remember=N counts the password being replaced)."""
    assert parameters["password_history_min"] == 5
    assert all(pam_succeeded(a) for a in answers[:4]), "a fresh password was refused"
    return not pam_succeeded(answers[4])


HISTORY = Consumer("libpam pam_chauthtok as the user", _reuse_asks(), _reuse_refused)
PWH = "password required pam_pwhistory.so remember=5\n"  # it asks for the new password


def history(name: str, intent: str, common_password: str,
            files: Mapping[str, str | bytes | None] | None = None) -> Case:
    return Case("auth.password-history", name,
                pam_state({"/etc/pam.d/common-password": common_password, **(files or {})},
                          ["useradd -M dave", f"echo 'dave:{RIGHT}' | chpasswd"]),
                HISTORY, intent)  # type: ignore[arg-type]


HISTORY_CASES = [
    history("no-history", "fail", COMMON_PASSWORD),
    history("pwhistory-remember-5", "pass", PWH + UNIX_AFTER),
    history("pwhistory-remember-4", "fail", PWH.replace("=5", "=4") + UNIX_AFTER),
    history("pwhistory-default-10", "pass", PWH.replace(" remember=5", "") + UNIX_AFTER),
    # Linux-PAM 1.5.2's pam_pwhistory reads no pwhistory.conf
    history("pwhistory-conf-ignored-by-1.5.2", "pass", PWH.replace(" remember=5", "")
            + UNIX_AFTER, {"/etc/security/pwhistory.conf": "remember = 2\n"}),
    # the refused password is not left for pam_unix use_authtok, which then fails
    history("pwhistory-optional-use_authtok", "pass",
            PWH.replace("required", "optional") + UNIX_AFTER),
    history("pwhistory-optional-unix-prompts", "fail",
            PWH.replace("required", "optional") + UNIX_PROMPTS),
    history("pwhistory-after-pwquality", "pass",
            PWQ + PWH.replace("=5", "=5 use_authtok") + UNIX_AFTER),
    history("pwhistory-after-unix-jump", "fail",
            "password [success=2 default=ignore] pam_unix.so obscure yescrypt\n" + PWH
            + "password requisite pam_deny.so\npassword required pam_permit.so\n"),
    history("unix-remember-5", "pass", UNIX_AFTER.replace("obscure", "obscure remember=5")
            .replace(" use_authtok try_first_pass", "")),
    history("remember-0", "fail", PWH.replace("=5", "=0") + UNIX_PROMPTS),
    history("uppercase-remember", "pass", PWH.replace("remember=5", "REMEMBER=5") + UNIX_AFTER),
]

CASES: list[Case] = [*NULLOK_CASES, *SU_CASES, *LOCKOUT_CASES, *QUALITY_CASES, *HISTORY_CASES]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_consumer_decides(case: Case, tmp_path: Path) -> None:
    check_case(case, tmp_path)

