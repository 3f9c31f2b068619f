"""Parsers of the access probes: sudoers, identities, useradd_defaults, glob_stat, pam_module."""

from __future__ import annotations

from scanner.probes import ProbeResult
from tests.conftest import TEST_TOKEN, frame_files, interpret

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
    # a runas-scoped !use_pty turns it off for commands run as root (sudo applies scoped
    # Defaults too; tests/oracle/test_sudo.py runas-negated)
    assert (data["use_pty"], data["use_pty_off_at"]) == (False, ["/etc/sudoers.d/ops:6"])
    assert {(d["scope"], d["target"]) for d in data["scoped_defaults"]} == {
        ("user", "ops"), ("runas", "root")}


def test_sudoers_read_depth_first_last_match_and_file_order() -> None:
    main = DEBIAN_SUDOERS + "x ALL=(ALL:ALL) ALL\n"
    assert _sudoers({"/etc/sudoers.d/a": "x ALL=(ALL) NOPASSWD: ALL\n"}, main).data[
        "nopasswd"] == []
    data = _sudoers({"/etc/sudoers.d/a": "Defaults:x !use_pty\nDefaults!/bin/sh !use_pty\n",
                     "/etc/sudoers.d/b": "Defaults use_pty\n"}).data
    assert data["use_pty_off_at"] == ["/etc/sudoers.d/a:2"]
    tags = _sudoers({"/etc/sudoers.d/a": "x ALL=(root) PASSWD: /bin/a, /bin/b\n"
                     "y ALL=(root) NOPASSWD: /bin/a, PASSWD: /bin/b\n"}).data
    assert [entry["command"] for entry in tags["nopasswd"]] == ["/bin/a"]


def test_sudoers_drops_what_visudo_calls_a_syntax_error() -> None:
    section = ("CIIM" + "0" * 32 + " F cii:sudo\nSudo version 1.9.13p3\ncii:visudo\n"
               "/etc/sudoers.d/a:1:14: syntax error\ncii:visudo-rc 1\n\ncii:rc 0\n")
    files = frame_files({"/etc/sudoers": DEBIAN_SUDOERS,
                         "/etc/sudoers.d/a": "x ALL=(ALL NOPASSWD: ALL\nDefaults !use_pty\n"})
    data = interpret("sudoers", section.replace("CIIM" + "0" * 32, TEST_TOKEN).encode()
                     + files).data
    assert data["nopasswd"] == [] and data["use_pty"] is False
    assert data["notes"] == ["/etc/sudoers.d/a:1: sudo drops this line (syntax error)"]


def test_sudoers_gbk_comment() -> None:
    content = "# 运维组\n".encode("gbk") + b"%ops ALL=(ALL) NOPASSWD:ALL\n"
    data = interpret("sudoers", frame_files({"/etc/sudoers": DEBIAN_SUDOERS,  # type: ignore[dict-item]
                                             "/etc/sudoers.d/ops": content})).data
    assert len(data["nopasswd"]) == 1


def test_sudoers_absent_unreadable_and_foreign_includes() -> None:
    assert _sudoers(main=None).status == "absent"
    installed = f"{TEST_TOKEN} F cii:sudo\nSudo version 1.9.13p3\n\ncii:rc 0\n".encode()
    assert interpret("sudoers", installed + frame_files({"/etc/sudoers": None})).status == \
        "error"
    assert _sudoers(unreadable=("/etc/sudoers",)).status == "error"
    assert _sudoers({"/etc/sudoers.d/x": ""}, unreadable=("/etc/sudoers.d/x",)).status == "error"
    foreign = DEBIAN_SUDOERS + "@include /opt/site/sudoers\n"
    assert _sudoers(main=foreign).status == "error"
    assert interpret("sudoers", b"").status == "error"


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
