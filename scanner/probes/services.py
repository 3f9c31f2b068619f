"""Services and time: which daemons are installed, enabled and running.

Enablement is systemd's own answer (systemd 252, ``shared/install.c``): from the running
manager, or, on hosts where systemd is not PID 1 (containers, chroots), from
``systemctl --root=/ list-unit-files``, which reads the unit directories offline with the
same code (masks, /etc over /lib, aliases, ``enabled-runtime`` links in /run that a
reboot drops). ``enabled`` is enabled now; ``enabled_at_boot`` what the next boot
starts. systemctl --root does not run generators, so SysV scripts with ``S`` links in
rc2.d to rc5.d are added as systemd-sysv-generator adds them (wanted by
multi-user.target or graphical.target). Only without any systemctl are the files read
by hand: unit files, ``*.wants`` links, SysV links. Whether a unit runs comes from
systemctl when systemd is PID 1, else from process names in ``/proc/*/stat``; a state
that cannot be seen is reported as unobservable (the rule gives ``error``), never
guessed. systemctl reads each unit file it lists to its end: a unit file over the cap (in
any directory of systemd's search path) is left out of its listing, the other units are
listed by name, and the cut unit's enablement is unobservable, so one huge file costs only
the answers about its own unit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scanner.probes import Probe, ProbeResult, RawOutput
from scanner.probes._common import TOOL_READ_CAP, active_lines, cut_guard, quote
from scanner.probes._sections import (
    INIT_SNIPPET,
    PROCESS_LIST_UNREADABLE,
    PROCESSES_SNIPPET,
    Collected,
    init_name,
    process_names,
    section,
    section_lines,
    split_sections,
    systemd_is_init,
)
from scanner.probes.chrony import chrony_servers

# ---------------------------------------------------------------- services

UNIT_DIRS = ("/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system",
             "/usr/lib/systemd/system", "/lib/systemd/system")

# Process names (comm) that show a unit is running when systemctl cannot say.
KNOWN_UNIT_PROCESSES: dict[str, tuple[str, ...]] = {
    "ssh": ("sshd",), "sshd": ("sshd",), "auditd": ("auditd",), "rsyslog": ("rsyslogd",),
    "syslog-ng": ("syslog-ng",), "chrony": ("chronyd",), "chronyd": ("chronyd",),
    "ntp": ("ntpd",), "ntpd": ("ntpd",), "ntpsec": ("ntpd",), "openntpd": ("ntpd",),
    "systemd-timesyncd": ("systemd-timesyn",), "cron": ("cron",), "crond": ("crond",),
    "avahi-daemon": ("avahi-daemon",), "cups": ("cupsd",), "cupsd": ("cupsd",),
    "xinetd": ("xinetd",), "inetd": ("inetd",), "rpcbind": ("rpcbind",),
    "nfs-server": ("nfsd",), "smbd": ("smbd",), "smb": ("smbd",), "nmbd": ("nmbd",),
    "snmpd": ("snmpd",), "vsftpd": ("vsftpd",), "proftpd": ("proftpd",), "rsync": ("rsync",),
    "telnet.socket": ("in.telnetd",), "tftpd-hpa": ("in.tftpd",), "ypbind": ("ypbind",),
    "bluetooth": ("bluetoothd",), "postfix": ("master",), "exim4": ("exim4",),
    "firewalld": ("firewalld",), "fail2ban": ("fail2ban-server",), "aide": ("aide",),
}

UNIT_NAME = {"type": "string", "pattern": "^[A-Za-z0-9@_.:-]{1,200}$"}
_UNIT_SUFFIXES = (".service", ".socket", ".timer", ".target", ".path", ".mount")


def _full_unit(unit: str) -> str:
    return unit if unit.endswith(_UNIT_SUFFIXES) else unit + ".service"


# Every directory of systemd's unit search path (systemd-analyze unit-paths, systemd 252):
# a unit file over the cap in any of them is left out of systemctl's listing.
SEARCH_DIRS = ("/etc/systemd/system.control", "/run/systemd/system.control",
               "/run/systemd/transient", "/run/systemd/generator.early", "/etc/systemd/system",
               "/etc/systemd/system.attached", "/run/systemd/system",
               "/run/systemd/system.attached", "/run/systemd/generator",
               "/usr/local/lib/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system",
               "/run/systemd/generator.late")
# A unit file longer than this is not given to systemctl: it reads every byte of a unit
# file (a NUL ends a line for it), so one of gigabytes takes it minutes. Real ones are
# a few KiB.
UNIT_FILE_CAP = TOOL_READ_CAP


def unit_sections(glob: str, types: str) -> list[str]:
    """Sections: the units named ``glob`` of these types as systemctl lists them, the
    unit files and enablement links of that name, and those over :data:`UNIT_FILE_CAP`.

    systemctl list-unit-files parses every unit file it lists. A unit file over the cap is
    named in ``unit-cut`` and left out: the other units are then listed by name (the
    entries of systemd's search path, systemctl's own patterns), so one huge unit file
    costs only the answers about it."""
    search = " ".join(SEARCH_DIRS)
    named = "" if glob == "*" else " " + quote(glob)
    listing = "list-unit-files --no-legend --no-pager --type=" + types
    return [
        section("unit-cut", f"svc_cut=$(find {search} -maxdepth 1 -follow -name {quote(glob)} "
                f"-type f -size +{UNIT_FILE_CAP}c 2>/dev/null); "
                "[ -z \"$svc_cut\" ] || printf '%s\\n' \"$svc_cut\" | sed 's/^/cii:cut /'; true"),
        # systemd's own enablement logic (shared/install.c): from the running manager, or,
        # when systemd is not PID 1, offline from the unit directories with --root=/
        section("systemctl-files", "if [ -d /run/systemd/system ]; then svc_ctl=systemctl; "
                "elif command -v systemctl >/dev/null 2>&1; then echo cii:offline; "
                "svc_ctl='systemctl --root=/'; else echo cii:skipped; svc_ctl=; fi; "
                "if [ -z \"$svc_ctl\" ]; then :; "
                f"elif [ -z \"$svc_cut\" ]; then $svc_ctl {listing}{named}; "
                # the entries by name, but those cut (a name is one line of svc_cutn)
                "else svc_nl='\n'; svc_cutn=$(printf '%s\\n' \"$svc_cut\" | sed 's,.*/,,'); "
                "svc_p=$(systemd-analyze --root=/ unit-paths 2>/dev/null) || "
                f"svc_p='{search}'; svc_n=; for svc_d in $svc_p; do "
                f"for svc_e in \"$svc_d\"/{glob}; do svc_b=${{svc_e##*/}}; "
                "case $svc_b in ''|*[!A-Za-z0-9:_.@\\\\-]*) continue ;; esac; "
                "case \"$svc_nl$svc_cutn$svc_nl\" in *\"$svc_nl$svc_b$svc_nl\"*) continue ;; "
                "esac; svc_n=\"$svc_n $svc_b\"; done; done; "
                f"if [ -n \"$svc_n\" ]; then $svc_ctl {listing} -- $svc_n; fi; fi"),
        # unit files and enablement links, read straight from the file system (by the
        # shell's own globbing: an ls per directory was most of this probe's cost)
        section("unit-files", _list_entries(" ".join(UNIT_DIRS), glob)),
        section("wants", _list_entries("/etc/systemd/system/*.wants "
                                       "/etc/systemd/system/*.requires", glob)),
    ]


def _services_snippet(args: Mapping[str, Any]) -> str:
    sections = unit_sections("*", "service,socket,timer")
    return "; ".join([
        *sections[:2],
        section("systemctl-units", "if [ -d /run/systemd/system ]; then "
                "systemctl list-units --all --no-legend --no-pager --plain "
                "--type=service,socket; else echo cii:skipped; fi"),
        *sections[2:],
        # the runlevels systemd-sysv-generator maps to multi-user/graphical.target
        section("sysv", _list_entries("/etc/init.d /etc/rc2.d /etc/rc3.d /etc/rc4.d "
                                      "/etc/rc5.d")),
    ])


def _list_entries(dirs: str, glob: str = "*") -> str:
    """sh printing the path of each entry (named ``glob``) of each directory, dangling
    links included, in the C locale's order as ``ls -1``: one glob and one ``printf`` per
    directory (a test per entry took most of this probe's time on hosts with hundreds of
    units)."""
    return (f"for d in {dirs}; do [ -d \"$d\" ] || continue; set -- \"$d\"/{glob}; "
            "if [ -e \"$1\" ] || [ -L \"$1\" ]; then printf '%s\\n' \"$@\"; fi; done; true")


@dataclass(frozen=True)
class _UnitTables:
    method: str
    installed: dict[str, str]  # unit -> where it was seen
    enabled: dict[str, bool]  # enabled now (until the next reboot included)
    active: dict[str, str]  # unit -> active state (systemctl only)
    at_boot: dict[str, bool]  # enabled in what the host boots into
    # unit -> its file over UNIT_FILE_CAP, which systemctl was not asked about
    cut: dict[str, str]


# list-unit-files states (systemctl(1), is-enabled): "enabled-runtime" lives in /run and
# is gone after a reboot; "alias" names share the enablement of the unit they name;
# "generated" units (SysV scripts, fstab) are made again at every boot.
_ENABLED_NOW = ("enabled", "enabled-runtime", "alias", "generated")
_ENABLED_AT_BOOT = ("enabled", "alias", "generated")


def _unit_tables(collected: Collected) -> _UnitTables:
    installed: dict[str, str] = {}
    enabled: dict[str, bool] = {}
    at_boot: dict[str, bool] = {}
    active: dict[str, str] = {}
    files_section = collected.sections.get("systemctl-files")
    answered = (files_section is not None and files_section.exit_status == 0
                and "cii:skipped" not in files_section.text)
    offline = answered and files_section is not None and (
        "cii:offline" in files_section.text[:40])
    cut: dict[str, str] = {}
    for line in section_lines(collected, "unit-cut"):
        if line.startswith("cii:cut /"):
            cut.setdefault(line.rsplit("/", 1)[-1], line[len("cii:cut "):])
    if answered and (offline or systemd_is_init(collected)):
        for line in section_lines(collected, "systemctl-files"):
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(_UNIT_SUFFIXES):
                installed[parts[0]] = "systemctl"
                enabled[parts[0]] = parts[1] in _ENABLED_NOW
                at_boot[parts[0]] = parts[1] in _ENABLED_AT_BOOT
        for unit in cut:  # there, but what systemctl says of it is not known
            installed.setdefault(unit, "systemctl")
            enabled.pop(unit, None)
            at_boot.pop(unit, None)
        if offline:
            _add_sysv(collected, installed, enabled, at_boot, cut)
            return _UnitTables("systemctl --root=/", installed, enabled, active, at_boot, cut)
        units_section = collected.sections.get("systemctl-units")
        if units_section is not None and units_section.exit_status == 0:
            for line in section_lines(collected, "systemctl-units"):
                parts = line.split()
                if len(parts) >= 4 and parts[0].endswith(_UNIT_SUFFIXES):
                    active[parts[0]] = parts[2]
                    if parts[1] != "not-found":
                        installed.setdefault(parts[0], "systemctl")
        return _UnitTables("systemctl", installed, enabled, active, at_boot, cut)
    for line in section_lines(collected, "unit-files"):
        name = line.rsplit("/", 1)[-1]
        if name.endswith(_UNIT_SUFFIXES) and not name.endswith("@.service"):
            installed.setdefault(name, line)
    wants = {line.rsplit("/", 1)[-1] for line in section_lines(collected, "wants")}
    for name in installed:
        enabled[name] = at_boot[name] = name in wants
    _add_sysv(collected, installed, enabled, at_boot, {})
    return _UnitTables("unit-files", installed, enabled, active, at_boot, {})


def _add_sysv(collected: Collected, installed: dict[str, str], enabled: dict[str, bool],
              at_boot: dict[str, bool], cut: dict[str, str]) -> None:
    """SysV scripts started from rc links: systemd-sysv-generator makes them units at
    boot (systemctl --root cannot show generated units), unless a native unit exists."""
    for line in section_lines(collected, "sysv"):
        match = re.fullmatch(r"S\d\d(.+)", line.rsplit("/", 1)[-1])
        unit = match.group(1) + ".service" if match else ""
        # systemd ignores SysV links of native units (a cut one too: its file is there)
        if match and unit not in installed and unit not in cut:
            installed[unit] = "/etc/init.d/" + match.group(1)
            enabled[unit] = at_boot[unit] = True


def cut_unit_reason(tables: _UnitTables, unit: str) -> str:
    return (f"{tables.cut[unit]} is over {UNIT_FILE_CAP} bytes, the cap for a unit file: "
            f"systemctl was not asked whether {unit} is enabled")


def _running_by_process(unit: str, processes: list[str] | None,
                        process: str | None) -> bool | None:
    names = (process,) if process else KNOWN_UNIT_PROCESSES.get(unit.rsplit(".", 1)[0])
    if processes is None or not names:
        return None
    return any(name in processes for name in names)


def _unit_state(tables: _UnitTables, unit: str, processes: list[str] | None,
                process: str | None) -> tuple[dict[str, Any], dict[str, str]]:
    full = _full_unit(unit)
    unobservable: dict[str, str] = {}
    state: dict[str, Any] = {"unit": full, "installed": full in tables.installed}
    if full in tables.cut:
        unobservable["enabled"] = unobservable["enabled_at_boot"] = cut_unit_reason(
            tables, full)
    else:
        state["enabled"] = tables.enabled.get(full, False)
        state["enabled_at_boot"] = tables.at_boot.get(full, False)
    if tables.method == "systemctl":
        state["active"] = tables.active.get(full) == "active"
        state["active_state"] = tables.active.get(full, "inactive")
    else:
        running = _running_by_process(full, processes, process)
        if running is None:
            unobservable["active"] = (f"systemd is not PID 1 and no process name is known for "
                                      f"{full}; whether it runs cannot be seen")
        else:
            state["active"] = running
    return state, unobservable


def _read_units(raw: RawOutput) -> tuple[Collected, _UnitTables, list[str] | None] | None:
    """The services snippet's sections, unit tables and process names (None: unrecognisable)."""
    collected = split_sections(raw)
    if "init" not in collected.sections:
        return None
    return collected, _unit_tables(collected), process_names(collected)


def parse_services(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    read = _read_units(raw)
    if read is None:
        return ProbeResult.failed("the services snippet printed nothing recognisable")
    collected, tables, processes = read
    units = []
    for name in sorted(tables.installed):
        state, _ = _unit_state(tables, name, processes, None)
        units.append(state)
    if not units and processes is None:
        return ProbeResult.failed("neither systemctl, unit directories nor /proc answered")
    data: dict[str, Any] = {"method": tables.method, "init": init_name(collected),
                            "units": units, "processes": processes or []}
    if tables.cut:  # the units it was not asked about have no enabled fields
        cut = ", ".join(sorted(tables.cut.values())[:5])
        said = (f"over {UNIT_FILE_CAP} bytes, the cap for a unit file, systemctl was not "
                f"asked about it: {cut}")
        data["unobservable"] = {"enabled": said, "enabled_at_boot": said}
    return ProbeResult.ok(data)


def parse_service(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    read = _read_units(raw)
    if read is None:
        return ProbeResult.failed("the services snippet printed nothing recognisable")
    collected, tables, processes = read
    state, unobservable = _unit_state(tables, str(args.get("unit", "")), processes,
                                      args.get("process"))
    data: dict[str, Any] = {**state, "method": tables.method, "init": init_name(collected)}
    if tables.method != "systemctl" and "active" in state:
        data["active_method"] = "process name in /proc/*/stat"
    if unobservable:
        data["unobservable"] = unobservable
    return ProbeResult.ok(data)


# ---------------------------------------------------------------- time synchronisation

# process name (comm) -> daemon; OpenNTPD's process is also called ntpd
TIME_DAEMONS = {"chronyd": "chrony", "ntpd": "ntpd", "systemd-timesyn": "systemd-timesyncd"}
TIME_CONFIG_FILES = (
    "/etc/chrony.conf", "/etc/chrony/chrony.conf", "/etc/chrony.d/*.conf",
    "/etc/chrony/conf.d/*.conf", "/etc/chrony/sources.d/*.sources",
    "/etc/ntp.conf", "/etc/ntpsec/ntp.conf", "/etc/openntpd/ntpd.conf",
    "/etc/systemd/timesyncd.conf", "/etc/systemd/timesyncd.conf.d/*.conf",
    "/run/chrony-dhcp/*.sources",
)


def _time_snippet(args: Mapping[str, Any]) -> str:
    return "; ".join([
        section("chronyc", "if command -v chronyc >/dev/null 2>&1; then "
                "chronyc -n tracking; else echo cii:missing; fi"),
        # chronyd parses its configuration, prints it and exits (chrony >= 4.0)
        section("chronyd-p", cut_guard(TIME_CONFIG_FILES) + "; "
                "if [ -n \"$cutl\" ]; then echo cii:cut; "
                "elif command -v chronyd >/dev/null 2>&1; then "
                "chronyd -p 2>/dev/null; else echo cii:missing; fi"),
        section("timedatectl", "if [ -d /run/systemd/system ]; then "
                "timedatectl show -p NTPSynchronized -p NTP; else echo cii:skipped; fi"),
    ])


def _config_servers(path: str, text: str) -> list[str]:
    servers: list[str] = []
    if "timesyncd" in path:
        section_name = ""
        for line in active_lines(text):
            if line.startswith("[") and line.endswith("]"):
                section_name = line[1:-1].strip()
            elif section_name == "Time" and line.split("=", 1)[0].strip() == "NTP":
                value = line.split("=", 1)[1] if "=" in line else ""
                servers = value.split()  # the last NTP= wins
        return servers
    for line in active_lines(text):
        words = line.split()
        if len(words) >= 2 and words[0] in ("server", "pool", "peer", "servers"):
            servers.append(words[1])
    return servers


def parse_time_sync(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    collected = split_sections(raw)
    processes = process_names(collected)
    if processes is None:
        return ProbeResult.failed(PROCESS_LIST_UNREADABLE)
    running = sorted({daemon for comm, daemon in TIME_DAEMONS.items() if comm in processes})
    servers_by_daemon: dict[str, list[str]] = {}
    for path, text in collected.files.items():
        daemon = ("chrony" if "chrony" in path else "systemd-timesyncd" if "timesyncd" in path
                  else "ntpd")
        found = _config_servers(path, text)
        if "timesyncd" in path:
            if found or daemon not in servers_by_daemon:
                servers_by_daemon[daemon] = found  # drop-ins override the main file
        else:
            servers_by_daemon.setdefault(daemon, []).extend(found)
    printed = collected.sections.get("chronyd-p")
    if printed is not None and printed.exit_status == 0 and \
            printed.text.strip() != "cii:missing":
        servers_by_daemon["chrony"] = chrony_servers(printed.text, collected.files)[0]
    servers = sorted({s for d in running for s in servers_by_daemon.get(d, [])})
    synchronised: bool | None = None
    sync_source = None
    tracking = collected.sections.get("chronyc")
    if tracking is not None and tracking.exit_status == 0 and "chrony" in running:
        leap = re.search(r"(?m)^Leap status\s*:\s*(.+)$", tracking.text)
        if leap:
            synchronised = leap.group(1).strip() != "Not synchronised"
            sync_source = "chronyc tracking"
    if synchronised is None:
        show = collected.sections.get("timedatectl")
        if show is not None and show.exit_status == 0:
            match = re.search(r"(?m)^NTPSynchronized=(yes|no)$", show.text)
            if match:
                synchronised = match.group(1) == "yes"
                sync_source = "timedatectl"
    data: dict[str, Any] = {
        "daemons_running": running,
        "servers": servers,
        "servers_by_daemon": {d: sorted(set(s)) for d, s in sorted(servers_by_daemon.items())},
        "active": bool(running) and bool(servers),
        "unreadable": list(collected.unreadable),
    }
    if synchronised is not None:
        data["synchronised"] = synchronised
        data["synchronised_source"] = sync_source
    else:
        data["unobservable"] = {"synchronised": "neither chronyc nor timedatectl could tell "
                                "whether the clock is synchronised"}
    if collected.unreadable and not servers:
        return ProbeResult.failed("time configuration not readable: "
                                  + ", ".join(collected.unreadable))
    return ProbeResult.ok(data)


PROBES = (
    Probe(
        name="services",
        summary="installed service/socket units with enabled/active state (systemctl, or unit "
        "files, wants links and /proc process names when systemd is not PID 1)",
        snippet=_services_snippet,
        shared=(INIT_SNIPPET, PROCESSES_SNIPPET),
        parse=parse_services,
        subject="units",
        cap_bytes=2 * 1024 * 1024,
        slow=True,
    ),
    Probe(
        name="service",
        summary="one unit: installed, enabled, active (with the method used to tell)",
        snippet=_services_snippet,
        shared=(INIT_SNIPPET, PROCESSES_SNIPPET),
        parse=parse_service,
        args_schema={
            "type": "object",
            "properties": {
                "unit": UNIT_NAME,
                "process": {"description": "process name (comm) that shows the unit runs, "
                            "when systemd cannot say", "type": "string",
                            "pattern": "^[A-Za-z0-9_.:-]{1,15}$"},
            },
            "required": ["unit"],
            "additionalProperties": False,
        },
        cap_bytes=2 * 1024 * 1024,
        slow=True,
    ),
    Probe(
        name="time_sync",
        summary="time daemons running (chronyd, ntpd, systemd-timesyncd, openntpd), their "
        "configured servers, and whether the clock is synchronised where knowable",
        snippet=_time_snippet,
        shared=(PROCESSES_SNIPPET, INIT_SNIPPET),
        files=lambda args: TIME_CONFIG_FILES,
        parse=parse_time_sync,
        cap_bytes=512 * 1024,
    ),
)
