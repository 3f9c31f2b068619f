"""The SSH daemon's effective configuration, as the daemons themselves compute it.

The consumer is sshd (OpenSSH portable 9.2p1 and later; sshd.c, servconf.c). It is
asked, never modelled: ``sshd -T -C SPEC`` applies Include files, first-value-wins,
defaults, keyword case and the Match blocks for one connection exactly as the daemon
will. :mod:`scanner.probes.ssh_snippet` asks every running top-level sshd with its own
options and the on-disk configuration as the next start loads it, for every connection
a Match block of that configuration can select.

Facts:

* ``connections``: one item per distinct answer (identical answers merged), each with
  ``name`` (which daemon -- *now* or *after restart* -- and which connections) and the
  settings, keywords lower-case. A daemon whose answer is unknown (its files changed
  after it started, its options are hidden, sshd -T fails) is an item without
  settings, and ``unobservable`` gives the reason, so a rule on it is an ``error``,
  never a pass. ``hostkey_files``: the metadata (mode, owner, group; never content)
  of the host keys that daemon's HostKey lines name, following links as sshd does.
  This is the probe's ``subject``: rules quantify over it with ``all_items``.
* ``settings``: the value every connection agrees on, for checks with a ``key``; a
  keyword the connections disagree on, or one no daemon could answer for, is left out
  with the reason in ``unobservable``.
* ``contexts``: what was asked (daemon, options, state), for the evidence.

Output of a bare ``sshd -T`` (recordings from collectors before the connection specs)
still parses, to ``settings`` alone: it has no ``connections``, so the rules, which
quantify over connections, are an error on it, never a pass.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scanner.lines import BLANKS, C_SPACE, fields, split_lines, strip
from scanner.probes import Probe, ProbeResult, RawOutput
from scanner.probes._common import decode, first_line
from scanner.probes._sections import Collected, split_sections
from scanner.probes.ssh_snippet import (
    ABSENT_MARK,
    LOCAL_ADDR,
    MAX_SPECS,
    UNKNOWN_ADDR,
    UNKNOWN_HOST,
    snippet,
)

# Keywords whose value is a comma-separated list of algorithms.
ALGORITHM_LIST_KEYWORDS = frozenset(
    {
        "ciphers",
        "macs",
        "kexalgorithms",
        "hostkeyalgorithms",
        "pubkeyacceptedalgorithms",
        "pubkeyacceptedkeytypes",
        "hostbasedacceptedalgorithms",
        "hostbasedacceptedkeytypes",
        "casignaturealgorithms",
        "gssapikexalgorithms",
    }
)
# Keywords sshd -T may print more than once; their value is always a list.
REPEATABLE_KEYWORDS = frozenset(
    {
        "hostkey",
        "listenaddress",
        "port",
        "acceptenv",
        "setenv",
        "subsystem",
        "hostcertificate",
        "allowusers",
        "denyusers",
        "allowgroups",
        "denygroups",
        "authenticationmethods",
        "include",
        "permitopen",
        "permitlisten",
    }
)
# A file changed this long before the daemon's start time counts as changed after it:
# the start time is computed from clock ticks and /proc/uptime (about 10 ms each).
_START_SLACK_S = 0.05
_MAX_NAMES = 3
_DEBUG_LINE = re.compile(r"debug\d: ")


def parse_settings(text: str) -> dict[str, Any]:
    """``sshd -T`` output as a mapping (dump_config in servconf.c prints ``keyword value``)."""
    settings: dict[str, Any] = {}
    for line in split_lines(text):
        if _DEBUG_LINE.match(line):
            continue
        parts = fields(line, BLANKS, maxsplit=1)
        if not parts:
            continue
        keyword = parts[0].lower()
        value = strip(parts[1], C_SPACE) if len(parts) > 1 else ""
        if keyword in ALGORITHM_LIST_KEYWORDS:
            settings[keyword] = [item for item in value.split(",") if item]
        elif keyword in REPEATABLE_KEYWORDS:
            settings.setdefault(keyword, []).append(value)
        elif keyword not in settings:
            settings[keyword] = value
    return settings


@dataclass
class _Context:
    ident: str
    label: str
    reason: str | None = None  # set: nothing this daemon says can be trusted
    answers: list[tuple[str, dict[str, Any] | None, str]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    host_keys: list[dict[str, Any]] = field(default_factory=list)


def _host_keys(collected: Collected, ident: str) -> list[dict[str, Any]] | None:
    """Metadata of the host keys the daemon names (missing ones sshd skips, and so do
    we); None when the snippet could not say."""
    found = collected.sections.get(f"sshd/hostkeys {ident}")
    if found is None or found.exit_status != 0:
        return None
    keys: list[dict[str, Any]] = []
    for line in split_lines(found.text):
        parts = line.split(" ", 7)
        if parts[0] == "missing" or not line:
            continue
        if parts[0] != "stat" or len(parts) < 8 or not re.fullmatch(r"[0-7]{1,4}", parts[1]):
            return None
        keys.append({"path": parts[7], "exists": True, "mode": f"{int(parts[1], 8):04o}",
                     "owner": parts[4], "group": parts[5]})
    return keys


def _error_reason(text: str) -> str:
    for line in split_lines(text):
        if line.strip() and not _DEBUG_LINE.match(line) and not line.startswith("cii:exit"):
            return line.strip()[:300]
    return "no message"


def _stale_file(collected: Collected, ident: str) -> str | None:
    """The first config file (or its directory) changed after the daemon started."""
    found = collected.sections.get(f"sshd/files {ident}")
    if found is None:
        return "the daemon's start time and config files could not be read"
    start: float | None = None
    for line in split_lines(found.text):
        words = fields(line, " ", maxsplit=3)
        if words[:1] == ["start"] and len(words) == 2:
            start = _float(words[1])
        elif words[:1] == ["file"] and len(words) == 4 and start is not None:
            changed = max(_float(words[1]) or 0.0, _float(words[2]) or 0.0)
            if changed > start - _START_SLACK_S:
                return (f"{words[3]} changed after the daemon started (the daemon keeps the "
                        "configuration it read at start until it is reloaded)")
        elif line.startswith("stat:"):
            return f"could not stat its config files: {line[:200]}"
    if start is None:
        return "the daemon's start time could not be read"
    return None


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _running_context(collected: Collected, pid: str, ancestors: set[str]) -> _Context:
    meta = collected.sections.get(f"sshd/proc {pid}")
    lines = split_lines(meta.text) if meta else []
    info = {line.partition(" ")[0]: line.partition(" ")[2] for line in lines}
    shown = info.get("title") or " ".join(
        line[4:] for line in lines if line.startswith("arg "))
    context = _Context(f"pid{pid}", f"now: sshd pid {pid} `{shown or 'no argv'}`")
    context.summary = {"kind": "running", "pid": int(pid), "argv": shown,
                       "options": info.get("opts", "").strip()}
    if meta is None:
        context.reason = f"sshd pid {pid} could not be read"
    elif "gone" in info:
        context.reason = None  # it exited between the listing and the look: nothing to ask
        context.summary["state"] = "exited"
    elif info.get("mnt") == "other" and pid not in ancestors:
        context.summary["state"] = "another system"  # a container's daemon: scan it there
    elif info.get("mnt") == "other":
        context.reason = (f"sshd pid {pid} serves this scan from another mount namespace: "
                          "its configuration is not visible to this scan")
    elif "unknown" in info:
        context.reason = f"sshd pid {pid}: {info['unknown']}; what it enforces is unknown"
    else:
        stale = _stale_file(collected, context.ident)
        if stale:
            context.reason = f"sshd pid {pid}: {stale}; what it enforces now is unknown"
    return context


def _collect_answers(collected: Collected, context: _Context) -> None:
    scan = collected.sections.get(f"sshd/scan {context.ident}")
    if scan is None:
        context.reason = context.reason or "sshd was not asked (the output was cut short)"
        return
    if scan.exit_status != 0 or "cii:exit 0" not in scan.text:
        what = "the configuration" if context.ident == "disk" else "its configuration"
        context.reason = context.reason or (
            f"sshd -T fails on {what}: {_error_reason(scan.text)}")
        return
    too_many = collected.sections.get(f"sshd/specs {context.ident}")
    if too_many is not None:
        count = first_line(too_many.text).removeprefix("cii:too-many ").strip()
        context.reason = context.reason or (
            f"its Match blocks need {count} connection specs; only {MAX_SPECS} are asked")
    prefix = f"sshd/T {context.ident} "
    for name, section in collected.sections.items():
        if not name.startswith(prefix):
            continue
        spec = name[len(prefix):]
        if section.exit_status != 0:
            context.answers.append((spec, None, f"sshd -T -C {spec} failed: "
                                    f"{_error_reason(section.text)}"))
            continue
        settings = parse_settings(section.text)
        if not settings:
            context.answers.append((spec, None, f"sshd -T -C {spec} printed no settings"))
        else:
            context.answers.append((spec, settings, ""))
    if not context.answers:
        context.reason = context.reason or "no connection was put to sshd -T -C"
    keys = _host_keys(collected, context.ident)
    if keys is None:
        context.reason = context.reason or "the host keys it names could not be stat'ed"
    else:
        context.host_keys = keys


def _contexts(collected: Collected) -> tuple[list[_Context], str, list[str], set[str]]:
    procs = collected.sections.get("sshd/procs")
    binary, tops, uid0, ancestors = "", [], {"root"}, set()
    for line in split_lines(procs.text if procs else ""):
        words = fields(line, " ", maxsplit=2)
        if words[:1] == ["bin"] and len(words) > 1:
            binary = words[1]
        elif words[:1] == ["top"] and len(words) > 1:
            tops.append(words[1])
        elif words[:1] == ["uid0"] and len(words) > 1:
            uid0.add(words[1])
        elif words[:1] == ["ancestor"] and len(words) > 1:
            ancestors.add(words[1])
    every = [_running_context(collected, pid, ancestors) for pid in tops]
    contexts = [c for c in every if c.summary.get("state") not in ("exited", "another system")]
    if binary:
        disk = _Context("disk", f"after restart: `{binary}` with the files on disk")
        disk.summary = {"kind": "next start", "binary": binary}
        contexts.append(disk)
    for context in contexts:
        if context.reason is None:
            _collect_answers(collected, context)
    return contexts, binary, tops, uid0


def _names(labels: list[str]) -> str:
    more = f" and {len(labels) - _MAX_NAMES} more" if len(labels) > _MAX_NAMES else ""
    return "; ".join(labels[:_MAX_NAMES]) + more


def _spec_user(spec: str) -> str:
    for part in spec.split(","):
        name, _, value = part.partition("=")
        if name == "user":
            return value
    return ""


def _compact(spec: str) -> str:
    """A spec without the snippet's stand-ins for "an unknown peer" (they select nothing)."""
    stand_ins = {f"host={UNKNOWN_HOST}", f"addr={UNKNOWN_ADDR}", f"laddr={LOCAL_ADDR}",
                 "rdomain=default"}
    return ",".join(part for part in spec.split(",") if part not in stand_ins)


def _root_policy(answer: Mapping[str, Any]) -> str:
    """For a connection as a uid-0 account, what sshd lets it do, in the item's name."""
    if not answer.get("uid0") or "permitrootlogin" not in answer:
        return ""
    return f" (PermitRootLogin {answer['permitrootlogin']})"


def _items(contexts: list[_Context], uid0: set[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """Connections with identical answers merged; unknown daemons as bare items.

    ``uid0``: the connection logs in as an account of uid 0, the accounts sshd's
    PermitRootLogin governs (auth.c, ``pw->pw_uid == 0``); such connections are never
    merged with others.
    """
    grouped: dict[str, tuple[list[str], dict[str, Any]]] = {}
    unknown: list[dict[str, Any]] = []
    reasons: list[str] = []
    for context in contexts:
        if context.reason is not None:
            unknown.append({"name": context.label})
            reasons.append(context.reason)
        for spec, settings, problem in context.answers:
            label = f"{context.label}, connection {_compact(spec)}"
            if settings is None:
                unknown.append({"name": label})
                reasons.append(problem)
                continue
            answer = {"uid0": _spec_user(spec) in uid0, **settings,
                      "hostkey_files": context.host_keys}
            key = json.dumps(answer, sort_keys=True)
            grouped.setdefault(key, ([], answer))[0].append(label)
    items = [{"name": _names(labels) + _root_policy(settings), **settings}
             for labels, settings in grouped.values()]
    return items + unknown, reasons


def _agreed(items: list[dict[str, Any]], reasons: list[str]
            ) -> tuple[dict[str, Any], dict[str, str]]:
    """Each keyword's value where every connection agrees and every daemon answered."""
    known = [item for item in items if len(item) > 1]
    keywords = sorted({k for item in known for k in item
                       if k not in ("name", "uid0", "hostkey_files")})
    settings: dict[str, Any] = {}
    unobservable: dict[str, str] = {}
    why_unknown = "; ".join(dict.fromkeys(reasons))
    if why_unknown:
        unobservable["uid0"] = unobservable["hostkey_files"] = why_unknown
    for keyword in keywords:
        values = [item.get(keyword) for item in known]
        if why_unknown:
            unobservable[keyword] = why_unknown
        elif all(value == values[0] for value in values):
            settings[keyword] = values[0]
        else:
            shown = "; ".join(f"{item['name']}: {item.get(keyword)!r}" for item in known[:3])
            unobservable[keyword] = f"{keyword} differs between connections ({shown})"
    return settings, unobservable


def _legacy(text: str, raw: RawOutput) -> ProbeResult:
    if raw.exit_status != 0:
        reason = first_line(text) or f"exit status {raw.exit_status}"
        if "hostkey" in reason.lower() or "permission denied" in reason.lower():
            reason += " (sshd -T must run as root: scan as root or with --sudo)"
        return ProbeResult.failed(f"sshd -T failed: {reason}")
    settings = parse_settings(text)
    if not settings:
        return ProbeResult.failed("sshd -T printed no settings")
    # no connections: rules over them are an error ("not reported"); the global section
    # says nothing about the Match blocks or the running daemons
    return ProbeResult.ok({"settings": settings})


def parse_sshd(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    text = decode(raw.payload)
    if strip(text) == ABSENT_MARK:
        return ProbeResult.absent("no sshd binary on the host (OpenSSH server not installed)")
    collected = split_sections(raw)
    if "sshd/procs" not in collected.sections:
        return _legacy(text, raw)
    if raw.exit_status != 0:
        return ProbeResult.failed(f"the sshd probe failed (exit status {raw.exit_status})")
    contexts, binary, tops, uid0 = _contexts(collected)
    if not binary and not tops:
        return ProbeResult.absent("no sshd binary (PATH, /usr/sbin, /usr/local/sbin) and no "
                                  "sshd process: OpenSSH server not installed")
    items, reasons = _items(contexts, uid0)
    if not items:
        return ProbeResult.failed("no sshd answered (the output was cut short)")
    denied = [r for r in reasons if "hostkey" in r.lower() or "permission denied" in r.lower()]
    if denied and len(reasons) == len(items):
        return ProbeResult.failed(f"{denied[0]} (sshd -T must run as root: scan as root or "
                                  "with --sudo)")
    settings, unobservable = _agreed(items, reasons)
    return ProbeResult.ok({
        "settings": settings,
        "connections": items,
        "contexts": [{"name": c.label, **c.summary,
                      "state": "unknown" if c.reason else "asked",
                      **({"reason": c.reason} if c.reason else {})} for c in contexts],
        "unobservable": unobservable,
    })


def _snippet(args: Mapping[str, Any]) -> str:
    connection = args.get("connection")
    return snippet(str(connection) if connection else None)


PROBES = (
    Probe(
        name="sshd_effective",
        summary="the settings every running sshd and the next start apply, per connection "
        "(`sshd -T -C` for each connection the Match blocks can select; keywords lower-case)",
        snippet=_snippet,
        parse=parse_sshd,
        keyed="settings",
        subject="connections",
        args_schema={
            "type": "object",
            "properties": {
                "connection": {
                    "description": "ask only this sshd -C connection spec, "
                    "e.g. user=root,host=admin,addr=10.0.0.1",
                    "type": "string",
                    "pattern": "^[A-Za-z0-9_.,:=@/-]{1,256}$",
                }
            },
            "additionalProperties": False,
        },
        cap_bytes=4 * 1024 * 1024,
        slow=True,
    ),
)
