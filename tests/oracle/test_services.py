"""Unit enablement: systemd decides what starts at the next boot.

systemd is not PID 1 on this machine, so the consumer is systemd's own offline code:
``systemctl --root=/ is-enabled UNIT`` (shared/install.c, the same that the manager runs)
for native units, and ``systemd-sysv-generator`` itself, run into a scratch directory,
for SysV scripts (it is what turns rc links into units at boot). /etc and /usr are
overlaid, so no unit of the machine changes.

* audit.auditd-enabled-at-boot is compliant when is-enabled says ``enabled`` (links in
  /etc: they survive a reboot; ``enabled-runtime`` does not, ``masked`` never starts).
* services.unneeded-disabled is compliant when none of its units is enabled, and the
  generator wants none of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.oracle._oracle import Answer, Ask, Case, Consumer, State, case_id, check_case

ETC = "/etc/systemd/system"
LIB = "/usr/lib/systemd/system"
WANTS = f"{ETC}/multi-user.target.wants"
GEN = "/usr/cii-gen"
_GENERATOR = (f"rm -rf {GEN}; mkdir -p {GEN}/n {GEN}/e {GEN}/l; "
              f"/lib/systemd/system-generators/systemd-sysv-generator {GEN}/n {GEN}/e {GEN}/l; "
              f"find {GEN} -path '*.wants/*' -printf '%f\\n'")
UNIT = ("[Unit]\nDescription=oracle stand-in\n[Service]\nExecStart=/bin/true\n"
        "[Install]\nWantedBy=multi-user.target\n")
SOCKET = ("[Unit]\nDescription=oracle\n[Socket]\nListenStream=2323\n"
          "[Install]\nWantedBy=sockets.target\n")
SYSV = ("#!/bin/sh\n### BEGIN INIT INFO\n# Provides: {name}\n# Default-Start: 2 3 4 5\n"
        "# Default-Stop: 0 1 6\n### END INIT INFO\n")


def _is_enabled(units: Sequence[str]) -> list[Ask]:
    return [Ask(["systemctl", "--root=/", "is-enabled", unit]) for unit in units]


def at_boot(unit: str) -> Consumer:
    def decide(answers: Sequence[Answer], parameters: Mapping[str, Any]) -> bool:
        return answers[0].stdout.strip() == "enabled"
    return Consumer("systemctl --root=/ is-enabled (systemd install.c, offline)",
                    _is_enabled([unit]), decide)


def none_enabled(units: Sequence[str], process: str) -> Consumer:
    """Also asks the kernel's process table whether the daemon ``process`` runs now."""
    def decide(answers: Sequence[Answer], parameters: Mapping[str, Any]) -> bool:
        *states, generated, running = answers
        enabled = [a.stdout.strip() for a in states
                   if a.stdout.strip() in ("enabled", "enabled-runtime", "alias", "generated")]
        wanted = set(generated.stdout.split()) & set(units)
        return not enabled and not wanted and not running.ok
    return Consumer("systemctl --root=/ is-enabled + systemd-sysv-generator + pgrep",
                    [*_is_enabled(units), Ask(["sh", "-c", _GENERATOR]),
                     Ask(["pgrep", "-x", process])], decide)


def state(files: Mapping[str, str | None] | None = None, setup: Sequence[str] = ()) -> State:
    return State(files=dict(files or {}), setup=list(setup), overlays=["/etc", "/usr"])


AUDIT = "audit.auditd-enabled-at-boot"
AUDIT_UNIT = "auditd.service"
AUDIT_CASES = [
    Case(AUDIT, "stock-link", state(setup=[f"mkdir -p {WANTS}",
                                           f"ln -sfn {LIB}/auditd.service {WANTS}/auditd.service"]),
         at_boot(AUDIT_UNIT), "pass"),
    Case(AUDIT, "link-removed", state(setup=[f"rm -f {WANTS}/auditd.service"]),
         at_boot(AUDIT_UNIT), "fail"),
    # a mask wins over a wants link: the old file-system reading passed this
    Case(AUDIT, "masked-link-kept", state(setup=[
        f"mkdir -p {WANTS}", f"ln -sfn {LIB}/auditd.service {WANTS}/auditd.service",
        f"ln -sfn /dev/null {ETC}/auditd.service"]), at_boot(AUDIT_UNIT), "fail"),
    Case(AUDIT, "unit-copied-to-etc-and-linked", state(setup=[
        f"mkdir -p {WANTS}", f"cp {LIB}/auditd.service {ETC}/auditd.service",
        f"ln -sfn {ETC}/auditd.service {WANTS}/auditd.service"]), at_boot(AUDIT_UNIT), "pass"),
    # no unit file, but the package's SysV script and its rc links: the generator starts it
    Case(AUDIT, "unit-gone-sysv-script-left", state(setup=[
        f"mkdir -p {WANTS}", f"ln -sfn {LIB}/auditd.service {WANTS}/auditd.service",
        f"rm -f {LIB}/auditd.service", "test -x /etc/init.d/auditd",
        "ls /etc/rc2.d/S*auditd >/dev/null"]), at_boot(AUDIT_UNIT), "pass"),
    Case(AUDIT, "link-to-a-missing-unit", state(setup=[
        f"mkdir -p {WANTS}", f"ln -sfn {LIB}/auditd.service {WANTS}/auditd.service",
        f"rm -f {LIB}/auditd.service /etc/init.d/auditd /etc/rc?.d/[SK][0-9][0-9]auditd"]),
         at_boot(AUDIT_UNIT), "fail"),
    # another unit's file is gigabytes long (sparse, no newline): systemctl would read all of
    # it to list every unit, but is-enabled auditd does not read it, nor may the scanner
    Case(AUDIT, "other-unit-file-gigabytes-long", state(setup=[
        f"mkdir -p {WANTS}", f"ln -sfn {LIB}/auditd.service {WANTS}/auditd.service",
        f"truncate -s 3G {ETC}/cii-huge.service"]), at_boot(AUDIT_UNIT), "pass"),
]

UNNEEDED = "services.unneeded-disabled"
WATCHED = ["rsync.service", "telnet.socket", "xinetd.service"]


def unneeded(name: str, intent: str, files: Mapping[str, str | None] | None = None,
             setup: Sequence[str] = ()) -> Case:
    clean = [f"rm -f {ETC}/*.wants/rsync.service {ETC}/*.wants/telnet.socket "
             "/etc/rc?.d/[SK][0-9][0-9]xinetd /etc/rc?.d/[SK][0-9][0-9]rsync",
             f"rm -f {LIB}/xinetd.service {ETC}/xinetd.service"]
    built = state(files, [*clean, *setup])
    return Case(UNNEEDED, name, State(built.files, setup=built.setup, overlays=built.overlays,
                                      pid=True),
                none_enabled(WATCHED, "rsync"), intent)  # type: ignore[arg-type]


RSYNC = {f"{LIB}/rsync.service": UNIT}
UNNEEDED_CASES = [
    unneeded("rsync-installed-disabled", "pass", RSYNC),
    unneeded("rsync-enabled", "fail", RSYNC, [f"mkdir -p {WANTS}",
                                               f"ln -s {LIB}/rsync.service {WANTS}/rsync.service"]),
    unneeded("rsync-enabled-but-masked", "pass", RSYNC, [
        f"mkdir -p {WANTS}", f"ln -s {LIB}/rsync.service {WANTS}/rsync.service",
        f"ln -s /dev/null {ETC}/rsync.service"]),
    unneeded("telnet-socket-enabled", "fail", {f"{LIB}/telnet.socket": SOCKET}, [
        f"mkdir -p {ETC}/sockets.target.wants",
        f"ln -s {LIB}/telnet.socket {ETC}/sockets.target.wants/telnet.socket"]),
    unneeded("sysv-xinetd-started-from-rc2", "fail",
             {"/etc/init.d/xinetd": SYSV.format(name="xinetd")},
             ["chmod 0755 /etc/init.d/xinetd", "mkdir -p /etc/rc2.d",
              "ln -s ../init.d/xinetd /etc/rc2.d/S01xinetd"]),
    unneeded("sysv-xinetd-started-from-rc5-only", "fail",
             {"/etc/init.d/xinetd": SYSV.format(name="xinetd")},
             ["chmod 0755 /etc/init.d/xinetd", "mkdir -p /etc/rc5.d",
              "ln -s ../init.d/xinetd /etc/rc5.d/S01xinetd"]),
    unneeded("sysv-xinetd-kill-link-only", "pass",
             {"/etc/init.d/xinetd": SYSV.format(name="xinetd")},
             ["chmod 0755 /etc/init.d/xinetd", "mkdir -p /etc/rc2.d",
              "ln -s ../init.d/xinetd /etc/rc2.d/K01xinetd"]),
    # running now without being enabled: the next boot would not start it, this one did
    unneeded("rsync-running-not-enabled", "fail", RSYNC, [
        "mkdir -p /usr/cii-bin", "cp /bin/sleep /usr/cii-bin/rsync",
        "setsid /usr/cii-bin/rsync 600 >/dev/null 2>&1 < /dev/null &"]),
    # a native unit hides the SysV script of the same name from the generator
    unneeded("sysv-rsync-with-native-unit-disabled", "pass",
             {**RSYNC, "/etc/init.d/rsync": SYSV.format(name="rsync")},
             ["chmod 0755 /etc/init.d/rsync", "mkdir -p /etc/rc2.d",
              "ln -s ../init.d/rsync /etc/rc2.d/S01rsync"]),
    # a unit file gigabytes long beside them: the watched units are still asked about
    unneeded("rsync-enabled-beside-a-unit-file-gigabytes-long", "fail", RSYNC, [
        f"mkdir -p {WANTS}", f"ln -s {LIB}/rsync.service {WANTS}/rsync.service",
        f"truncate -s 3G {ETC}/cii-huge.service"]),
    unneeded("rsync-disabled-beside-a-unit-file-gigabytes-long", "pass", RSYNC, [
        f"truncate -s 3G {LIB}/cii-huge.socket"]),
]

CASES = [*AUDIT_CASES, *UNNEEDED_CASES]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_consumer_decides(case: Case, tmp_path: Path) -> None:
    check_case(case, tmp_path)
