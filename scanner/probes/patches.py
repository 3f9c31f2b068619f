"""Pending security updates: which installed packages have a newer version in a security
archive, by the package lists (or dnf's metadata cache) already on the host.

The consumers, apt 2.6 and dnf 4, are both asked, with nothing fetched and nothing
written; only the security test (unattended-upgrades' default origins) and the version
order (dpkg's verrevcmp) are the scanner's own:

* apt 2.6: ``apt-cache policy`` on every package dpkg has on disk (``dpkg-query -W``,
  all states but not-installed and config-files) gives apt's installed version and its
  version table, each version with the index files it comes from. ``apt-get
  indextargets`` with its release information joins each index file (apt's own
  ``$(DESCRIPTION)``, the text the version table prints) to the Origin, Label, Suite
  and Codename apt read from that archive's Release file. An archive is a *security
  archive* when its Suite or Codename ends in ``-security`` (Debian: ``Codename:
  bookworm-security``, ``Suite: stable-security``; Ubuntu: ``Suite: noble-security``,
  also ``noble-apps-security`` / ``noble-infra-security`` of ESM) or its Label is
  ``Debian-Security`` — what unattended-upgrades' default origins name.
  A security update is *pending* when any version newer than the installed one, in
  dpkg's order (``verrevcmp`` of dpkg 1.21, epoch, upstream and revision, ``~`` before
  everything), comes from a security archive, whatever apt's candidate is: a pin that
  holds the candidate back leaves the vulnerability unpatched all the same.
  Where it can (root, ``unshare``) the snippet asks both in one private mount namespace
  with a tmpfs on /tmp: apt writes the cache it builds for ``indextargets`` there, and
  ``apt-cache policy`` maps that file after checking it against the lists and dpkg's
  status, as apt checks its own cache, so apt builds it once (0.4 s of CPU here), not
  twice; the InRelease apt reads through a temporary file goes there too, and none of
  it touches the host's disks. Elsewhere apt builds its cache in memory
  (``Dir::Cache::pkgcache=``) for each command and uses its own O_TMPFILE in $TMPDIR.
  The host's own cache (/var/cache/apt/pkgcache.bin) is never read: apt trusts it while
  dpkg's status keeps its size and its mtime in whole seconds, so a downgrade within
  the cache's second leaves a cache that names the fixed version as installed
  (tests/oracle/test_patches.py plants one).
* Age of the lists: the ``Date:`` of each archive's Release or InRelease file, which
  the archive signs (a copied or touched list file keeps it; a list file's mtime is the
  server's Last-Modified, or whatever the file system says, and proves nothing). The
  age that counts is the *oldest* security archive's: that is how old the host's
  knowledge of security fixes is. A host without any security archive counts its
  newest list, and says so (``security_archives`` empty): the rule fails it, since
  nothing would ever tell it of a fix. No list at all is an ``error`` ("apt-get update
  never ran"), and so is a configured security archive whose list was never fetched.
* dnf 4 (RHEL 8/9 and kin): dnf's Python API with ``cacheonly`` (no network), the same
  query as ``dnf updateinfo list --security --available``: available packages that
  upgrade an installed one and appear in a security advisory of the cached updateinfo.
  The age is the oldest enabled repository's metadata (libdnf ``Repo.getAge``). A
  repository without a cache is an ``error``. Where root may, dnf runs in a private
  mount namespace with its cache directory overlaid by a tmpfs, so the solv files it
  may rebuild never reach the host's disk.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Mapping
from typing import Any

from scanner.lines import split_lines
from scanner.probes import Probe, ProbeResult, RawOutput
from scanner.probes._common import cut_guard, quote
from scanner.probes._dnf_python import first_python, guarded
from scanner.probes._sections import Collected, Section, section, split_sections
from scanner.probes.package_sources import SOURCE_FILES

SECONDS_PER_DAY = 86400
APT_CONFIG_FILES = ("/etc/apt/sources.list", "/etc/apt/sources.list.d/*.list",
                    "/etc/apt/sources.list.d/*.sources", "/etc/apt/apt.conf",
                    "/etc/apt/apt.conf.d/*")
RELEASE_HEAD = 64 * 1024
PENDING_SHOWN = 200

_MEMORY_CACHE = "-o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache="
# the entries apt is configured for, read from the sources alone (no lists directory: the
# index file names keep their base name, which is all the join needs)
_CONFIGURED = ("apt-get indextargets -o APT::Get::IndexTargets::ReleaseInfo=false "
               "-o Dir::State::Lists=/nonexistent/ " + _MEMORY_CACHE
               + " --format '$(IDENTIFIER)\t$(DESCRIPTION)\t$(FILENAME)\t$(RELEASE)'")
# apt's cache as a file of the snippet's private tmpfs, made by the first command and
# mapped by the second; no source cache (apt maps the package cache alone when it holds)
_FILE_CACHE = "-o Dir::Cache::pkgcache=/tmp/cii-pkgcache.bin -o Dir::Cache::srcpkgcache="
_CACHED = ("apt-get indextargets $cii_cache --format '$(IDENTIFIER)\t"
           "$(DESCRIPTION)\t$(FILENAME)\t$(SUITE)\t$(CODENAME)\t$(LABEL)\t$(ORIGIN)'")
# apt-cache policy's version tables, cut to what is above the installed version (the
# table is in apt's version order, newest first); a count of the packages apt showed.
_POLICY_FILTER = (
    "awk '/^[^ ].*:$/ { n++; h = $0; i = \"\"; c = \"\"; t = 0; s = 0; next } "
    "/^  Installed: / { i = $0; next } /^  Candidate: / { c = $0; next } "
    "/^  Version table:/ { t = 1; d = 0; next } "
    "t && /^ [*][*][*] / { d = 1; next } "
    "t && !d && /^ / { if (!s) { print h; print i; print c; s = 1 } print; next } "
    "t && /^ / { next } { print } END { print \"cii:packages \" n + 0 }'"
)
# Whether this shell may make a private mount namespace with a tmpfs of its own (root):
# apt's cache file and temporary file, and dnf's rebuilt solv files, go there.
_NAMESPACE = (
    "cii_ns=; if command -v unshare >/dev/null 2>&1 && unshare --mount --propagation private "
    "-- sh -c 'mount -t tmpfs -o size=1m cii-probe /tmp' >/dev/null 2>&1; then cii_ns=1; fi"
)
_LISTS = (
    "printf 'cii:now %s\\n' \"$(date +%s)\"; L=; eval \"$(apt-config shell L "
    "Dir::State::lists/d)\"; printf 'cii:dir %s\\n' \"$L\"; "
    "if [ -n \"$L\" ] && [ -d \"$L\" ]; then for f in \"$L\"*_InRelease \"$L\"*_Release; do "
    "[ -f \"$f\" ] || continue; printf 'cii:release %s\\n' \"${f##*/}\"; "
    f"head -c {RELEASE_HEAD} -- \"$f\" | sed -n 's/^[Dd][Aa][Tt][Ee]:[ \t]*/cii:date /p' "
    "| head -n 1; done; for f in \"$L\"*_Packages*; do [ -f \"$f\" ] && "
    "printf 'cii:list %s\\n' \"${f##*/}\"; done; fi; true"
)

_DNF_PROGRAM = "\n".join([
    "import dnf.rpm, hawkey",
    "b = dnf.Base()",
    "b.conf.read()",
    "b.conf.substitutions['releasever'] = dnf.rpm.detect_releasever(b.conf.installroot)"
    " or ''",
    "b.conf.cacheonly = True",
    "b.read_all_repos()",
    "enabled = list(b.repos.iter_enabled())",
    "print('cii:dnf repos', len(enabled))",
    "try:",
    "    b.fill_sack(load_system_repo=True, load_available_repos=True)",
    "except Exception as e:",
    "    print('cii:dnf error', str(e).replace('\\n', ' ')[:500])",
    "    raise SystemExit(0)",
    "for r in enabled:",
    "    print('cii:dnf age', r.id, int(r._repo.getAge()), sep='\\t')",
    # a configured exclude= hides an update from dnf upgrade, not the vulnerability
    "q = b.sack.query(flags=getattr(hawkey, 'IGNORE_REGULAR_EXCLUDES', "
    "hawkey.IGNORE_EXCLUDES))",
    "installed = {}",
    "for p in q.installed():",
    "    installed.setdefault((p.name, p.arch), []).append(p.evr)",
    "for p in q.upgrades().filter(advisory_type='security'):",
    "    print('cii:dnf pending', p.name, p.arch, ','.join(installed.get((p.name, p.arch), "
    "[])), p.evr, p.reponame, sep='\\t')",
    "print('cii:dnf done')",
])
_DNF = (
    "if command -v apt-get >/dev/null 2>&1; then echo cii:apt-host; "
    "elif command -v dnf >/dev/null 2>&1; then "
    + first_python(
        "if [ -n \"$cii_ns\" ] && [ -d /var/cache/dnf ]; then "
        "unshare --mount --propagation private -- sh -c 'mount -t tmpfs -o size=256m "
        "cii-probe /tmp && mkdir"  # the private namespace's own tmpfs
        " /tmp/u /tmp/w && mount -t overlay -o lowerdir=/var/cache/dnf,"
        "upperdir=/tmp/u,workdir=/tmp/w cii-probe /var/cache/dnf && exec \"$@\"' cii "
        f"\"$py\" -c {quote(guarded(_DNF_PROGRAM))}; "
        f"else \"$py\" -c {quote(guarded(_DNF_PROGRAM))}; fi")
    + "; [ -n \"$asked\" ] || echo cii:no-dnf-python; else echo cii:missing; fi"
)


def _asked(apt_ok: str) -> str:
    """sh of the two sections that build apt's cache, with its options in ``$cii_cache``."""
    return "; ".join([
        section("apt-cached", "if [ -n \"$cutl\" ]; then echo cii:cut; "
                f"elif {apt_ok}; then {_CACHED}; else echo cii:missing; fi"),
        section("apt-policy", "if [ -n \"$cutl\" ]; then echo cii:cut; "
                f"elif {apt_ok}; then if st=$(dpkg-query -W -f '${{db:Status-Abbrev}} "
                "${binary:Package}\\n' 2>&1); then names=$(printf '%s\\n' \"$st\" | awk "
                "'substr($1, 2, 1) !~ /[nc]/ && NF == 2 { print $2 }'); "
                "printf 'cii:asked %s\\n' \"$(printf '%s\\n' \"$names\" | grep -c .)\"; "
                "if [ -n \"$names\" ]; then "
                "{ ( set -f; apt-cache policy $cii_cache $names ) 2>&1; "
                f"echo \"cii:policy-rc $?\"; }} | {_POLICY_FILTER}; fi; "
                "else echo cii:dpkg-failed; printf '%s\\n' \"$st\" | head -n 3; fi; "
                "else echo cii:missing; fi"),
    ])


def _snippet(args: Mapping[str, Any]) -> str:
    guard = cut_guard(APT_CONFIG_FILES)
    apt_ok = "command -v apt-get >/dev/null 2>&1 && command -v dpkg-query >/dev/null 2>&1"
    asked = _asked(apt_ok)
    # one private namespace for both: the cache file indextargets leaves in its tmpfs is
    # the one apt-cache policy maps; a tmpfs that will not mount falls back to memory
    in_namespace = (
        "cutl=\"$cutl\" unshare --mount --propagation private -- sh -c "
        + quote("if mount -t tmpfs -o mode=1777,size=50% cii-probe /tmp; then "
                "TMPDIR=/tmp; export TMPDIR; cii_cache=$1; else cii_cache=$2; fi; " + asked)
        + f" cii {quote(_FILE_CACHE)} {quote(_MEMORY_CACHE)}")
    return "; ".join([
        _NAMESPACE,
        section("apt-configured", guard + "; if [ -n \"$cutl\" ]; then echo cii:cut; "
                f"elif {apt_ok}; then {_CONFIGURED}; else echo cii:missing; fi"),
        section("apt-lists", f"if [ -n \"$cutl\" ]; then echo cii:cut; elif {apt_ok}; then "
                f"{_LISTS}; else echo cii:missing; fi"),
        f"if [ -n \"$cii_ns\" ]; then {in_namespace}; "
        f"else cii_cache={quote(_MEMORY_CACHE)}; {asked}; fi",
        section("dnf", _DNF),
    ])


# ---------------------------------------------------------------- dpkg's version order


def _order(char: str) -> int:
    """dpkg's ``order()``: digits 0, letters themselves, ``~`` before all, others after."""
    if char.isdigit():
        return 0
    if char.isascii() and char.isalpha():
        return ord(char)
    if char == "~":
        return -1
    return ord(char) + 256 if char else 0


def _verrevcmp(left: str, right: str) -> int:
    """dpkg's ``verrevcmp`` (lib/dpkg/version.c): non-digit runs by :func:`_order`,
    digit runs as numbers."""
    i = j = 0
    while i < len(left) or j < len(right):
        first_diff = 0
        while (i < len(left) and not left[i].isdigit()) or (
                j < len(right) and not right[j].isdigit()):
            lc = _order(left[i]) if i < len(left) else 0
            rc = _order(right[j]) if j < len(right) else 0
            if lc != rc:
                return lc - rc
            i += 1
            j += 1
        while i < len(left) and left[i] == "0":
            i += 1
        while j < len(right) and right[j] == "0":
            j += 1
        while i < len(left) and left[i].isdigit() and j < len(right) and right[j].isdigit():
            if not first_diff:
                first_diff = ord(left[i]) - ord(right[j])
            i += 1
            j += 1
        if i < len(left) and left[i].isdigit():
            return 1
        if j < len(right) and right[j].isdigit():
            return -1
        if first_diff:
            return first_diff
    return 0


def _split_version(text: str) -> tuple[int, str, str]:
    epoch_text, colon, rest = text.partition(":")
    if not colon:
        epoch, rest = 0, text
    else:
        epoch = int(epoch_text) if epoch_text.isdigit() and len(epoch_text) < 12 else 0
    upstream, dash, revision = rest.rpartition("-")
    if not dash:
        upstream, revision = rest, ""
    return epoch, upstream, revision


def dpkg_compare(left: str, right: str) -> int:
    """<0, 0 or >0 as ``dpkg --compare-versions left lt|eq|gt right`` (dpkg_version_compare)."""
    a, b = _split_version(left), _split_version(right)
    if a[0] != b[0]:
        return a[0] - b[0]
    return _verrevcmp(a[1], b[1]) or _verrevcmp(a[2], b[2])


# ---------------------------------------------------------------- apt


def is_security(suite: str, codename: str, label: str) -> bool:
    return suite.endswith("-security") or codename.endswith("-security") \
        or label == "Debian-Security"


def _field(value: str) -> str:
    """An indextargets field; apt prints ``$(NAME)`` for one the Release file lacks."""
    return "" if re.fullmatch(r"\$\([A-Z_]+\)", value) else value


def _lines(found: Section | None) -> list[str]:
    return [] if found is None else [line for line in split_lines(found.text) if line]


def _release_date(text: str) -> int | None:
    try:
        parsed = email.utils.parsedate_to_datetime(text.strip())
        return int(parsed.timestamp())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _lists(collected: Collected) -> tuple[int | None, dict[str, int | None], set[str]]:
    """The host's clock, each Release file's signed Date by name, and the list files."""
    now: int | None = None
    dates: dict[str, int | None] = {}
    lists: set[str] = set()
    current = None
    for line in _lines(collected.sections.get("apt-lists")):
        tag, _, value = line.partition(" ")
        if tag == "cii:now" and value.isdigit():
            now = int(value)
        elif tag == "cii:release":
            current = value
            dates[value] = None
        elif tag == "cii:date" and current is not None and dates.get(current) is None:
            dates[current] = _release_date(value)
        elif tag == "cii:list":
            lists.add(value)
    return now, dates, lists


def _release_of(filename: str, releases: Mapping[str, int | None]) -> str | None:
    """The Release/InRelease file of an index file: the longest name prefix they share
    (apt names both from the archive's URI, ``URItoFileName``)."""
    base = filename.rsplit("/", 1)[-1]
    best = None
    for name in releases:
        prefix = name[: -len("InRelease")] if name.endswith("_InRelease") else \
            name[: -len("Release")]
        if base.startswith(prefix) and (best is None or len(prefix) > len(best[0])):
            best = (prefix, name)
    if best is None:
        return None
    inrelease = best[0] + "InRelease"
    return inrelease if inrelease in releases else best[1]


def _policy(found: Section) -> tuple[list[dict[str, Any]], int | None, int | None, str]:
    """Packages with versions above the installed one: name, installed, candidate and
    [(version, [index descriptions])]; apt's count, its exit status, its first error."""
    packages: list[dict[str, Any]] = []
    count = status = None
    error = ""
    current: dict[str, Any] | None = None
    for line in split_lines(found.text):
        if line.startswith("cii:packages ") and line[13:].isdigit():
            count = int(line[13:])
        elif line.startswith("cii:policy-rc ") and line[14:].isdigit():
            status = int(line[14:])
        elif line.startswith("E: ") and not error:
            error = line[3:300]
        elif line and not line.startswith(" ") and line.endswith(":"):
            current = {"name": line[:-1], "installed": None, "candidate": None,
                       "newer": []}
            packages.append(current)
        elif current is None:
            continue
        elif line.startswith("  Installed: "):
            current["installed"] = line[13:].strip()
        elif line.startswith("  Candidate: "):
            current["candidate"] = line[13:].strip()
        elif line.startswith("        ") and current["newer"]:
            words = line.split(None, 1)
            if len(words) == 2:
                current["newer"][-1][1].append(words[1])
        elif line.startswith("     ") and line.strip():
            current["newer"].append((line.split()[0], []))
    return packages, count, status, error


def _apt(collected: Collected, data: dict[str, Any]) -> ProbeResult:
    configured = collected.sections.get("apt-configured")
    cached = collected.sections.get("apt-cached")
    policy = collected.sections.get("apt-policy")
    if configured is None or cached is None or policy is None \
            or "apt-lists" not in collected.sections:
        return ProbeResult.failed("the apt part of the snippet printed nothing recognisable")
    for name, part in (("apt-get indextargets", configured), ("apt-get indextargets", cached)):
        if part.exit_status != 0:
            first = next((line for line in _lines(part) if line.startswith("E: ")),
                         next(iter(_lines(part)), ""))
            return ProbeResult.failed(f"{name} failed: {first[:300]}")
    now, dates, lists = _lists(collected)
    if now is None:
        return ProbeResult.failed("the host's clock could not be read")
    targets = [line.split("\t") for line in _lines(configured)]
    packages_targets = [t for t in targets if len(t) == 4 and t[0] == "Packages"]
    info: dict[str, dict[str, Any]] = {}
    for values in map(lambda line: line.split("\t"), _lines(cached)):
        if len(values) == 7 and values[0] == "Packages":
            suite, codename, label, origin = map(_field, values[3:])
            info[values[1]] = {"file": values[2], "suite": suite, "codename": codename,
                               "label": label, "origin": origin,
                               "security": is_security(suite, codename, label)}
    if not dates or not lists or not info:
        return ProbeResult.failed("no package lists (apt-get update never ran)")
    # an archive apt is configured for whose Release file is not among the lists
    unfetched = sorted({f"{t[1].split(' ', 1)[0]} {t[3]}" for t in packages_targets
                        if _release_of(t[2], dates) is None})
    never = [archive for archive in unfetched if archive.endswith("-security")]
    if never:
        return ProbeResult.failed("the list of a configured security archive was never "
                                  "fetched (apt-get update did not succeed for it): "
                                  + "; ".join(never[:5]))
    if policy.exit_status is None:
        return ProbeResult.failed("apt-cache policy did not finish")
    policy_lines = _lines(policy)
    if policy_lines[:1] == ["cii:dpkg-failed"]:
        return ProbeResult.failed("dpkg-query could not list the installed packages: "
                                  + " ".join(policy_lines[1:2])[:300])
    names = next((int(line[10:]) for line in policy_lines
                  if line.startswith("cii:asked ") and line[10:].isdigit()), None)
    if not names:
        return ProbeResult.failed("dpkg-query lists no installed package")
    asked, count, status, error = _policy(policy)
    if status != 0 or count is None:
        return ProbeResult.failed("apt-cache policy failed: "
                                  + (error or f"exit status {status}"))
    if count != names:
        return ProbeResult.failed(f"apt-cache policy showed {count} of the {names} packages "
                                  "dpkg has installed")
    security = {d: v for d, v in info.items() if v["security"]}
    pending = []
    for package in asked:
        installed = package["installed"]
        if not installed or installed == "(none)":
            continue
        for version, sources in package["newer"]:
            if dpkg_compare(version, installed) <= 0:
                continue
            archives = [s for s in sources if s in security]
            if archives:
                pending.append({"name": package["name"], "installed": installed,
                                "fixed_in": version, "candidate": package["candidate"],
                                "archive": archives[0]})
                break
    ages = _ages(security or info, dates, now)
    if ages is None:
        return ProbeResult.failed("the Release files of the package lists carry no Date")
    age = max(ages.values()) if security else min(ages.values())
    data.update({
        "manager": "apt", "pending": pending[:PENDING_SHOWN], "pending_count": len(pending),
        "lists_age_days": age, "security_archives": sorted(security),
        "list_dates": {d: ages[d] for d in sorted(ages)}, "packages_asked": count or 0,
        "unfetched": unfetched})
    why = data["why"]
    if pending:
        why["pending"] = (f"{len(pending)} installed packages have a newer version in a "
                          "security archive: " + ", ".join(
                              f"{p['name']} {p['installed']} -> {p['fixed_in']}"
                              for p in pending[:10]))
    basis = ("the oldest security archive's Release Date" if security else
             "no security archive in the lists; the newest list's Release Date")
    why["lists_age_days"] = f"the package lists are {age} days old ({basis})"
    if not security:
        why["security_archives"] = ("no security archive is among the host's sources: "
                                    "it is never told of a security fix")
    return ProbeResult.ok(data)


def _ages(archives: Mapping[str, Mapping[str, Any]], dates: Mapping[str, int | None],
          now: int) -> dict[str, int] | None:
    ages: dict[str, int] = {}
    for description, values in archives.items():
        release = _release_of(values["file"], dates)
        stamp = dates.get(release) if release else None
        if stamp is None:
            return None
        ages[description] = max(0, (now - stamp) // SECONDS_PER_DAY)
    return ages or None


# ---------------------------------------------------------------- dnf


def _dnf(found: Section, data: dict[str, Any]) -> ProbeResult:
    lines = _lines(found)
    if lines and lines[0] == "cii:no-dnf-python":
        return ProbeResult.failed("dnf is installed but its Python module could not be "
                                  "imported: dnf's cache could not be asked")
    error = next((line[len("cii:dnf error "):] for line in lines
                  if line.startswith("cii:dnf error ")), None)
    if error is not None:
        return ProbeResult.failed(f"dnf could not load its metadata cache: {error}")
    if "cii:dnf done" not in lines:
        first = next((line for line in lines if not line.startswith("cii:")), "")
        return ProbeResult.failed(f"dnf did not finish: {first[:300]}")
    ages: dict[str, int] = {}
    pending = []
    for line in lines:
        values = line.split("\t")
        if values[0] == "cii:dnf age" and len(values) == 3 and values[2].lstrip("-").isdigit():
            ages[values[1]] = max(0, int(values[2]) // SECONDS_PER_DAY)
        elif values[0] == "cii:dnf pending" and len(values) == 6:
            pending.append({"name": f"{values[1]}.{values[2]}", "installed": values[3],
                            "fixed_in": values[4], "archive": values[5]})
    if not ages:
        return ProbeResult.failed("no enabled dnf repository: no updates can be known")
    age = max(ages.values())
    data.update({"manager": "dnf", "pending": pending[:PENDING_SHOWN],
                 "pending_count": len(pending), "lists_age_days": age,
                 "list_dates": ages, "security_archives": sorted(ages)})
    if pending:
        data["why"]["pending"] = (f"{len(pending)} security updates in dnf's cache: "
                                  + ", ".join(f"{p['name']} {p['installed']} -> "
                                              f"{p['fixed_in']}" for p in pending[:10]))
    data["why"]["lists_age_days"] = (f"dnf's metadata cache is {age} days old (the oldest "
                                     "enabled repository)")
    return ProbeResult.ok(data)


def parse_pending_updates(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    collected = split_sections(raw)
    configured = collected.sections.get("apt-configured")
    dnf = collected.sections.get("dnf")
    if configured is None or dnf is None:
        return ProbeResult.failed("the pending-updates snippet printed nothing recognisable")
    data: dict[str, Any] = {"why": {}}
    if configured.text.strip() == "cii:cut":
        return ProbeResult.failed("an apt configuration file is over the cap; apt not asked")
    if configured.text.strip() != "cii:missing":
        return _apt(collected, data)
    if dnf.exit_status is None:
        return ProbeResult.failed("the dnf part did not finish")
    if dnf.text.strip() != "cii:missing":
        return _dnf(dnf, data)
    return ProbeResult.failed("neither apt nor dnf is on the host: updates cannot be known")


PROBES = (
    Probe(
        name="pending_updates",
        summary="installed packages with a newer version in a security archive (apt-cache "
        "policy joined with apt-get indextargets' release information; dnf's cached "
        "security advisories), from the lists already on the host, and how old those lists "
        "are (the security archives' signed Release Date; dnf's metadata age)",
        snippet=_snippet,
        # the sources apt and dnf read, dumped once with package_sources' (the same words):
        # one over the cap stops the probe with the file named, as it stops apt and dnf
        files=lambda args: SOURCE_FILES,
        parse=parse_pending_updates,
        cap_bytes=4 * 1024 * 1024,
        timeout_s=180,
        slow=True,
    ),
)
