"""auditd: the kernel's audit state now, and the state the host restarts into.

*Now* is what the kernel answers: ``auditctl -s`` (enabled flag, backlog limit) and
``auditctl -l`` (the loaded rules, in the kernel's order). *After the next restart* is
what auditd.service loads (``ExecStartPost=augenrules --load`` on Debian 12 and RHEL
8/9): /etc/audit/rules.d/*.rules put together by augenrules, or /etc/audit/audit.rules
as it stands when there is no rules.d, loaded by ``auditctl -R`` into a fresh kernel.
:mod:`scanner.probes.audit_rules` models those consumers. Both sides are root-only;
a non-root collector gets ``error`` with the reason, never a verdict.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from scanner.lines import split_lines
from scanner.probes import Probe, ProbeResult, RawOutput
from scanner.probes import audit_rules as ar
from scanner.probes._common import print_lines, to_int
from scanner.probes._sections import (
    PROCESSES_SNIPPET,
    UID_SNIPPET,
    Collected,
    Section,
    process_names,
    section,
    split_sections,
)

RULES_DIR = "/etc/audit/rules.d"
RULES_FILE = "/etc/audit/audit.rules"
IDENTITY_FILES = ("/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow",
                  "/etc/security/opasswd")
LASTLOG = ("/var/log/lastlog",)
FAILED_LOGIN_RECORDS = (("/var/run/faillock", "/run/faillock"), ("/var/log/faillog",),
                        ("/var/log/tallylog",))
TIME_SYSCALLS = ("adjtimex", "settimeofday", "clock_settime")
KERNEL_DEFAULT_BACKLOG = 64  # kernel/audit.c audit_backlog_limit
AUDIT_LOG_PATHS = "/var/log/audit /var/log/audit/audit.log"


def _auditd_snippet(args: Mapping[str, Any]) -> str:
    root_only = "if [ \"$CII_UID\" != 0 ]; then echo cii:not-root; "
    return "; ".join([
        section("installed", "for t in auditd auditctl; do command -v \"$t\" || true; done"),
        section("status", root_only + "elif command -v auditctl >/dev/null 2>&1; then "
                "auditctl -s; else echo cii:missing; fi"),
        section("rules", root_only + "elif command -v auditctl >/dev/null 2>&1; then "
                "auditctl -l; else echo cii:missing; fi"),
        # augenrules' own order (ls -1v) and its awk's reading of \s, asked of the host
        section("rules.d", root_only + f"elif [ -d {RULES_DIR} ]; then echo cii:dir; "
                f"ls -1v {RULES_DIR}; else echo cii:none; fi"),
        section("awk", "printf ' x\\n' | awk '{ if (match($0, \"^\\\\s*x\")) print \"space\"; "
                "else print \"literal\" }'"),
        section("cmdline", print_lines("/proc/cmdline")),
        # libaudit's own syscall tables, which auditctl resolves -S names with
        # extended ACLs on the audit log: ls marks them with "+", getfacl -s lists them
        section("log-ls", f"ls -ld {AUDIT_LOG_PATHS} 2>/dev/null; true"),
        section("log-acl", "if command -v getfacl >/dev/null 2>&1; then "
                f"getfacl -p -s {AUDIT_LOG_PATHS} 2>/dev/null; true; else echo cii:missing; fi"),
        section("syscalls", "for a in b64 b32; do echo \"cii:arch $a\"; "
                "ausyscall \"$a\" --dump 2>/dev/null; done; true"),
    ])


def _auditctl_problem(found: Section | None, flag: str, looks_right: bool) -> str | None:
    """Why one `auditctl FLAG` section cannot be used, or None when it can."""
    text = found.text.strip() if found else ""
    if found is None or text == "cii:missing":
        return "auditctl is not installed"
    if text == "cii:not-root":
        return f"auditctl {flag} needs root: scan as root or with --sudo"
    if found.exit_status != 0 or not looks_right:
        first = split_lines(text)[0][:200] if text else "no output"
        return f"auditctl {flag} failed: {first}"
    return None


def _boot_lines(collected: Collected) -> tuple[list[str] | None, str, str]:
    """The lines ``auditctl -R`` reads at the next start, where they come from, and why
    they are unknown (then the lines are None)."""
    listing = collected.sections.get("rules.d")
    text = listing.text if listing else ""
    names = [line for line in split_lines(text) if line]
    if listing is None:
        return None, "", "the collector did not list /etc/audit/rules.d (older collector?)"
    if names[:1] == ["cii:not-root"]:
        return None, "", "/etc/audit/rules.d is readable by root only: scan as root"
    if names[:1] == ["cii:dir"]:
        chosen = [name for name in names[1:] if name.endswith(".rules")]
        contents = []
        for name in chosen:
            path = f"{RULES_DIR}/{name}"
            if path in collected.unreadable:
                return None, "", f"{path} is not readable by the collector"
            if path not in collected.files:
                continue  # not a regular file: cat fails on it, augenrules goes on
            contents.append(collected.files[path])
        awk = collected.sections.get("awk")
        awk_space = awk is not None and awk.text.strip() == "space"
        return ar.augenrules(contents, awk_space), f"augenrules ({RULES_DIR})", ""
    if RULES_FILE in collected.unreadable:
        return None, "", f"{RULES_FILE} is not readable by the collector"
    return split_lines(collected.files.get(RULES_FILE, "")), RULES_FILE, ""


def _gap_facts(data: dict[str, Any], unobservable: dict[str, str], suffix: str,
               rules: list[ar.AuditRule] | None, reason: str, note: str = "") -> None:
    names = {"identity_gaps": None, "logins_gaps": None, "time_change_gaps": None}
    if rules is None:
        for name in names:
            unobservable[name + suffix] = reason
        return
    identity = ar.file_gaps(rules, [(p,) for p in IDENTITY_FILES])
    logins = ar.file_gaps(rules, [LASTLOG])
    failed = [ar.file_gaps(rules, [names_]) for names_ in FAILED_LOGIN_RECORDS]
    if all(failed):
        logins += [f"no failed-login record ({', '.join(n[0] for n in FAILED_LOGIN_RECORDS)})"
                   f" is watched for w and a: {failed[0][0]}"]
    time_change = ar.syscall_gaps(rules, TIME_SYSCALLS)
    for name, gaps in (("identity_gaps", identity), ("logins_gaps", logins),
                       ("time_change_gaps", time_change)):
        data[name + suffix] = [*gaps, note] if gaps and note else gaps


def _syscall_table(collected: Collected) -> ar.SyscallTable:
    """Names per arch from ``ausyscall ARCH --dump``; None when a table is missing."""
    found = collected.sections.get("syscalls")
    if found is None:
        return None
    table: dict[str, set[str]] = {}
    arch = ""
    for line in split_lines(found.text):
        if line.startswith("cii:arch "):
            arch = line[len("cii:arch "):]
            table[arch] = set()
        elif arch and "\t" in line:
            table[arch].add(line.split("\t", 1)[1])
    if set(table) != {"b64", "b32"} or not all(table.values()):
        return None
    return {name: frozenset(names) for name, names in table.items()}


def _acl_grants(collected: Collected) -> tuple[list[str] | None, str]:
    """Named user/group ACL entries on the audit log (the kernel grants them beyond the
    mode bits, which then show only the mask), or None with the reason they are unknown."""
    listing = collected.sections.get("log-ls")
    if listing is None:
        return None, "the collector did not list the audit log's ACLs (older collector?)"
    marked = [line for line in split_lines(listing.text if listing else "")
              if line[10:11] == "+"]
    acl = collected.sections.get("log-acl")
    text = acl.text if acl else ""
    if text.strip() == "cii:missing" or acl is None:
        if marked:
            return None, "the audit log has an extended ACL (ls shows +) and getfacl is missing"
        return [], ""
    grants = []
    path = ""
    for line in split_lines(text):
        if line.startswith("# file: "):
            path = line[len("# file: "):]
        match = re.match(r"(user|group):([^:]+):([rwx-]{3})", line)
        if match and match.group(3) != "---":
            grants.append(f"{path}: {line.split('#', 1)[0].strip()}")
    return grants, ""


def _cmdline_backlog(collected: Collected) -> int | None:
    found = collected.sections.get("cmdline")
    match = re.search(r"(?:^|\s)audit_backlog_limit=(\d+)", found.text if found else "")
    return int(match.group(1)) if match else None


def parse_auditd(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    collected = split_sections(raw)
    processes = process_names(collected)
    if processes is None or "installed" not in collected.sections:
        return ProbeResult.failed("the auditd snippet printed nothing recognisable")
    tools = collected.sections["installed"].text.split("\n")
    data: dict[str, Any] = {
        "installed": any(t.endswith("/auditd") for t in tools),
        "auditctl": any(t.endswith("/auditctl") for t in tools),
        "process": "auditd" in processes,
    }
    unobservable: dict[str, str] = {}
    status = collected.sections.get("status")
    status_text = status.text.strip() if status else ""
    problem = _auditctl_problem(status, "-s",
                                bool(re.search(r"(?m)^enabled \d", status_text)))
    if problem:
        for name in ("enabled", "failure", "backlog_limit", "lost", "running"):
            unobservable[name] = problem
    else:
        values = {}
        for line in split_lines(status_text):
            name, _, value = line.partition(" ")
            values[name] = value
        for name in ("enabled", "failure", "backlog_limit", "lost"):
            data[name] = to_int(values.get(name))
        # The kernel sends records to the audit daemon it has registered (audit_pid): a
        # process that is only named auditd receives nothing.
        daemon = to_int(values.get("pid"))
        data["daemon_pid"] = daemon
        data["running"] = daemon is not None and daemon > 0
    table = _syscall_table(collected)
    rules = collected.sections.get("rules")
    problem = _auditctl_problem(rules, "-l", True)
    now: list[ar.AuditRule] | None = None
    if problem:
        unobservable["rules"] = problem
    else:
        text = rules.text if rules else ""
        data["rules"] = [line for line in split_lines(text) if line.strip()
                         and line.strip() != "No rules"]
        now = ar.listed_rules(data["rules"], table)
    _gap_facts(data, unobservable, "_now", now, problem or "")
    lines, source, why = _boot_lines(collected)
    if lines is None:
        _gap_facts(data, unobservable, "_boot", None, why)
        for name in ("enabled_boot", "backlog_limit_boot"):
            unobservable[name] = why
    else:
        loaded = ar.load(lines, table)
        note = (f"after restart ({source}): auditctl -R stops at {loaded.stopped}"
                if loaded.stopped else "")
        data["boot"] = {"source": source, "rules": [r.text for r in loaded.rules],
                        "stopped": loaded.stopped}
        _gap_facts(data, unobservable, "_boot", loaded.rules, "", note)
        # auditd enables auditing when it starts; a loaded -e overrides that
        data["enabled_boot"] = 1 if loaded.enabled is None else loaded.enabled
        backlog = loaded.backlog_limit
        if backlog is None:
            backlog = _cmdline_backlog(collected) or KERNEL_DEFAULT_BACKLOG
        data["backlog_limit_boot"] = backlog
        if note:
            data["why"] = {"enabled_boot": note, "backlog_limit_boot": note}
    grants, why_not = _acl_grants(collected)
    if grants is None:
        unobservable["log_acl_grants"] = why_not
    else:
        data["log_acl_grants"] = grants
    if unobservable:
        data["unobservable"] = unobservable
    return ProbeResult.ok(data)


PROBES = (
    Probe(
        name="auditd",
        summary="auditd installed and running; auditctl -s and -l (the kernel now) and the "
        "rules auditd.service loads at its next start (augenrules, auditctl -R), with the "
        "identity, login and clock events each leaves unaudited (root only)",
        snippet=_auditd_snippet,
        shared=(UID_SNIPPET, PROCESSES_SNIPPET),
        files=lambda args: (RULES_FILE, RULES_DIR + "/*.rules"),
        parse=parse_auditd,
        cap_bytes=2 * 1024 * 1024,
    ),
)
