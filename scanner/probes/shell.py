"""What an interactive login shell ends up with: TMOUT (bash) and the umask (bash and sh).

Both probes read the same files and share ONE start-up walk
(:mod:`scanner.probes.shell_startup`), which follows the files in the order the shells
read them: /etc/profile and whatever it sources, where it sources it, then the home files a
new account gets from /etc/skel. Before any shell runs, the session's umask is what PAM
gives it (pam_umask with login.defs UMASK) or the 022 that init and sshd hand down.

A setting differs per user where the files branch on the user (``$UID``, ``id -u``); the
walk keeps every branch, and the facts report the worst one: the shortest TMOUT is not
what counts, the one that does not time out is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from scanner.lines import fields, split_lines
from scanner.probes import Probe, ProbeResult, RawOutput
from scanner.probes._common import (
    TOOL_READ_CAP,
    FileFrame,
    capped,
    cut_check,
    files_only,
    frames_or_error,
)
from scanner.probes._sections import section
from scanner.probes.login_defs import LOGIN_DEFS, read_login_defs
from scanner.probes.pam.stack import PAM_FILES, pam_files, resolve_service
from scanner.probes.shell_startup import SKEL, Walk, Walker, World
from scanner.probes.shell_values import c_atoi

STARTUP_FILES = ("/etc/profile", "/etc/profile.d/*", "/etc/bash.bashrc", "/etc/bashrc",
                 f"{SKEL}/.bash_profile", f"{SKEL}/.bash_login", f"{SKEL}/.profile",
                 f"{SKEL}/.bashrc")
# Which files a login shell reads after /etc/profile (bash shell.c run_startup_files;
# dash main.c): the first of these that exists.
HOME_FILES = {"bash": (f"{SKEL}/.bash_profile", f"{SKEL}/.bash_login", f"{SKEL}/.profile"),
              "sh": (f"{SKEL}/.profile",)}
DEFAULT_UMASK = 0o022  # what init and sshd hand a session when nothing sets one
_SECTION = "shell-startup"
# sh printed once per host for both probes. Its section gives the mode of each start-up file
# (a file other accounts cannot read is sourced by root alone) and, for each absolute path a
# start-up file sources outside those files, whether it exists; such a file that every
# account may read (o+r: no secret to anyone on the host) is then printed whole after the
# section, one that only some may read is reduced on the host to the number of its lines
# that name TMOUT or umask.
_WORDS = " ".join(STARTUP_FILES)
_F = '"$f"'
_SOURCE_WORD = ("'(^|[;&|({[:space:]])(\\.|source)[[:space:]]+[\"'\\'']?"
                "/[^[:space:];&|<>()\"'\\''$`]+'")
STARTUP_SNIPPET = section(_SECTION, (
    f"stat -L -c 'M %a %n' -- {_WORDS} 2>/dev/null; "
    # each file's bounded copy (the files part says which are cut), never the paths; one
    # grep per file, so a binary file hides its own matches only, as grep FILES did
    f"cii_src=$(for f in {_WORDS}; do [ -f \"$f\" ] || continue; "
    f"head -c {TOOL_READ_CAP} -- \"$f\" 2>/dev/null | grep -ohE {_SOURCE_WORD}; done | "
    "sed -E 's/.*[[:space:]][\"'\\'']?//' | sort -u); set -f; cii_dump=; "
    "for f in $cii_src; do case \"$f\" in /etc/profile|/etc/profile.d/*|/etc/bash.bashrc|"
    "/etc/bashrc|/etc/skel/*) continue;; esac; "
    "if [ -f \"$f\" ] && [ -r \"$f\" ]; then cii_mode=$(stat -L -c %a -- \"$f\"); "
    "printf 'M %s %s\\n' \"$cii_mode\" \"$f\"; case \"$cii_mode\" in "
    "*[4567]) cii_dump=\"$cii_dump $f\";; "
    f"*) {cut_check(_F, TOOL_READ_CAP)}; printf 'X %s %s\\n' "
    f"\"$({capped(_F, TOOL_READ_CAP)} | grep -c -E 'TMOUT|umask')\" \"$f\";; esac; "
    "elif [ -e \"$f\" ]; then printf 'X U %s\\n' \"$f\"; else printf 'X N %s\\n' \"$f\"; fi; "
    "done; true")) + (
    f"; for f in $cii_dump; do {cut_check(_F, TOOL_READ_CAP)}; "
    f"printf '%s F %s\\n' \"$CII_M\" \"$f\"; {capped(_F, TOOL_READ_CAP)}; echo; done; "
    "set +f")


def _walk(frames: list[FileFrame], shell: str, start: World) -> tuple[Walk, set[World]]:
    """Run the walk for one shell from the session's state ``start``."""
    by_path = {f.path: f for f in frames if not f.path.startswith("cii:")}
    modes: dict[str, int] = {}
    elsewhere: dict[str, str] = {}
    for frame in frames:
        if frame.path != "cii:" + _SECTION:
            continue
        for line in split_lines(frame.content):
            parts = fields(line, " ", 2)
            if len(parts) == 3 and parts[0] == "M" and re.fullmatch(r"[0-7]{1,4}", parts[1]):
                modes[parts[2]] = int(parts[1], 8)
            elif len(parts) == 3 and parts[0] == "X":
                elsewhere[parts[2]] = parts[1]
    walk = Walk(shell, by_path, modes, elsewhere,
                covered=tuple(w[:-1] if w.endswith("*") else w for w in STARTUP_FILES))
    walker = Walker(walk)
    worlds = {start}
    if by_path.get("/etc/profile", FileFrame("", "missing")).state == "ok":
        worlds = _settled(walker.run_file("/etc/profile", worlds, 0))
    elif "/etc/profile" in by_path and by_path["/etc/profile"].state != "missing":
        walk.blocked.append("/etc/profile is not readable by the collector")
    for home in HOME_FILES[shell]:
        home_frame = by_path.get(home)
        if home_frame is not None and home_frame.state == "ok":
            worlds = _settled(walker.run_file(home, worlds, 0))
            break
        if home_frame is not None and home_frame.state != "missing":
            walk.blocked.append(f"{home} is not readable by the collector")
            break
    return walk, worlds


def _settled(worlds: set[World]) -> set[World]:
    """A start-up file abandoned (dash after an error, ``exit``) leaves the shell going on
    with the next start-up file."""
    return {replace(w, leaving=0) for w in worlds}


def _unknowable(walk: Walk) -> ProbeResult | None:
    if walk.blocked:
        return ProbeResult.failed(f"{walk.shell} start-up: {walk.blocked[0]}")
    return None


def parse_shell_timeout(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    """TMOUT of an interactive bash login shell (dash has no TMOUT). bash 5.2 eval.c
    ``read_command`` arms ``alarm(atoi(TMOUT))`` when that is above 0."""
    frames, problem = frames_or_error(raw)
    if problem:
        return problem
    walk, worlds = _walk(frames, "bash", World(umask=DEFAULT_UMASK, umask_where="default"))
    unknowable = _unknowable(walk)
    if unknowable:
        return unknowable
    unknown = sorted({w.tmout_where for w in worlds if not w.tmout_known})
    if unknown:
        return ProbeResult.failed(f"TMOUT is computed at {unknown[0]}; its value is not known")
    seconds = sorted({c_atoi(w.tmout) if w.tmout is not None else 0 for w in worlds})
    worst = 0 if seconds[0] <= 0 else seconds[-1]
    return ProbeResult.ok({
        "tmout": worst,
        "possible": seconds,
        "set": all(w.tmout is not None for w in worlds),
        "readonly": all(w.tmout_readonly for w in worlds),
        "exported": all(w.tmout_exported for w in worlds),
        "conditional": len(seconds) > 1,
        "set_in": sorted({w.tmout_where for w in worlds if w.tmout_where}),
        "files_read": list(dict.fromkeys(walk.read)),
        "notes": list(dict.fromkeys(walk.notes)),
    })


def _session_umasks(frames: list[FileFrame]) -> tuple[set[int], str]:
    """The umask(s) a session starts with, per login and sshd PAM stack: login.defs UMASK
    where the stack has pam_umask (linux-pam modules/pam_umask), else 022."""
    files = pam_files(frames)
    defs = next((f for f in frames if f.path == LOGIN_DEFS and f.state == "ok"), None)
    defs_umask = read_login_defs(defs.content).get("UMASK") if defs else None
    values: set[int] = set()
    sources = []
    for name in ("login", "sshd"):
        stack = resolve_service(name, files) if files else None
        with_umask = bool(stack) and any(
            line["type"] == "session" and line["module"] == "pam_umask.so"
            for line in stack["lines"])  # type: ignore[index]
        if with_umask and defs_umask and re.fullmatch(r"[0-7]{1,4}", defs_umask):
            values.add(int(defs_umask, 8) & 0o777)
            sources.append(f"{name}: {LOGIN_DEFS} UMASK (pam_umask)")
        else:
            values.add(DEFAULT_UMASK)
            sources.append(f"{name}: default 022")
    return values, "; ".join(sources)


def parse_shell_umask(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    """The umask interactive bash and sh login shells end up with, every path of the walk
    counted: ``grants`` is what the most open of them lets others have."""
    frames, problem = frames_or_error(raw)
    if problem:
        return problem
    starts, session_source = _session_umasks(frames)
    masks: dict[int, set[str]] = {}
    notes: list[str] = []
    read: list[str] = []
    for shell in ("bash", "sh"):
        for start in sorted(starts):
            walk, worlds = _walk(frames, shell, World(umask=start, umask_where="session"))
            unknowable = _unknowable(walk)
            if unknowable:
                return unknowable
            notes += walk.notes
            read += walk.read
            for world in worlds:
                if world.umask is None:
                    return ProbeResult.failed(f"{shell}: the umask set at {world.umask_where} "
                                              "is computed; its value is not known")
                masks.setdefault(world.umask, set()).add(f"{shell}: {world.umask_where}")
    combined = 0o777
    for mask in masks:
        combined &= mask
    return ProbeResult.ok({
        "umask": f"{combined:04o}",
        "grants": f"{0o777 & ~combined:04o}",
        "possible": sorted(f"{mask:04o}" for mask in masks),
        "source": "; ".join(sorted({w for m in masks if m == min(masks, key=lambda x: (
            bin(0o777 & ~x).count("1"))) for w in masks[m]})),
        "session": session_source,
        "conditional": len(masks) > 1,
        "set_in": sorted({w for where in masks.values() for w in where}),
        "files_read": list(dict.fromkeys(read)),
        "notes": list(dict.fromkeys(notes)),
    })


PROBES = (
    Probe(
        name="shell_umask",
        summary="the umask interactive bash and sh login shells end up with (the session's "
        "umask from pam_umask or 022, then the start-up files in the order the shells read "
        "them, every branch counted) and the file mode the most open one grants",
        snippet=files_only,
        shared=(STARTUP_SNIPPET,),
        files=lambda args: (*STARTUP_FILES, LOGIN_DEFS, *PAM_FILES),
        parse=parse_shell_umask,
        cap_bytes=4 * 1024 * 1024,
    ),
    Probe(
        name="shell_timeout",
        summary="TMOUT as an interactive bash login shell gets it from /etc/profile and the "
        "files it sources in their order, then /etc/skel's files (0 when unset; the worst "
        "branch when it differs per user)",
        snippet=files_only,
        shared=(STARTUP_SNIPPET,),
        files=lambda args: STARTUP_FILES,
        parse=parse_shell_timeout,
        cap_bytes=1024 * 1024,
    ),
)
