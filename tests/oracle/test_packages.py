"""Installed packages: dpkg decides which packages are on the host, and in which state.

Each state installs, unpacks or removes a small real package (built in the namespace with
``dpkg-deb``, named after the package a rule looks for) with the real ``dpkg``; /var,
/etc and /usr are overlaid, so the machine's package database never changes. The
consumer is ``dpkg-query``'s own status word (dpkg-query(1)):

* a rule that wants a package *absent* is satisfied only by ``not-installed`` (never
  installed or purged) or ``config-files`` (removed, only conffiles left): every other
  state has the package's files on disk;
* a rule that wants a package *installed* is satisfied only by the states dpkg itself
  accepts for a dependency (``installed``, ``triggers-pending``; src/main/packages.c).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.oracle._oracle import Answer, Ask, Case, Consumer, State, case_id, check_case

BUILD = "/var/cii-deb"


def build_deb(name: str, postinst_exit: int = 0) -> list[str]:
    """sh building /var/cii-deb/NAME.deb: one program, one conffile, a postinst."""
    root = f"{BUILD}/{name}"
    control = (f"Package: {name}\nVersion: 99:0.0-cii\nArchitecture: all\n"
               f"Maintainer: oracle <o@example.org>\nDescription: oracle stand-in\n")
    return [
        f"mkdir -p {root}/DEBIAN {root}/usr/sbin {root}/etc/cii-oracle",
        f"printf '%s' {shlex.quote(control)} > {root}/DEBIAN/control",
        f"printf '/etc/cii-oracle/{name}.conf\\n' > {root}/DEBIAN/conffiles",
        f"printf '#!/bin/sh\\nexit {postinst_exit}\\n' > {root}/DEBIAN/postinst",
        f"chmod 0755 {root}/DEBIAN/postinst",
        f"printf 'conf\\n' > {root}/etc/cii-oracle/{name}.conf",
        f"printf '#!/bin/sh\\n' > {root}/usr/sbin/cii-oracle-{name}",
        f"chmod 0755 {root}/usr/sbin/cii-oracle-{name}",
        f"dpkg-deb -Zgzip --build {root} {BUILD}/{name}.deb >/dev/null",
    ]


def dpkg_state(name: str, how: str) -> State:
    """``how``: absent, installed, unpacked, half-configured, removed, purged."""
    deb = f"{BUILD}/{name}.deb"
    steps = {
        "absent": [],
        "installed": [f"dpkg -i {deb} >/dev/null"],
        "unpacked": [f"dpkg --unpack {deb} >/dev/null"],
        "half-configured": [f"dpkg -i {deb} >/dev/null 2>&1 || true"],
        "removed": [f"dpkg -i {deb} >/dev/null", f"dpkg -r {name} >/dev/null"],
        "purged": [f"dpkg -i {deb} >/dev/null", f"dpkg -P {name} >/dev/null"],
    }[how]
    # the stand-in must not meet the real package (its maintainer scripts would run)
    refuse = [f"! dpkg-query -W -f '${{db:Status-Abbrev}}' {name} 2>/dev/null | grep -q '^.[^nc]'"]
    return State(setup=[*refuse, *build_deb(name, 1 if how == "half-configured" else 0),
                        *steps],
                 overlays=["/var", "/etc", "/usr"], net=True)


def _status(answers: Sequence[Answer]) -> str:
    (asked,) = answers
    return asked.stdout.strip() if asked.ok else "not-installed"


def wanted_absent(name: str) -> Consumer:
    def decide(answers: Sequence[Answer], parameters: Mapping[str, Any]) -> bool:
        return _status(answers) in ("not-installed", "config-files")
    return Consumer("dpkg-query -W (package state)",
                    [Ask(["dpkg-query", "-W", "-f", "${db:Status-Status}", name])], decide)


def wanted_installed(name: str) -> Consumer:
    def decide(answers: Sequence[Answer], parameters: Mapping[str, Any]) -> bool:
        return _status(answers) in ("installed", "triggers-pending")
    return Consumer("dpkg-query -W (package state)",
                    [Ask(["dpkg-query", "-W", "-f", "${db:Status-Status}", name])], decide)


def _cases(rule: str, package: str, consumer: Consumer,
           intents: Mapping[str, str]) -> list[Case]:
    return [Case(rule, f"{package}-{how}", dpkg_state(package, how), consumer,
                 intent)  # type: ignore[arg-type]
            for how, intent in intents.items()]


_ABSENT_WANTED = {"absent": "pass", "installed": "fail", "unpacked": "fail",
                  "half-configured": "fail", "removed": "pass", "purged": "pass"}

CASES = [
    *_cases("integrity.aide-installed", "aide", wanted_installed("aide"),
            {"installed": "pass", "absent": "fail", "unpacked": "fail",
             "half-configured": "fail", "removed": "fail"}),
    *_cases("services.minimal-install", "avahi-daemon", wanted_absent("avahi-daemon"),
            _ABSENT_WANTED),
    *_cases("services.minimal-install", "cups", wanted_absent("cups"),
            {"installed": "fail", "removed": "pass"}),
    *_cases("services.insecure-remote-access-absent", "telnetd", wanted_absent("telnetd"),
            _ABSENT_WANTED),
    *_cases("services.insecure-remote-access-absent", "tftpd-hpa", wanted_absent("tftpd-hpa"),
            {"unpacked": "fail", "removed": "pass"}),
]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_consumer_decides(case: Case, tmp_path: Path) -> None:
    check_case(case, tmp_path)
