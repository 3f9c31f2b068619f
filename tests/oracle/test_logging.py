"""auditd.conf, rsyslog forwarding and logrotate retention, decided by their consumers.

* auditd.conf: the real ``auditd -f`` (audit 3.0.9) loads the state's file in a PID
  namespace of its own; in the foreground it prints each keyword parser's call
  ("space_action_parser called with: email") and "config_manager init complete" once
  the file is accepted, then stops at its first audit request, which the kernel
  refuses with EPERM outside the initial PID namespace, so the machine's audit state
  is untouched.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.oracle._oracle import Answer, Ask, Case, Consumer, State, case_id, check_case

# ---------------------------------------------------------------- auditd.conf

_AUDITD = Ask(["unshare", "--pid", "--fork", "--mount-proc", "timeout", "20", "auditd", "-f"])
_PARSERS = {"space_left_action": "space_action_parser",
            "admin_space_left_action": "admin_space_left_action_parser",
            "disk_full_action": "disk_full_action_parser"}
_WANTED = {"space_left_action": {"email", "exec", "single", "halt"},
           "admin_space_left_action": {"single", "halt"},
           "disk_full_action": {"single", "halt"}}


def _auditd_accepts(answers: Sequence[Answer], parameters: Mapping[str, Any]) -> bool:
    said = answers[0].stderr + answers[0].stdout
    if "config_manager init complete" not in said:
        return False  # the load aborted: auditd does not start
    for key, parser in _PARSERS.items():
        calls = re.findall(rf"^{parser} called with: (\S*)", said, re.M)
        value = calls[-1].lower() if calls else "ignore"  # clear_config's default
        if value not in _WANTED[key]:
            return False
    return True


_AUDITD_CONSUMER = Consumer("auditd -f (EPERM sandbox)", [_AUDITD], _auditd_accepts)
GOOD = ("space_left = 75\nadmin_space_left = 50\n"
        "space_left_action = email\naction_mail_acct = root\n"
        "admin_space_left_action = single\ndisk_full_action = halt\n")


def conf(name: str, text: str | bytes, intent: str) -> Case:
    state = State(files={"/etc/audit/auditd.conf": text}, modes={"/etc/audit/auditd.conf": 0o640},
                  overlays=["/run", "/var"])
    return Case("audit.space-actions", name, state, _AUDITD_CONSUMER,
                intent)  # type: ignore[arg-type]


AUDITD_CASES = [
    conf("cis-actions", GOOD, "pass"),
    conf("upper-case-values", GOOD.upper().replace("ACTION_MAIL_ACCT = ROOT",
                                                   "action_mail_acct = root"), "pass"),
    conf("defaults-when-absent", "space_left = 75\nadmin_space_left = 50\n", "fail"),
    conf("space-left-not-above-admin", GOOD.replace("space_left = 75", "space_left = 50"),
         "fail"),
    conf("space-left-percent", GOOD.replace("space_left = 75", "space_left = 25%"), "pass"),
    conf("flush-incremental-without-freq", GOOD + "flush = INCREMENTAL\n", "fail"),
    conf("no-spaces-around-equals", GOOD.replace("disk_full_action = halt",
                                                 "disk_full_action=halt"), "fail"),
    conf("tab-separated", GOOD.replace("disk_full_action = halt", "disk_full_action\t=\thalt"),
         "fail"),
    conf("crlf-lines", GOOD.replace("\n", "\r\n"), "fail"),
    conf("later-line-overrides", GOOD + "admin_space_left_action = suspend\n", "fail"),
    conf("unknown-keyword-aborts", GOOD + "space_left_acton = email\n", "fail"),
    conf("email-refused-for-disk-full", GOOD.replace("disk_full_action = halt",
                                                     "disk_full_action = email"), "fail"),
    conf("last-line-without-newline", GOOD.rstrip("\n"), "fail"),
    conf("comment-after-value-is-an-option", GOOD.replace(
        "disk_full_action = halt", "disk_full_action = halt # stop"), "pass"),
    conf("trailing-comment-on-plain-key", GOOD + "freq = 50 # flush\n", "fail"),
    conf("exec-needs-a-path", GOOD.replace("space_left_action = email",
                                           "space_left_action = exec"), "fail"),
    conf("exec-with-path", GOOD.replace("space_left_action = email",
                                        "space_left_action = exec /bin/true"), "pass"),
]

CASES = [*AUDITD_CASES]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_consumer_decides(case: Case, tmp_path: Path) -> None:
    check_case(case, tmp_path)
