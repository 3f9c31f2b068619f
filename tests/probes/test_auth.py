"""Parsers of the authentication probes: login_defs, pam, pwquality, faillock, shell_timeout.

Each test feeds what the probe's snippet prints (files framed as dump_files frames
them) through the real parser and checks the effective value the consuming
program (shadow-utils, Linux-PAM, libpwquality, pam_faillock, bash) would use.
"""

from __future__ import annotations

from typing import Any

import pytest

from scanner.probes import ProbeResult
from scanner.probes.pam.pwquality import effective_min_length
from scanner.probes.pam.stack import control_fails_closed, pam_args
from tests.conftest import frame_files, interpret

DEBIAN_COMMON_AUTH = (
    "# here are the per-package modules (the \"Primary\" block)\n"
    "auth\t[success=1 default=ignore]\tpam_unix.so nullok\n"
    "auth\trequisite\t\t\tpam_deny.so\n"
    "auth\trequired\t\t\tpam_permit.so\n"
)
FAILLOCK_AUTH = (  # a success jumps over authfail and pam_deny to pam_permit
    "auth required pam_faillock.so preauth\n"
    "auth [success=2 default=ignore] pam_unix.so nullok\n"
    "auth [default=die] pam_faillock.so authfail\n"
    "auth requisite pam_deny.so\n"
    "auth required pam_permit.so\n"
)
PWQ_PASSWORD = "password requisite pam_pwquality.so retry=3\npassword required pam_unix.so\n"


def _pam(files: dict[str, str | None], unreadable: tuple[str, ...] = ()) -> ProbeResult:
    return interpret("pam", frame_files(files, unreadable))


def _debian_pam(**overrides: str) -> dict[str, str | None]:
    files: dict[str, str | None] = {
        "/etc/pam.d/common-auth": DEBIAN_COMMON_AUTH,
        "/etc/pam.d/common-account": "account required pam_unix.so\n",
        "/etc/pam.d/common-password": "password [success=1 default=ignore] pam_unix.so "
        "obscure yescrypt\npassword requisite pam_deny.so\npassword required pam_permit.so\n",
        "/etc/pam.d/common-session": "session required pam_unix.so\n",
        "/etc/pam.d/login": "auth optional pam_faildelay.so delay=3000000\n"
        "@include common-auth\n@include common-account\n@include common-session\n"
        "@include common-password\n",
        "/etc/pam.d/sshd": "@include common-auth\naccount required pam_nologin.so\n"
        "@include common-account\n@include common-session\n@include common-password\n",
        "/etc/pam.d/passwd": "@include common-password\n",
        "/etc/pam.d/other": "@include common-auth\n@include common-account\n"
        "@include common-password\n@include common-session\n",
    }
    for name, text in overrides.items():
        files["/etc/pam.d/" + name.replace("_", "-")] = text
    return files


def _modules(result: ProbeResult, service: str, module_type: str) -> list[str]:
    lines = result.data["services"][service]["lines"]
    return [line["module"] for line in lines if line["type"] == module_type]


# ------------------------------------------------------------------------ login_defs


def _login_defs(content: str | bytes | None, **kwargs: Any) -> ProbeResult:
    return interpret("login_defs", frame_files({"/etc/login.defs": content}, **kwargs))


def test_login_defs_last_definition_wins_and_numbers_are_ints() -> None:
    result = _login_defs("PASS_MAX_DAYS\t60\nUMASK 027\nPASS_MAX_DAYS 99999\n")
    assert result.status == "ok"
    assert result.data["settings"]["PASS_MAX_DAYS"] == 99999
    assert result.data["settings"]["UMASK"] == "027"


def test_login_defs_absent_keys_get_shadow_defaults_and_say_so() -> None:
    result = _login_defs("UMASK 027\n")
    assert result.data["settings"]["PASS_MAX_DAYS"] == 99999
    assert result.data["settings"]["ENCRYPT_METHOD"] == "DES"
    assert "PASS_MAX_DAYS" in result.data["defaults_used"]
    assert "UMASK" not in result.data["defaults_used"]


def test_login_defs_inline_comment_makes_the_value_invalid() -> None:
    result = _login_defs("PASS_MAX_DAYS 90 # policy\n")
    assert result.data["settings"]["PASS_MAX_DAYS"] == 99999
    assert result.data["invalid"] == {"PASS_MAX_DAYS": "90 # policy"}


def test_login_defs_keys_are_case_sensitive_and_comments_skipped() -> None:
    result = _login_defs("pass_max_days 30\n  # PASS_MAX_DAYS 30\n#PASS_MAX_DAYS 30\n")
    assert result.data["settings"]["PASS_MAX_DAYS"] == 99999
    assert result.data["settings"]["pass_max_days"] == "30"


def test_login_defs_quotes_tabs_and_gbk_comments() -> None:
    content = "# 口令策略\n".encode("gbk") + b'\tPASS_MIN_DAYS\t\t"7"\nENCRYPT_METHOD "SHA512"\n'
    result = _login_defs(content)
    assert result.data["settings"]["PASS_MIN_DAYS"] == 7
    assert result.data["settings"]["ENCRYPT_METHOD"] == "SHA512"


def test_login_defs_md5_crypt_enab_changes_the_default_hash() -> None:
    assert _login_defs("MD5_CRYPT_ENAB yes\n").data["settings"]["ENCRYPT_METHOD"] == "MD5"


def test_login_defs_key_without_value_is_ignored() -> None:
    result = _login_defs("PASS_MAX_DAYS\nPASS_WARN_AGE 14\n")
    assert result.data["settings"]["PASS_MAX_DAYS"] == 99999
    assert result.data["settings"]["PASS_WARN_AGE"] == 14


def test_login_defs_missing_file_means_defaults() -> None:
    result = _login_defs(None)
    assert result.status == "ok"
    assert result.data["file_present"] is False
    assert result.data["settings"]["PASS_MAX_DAYS"] == 99999


def test_login_defs_unreadable_file_is_an_error() -> None:
    result = _login_defs("", unreadable=("/etc/login.defs",))
    assert result.status == "error"
    assert "not readable" in (result.error or "")


@pytest.mark.parametrize(("payload", "status"), [(b"", 0), (b"garbage\n", 0), (b"", 2)])
def test_login_defs_without_frames_or_failed_is_an_error(payload: bytes, status: int) -> None:
    assert interpret("login_defs", payload, exit_status=status).status == "error"


def test_login_defs_truncated_output_is_an_error() -> None:
    assert interpret("login_defs", frame_files({"/etc/login.defs": "PASS"}),
                     exit_status=None).status == "error"


# ------------------------------------------------------------------------ pam


def test_pam_debian_at_include_expands_every_type() -> None:
    result = _pam(_debian_pam())
    assert result.status == "ok"
    assert _modules(result, "login", "auth") == ["pam_faildelay.so", "pam_unix.so",
                                                  "pam_deny.so", "pam_permit.so"]
    unix = result.data["services"]["login"]["lines"][1]
    assert unix["control"] == "[success=1 default=ignore]"
    assert unix["args"] == {"nullok": True}
    assert unix["file"] == "/etc/pam.d/common-auth"


def test_pam_include_takes_only_lines_of_its_own_type() -> None:
    files = {"/etc/pam.d/system-auth": "auth sufficient pam_unix.so\naccount required "
             "pam_unix.so\npassword requisite pam_pwquality.so minlen=8\n",
             "/etc/pam.d/su": "auth include system-auth\npassword substack system-auth\n"}
    result = _pam(files)
    lines = result.data["services"]["su"]["lines"]
    assert [(line["type"], line["module"], line["substack"]) for line in lines] == [
        ("auth", "pam_unix.so", False), ("password", "pam_pwquality.so", True)]
    assert lines[1]["args"] == {"minlen": "8"}


def test_pam_other_fills_types_a_service_does_not_configure() -> None:
    files = {"/etc/pam.d/other": "auth required pam_deny.so\naccount required pam_deny.so\n",
             "/etc/pam.d/cron": "account required pam_unix.so\n"}
    result = _pam(files)
    assert _modules(result, "cron", "auth") == ["pam_deny.so"]
    assert _modules(result, "cron", "account") == ["pam_unix.so"]


def test_pam_comments_anywhere_continuations_case_and_optional_lines() -> None:
    text = ("AUTH  Required  pam_env.so # readenv=1 is commented out\n"
            "auth required pam_faillock.so \\\n   preauth deny=4\n"
            "-session optional pam_systemd.so\n"
            "account [default=bad success=ok user_unknown=ignore] pam_sss.so\n"
            "auth required pam_unix.so [allow=a b\\]c]\n")
    result = _pam({"/etc/pam.d/svc": text})
    lines = result.data["services"]["svc"]["lines"]
    assert lines[0]["control"] == "required" and lines[0]["args"] == {}
    assert lines[1]["args"] == {"preauth": True, "deny": "4"}
    assert lines[2]["optional"] is True and lines[2]["type"] == "session"
    assert lines[3]["control"] == "[default=bad success=ok user_unknown=ignore]"
    assert lines[4]["args"] == {"allow": "a b]c"}


def test_pam_absolute_module_path_reports_the_module_name() -> None:
    result = _pam({"/etc/pam.d/x": "auth required /lib/x86_64-linux-gnu/security/pam_unix.so\n"})
    assert _modules(result, "x", "auth") == ["pam_unix.so"]


def test_pam_cycles_missing_and_unreadable_includes_are_problems() -> None:
    files = {"/etc/pam.d/a": "auth include b\n", "/etc/pam.d/b": "auth include a\n",
             "/etc/pam.d/c": "auth include nowhere\n", "/etc/pam.d/d": "@include secret\n",
             "/etc/pam.d/secret": ""}
    result = _pam(files, unreadable=("/etc/pam.d/secret",))
    services = result.data["services"]
    # libpam has no cycle check: the nesting limit ends it, and the line fails
    assert "deeper than 16" in services["a"]["problems"][0]
    assert "nowhere cannot be read" in services["c"]["problems"][0]
    assert "not readable" in services["d"]["problems"][0]
    assert result.data["unreadable"] == ["/etc/pam.d/secret"]


def test_pam_include_depth_is_bounded() -> None:
    files = {f"/etc/pam.d/s{i}": f"auth include s{i + 1}\n" for i in range(40)}
    files["/etc/pam.d/s40"] = "auth required pam_unix.so\n"
    problems = _pam(files).data["services"]["s0"]["problems"]
    assert any("deeper than 16" in problem for problem in problems)


def test_pam_malformed_lines_are_problems_not_crashes() -> None:
    result = _pam({"/etc/pam.d/x": "auht required pam_unix.so\nauth required\n"})
    assert len(result.data["services"]["x"]["problems"]) == 2


def test_pam_gbk_comment_bytes_do_not_break_parsing() -> None:
    content = "# 认证配置\n".encode("gbk") + b"auth required pam_unix.so\n"
    result = interpret("pam", frame_files({"/etc/pam.d/x": content}))  # type: ignore[dict-item]
    assert _modules(result, "x", "auth") == ["pam_unix.so"]


def test_pam_empty_directory_is_an_error() -> None:
    assert interpret("pam", b"").status == "error"
    assert interpret("pam", frame_files({"/etc/pam.d/*": None})).status == "error"


def test_pam_args_and_controls() -> None:
    assert pam_args(["deny=5", "silent", "x=a=b"]) == {"deny": "5", "silent": True, "x": "a=b"}
    assert control_fails_closed("requisite", "authtok_err")
    assert not control_fails_closed("optional", "authtok_err")
    assert not control_fails_closed("sufficient", "auth_err")
    assert control_fails_closed("[default=die]", "auth_err")
    assert not control_fails_closed("[success=1 default=ignore]", "auth_err")
    assert control_fails_closed("[success=ok auth_err=bad default=ignore]", "auth_err")
    assert control_fails_closed("[success=ok]", "auth_err")  # unlisted values default to bad


# ------------------------------------------------------------------------ pwquality


def _pwquality(pam: dict[str, str | None], conf: dict[str, str | None] | None = None,
               args: dict[str, Any] | None = None,
               unreadable: tuple[str, ...] = ()) -> ProbeResult:
    files = {**pam, **(conf or {})}
    return interpret("pwquality", frame_files(files, unreadable), args)


def test_pwquality_absent_module_is_inactive() -> None:
    result = _pwquality(_debian_pam())
    assert result.status == "ok"
    assert result.data["module_active"] is False
    assert result.data["module"] is None


def test_pwquality_defaults_when_no_config_files() -> None:
    result = _pwquality(_debian_pam(common_password=PWQ_PASSWORD),
                        {"/etc/security/pwquality.conf": None})
    assert result.data["module_active"] is True
    assert (result.data["minlen"], result.data["min_length"], result.data["classes"]) == (8, 8, 0)


def test_pwquality_main_file_is_read_after_dropins_and_wins() -> None:
    conf = {"/etc/security/pwquality.conf": "minlen = 9\n",
            "/etc/security/pwquality.conf.d/50-a.conf": "minlen=14\nminclass=2\n",
            "/etc/security/pwquality.conf.d/60-b.conf": "minclass = 3\n"}
    result = _pwquality(_debian_pam(common_password=PWQ_PASSWORD), conf)
    assert (result.data["minlen"], result.data["classes"]) == (9, 3)


def test_pwquality_names_case_insensitive_minimums_clamped() -> None:
    conf = {"/etc/security/pwquality.conf": "MinLen\t=\t4 # 最短\nminclass = 9\n"}
    result = _pwquality(_debian_pam(common_password=PWQ_PASSWORD), conf)
    assert (result.data["minlen"], result.data["minclass"]) == (6, 4)


def test_pwquality_bad_line_stops_reading_that_file() -> None:
    conf = {"/etc/security/pwquality.conf": "minlen = 10\nminlen = ten\nminclass = 3\n"}
    result = _pwquality(_debian_pam(common_password=PWQ_PASSWORD), conf)
    assert (result.data["minlen"], result.data["classes"]) == (10, 0)
    assert any("stops reading" in note for note in result.data["notes"])


def test_pwquality_module_arguments_override_files_and_credits_count_classes() -> None:
    password = ("password requisite pam_pwquality.so retry=3 minlen=12 dcredit=-1 ucredit=-1 "
                "ocredit=-2 use_authtok\n")
    conf = {"/etc/security/pwquality.conf": "minlen = 8\nminclass = 1\n"}
    result = _pwquality(_debian_pam(common_password=password), conf)
    data = result.data
    assert (data["minlen"], data["required_classes"], data["classes"]) == (12, 3, 3)
    assert data["min_length"] == 12


def test_pwquality_positive_credits_shorten_the_accepted_length() -> None:
    assert effective_min_length(8, {"dcredit": 0}) == 8
    assert effective_min_length(8, {"dcredit": 2, "ucredit": 2}) == 4
    all_one = {c: 1 for c in ("dcredit", "ucredit", "lcredit", "ocredit")}
    assert effective_min_length(9, all_one) == 5
    assert effective_min_length(6, {"dcredit": -3, "ucredit": -4}) == 7


def test_pwquality_cracklib_ignores_pwquality_conf() -> None:
    password = "password required pam_cracklib.so retry=3 minlen=12 dcredit=0\n"
    conf = {"/etc/security/pwquality.conf": "minlen = 20\nminclass = 4\n"}
    data = _pwquality(_debian_pam(common_password=password), conf).data
    assert data["module"] == "pam_cracklib.so"
    assert (data["minlen"], data["classes"]) == (12, 0)
    assert data["min_length"] == 9  # ucredit, lcredit, ocredit default to 1


@pytest.mark.parametrize("line", [  # pam_unix without use_authtok asks again and takes it
    "password optional pam_pwquality.so\npassword required pam_unix.so\n",
    "password [success=ok default=ignore] pam_pwquality.so\npassword required pam_unix.so\n",
])
def test_pwquality_controls_that_let_weak_passwords_through(line: str) -> None:
    data = _pwquality(_debian_pam(common_password=line)).data
    assert data["module_active"] is False


def test_pwquality_enforcing_zero_is_inactive() -> None:
    conf = {"/etc/security/pwquality.conf": "enforcing = 0\n"}
    assert _pwquality(_debian_pam(common_password=PWQ_PASSWORD), conf).data[
        "module_active"] is False


def test_pwquality_service_argument_and_weakest_service() -> None:
    pam = _debian_pam(common_password=PWQ_PASSWORD, chpasswd="password required pam_unix.so\n")
    result = _pwquality(pam, args={"services": ["passwd", "chpasswd"]})
    assert result.data["service"] == "chpasswd"
    assert result.data["services"]["passwd"]["module_active"] is True


def test_pwquality_unreadable_config_or_broken_stack_is_an_error() -> None:
    pam = _debian_pam(common_password=PWQ_PASSWORD)
    conf = {"/etc/security/pwquality.conf": ""}
    assert _pwquality(pam, conf, unreadable=("/etc/security/pwquality.conf",)).status == "error"
    broken = _debian_pam(passwd="password include missing-file\n")
    assert _pwquality(broken).status == "error"


# ------------------------------------------------------------------------ faillock


def _faillock(pam: dict[str, str | None], conf: str | None = None,
              unreadable: tuple[str, ...] = (), args: dict[str, Any] | None = None
              ) -> ProbeResult:
    files = {**pam, "/etc/security/faillock.conf": conf}
    return interpret("faillock", frame_files(files, unreadable), args)


def test_faillock_none_on_a_stock_stack() -> None:
    data = _faillock(_debian_pam()).data
    assert (data["mechanism"], data["deny"]) == ("none", None)


def test_faillock_module_defaults_then_conf_then_arguments() -> None:
    assert (_faillock(_debian_pam(common_auth=FAILLOCK_AUTH)).data["deny"],
            _faillock(_debian_pam(common_auth=FAILLOCK_AUTH)).data["unlock_time"]) == (3, 600)
    conf = "# 锁定策略\ndeny = 5\nunlock_time=900 # 15 min\n\teven_deny_root\n"
    data = _faillock(_debian_pam(common_auth=FAILLOCK_AUTH), conf).data
    assert (data["mechanism"], data["deny"], data["unlock_time"], data["even_deny_root"]) == (
        "faillock", 5, 900, True)
    # each line parses its own arguments: both must say deny=8 for the lock to wait for 8
    argued = FAILLOCK_AUTH.replace("preauth", "preauth deny=8 unlock_time=never").replace(
        "authfail", "authfail deny=8 unlock_time=never")
    data = _faillock(_debian_pam(common_auth=argued), conf).data
    assert (data["deny"], data["unlock_time"]) == (8, 0)
    only_preauth = FAILLOCK_AUTH.replace("preauth", "preauth deny=8")
    assert _faillock(_debian_pam(common_auth=only_preauth), conf).data["deny"] is None


def test_faillock_bad_values_keep_the_previous_one() -> None:
    data = _faillock(_debian_pam(common_auth=FAILLOCK_AUTH),
                     "deny = lots\nunlock_time = 999999999\n").data
    assert (data["deny"], data["unlock_time"]) == (3, 600)


def test_faillock_preauth_is_the_default_action_but_authfail_is_needed() -> None:
    only_one = "auth required pam_faillock.so\nauth sufficient pam_unix.so\n"
    data = _faillock(_debian_pam(common_auth=only_one)).data
    assert data["mechanism"] == "none"
    assert any("authfail" in note for note in data["notes"])


def test_faillock_optional_preauth_does_not_lock() -> None:
    weak = FAILLOCK_AUTH.replace("auth required pam_faillock.so preauth",
                                 "auth optional pam_faillock.so preauth")
    assert _faillock(_debian_pam(common_auth=weak)).data["mechanism"] == "none"


def test_faillock_weaker_of_login_and_sshd_is_reported() -> None:
    pam = _debian_pam(login="@include common-auth\n",
                      sshd="auth required pam_faillock.so preauth deny=5\n"
                      "auth sufficient pam_unix.so\n"
                      "auth [default=die] pam_faillock.so authfail deny=5\n",
                      common_auth=FAILLOCK_AUTH.replace("preauth", "preauth deny=3"))
    data = _faillock(pam).data
    assert (data["service"], data["deny"]) == ("sshd", 5)
    assert data["services"]["login"]["deny"] == 3


def test_faillock_preauth_deny_above_authfail_deny_never_locks() -> None:
    # authfail stops recording at its own deny (3): preauth's deny=5 is never reached
    sshd = ("auth required pam_faillock.so preauth deny=5\nauth sufficient pam_unix.so\n"
            "auth [default=die] pam_faillock.so authfail\n")
    data = _faillock(_debian_pam(login="@include common-auth\n", sshd=sshd,
                                 common_auth=FAILLOCK_AUTH)).data
    assert (data["service"], data["mechanism"], data["deny"]) == ("sshd", "none", None)


def test_faillock_missing_sshd_file_falls_back_to_other() -> None:
    pam = _debian_pam(common_auth=FAILLOCK_AUTH)
    pam["/etc/pam.d/sshd"] = None
    data = _faillock(pam).data
    assert data["services"]["sshd"]["mechanism"] == "faillock"


def test_faillock_tally2_defaults_and_arguments() -> None:
    tally = "auth required pam_tally2.so deny=5 onerr=fail even_deny_root\n" \
            "auth sufficient pam_unix.so\n"
    data = _faillock(_debian_pam(common_auth=tally)).data
    assert (data["mechanism"], data["deny"], data["unlock_time"], data["even_deny_root"]) == (
        "tally2", 5, 0, True)


def test_faillock_other_conf_file_or_unreadable_conf_is_an_error() -> None:
    other = FAILLOCK_AUTH.replace("preauth", "preauth conf=/etc/security/site-faillock.conf")
    assert _faillock(_debian_pam(common_auth=other)).status == "error"
    result = _faillock(_debian_pam(common_auth=FAILLOCK_AUTH), "",
                       unreadable=("/etc/security/faillock.conf",))
    assert result.status == "error"


def test_faillock_unreadable_conf_does_not_matter_without_the_module() -> None:
    result = _faillock(_debian_pam(), "", unreadable=("/etc/security/faillock.conf",))
    assert result.status == "ok" and result.data["mechanism"] == "none"


# ------------------------------------------------------------------------ shell_timeout


def _tmout(files: dict[str, str | None], unreadable: tuple[str, ...] = ()) -> ProbeResult:
    return interpret("shell_timeout", frame_files(files, unreadable))


def test_tmout_unset_is_zero() -> None:
    data = _tmout({"/etc/profile": "PATH=/bin\n", "/etc/bash.bashrc": None}).data
    assert (data["tmout"], data["set"], data["readonly"]) == (0, False, False)


_LOOP = "for i in /etc/profile.d/*.sh; do\n  if [ -r $i ]; then . $i; fi\ndone\n"


def test_tmout_follows_the_order_bash_reads_in() -> None:
    """/etc/profile's own lines after its profile.d loop run last (the issue's false pass)."""
    files = {"/etc/profile": _LOOP + "TMOUT=0\n", "/etc/profile.d/a.sh": "TMOUT=300\n"}
    assert _tmout(files).data["tmout"] == 0
    files["/etc/profile.d/a.sh"] = "TMOUT=300; readonly TMOUT\n"
    data = _tmout(files).data
    assert (data["tmout"], data["readonly"]) == (300, True)
    assert data["set_in"] == ["/etc/profile.d/a.sh:1"] and "refuses" in data["notes"][0]
    files = {"/etc/profile": "TMOUT=900\n" + _LOOP, "/etc/profile.d/a.sh": "TMOUT=300\n",
             "/etc/profile.d/b.conf": "TMOUT=0\n", "/etc/profile.d/.c.sh": "TMOUT=0\n"}
    assert _tmout(files).data["tmout"] == 300


def test_tmout_builtins_declare_typeset_export() -> None:
    for text, readonly, exported in [("declare -r TMOUT=600\n", True, False),
                                     ("typeset -rx TMOUT=600\n", True, True),
                                     ("export TMOUT=600 HISTSIZE=100\n", False, True),
                                     ("readonly TMOUT=600 && export TMOUT\n", True, True)]:
        data = _tmout({"/etc/profile": text}).data
        assert (data["tmout"], data["readonly"], data["exported"]) == (600, readonly, exported)


def test_tmout_only_where_something_sources_the_bashrc() -> None:
    debian_profile = "if [ -f /etc/bash.bashrc ]; then\n  . /etc/bash.bashrc\nfi\n"
    data = _tmout({"/etc/profile": debian_profile, "/etc/bashrc": "TMOUT=300\n"}).data
    assert data["tmout"] == 0 and data["files_read"] == ["/etc/profile"]
    data = _tmout({"/etc/profile": debian_profile, "/etc/bash.bashrc": "TMOUT=300\n"}).data
    assert data["tmout"] == 300
    rhel = _tmout({"/etc/profile": _LOOP, "/etc/bash.bashrc": "TMOUT=300\n",
                   "/etc/skel/.bash_profile": "[ -f ~/.bashrc ] && . ~/.bashrc\n",
                   "/etc/skel/.bashrc": "if [ -f /etc/bashrc ]; then . /etc/bashrc; fi\n",
                   "/etc/bashrc": "TMOUT=600\n"}).data
    assert rhel["tmout"] == 600


def test_tmout_unset_without_readonly_clears_it() -> None:
    data = _tmout({"/etc/profile": "TMOUT=600\nunset TMOUT\n"}).data
    assert (data["tmout"], data["set"]) == (0, False)


def test_tmout_comments_quotes_crlf_and_atoi() -> None:
    assert _tmout({"/etc/profile": "# TMOUT=600\necho '# TMOUT=1'\n"}).data["tmout"] == 0
    assert _tmout({"/etc/profile": 'TMOUT="450"  # 等保\n'}).data["tmout"] == 450
    assert _tmout({"/etc/profile": "TMOUT=300s\n"}).data["tmout"] == 300  # atoi
    assert _tmout({"/etc/profile": "TMOUT=600\r\n"}).data["tmout"] == 600
    crlf = _tmout({"/etc/profile": "TMOUT=600\r\nreadonly TMOUT\r\nTMOUT=0\n"}).data
    assert (crlf["tmout"], crlf["readonly"]) == (0, False)
    assert _tmout({"/etc/profile": "TMOUT=${X:-600}\n"}).status == "error"


def test_tmout_branches_count_worst_first() -> None:
    text = 'if [ "$(id -u)" -ne 0 ]; then\n\tTMOUT=600\nfi\n'
    data = _tmout({"/etc/profile": text}).data
    assert (data["tmout"], data["conditional"], data["possible"]) == (0, True, [0, 600])
    assert _tmout({"/etc/profile": text + "TMOUT=300\n"}).data["conditional"] is False
    both = 'if [ "$(id -u)" -eq 0 ]; then TMOUT=300; else TMOUT=600; fi\n'
    assert _tmout({"/etc/profile": both}).data["tmout"] == 600


def test_tmout_gbk_bytes_and_unreadable_files() -> None:
    content = "# 超时\n".encode("gbk") + b"TMOUT=120\n"
    assert interpret("shell_timeout", frame_files({"/etc/profile": content})  # type: ignore[dict-item]
                     ).data["tmout"] == 120
    assert _tmout({"/etc/profile": _LOOP, "/etc/profile.d/x.sh": ""},
                  unreadable=("/etc/profile.d/x.sh",)).status == "error"


def test_tmout_failed_or_empty_output_is_an_error() -> None:
    assert interpret("shell_timeout", b"").status == "error"
    assert interpret("shell_timeout", frame_files({"/etc/profile": "TMOUT=1"}),
                     exit_status=1).status == "error"


# ------------------------------------------------------------------------ pwhistory


def _pwhistory(password: str, conf: str | None = None,
               unreadable: tuple[str, ...] = ()) -> ProbeResult:
    files = {**_debian_pam(common_password=password), "/etc/security/pwhistory.conf": conf}
    return interpret("pwhistory", frame_files(files, unreadable))


def test_pwhistory_none_default_conf_and_arguments() -> None:
    assert _pwhistory("password required pam_unix.so\n").data["mechanism"] == "none"
    module = "password required pam_pwhistory.so use_authtok\npassword required pam_unix.so\n"
    assert _pwhistory(module).data["remember"] == 10
    assert _pwhistory(module, "remember=4 # 四个\n").data["remember"] == 4
    assert _pwhistory(module.replace("use_authtok", "remember=7"), "remember = 4\n").data[
        "remember"] == 7


def test_pwhistory_pam_unix_remember_and_weak_control() -> None:
    data = _pwhistory("password optional pam_pwhistory.so remember=24\n"
                      "password required pam_unix.so remember=5\n").data
    assert (data["mechanism"], data["remember"]) == ("pam_unix", 5)


def test_pwhistory_unreadable_conf_is_an_error_only_when_the_module_is_used() -> None:
    module = "password required pam_pwhistory.so\n"
    assert _pwhistory(module, "", ("/etc/security/pwhistory.conf",)).status == "error"
    assert _pwhistory("password required pam_unix.so\n", "",
                      ("/etc/security/pwhistory.conf",)).status == "ok"


# ------------------------------------------------------------------------ shell_umask


def _umask(files: dict[str, str | None], unreadable: tuple[str, ...] = ()) -> ProbeResult:
    return interpret("shell_umask", frame_files(files, unreadable))


def test_umask_default_order_and_grants() -> None:
    assert _umask({"/etc/profile": "PATH=/bin\n"}).data["umask"] == "0022"
    data = _umask({"/etc/profile": "umask 077\n" + _LOOP,
                   "/etc/profile.d/a.sh": "umask 0027 # 等保\n"}).data
    assert (data["umask"], data["grants"]) == ("0027", "0750")
    assert _umask({"/etc/profile": _LOOP + "umask 022\n",
                   "/etc/profile.d/a.sh": "umask 027\n"}).data["umask"] == "0022"


def test_umask_from_login_defs_through_pam_umask_per_stack() -> None:
    files: dict[str, str | None] = {
        "/etc/profile": "", "/etc/login.defs": "UMASK\t\t027\n",
        "/etc/pam.d/login": "session optional pam_umask.so\n",
        "/etc/pam.d/sshd": "session required pam_unix.so\n"}
    assert _umask(files).data["possible"] == ["0022", "0027"]
    assert _umask(files).data["umask"] == "0022"
    files["/etc/pam.d/sshd"] = "session optional pam_umask.so\n"
    assert _umask(files).data["umask"] == "0027"


def test_umask_branches_shells_symbolic_and_unreadable() -> None:
    data = _umask({"/etc/profile": "if [ $UID -gt 199 ]; then\n  umask 002\nelse\n  umask 022\n"
                   "fi\n"}).data
    assert (data["umask"], data["grants"], data["conditional"]) == ("0002", "0775", True)
    bash_only = _umask({"/etc/profile": 'if [ -n "$BASH_VERSION" ]; then umask 027; fi\n'}).data
    assert bash_only["possible"] == ["0022", "0027"]
    assert _umask({"/etc/profile": "umask u=rwx,g=rx,o=\n"}).data["umask"] == "0027"
    assert _umask({"/etc/profile": "umask 027\r\n"}).data["umask"] == "0022"
    assert _umask({"/etc/profile": "umask $M\n"}).status == "error"
    assert _umask({"/etc/profile": ""}, ("/etc/profile",)).status == "error"
