"""login.defs and useradd defaults: shadow-utils itself decides.

For the ageing rules the consumer is ``useradd`` creating an account in the state's
overlay, then ``chage -l`` showing what that new account really got from login.defs
(``getdef_num`` with its fallbacks and "configuration error" on a bad number). For
INACTIVE it is the same new account's shadow field 7 (``getent shadow``). For
ENCRYPT_METHOD it is ``chgpasswd`` (shadow-utils, no PAM: it hashes with
``crypt_make_salt``, which reads ENCRYPT_METHOD) setting a group password, and the hash
prefix it wrote to /etc/gshadow. The states start from this machine's own files (Debian
12, shadow-utils 4.13) and replace the lines the rule looks at.
"""

from __future__ import annotations

import re
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

_LOGIN_DEFS = Path("/etc/login.defs").read_bytes() if Path("/etc/login.defs").exists() else b""
_USERADD = (Path("/etc/default/useradd").read_bytes()
            if Path("/etc/default/useradd").exists() else b"")
_PROBE_USER = "cii-probe"
_NEW_ACCOUNT = Ask(["useradd", "-M", "-N", "-s", "/usr/sbin/nologin", _PROBE_USER])


def _without(text: bytes, *keys: bytes) -> bytes:
    """``text`` without the lines that set one of ``keys`` (as getdef or useradd sees it)."""
    kept = [line for line in text.split(b"\n")
            if not any(re.match(rb"[ \t]*" + re.escape(key) + rb"[ \t=]", line) for key in keys)]
    return b"\n".join(kept)


def _defs(*lines: bytes, drop: tuple[bytes, ...] = ()) -> State:
    content = _without(_LOGIN_DEFS, *drop).rstrip(b"\n") + b"\n" + b"".join(lines)
    return State(files={"/etc/login.defs": content}, overlays=["/var"])


def _chage_field(label: str, limit: str, at_least: bool) -> Consumer:
    """chage -l's number for ``label`` compared with the baseline parameter ``limit``."""
    def decide(answers: Sequence[Answer], parameters: Mapping[str, Any]) -> bool:
        assert answers[0].ok, f"useradd failed: {answers[0].stderr}"
        match = re.search(re.escape(label) + r"\s*:\s*(-?\d+)", answers[1].stdout)
        assert match, f"chage -l printed no {label!r}: {answers[1].stdout!r}"
        days, bound = int(match.group(1)), int(parameters[limit])
        if label.startswith("Maximum"):
            return 1 <= days <= bound
        return days >= bound if at_least else days <= bound
    return Consumer("useradd + chage -l (shadow-utils)",
                    [_NEW_ACCOUNT, Ask(["chage", "-l", _PROBE_USER])], decide)


MAX_AGE = _chage_field("Maximum number of days between password change", "pass_max_days", False)
MIN_DAYS = _chage_field("Minimum number of days between password change", "password_min_days",
                        True)
WARN_AGE = _chage_field("Number of days of warning before password expires",
                        "password_warn_days", True)


def _hash_prefix(answers: Sequence[Answer], parameters: Mapping[str, Any]) -> bool:
    hashed = answers[2].stdout.split(":")
    return len(hashed) > 1 and hashed[1].startswith(("$6$", "$y$"))


HASHING = Consumer("chgpasswd writing a group password (shadow-utils crypt_make_salt)",
                   [Ask(["groupadd", "cii-probe-group"]),
                    Ask(["chgpasswd"], stdin=b"cii-probe-group:Oracle-pw-1\n"),
                    Ask(["getent", "gshadow", "cii-probe-group"])], _hash_prefix)


def _inactive(answers: Sequence[Answer], parameters: Mapping[str, Any]) -> bool:
    assert answers[0].ok, f"useradd failed: {answers[0].stderr}"
    fields = answers[1].stdout.rstrip("\n").split(":")
    assert len(fields) >= 7, f"getent shadow printed {answers[1].stdout!r}"
    return fields[6] != "" and 0 <= int(fields[6]) <= int(parameters["inactive_days_max"])


INACTIVE = Consumer("useradd + getent shadow (shadow field 7 of a new account)",
                    [_NEW_ACCOUNT, Ask(["getent", "shadow", _PROBE_USER])], _inactive)

_AGE = (b"PASS_MAX_DAYS",)
_MIN = (b"PASS_MIN_DAYS",)
_WARN = (b"PASS_WARN_AGE",)
_ENC = (b"ENCRYPT_METHOD", b"MD5_CRYPT_ENAB")
_LONG_COMMENT = b"#" + b"x" * 1022  # fgets(buf, 1024): the rest of the line is a new line


def _useradd(*lines: bytes) -> State:
    content = _without(_USERADD, b"INACTIVE").rstrip(b"\n") + b"\n" + b"".join(lines)
    return State(files={"/etc/default/useradd": content}, overlays=["/var"])


def _max(name: str, intent: Verdict, *lines: bytes) -> Case:
    return Case("auth.password-max-age", name, _defs(*lines, drop=_AGE), MAX_AGE, intent)


CASES = [
    _max("90", "pass", b"PASS_MAX_DAYS\t90\n"),
    _max("debian-99999", "fail", b"PASS_MAX_DAYS\t99999\n"),
    _max("absent-no-ageing", "fail"),
    _max("zero", "fail", b"PASS_MAX_DAYS 0\n"),
    _max("last-wins-fail", "fail", b"PASS_MAX_DAYS 60\nPASS_MAX_DAYS 99999\n"),
    _max("last-wins-pass", "pass", b"PASS_MAX_DAYS 99999\nPASS_MAX_DAYS 60\n"),
    _max("inline-comment-invalid", "fail", b"PASS_MAX_DAYS 90 # policy\n"),
    _max("octal-090-invalid", "fail", b"PASS_MAX_DAYS 090\n"),
    _max("octal-010-is-8", "pass", b"PASS_MAX_DAYS 010\n"),
    _max("hex-0x3c-is-60", "pass", b"PASS_MAX_DAYS 0x3c\n"),
    _max("plus-sign", "pass", b"PASS_MAX_DAYS +60\n"),
    _max("beyond-int-invalid", "fail", b"PASS_MAX_DAYS 9999999999\n"),
    _max("quoted", "pass", b'PASS_MAX_DAYS "60"\n'),
    _max("crlf", "pass", b"PASS_MAX_DAYS\t60\r\n"),
    _max("trailing-vt-and-blank", "pass", b"PASS_MAX_DAYS 60 \x0b\n"),
    _max("vt-comment-stays-comment", "fail", b"PASS_MAX_DAYS 99999\n#\x0bPASS_MAX_DAYS 60\n"),
    _max("cr-comment-stays-comment", "fail", b"PASS_MAX_DAYS 99999\n#\rPASS_MAX_DAYS 60\n"),
    _max("vt-before-key-unknown-item", "fail", b"PASS_MAX_DAYS 99999\n\x0bPASS_MAX_DAYS 60\n"),
    _max("nbsp-is-no-separator", "fail",
         b"PASS_MAX_DAYS 99999\nPASS_MAX_DAYS\xc2\xa060\n"),
    _max("indented-key", "pass", b" \tPASS_MAX_DAYS 60\n"),
    _max("fgets-splits-long-comment", "pass",
         b"PASS_MAX_DAYS 99999\n" + _LONG_COMMENT + b"PASS_MAX_DAYS 60\n"),
    _max("lower-case-key-ignored", "fail", b"PASS_MAX_DAYS 99999\npass_max_days 60\n"),
    Case("auth.password-min-days", "1", _defs(b"PASS_MIN_DAYS 1\n", drop=_MIN), MIN_DAYS,
         "pass"),
    Case("auth.password-min-days", "debian-0", _defs(b"PASS_MIN_DAYS\t0\n", drop=_MIN),
         MIN_DAYS, "fail"),
    Case("auth.password-min-days", "absent", _defs(drop=_MIN), MIN_DAYS, "fail"),
    Case("auth.password-min-days", "hex-0x1", _defs(b"PASS_MIN_DAYS 0x1\n", drop=_MIN),
         MIN_DAYS, "pass"),
    Case("auth.password-min-days", "octal-08-invalid", _defs(b"PASS_MIN_DAYS 08\n", drop=_MIN),
         MIN_DAYS, "fail"),
    Case("auth.password-min-days", "last-wins", _defs(b"PASS_MIN_DAYS 1\nPASS_MIN_DAYS 0\n",
                                                      drop=_MIN), MIN_DAYS, "fail"),
    Case("auth.password-warn-age", "debian-7", _defs(b"PASS_WARN_AGE\t7\n", drop=_WARN),
         WARN_AGE, "pass"),
    Case("auth.password-warn-age", "3", _defs(b"PASS_WARN_AGE 3\n", drop=_WARN), WARN_AGE,
         "fail"),
    Case("auth.password-warn-age", "absent", _defs(drop=_WARN), WARN_AGE, "fail"),
    Case("auth.password-warn-age", "octal-07", _defs(b"PASS_WARN_AGE 07\n", drop=_WARN),
         WARN_AGE, "pass"),
    Case("auth.password-warn-age", "words-invalid", _defs(b"PASS_WARN_AGE 7 days\n", drop=_WARN),
         WARN_AGE, "fail"),
    Case("auth.password-warn-age", "hex-0xe", _defs(b"PASS_WARN_AGE 0xe\n", drop=_WARN),
         WARN_AGE, "pass"),
    Case("auth.password-hashing", "sha512", _defs(b"ENCRYPT_METHOD SHA512\n", drop=_ENC),
         HASHING, "pass"),
    Case("auth.password-hashing", "yescrypt-quoted", _defs(b'ENCRYPT_METHOD "YESCRYPT"\n',
                                                           drop=_ENC), HASHING, "pass"),
    Case("auth.password-hashing", "crlf", _defs(b"ENCRYPT_METHOD SHA512\r\n", drop=_ENC),
         HASHING, "pass"),
    Case("auth.password-hashing", "md5", _defs(b"ENCRYPT_METHOD MD5\n", drop=_ENC), HASHING,
         "fail"),
    Case("auth.password-hashing", "sha256", _defs(b"ENCRYPT_METHOD SHA256\n", drop=_ENC),
         HASHING, "fail"),
    Case("auth.password-hashing", "absent-des", _defs(drop=_ENC), HASHING, "fail"),
    Case("auth.password-hashing", "absent-md5-crypt-enab", _defs(b"MD5_CRYPT_ENAB yes\n",
                                                                 drop=_ENC), HASHING, "fail"),
    Case("auth.password-hashing", "lower-case-value-des", _defs(b"ENCRYPT_METHOD sha512\n",
                                                                drop=_ENC), HASHING, "fail"),
    Case("auth.password-hashing", "inline-comment-des",
         _defs(b"ENCRYPT_METHOD SHA512 # strong\n", drop=_ENC), HASHING, "fail"),
    Case("auth.password-hashing", "last-wins",
         _defs(b"ENCRYPT_METHOD SHA512\nENCRYPT_METHOD MD5\n", drop=_ENC), HASHING, "fail"),
    Case("auth.inactive-lock", "debian-minus-1", _useradd(b"INACTIVE=-1\n"), INACTIVE, "fail"),
    Case("auth.inactive-lock", "absent", _useradd(), INACTIVE, "fail"),
    Case("auth.inactive-lock", "35", _useradd(b"INACTIVE=35\n"), INACTIVE, "pass"),
    Case("auth.inactive-lock", "zero", _useradd(b"INACTIVE=0\n"), INACTIVE, "pass"),
    Case("auth.inactive-lock", "90", _useradd(b"INACTIVE=90\n"), INACTIVE, "fail"),
    Case("auth.inactive-lock", "last-wins", _useradd(b"INACTIVE=30\nINACTIVE=40\n"), INACTIVE,
         "fail"),
    Case("auth.inactive-lock", "leading-blank-ignored", _useradd(b" INACTIVE=30\n"), INACTIVE,
         "fail"),
    Case("auth.inactive-lock", "quoted-invalid", _useradd(b'INACTIVE="30"\n'), INACTIVE, "fail"),
    Case("auth.inactive-lock", "crlf-invalid", _useradd(b"INACTIVE=30\r\n"), INACTIVE, "fail"),
    Case("auth.inactive-lock", "inline-comment-invalid", _useradd(b"INACTIVE=30 # grace\n"),
         INACTIVE, "fail"),
    Case("auth.inactive-lock", "commented", _useradd(b"# INACTIVE=30\n"), INACTIVE, "fail"),
    Case("auth.inactive-lock", "hex-0x1e", _useradd(b"INACTIVE=0x1e\n"), INACTIVE, "pass"),
    Case("auth.inactive-lock", "octal-030-is-24", _useradd(b"INACTIVE=030\n"), INACTIVE, "pass"),
    Case("auth.inactive-lock", "invalid-then-valid", _useradd(b"INACTIVE=x\nINACTIVE=20\n"),
         INACTIVE, "pass"),
]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_consumer_decides(case: Case, tmp_path: Path) -> None:
    check_case(case, tmp_path)
