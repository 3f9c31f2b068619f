"""Audit rules: augenrules and auditctl decide what the next auditd start loads.

Consumers, and what each decides:

* **augenrules** (audit 3.0.9, the real script with the host's mawk) is run in the
  state and writes /etc/audit/audit.rules from /etc/audit/rules.d (inside the overlay).
* **auditctl -R** (the real binary) reads that file in a PID namespace of its own,
  where the kernel refuses every audit request with EPERM (kernel/audit.c
  ``audit_netlink_ok``: "Only support auditd and auditctl in initial pid namespace"),
  so nothing reaches the machine's kernel. A ``-c`` line first makes it go on after
  each refusal; a line refused only with "Operation not permitted" passed auditctl's
  parser, any other message is auditctl refusing the line, which at boot (no ``-c``)
  stops the load there. Its messages go to syslog until its first rule is sent, so a
  private /dev/log is listened on.
* **the kernel** cannot be asked here: loading rules would change the machine's audit
  state. What it does with the rules auditctl accepted (first match wins in a list,
  ``never`` suppresses, arch-specific syscall numbers, ``-e 2`` refusing later rules,
  ``EEXIST`` on a duplicate stopping ``auditctl -R``) is applied by :func:`_kernel_gaps`
  below, written from kernel/auditsc.c independently of the scanner's model. The rules
  loaded *now* are a stand-in too: ``auditctl -s``/``-l`` answer from the state's
  status and listing (as a host whose kernel holds those rules prints them).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.oracle._oracle import Answer, Ask, Case, Consumer, State, case_id, check_case

_CAPTURE = r"""
import socket, subprocess
log = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
log.bind("/dev/log")
log.settimeout(0.5)
done = subprocess.run(["/run/cii-oracle/real/auditctl", "-R", "/tmp/cii-check.rules"],
                      capture_output=True, text=True, stdin=subprocess.DEVNULL)
try:
    while True:
        text = log.recv(65536).decode("utf-8", "replace")
        print(text.split("auditctl: ", 1)[-1])
except socket.timeout:
    pass
print(done.stderr, end="")
"""
_SANDBOX = (
    "set -e; { echo -c; cat /etc/audit/audit.rules; } > /tmp/cii-check.rules; "
    "mkdir -p /tmp/cii-dev; mount --bind /dev /tmp/cii-dev; mount -t tmpfs cii /dev; "
    "for d in null zero urandom; do touch /dev/$d; mount --bind /tmp/cii-dev/$d /dev/$d; done; "
    "exec python3 -")
_ASKS = [Ask(["augenrules"]), Ask(["cat", "/etc/audit/audit.rules"]),
         Ask(["unshare", "--mount", "--pid", "--fork", "sh", "-c", _SANDBOX],
             stdin=_CAPTURE.encode())]


def _shim(status: str, listing: str) -> list[str]:
    """Setup lines: auditctl -s/-l answer from the state, everything else is the real one."""
    script = ("#!/bin/sh\ncase \"$1\" in\n-s) cat /run/cii-oracle/status ;;\n"
              "-l) cat /run/cii-oracle/listing ;;\n"
              "*) exec /run/cii-oracle/real/auditctl \"$@\" ;;\nesac\n")
    return ["mkdir -p /run/cii-oracle/real",
            "cp /usr/sbin/auditctl /run/cii-oracle/real/auditctl",
            f"printf '%s' {shlex.quote(status)} > /run/cii-oracle/status",
            f"printf '%s' {shlex.quote(listing or 'No rules')} > /run/cii-oracle/listing",
            f"printf '%s' {shlex.quote(script)} > /run/cii-oracle/auditctl",
            "chmod 0755 /run/cii-oracle/auditctl",
            "mount --bind /run/cii-oracle/auditctl /usr/sbin/auditctl",
            "chmod -R go-w /etc/audit"]


def _refused_lines(capture: str) -> dict[int, list[str]]:
    """auditctl's messages per line of the check file (line 1 is the -c line)."""
    by_line: dict[int, list[str]] = {}
    pending: list[str] = []
    for line in capture.split("\n"):
        match = re.search(r"There was an error in line (\d+) of ", line)
        if match:
            by_line[int(match.group(1)) - 1] = pending  # back to audit.rules numbering
            pending = []
        elif line.strip():
            pending.append(line)
    return by_line


def _strtoul(text: str) -> int:
    """C strtoul(text, NULL, 0): 0x hex, leading-0 octal, decimal; stops at the first
    character that does not belong."""
    hexa = re.match(r"0[xX]([0-9a-fA-F]+)", text)
    if hexa:
        return int(hexa.group(1), 16)
    digits = re.match(r"0[0-7]*|[1-9][0-9]*", text)
    if digits is None:
        return 0
    found = digits.group(0)
    return int(found, 8) if found.startswith("0") else int(found)


def _boot(answers: Sequence[Answer]) -> tuple[list[list[str]], int | None, int | None]:
    """Rules (as word lists), -e and -b the next start leaves in the kernel."""
    lines = answers[1].stdout.split("\n")
    messages = _refused_lines(answers[2].stdout)
    rules: list[list[str]] = []
    enabled = backlog = None
    for number, line in enumerate(lines, 1):
        words = [w for w in line.split(" ") if w]
        if not words or words[0].startswith("#"):
            continue
        said = messages.get(number, [])
        status_probe = [m for m in said if not m.startswith("Error sending status request")]
        if not status_probe or any("Operation not permitted" not in m for m in status_probe):
            break  # auditctl refused the line (some refusals say nothing): boot stops here
        if words[0] in ("-a", "-A", "-w"):
            if enabled == 2 or words in rules:
                break  # locked (EPERM from the kernel) or EEXIST: auditctl -R stops
            rules.append(words)
        elif words[0] == "-e":
            enabled = int(words[1])
        elif words[0] == "-b":
            backlog = _strtoul(words[1])
        elif words[0] == "-D":
            rules.clear()
    return rules, enabled, backlog


def _fields(words: Sequence[str]) -> dict[str, Any]:
    """The few rule shapes the cases use, read off auditctl's own grammar."""
    rule: dict[str, Any] = {"arch": None, "syscalls": None, "path": None, "perm": "rwxa",
                            "action": "always", "list": "exit", "other": False}
    pairs = list(zip(words[::2], words[1::2], strict=False))
    for option, value in pairs:
        if option in ("-a", "-A"):
            parts = value.split(",")
            rule["action"] = "never" if "never" in parts else "always"
            rule["list"] = next(p for p in parts if p not in ("never", "always"))
        elif option == "-w":
            rule["path"] = value.rstrip("/")
        elif option == "-p":
            rule["perm"] = value
        elif option == "-S":
            rule["syscalls"] = None if value == "all" else set(value.split(","))
        elif option == "-F":
            name, _, operand = value.partition("=")
            if name == "arch":
                rule["arch"] = "b64" if operand in ("b64", "x86_64") else "b32"
            elif name in ("path", "dir"):
                rule["path"] = operand.rstrip("/")
            elif name == "perm":
                rule["perm"] = operand
            elif name != "key":
                rule["other"] = True
    return rule


def _kernel_audits(rules: Sequence[Mapping[str, Any]], arch: str, path: str | None = None,
                   perm: str = "", syscall: str = "") -> bool:
    """kernel/auditsc.c: the first rule of the exit list that matches decides."""
    if any(r["list"] == "task" and r["action"] == "never" for r in rules):
        return False  # no audit context: no syscall record at all
    for rule in rules:
        if rule["list"] != "exit":
            continue
        if path is not None:
            if rule["path"] is not None and not (path == rule["path"]
                                                 or path.startswith(rule["path"] + "/")):
                continue
            if rule["path"] is None and rule["action"] == "always":
                continue
            if perm not in rule["perm"] or (rule["arch"] and rule["arch"] != arch):
                continue
        else:
            if rule["path"] is not None:
                continue
            if rule["syscalls"] is not None and syscall not in rule["syscalls"]:
                continue
            if (rule["arch"] or ("b64" if rule["syscalls"] is not None else arch)) != arch:
                continue
        if rule["action"] == "never":
            return False
        if not rule["other"]:
            return True
    return False


IDENTITY = ("/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow", "/etc/security/opasswd")
TIME_CALLS = ("adjtimex", "settimeofday", "clock_settime")


def _compliant(rule_id: str, rules: Sequence[Sequence[str]], enabled: int | None,
               backlog: int | None) -> bool:
    parsed = [_fields(words) for words in rules]
    arches = ("b64", "b32")

    def watched(path: str) -> bool:
        return all(_kernel_audits(parsed, a, path, p) for a in arches for p in "wa")
    if rule_id == "audit.rules-identity":
        return all(watched(p) for p in IDENTITY)
    if rule_id == "audit.rules-logins":
        return watched("/var/log/lastlog") and any(
            watched(p) for p in ("/var/run/faillock", "/var/log/faillog", "/var/log/tallylog"))
    if rule_id == "audit.rules-time-change":
        return all(_kernel_audits(parsed, a, syscall=s) for a in arches for s in TIME_CALLS)
    if rule_id == "audit.rules-immutable":
        return enabled == 2
    if rule_id == "audit.backlog-limit":
        return (backlog or 64) >= 8192
    raise AssertionError(rule_id)


def _consumer(rule_id: str, status: str, listing: str) -> Consumer:
    now_enabled = int(re.search(r"enabled (\d)", status).group(1))  # type: ignore[union-attr]
    now_backlog = int(re.search(r"backlog_limit (\d+)", status).group(1))  # type: ignore[union-attr]
    now_rules = [[w for w in line.split(" ") if w] for line in listing.split("\n") if line]

    def decide(answers: Sequence[Answer], parameters: Mapping[str, Any]) -> bool:
        assert answers[0].ok, f"augenrules failed: {answers[0].stdout} {answers[0].stderr}"
        boot = _boot(answers)
        return (_compliant(rule_id, now_rules, now_enabled, now_backlog)
                and _compliant(rule_id, *boot))
    return Consumer("augenrules + auditctl -R (EPERM sandbox) + kernel auditsc.c order",
                    _ASKS, decide)


def _status(enabled: int = 1, backlog: int = 8192) -> str:
    return (f"enabled {enabled}\nfailure 1\npid 700\nrate_limit 0\nbacklog_limit {backlog}\n"
            "lost 0\nbacklog 0\n")


def case(rule_id: str, name: str, rules_d: Mapping[str, str | bytes], listing: str,
         intent: str, status: str | None = None) -> Case:
    status = status or _status()
    files: dict[str, str | bytes | None] = {"/etc/audit/rules.d/audit.rules": None}
    files.update({f"/etc/audit/rules.d/{n}": c for n, c in rules_d.items()})
    state = State(files=files, modes={p: 0o640 for p in files},
                  setup=_shim(status, listing), overlays=["/run", "/tmp"])
    return Case(rule_id, name, state, _consumer(rule_id, status, listing),
                intent)  # type: ignore[arg-type]


WATCHES = "".join(f"-w {p} -p wa -k identity\n" for p in IDENTITY)
LOGINS = "-w /var/log/lastlog -p wa -k logins\n-w /var/run/faillock -p wa -k logins\n"
TIME = ("-a always,exit -F arch=b64 -S adjtimex,settimeofday,clock_settime -k time-change\n"
        "-a always,exit -F arch=b32 -S adjtimex,settimeofday,clock_settime,stime -k time-change\n")
TIME_LISTED = TIME.replace("-k time-change", "-F key=time-change")
BASE = "-D\n-b 8192\n"

CASES = [
    # identity
    case("audit.rules-identity", "watches-now-and-at-restart", {"50-identity.rules": WATCHES},
         WATCHES, "pass"),
    case("audit.rules-identity", "gshadow-read-only", {"50-identity.rules": WATCHES.replace(
        "/etc/gshadow -p wa", "/etc/gshadow -p r")}, WATCHES.replace(
        "/etc/gshadow -p wa", "/etc/gshadow -p r"), "fail"),
    case("audit.rules-identity", "never-rule-before-watches",
         {"10-never.rules": "-a never,exit -S all\n", "50-identity.rules": WATCHES},
         WATCHES, "fail"),
    case("audit.rules-identity", "version-order-puts-watch-first",
         {"9-identity.rules": WATCHES, "10-never.rules": "-a never,exit -F path=/etc/passwd\n"},
         WATCHES, "pass"),
    case("audit.rules-identity", "crlf-line-stops-the-load",
         {"40-sudo.rules": "-w /etc/sudoers -p wa\r\n", "50-identity.rules": WATCHES},
         WATCHES, "fail"),
    case("audit.rules-identity", "indented-comments-and-cr-in-comment",
         {"50-identity.rules": "  # identity \x1c watches\r\n#\x85x\n\n   \n" + WATCHES},
         WATCHES, "pass"),
    case("audit.rules-identity", "tab-only-line-stops-the-load",
         {"50-identity.rules": "\t\n" + WATCHES}, WATCHES, "fail"),
    case("audit.rules-identity", "no-final-newline-joins-files",
         {"10-a.rules": "-w /etc/sudoers -p wa", "50-identity.rules": WATCHES}, WATCHES, "fail"),
    case("audit.rules-identity", "duplicate-rule-stops-the-load",
         {"10-a.rules": "-w /etc/sudoers -p wa\n", "20-b.rules": "-w /etc/sudoers -p wa\n",
          "50-identity.rules": WATCHES}, WATCHES, "fail"),
    case("audit.rules-identity", "path-rules-any-arch", {"50-identity.rules": "".join(
        f"-a always,exit -F path={p} -F perm=wa -k identity\n" for p in IDENTITY)},
        "".join(f"-a always,exit -F path={p} -F perm=wa -F key=identity\n" for p in IDENTITY),
        "pass"),
    case("audit.rules-identity", "path-rule-b64-only", {"50-identity.rules": WATCHES.replace(
        "-w /etc/shadow -p wa -k identity",
        "-a always,exit -F arch=b64 -F path=/etc/shadow -F perm=wa -k identity")},
        WATCHES, "fail"),
    case("audit.rules-identity", "loaded-now-only", {"00-base.rules": BASE}, WATCHES, "fail"),
    case("audit.rules-identity", "at-restart-only", {"50-identity.rules": WATCHES},
         WATCHES.replace("-w /etc/shadow -p wa -k identity\n", ""), "fail"),
    case("audit.rules-identity", "indented-e2-locks-before-watches",
         {"00-base.rules": BASE + "  -e 2\n", "50-identity.rules": WATCHES}, WATCHES, "fail"),
    # logins
    case("audit.rules-logins", "lastlog-and-faillock", {"50-logins.rules": LOGINS}, LOGINS,
         "pass"),
    case("audit.rules-logins", "faillock-read-only", {"50-logins.rules": LOGINS.replace(
        "faillock -p wa", "faillock -p r")}, LOGINS, "fail"),
    case("audit.rules-logins", "dir-watch-above-faillog", {"50-logins.rules":
         "-w /var/log/lastlog -p wa\n-w /var/log/ -p wa\n"},
         "-w /var/log/lastlog -p wa\n-w /var/log -p wa\n", "pass"),
    # time change
    case("audit.rules-time-change", "b64-and-b32", {"50-time.rules": TIME}, TIME_LISTED, "pass"),
    case("audit.rules-time-change", "b64-only", {"50-time.rules": TIME.split("\n")[0] + "\n"},
         TIME_LISTED.split("\n")[0] + "\n", "fail"),
    case("audit.rules-time-change", "no-arch", {"50-time.rules":
         "-a always,exit -S adjtimex,settimeofday,clock_settime -k time-change\n"},
         TIME_LISTED, "fail"),
    case("audit.rules-time-change", "never-task-first", {"10-task.rules": "-a never,task\n",
         "50-time.rules": TIME}, TIME_LISTED, "fail"),
    case("audit.rules-time-change", "unknown-syscall-stops-the-load", {"50-time.rules":
         "-a always,exit -F arch=b64 -S clock_setttime -k typo\n" + TIME}, TIME_LISTED, "fail"),
    # immutable
    case("audit.rules-immutable", "e2-last", {"00-base.rules": BASE, "99-finalize.rules":
         "-e 2\n"}, WATCHES, "pass", _status(enabled=2)),
    case("audit.rules-immutable", "e2-crlf", {"00-base.rules": BASE, "99-finalize.rules":
         "-e 2\r\n"}, WATCHES, "fail", _status(enabled=2)),
    case("audit.rules-immutable", "e2-moved-last-by-augenrules", {"00-base.rules":
         BASE + "-e 2\n", "50-identity.rules": WATCHES, "60-x.rules": "-e 1\n-e 2\n"},
         WATCHES, "pass", _status(enabled=2)),
    case("audit.rules-immutable", "later-e1-wins", {"00-base.rules": BASE + "-e 2\n",
         "99-z.rules": "-e 1\n"}, WATCHES, "fail", _status(enabled=2)),
    case("audit.rules-immutable", "unlocked-now", {"99-finalize.rules": "-e 2\n"}, WATCHES,
         "fail", _status(enabled=1)),
    # backlog
    case("audit.backlog-limit", "b-8192", {"00-base.rules": BASE}, "", "pass"),
    case("audit.backlog-limit", "b-8192-crlf", {"00-base.rules": "-D\r\n-b 8192\r\n"}, "",
         "pass"),
    case("audit.backlog-limit", "b-hex", {"00-base.rules": "-b 0x2000\n"}, "", "pass"),
    case("audit.backlog-limit", "no-b-at-restart", {"00-base.rules": "-D\n"}, "", "fail"),
    case("audit.backlog-limit", "small-now", {"00-base.rules": BASE}, "", "fail",
         _status(backlog=64)),
    case("audit.backlog-limit", "last-b-wins", {"00-base.rules": BASE, "10-b.rules": "-b 320\n"},
         "", "fail"),
]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_consumer_decides(case: Case, tmp_path: Path) -> None:
    check_case(case, tmp_path)


# ---------------------------------------------------------------- audit log permissions
# Consumer: the kernel's permission check, asked by access attempts as a user outside
# the log's group (nobody) and as a member of its group (ciiaudit, created in the
# namespace); the owner must be root, because the owner may chmod the file.

_AUDIT_DIR, _AUDIT_LOG = "/var/log/audit", "/var/log/audit/audit.log"
_ACCESS_ASKS = [
    Ask(["cat", "--", _AUDIT_LOG], user="nobody"),
    Ask(["ls", "--", _AUDIT_DIR], user="nobody"),
    Ask(["sh", "-c", f"printf x >> {_AUDIT_LOG}"], user="ciiaudit"),
    Ask(["sh", "-c", f"touch {_AUDIT_DIR}/cii-new"], user="ciiaudit"),
    Ask(["stat", "-c", "%u", _AUDIT_DIR, _AUDIT_LOG]),
]


def _only_admins(answers: Sequence[Answer], parameters: Mapping[str, Any]) -> bool:
    others_refused = not answers[0].ok and not answers[1].ok
    group_refused = not answers[2].ok and not answers[3].ok
    return others_refused and group_refused and answers[4].stdout.split() == ["0", "0"]


def perms(name: str, setup: Sequence[str], intent: str) -> Case:
    lines = ["mkdir -p /var/log/audit", "touch /var/log/audit/audit.log",
             "chown root:adm /var/log/audit/audit.log", "chmod 0750 /var/log/audit",
             "chmod 0640 /var/log/audit/audit.log", "useradd -M -N -g adm ciiaudit", *setup]
    state = State(setup=lines, overlays=["/etc", "/var"])
    return Case("audit.log-permissions", name, state,
                Consumer("access attempts as other users (kernel DAC)", _ACCESS_ASKS,
                         _only_admins), intent)  # type: ignore[arg-type]


PERMISSION_CASES = [
    perms("stock-0750-0640", [], "pass"),
    perms("log-0600", ["chmod 0600 /var/log/audit/audit.log"], "pass"),
    # (0644 inside a 0750 directory: no one outside can read it, but the scanner, like CIS
    # 6.3.4.x, judges the file's own mode too, so that state is not an oracle case)
    perms("log-world-readable-dir-traversable", ["chmod 0644 /var/log/audit/audit.log",
                                                 "chmod 0751 /var/log/audit"], "fail"),
    perms("log-group-writable", ["chmod 0660 /var/log/audit/audit.log"], "fail"),
    perms("dir-world-listable", ["chmod 0755 /var/log/audit"], "fail"),
    perms("dir-group-writable", ["chmod 0770 /var/log/audit", "chgrp adm /var/log/audit"],
          "fail"),
    perms("log-owned-by-nobody", ["chown nobody /var/log/audit/audit.log",
                                  "chmod 0600 /var/log/audit/audit.log"], "fail"),
    # the mode bits still read 0750/0640 (the ACL mask sits in the group bits)
    perms("acl-grants-nobody-read", ["setfacl -m u:nobody:rx /var/log/audit",
                                     "setfacl -m u:nobody:r /var/log/audit/audit.log"], "fail"),
]
CASES += PERMISSION_CASES
