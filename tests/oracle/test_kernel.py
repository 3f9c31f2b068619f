"""Kernel settings: the kernel itself (now), procps sysctl --system (after the boot), kmod's
modprobe and the kernel's mount table decide. See _kernel_sysctl for how states are built."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.oracle._kernel_sysctl import sysctl_case
from tests.oracle._oracle import Case, case_id, check_case

D = "/etc/sysctl.d/60-cii.conf"


def _eq(n: int):  # type: ignore[no-untyped-def]
    return lambda v: v == n


def _le(n: int):  # type: ignore[no-untyped-def]
    return lambda v: v <= n


def _ge(n: int):  # type: ignore[no-untyped-def]
    return lambda v: v >= n


SEND = [("net/ipv4/conf/*/send_redirects", _eq(0))]
SEND_OFF = "net.ipv4.conf.all.send_redirects = 0\nnet.ipv4.conf.default.send_redirects = 0\n"
SEND_NOW = {"net/ipv4/conf/all/send_redirects": "0", "net/ipv4/conf/default/send_redirects": "0",
            "net/ipv4/conf/d0/send_redirects": "0", "net/ipv4/conf/d1/send_redirects": "0"}

SYSCTL_CASES = [
    sysctl_case("net.send-redirects-disabled", "all-default-and-interfaces-off", "pass", SEND,
                files={D: SEND_OFF}, net=SEND_NOW),
    sysctl_case("net.send-redirects-disabled", "interface-on-all-off", "fail", SEND,
                files={D: SEND_OFF}, net={**SEND_NOW, "net/ipv4/conf/d0/send_redirects": "1"}),
    sysctl_case("net.send-redirects-disabled", "runtime-only-not-persisted", "fail", SEND,
                net=SEND_NOW),
    sysctl_case("net.send-redirects-disabled", "persisted-not-applied", "fail", SEND,
                files={D: SEND_OFF}),
    sysctl_case("net.send-redirects-disabled", "crlf-and-later-line-overrides", "fail", SEND,
                files={D: SEND_OFF.replace("\n", "\r\n"),
                       "/etc/sysctl.d/70-later.conf": "net.ipv4.conf.default.send_redirects=1\n"},
                net=SEND_NOW),
    sysctl_case("net.send-redirects-disabled", "sysctl-conf-last-wins", "fail", SEND,
                files={D: SEND_OFF, "/etc/sysctl.conf": "net.ipv4.conf.all.send_redirects = 1\n"},
                net=SEND_NOW),
    sysctl_case("net.send-redirects-disabled", "comment-cr-hides-nothing", "pass", SEND,
                files={D: SEND_OFF + "#\rnet.ipv4.conf.all.send_redirects = 1\n"
                       "; net.ipv4.conf.default.send_redirects = 1\n"}, net=SEND_NOW),
    sysctl_case("net.send-redirects-disabled", "glob-and-slash-keys", "pass", SEND,
                files={D: "net.ipv4.conf.*.send_redirects = 0\n"
                       "-net/ipv4/conf/default/send_redirects=0x0\n"}, net=SEND_NOW),
    sysctl_case("net.send-redirects-disabled", "refused-value-keeps-default", "fail", SEND,
                files={D: "net.ipv4.conf.all.send_redirects = 0\n"
                       "net.ipv4.conf.default.send_redirects = off\n"}, net=SEND_NOW),
    sysctl_case("net.send-redirects-disabled", "masked-by-same-name-in-etc", "fail", SEND,
                files={"/usr/lib/sysctl.d/60-cii.conf": SEND_OFF,
                       "/etc/sysctl.d/60-cii.conf": "# local override, empty\n"},
                net=SEND_NOW),
]

CASES: list[Case] = [*SYSCTL_CASES]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_consumer_decides(case: Case, tmp_path: Path) -> None:
    check_case(case, tmp_path)
