"""auditd.conf, rsyslog forwarding and logrotate retention, decided by their consumers.

* auditd.conf: the real ``auditd -f`` (audit 3.0.9) loads the state's file in a PID
  namespace of its own; in the foreground it prints each keyword parser's call
  ("space_action_parser called with: email") and "config_manager init complete" once
  the file is accepted, then stops at its first audit request, which the kernel
  refuses with EPERM outside the initial PID namespace, so the machine's audit state
  is untouched.
* rsyslog forwarding: the real rsyslogd runs in the state's own network and PID
  namespaces, with 192.0.2.10 (the "collector") on lo and a listener there on TCP and
  UDP 514; ``logger`` sends one auth and one daemon message through /dev/log, and the
  state forwards the system log only if both arrive at the collector.
* log retention: ``logrotate -d`` (debug: rotates nothing, writes no state) prints,
  for each log it will handle, the period and rotation count of the stanza it chose
  ("rotating pattern: ... weekly (26 rotations)", "considering log /var/log/syslog");
  the state keeps the system log rotations x period days. A log no stanza names is
  never deleted. (``maxage`` is not in logrotate's debug output; no case relies on it.)
  An idle rsyslogd runs so that the classic files are being written.
* time sync: the real chronyd runs in the state's own PID and network namespaces
  without clock control (``-x``); ``chronyc -n sources`` lists the sources it took from
  its configuration (chrony.conf, confdir, sourcedir), reachable or not.
"""

from __future__ import annotations

import re
import shlex
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

# ---------------------------------------------------------------- rsyslog forwarding
# (/tmp is not overlaid: an overlay there would hold the upper layers of /var and /run)

_LISTENER = r"""
import socket, threading
out = open("/run/cii-received", "ab", buffering=0)
def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("192.0.2.10", 514))
    while True:
        out.write(s.recv(65536) + b"\n")
def tcp():
    s = socket.socket()
    s.bind(("192.0.2.10", 514))
    s.listen(5)
    open("/run/cii-listening", "w").close()
    while True:
        c, _ = s.accept()
        def drain(c=c):
            for data in iter(lambda: c.recv(65536), b""):
                out.write(data)
        threading.Thread(target=drain, daemon=True).start()
threading.Thread(target=udp, daemon=True).start()
tcp()
"""
_RSYSLOG_SETUP = [
    "ip addr add 192.0.2.10/32 dev lo",
    "mkdir -p /run/cii-dev && mount --bind /dev /run/cii-dev && mount -t tmpfs cii /dev",
    "for d in null zero urandom random; do touch /dev/$d; mount --bind /run/cii-dev/$d /dev/$d;"
    " done",
    "ln -s /proc/self/fd /dev/fd && ln -s /proc/self/fd/1 /dev/stdout",
    "touch /run/cii-received",
    f"python3 -c {shlex.quote(_LISTENER)} >/dev/null 2>&1 &",
    "i=0; while [ ! -e /run/cii-listening ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done",
    "rm -f /run/rsyslogd.pid; rsyslogd -i /run/rsyslogd.pid",
    "i=0; while [ ! -S /dev/log ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done",
]
_SEND = [Ask(["logger", "-p", "auth.info", "CII-MARK-AUTH"]),
         Ask(["logger", "-p", "daemon.info", "CII-MARK-DAEMON"]),
         Ask(["sh", "-c", "i=0; while [ $i -lt 40 ] && ! { grep -q CII-MARK-AUTH "
              "/run/cii-received && grep -q CII-MARK-DAEMON /run/cii-received; }; do "
              "sleep 0.2; i=$((i+1)); done; cat /run/cii-received"])]


def _collector_got_both(answers: Sequence[Answer], parameters: Mapping[str, Any]) -> bool:
    received = answers[2].stdout
    return "CII-MARK-AUTH" in received and "CII-MARK-DAEMON" in received


_RSYSLOG_CONSUMER = Consumer("rsyslogd forwarding a logger message to a listener",
                             _SEND, _collector_got_both)
MAIN = 'module(load="imuxsock")\n$IncludeConfig /etc/rsyslog.d/*.conf\n*.* /var/log/cii-all.log\n'


def fwd(name: str, drop_ins: Mapping[str, str], intent: str, main: str = MAIN,
        extra: Mapping[str, str] | None = None) -> Case:
    files: dict[str, str | bytes | None] = {"/etc/rsyslog.conf": main}
    files.update({f"/etc/rsyslog.d/{n}": t for n, t in drop_ins.items()})
    for path in ("/etc/rsyslog.d/50-default.conf", "/etc/rsyslog.d/20-ufw.conf"):
        files.setdefault(path, None)
    files.update(extra or {})
    state = State(files=files, setup=_RSYSLOG_SETUP, overlays=["/run", "/var"],
                  net=True, pid=True)
    return Case("audit.remote-logging", name, state, _RSYSLOG_CONSUMER,
                intent)  # type: ignore[arg-type]


OMFWD = 'action(type="omfwd" target="192.0.2.10" port="514" protocol="tcp")'
FORWARD_CASES = [
    fwd("legacy-tcp", {"60-remote.conf": "*.* @@192.0.2.10:514\n"}, "pass"),
    fwd("omfwd-tcp", {"60-remote.conf": f"*.* {OMFWD}\n"}, "pass"),
    fwd("omfwd-bare-action", {"60-remote.conf": f"{OMFWD}\n"}, "pass"),
    fwd("legacy-udp-info", {"60-remote.conf": "*.info @192.0.2.10\n"}, "pass"),
    fwd("auth-excluded", {"60-remote.conf": "*.*;auth,authpriv.none @@192.0.2.10:514\n"},
        "fail"),
    fwd("auth-only", {"60-remote.conf": "auth,authpriv.* @@192.0.2.10:514\n"}, "fail"),
    fwd("stop-before", {"10-stop.conf": "*.* stop\n", "60-remote.conf":
        "*.* @@192.0.2.10:514\n"}, "fail"),
    fwd("stop-after", {"60-remote.conf": "*.* @@192.0.2.10:514\n", "90-stop.conf":
        "*.* stop\n"}, "pass"),
    fwd("legacy-discard-before", {"10-stop.conf": "*.* /var/log/x.log\n& ~\n",
        "60-remote.conf": "*.* @@192.0.2.10:514\n"}, "fail"),
    fwd("inside-if", {"60-remote.conf": f"if $programname == 'sshd' then {{\n  {OMFWD}\n}}\n"},
        "fail"),
    fwd("inside-unbound-ruleset", {"60-remote.conf":
        f'ruleset(name="remote") {{\n  {OMFWD}\n}}\n'}, "fail"),
    fwd("commented-out", {"60-remote.conf": "#*.* @@192.0.2.10:514\n"}, "fail"),
    fwd("block-comment", {"60-remote.conf": f"/* *.* {OMFWD} */\n"}, "fail"),
    fwd("loopback-only", {"60-remote.conf": "*.* @@127.0.0.1:514\n"}, "fail"),
    fwd("not-a-conf-file", {"60-remote.conf.disabled": "*.* @@192.0.2.10:514\n"}, "fail"),
    fwd("included-from-elsewhere", {}, "pass",
        main=MAIN + 'include(file="/etc/rsyslog-extra/fwd.conf")\n',
        extra={"/etc/rsyslog-extra/fwd.conf": "*.* @@192.0.2.10:514\n"}),
    fwd("crlf-line", {"60-remote.conf": "*.* @@192.0.2.10:514\r\n"}, "pass"),
]

# ---------------------------------------------------------------- logrotate retention

_SYSTEM_LOGS = ("/var/log/syslog", "/var/log/auth.log")
_PERIODS = {"hourly": 1 / 24, "weekly": 7, "monthly": 30, "yearly": 365}


def _days_kept(answers: Sequence[Answer], parameters: Mapping[str, Any]) -> bool:
    said = answers[0].stdout + answers[0].stderr
    kept: dict[str, float] = {}
    for block in said.split("\nrotating pattern: ")[1:]:
        header = block.split("empty log files", 1)[0]  # the pattern may span lines
        count = re.search(r"\((\d+) rotations\)", header)
        after = re.search(r"after (\d+) days", header)
        period = next((d for word, d in _PERIODS.items() if f" {word} " in header + " "),
                      int(after.group(1)) if after else None)
        for log in re.findall(r"^considering log (\S+)", block, re.M):
            if log not in _SYSTEM_LOGS or log in kept:
                continue
            if count is None and period is not None:
                kept[log] = 36500  # rotate -1: no count printed, nothing deleted
            elif count is None or period is None:
                kept[log] = 0  # rotated by size: no age to count on
            else:
                kept[log] = int(count.group(1)) * period
    days = [kept.get(log, 36500) for log in _SYSTEM_LOGS]  # no stanza: never deleted
    return min(days) >= parameters["log_retention_days"]


_LOGROTATE = Consumer("logrotate -d", [Ask(["logrotate", "-d", "-s", "/run/cii-lr.status",
                                            "/etc/logrotate.conf"])], _days_kept)
_RETENTION_SETUP = ["touch /var/log/syslog /var/log/auth.log",
                    "printf '*.* /run/cii-all.log\\n' > /run/cii-empty.conf",
                    "rsyslogd -f /run/cii-empty.conf -i /run/cii-rsyslogd.pid"]
STOCK = ("weekly\nrotate 4\ncreate\ninclude /etc/logrotate.d\n")
RSYSLOG_STANZA = ("/var/log/syslog\n/var/log/auth.log\n{{\n\trotate {rotate}\n\t{period}\n"
                  "\tmissingok\n\tpostrotate\n\t\t/usr/lib/rsyslog/rsyslog-rotate\n"
                  "\tendscript\n}}\n")


def keep(name: str, main: str, drop_ins: Mapping[str, str], intent: str,
         noncompliant: str = "fail") -> Case:
    files: dict[str, str | bytes | None] = {"/etc/logrotate.conf": main,
                                            "/etc/logrotate.d/rsyslog": None,
                                            "/var/log/messages": None, "/var/log/secure": None}
    files.update({f"/etc/logrotate.d/{n}": t for n, t in drop_ins.items()})
    state = State(files=files, setup=_RETENTION_SETUP, overlays=["/run", "/var"], pid=True)
    return Case("audit.log-retention", name, state, _LOGROTATE, intent,  # type: ignore[arg-type]
                noncompliant)  # type: ignore[arg-type]


RETENTION_CASES = [
    keep("weekly-26", STOCK, {"rsyslog": RSYSLOG_STANZA.format(rotate=26, period="weekly")},
         "pass"),
    keep("debian-stock-4-weeks", STOCK, {"rsyslog": RSYSLOG_STANZA.format(rotate=4,
         period="weekly")}, "fail"),
    keep("daily-180", STOCK, {"rsyslog": RSYSLOG_STANZA.format(rotate=180, period="daily")},
         "pass"),
    keep("daily-179", STOCK, {"rsyslog": RSYSLOG_STANZA.format(rotate=179, period="daily")},
         "fail"),
    keep("global-default-applies", "monthly\nrotate 6\ninclude /etc/logrotate.d\n",
         {"rsyslog": "/var/log/syslog /var/log/auth.log {\n missingok\n}\n"}, "pass"),
    keep("global-after-include-does-not-apply", "include /etc/logrotate.d\nmonthly\nrotate 6\n",
         {"rsyslog": "/var/log/syslog /var/log/auth.log {\n missingok\n}\n"}, "fail"),
    keep("first-stanza-wins-duplicate-file-skipped", STOCK,
         {"a-rsyslog": RSYSLOG_STANZA.format(rotate=26, period="weekly"),
          "b-rsyslog": "/var/log/syslog {\n daily\n rotate 2\n}\n"}, "pass"),
    # logrotate says "found error in file b-both, skipping", yet the stanza before the
    # duplicate still applies (auth.log: 2 days); the duplicate itself matches no log
    keep("duplicate-after-a-stanza", STOCK,
         {"a-syslog": "/var/log/syslog {\n weekly\n rotate 26\n}\n",
          "b-both": "/var/log/auth.log {\n daily\n rotate 2\n}\n"
                    "/var/log/syslog {\n daily\n rotate 2\n}\n"}, "fail"),
    keep("glob-pattern", STOCK, {"rsyslog": "/var/log/*.log /var/log/syslog {\n weekly\n"
                                            " rotate 30\n}\n"}, "pass"),
    keep("comment-and-crlf", STOCK, {"rsyslog": "# keep half a year\r\n"
         + RSYSLOG_STANZA.format(rotate=26, period="weekly").replace("\n", "\r\n")}, "pass"),
    keep("rotate-in-comment", STOCK, {"rsyslog": "/var/log/syslog /var/log/auth.log {\n"
                                                 " weekly\n # rotate 26\n}\n"}, "fail"),
    keep("no-stanza-never-deleted", STOCK, {}, "pass"),
    # by size only no age is guaranteed; the scanner says it cannot count days (error)
    keep("size-only", STOCK, {"rsyslog": "/var/log/syslog /var/log/auth.log {\n size 100M\n"
                                         " rotate 50\n}\n"}, "fail", noncompliant="error"),
    keep("dpkg-old-ignored", STOCK, {"rsyslog": RSYSLOG_STANZA.format(rotate=4, period="weekly"),
                                     "rsyslog.dpkg-old": RSYSLOG_STANZA.format(
                                         rotate=99, period="weekly")}, "fail"),
]

# ---------------------------------------------------------------- chrony

_CHRONY_SETUP = ["mkdir -p /run/chrony /var/lib/chrony", "chronyd -x",
                 "i=0; while [ ! -S /run/chrony/chronyd.sock ] && [ $i -lt 50 ]; do sleep 0.1;"
                 " i=$((i+1)); done"]


def _chrony_has_sources(answers: Sequence[Answer], parameters: Mapping[str, Any]) -> bool:
    return answers[0].ok and bool(re.search(r"(?m)^[\^=#][?*+x~-] ", answers[0].stdout))


_CHRONYC = Consumer("chronyd + chronyc -n sources",
                    [Ask(["sh", "-c", "sleep 1; chronyc -n sources"])], _chrony_has_sources)
CHRONY_MAIN = ("confdir /etc/chrony/conf.d\nsourcedir /etc/chrony/sources.d\n"
               "driftfile /var/lib/chrony/chrony.drift\nmakestep 1 3\n")


def clock(name: str, files: Mapping[str, str | None], intent: str,
          start: bool = True) -> Case:
    laid: dict[str, str | bytes | None] = {"/etc/chrony/chrony.conf": CHRONY_MAIN,
                                           "/etc/chrony.conf": None}
    laid.update({p if p.startswith("/") else f"/etc/chrony/{p}": t for p, t in files.items()})
    state = State(files=laid, setup=_CHRONY_SETUP if start else [],
                  overlays=["/run", "/var"], net=True, pid=True)
    return Case("time.sync-active", name, state, _CHRONYC, intent)  # type: ignore[arg-type]


CHRONY_CASES = [
    clock("server-in-main", {"chrony.conf": CHRONY_MAIN + "server 192.0.2.5 iburst\n"}, "pass"),
    clock("server-in-sources-d", {"sources.d/ntp.sources": "server 192.0.2.5 iburst\n"}, "pass"),
    clock("sources-d-wrong-suffix", {"sources.d/ntp.conf": "server 192.0.2.5 iburst\n"}, "fail"),
    clock("conf-d-with-confdir", {"conf.d/ntp.conf": "pool 192.0.2.6 iburst\n"}, "pass"),
    clock("conf-d-without-confdir", {"chrony.conf": CHRONY_MAIN.replace(
        "confdir /etc/chrony/conf.d\n", ""), "conf.d/ntp.conf": "pool 192.0.2.6\n"}, "fail"),
    clock("sources-d-without-sourcedir", {"chrony.conf": CHRONY_MAIN.replace(
        "sourcedir /etc/chrony/sources.d\n", ""), "sources.d/ntp.sources": "server 192.0.2.5\n"},
        "fail"),
    clock("commented", {"chrony.conf": CHRONY_MAIN + "#server 192.0.2.5\n! pool 192.0.2.6\n"},
          "fail"),
    clock("rhel-path-on-debian", {"/etc/chrony.conf": "server 192.0.2.5\n"}, "fail"),
    clock("crlf", {"chrony.conf": (CHRONY_MAIN + "server 192.0.2.5 iburst\n").replace(
        "\n", "\r\n")}, "pass"),
    clock("upper-case-directive", {"chrony.conf": CHRONY_MAIN + "SERVER 192.0.2.5\n"}, "pass"),
    clock("not-running", {"chrony.conf": CHRONY_MAIN + "server 192.0.2.5\n"}, "fail",
          start=False),
]

# ---------------------------------------------------------------- a syslog daemon runs
# Consumer: a message sent to /dev/log must be written by the daemon (rsyslogd here).

_DAEMON_SETUP = [line for line in _RSYSLOG_SETUP if "cii-listening" not in line
                 and "_LISTENER" not in line and "python3" not in line]
_RECORDED = Consumer("logger -> /dev/log -> the syslog daemon's file", [
    Ask(["logger", "-p", "auth.notice", "CII-MARK-ACTIVE"]),
    Ask(["sh", "-c", "i=0; while [ $i -lt 30 ] && ! grep -qs CII-MARK-ACTIVE "
         "/var/log/cii-all.log; do sleep 0.2; i=$((i+1)); done; cat /var/log/cii-all.log"])],
    lambda answers, parameters: "CII-MARK-ACTIVE" in answers[1].stdout)


def daemon(name: str, setup: Sequence[str], intent: str) -> Case:
    state = State(files={"/etc/rsyslog.conf": MAIN, "/etc/rsyslog.d/50-default.conf": None},
                  setup=setup, overlays=["/run", "/var"], net=True, pid=True)
    return Case("audit.syslog-active", name, state, _RECORDED, intent)  # type: ignore[arg-type]


DAEMON_CASES = [
    daemon("rsyslogd-running", _DAEMON_SETUP, "pass"),
    daemon("nothing-running", [], "fail"),
    daemon("rsyslogd-stopped", [*_DAEMON_SETUP, "kill $(cat /run/rsyslogd.pid)",
                                "while [ -e /run/rsyslogd.pid ]; do sleep 0.1; done"], "fail"),
]

CASES = [*AUDITD_CASES, *FORWARD_CASES, *RETENTION_CASES, *CHRONY_CASES, *DAEMON_CASES]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_consumer_decides(case: Case, tmp_path: Path) -> None:
    check_case(case, tmp_path)
