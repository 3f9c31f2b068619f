"""Package repositories and whether their packages are installed without signature checks.

The consumers are apt and dnf, and both are asked first:

* apt (semantics of apt 2.6, ``apt-pkg/sourcelist.cc``, ``deb/debmetaindex.cc``):
  ``apt-get indextargets`` lists the entries apt really uses, after its own reading of
  sources.list, ``*.list`` and deb822 ``*.sources`` (comments, CRLF, ``Enabled: no``,
  which file names in sources.list.d count, ``Dir::Etc::*``), with the per-entry
  ``allow-insecure``/``allow-weak``/``allow-downgrade-to-insecure`` already resolved
  against ``Acquire::Allow*Repositories`` (``GetDebReleaseIndexBy``); the acquire code
  (``acquire-item.cc``, ``AllowInsecureRepositories``) also honours those globals on their
  own, whatever an entry says, so they count by themselves; ``allow-downgrade-to-insecure``
  alone lets nothing unsigned in (the unsigned check follows it) and is only shown.
  indextargets runs with ``ReleaseInfo=false``, no cache file and no lists directory, so
  nothing is written (not even the temp file apt reads an InRelease through).
  ``apt-config shell …/b`` gives those globals and ``APT::Get::AllowUnauthenticated``
  through apt's own ``StringToBool``. Only ``trusted=`` is not shown by apt for an entry
  it has not fetched; it is read from the one line or stanza apt names
  (``Sourcesentry``) as ``ParseLine`` / ``ParseStanza`` read it, with
  :func:`apt_string_to_bool`.
* dnf (dnf 4.14, libdnf 0.69): its Python API reads dnf.conf and every repo file as dnf
  itself does (``Base.read_all_repos``, no network, nothing written) and tells each
  repository's resolved ``enabled``/``gpgcheck``. Without it (yum 3 hosts) the files are
  read by :mod:`scanner.probes.package_sources_ini` with the behaviour libdnf showed.

A source line's URI can carry a password; nothing here prints one: the entry's site
comes from apt's ``$(SITE)``, which drops user and password, and the files are read by
the collector's file reader.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from scanner.lines import C_SPACE, split_lines, strip
from scanner.probes import Probe, ProbeResult, RawOutput
from scanner.probes._common import cut_guard
from scanner.probes._sections import Collected, section, split_sections
from scanner.probes.package_sources_ini import DNF_ASK, yum_dnf_repos

SOURCE_FILES = ("/etc/apt/sources.list", "/etc/apt/sources.list.d/*.list",
                "/etc/apt/sources.list.d/*.sources", "/etc/yum.conf", "/etc/dnf/dnf.conf",
                "/etc/yum.repos.d/*.repo", "/etc/yum/repos.d/*.repo",
                "/etc/distro.repos.d/*.repo")

_TARGET_FIELDS = ("SOURCESENTRY", "TARGET_OF", "ALLOW_INSECURE", "ALLOW_WEAK",
                  "ALLOW_DOWNGRADE_TO_INSECURE", "SITE", "RELEASE")
_APT_FORMAT = "\t".join(f"$({name})" for name in _TARGET_FIELDS)
_APT_BOOLS = {"UNAUTH": "APT::Get::AllowUnauthenticated",
              "INSECURE": "Acquire::AllowInsecureRepositories",
              "WEAK": "Acquire::AllowWeakRepositories",
              "DOWNGRADE": "Acquire::AllowDowngradeToInsecureRepositories"}
_SHELL_ARGS = " ".join(f"{var} {key}/b" for var, key in _APT_BOOLS.items())


def _snippet(args: Mapping[str, Any]) -> str:
    # No lists directory: apt would copy each InRelease's signed text to a temp file to
    # read it, and the entries it uses come from the sources alone.
    indextargets = ("apt-get indextargets -o APT::Get::IndexTargets::ReleaseInfo=false "
                    "-o Dir::State::Lists=/nonexistent/ "
                    "-o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= --format "
                    + "'" + _APT_FORMAT + "'")
    # a sources or apt.conf file over the cap: apt and dnf are not made to read it
    guard = cut_guard((*SOURCE_FILES, "/etc/apt/apt.conf", "/etc/apt/apt.conf.d/*"))
    return "; ".join([
        section("apt-indextargets", guard + "; if [ -n \"$cutl\" ]; then echo cii:cut; "
                "elif command -v apt-get >/dev/null 2>&1; then "
                f"{indextargets}; else echo cii:missing; fi"),
        section("apt-config", "if [ -n \"$cutl\" ]; then echo cii:cut; "
                "elif command -v apt-config >/dev/null 2>&1; then "
                f"apt-config shell {_SHELL_ARGS}; else echo cii:missing; fi"),
        section("dnf", f"if [ -n \"$cutl\" ]; then echo cii:cut; else {DNF_ASK}; fi"),
    ])


# ---------------------------------------------------------------- apt's own parsing rules


def _c_strtol_whole(text: str) -> int | None:
    """``strtol(text, &end, 0)`` when it consumes all of ``text``, else None (C locale)."""
    match = re.fullmatch(r"[ \t\n\v\f\r]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)?", text)
    if match is None:
        return None
    digits = match.group(2)
    if digits is None:  # no digits at all: strtol converts nothing, end == start
        return 0 if text == "" else None
    value = int(digits, 16) if digits[:2] in ("0x", "0X") else (
        int(digits, 8) if digits.startswith("0") else int(digits))
    return -value if match.group(1) == "-" else value


def apt_string_to_bool(text: str, default: bool) -> bool:
    """apt's ``StringToBool`` (apt-pkg/contrib/strutl.cc): a whole ``strtol`` number 0 or 1,
    else no/false/without/off/disable or yes/true/with/on/enable (any case), else default."""
    number = _c_strtol_whole(text)
    if number is not None and 0 <= number <= 1:
        return number == 1
    lowered = text.lower()
    if lowered in ("no", "false", "without", "off", "disable"):
        return False
    if lowered in ("yes", "true", "with", "on", "enable"):
        return True
    return default


def _parse_quote_word(text: str, at: int) -> tuple[str, int] | None:
    """apt's ``ParseQuoteWord``: a word up to C whitespace, ``"…"`` and ``[…]`` kept
    together, ``%XX`` decoded, double quotes dropped; returns the word and where the
    next one starts."""
    while at < len(text) and text[at] == " ":
        at += 1
    if at >= len(text):
        return None
    end = at
    while end < len(text) and text[end] not in C_SPACE:
        if text[end] in "\"[":
            close = text.find('"' if text[end] == '"' else "]", end + 1)
            if close < 0:
                return None
            end = close
        end += 1
    raw = text[at:end]
    word = re.sub(r"%([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), raw)
    word = word.replace('"', "")
    while end < len(text) and text[end] in C_SPACE:
        end += 1
    return word, end


def one_line_options(line: str) -> dict[str, str] | None:
    """The ``[key=value …]`` options of one sources.list line as ``ParseLine`` reads them
    (comment removed, later keys win); None when apt would call the line malformed."""
    at = 0
    while at < len(line) and line[at] in C_SPACE:
        at += 1
    options: dict[str, str] = {}
    if at < len(line) and line[at] == "[":
        at += 1
        while at < len(line) and line[at] in C_SPACE:
            at += 1
        while at < len(line) and line[at] != "]":
            parsed = _parse_quote_word(line, at)
            if parsed is None or len(parsed[0]) < 3:
                return None
            option, at = parsed
            if option.endswith("]"):
                at = line.rindex("]", 0, at)
                option = option[:-1]
            key, sep, value = option.partition("=")
            if not sep or not key or not value:
                return None
            options[key] = value
    return options


def _uncommented(line: str) -> str:
    """A sources.list line without its comment: ``#`` starts one unless more ``[`` than
    ``]`` precede it (ParseFileOldStyle); then trimmed of blank, tab and CR."""
    at = 0
    while (found := line.find("#", at)) >= 0:
        if line.count("[", 0, found) > line.count("]", 0, found):
            at = found + 1
            continue
        line = line[:found]
        break
    return line.strip(" \t\r")


def _deb822_stanzas(text: str) -> list[dict[str, str]]:
    """Stanzas of a deb822 file as pkgTagFile with SUPPORT_COMMENTS reads them: ``#``
    lines dropped, stanzas split at empty lines, field names case-insensitive, values
    trimmed, continuation lines joined, a repeated field's later value kept."""
    stanzas: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last = ""
    for line in split_lines(text):
        if line.startswith("#"):
            continue
        if strip(line, " \t\r") == "":
            if current:
                stanzas.append(current)
            current, last = {}, ""
            continue
        if line[:1] in (" ", "\t") and last:
            current[last] += "\n" + strip(line, " \t\r")
            continue
        name, sep, value = line.partition(":")
        if sep:  # a field given twice: the later one counts, as apt showed
            last = name.lower()
            current[last] = strip(value, " \t\r")
    if current:
        stanzas.append(current)
    return stanzas


def _trusted_option(entry: str, files: Mapping[str, str]) -> tuple[bool | None, str]:
    """``trusted=`` of the entry apt names ``FILE:N`` (N a line, or a deb822 stanza):
    True (TRI_YES), False (unset or TRI_NO), or None when the file was not read."""
    path, _, number_text = entry.rpartition(":")
    text = files.get(path)
    if text is None or not number_text.isdigit():
        return None, f"apt uses {entry}, which the scan could not read"
    number = int(number_text)
    if path.endswith(".sources"):
        stanzas = _deb822_stanzas(text)
        if not 0 < number <= len(stanzas):
            return None, f"apt's stanza {entry} is not where the scan reads it"
        value = stanzas[number - 1].get("trusted")
    else:
        lines = split_lines(text)
        if not 0 < number <= len(lines):
            return None, f"apt's line {entry} is not where the scan reads it"
        line = _uncommented(lines[number - 1])
        kind = re.match(r"[^ \t\v]+", line)
        options = one_line_options(line[kind.end():] if kind else line)
        if options is None:
            return None, f"{entry}: apt's line could not be re-read"
        value = options.get("trusted")
    return (apt_string_to_bool(value, False) if value is not None else False), ""


def _apt_repos(collected: Collected) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """apt's entries with why each is unsigned, global options, and what stops judging."""
    problems: list[str] = []
    targets = collected.sections.get("apt-indextargets")
    if targets is None or targets.text.strip() == "cii:missing":
        return [], [], []
    if targets.exit_status != 0:
        first = next((line for line in split_lines(targets.text) if line.strip()), "")
        return [], [], [f"apt-get indextargets failed: {first[:200]}"]
    entries: dict[str, dict[str, Any]] = {}
    for line in split_lines(targets.text):
        values = line.split("\t")
        if len(values) != len(_TARGET_FIELDS):
            continue
        row = dict(zip(_TARGET_FIELDS, values, strict=True))
        entry = row["SOURCESENTRY"]
        site = re.sub(r"//[^/@]*@", "//", row["SITE"])  # apt drops a password; so do we
        found = entries.setdefault("\t".join((entry, site, row["RELEASE"])), {
            "file": entry, "type": row["TARGET_OF"], "name": f"{site} {row['RELEASE']}",
            "why": set()})
        for option in ("ALLOW_INSECURE", "ALLOW_WEAK"):
            if row[option] == "true":
                found["why"].add(option.lower().replace("_", "-"))
        # allow-downgrade-to-insecure only lets a formerly signed repository through the
        # "no longer signed" check; the unsigned check after it still needs trusted= or
        # allow-insecure (acquire-item.cc AllowInsecureRepositories): shown, not counted
        found["downgrade_allowed"] = row["ALLOW_DOWNGRADE_TO_INSECURE"] == "true"
    repos: list[dict[str, Any]] = []
    for found in entries.values():
        trusted, problem = _trusted_option(found["file"], collected.files)
        if trusted is None:
            problems.append(problem)
        elif trusted:
            found["why"].add("trusted")
        why = sorted(found.pop("why"))
        repos.append({**found, "manager": "apt", "unsigned": bool(why), "why": why})
    global_insecure: list[str] = []
    config = collected.sections.get("apt-config")
    if config is not None and config.exit_status == 0:
        shown = dict(re.findall(r"(?m)^([A-Z]+)='(true|false)'$", config.text))
        # acquire-item.cc reads the Acquire::Allow* globals itself, beside the entry's
        # option: an entry's allow-insecure=no does not switch a global "true" off
        global_insecure.extend(f"{key} is true (apt-config)" for var, key in _APT_BOOLS.items()
                               if shown.get(var) == "true" and var != "DOWNGRADE")
    elif config is not None and config.text.strip() != "cii:missing":
        problems.append("apt-config could not be asked")
    return repos, global_insecure, problems


def parse_package_sources(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    collected = split_sections(raw)
    if "apt-indextargets" not in collected.sections:
        return ProbeResult.failed("the package source snippet printed nothing recognisable")
    repos, global_insecure, problems = _apt_repos(collected)
    dnf = yum_dnf_repos(collected)
    problems.extend(dnf.problems)
    repos.extend(dnf.repos)
    if problems:
        return ProbeResult.failed("; ".join(problems))
    apt_seen = collected.sections["apt-indextargets"].text.strip() != "cii:missing"
    if not apt_seen and dnf.manager is None:
        if collected.unreadable:
            return ProbeResult.failed("package source files not readable: "
                                      + ", ".join(collected.unreadable))
        return ProbeResult.failed("neither apt nor yum/dnf is configured on the host")
    data: dict[str, Any] = {"repos": repos, "global_insecure": global_insecure,
                            "managers": [m for m in (("apt" if apt_seen else None), dnf.manager)
                                         if m]}
    data.update(dnf.main)
    if collected.unreadable:
        data["unreadable"] = list(collected.unreadable)
    return ProbeResult.ok(data)


PROBES = (
    Probe(
        name="package_sources",
        summary="apt entries and yum/dnf repositories as apt and dnf themselves read them, each "
        "flagged when its packages are accepted without signature checks (trusted=yes, "
        "allow-insecure, gpgcheck off)",
        snippet=_snippet,
        files=lambda args: SOURCE_FILES,
        parse=parse_package_sources,
        subject="repos",
        cap_bytes=2 * 1024 * 1024,
        slow=True,
    ),
)
