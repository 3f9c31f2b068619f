"""The `pending_updates` probe parser: security fixes pending by the host's own lists.

The captures (fixtures/probes/pending_updates-*.txt, see its README) are the probe's own
snippet run in the oracle states of tests/oracle/test_patches.py (a local archive, ciitest
installed by dpkg -i, apt 2.6), on this Debian 12 machine as it is, and with dnf 4 asked
for a repository without a cache; the other cases change one section of a capture, so
the parser sees what a host would send.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from scanner import probes
from scanner.probes._common import decode, quote
from scanner.probes.patches import dpkg_compare, is_security
from tests._scanner import skip_or_fail
from tests.conftest import FIXTURES, TEST_TOKEN, interpret


def captured(name: str) -> str:
    return (FIXTURES / "probes" / f"pending_updates-{name}.txt").read_text(encoding="utf-8")


def with_section(payload: str, name: str, body: str, status: int = 0) -> str:
    frame = re.compile(rf"(?s){TEST_TOKEN} F cii:{re.escape(name)}\n.*?\ncii:rc \d+\n")
    replaced, count = frame.subn(
        lambda _: f"{TEST_TOKEN} F cii:{name}\n{body}\ncii:rc {status}\n", payload, count=1)
    assert count == 1, name
    return replaced


def test_a_newer_version_in_a_security_suite_is_pending() -> None:
    data = interpret("pending_updates", captured("debian12-security-version-newer")).data
    assert data["manager"] == "apt"
    assert data["pending"] == [{
        "name": "ciitest", "installed": "1.0", "fixed_in": "1.1", "candidate": "1.1",
        "archive": "file:/var/cii-repo bookworm-security/main amd64 Packages"}]
    assert data["lists_age_days"] == 0
    assert data["security_archives"] == ["file:/var/cii-repo bookworm-security/main amd64 "
                                         "Packages"]
    assert "ciitest 1.0 -> 1.1" in data["why"]["pending"]


def test_the_same_version_is_not_pending() -> None:
    data = interpret("pending_updates", captured("debian12-security-same-version")).data
    assert data["pending"] == [] and data["pending_count"] == 0
    assert data["packages_asked"] > 0


def test_a_pinned_candidate_leaves_the_security_version_pending() -> None:
    data = interpret("pending_updates",
                     captured("debian12-candidate-pinned-away-from-security")).data
    assert [(p["fixed_in"], p["candidate"]) for p in data["pending"]] == [("1.2", "1.1")]


def test_ubuntu_security_suite() -> None:
    data = interpret("pending_updates", captured("debian12-ubuntu-noble-security")).data
    assert [p["archive"] for p in data["pending"]] == [
        "file:/var/cii-repo noble-security/main amd64 Packages"]


def test_stale_lists_are_reported_with_their_age() -> None:
    data = interpret("pending_updates", captured("debian12-lists-stale-10-days")).data
    assert data["lists_age_days"] == 10
    assert "10 days old" in data["why"]["lists_age_days"]


def test_no_lists_is_an_error() -> None:
    result = interpret("pending_updates", captured("debian12-no-lists-update-never-ran"))
    assert result.status == "error"
    assert result.error == "no package lists (apt-get update never ran)"


def test_a_security_archive_never_fetched_is_an_error() -> None:
    result = interpret("pending_updates", captured("debian12-security-archive-never-fetched"))
    assert result.status == "error"
    assert "file:/var/cii-repo-gone bookworm-security" in (result.error or "")


def test_this_machine() -> None:
    data = interpret("pending_updates", captured("debian12-machine")).data
    assert data["pending_count"] == len(data["pending"]) > 10
    assert all(p["archive"].startswith("http://deb.debian.org/debian-security ")
               for p in data["pending"])
    # Debian's main suite is dated at its point release; the security archive counts
    assert data["lists_age_days"] == 2
    names = {p["name"] for p in data["pending"]}
    assert "appstream" not in names  # newer only in the main suite


def test_the_oldest_security_archive_decides_the_age() -> None:
    payload = captured("debian12-machine")
    older = payload.replace("cii:date Mon, 30 Nov 2026 00:22:33 UTC",
                            "cii:date Mon, 09 Nov 2026 00:22:33 UTC")
    assert interpret("pending_updates", older).data["lists_age_days"] == 23


def test_without_a_security_archive_the_newest_list_counts() -> None:
    payload = captured("debian12-machine")
    cached = re.search(rf"(?s){TEST_TOKEN} F cii:apt-cached\n(.*?)\ncii:rc 0\n", payload)
    assert cached is not None
    body = "\n".join(line for line in cached.group(1).split("\n")
                     if "bookworm-security" not in line)
    data = interpret("pending_updates", with_section(payload, "apt-cached", body)).data
    assert data["pending"] == [] and data["security_archives"] == []
    assert data["lists_age_days"] == 2  # bookworm-updates, 30 Nov
    assert "no security archive" in data["why"]["lists_age_days"]


def test_a_release_file_without_a_date_is_an_error() -> None:
    payload = re.sub(r"cii:date [^\n]*\n", "", captured("debian12-security-version-newer"))
    result = interpret("pending_updates", payload)
    assert result.status == "error" and "carry no Date" in (result.error or "")
    garbled = re.sub(r"cii:date [^\n]*\n", "cii:date not a date\n",
                     captured("debian12-security-version-newer"))
    assert interpret("pending_updates", garbled).status == "error"


def test_apt_failures_and_cut_output_are_errors() -> None:
    payload = captured("debian12-security-version-newer")
    failed = with_section(payload, "apt-cached", "E: Unable to mkstemp /tmp/x", status=100)
    assert "Unable to mkstemp" in (interpret("pending_updates", failed).error or "")
    policy = with_section(payload, "apt-policy", "cii:asked 853\nE: The package lists or "
                          "status file could not be parsed or opened.\ncii:policy-rc 100\n"
                          "cii:packages 0")
    assert "could not be parsed" in (interpret("pending_updates", policy).error or "")
    no_count = with_section(payload, "apt-policy", "cii:asked 3\nciitest:\n  Installed: 1.0")
    assert interpret("pending_updates", no_count).status == "error"
    cut = payload[: payload.index("cii:policy-rc")]
    assert interpret("pending_updates", cut).status == "error"
    assert interpret("pending_updates", payload, exit_status=None).status == "error"
    assert interpret("pending_updates", with_section(payload, "apt-configured",
                                                     "cii:cut")).status == "error"
    clock = re.sub(r"cii:now \d+\n", "", payload)
    assert "clock" in (interpret("pending_updates", clock).error or "")


def test_dpkg_and_apt_must_account_for_every_installed_package() -> None:
    payload = captured("debian12-security-version-newer")
    failed = with_section(payload, "apt-policy", "cii:dpkg-failed\ndpkg-query: error: parsing "
                          "file '/var/lib/dpkg/status' near line 3")
    assert "could not list the installed packages" in (
        interpret("pending_updates", failed).error or "")
    empty = with_section(payload, "apt-policy", "cii:asked 0")
    assert "no installed package" in (interpret("pending_updates", empty).error or "")
    fewer = re.sub(r"cii:asked \d+", "cii:asked 9999", payload)
    assert "showed" in (interpret("pending_updates", fewer).error or "")


@pytest.mark.parametrize("garbage", [b"", b"\x00\xff" * 50, b"cii:rc 0\n",
                                     f"{TEST_TOKEN} F cii:apt-configured\n".encode()])
def test_garbage_never_raises_and_never_passes(garbage: bytes) -> None:
    assert interpret("pending_updates", garbage).status == "error"


def test_mangled_captures_never_raise() -> None:
    payload = captured("debian12-candidate-pinned-away-from-security")
    for cut in range(0, len(payload), 37):
        result = interpret("pending_updates", payload[:cut] + payload[cut + 20:])
        assert result.status in ("ok", "error")


def test_security_archive_definition() -> None:
    assert is_security("bookworm-security", "bookworm-security", "Debian-Security")
    assert is_security("stable-security", "bookworm-security", "Debian-Security")
    assert is_security("noble-security", "noble", "Ubuntu")
    assert is_security("noble-infra-security", "noble", "UbuntuESM")
    assert is_security("stable", "bookworm", "Debian-Security")
    assert not is_security("noble-updates", "noble", "Ubuntu")
    assert not is_security("stable", "bookworm", "Debian")
    assert not is_security("securityfixes", "x", "debian-security")  # apt's fields, exact


VERSIONS = ["1.0", "1.0-0", "1.0-1", "1.0-1+deb12u1", "1.0~rc1", "1.0~~", "1.0~", "1:0.9",
            "0:1.0", "2.0", "1.0a", "1.0+", "1.0.0", "1.00", "10", "9", "1.0-1~bpo1",
            "2:1", "1.2.3-4ubuntu0.1", "1.2.3-4ubuntu0.10", "3.0.22-1~deb12u2", "a", "A", "1.0+b1"]


def test_dpkg_order_is_dpkgs_own() -> None:
    """dpkg_compare against ``dpkg --compare-versions`` for every pair."""
    for left, right in itertools.product(VERSIONS, VERSIONS):
        ours = dpkg_compare(left, right)
        expected = "lt" if ours < 0 else "gt" if ours > 0 else "eq"
        done = subprocess.run(["dpkg", "--compare-versions", left, expected, right],
                              capture_output=True, check=False)
        assert done.returncode == 0, (left, expected, right)


def test_dnf_without_a_cache_is_an_error_with_dnfs_reason() -> None:
    result = interpret("pending_updates", captured("dnf-no-cache"))
    assert result.status == "error"
    assert "Cache-only enabled but no cache for 'baseos'" in (result.error or "")


def _dnf(body: str) -> str:
    return with_section(captured("dnf-no-cache"), "dnf", body)


def test_dnf_security_advisories_in_the_cache() -> None:
    body = "\n".join([
        "cii:dnf repos 2", "cii:dnf age\tbaseos\t7200", "cii:dnf age\tappstream\t777600",
        "cii:dnf pending\topenssl\tx86_64\t1:3.0.7-27.el9\t1:3.0.7-28.el9_4\tbaseos",
        "cii:dnf done"])
    data = interpret("pending_updates", _dnf(body)).data
    assert data["manager"] == "dnf"
    assert data["pending"] == [{"name": "openssl.x86_64", "installed": "1:3.0.7-27.el9",
                                "fixed_in": "1:3.0.7-28.el9_4", "archive": "baseos"}]
    assert data["lists_age_days"] == 9  # the oldest repository's metadata
    clean = interpret("pending_updates", _dnf("cii:dnf repos 1\ncii:dnf age\tbaseos\t60\n"
                                              "cii:dnf done")).data
    assert clean["pending"] == [] and clean["lists_age_days"] == 0


def test_dnf_unfinished_or_without_repositories_is_an_error() -> None:
    assert interpret("pending_updates", _dnf("cii:dnf repos 1\nTraceback")).status == "error"
    none = interpret("pending_updates", _dnf("cii:dnf repos 0\ncii:dnf done"))
    assert none.status == "error" and "no enabled dnf repository" in (none.error or "")
    assert interpret("pending_updates", _dnf("cii:no-dnf-python")).status == "error"
    neither = interpret("pending_updates", _dnf("cii:missing"))
    assert "neither apt nor dnf" in (neither.error or "")


def _run_snippet(shims: dict[str, str], bin_dir: Path) -> tuple[str, list[str]]:
    """The pending_updates snippet run on this machine with ``shims`` first on PATH, and
    what the shims wrote to fd 9. ``bin_dir`` is outside /tmp, which the snippet's
    private namespace covers with its own tmpfs."""
    bin_dir.mkdir()
    for name, body in shims.items():
        shim = bin_dir / name
        shim.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
        shim.chmod(0o755)
    log = bin_dir / "log"
    script = (f"exec 9>{quote(str(log))}; CII_M={TEST_TOKEN}; export CII_M; "
              f"PATH={quote(str(bin_dir))}:$PATH; {probes.get('pending_updates').snippet({})}")
    done = subprocess.run(["sh", "-c", script], capture_output=True, timeout=300, check=False)
    return decode(done.stdout), log.read_text(encoding="utf-8").split()


def test_apt_builds_its_cache_once_where_root_has_a_private_tmpfs() -> None:
    """As root, apt-cache policy finds the cache indextargets left in the snippet's own
    tmpfs (so apt builds it once); without a namespace both build it in memory; the
    findings are the same either way."""
    if os.geteuid() != 0 or shutil.which("apt-cache") is None:
        skip_or_fail("needs root and apt to make the snippet's private tmpfs")
    seen = ('[ -f /tmp/cii-pkgcache.bin ] && echo cache-present >&9 || echo cache-absent >&9; '
            'exec /usr/bin/apt-cache "$@"')
    with tempfile.TemporaryDirectory(dir="/var/tmp") as outside:  # outside /tmp
        shared, shared_log = _run_snippet({"apt-cache": seen}, Path(outside) / "shared")
        alone, alone_log = _run_snippet({"apt-cache": seen, "unshare": "exit 1"},
                                        Path(outside) / "alone")
    assert shared_log == ["cache-present"]
    assert alone_log == ["cache-absent"]
    results = [interpret("pending_updates", payload) for payload in (shared, alone)]
    assert results[0].error is None and results[0].data["packages_asked"] > 100
    assert results[0].data == results[1].data
