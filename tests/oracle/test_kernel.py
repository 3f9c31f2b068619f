"""Kernel settings: the kernel itself (now), procps sysctl --system (after the boot), kmod's
modprobe and the kernel's mount table decide. See _kernel_sysctl for how states are built."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.oracle._kernel_mac import mac_case
from tests.oracle._kernel_modules import module_case
from tests.oracle._kernel_mounts import mount_case
from tests.oracle._kernel_sysctl import ASLR_DEFAULT, sysctl_case
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

FWD = [("net/ipv4/conf/*/forwarding", _eq(0)), ("net/ipv6/conf/*/forwarding", _eq(0))]
ASLR = [("kernel/randomize_va_space", _eq(2))]
COOKIES = [("net/ipv4/tcp_syncookies", _eq(1))]
REDIR = [("net/ipv4/conf/*/accept_redirects", _eq(0)),
         ("net/ipv4/conf/*/secure_redirects", _eq(0)),
         ("net/ipv6/conf/*/accept_redirects", _eq(0))]
REDIR_OFF = "".join(f"net.{f}.conf.{e}.{k} = 0\n" for f, k in (
    ("ipv4", "accept_redirects"), ("ipv4", "secure_redirects"), ("ipv6", "accept_redirects"))
    for e in ("all", "default"))
REDIR_NOW = {f"net/{f}/conf/{e}/{k}": "0" for f, k in (
    ("ipv4", "accept_redirects"), ("ipv4", "secure_redirects"), ("ipv6", "accept_redirects"))
    for e in ("all", "default", "d0", "d1")}
SRR = [("net/ipv4/conf/*/accept_source_route", _eq(0)),
       ("net/ipv6/conf/*/accept_source_route", _le(0))]
RPF = [("net/ipv4/conf/*/rp_filter", _eq(1))]
RPF_ON = "net.ipv4.conf.all.rp_filter = 1\nnet.ipv4.conf.default.rp_filter = 1\n"
MART = [("net/ipv4/conf/*/log_martians", _eq(1))]
SUID = [("fs/suid_dumpable", _eq(0))]
LINKS = [("fs/protected_symlinks", _eq(1)), ("fs/protected_hardlinks", _eq(1))]
LINKS_NOW = {"fs/protected_symlinks": "1", "fs/protected_hardlinks": "1"}
PTRACE = [("kernel/yama/ptrace_scope", _ge(1))]

MORE_SYSCTL_CASES = [
    sysctl_case("kernel.ip-forward-disabled", "stock-off", "pass", FWD),
    sysctl_case("kernel.ip-forward-disabled", "one-interface-forwards", "fail", FWD,
                net={"net/ipv4/conf/d0/forwarding": "1"}),
    sysctl_case("kernel.ip-forward-disabled", "ip-forward-at-boot", "fail", FWD,
                files={D: "net.ipv4.ip_forward = 1\n"}),
    sysctl_case("kernel.ip-forward-disabled", "ipv6-forwarding-now", "fail", FWD,
                net={"net/ipv6/conf/all/forwarding": "1"}),
    sysctl_case("kernel.aslr-full", "full-now-and-persisted", "pass", ASLR,
                files={D: "kernel.randomize_va_space=2\n"},
                kernel={"kernel/randomize_va_space": "2"}),
    sysctl_case("kernel.aslr-full", "partial-now", "fail", ASLR,
                files={D: "kernel.randomize_va_space=2\n"},
                kernel={"kernel/randomize_va_space": "1"}),
    sysctl_case("kernel.aslr-full", "partial-at-boot-later-file", "fail", ASLR,
                files={D: "kernel.randomize_va_space=2\n",
                       "/usr/lib/sysctl.d/90-x.conf": "kernel.randomize_va_space = 1\n"},
                kernel={"kernel/randomize_va_space": "2"}),
    # the built-in default is 1 or 2 by CONFIG_COMPAT_BRK, read from /proc/config.gz
    sysctl_case("kernel.aslr-full", "unset-default-from-kernel-config",
                "pass" if ASLR_DEFAULT == 2 else "fail", ASLR,
                kernel={"kernel/randomize_va_space": "2"}),
    sysctl_case("net.tcp-syncookies", "default-on", "pass", COOKIES),
    sysctl_case("net.tcp-syncookies", "trailing-comment-value", "pass", COOKIES,
                files={D: "net.ipv4.tcp_syncookies = 1 # on\n"}),
    sysctl_case("net.tcp-syncookies", "off-now", "fail", COOKIES,
                net={"net/ipv4/tcp_syncookies": "0"}),
    sysctl_case("net.tcp-syncookies", "off-at-boot-octal", "fail", COOKIES,
                files={D: "net.ipv4.tcp_syncookies = 00\n"}),
    sysctl_case("net.icmp-redirects-rejected", "all-off", "pass", REDIR,
                files={D: REDIR_OFF}, net=REDIR_NOW),
    sysctl_case("net.icmp-redirects-rejected", "ipv6-interface-accepts", "fail", REDIR,
                files={D: REDIR_OFF}, net={**REDIR_NOW, "net/ipv6/conf/d0/accept_redirects": "1"}),
    sysctl_case("net.icmp-redirects-rejected", "ipv4-interface-accepts", "fail", REDIR,
                files={D: REDIR_OFF}, net={**REDIR_NOW, "net/ipv4/conf/d1/accept_redirects": "1"}),
    sysctl_case("net.icmp-redirects-rejected", "forwarding-interface-ands", "pass", REDIR,
                files={D: REDIR_OFF}, net={**REDIR_NOW, "net/ipv4/conf/d0/forwarding": "1",
                                           "net/ipv4/conf/d0/accept_redirects": "1"}),
    sysctl_case("net.icmp-redirects-rejected", "ipv6-default-not-persisted", "fail", REDIR,
                files={D: REDIR_OFF.replace("net.ipv6.conf.default.accept_redirects = 0\n",
                                            "")}, net=REDIR_NOW),
    sysctl_case("net.source-routing-disabled", "stock", "pass", SRR),
    sysctl_case("net.source-routing-disabled", "ipv4-all-and-interface-on", "fail", SRR,
                net={"net/ipv4/conf/all/accept_source_route": "1",
                     "net/ipv4/conf/d0/accept_source_route": "1"}),
    sysctl_case("net.source-routing-disabled", "ipv6-interface-on-all-off-min", "pass", SRR,
                net={"net/ipv6/conf/d0/accept_source_route": "1"}),
    sysctl_case("net.source-routing-disabled", "ipv6-on-at-boot", "fail", SRR,
                files={D: "net.ipv6.conf.all.accept_source_route = 1\n"
                       "net.ipv6.conf.default.accept_source_route = 1\n"}),
    sysctl_case("net.reverse-path-filter", "strict", "pass", RPF, files={D: RPF_ON},
                net={"net/ipv4/conf/all/rp_filter": "1"}),
    sysctl_case("net.reverse-path-filter", "interface-loose-max", "fail", RPF, files={D: RPF_ON},
                net={"net/ipv4/conf/all/rp_filter": "1", "net/ipv4/conf/d0/rp_filter": "2"}),
    sysctl_case("net.reverse-path-filter", "glob-loose-at-boot", "fail", RPF,
                files={D: "net.ipv4.conf.*.rp_filter = 2\nnet.ipv4.conf.all.rp_filter = 1\n"},
                net={"net/ipv4/conf/all/rp_filter": "1"}),
    sysctl_case("net.reverse-path-filter", "off", "fail", RPF),
    sysctl_case("net.log-martians", "all-on", "pass", MART,
                files={D: "net.ipv4.conf.all.log_martians=1\n"},
                net={"net/ipv4/conf/all/log_martians": "1"}),
    sysctl_case("net.log-martians", "default-only-reaches-every-interface", "pass", MART,
                files={D: "net.ipv4.conf.default.log_martians=1\n"},
                net={"net/ipv4/conf/default/log_martians": "1"}),
    sysctl_case("net.log-martians", "off", "fail", MART),
    sysctl_case("net.log-martians", "u00a0-is-no-blank", "fail", MART,
                files={D: "net.ipv4.conf.all.log_martians=\u00a01\n"},
                net={"net/ipv4/conf/all/log_martians": "1"}),
    sysctl_case("kernel.suid-dumpable-disabled", "off-default", "pass", SUID,
                kernel={"fs/suid_dumpable": "0"}),
    sysctl_case("kernel.suid-dumpable-disabled", "on-now", "fail", SUID,
                kernel={"fs/suid_dumpable": "2"}),
    sysctl_case("kernel.suid-dumpable-disabled", "on-at-boot", "fail", SUID,
                files={D: "fs.suid_dumpable = 1\n"}, kernel={"fs/suid_dumpable": "0"}),
    sysctl_case("kernel.protected-links", "debian-file", "pass", LINKS, kernel=LINKS_NOW),
    sysctl_case("kernel.protected-links", "masked-in-etc", "fail", LINKS, kernel=LINKS_NOW,
                files={"/etc/sysctl.d/99-protect-links.conf": ""}),
    sysctl_case("kernel.protected-links", "off-now", "fail", LINKS,
                kernel={**LINKS_NOW, "fs/protected_hardlinks": "0"}),
    sysctl_case("kernel.ptrace-restricted", "no-yama-is-unrestricted", "fail", PTRACE),
    sysctl_case("kernel.ptrace-restricted", "yama-default", "pass", PTRACE,
                kernel={"kernel/yama/ptrace_scope": "1"}),
    sysctl_case("kernel.ptrace-restricted", "yama-off-at-boot", "fail", PTRACE,
                files={D: "kernel.yama.ptrace_scope = 0\n"},
                kernel={"kernel/yama/ptrace_scope": "1"}),
]

USB = ["usb-storage"]
FS = ["cramfs", "freevxfs", "hfs", "hfsplus", "jffs2", "udf"]
USB_OFF = "install usb-storage /bin/false\nblacklist usb-storage\n"
STOCK_FS = open("/proc/filesystems", encoding="ascii").read()  # noqa: SIM115

MODULE_CASES = [
    module_case("kernel.usb-storage-disabled", "not-loaded-no-module-support", "pass", USB),
    module_case("kernel.usb-storage-disabled", "install-false", "pass", USB,
                files={"/etc/modprobe.d/usb.conf": USB_OFF}),
    module_case("kernel.usb-storage-disabled", "loaded-although-disabled", "fail", USB,
                files={"/etc/modprobe.d/usb.conf": USB_OFF}, loaded=["usb_storage"]),
    module_case("kernel.usb-storage-disabled", "loaded-dash-name", "fail", USB,
                loaded=["usb_storage", "uas"]),
    module_case("kernel.unused-filesystems-disabled", "none-built-in", "pass", FS),
    module_case("kernel.unused-filesystems-disabled", "udf-built-in", "fail", FS,
                filesystems=STOCK_FS + "\tudf\n"),
    module_case("kernel.unused-filesystems-disabled", "vxfs-is-freevxfs", "fail", FS,
                filesystems=STOCK_FS + "\tvxfs\n"),
    module_case("kernel.unused-filesystems-disabled", "hfsplus-loaded", "fail", FS,
                loaded=["hfsplus"]),
]

TMP, SHM = "mounts.tmp-options", "mounts.dev-shm-options"
HARD = "nodev,nosuid,noexec"


def _tab(path: str, options: str, tail: str = " 0 0\n") -> str:
    return f"tmpfs {path} tmpfs {options}{tail}"


MOUNT_CASES = [
    mount_case(TMP, "hardened-now-and-in-fstab", "pass", "/tmp", fstab=_tab("/tmp", HARD),
               running=HARD),
    mount_case(TMP, "not-in-fstab", "fail", "/tmp", fstab="# UNCONFIGURED FSTAB\n",
               running=HARD),
    mount_case(TMP, "fstab-only-not-mounted-now", "fail", "/tmp", fstab=_tab("/tmp", HARD),
               running=None),
    mount_case(TMP, "running-without-noexec", "fail", "/tmp", fstab=_tab("/tmp", HARD),
               running="nodev,nosuid"),
    mount_case(TMP, "later-exec-overrides", "fail", "/tmp", fstab=_tab("/tmp", HARD + ",exec"),
               running=HARD),
    mount_case(TMP, "user-implies-all-three", "pass", "/tmp", fstab=_tab("/tmp", "user"),
               running=HARD),
    mount_case(TMP, "noauto", "fail", "/tmp", fstab=_tab("/tmp", HARD + ",noauto"),
               running=HARD),
    # libmount drops one CR before the line's end (the author expected a fail here)
    mount_case(TMP, "crlf-after-passno", "pass", "/tmp", fstab=_tab("/tmp", HARD, " 0 0\r\n"),
               running=HARD),
    mount_case(TMP, "crlf-after-options", "pass", "/tmp", fstab=_tab("/tmp", HARD, "\r\n"),
               running=HARD),
    mount_case(TMP, "cr-inside-options", "fail", "/tmp",
               fstab=_tab("/tmp", "nodev,nosuid,noexec\r,size=1m"), running=HARD),
    mount_case(TMP, "trailing-slash-and-tabs", "pass", "/tmp",
               fstab="#c\ntmpfs\t/tmp/\ttmpfs\t" + HARD + "\t0\t0\n", running=HARD),
    mount_case(TMP, "second-entry-weaker", "fail", "/tmp",
               fstab=_tab("/tmp", HARD) + _tab("/tmp", "nodev,nosuid"), running=HARD),
    mount_case(SHM, "hardened", "pass", "/dev/shm", fstab=_tab("/dev/shm", HARD), running=HARD),
    mount_case(SHM, "systemd-default-options", "fail", "/dev/shm", fstab="",
               running="nosuid,nodev"),
    mount_case(SHM, "no-fstab-entry", "fail", "/dev/shm", fstab="", running=HARD),
    mount_case(SHM, "commented-entry", "fail", "/dev/shm",
               fstab="  # " + _tab("/dev/shm", HARD), running=HARD),
]

ENFORCING = ("# SELINUX= can take one of these three values:\nSELINUX=enforcing\n"
             "SELINUXTYPE=targeted\n")

MAC_CASES = [
    mac_case("enforcing-now-and-at-boot", "pass", enforce="1", config=ENFORCING),
    mac_case("no-lsm", "fail", enforce=None, config=None),
    mac_case("permissive-now", "fail", enforce="0", config=ENFORCING),
    mac_case("enforcing-now-permissive-at-boot", "fail", enforce="1",
             config="SELINUX=permissive\nSELINUXTYPE=targeted\n"),
    mac_case("enforcing-now-no-config", "fail", enforce="1", config=None),
    # libselinux wants SELINUX= at the line's start, in that case (the author expected
    # leading blanks and any case to work); the value's case and a CR do not matter
    mac_case("leading-blank-or-lower-key-ignored", "fail", enforce="1",
             config="  SELINUX=enforcing\nselinux=enforcing\n"),
    mac_case("value-case-and-cr", "pass", enforce="1",
             config="SELINUX=bogus\nSELINUX=Enforcing\r\nSELINUXTYPE=targeted\n"),
    mac_case("first-line-wins", "fail", enforce="1",
             config="SELINUX=permissive\nSELINUX=enforcing\n"),
    mac_case("commented-enforcing", "fail", enforce="1",
             config="#SELINUX=enforcing\nSELINUX=disabled\n"),
]

RHEL_RPF = ("net.ipv4.conf.default.rp_filter = 1\nnet.ipv4.conf.*.rp_filter = 1\n"
            "-net.ipv4.conf.all.rp_filter\n")
SYSTEMD_CASES = [
    # systemd-sysctl: "-KEY" keeps the glob off all; the kernel filters with max(all, iface)
    sysctl_case("net.reverse-path-filter", "systemd-rhel-glob-with-exclusion", "pass", RPF,
                files={"/usr/lib/sysctl.d/50-redhat.conf": RHEL_RPF},
                net={"net/ipv4/conf/default/rp_filter": "1", "net/ipv4/conf/d0/rp_filter": "1",
                     "net/ipv4/conf/d1/rp_filter": "1"}, systemd=True),
    # an explicit key beats a later glob, for systemd-sysctl and (the author expected the
    # glob to win there) procps-ng 4.0.2 alike
    sysctl_case("net.send-redirects-disabled", "systemd-explicit-beats-glob", "fail", SEND,
                files={D: "net.ipv4.conf.d1.send_redirects = 1\n" + SEND_OFF
                       + "net.ipv4.conf.*.send_redirects = 0\n"},
                net=SEND_NOW, systemd=True),
    sysctl_case("net.send-redirects-disabled", "procps-explicit-beats-glob", "fail", SEND,
                files={D: "net.ipv4.conf.d1.send_redirects = 1\n" + SEND_OFF
                       + "net.ipv4.conf.*.send_redirects = 0\n"}, net=SEND_NOW),
    # systemd-sysctl does not read /etc/sysctl.conf itself (Debian links it as 99-sysctl.conf)
    sysctl_case("net.log-martians", "systemd-ignores-sysctl-conf-without-link", "fail", MART,
                files={"/etc/sysctl.d/99-sysctl.conf": None,
                       "/etc/sysctl.conf": "net.ipv4.conf.all.log_martians = 1\n"},
                net={"net/ipv4/conf/all/log_martians": "1"}, systemd=True),
    sysctl_case("net.log-martians", "procps-reads-sysctl-conf", "pass", MART,
                files={"/etc/sysctl.d/99-sysctl.conf": None,
                       "/etc/sysctl.conf": "net.ipv4.conf.all.log_martians = 1\n"},
                net={"net/ipv4/conf/all/log_martians": "1"}),
]

CASES: list[Case] = [*SYSCTL_CASES, *MORE_SYSCTL_CASES, *SYSTEMD_CASES, *MODULE_CASES, *MOUNT_CASES,
                     *MAC_CASES]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_consumer_decides(case: Case, tmp_path: Path) -> None:
    check_case(case, tmp_path)
