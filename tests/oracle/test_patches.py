"""packages.no-pending-security-updates: python3-apt decides whether a security fix is pending.

Each state builds a local archive (``file:/var/cii-repo``, ``trusted=yes``) with one or
more suites, each with its own Release file (Origin, Label, Suite, Codename, Date), and
installs ``ciitest`` at some version with ``dpkg -i`` into the overlaid /var/lib/dpkg.
The machine's own sources and lists are hidden (the lists directory emptied in the
overlay, sources.list.d cleared), ``apt-get update`` runs against the local archive,
and the state has a network namespace of its own (only ``lo``), so nothing leaves it.

The consumer is python3-apt (``apt.Cache()`` in the same namespace, /usr/bin/python3):
an installed package has a pending security fix when any of its versions newer than the
installed one (``apt_pkg.version_compare``) has an origin whose archive (Suite) or
codename ends in ``-security`` or whose label is ``Debian-Security``; the lists' age is
that of the oldest security archive's Release ``Date`` (``apt_pkg.str_to_time``), or of
the newest list when there is no security archive. A host with no security archive at
all is non-compliant: nothing would ever tell it of a security fix. A configured archive
without a
Release file among the lists (``apt-get update`` never ran, or failed for it)
leaves the host unable to know: the consumer finds that non-compliant, and the scanner must
say ``error``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.oracle._oracle import Answer, Ask, Case, Consumer, State, case_id, check_case

RULE = "packages.no-pending-security-updates"
REPO = "/var/cii-repo"
DEBS = "/var/cii-debs"

_HIDE_MACHINE = [
    # the machine's own sources would reach the network, its lists would add versions
    "for f in /etc/apt/sources.list.d/*; do case \"${f##*/}\" in cii-*) ;; *) rm -f \"$f\";; "
    "esac; done",
    "rm -rf /var/lib/apt/lists/* && mkdir -p /var/lib/apt/lists/partial",
    f"mkdir -p {DEBS}",
]


def _deb(version: str, out: str) -> list[str]:
    tmp = f"/var/cii-build-{abs(hash((version, out)))}"
    return [
        f"mkdir -p {tmp}/DEBIAN",
        f"printf 'Package: ciitest\\nVersion: {version}\\nArchitecture: all\\nMaintainer: t "
        f"<t@example.org>\\nDescription: oracle\\n' > {tmp}/DEBIAN/control",
        f"dpkg-deb -Zgzip --build {tmp} {out} >/dev/null",
        f"rm -rf {tmp}",
    ]


def _suite(dist: str, version: str | None, release: Mapping[str, str],
           date: str = "now") -> list[str]:
    """A suite ``dist`` of the archive holding ciitest ``version`` (None: no package)."""
    pool = f"{REPO}/pool/{dist}"
    index = f"{REPO}/dists/{dist}/main/binary-amd64"
    steps = [f"mkdir -p {pool} {index}"]
    if version is not None:
        steps += _deb(version, f"{pool}/ciitest_{version.replace(':', '%3a')}_all.deb")
        steps.append(f"(cd {REPO} && dpkg-scanpackages -m pool/{dist} /dev/null "
                     f"> dists/{dist}/main/binary-amd64/Packages 2>/dev/null)")
    else:
        steps.append(f": > {index}/Packages")
    fields = "".join(f"{key}: {value}\\n" for key, value in release.items())
    steps.append(
        f"(cd {REPO}/dists/{dist} && printf '{fields}Date: %s\\nArchitectures: amd64\\n"
        "Components: main\\nSHA256:\\n %s %s main/binary-amd64/Packages\\n' "
        f"\"$(date -Ru -d '{date}')\" \"$(sha256sum main/binary-amd64/Packages | cut -d' ' -f1)\" "
        "\"$(stat -c %s main/binary-amd64/Packages)\" > Release)")
    return steps


DEBIAN_SECURITY = {"Origin": "Debian", "Label": "Debian-Security", "Suite": "bookworm-security",
                   "Codename": "bookworm-security"}
DEBIAN_MAIN = {"Origin": "Debian", "Label": "Debian", "Suite": "stable", "Codename": "bookworm"}
UBUNTU_SECURITY = {"Origin": "Ubuntu", "Label": "Ubuntu", "Suite": "noble-security",
                   "Codename": "noble"}

_CONSUMER_PROGRAM = r"""
import glob, json, os, sys, time
import apt, apt_pkg

def security(archive, codename, label):
    return (archive or "").endswith("-security") or (codename or "").endswith("-security") \
        or label == "Debian-Security"

# apt's answer from the lists and dpkg's status themselves: a cache apt kept on disk
# may be stale in a way its own check cannot see (a state below plants one)
apt_pkg.config.set("Dir::Cache::pkgcache", "")
apt_pkg.config.set("Dir::Cache::srcpkgcache", "")
cache = apt.Cache()
pending = []
for pkg in cache:
    if not pkg.is_installed:
        continue
    installed = pkg.installed.version
    for version in pkg.versions:
        if apt_pkg.version_compare(version.version, installed) <= 0:
            continue
        if any(security(o.archive, o.codename, o.label) for o in version.origins):
            pending.append([pkg.name, installed, version.version])
            break
lists = apt_pkg.config.find_dir("Dir::State::lists")
sources = apt_pkg.SourceList()
sources.read_main_list()
now = time.time()
archives, missing = [], []
for meta in sources.list:
    base = lists + apt_pkg.uri_to_filename(meta.uri + "dists/" + meta.dist + "/")
    found = [p for p in (base + "InRelease", base + "Release") if os.path.exists(p)]
    if not found:
        missing.append(meta.uri + " " + meta.dist)
        continue
    with apt_pkg.TagFile(found[0]) as tags:
        section = next(iter(tags))
        stamp = apt_pkg.str_to_time(section.get("Date", ""))
        archives.append({"security": security(section.get("Suite"), section.get("Codename"),
                                              section.get("Label")),
                         "age_days": int((now - stamp) // 86400)})
sec = [a["age_days"] for a in archives if a["security"]]
age = max(sec) if sec else (min(a["age_days"] for a in archives) if archives else None)
json.dump({"pending": pending, "age_days": age, "missing": missing, "security": len(sec)},
          sys.stdout)
"""


def _decide(answers: Sequence[Answer], parameters: Mapping[str, Any]) -> bool:
    (asked,) = answers
    assert asked.ok, asked.stderr
    found = json.loads(asked.stdout)
    if found["missing"] or found["age_days"] is None:
        return False  # the host cannot know which fixes exist
    if not found["security"]:
        return False  # no security archive: fixes are never offered to this host
    return not found["pending"] and found["age_days"] <= parameters["package_lists_max_age_days"]


APT_CACHE = Consumer("python3-apt apt.Cache() (versions, origins, Release Date)",
                     [Ask(["/usr/bin/python3", "-c", _CONSUMER_PROGRAM])], _decide)


Suite = tuple[str, str | None, Mapping[str, str]] | tuple[str, str | None, Mapping[str, str], str]


def case(name: str, intent: str, suites: Sequence[Suite], installed: str | None = "1.0",
         date: str = "now", update: bool = True, extra_sources: str = "",
         files: Mapping[str, str] | None = None, after: Sequence[str] = (),
         noncompliant: str = "fail") -> Case:
    setup = list(_HIDE_MACHINE)
    for dist, version, release, *own_date in suites:
        setup += _suite(dist, version, release, own_date[0] if own_date else date)
    if installed is not None:
        setup += _deb(installed, f"{DEBS}/ciitest.deb")
        setup.append(f"dpkg -i {DEBS}/ciitest.deb >/dev/null")
    sources = "".join(f"deb [trusted=yes] file:{REPO} {suite[0]} main\n" for suite in suites)
    if update:
        setup.append("apt-get update -qq >/dev/null 2>&1 || true")
    setup += after
    state = State(files={"/etc/apt/sources.list": sources + extra_sources, **(files or {})},
                  setup=setup, overlays=["/var"], net=True)
    return Case(RULE, name, state, APT_CACHE, intent,  # type: ignore[arg-type]
                noncompliant_verdict=noncompliant)  # type: ignore[arg-type]


SEC = "bookworm-security"
MAIN = "bookworm"
# read after docker-clean (apt reads apt.conf.d in order), whose empty values turn it off
KEEP_APT_CACHE = {"/etc/apt/apt.conf.d/zz-cii-keep-cache":
                  'Dir::Cache::pkgcache "pkgcache.bin";\n'
                  'Dir::Cache::srcpkgcache "srcpkgcache.bin";\n'}

CASES = [
    case("security-version-newer", "fail", [(SEC, "1.1", DEBIAN_SECURITY)]),
    case("non-security-suite-newer", "pass",
         [(MAIN, "1.1", DEBIAN_MAIN), (SEC, "1.0", DEBIAN_SECURITY)]),
    # only an ordinary suite: nothing tells the host of a security fix, ever
    case("no-security-archive", "fail", [(MAIN, "1.0", DEBIAN_MAIN)]),
    case("security-same-version", "pass", [(SEC, "1.0", DEBIAN_SECURITY)]),
    case("security-version-older", "pass", [(SEC, "0.9", DEBIAN_SECURITY)]),
    # dpkg's order: an epoch outweighs everything after it, ~ sorts before the empty string
    case("epoch-makes-security-newer", "fail", [(SEC, "1:0.9", DEBIAN_SECURITY)]),
    case("installed-epoch-outweighs", "pass", [(SEC, "2.0", DEBIAN_SECURITY)],
         installed="1:1.0"),
    case("tilde-security-older", "pass", [(SEC, "1.0~rc1", DEBIAN_SECURITY)]),
    case("tilde-installed-older", "fail", [(SEC, "1.0", DEBIAN_SECURITY)], installed="1.0~rc1"),
    case("revision-newer", "fail", [(SEC, "1.0-1+deb12u1", DEBIAN_SECURITY)],
         installed="1.0-1"),
    # a pin keeps the candidate on the ordinary suite: the fix is pending all the same
    case("candidate-pinned-away-from-security", "fail",
         [(MAIN, "1.1", DEBIAN_MAIN), (SEC, "1.2", DEBIAN_SECURITY)],
         files={"/etc/apt/preferences.d/cii-pin":
                "Package: ciitest\nPin: release n=bookworm-security\nPin-Priority: -1\n"}),
    case("candidate-ordinary-newer-than-security", "pass",
         [(MAIN, "1.2", DEBIAN_MAIN), (SEC, "1.0", DEBIAN_SECURITY)]),
    # a dpkg hold keeps apt from upgrading: the vulnerable version stays all the same
    case("held-package", "fail", [(SEC, "1.1", DEBIAN_SECURITY)],
         after=["echo 'ciitest hold' | dpkg --set-selections"]),
    case("not-installed", "pass", [(SEC, "1.1", DEBIAN_SECURITY)], installed=None),
    case("lists-stale-10-days", "fail", [(SEC, "1.0", DEBIAN_SECURITY)], date="10 days ago"),
    case("lists-6-days-old", "pass", [(SEC, "1.0", DEBIAN_SECURITY)], date="6 days ago"),
    # Debian's main suite is dated at its point release: the security archive's Date counts
    case("main-suite-old-security-fresh", "pass",
         [(MAIN, "1.0", DEBIAN_MAIN, "60 days ago"), (SEC, "1.0", DEBIAN_SECURITY)]),
    case("security-old-main-fresh", "fail",
         [(MAIN, "1.0", DEBIAN_MAIN), (SEC, "1.0", DEBIAN_SECURITY, "9 days ago")]),
    # a list file's mtime proves nothing; the signed Date is the archive's own
    case("list-files-touched-old-date-fresh", "pass", [(SEC, "1.0", DEBIAN_SECURITY)],
         after=["touch -d '30 days ago' /var/lib/apt/lists/*"]),
    case("no-lists-update-never-ran", "fail", [(SEC, "1.0", DEBIAN_SECURITY)], update=False,
         noncompliant="error"),
    case("security-archive-never-fetched", "fail", [(MAIN, "1.0", DEBIAN_MAIN)],
         extra_sources=f"deb [trusted=yes] file:{REPO}-gone {SEC} main\n",
         noncompliant="error"),
    case("ubuntu-noble-security", "fail", [("noble-security", "1.1", UBUNTU_SECURITY)]),
    case("ubuntu-noble-updates-not-security", "pass",
         [("noble-updates", "1.1", {**UBUNTU_SECURITY, "Suite": "noble-updates"}),
          ("noble-security", "1.0", UBUNTU_SECURITY)]),
    case("codename-security-only", "fail",
         [(SEC, "1.1", {"Origin": "x", "Label": "x", "Suite": "stable",
                        "Codename": "bookworm-security"})]),
    case("label-debian-security-only", "fail",
         [(SEC, "1.1", {"Origin": "Debian", "Label": "Debian-Security", "Suite": "stable",
                        "Codename": "bookworm"})]),
    # a stock host keeps apt's package cache (this machine's image turns it off), which
    # apt-get update writes; the scanner builds its own all the same
    case("host-cache-security-version-newer", "fail", [(SEC, "1.1", DEBIAN_SECURITY)],
         files=KEEP_APT_CACHE),
    case("host-cache-non-security-suite-newer", "pass",
         [(MAIN, "1.1", DEBIAN_MAIN), (SEC, "1.0", DEBIAN_SECURITY)], files=KEEP_APT_CACHE),
    # apt trusts its cache while dpkg's status keeps its size and its mtime in seconds: a
    # downgrade within the cache's second (here the mtime put back) leaves a cache that
    # says the fixed 1.1 is installed; read as it is, it would pass a host whose fix is
    # pending. The scanner never reads the host's cache.
    case("host-cache-stale-but-apt-would-trust-it", "fail", [(SEC, "1.1", DEBIAN_SECURITY)],
         installed="1.1", files=KEEP_APT_CACHE,
         after=["test -s /var/cache/apt/pkgcache.bin",
                "touch -r /var/lib/dpkg/status /var/cii-status-time",
                *_deb("1.0", f"{DEBS}/ciitest-old.deb"),
                f"dpkg -i {DEBS}/ciitest-old.deb >/dev/null 2>&1",
                "touch -r /var/cii-status-time /var/lib/dpkg/status"]),
]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_consumer_decides(case: Case, tmp_path: Path) -> None:
    check_case(case, tmp_path)
