"""auditd.conf as auditd itself loads it (audit-userspace 3.0.9, src/auditd-config.c).

``load_config`` reads the file with ``fgets`` into a 160-byte buffer (a longer line
is skipped), cuts it at ``\\n`` and splits it at spaces only (``audit_strsplit``: a tab
or a CR stays inside a word). The first word starting with ``#`` makes a comment; the
second word must be exactly ``=`` (``key=value`` is "Missing equal sign"), the third
is the value and a fourth the option (``exec /path``). The keyword is looked up with
``strcasecmp`` and an unknown one aborts the load, as does a missing value, an option
on a keyword that takes none, or a value its parser refuses (the action parsers take
ignore, syslog, rotate, email, exec, suspend, single, halt case-insensitively; email
is refused for disk_full_action, exec needs an absolute path). After the last line
``sanity_check`` refuses space_left not above admin_space_left (both 0 by default),
incremental flushing with freq 0, and a log_group with the log directly in /var/log.
An aborted load means auditd does not start. The last line naming a keyword wins,
and an absent keyword keeps ``clear_config``'s default (``ignore`` for the three space
actions).

Keywords are those of 3.0.9 plus those later versions added; value checks of the
other keywords and the file's owner/mode checks are not modelled (such a file also
stops auditd, which audit.auditd-active reports).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from scanner.lines import split_lines
from scanner.probes import Probe, ProbeResult, RawOutput
from scanner.probes._sections import (
    PROCESSES_SNIPPET,
    process_names,
    section,
    split_sections,
)

AUDITD_CONF = "/etc/audit/auditd.conf"
_KEYWORDS = frozenset({
    "local_events", "write_logs", "log_file", "log_format", "log_group", "flush", "freq",
    "num_logs", "dispatcher", "name_format", "name", "disp_qos", "max_log_file",
    "max_log_file_action", "space_left", "space_left_action", "action_mail_acct", "verify_email",
    "admin_space_left", "admin_space_left_action", "disk_full_action", "disk_error_action",
    "priority_boost", "tcp_listen_port", "tcp_listen_queue", "tcp_max_per_addr", "use_libwrap",
    "tcp_client_ports", "tcp_client_max_idle", "transport", "enable_krb5", "krb5_principal",
    "krb5_key_file", "distribute_network", "q_depth", "overflow_action", "max_restarts",
    "plugin_dir", "end_of_event_timeout", "tls_psk_file", "tls_psk_identity", "tls_cipher_suites",
    "tls_key_exchange", "tls_require_pqc", "tls_auth", "tls_crypto_profile",
    "tls_allowed_clients", "report_interval",
})
_WITH_OPTION = frozenset({"space_left_action", "admin_space_left_action", "disk_full_action",
                          "disk_error_action"})
_FAILURE_ACTIONS = frozenset({"ignore", "syslog", "rotate", "email", "exec", "suspend",
                              "single", "halt"})
_REFUSED = {"disk_full_action": {"email"}, "disk_error_action": {"email", "rotate"}}
DEFAULTS = {"space_left_action": "ignore", "admin_space_left_action": "ignore",
            "disk_full_action": "ignore", "disk_error_action": "syslog"}
_LINE_BYTES = 159  # char buf[160] and fgets


def load_auditd_conf(text: str) -> tuple[dict[str, str], str]:
    """(settings auditd runs with, lower-cased; why auditd refuses the file or "")."""
    settings = dict(DEFAULTS)
    lines = split_lines(text)
    if text and not text.endswith("\n"):
        lines[-1] = "#"  # no newline in fgets' buffer: skipped as "too long"
    for number, line in enumerate(lines, 1):
        if len(line.encode("utf-8", "surrogateescape")) > _LINE_BYTES - 1:
            continue  # "Skipping line: too long"
        words = [word for word in line.split(" ") if word]
        if not words or words[0].startswith("#"):
            continue
        where = f"line {number} of {AUDITD_CONF}"
        if len(words) < 3:
            why = "missing equal sign" if len(words) == 2 and words[1] != "=" else \
                "wrong number of arguments"
            return settings, f"{where}: {why} ({line.strip()[:80]!r})"
        if words[1] != "=":
            return settings, f"{where}: missing equal sign ({line.strip()[:80]!r})"
        name, value = words[0].lower(), words[2]
        option = words[3] if len(words) > 3 else None
        if name not in _KEYWORDS:
            return settings, f"{where}: unknown keyword {words[0]!r}"
        if option is not None and name not in _WITH_OPTION:
            return settings, f"{where}: keyword {words[0]!r} has invalid option {option!r}"
        if name in _WITH_OPTION:
            chosen = value.lower()
            if chosen not in _FAILURE_ACTIONS or chosen in _REFUSED.get(name, set()):
                return settings, f"{where}: {words[0]} {value!r} is not an action it takes"
            if chosen == "exec" and not (option or "").startswith("/"):
                return settings, f"{where}: exec needs an absolute path"
        if name in ("space_left", "admin_space_left") and (
                not re.fullmatch(r"[0-9%]+", value)
                or ("%" in value and int(value.replace("%", "") or 0) > 99)):
            return settings, f"{where}: {words[0]} {value!r} is not a number or percent"
        settings[name] = value.lower()
    return settings, _sanity(settings)


def _amount(value: str | None) -> tuple[int, bool]:
    """(number, is a percentage) as the space_left parsers store it (strtoul, base 10)."""
    digits = re.match(r"\d*", (value or "").replace("%", " ")).group(0)  # type: ignore[union-attr]
    return int(digits or 0), "%" in (value or "")


def _sanity(settings: Mapping[str, str]) -> str:
    """auditd-config.c ``sanity_check``: refusals after the whole file was read."""
    space, space_percent = _amount(settings.get("space_left"))
    admin, admin_percent = _amount(settings.get("admin_space_left"))
    if not space_percent and not admin_percent and space <= admin:
        return (f"space_left ({space}) must be larger than admin_space_left ({admin}): auditd "
                "refuses the file")
    flush = settings.get("flush", "none")
    if flush in ("incremental", "incremental_async") and settings.get("freq", "0") in ("0", ""):
        return "incremental flushing with freq 0: auditd refuses the file"
    group = settings.get("log_group", "root")
    log_dir = settings.get("log_file", "/var/log/audit/audit.log").rpartition("/")[0]
    if group not in ("root", "0") and log_dir == "/var/log":
        return "log_file directly in /var/log with a log_group: auditd refuses the file"
    return ""


def parse_auditd_conf(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    frames = split_sections(raw)
    if AUDITD_CONF in frames.unreadable:
        return ProbeResult.failed(f"{AUDITD_CONF} is not readable by the collector")
    text = frames.files.get(AUDITD_CONF)
    installed = frames.sections.get("installed")
    processes = process_names(frames)
    if text is None:
        if installed is None or processes is None:
            return ProbeResult.failed(f"{AUDITD_CONF} does not exist and whether auditd is "
                                      "installed or running could not be seen")
        if not installed.text.strip() and "auditd" not in processes:
            return ProbeResult.absent(f"{AUDITD_CONF} does not exist and auditd is neither "
                                      "installed nor running")
        text = ""  # auditd runs on its built-in defaults ("Config file doesn't exist")
    settings, refused = load_auditd_conf(text)
    settings["load_error"] = refused
    return ProbeResult.ok({"settings": settings})


PROBES = (
    Probe(
        name="auditd_conf",
        summary="settings auditd loads from /etc/audit/auditd.conf (keys and values lower-case, "
        "defaults for absent keys) and why auditd would refuse the file (load_error)",
        snippet=lambda args: section("installed", "command -v auditd || true"),
        shared=(PROCESSES_SNIPPET,),
        files=lambda args: (AUDITD_CONF,),
        parse=parse_auditd_conf,
        keyed="settings",
        cap_bytes=256 * 1024,
    ),
)
