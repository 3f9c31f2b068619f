"""Parsers of the access probes: sudoers, identities, useradd_defaults, glob_stat, pam_module."""

from __future__ import annotations

from typing import Any

from scanner.probes import ProbeResult
from tests.conftest import frame_files, interpret

DEBIAN_SUDOERS = (
    "#\n# This file MUST be edited with the 'visudo' command as root.\n#\n"
    "Defaults\tenv_reset\nDefaults\tmail_badpass\n"
    'Defaults\tsecure_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"\n'
    "Defaults\tuse_pty\n\n# User privilege specification\nroot\tALL=(ALL:ALL) ALL\n\n"
    "%sudo\tALL=(ALL:ALL) ALL\n\n@includedir /etc/sudoers.d\n"
)


def _sudoers(dropins: dict[str, str | None] | None = None, main: str | None = DEBIAN_SUDOERS,
             unreadable: tuple[str, ...] = ()) -> ProbeResult:
    files = {"/etc/sudoers": main, **(dropins or {})}
    return interpret("sudoers", frame_files(files, unreadable))


def test_sudoers_stock_debian() -> None:
    data = _sudoers({"/etc/sudoers.d/README": "# comments only\n"}).data
    assert (data["use_pty"], data["logfile"], data["nopasswd"]) == (True, "", [])
    assert data["files"] == ["/etc/sudoers", "/etc/sudoers.d/README"]


def test_sudoers_dropins_in_order_last_global_default_wins() -> None:
    data = _sudoers({"/etc/sudoers.d/10-a": "Defaults !use_pty\n",
                     "/etc/sudoers.d/20-b": "Defaults use_pty, logfile=/var/log/sudo.log\n"}).data
    assert (data["use_pty"], data["logfile"]) == (True, "/var/log/sudo.log")


def test_sudoers_skips_dotted_and_backup_names_and_needs_includedir() -> None:
    dropins = {"/etc/sudoers.d/a.conf": "x ALL=(ALL) NOPASSWD: ALL\n",
               "/etc/sudoers.d/b~": "x ALL=(ALL) NOPASSWD: ALL\n"}
    assert _sudoers(dropins).data["nopasswd"] == []
    no_dir = DEBIAN_SUDOERS.replace("@includedir /etc/sudoers.d\n", "")
    assert _sudoers({"/etc/sudoers.d/c": "x ALL=NOPASSWD: ALL\n"}, no_dir).data["nopasswd"] == []
    old_style = no_dir + "#includedir /etc/sudoers.d\n"
    assert len(_sudoers({"/etc/sudoers.d/c": "x ALL=NOPASSWD: ALL\n"},
                        old_style).data["nopasswd"]) == 1


def test_sudoers_comments_continuations_uids_and_scoped_defaults() -> None:
    text = ("# x ALL=(ALL) NOPASSWD: ALL\n#1000 ALL=(ALL) ALL # uid spec, not a comment\n"
            "ops ALL=(root) \\\n   NOPASSWD: /usr/bin/systemctl\n"
            "Defaults:ops !authenticate\nDefaults>root !use_pty\n")
    data = _sudoers({"/etc/sudoers.d/ops": text}).data
    assert [entry["where"] for entry in data["nopasswd"]] == ["/etc/sudoers.d/ops:3"]
    assert data["no_authenticate"] == ["/etc/sudoers.d/ops:5"]
    assert data["use_pty"] is True  # scoped defaults do not change the global value
    assert {d["scope"] for d in data["scoped_defaults"]} == {":ops", ">root"}


def test_sudoers_gbk_comment() -> None:
    content = "# 运维组\n".encode("gbk") + b"%ops ALL=(ALL) NOPASSWD:ALL\n"
    data = interpret("sudoers", frame_files({"/etc/sudoers": DEBIAN_SUDOERS,  # type: ignore[dict-item]
                                             "/etc/sudoers.d/ops": content})).data
    assert len(data["nopasswd"]) == 1


def test_sudoers_absent_unreadable_and_foreign_includes() -> None:
    assert _sudoers(main=None).status == "absent"
    assert _sudoers(unreadable=("/etc/sudoers",)).status == "error"
    assert _sudoers({"/etc/sudoers.d/x": ""}, unreadable=("/etc/sudoers.d/x",)).status == "error"
    foreign = DEBIAN_SUDOERS + "@include /opt/site/sudoers\n"
    assert _sudoers(main=foreign).status == "error"
    assert interpret("sudoers", b"").status == "error"


def _identities(payload: str, exit_status: int = 0) -> ProbeResult:
    return interpret("identities", payload, exit_status=exit_status)


def test_identities_duplicates() -> None:
    data = _identities("U:root:0\nU:toor:0\nU:a:1000\nU:a:1001\nG:sudo:27\nG:sudo:999\n"
                       "G:adm:4\nG:wheel:4\n").data
    assert data["duplicate_uids"] == [{"id": "0", "names": ["root", "toor"]}]
    assert data["duplicate_user_names"] == [{"name": "a", "ids": ["1000", "1001"]}]
    assert data["duplicate_group_names"] == [{"name": "sudo", "ids": ["27", "999"]}]
    assert data["duplicate_gids"] == [{"id": "4", "names": ["adm", "wheel"]}]


def test_identities_clean_odd_and_failed() -> None:
    assert _identities("U:root:0\nU:daemon:1\ngarbage\n").data["duplicate_uids"] == []
    assert _identities("").status == "error"
    assert _identities("", exit_status=3).status == "error"
    assert _identities("U:root:0\n", exit_status=4).status == "error"


def _useradd(content: str | None, **kwargs: Any) -> ProbeResult:
    return interpret("useradd_defaults", frame_files({"/etc/default/useradd": content}, **kwargs))


def test_useradd_defaults() -> None:
    assert _useradd("SHELL=/bin/sh\n# INACTIVE=30\n").data["settings"]["INACTIVE"] == -1
    assert _useradd("INACTIVE=30\nINACTIVE=35\n").data["settings"]["INACTIVE"] == 35
    assert _useradd("INACTIVE=never\n").data["settings"]["INACTIVE"] == -1
    assert _useradd(None).data["file_present"] is False
    assert _useradd("", unreadable=("/etc/default/useradd",)).status == "error"


def test_glob_stat() -> None:
    args = {"glob": "ssh_host_private_keys"}
    data = interpret("glob_stat", "stat 600 0 0 root root 399 /etc/ssh/ssh_host_ed25519_key\n"
                     "stat 640 0 994 root ssh_keys 2578 /etc/ssh/ssh host key\n", args).data
    assert [p["path"] for p in data["paths"]] == ["/etc/ssh/ssh_host_ed25519_key",
                                                  "/etc/ssh/ssh host key"]
    assert data["paths"][1]["mode"] == "0640"
    assert interpret("glob_stat", "", args).data["count"] == 0
    assert interpret("glob_stat", "unstat /root/.rhosts\n", args).status == "error"
    assert interpret("glob_stat", "stat x\n", args).status == "error"


def test_glob_stat_lists_matches_then_stats_them_at_once() -> None:
    args = {"glob": "rhosts"}
    found = "found /root/.rhosts\nfound /home/a b/.netrc\n"
    both = ("stat 600 0 0 root root 12 /root/.rhosts\n"
            "stat 644 1000 1000 ab ab 40 /home/a b/.netrc\n")
    data = interpret("glob_stat", found + both, args).data
    assert [p["path"] for p in data["paths"]] == ["/root/.rhosts", "/home/a b/.netrc"]
    assert data["count"] == 2
    # a match that stat could not read is an error naming it, never a shorter list
    missing = interpret("glob_stat", found + both.splitlines(keepends=True)[0], args)
    assert missing.status == "error" and "/home/a b/.netrc" in str(missing.error)
    # stat output for a path the listing did not find is not believed
    stray = interpret("glob_stat", "found /root/.rhosts\n" + both, args)
    assert stray.status == "error" and ".netrc" in str(stray.error)


def test_pam_module() -> None:
    files = {"/etc/pam.d/su": "auth sufficient pam_rootok.so\n"
             "auth required pam_wheel.so use_uid group=sugroup\n@include common-auth\n",
             "/etc/pam.d/common-auth": "auth [success=1 default=ignore] pam_unix.so nullok\n"}
    args = {"service": "su", "type": "auth", "module": "pam_wheel.so"}
    data = interpret("pam_module", frame_files(files), args).data
    assert (data["present"], data["fails_closed"]) == (True, True)
    assert data["args"] == {"use_uid": True, "group": "sugroup"}
    unix = interpret("pam_module", frame_files(files), {**args, "module": "pam_unix.so"}).data
    assert (unix["fails_closed"], unix["args"], unix["file"]) == (
        False, {"nullok": True}, "/etc/pam.d/common-auth")
    missing = interpret("pam_module", frame_files(files), {**args, "module": "pam_tty_audit.so"})
    assert missing.data["present"] is False and missing.data["args"] == {}
    broken = {"/etc/pam.d/su": "auth include nowhere\n"}
    assert interpret("pam_module", frame_files(broken), args).status == "error"


def test_mac_states() -> None:
    empty = interpret("mac", "").data
    assert {k: v for k, v in empty.items() if k != "why"} == {
        "selinux": "disabled", "selinux_config": None, "apparmor": False,
        "apparmor_enforce_profiles": None, "apparmor_complain_profiles": None, "lsm": [],
        "enforcing": False, "enforcing_at_boot": False}
    enforcing = interpret("mac", "selinux_enforce=1\nselinux_config=enforcing\n").data
    assert (enforcing["selinux"], enforcing["enforcing"]) == ("enforcing", True)
    assert enforcing["enforcing_at_boot"] is True
    lines = "selinux_enforce=1\nselinux_config_line=  SELINUX=enforcing\n"
    assert interpret("mac", lines).data["enforcing_at_boot"] is False  # libselinux: no blanks
    lines = "selinux_enforce=1\nselinux_config_line=SELINUX=Enforcing\ncmdline=ro enforcing=0\n"
    assert interpret("mac", lines).data["enforcing_at_boot"] is False
    permissive = interpret("mac", "selinux_enforce=0\nselinux_config=enforcing\n").data
    assert permissive["enforcing"] is False
    apparmor = interpret("mac", "apparmor_enabled=Y\napparmor_enforce=0\napparmor_complain=9\n")
    assert apparmor.data["enforcing"] is False  # every profile only complains
    assert interpret("mac", "apparmor_enabled=Y\napparmor_enforce=3\n").data["enforcing"] is True


def test_mac_unreadable_state_is_an_error_unless_selinux_already_enforces() -> None:
    assert interpret("mac", "apparmor_enabled=Y\napparmor_profiles=unreadable\n").status == "error"
    assert interpret("mac", "selinux_enforce=unreadable\n").status == "error"
    both = "selinux_enforce=1\napparmor_enabled=Y\napparmor_profiles=unreadable\n"
    assert interpret("mac", both).data["enforcing"] is True
    assert interpret("mac", "selinux_enforce=1\n", exit_status=2).status == "error"
