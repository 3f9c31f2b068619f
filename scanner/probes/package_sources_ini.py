"""yum/dnf repositories: dnf asked through its own Python API, else its files read as it does.

dnf's view (dnf 4.14 / libdnf 0.69, ``dnf.Base.read_all_repos``) is the truth: the
``[main]`` section of /etc/dnf/dnf.conf, every ``*.repo`` file in ``reposdir`` and the
repository sections of dnf.conf itself, each repository's ``gpgcheck`` falling back to
``[main]``'s, whose own default is **False** (libdnf ``ConfigMain``). The snippet asks it
where dnf's Python module imports; nothing is fetched or written.

Hosts without it (yum 3) are read by :func:`yum_dnf_repos` as libdnf showed it reads
them (the oracle tests pin each point against the real dnf): lines end at ``\\n``;
``#`` and ``;`` lines are comments; keys are case-sensitive and the last one wins; a
value is trimmed of C whitespace; a line that starts with blank continues the previous
value; a boolean is ``1/yes/true/on`` or ``0/no/false/off`` in any case, and any other
value is ignored (the default stays); a line that is neither section, comment nor
``key=value`` makes dnf skip the whole file; the first definition of a repository id
wins. yum 3 reads /etc/yum.conf the same way, with its repository sections.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from scanner.lines import C_SPACE, split_lines, strip
from scanner.probes._common import quote
from scanner.probes._dnf_python import first_python, guarded
from scanner.probes._sections import Collected

_DNF_PROGRAM = "\n".join([
    "b = dnf.Base()",
    "b.conf.read()",
    "if b.conf.substitutions.get('releasever') is None:",
    "    b.conf.substitutions['releasever'] = ''",
    "b.read_all_repos()",
    "c = b.conf",
    "print('cii:dnf main', int(c.gpgcheck), int(c.localpkg_gpgcheck), int(c.repo_gpgcheck),"
    " sep='\\t')",
    "for r in b.repos.all():",
    "    print('cii:dnf repo', r.id, int(r.enabled), int(r.gpgcheck), int(r.repo_gpgcheck),"
    " getattr(r, 'repofile', ''), sep='\\t')",
])

#: sh asking dnf's Python module; ``cii:missing`` when dnf is not on the host at all.
DNF_ASK = (
    "if command -v dnf >/dev/null 2>&1 || [ -e /etc/dnf/dnf.conf ]; then "
    + first_python(f"\"$py\" -c {quote(guarded(_DNF_PROGRAM))}")
    + "; [ -n \"$asked\" ] || echo cii:no-dnf-python; else echo cii:missing; fi"
)

_TRUE = ("1", "yes", "true", "on")
_FALSE = ("0", "no", "false", "off")
REPO_DIRS = ("/etc/yum.repos.d/", "/etc/yum/repos.d/", "/etc/distro.repos.d/")


@dataclass
class DnfView:
    manager: str | None = None  # "dnf" or "yum" when one is configured on the host
    repos: list[dict[str, Any]] = field(default_factory=list)
    main: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def libdnf_bool(value: str | None) -> bool | None:
    """libdnf's OptionBool: the value's truth, or None when it is not a boolean."""
    if value is None:
        return None
    lowered = value.lower()
    return True if lowered in _TRUE else False if lowered in _FALSE else None


def ini_sections(text: str) -> dict[str, dict[str, str]] | None:
    """Sections of one dnf ini file in order (first of a duplicate kept whole); None when
    dnf would refuse to load the file."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    last = ""
    for line in split_lines(text):
        if strip(line) == "" or line.lstrip(C_SPACE)[:1] in ("#", ";"):
            continue
        if line[:1] in (" ", "\t") and current is not None and last:
            current[last] += "\n" + strip(line)
            continue
        stripped = strip(line)
        section = re.fullmatch(r"\[([^\]]*)\]", stripped)
        if section:
            current = {}
            name = strip(section.group(1))
            if name not in sections:
                sections[name] = current
            last = ""
            continue
        key, sep, value = stripped.partition("=")
        if not sep or current is None:
            return None
        last = strip(key)
        current[last] = strip(value)
    return sections


def _from_dnf(text: str, view: DnfView) -> None:
    view.manager = "dnf"
    for line in split_lines(text):
        words = line.split("\t")
        if words[0] == "cii:dnf main" and len(words) == 4:
            view.main = {"dnf_main_gpgcheck": words[1] == "1",
                         "dnf_localpkg_gpgcheck": words[2] == "1",
                         "dnf_repo_gpgcheck": words[3] == "1", "dnf_source": "dnf"}
        elif words[0] == "cii:dnf repo" and len(words) == 6 and words[2] == "1":
            view.repos.append({"manager": "dnf", "file": words[5], "name": words[1][:200],
                               "unsigned": words[3] != "1",
                               "why": [] if words[3] == "1" else ["gpgcheck off"]})
    if not view.main:
        view.problems.append("dnf's Python API did not answer: "
                             + next((w for w in split_lines(text) if w.strip()), "")[:200])


def _from_files(collected: Collected, main_path: str, manager: str, view: DnfView) -> None:
    view.manager = manager
    files = collected.files
    main_sections = ini_sections(files[main_path])
    if main_sections is None:
        view.problems.append(f"{main_path} is not a file {manager} can load")
        return
    main = main_sections.get("main", {})
    if "reposdir" in main:
        view.problems.append(f"{main_path} sets reposdir; only {manager} itself can say "
                             "which files it reads")
        return
    gpgcheck = libdnf_bool(main.get("gpgcheck")) or False
    view.main = {"dnf_main_gpgcheck": gpgcheck,
                 "dnf_localpkg_gpgcheck": libdnf_bool(main.get("localpkg_gpgcheck")) or False,
                 "dnf_repo_gpgcheck": libdnf_bool(main.get("repo_gpgcheck")) or False,
                 "dnf_source": f"{main_path} read as {manager} does"}
    seen: set[str] = set()
    sources = [(main_path, main_sections)]
    for path in sorted(p for p in files if p.startswith(REPO_DIRS) and p.endswith(".repo")):
        parsed = ini_sections(files[path])
        if parsed is not None:  # dnf skips a file it cannot load
            sources.append((path, parsed))
    for path, sections in sources:
        for name, options in sections.items():
            if name == "main" or name in seen:
                continue
            seen.add(name)
            if libdnf_bool(options.get("enabled")) is False:
                continue
            repo_check = libdnf_bool(options.get("gpgcheck"))
            checked = gpgcheck if repo_check is None else repo_check
            view.repos.append({"manager": manager, "file": path, "name": name[:200],
                               "unsigned": not checked,
                               "why": [] if checked else ["gpgcheck off"]})
    unreadable = [p for p in collected.unreadable if p.startswith(REPO_DIRS)]
    if unreadable:
        view.problems.append("repository files not readable: " + ", ".join(unreadable))


def yum_dnf_repos(collected: Collected) -> DnfView:
    """Enabled yum/dnf repositories with their resolved gpgcheck, and [main]'s settings."""
    view = DnfView()
    asked = collected.sections.get("dnf")
    text = asked.text.strip() if asked is not None else "cii:missing"
    if asked is not None and "cii:dnf main" in asked.text:
        _from_dnf(asked.text, view)
    elif text == "cii:no-dnf-python" and "/etc/dnf/dnf.conf" in collected.files:
        _from_files(collected, "/etc/dnf/dnf.conf", "dnf", view)
    elif text == "cii:no-dnf-python":
        view.manager = "dnf"
        view.problems.append("dnf is installed but neither its Python API nor "
                             "/etc/dnf/dnf.conf could be read")
    elif "/etc/yum.conf" in collected.files:
        _from_files(collected, "/etc/yum.conf", "yum", view)
    elif asked is not None and text != "cii:missing":
        _from_dnf(asked.text, view)
    return view
