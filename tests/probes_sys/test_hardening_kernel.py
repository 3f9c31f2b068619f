"""Parsers of the kernel_module, mount and auditd_conf probes (package_sources: its own file)."""

from __future__ import annotations

import pytest

from tests.conftest import TEST_TOKEN, interpret
from tests.probes_sys._helpers import captured, file_frame, sec

USB = {"name": "usb-storage"}
LOADED = "usb_storage 86016 0 - Live 0x0000000000000000\nuas 32768 0 - Live 0x0000000000000000\n"


def test_blacklist_only_capture_is_not_disabled() -> None:
    result = interpret("kernel_module", captured("km-blacklist-only"), USB)
    assert result.status == "ok"
    assert result.data["blacklisted"] is True and result.data["disabled"] is False
    assert result.data["modules_supported"] is False and result.data["can_load"] is False


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
def test_install_lines_decide_loadability(conf: str, can_load: bool) -> None:
    payload = (sec("modules", "xfs 2445312 2 - Live 0x0\n") + sec("sys-module", "")
               + file_frame("/etc/modprobe.d/usb.conf", conf))
    assert interpret("kernel_module", payload, USB).data["can_load"] is can_load


def test_loaded_module_can_load_even_when_disabled() -> None:
    payload = (sec("modules", LOADED) + sec("sys-module", "present\n")
               + file_frame("/etc/modprobe.d/usb.conf", "install usb-storage /bin/false\n"))
    data = interpret("kernel_module", payload, USB).data
    assert data["loaded"] is True and data["can_load"] is True


def test_etc_file_shadows_the_same_name_in_lib() -> None:
    payload = (sec("modules", "") + sec("sys-module", "")
               + file_frame("/etc/modprobe.d/usb.conf", "# cleared by the site\n")
               + file_frame("/lib/modprobe.d/usb.conf", "install usb-storage /bin/false\n"))
    assert interpret("kernel_module", payload, USB).data["disabled"] is False


@pytest.mark.parametrize("payload", [b"", b"\xff\xfe", sec("modules", "denied", 1)])
def test_kernel_module_errors(payload: bytes) -> None:
    assert interpret("kernel_module", payload, USB).status == "error"


def test_unreadable_modprobe_file_without_proof_is_an_error() -> None:
    payload = (sec("modules", "") + sec("sys-module", "")
               + f"{TEST_TOKEN} U /etc/modprobe.d/site.conf\n".encode())
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
    assert data == {"path": "/var/tmp", "separate": False, "options": []}


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
