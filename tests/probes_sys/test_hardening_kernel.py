"""Parsers of the kernel_module, mount and auditd_conf probes (package_sources: its own file)."""

from __future__ import annotations

import pytest

from tests.conftest import TEST_TOKEN, interpret
from tests.probes_sys._helpers import captured, file_frame, sec

USB = {"name": "usb-storage"}
LOADED = "usb_storage 86016 0 - Live 0x0000000000000000\nuas 32768 0 - Live 0x0000000000000000\n"


# kmod 30's dry run, as captured here (modprobe -n -v usb-storage in mount namespaces)
KMOD_INSTALL_FALSE = "install /bin/false \ncii:exit 0\n"
KMOD_INSTALL_TRUE = "install /bin/true \ncii:exit 0\n"
KMOD_INSMOD = ("insmod /lib/modules/6.18.44-fc-v1045/kernel/usb-storage.ko \ncii:exit 0\n")
KMOD_NOT_FOUND = ("modprobe: FATAL: Module usb-storage not found in directory "
                  "/lib/modules/6.18.44-fc-v1045\ncii:exit 1\n")
KMOD_OTHER = "install /sbin/modprobe --ignore-install usb-storage \ncii:exit 0\n"


def _module(now: str, boot: str, modules: str = "xfs 2445312 2 - Live 0x0\n",
            sys_module: str = "", files: bytes = b"") -> bytes:
    return (sec("modules", modules) + sec("filesystems", "nodev\ttmpfs\n\text4\n")
            + sec("sys-module", sys_module) + sec("modprobe-now", now)
            + sec("modprobe-boot", boot) + files)


@pytest.mark.parametrize(
    ("now", "boot", "expected"),
    [
        (KMOD_INSTALL_FALSE, KMOD_INSTALL_FALSE, (False, False)),
        (KMOD_INSTALL_TRUE, KMOD_INSTALL_TRUE, (False, False)),
        (KMOD_NOT_FOUND, KMOD_NOT_FOUND, (False, False)),  # no such module in this kernel
        (KMOD_INSMOD, KMOD_INSMOD, (True, True)),  # blacklist alone: modprobe NAME loads it
        (KMOD_OTHER, KMOD_OTHER, (True, True)),
        # disabled only in /run/modprobe.d: gone after the next reboot
        (KMOD_INSTALL_FALSE, KMOD_INSMOD, (False, True)),
    ],
)
def test_kmod_dry_run_decides_loadability(now: str, boot: str, expected: tuple[bool, bool]
                                          ) -> None:
    data = interpret("kernel_module", _module(now, boot), USB).data
    assert (data["loadable_now"], data["loadable_after_boot"]) == expected
    assert data["can_load"] is any(expected)


def test_blacklist_only_capture_without_module_support() -> None:
    result = interpret("kernel_module", captured("km-blacklist-only"), USB)
    assert result.status == "error"  # captured before the dry run was asked: not evaluable


def test_no_module_support_loads_nothing() -> None:
    data = interpret("kernel_module", _module(KMOD_INSMOD, KMOD_INSMOD,
                                              modules="cii:no-modules\n"), USB).data
    assert data["loadable_now"] is False and data["loadable_after_boot"] is False


@pytest.mark.parametrize(
    ("conf", "can_load"),
    [
        ("install usb-storage /bin/false\n", False),
        ("install usb_storage /bin/true\n", False),  # - and _ name the same module
        ("install usb-storage /usr/bin/false\n", False),
        ("#install usb-storage /bin/false\nblacklist usb-storage\n", True),
        ("install usb-storage /sbin/modprobe --ignore-install usb-storage\n", True),
        ("", True),
    ],
)
def test_without_modprobe_install_lines_decide(conf: str, can_load: bool) -> None:
    payload = _module("cii:no-modprobe\n", "cii:no-modprobe\n",
                      files=file_frame("/etc/modprobe.d/usb.conf", conf))
    assert interpret("kernel_module", payload, USB).data["can_load"] is can_load


def test_loaded_module_can_load_even_when_disabled() -> None:
    data = interpret("kernel_module", _module(KMOD_INSTALL_FALSE, KMOD_INSTALL_FALSE,
                                              modules=LOADED, sys_module="present\n"), USB).data
    assert data["loaded"] is True and data["can_load"] is True
    assert "loaded" in data["why"]["loaded"]


def test_built_in_file_system_is_loaded() -> None:
    payload = _module(KMOD_NOT_FOUND, KMOD_NOT_FOUND).replace(b"\text4\n", b"\tvxfs\n")
    assert interpret("kernel_module", payload, {"name": "freevxfs"}).data["loaded"] is True


def test_without_modprobe_etc_file_shadows_the_same_name_in_lib() -> None:
    payload = _module("cii:no-modprobe\n", "cii:no-modprobe\n", files=(
        file_frame("/etc/modprobe.d/usb.conf", "# cleared by the site\n")
        + file_frame("/lib/modprobe.d/usb.conf", "install usb-storage /bin/false\n")))
    assert interpret("kernel_module", payload, USB).data["can_load"] is True


@pytest.mark.parametrize("payload", [b"", b"\xff\xfe", sec("modules", "denied", 1),
                                     _module("install /bin/false \n", KMOD_INSMOD)])
def test_kernel_module_errors(payload: bytes) -> None:
    assert interpret("kernel_module", payload, USB).status == "error"


def test_unreadable_modprobe_file_without_modprobe_is_an_error() -> None:
    payload = _module("cii:no-modprobe\n", "cii:no-modprobe\n",
                      files=f"{TEST_TOKEN} U /etc/modprobe.d/site.conf\n".encode())
    assert interpret("kernel_module", payload, USB).status == "error"


# ---------------------------------------------------------------- mount

MOUNTS = ("/dev/vda1 / ext4 rw,relatime 0 0\n"
          "tmpfs /tmp tmpfs rw,nosuid,nodev,relatime 0 0\n"
          "tmpfs /tmp tmpfs rw,nosuid,nodev,noexec,relatime 0 0\n"
          "/dev/vdb1 /srv/my\\040data ext4 rw 0 0\n")


def test_last_mount_on_a_path_is_in_effect() -> None:
    data = interpret("mount", sec("mounts", MOUNTS), {"path": "/tmp"}).data
    assert data["separate"] is True
    assert "noexec" in data["options"]


def test_octal_escaped_mount_points() -> None:
    data = interpret("mount", sec("mounts", MOUNTS), {"path": "/srv/my data"}).data
    assert data["separate"] is True and data["fstype"] == "ext4"


def test_path_without_its_own_mount() -> None:
    data = interpret("mount", sec("mounts", MOUNTS), {"path": "/var/tmp"}).data
    assert (data["path"], data["separate"], data["options"]) == ("/var/tmp", False, [])


@pytest.mark.parametrize(
    ("fstab", "flags"),
    [
        ("tmpfs /tmp tmpfs nodev,nosuid,noexec 0 0\n", ["noexec", "nosuid", "nodev"]),
        ("tmpfs /tmp/ tmpfs noexec,nosuid,nodev,exec\n", ["nosuid", "nodev"]),  # later wins
        ("tmpfs /tmp tmpfs user\n", ["noexec", "nosuid", "nodev"]),  # user implies all three
        ("tmpfs /tmp tmpfs user,exec\n", ["nosuid", "nodev"]),
        ("tmpfs /tmp tmpfs nodev,nosuid,noexec,defaults\n", []),
        ("tmpfs /tmp tmpfs\n", []),  # no options field: defaults
        ("#tmpfs /tmp tmpfs nodev,nosuid,noexec\n", []),
        ("tmpfs /tmp tmpfs nodev,nosuid,noexec,noauto\n", []),  # not mounted at boot
        ("tmpfs /tmp tmpfs nodev,nosuid,noexec\ntmpfs /tmp tmpfs nodev\n", ["nodev"]),
        ("tmpfs\t/tmp\ttmpfs\tnodev,nosuid,noexec\r\n", ["noexec", "nosuid", "nodev"]),
        ("tmpfs /tmp tmpfs nodev,nosuid,noexec\r,size=1m\n", ["nosuid", "nodev"]),
        ("tmpfs /tmp\u00a0 tmpfs nodev,nosuid,noexec\n", []),  # U+00A0 is part of the path
    ],
)
def test_fstab_as_libmount_reads_it(fstab: str, flags: list[str]) -> None:
    payload = sec("mounts", MOUNTS) + file_frame("/etc/fstab", fstab)
    assert interpret("mount", payload, {"path": "/tmp"}).data["boot_options"] == flags


def test_unreadable_fstab_is_unobservable() -> None:
    payload = sec("mounts", MOUNTS) + f"{TEST_TOKEN} U /etc/fstab\n".encode()
    data = interpret("mount", payload, {"path": "/tmp"}).data
    assert "boot_options" not in data and "boot_options" in data["unobservable"]


@pytest.mark.parametrize("payload", [b"", b"\x00\xff", sec("mounts", ""), sec("mounts", "x", 1)])
def test_mount_errors(payload: bytes) -> None:
    assert interpret("mount", payload, {"path": "/tmp"}).status == "error"


# ---------------------------------------------------------------- auditd_conf


def test_auditd_conf_capture_lower_cases_values() -> None:
    settings = interpret("auditd_conf", captured("ac-host")).data["settings"]
    assert settings["space_left_action"] == "syslog"
    assert settings["disk_full_action"] == "suspend"


def test_auditd_conf_missing_is_absent_only_when_auditd_is_provably_absent() -> None:
    """not_applicable needs proof: no auditd.conf, no auditd binary and no auditd process.
    A missing file alone is not proof, and an unreadable one is an error."""
    conf = f"{TEST_TOKEN} N /etc/audit/auditd.conf\n"
    installed = f"{TEST_TOKEN} F cii:installed\n\ncii:rc 0\n"
    processes = f"{TEST_TOKEN} F cii:processes\ncii:read 2\nsshd\ncron\n\ncii:rc 0\n"
    assert interpret("auditd_conf", processes + installed + conf).status == "absent"
    assert interpret("auditd_conf", conf).status == "error"
    running = processes.replace("cron", "auditd")
    assert interpret("auditd_conf", running + installed + conf).status == "ok"
    unreadable = interpret("auditd_conf", f"{TEST_TOKEN} U /etc/audit/auditd.conf\n")
    assert unreadable.status == "error"
