"""File integrity: the AIDE database aide itself would read, its age, and the checks scheduled.

AIDE is asked, never modelled: ``aide -D -c CONF -L config`` (aide >= 0.17) parses the
configuration as every check does (``@@define``, ``@@{VAR}``, ``@@include``,
``@@x_include``, ``@@if``) and reports each option it sets. In aide 0.18 the first
``database_in`` wins and later ones are reported as ignored; the path taken is the one
aide says it *set*. Asking runs the executable configuration snippets ``@@x_include``
names, as every aide run does (aide itself refuses those not owned by root or writable
by others). The configuration is aide's compiled-in one when it has one (``aide -v``,
RHEL), else the distribution's path (/etc/aide/aide.conf on Debian, /etc/aide.conf).
A configuration aide refuses is an ``error`` with aide's reason, never "no database".
aide 0.16 (RHEL 8 and 9) has no ``-L``: there aide's own ``aide -D`` says whether the
configuration is valid, and the database is its first ``database=`` line with the
``@@define`` variables substituted (the result's ``database_source`` says so); a file
with a conditional or an include before that line is an ``error``, not a guess.

A check is scheduled when one of these would run aide (or Debian's dailyaidecheck):

* a script ``run-parts --test /etc/cron.daily`` lists (run-parts' own name rules; where
  run-parts has no ``--test``, executable files without a package manager's leftover
  suffix), with a cron daemon or anacron installed to run the directory. Debian's
  /etc/cron.daily/aide exits at once when systemd runs (it tests /run/systemd/system):
  such a script counts only on a host whose init is not systemd;
* a line of /etc/crontab, /etc/cron.d/* (names cron reads: Debian's cron only
  ``[A-Za-z0-9_-]``, cronie all but hidden, ``~`` and package leftovers) or root's
  crontab, with a cron daemon installed;
* a timer named ``*aide*`` that systemd enables at boot (systemd's own answer, read as
  the ``services`` probe reads it but asked of the ``*aide*`` units alone, in aide's own
  part: ``systemctl list-unit-files '*aide*'``, or with ``--root=/`` when systemd is not
  PID 1; the same state ``systemctl is-enabled`` gives) whose service's ``ExecStart=``
  (unit file and drop-ins) runs aide.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from scanner.lines import split_lines
from scanner.probes import Probe, ProbeResult, RawOutput
from scanner.probes._common import quote
from scanner.probes._sections import (
    INIT_SNIPPET,
    Collected,
    section,
    section_lines,
    split_sections,
    systemd_is_init,
)
from scanner.probes.services import UNIT_DIRS, _unit_tables, cut_unit_reason, unit_sections

CONFIG_PATHS = ("/etc/aide/aide.conf", "/etc/aide.conf")
CRONTABS = ("/etc/crontab", "/etc/cron.d/*", "/var/spool/cron/crontabs/root",
            "/var/spool/cron/root")
UNIT_FILES = tuple(f"{d}/*aide*.{kind}" for d in UNIT_DIRS for kind in ("timer", "service"))
UNIT_DROPINS = tuple(f"{d}/*aide*.service.d/*.conf" for d in UNIT_DIRS)
SCRIPT_CAP = 256 * 1024
AIDE_OUTPUT_CAP = 64 * 1024
SECONDS_PER_DAY = 86400

# a command word that runs aide: aide itself (any path) or Debian's dailyaidecheck
_RUNS_AIDE = re.compile(r"(?:^|[\s/;&|`'\"(])(?:aide|dailyaidecheck)(?=$|[\s;&|`'\")])")
_SET_DATABASE = re.compile(r"set 'database_in' option to '(.*)' \(line: ")
_VERSION = re.compile(r"(?i)aide,? (?:version )?(\d+\.\d+[0-9A-Za-z.~+-]*)$")
_AIDE_ERROR = re.compile(r"^\s*ERROR: (.*)$")
# package managers' leftovers that cronie and RHEL's run-parts skip
_LEFTOVER = re.compile(r"(~|,|\.rpmsave|\.rpmorig|\.rpmnew|\.swp|\.cfsaved|\.dpkg-[a-z]+"
                       r"|\.ucf-[a-z]+)$")


# aide 0.16 (RHEL 8 and 9) cannot report its configuration: its first ``database=`` (0.17
# and later: ``database_in=``) with the ``@@define`` variables it names substituted, as
# aide 0.16 reads a file without conditionals or includes (src/conf_lex.l); a
# conditional, include or unknown variable before that line is printed, not guessed at.
_MODEL_016 = (
    '/^[ \\t]*#/ { next } '
    '!done && /^[ \\t]*@@(if|else|endif|include|x_include)/ { print "cii:model-complex " $0; '
    'next } '
    '/^[ \\t]*@@define[ \\t]/ { v = $2; s = $0; sub(/^[ \\t]*@@define[ \\t]+[^ \\t]+[ \\t]*/, '
    '"", s); def[v] = s; next } '
    '!done && /^[ \\t]*(database|database_in)[ \\t]*=/ { s = $0; sub(/^[^=]*=[ \\t]*/, "", s); '
    'sub(/[ \\t]+$/, "", s); n = 0; while (n++ < 20 && match(s, /@@\\{[A-Za-z0-9_]+\\}/)) { '
    'k = substr(s, RSTART + 3, RLENGTH - 4); if (!(k in def)) { print "cii:model-complex "'
    ' $0; next } s = substr(s, 1, RSTART - 1) def[k] substr(s, RSTART + RLENGTH) } '
    'print "cii:model-db " s; done = 1 }'
)


def _aide_snippet(args: Mapping[str, Any]) -> str:
    configs = " ".join(CONFIG_PATHS)
    return "; ".join([
        section("aide", "if command -v aide >/dev/null 2>&1; then command -v aide; "
                "aide -v 2>&1 | head -c 16384; else echo cii:missing; fi"),
        # the configuration a check reads, then aide's own reading of it
        section("aide-config", "conf=; if command -v aide >/dev/null 2>&1; then "
                "conf=$(aide -v 2>&1 | sed -n 's/^config file: //p' | head -n 1); "
                "case \"$conf\" in /*) src=compiled ;; *) conf=; src=none; "
                f"for c in {configs}; do if [ -e \"$c\" ]; then conf=$c; src=path; break; "
                "fi; done ;; esac; "
                "printf 'cii:conf %s %s\\n' \"$src\" \"$conf\"; fi; "
                "if [ -n \"$conf\" ]; then "
                "out=$( { aide -D -c \"$conf\" -L config 2>&1; echo \"cii:aide-rc $?\"; } | "
                "grep -E \"set 'database_in' option to|^ *ERROR: |^cii:aide-rc \" | "
                f"head -c {AIDE_OUTPUT_CAP}); printf '%s\\n' \"$out\"; "
                "db=$(printf '%s\\n' \"$out\" | sed -n "
                "\"s/.*set 'database_in' option to 'file:\\(.*\\)' (line: .*/\\1/p\" | "
                "tail -n 1); "
                # aide before 0.17 has no -L: its own config check, then the model
                "if [ -z \"$db\" ]; then "
                "aide -D -c \"$conf\" >/dev/null 2>&1; echo \"cii:check-rc $?\"; "
                f"model=$(head -c {AIDE_OUTPUT_CAP} -- \"$conf\" | awk {quote(_MODEL_016)}); "
                "printf '%s\\n' \"$model\"; db=$(printf '%s\\n' \"$model\" | "
                "sed -n 's/^cii:model-db file://p'); fi; "
                "if [ -n \"$db\" ]; then printf 'cii:now %s\\n' \"$(date +%s)\"; "
                "if [ -e \"$db\" ]; then stat -L -c 'cii:db %s %Y %F' -- \"$db\"; "
                "else echo cii:db-missing; fi; fi; fi"),
        section("cron", "for d in cron crond anacron; do "
                "command -v \"$d\" >/dev/null 2>&1 && echo \"$d\"; done; true"),
        # the scripts run-parts would run from cron.daily, then each of them framed as a file
        section("cron-daily", "daily=; if [ -d /etc/cron.daily ]; then "
                "if daily=$(run-parts --test /etc/cron.daily 2>/dev/null); then "
                "echo cii:run-parts; else echo cii:listed; daily=$(for f in /etc/cron.daily/*; do "
                "[ -f \"$f\" ] && [ -x \"$f\" ] && printf '%s\\n' \"$f\"; done); fi; fi; "
                "printf '%s\\n' \"$daily\" | while IFS= read -r f; do [ -n \"$f\" ] || continue; "
                "printf 'cii:runs %s\\n' \"$f\"; done; true"),
        "printf '%s\\n' \"$daily\" | while IFS= read -r f; do [ -f \"$f\" ] || continue; "
        "printf '%s F %s\\n' \"$CII_M\" \"$f\"; "
        f"head -c {SCRIPT_CAP} -- \"$f\"; echo; done; true",
        # systemd's enablement of the *aide* units only: not the services probe's part,
        # so a unit file that only aide reads costs no services rule, and the reverse
        *unit_sections("*aide*", "service,timer"),
    ])


def _command_lines(text: str) -> list[str]:
    """A crontab's or script's lines that can run something: no comments, no blanks."""
    return [line.strip() for line in split_lines(text)
            if line.strip() and not line.strip().startswith("#")]


def _crontab_entries(path: str, text: str) -> list[str]:
    """Lines of a crontab that run aide (environment assignments are not commands)."""
    found = []
    for line in _command_lines(text):
        if re.match(r"^[A-Za-z_][A-Za-z0-9_]*\s*=", line):
            continue
        if _RUNS_AIDE.search(line):
            found.append(line[:300])
    return found


def _cron_d_read(name: str, daemons: list[str]) -> bool:
    """Whether cron reads a file of /etc/cron.d by this name (Debian's cron: run-parts'
    characters only; cronie: all but hidden files and package leftovers)."""
    if "cron" in daemons and "crond" not in daemons:
        return re.fullmatch(r"[A-Za-z0-9_-]+", name) is not None
    return not name.startswith(".") and _LEFTOVER.search(name) is None


def _cron_schedules(collected: Collected, systemd: bool) -> list[dict[str, Any]]:
    daemons = section_lines(collected, "cron")
    schedules: list[dict[str, Any]] = []
    if not daemons:
        return schedules
    for path, text in collected.files.items():
        if path == "/etc/crontab" or path.startswith("/var/spool/cron/") or (
                path.startswith("/etc/cron.d/")
                and _cron_d_read(path.rsplit("/", 1)[-1], daemons)):
            via = ("root-crontab" if path.startswith("/var/spool/") else
                   "crontab" if path == "/etc/crontab" else "cron.d")
            schedules.extend({"via": via, "path": path, "line": line}
                             for line in _crontab_entries(path, text))
    runs = {line[len("cii:runs "):] for line in section_lines(collected, "cron-daily")
            if line.startswith("cii:runs ")}
    for path in sorted(runs):
        script = collected.files.get(path)
        if script is None:
            continue
        lines = [line for line in _command_lines(script) if _RUNS_AIDE.search(line)]
        if not lines:
            continue
        if systemd and "/run/systemd/system" in script:
            continue  # Debian's script steps aside for the timer when systemd runs
        schedules.append({"via": "cron.daily", "path": path, "line": lines[0][:300]})
    return schedules


def _exec_start(collected: Collected, service: str) -> list[str]:
    """ExecStart= of a service as its unit file and drop-ins leave it (first unit file
    found in systemd's directory order; an empty ExecStart= in a drop-in resets it)."""
    commands: list[str] = []
    for directory in UNIT_DIRS:
        text = collected.files.get(f"{directory}/{service}")
        if text is not None:
            commands = _exec_lines(text, [])
            break
    dropins = sorted((path.rsplit("/", 1)[-1], path) for path in collected.files
                     if path.rsplit("/", 2)[-2:-1] == [service + ".d"])
    for _, path in dropins:
        commands = _exec_lines(collected.files[path], commands)
    return commands


def _exec_lines(text: str, commands: list[str]) -> list[str]:
    out = list(commands)
    for line in _command_lines(text):
        key, _, value = line.partition("=")
        if key.strip() == "ExecStart":
            out = [] if not value.strip() else [*out, value.strip()]
    return out


def _timer_unit(collected: Collected, timer: str) -> str:
    for directory in UNIT_DIRS:
        text = collected.files.get(f"{directory}/{timer}")
        if text is not None:
            for line in _command_lines(text):
                key, _, value = line.partition("=")
                if key.strip() == "Unit" and value.strip():
                    return value.strip()
            break
    return timer[: -len(".timer")] + ".service"


def _timer_schedules(collected: Collected) -> list[dict[str, Any]] | str:
    """The enabled *aide* timers that run aide, or why systemd's answer is not known."""
    tables = _unit_tables(collected)
    for unit in sorted(tables.cut):
        if unit.endswith((".timer", ".service")) and "aide" in unit:
            return cut_unit_reason(tables, unit)
    schedules = []
    for timer in sorted(tables.installed):
        if not timer.endswith(".timer") or "aide" not in timer:
            continue
        if not tables.at_boot.get(timer, False):
            continue
        service = _timer_unit(collected, timer)
        runs = [c for c in _exec_start(collected, service) if _RUNS_AIDE.search(" " + c)]
        if runs:
            schedules.append({"via": "systemd-timer", "unit": timer, "service": service,
                              "line": runs[0][:300], "method": tables.method})
    return schedules


def parse_aide(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    collected = split_sections(raw)
    found = collected.sections.get("aide")
    config = collected.sections.get("aide-config")
    if found is None or config is None or found.exit_status is None \
            or config.exit_status is None:
        return ProbeResult.failed("the aide snippet printed nothing recognisable")
    systemd = systemd_is_init(collected)
    timers = _timer_schedules(collected)
    if isinstance(timers, str):
        return ProbeResult.failed(timers)
    schedules = _cron_schedules(collected, systemd) + timers
    data: dict[str, Any] = {"installed": False, "config": None, "database": None,
                            "database_exists": False, "database_size": None,
                            "database_age_days": None, "schedules": schedules,
                            "scheduled": bool(schedules),
                            "cron_daemons": section_lines(collected, "cron")}
    why: dict[str, str] = {}
    if not schedules:
        why["scheduled"] = ("no cron job, cron.daily script or enabled *aide* timer runs aide"
                            if data["cron_daemons"] or systemd else
                            "no enabled *aide* timer runs aide, and no cron daemon is installed")
    lines = section_lines(collected, "aide")
    if not lines or lines[0] == "cii:missing":
        why["installed"] = why["database_exists"] = "aide is not installed (no aide on PATH)"
        return ProbeResult.ok({**data, "why": why})
    data["installed"] = True
    data["program"] = lines[0]
    # "AIDE 0.18.3" (0.17 and later), "Aide 0.16" before
    version = next((m.group(1) for m in map(_VERSION.match, lines) if m), None)
    data["version"] = version
    text = split_lines(config.text)
    head = next((line for line in text if line.startswith("cii:conf ")), None)
    if head is None:
        return ProbeResult.failed("the aide snippet did not say which configuration it used")
    source, _, path = head[len("cii:conf "):].partition(" ")
    if not path:
        why["database_exists"] = ("aide has no compiled-in configuration and none of "
                                  + ", ".join(CONFIG_PATHS) + " exists")
        return ProbeResult.ok({**data, "why": why})
    data["config"] = path
    data["config_source"] = {"compiled": "aide's compiled-in default (aide -v)"}.get(
        source, "the distribution's path")
    status = next((int(line.split()[1]) for line in text if re.fullmatch(
        r"cii:aide-rc \d{1,3}", line)), None)
    errors = [m.group(1) for m in map(_AIDE_ERROR.match, text) if m]
    if status is None:
        return ProbeResult.failed(f"aide -D -c {path} did not finish")
    if _before_017(version):
        return _modelled_016(text, path, data, why)
    if status != 0:
        reason = "; ".join(errors[:3]) or f"exit status {status}"
        return ProbeResult.failed(f"aide refuses its configuration {path}: {reason}"[:1000])
    urls = [m.group(1) for m in map(_SET_DATABASE.search, text) if m]
    if not urls:
        why["database_exists"] = f"{path} sets no database_in (aide -D -L config)"
        return ProbeResult.ok({**data, "why": why})
    return _database_at(urls[-1], "database_in", text, data, why)


def _modelled_016(text: list[str], path: str, data: dict[str, Any],
                  why: dict[str, str]) -> ProbeResult:
    """aide 0.16: its config check decides whether the file is valid; the database is its
    first ``database=`` as the snippet's model reads it (the result says so)."""
    check = next((line.split()[1] for line in text if re.fullmatch(r"cii:check-rc \d{1,3}",
                                                                    line)), None)
    if check is None:
        return ProbeResult.failed(f"aide {data['version']} -D -c {path} did not finish")
    if check != "0":
        return ProbeResult.failed(f"aide {data['version']} refuses its configuration {path} "
                                  f"(aide -D exit status {check})")
    complex_lines = [line[len("cii:model-complex "):] for line in text
                     if line.startswith("cii:model-complex ")]
    if complex_lines:
        return ProbeResult.failed(
            f"aide {data['version']} cannot report its configuration (aide 0.17 and later can), "
            f"and {path} has what the scanner does not model before its database line: "
            f"{complex_lines[0][:200]!r}")
    model = next((line[len("cii:model-db "):] for line in text
                  if line.startswith("cii:model-db ")), None)
    data["database_source"] = (f"aide {data['version']} cannot report its configuration: "
                               "the first database= of the file, its @@define variables "
                               "substituted")
    if model is None:
        why["database_exists"] = f"{path} sets no database"
        return ProbeResult.ok({**data, "why": why})
    return _database_at(model, "database", text, data, why)


def _database_at(url: str, option: str, text: list[str], data: dict[str, Any],
                 why: dict[str, str]) -> ProbeResult:
    """The database aide reads from ``url`` (the value of its ``option``): a file's state,
    or why there is no file to look at."""
    data["database_url"] = url
    if not url.startswith("file:"):
        why["database_exists"] = f"{option} is {url!r}, not a file"
        return ProbeResult.ok({**data, "why": why})
    data["database"] = url[len("file:"):]
    return _database_state(text, data, why)


def _before_017(version: str | None) -> bool:
    numbers = re.match(r"(\d+)\.(\d+)", version or "")
    return numbers is not None and (int(numbers.group(1)), int(numbers.group(2))) < (0, 17)


def _database_state(text: list[str], data: dict[str, Any],
                    why: dict[str, str]) -> ProbeResult:
    now = next((line.split()[1] for line in text if re.fullmatch(r"cii:now \d{1,20}", line)),
               None)
    stat = next((line.split(" ", 3) for line in text if line.startswith("cii:db ")), None)
    if any(line == "cii:db-missing" for line in text):
        why["database_exists"] = (f"{data['database']} (database_in of {data['config']}) does "
                                  "not exist: the database was never initialised (aide --init) "
                                  "or not moved into place")
        return ProbeResult.ok({**data, "why": why})
    if stat is None or now is None or len(stat) < 4 or not stat[1].isdigit() \
            or not re.fullmatch(r"-?\d{1,20}", stat[2]):
        return ProbeResult.failed(f"could not stat the AIDE database {data['database']}")
    if not stat[3].startswith("regular"):
        why["database_exists"] = f"{data['database']} is a {stat[3]}, not a database file"
        return ProbeResult.ok({**data, "why": why})
    data["database_exists"] = True
    data["database_size"] = int(stat[1])
    data["database_age_days"] = (int(now) - int(stat[2])) // SECONDS_PER_DAY
    why["database_age_days"] = (f"{data['database']} was last written "
                                f"{data['database_age_days']} days ago")
    return ProbeResult.ok({**data, "why": why})


PROBES = (
    Probe(
        name="aide",
        summary="the AIDE database aide itself reads (aide -D -L config), whether it exists, "
        "its size and age in days, and the aide checks cron, cron.daily and systemd timers "
        "would run",
        snippet=_aide_snippet,
        shared=(INIT_SNIPPET,),
        files=lambda args: (*CRONTABS, *UNIT_FILES, *UNIT_DROPINS),
        parse=parse_aide,
        cap_bytes=2 * 1024 * 1024,
        timeout_s=120,
    ),
)
