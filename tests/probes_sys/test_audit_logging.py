"""Parsers of the syslog_forwarding, log_retention and auditd probes."""

from __future__ import annotations

import pytest

from scanner.probes.logging import UNLIMITED_DAYS, logrotate_retention, rsyslog_targets
from tests.conftest import TEST_TOKEN, interpret
from tests.probes_sys._helpers import captured, file_frame, sec

RUNNING_RSYSLOG = sec("processes", "rsyslogd\n") + sec("journal-upload", "")

# ---------------------------------------------------------------- syslog_forwarding


def test_omfwd_capture_with_gbk_comment_and_block_comment() -> None:
    raw_bytes = captured("fwd-omfwd")
    assert "集中日志".encode("gbk") in raw_bytes  # the capture really holds GBK bytes
    result = interpret("syslog_forwarding", raw_bytes)
    assert result.status == "ok"
    assert [(t["target"], t["port"], t["protocol"], t["remote"], t["daemon_running"])
            for t in result.data["targets"]] == [("10.20.0.5", 6514, "tcp", True, True)]


def test_commented_forwarding_capture_has_no_target() -> None:
    result = interpret("syslog_forwarding", captured("fwd-commented"))
    assert result.status == "ok"
    assert result.data["targets"] == []
    assert result.data["daemons_present"] == ["rsyslog"]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("*.* @@(o)logs.example.cn:10514", ("logs.example.cn", 10514, "tcp")),
        ("*.*\t@192.0.2.7", ("192.0.2.7", None, "udp")),
        ("auth,authpriv.* @@[2001:db8::5]:514", ("2001:db8::5", 514, "tcp")),
        ("*.* :omrelp:relp.example.cn:2514", ("relp.example.cn", 2514, "relp")),
        ("*.* @@loghost:514;RSYSLOG_SyslogProtocol23Format", ("loghost", 514, "tcp")),
        ('action(type="omfwd" Target="10.0.0.1" Protocol="TCP")', ("10.0.0.1", None, "tcp")),
        ('*.* action(type="omrelp" target="10.0.0.2" port="2514")', ("10.0.0.2", 2514, "relp")),
    ],
)
def test_rsyslog_action_forms(line: str, expected: tuple[str, int | None, str]) -> None:
    targets = rsyslog_targets("/etc/rsyslog.d/x.conf", line + "\n")
    assert [(t.target, t.port, t.protocol) for t in targets] == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "#*.* @@loghost:514\n",
        "   # *.* @loghost\n",
        "/* *.* @@loghost:514 */\n",
        '# action(type="omfwd" target="10.0.0.1")\n',
        '*.* /var/log/all.log\n',
        'action(type="omfile" file="/var/log/x")\n',
        'action(type="omfwd" target="" port="514")\n',
    ],
)
def test_rsyslog_non_forwarding_lines(text: str) -> None:
    assert rsyslog_targets("/etc/rsyslog.conf", text) == []


def test_syslog_ng_destination_counts_only_when_a_log_path_uses_it() -> None:
    conf = ('destination d_net { network("10.1.1.1" transport("tcp") port(601)); };\n'
            'destination d_spare { udp("10.1.1.2" port(514)); };\n'
            '# destination d_old { tcp("10.9.9.9"); };\n'
            'log { source(s_src); destination(d_net); };\n')
    payload = (sec("processes", "syslog-ng\n") + sec("journal-upload", "")
               + file_frame("/etc/syslog-ng/syslog-ng.conf", conf))
    result = interpret("syslog_forwarding", payload)
    assert [(t["target"], t["port"], t["protocol"]) for t in result.data["targets"]] == [
        ("10.1.1.1", 601, "tcp")]


def test_journal_upload_url_and_running_state() -> None:
    conf = "[Upload]\n# URL=http://old:19532\nURL=https://logs.example.cn:19532\n"
    payload = (sec("processes", "systemd-journal\n")
               + sec("journal-upload", "/proc/812/cmdline\n")
               + file_frame("/etc/systemd/journal-upload.conf", conf))
    result = interpret("syslog_forwarding", payload)
    assert result.data["targets"][0]["target"] == "logs.example.cn"
    assert result.data["targets"][0]["daemon_running"] is True


def test_unreadable_config_without_a_proven_target_is_an_error() -> None:
    payload = RUNNING_RSYSLOG + f"{TEST_TOKEN} U /etc/rsyslog.d/secret.conf\n".encode()
    result = interpret("syslog_forwarding", payload)
    assert result.status == "error"
    assert "/etc/rsyslog.d/secret.conf" in (result.error or "")


@pytest.mark.parametrize("payload", [b"", b"\xff\xfe\xfd\n@@loghost"])
def test_forwarding_garbage_is_an_error(payload: bytes) -> None:
    assert interpret("syslog_forwarding", payload).status == "error"


# ---------------------------------------------------------------- log_retention


def test_site_drop_in_capture_wins_over_stock_stanza() -> None:
    result = interpret("log_retention", captured("lr-pass"))
    assert result.status == "ok"
    assert result.data["files"]["/var/log/syslog"] == 210  # rotate 30 weekly
    assert result.data["syslog_days"] == 210
    assert "00-cii-retention" in result.data["rules"]["/var/log/syslog"]


def test_journald_only_capture_leaves_syslog_days_unobservable() -> None:
    result = interpret("log_retention", captured("journald-only"))
    assert result.status == "ok"
    assert "syslog_days" not in result.data
    assert "journal" in result.data["unobservable"]["syslog_days"]
    assert result.data["auditd"] == {"num_logs": 5, "max_log_file_mb": 8,
                                     "max_log_file_action": "rotate"}


MAIN = "weekly\nrotate 4\ncreate\ninclude /etc/logrotate.d\n"


@pytest.mark.parametrize(
    ("stanza", "days"),
    [
        ("/var/log/syslog {\n  daily\n  rotate 200\n}\n", 200),
        ("/var/log/syslog {\n  rotate 52\n  maxage 30\n}\n", 30),
        ("/var/log/syslog {\n  monthly\n  rotate 6\n}\n", 180),
        ("/var/log/syslog {\n  rotate -1\n}\n", 36500),
        ("/var/log/syslog\n{\n\tmissingok\n}\n", 28),  # global weekly × 4
        ("/var/log/*log {\n  rotate 8\n}\n", 56),  # a glob stanza
        ('"/var/log/syslog" {\n  yearly\n  rotate 1\n}\n', 365),
        ("/var/log/syslog { rotate 9 }\n", 63),  # braces on one line
        ("/var/log/syslog {\n  postrotate\n    rotate 999\n  endscript\n}\n", 28),
    ],
)
def test_logrotate_days(stanza: str, days: float) -> None:
    found = logrotate_retention({"/etc/logrotate.conf": MAIN, "/etc/logrotate.d/x": stanza},
                                ["/var/log/syslog"])
    assert found["/var/log/syslog"][0] == days


def test_size_only_rotation_has_no_day_count() -> None:
    found = logrotate_retention({"/etc/logrotate.conf": MAIN,
                                 "/etc/logrotate.d/x": "/var/log/syslog {\n size 100M\n}\n"},
                                ["/var/log/syslog"])
    assert found["/var/log/syslog"][0] is None


def test_first_stanza_naming_a_file_wins_and_backups_are_ignored() -> None:
    files = {"/etc/logrotate.conf": MAIN,
             "/etc/logrotate.d/a-site": "/var/log/syslog {\n rotate 30\n}\n",
             "/etc/logrotate.d/rsyslog": "/var/log/syslog {\n rotate 2\n}\n",
             "/etc/logrotate.d/0.dpkg-old": "/var/log/syslog {\n rotate 1\n}\n"}
    assert logrotate_retention(files, ["/var/log/syslog"])["/var/log/syslog"][0] == 210


def test_retention_probe_names_unrotated_and_unreadable_files() -> None:
    logs = sec("logs", "/var/log/messages\n")
    bare = interpret("log_retention", logs + file_frame("/etc/logrotate.conf", MAIN))
    assert "never rotated" in bare.data["unobservable"]["syslog_days"]
    locked = interpret("log_retention",
                       logs + f"{TEST_TOKEN} U /etc/logrotate.d/rsyslog\n".encode())
    assert locked.status == "error"


def test_unrotated_log_with_a_running_syslog_daemon_is_kept_without_limit() -> None:
    """logrotate never deletes a file no stanza names; with rsyslogd writing it, nothing
    bounds its retention."""
    logs = sec("logs", "/var/log/messages\n") + sec("processes", "cii:read 3\nrsyslogd\ncron\n")
    kept = interpret("log_retention", logs + file_frame("/etc/logrotate.conf", MAIN))
    assert kept.data["syslog_days"] == UNLIMITED_DAYS
    assert "never deletes" in kept.data["rules"]["/var/log/messages"]


@pytest.mark.parametrize("existing", ["", "/var/log/syslog\n"])
def test_without_a_syslog_daemon_retention_is_zero_days_and_says_why(existing: str) -> None:
    """Events then reach only the journal (stale classic files are no longer written)."""
    logs = sec("logs", existing) + sec("processes", "cii:read 2\ncron\nsshd\n")
    result = interpret("log_retention", logs + file_frame("/etc/logrotate.conf", MAIN))
    assert result.data["syslog_days"] == 0
    assert "no syslog daemon" in result.data["why"]["syslog_days"]


def test_unreadable_process_list_leaves_retention_unobservable() -> None:
    logs = sec("logs", "") + sec("processes", "")
    result = interpret("log_retention", logs + file_frame("/etc/logrotate.conf", MAIN))
    assert "syslog_days" in result.data["unobservable"]


@pytest.mark.parametrize("payload", [b"", b"\xff garbage"])
def test_retention_garbage_is_an_error(payload: bytes) -> None:
    assert interpret("log_retention", payload).status == "error"


# ---------------------------------------------------------------- auditd


def test_auditd_rules_capture() -> None:
    result = interpret("auditd", captured("auditd-rules"))
    assert result.status == "ok"
    assert result.data["running"] is True and result.data["enabled"] == 1
    assert "-w /etc/passwd -p wa -k identity" in result.data["rules"]
    assert len(result.data["rules"]) == 9


def test_auditd_non_root_capture_marks_root_only_parts() -> None:
    result = interpret("auditd", captured("auditd-nonroot"))
    assert result.status == "ok"
    assert result.data["installed"] is True
    assert "rules" not in result.data and "enabled" not in result.data
    assert "needs root" in result.data["unobservable"]["enabled"]


def test_auditctl_refused_in_a_container() -> None:
    payload = (sec("uid", "0") + sec("processes", "auditd\n")
               + sec("installed", "/usr/sbin/auditd\n/usr/sbin/auditctl\n")
               + sec("status", "Error sending status request (Operation not permitted)", 1)
               + sec("rules", "No rules\n"))
    result = interpret("auditd", payload)
    assert "Operation not permitted" in result.data["unobservable"]["enabled"]
    assert result.data["rules"] == []


@pytest.mark.parametrize("payload", [b"", b"\xfe\xff", sec("uid", "0")])
def test_auditd_garbage_is_an_error(payload: bytes) -> None:
    assert interpret("auditd", payload).status == "error"


def test_globals_after_include_do_not_reach_included_stanzas() -> None:
    files = {"/etc/logrotate.conf": "weekly\nrotate 4\ninclude /etc/logrotate.d\nrotate 99\n"
                                    "/var/log/wtmp {\n monthly\n}\n",
             "/etc/logrotate.d/rsyslog": "/var/log/syslog {\n missingok\n}\n"}
    found = logrotate_retention(files, ["/var/log/syslog", "/var/log/wtmp"])
    assert found["/var/log/syslog"][0] == 28
    assert found["/var/log/wtmp"][0] == 99 * 30


def test_main_file_without_include_ignores_drop_ins() -> None:
    files = {"/etc/logrotate.conf": "weekly\nrotate 4\n",
             "/etc/logrotate.d/rsyslog": "/var/log/syslog {\n rotate 52\n}\n"}
    assert logrotate_retention(files, ["/var/log/syslog"]) == {}
