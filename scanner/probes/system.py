"""Who the host is: distribution, OS family, kernel, and the collector's own uid."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from scanner.lines import split_lines
from scanner.probes import Probe, ProbeResult, RawOutput
from scanner.probes._common import decode, to_int

# Distribution ids (os-release ID and ID_LIKE, lower-cased) by OS family. Kylin ships
# both Debian-based (desktop) and RPM-based (server) editions under ID=kylin, so it
# is decided by ID_LIKE or, failing that, by the package tool present.
DEBIAN_IDS = frozenset({"debian", "ubuntu", "uos", "deepin", "linuxmint", "raspbian"})
RHEL_IDS = frozenset(
    {"rhel", "centos", "fedora", "rocky", "almalinux", "openeuler", "anolis", "ol", "euleros",
     "tencentos", "opencloudos", "alinux", "bclinux", "circle", "nfs"}
)

_OS_SNIPPET = r"""
{ read -r h < /proc/sys/kernel/hostname; } 2>/dev/null || h=$(hostname 2>/dev/null)
printf 'hostname=%s\n' "$h"
{ read -r k < /proc/sys/kernel/osrelease; } 2>/dev/null || k=$(uname -r 2>/dev/null)
printf 'kernel=%s\n' "$k"
{ read -r a < /proc/sys/kernel/arch; } 2>/dev/null || a=$(uname -m 2>/dev/null)
printf 'arch=%s\n' "$a"
printf 'uid=%s\n' "$CII_UID"
for t in dpkg rpm; do command -v "$t" >/dev/null 2>&1 && printf 'pkgtool=%s\n' "$t"; done
for f in /etc/os-release /usr/lib/os-release; do
  if [ -r "$f" ]; then
    z=$(stat -L -c %s -- "$f" 2>/dev/null)
    [ "${z:-0}" -le 16384 ] || printf '\n%s CUT %s %s %s\n' "$CII_M" 16384 "$z" "$f"
    head -c 16384 -- "$f" | while IFS= read -r l || [ -n "$l" ]; do printf 'osr:%s\n' "$l"; done
    break
  fi
done
true
"""

_OS_RELEASE_LINE = re.compile(r"^([A-Z0-9_]+)=(.*)$")


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return re.sub(r"\\(.)", r"\1", value)


def os_family(ids: list[str], package_tools: list[str]) -> str:
    """debian, rhel or unknown: by os-release ids first, then by package tool."""
    for distro_id in ids:
        if distro_id in DEBIAN_IDS:
            return "debian"
        if distro_id in RHEL_IDS:
            return "rhel"
    if "dpkg" in package_tools and "rpm" not in package_tools:
        return "debian"
    if "rpm" in package_tools and "dpkg" not in package_tools:
        return "rhel"
    return "unknown"


def parse_os(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    fields: dict[str, str] = {}
    release: dict[str, str] = {}
    package_tools: list[str] = []
    for line in split_lines(decode(raw.payload)):
        if line.startswith("osr:"):
            match = _OS_RELEASE_LINE.match(line[4:].strip())
            if match:
                release[match.group(1)] = _unquote(match.group(2))
        elif line.startswith("pkgtool="):
            package_tools.append(line.split("=", 1)[1].strip())
        elif "=" in line:
            key, value = line.split("=", 1)
            fields[key.strip()] = value.strip()
    distro_id = release.get("ID", "").lower()
    id_like = [part.lower() for part in release.get("ID_LIKE", "").split()]
    if not release and not fields.get("kernel"):
        return ProbeResult.failed("neither os-release nor uname answered")
    return ProbeResult.ok(
        {
            "hostname": fields.get("hostname", ""),
            "kernel": fields.get("kernel", ""),
            "arch": fields.get("arch", ""),
            "uid": to_int(fields.get("uid")),
            "id": distro_id,
            "id_like": id_like,
            "name": release.get("NAME", ""),
            "pretty_name": release.get("PRETTY_NAME", ""),
            "version_id": release.get("VERSION_ID", ""),
            "package_tools": package_tools,
            "family": os_family([distro_id, *id_like], package_tools),
        }
    )


PROBES = (
    Probe(
        name="os",
        summary="os-release, kernel, hostname, OS family and the collector's uid",
        snippet=lambda args: _OS_SNIPPET,
        parse=parse_os,
        cap_bytes=64 * 1024,
    ),
)
