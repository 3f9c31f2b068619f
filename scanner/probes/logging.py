"""Security audit and logging: auditd, forwarding of logs off the host, log retention.

Configuration is read as files and reduced here, never by asking the daemons to
reload or test anything. What only root can see (``auditctl``) is reported as
unobservable for a non-root collector, so the rules give ``error``.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scanner.lines import split_lines
from scanner.probes import Probe, ProbeResult, RawOutput, rsyslog
from scanner.probes._common import cut_guard, to_int
from scanner.probes._sections import (
    PROCESS_LIST_UNREADABLE,
    PROCESSES_SNIPPET,
    process_names,
    section,
    split_sections,
)
from scanner.probes.network import is_loopback

# ---------------------------------------------------------------- syslog forwarding

_FORWARDING_FILES = ("/etc/rsyslog.conf", "/etc/rsyslog.d/*.conf", "/etc/syslog-ng/syslog-ng.conf",
                     "/etc/syslog-ng/conf.d/*.conf", "/etc/systemd/journal-upload.conf",
                     "/etc/systemd/journal-upload.conf.d/*.conf")


def _forwarding_snippet(args: Mapping[str, Any]) -> str:
    return "; ".join([
        # comm is cut at 15 characters, so journal-upload is told by its command line
        # (the bracket keeps grep from finding its own command line)
        section("journal-upload", "grep -l -a -e '^/lib/systemd/systemd-journal-uploa[d]' "
                "-e '^/usr/lib/systemd/systemd-journal-uploa[d]' /proc/[0-9]*/cmdline "
                "2>/dev/null | head -n 1; true"),
        # rsyslogd's config check prints the whole configuration, includes resolved. -o
        # opens its file for writing: /proc/self/fd/1 is the part's pipe, and where /proc
        # is missing nothing is created (a missing /dev/stdout would become a file)
        section("rsyslog-full", cut_guard(("/etc/rsyslog.conf", "/etc/rsyslog.d/*.conf"))
                + "; if [ -n \"$cutl\" ]; then echo cii:cut; "
                "elif command -v rsyslogd >/dev/null 2>&1 && "
                "[ -p /proc/self/fd/1 ]; then rsyslogd -N1 -o /proc/self/fd/1 2>/dev/null; "
                "else echo cii:missing; fi"),
    ])


@dataclass(frozen=True)
class Target:
    daemon: str
    target: str
    port: int | None
    protocol: str
    file: str
    all_messages: bool = True  # every facility of the default ruleset reaches it
    why: str = ""


_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_LEGACY_ACTION = re.compile(r"^(?P<sel>\S+)\s+(?P<act>(?:@@?|:omrelp:)\S+)\s*$")
_ACTION_BLOCK = re.compile(r"\baction\s*\((?P<body>[^)]*)\)", re.IGNORECASE | re.DOTALL)
_PARAMETER = re.compile(r"([A-Za-z.]+)\s*=\s*\"([^\"]*)\"")


def strip_hash_comments(text: str) -> str:
    """Drop ``#`` comments that start a line or follow whitespace, outside double quotes."""
    kept = []
    for line in split_lines(text):
        in_quotes = False
        cut = len(line)
        for index, char in enumerate(line):
            if char == '"':
                in_quotes = not in_quotes
            elif char == "#" and not in_quotes and (index == 0 or line[index - 1].isspace()):
                cut = index
                break
        kept.append(line[:cut])
    return "\n".join(kept)


def _host_port(value: str) -> tuple[str, int | None]:
    value = re.sub(r"^\([^)]*\)", "", value)  # @@(o)host / @(z9)host compression options
    value = value.split(";", 1)[0]  # ;TemplateName
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port_text = rest.lstrip(":")
    elif value.count(":") == 1:
        host, _, port_text = value.partition(":")
    else:
        host, port_text = value, ""
    return host, int(port_text) if port_text.isdigit() else None


def rsyslog_targets(path: str, text: str) -> list[Target]:
    return rsyslog_forwarding([(path, text)])


def rsyslog_forwarding(pieces: Sequence[tuple[str, str]]) -> list[Target]:
    """Forwarding actions of one rsyslog configuration read in order (file, text), each
    with what reaches it (:mod:`scanner.probes.rsyslog`)."""
    stripped = [strip_hash_comments(_BLOCK_COMMENT.sub(" ", text)) for _, text in pieces]
    text = "".join(part if part.endswith("\n") else part + "\n" for part in stripped)
    bounds: list[tuple[int, str]] = []
    offset = 0
    for (path, _), part in zip(pieces, stripped, strict=True):
        bounds.append((offset, path))
        offset += len(part) + (0 if part.endswith("\n") else 1)

    def file_at(position: int) -> str:
        return [path for start, path in bounds if start <= position][-1]
    found: list[tuple[int, Target]] = []
    offset = 0
    for line in split_lines(text):
        match = _LEGACY_ACTION.match(line.strip())
        position, offset = offset + len(line) - len(line.lstrip()), offset + len(line) + 1
        if not match:
            continue
        action = match.group("act")
        if action.startswith(":omrelp:"):
            host, port = _host_port(action[len(":omrelp:"):])
            protocol = "relp"
        else:
            protocol = "tcp" if action.startswith("@@") else "udp"
            host, port = _host_port(action.lstrip("@"))
        if host:
            selector = match.group("sel")
            scope = rsyslog.scope_at(text, position, selector) if selector != "&" else \
                rsyslog.Scope(False, "'&' continues the previous selector")
            found.append((position, Target("rsyslog", host, port, protocol, file_at(position),
                                           scope.all_messages, scope.why)))
    for block in _ACTION_BLOCK.finditer(text):
        params = {k.lower(): v for k, v in _PARAMETER.findall(block.group("body"))}
        kind = params.get("type", "").lower()
        if kind not in ("omfwd", "omrelp") or not params.get("target"):
            continue
        protocol = "relp" if kind == "omrelp" else params.get("protocol", "udp").lower()
        port = to_int(params.get("port", ""))
        scope = rsyslog.scope_at(text, block.start(),
                                 rsyslog.statement_selector(text, block.start()))
        found.append((block.start(), Target("rsyslog", params["target"], port, protocol,
                                            file_at(block.start()), scope.all_messages,
                                            scope.why)))
    return [target for _, target in sorted(found, key=lambda item: item[0])]


_SYSLOG_NG_DEST = re.compile(r"\bdestination\s+([A-Za-z0-9_]+)\s*\{(.*?)\}\s*;", re.DOTALL)
_SYSLOG_NG_DRIVER = re.compile(
    r"\b(network|syslog|tcp|udp|tcp6|udp6)\s*\(\s*\"?([^\"\s)]+)\"?(.*?)\)\s*;", re.DOTALL)
_SYSLOG_NG_USE = re.compile(r"\bdestination\s*\(\s*([A-Za-z0-9_]+)\s*\)")


def syslog_ng_targets(path: str, text: str, used: set[str]) -> list[Target]:
    text = strip_hash_comments(text)
    targets = []
    for destination in _SYSLOG_NG_DEST.finditer(text):
        if destination.group(1) not in used:
            continue  # defined but no log path sends anything there
        for driver in _SYSLOG_NG_DRIVER.finditer(destination.group(2) + ";"):
            kind, host, options = driver.group(1), driver.group(2), driver.group(3)
            transport = re.search(r"transport\s*\(\s*\"?(\w+)", options)
            protocol = (transport.group(1).lower() if transport
                        else "udp" if kind.startswith("udp") or kind == "network" else "tcp")
            port = re.search(r"port\s*\(\s*(\d{1,5})\s*\)", options)
            targets.append(Target("syslog-ng", host, int(port.group(1)) if port else None,
                                  protocol, path))
    return targets


def journal_upload_targets(path: str, text: str) -> list[Target]:
    targets = []
    current = ""
    for raw_line in split_lines(text):
        line = raw_line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
        elif current == "Upload" and line.split("=", 1)[0].strip() == "URL" and "=" in line:
            url = line.split("=", 1)[1].strip()
            match = re.match(r"(https?)://(\[[^\]]+\]|[^/:]+)(?::(\d+))?", url)
            if match:
                targets = [Target("systemd-journal-upload", match.group(2).strip("[]"),
                                  int(match.group(3)) if match.group(3) else None,
                                  match.group(1), path)]  # the last URL= wins
    return targets


def parse_syslog_forwarding(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    collected = split_sections(raw)
    processes = process_names(collected)
    if processes is None:
        return ProbeResult.failed(PROCESS_LIST_UNREADABLE)
    upload = collected.sections.get("journal-upload")
    running = {"rsyslog": "rsyslogd" in processes, "syslog-ng": "syslog-ng" in processes,
               "systemd-journal-upload": upload is not None and bool(upload.text.strip())}
    used_ng = {name for text in collected.files.values()
               for name in _SYSLOG_NG_USE.findall(strip_hash_comments(text))}
    targets: list[Target] = []
    present: set[str] = set()
    dump = collected.sections.get("rsyslog-full")
    pieces = rsyslog.split_dump(dump.text) if dump is not None else []
    if pieces:  # rsyslogd's own reading, includes resolved in its order
        present.add("rsyslog")
        targets.extend(rsyslog_forwarding(pieces))
    else:
        files = [(p, t) for p, t in collected.files.items() if "rsyslog" in p]
        if files:
            present.add("rsyslog")
            targets.extend(rsyslog_forwarding(files))
    for path, text in collected.files.items():
        if "rsyslog" in path:
            present.add("rsyslog")
        elif "syslog-ng" in path:
            present.add("syslog-ng")
            targets.extend(syslog_ng_targets(path, text, used_ng))
        elif "journal-upload" in path:
            present.add("systemd-journal-upload")
            targets.extend(journal_upload_targets(path, text))
    unreadable = list(collected.unreadable)
    listed = []
    for target in dict.fromkeys(targets):  # a line repeated in one file is one destination
        listed.append({"daemon": target.daemon, "target": target.target, "port": target.port,
                       "protocol": target.protocol, "file": target.file,
                       "remote": not is_loopback(target.target),
                       "daemon_running": running[target.daemon],
                       "all_messages": target.all_messages,
                       **({"why": target.why} if target.why else {})})
    data: dict[str, Any] = {
        "targets": listed,
        "daemons_present": sorted(present),
        "daemons_running": sorted(d for d, up in running.items() if up),
    }
    if unreadable:
        data["unreadable"] = unreadable
        if not any(t["remote"] and t["daemon_running"] for t in listed):
            return ProbeResult.failed("logging configuration not readable by the collector: "
                                      + ", ".join(unreadable))
    return ProbeResult.ok(data)

# ---------------------------------------------------------------- log retention

SYSTEM_LOGS = ("/var/log/syslog", "/var/log/messages", "/var/log/secure", "/var/log/auth.log")
_PERIOD_DAYS = {"hourly": 1 / 24, "daily": 1, "weekly": 7, "monthly": 30, "yearly": 365}
UNLIMITED_DAYS = 36500
# Daemons (process names) that write the classic log files.
SYSLOG_DAEMONS = frozenset({"rsyslogd", "syslog-ng", "syslogd"})
NO_SYSLOG_WRITER = ("no syslog daemon (rsyslogd, syslog-ng, syslogd) is running, so events "
                    "reach only the journal, which keeps no guaranteed minimum retention")
_IGNORED_SUFFIXES = (".dpkg-old", ".dpkg-dist", ".dpkg-new", ".dpkg-bak", ".rpmsave",
                     ".rpmorig", ".rpmnew", ".swp", ".disabled", "~", ".bak", ".ucf-old",
                     ".ucf-dist", ".ucf-new")


AUDITD_CONF = "/etc/audit/auditd.conf"


def _retention_snippet(args: Mapping[str, Any]) -> str:
    return section("logs", f"for f in {' '.join(SYSTEM_LOGS)}; do "
                   "[ -e \"$f\" ] && echo \"$f\"; done; true")


_RETENTION_FILES = ("/etc/logrotate.conf", "/etc/logrotate.d/*", AUDITD_CONF,
                    "/etc/systemd/journald.conf", "/etc/systemd/journald.conf.d/*.conf")


@dataclass
class _Rotation:
    period: str | None = None
    rotate: int | None = None
    maxage: int | None = None
    size_only: bool = False

    def copy(self) -> _Rotation:
        return _Rotation(self.period, self.rotate, self.maxage, self.size_only)

    def apply(self, words: list[str]) -> None:
        directive = words[0].lower()
        if directive in _PERIOD_DAYS:
            self.period = directive
            self.size_only = False
        elif directive == "rotate" and len(words) > 1 and to_int(words[1]) is not None:
            self.rotate = to_int(words[1])
        elif directive == "maxage" and len(words) > 1 and to_int(words[1]) is not None:
            self.maxage = to_int(words[1])
        elif directive == "size":
            self.size_only = True

    def days(self) -> tuple[float | None, str]:
        if self.size_only:
            return None, "rotated by size only; retention in days cannot be computed"
        rotate = self.rotate if self.rotate is not None else 0  # logrotate's default
        if rotate < 0:
            days: float = UNLIMITED_DAYS
        else:
            days = rotate * _PERIOD_DAYS.get(self.period or "daily", 1)
        if self.maxage is not None and self.maxage > 0:
            days = min(days, self.maxage)
        return days, ""


def _logrotate_tokens(text: str) -> Iterator[list[str]]:
    for line in split_lines(text):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        # "{" and "}" may share a line with paths or stand alone
        for piece in re.split(r"([{}])", stripped):
            if piece.strip():
                yield piece.split()


def _drop_ins(files: Mapping[str, str], directory: str) -> list[str]:
    prefix = directory.rstrip("/") + "/"
    return sorted(p for p in files if p.startswith(prefix) and "/" not in p[len(prefix):]
                  and not p.endswith(_IGNORED_SUFFIXES))


def logrotate_retention(files: Mapping[str, str], targets: list[str]
                        ) -> dict[str, tuple[float | None, str]]:
    """Retention in days for each target log file, from logrotate's own rules of precedence.

    Files are read in logrotate's order: an ``include`` is expanded where it stands, so
    global directives after it do not reach the included stanzas; the first stanza that
    names a file is the one logrotate uses.
    """
    defaults = _Rotation()
    found: dict[str, tuple[float | None, str]] = {}
    seen: set[str] = set()

    def read(path: str) -> None:
        if path in seen or path not in files:
            return
        seen.add(path)
        stanza: _Rotation | None = None
        patterns: list[str] = []
        pending: list[str] = []
        scripts = False
        for words in _logrotate_tokens(files[path]):
            head = words[0]
            if scripts:
                scripts = head != "endscript"
            elif head == "{":
                patterns, pending = pending, []
                stanza = defaults.copy()
            elif head == "}":
                if stanza is not None:
                    for target in targets:
                        if target not in found and any(fnmatch.fnmatchcase(target, p.strip('"'))
                                                       for p in patterns):
                            days, why = stanza.days()
                            found[target] = (days, why or f"{path}: {' '.join(patterns)}")
                stanza = None
            elif head in ("postrotate", "prerotate", "firstaction", "lastaction", "preremove"):
                scripts = True
            elif stanza is not None:
                stanza.apply(words)
            elif head == "include" and len(words) > 1:
                included = words[1].strip('"')
                for name in _drop_ins(files, included) or [included]:
                    read(name)
            elif head.startswith("/") or head.startswith('"/'):
                pending.extend(words)
            else:
                defaults.apply(words)

    if "/etc/logrotate.conf" in files:
        read("/etc/logrotate.conf")
    else:  # no main file seen: the drop-ins alone, with logrotate's built-in defaults
        for name in _drop_ins(files, "/etc/logrotate.d"):
            read(name)
    return found


def _key_values(text: str, separator: str = "=") -> dict[str, str]:
    values = {}
    for line in split_lines(text):
        stripped = line.strip()
        if stripped.startswith(("#", ";", "[")) or separator not in stripped:
            continue
        key, value = stripped.split(separator, 1)
        values[key.strip()] = value.strip()
    return values


def parse_log_retention(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    collected = split_sections(raw)
    logs_section = collected.sections.get("logs")
    if logs_section is None:
        return ProbeResult.failed("the log retention snippet printed nothing recognisable")
    existing = [line.strip() for line in split_lines(logs_section.text)
                if line.strip() in SYSTEM_LOGS]
    if any(p.startswith("/etc/logrotate") for p in collected.unreadable):
        return ProbeResult.failed("logrotate configuration not readable: "
                                  + ", ".join(collected.unreadable))
    retention = logrotate_retention(collected.files, existing)
    processes = process_names(collected)  # None: not listed (older output) or unreadable
    writing = None if processes is None else any(p in SYSLOG_DAEMONS for p in processes)
    files: dict[str, float | None] = {}
    reasons: dict[str, str] = {}
    for path in existing:
        if path in retention:
            days, why = retention[path]
        elif writing:
            days, why = UNLIMITED_DAYS, ("no logrotate stanza names this file: logrotate "
                                         "never deletes it")
        else:
            days, why = None, "no logrotate stanza names this file: it is never rotated"
        files[path] = days if days is None else round(days, 2)
        reasons[path] = why
    data: dict[str, Any] = {"files": files, "rules": reasons}
    unobservable: dict[str, str] = {}
    known = [d for d in files.values() if d is not None]
    if writing is False:
        # the journal is where events go: classic files, if any, are no longer written
        data["syslog_days"] = 0
        data["why"] = {"syslog_days": NO_SYSLOG_WRITER}
    elif existing and len(known) == len(existing):
        data["syslog_days"] = min(known)
    elif existing:
        unknown = [p for p in existing if files[p] is None]
        unobservable["syslog_days"] = f"{unknown[0]}: {reasons[unknown[0]]}"
    else:
        unobservable["syslog_days"] = (
            "no classic system log file (/var/log/syslog, messages, secure, auth.log) exists; "
            "the journal alone keeps no guaranteed minimum retention")
    auditd = collected.files.get("/etc/audit/auditd.conf")
    if auditd is not None:
        values = {k.lower(): v for k, v in _key_values(auditd).items()}
        data["auditd"] = {"num_logs": to_int(values.get("num_logs")),
                          "max_log_file_mb": to_int(values.get("max_log_file")),
                          "max_log_file_action": values.get("max_log_file_action", "").lower()}
    journald: dict[str, str] = {}
    drop_ins = sorted(p for p in collected.files if p.startswith("/etc/systemd/journald.conf.d/"))
    for path in ("/etc/systemd/journald.conf", *drop_ins):
        if path in collected.files:
            journald.update(_key_values(collected.files[path]))  # later drop-ins win
    data["journald"] = {"storage": journald.get("Storage", "auto"),
                        "max_retention": journald.get("MaxRetentionSec", "")}
    if unobservable:
        data["unobservable"] = unobservable
    return ProbeResult.ok(data)


PROBES = (
    Probe(
        name="syslog_forwarding",
        summary="remote log destinations of rsyslog (legacy @/@@ and omfwd), syslog-ng "
        "network()/tcp()/udp() and systemd-journal-upload, with whether each daemon runs",
        snippet=_forwarding_snippet,
        shared=(PROCESSES_SNIPPET,),
        files=lambda args: _FORWARDING_FILES,
        parse=parse_syslog_forwarding,
        subject="targets",
        cap_bytes=2 * 1024 * 1024,
    ),
    Probe(
        name="log_retention",
        summary="days the system log is kept (logrotate defaults and per-file stanzas), "
        "plus auditd.conf and journald retention settings",
        snippet=_retention_snippet,
        files=lambda args: _RETENTION_FILES,
        shared=(PROCESSES_SNIPPET,),
        parse=parse_log_retention,
        cap_bytes=2 * 1024 * 1024,
    ),
)
