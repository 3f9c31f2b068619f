"""The `aide` probe parser: the database aide itself reads, its age, and the checks scheduled.

The captures (fixtures/probes/aide-debian12-*.txt, see its README) are the probe's own
snippet run on Debian 12 with aide 0.18.3 in overlaid /usr /var /etc; the other cases
change one section of a capture, so the parser sees what a host would send.
"""

from __future__ import annotations

import re
import subprocess

from tests.conftest import FIXTURES, TEST_TOKEN, interpret


def captured(name: str) -> str:
    return (FIXTURES / "probes" / f"aide-debian12-{name}.txt").read_text(encoding="utf-8")


def with_section(payload: str, name: str, body: str) -> str:
    """``payload`` with section ``name`` holding ``body`` instead (exit status 0)."""
    frame = re.compile(rf"(?s){TEST_TOKEN} F cii:{re.escape(name)}\n.*?\ncii:rc \d+\n")
    replaced, count = frame.subn(
        lambda _: f"{TEST_TOKEN} F cii:{name}\n{body}\ncii:rc 0\n", payload, count=1)
    assert count == 1, name
    return replaced


def with_file(payload: str, path: str, content: str) -> str:
    return payload + f"{TEST_TOKEN} F {path}\n{content}\n"


def test_timer_enabled_fresh_database() -> None:
    data = interpret("aide", captured("timer-fresh")).data
    assert (data["installed"], data["version"], data["config"]) == (True, "0.18.3",
                                                                   "/etc/aide/aide.conf")
    assert (data["database"], data["database_exists"], data["database_age_days"]) == (
        "/var/lib/aide/aide.db", True, 0)
    assert data["database_size"] > 0 and data["scheduled"] is True
    assert data["schedules"] == [{
        "via": "systemd-timer", "unit": "dailyaidecheck.timer",
        "service": "dailyaidecheck.service",
        "line": "/usr/share/aide/bin/dailyaidecheck --systemdservice",
        "method": "systemctl --root=/"}]


def test_old_database_and_the_cron_daily_script_run_parts_runs() -> None:
    data = interpret("aide", captured("cron-daily-old")).data
    assert data["database_age_days"] == 40
    assert "40 days ago" in data["why"]["database_age_days"]
    # aide.dpkg-old holds the same script: run-parts skips it, so only one schedule
    assert [(s["via"], s["path"]) for s in data["schedules"]] == [
        ("cron.daily", "/etc/cron.daily/aide")]
    assert data["cron_daemons"] == ["cron"]


def test_absent_aide_is_reported_not_an_error() -> None:
    result = interpret("aide", captured("absent"))
    assert result.status == "ok"
    assert (result.data["installed"], result.data["database_exists"]) == (False, False)
    assert "not installed" in result.data["why"]["installed"]


def test_a_configuration_aide_refuses_is_an_error_with_aides_reason() -> None:
    result = interpret("aide", captured("config-refused"))
    assert result.status == "error"
    assert "unknown config option: 'no_such_option'" in (result.error or "")


def _config_section(*lines: str) -> str:
    return "\n".join(["cii:conf path /etc/aide/aide.conf", *lines])


def test_the_database_aide_says_it_set_is_the_one_stated() -> None:
    body = _config_section(
        " CONFIG: /etc/aide/aide.conf:2: set 'database_in' option to "
        "'file:/srv/aide/aide.db.gz' (line: 'database_in=file:@@{DBDIR}/aide.db.gz')",
        "cii:aide-rc 0", "cii:now 1796176669", "cii:db-missing")
    data = interpret("aide", with_section(captured("timer-fresh"), "aide-config", body)).data
    assert (data["database"], data["database_exists"]) == ("/srv/aide/aide.db.gz", False)
    assert "never initialised" in data["why"]["database_exists"]


def test_a_database_that_is_not_a_file_url_does_not_exist() -> None:
    body = _config_section(" CONFIG: a:1: set 'database_in' option to 'stdin:' (line: 'x')",
                           "cii:aide-rc 0")
    data = interpret("aide", with_section(captured("timer-fresh"), "aide-config", body)).data
    assert data["database_exists"] is False and data["database_url"] == "stdin:"


def test_no_configuration_at_all() -> None:
    data = interpret("aide", with_section(captured("timer-fresh"), "aide-config",
                                          "cii:conf none ")).data
    assert data["config"] is None and data["database_exists"] is False
    assert "/etc/aide.conf" in data["why"]["database_exists"]


def test_an_unfinished_aide_run_or_stat_is_an_error() -> None:
    cut = interpret("aide", with_section(captured("timer-fresh"), "aide-config",
                                         _config_section("garbage")))
    assert cut.status == "error" and "did not finish" in (cut.error or "")
    body = _config_section(" CONFIG: a:1: set 'database_in' option to 'file:/x' (line: 'x')",
                           "cii:aide-rc 0", "stat: cannot statx '/x': Permission denied")
    unseen = interpret("aide", with_section(captured("timer-fresh"), "aide-config", body))
    assert unseen.status == "error" and "could not stat" in (unseen.error or "")
    assert interpret("aide", b"").status == "error"


RHEL9_CONF = ("@@define DBDIR /var/lib/aide\n@@define LOGDIR /var/log/aide\n"
              "database=file:@@{DBDIR}/aide.db.gz\ndatabase_out=file:@@{DBDIR}/aide.db.new.gz\n")


def _aide_016(*config: str) -> str:
    payload = with_section(captured("timer-fresh"), "aide", "/usr/sbin/aide\nAide 0.16\n")
    return with_section(payload, "aide-config", "\n".join([
        "cii:conf compiled /etc/aide.conf", "aide: invalid option -- 'L'", "cii:aide-rc 1",
        *config]))


def test_aide_016_is_checked_by_aide_and_its_database_modelled() -> None:
    data = interpret("aide", _aide_016("cii:check-rc 0", "cii:model-db file:/var/lib/aide/"
                                       "aide.db.gz", "cii:now 1796176669",
                                       "cii:db 2048 1796000000 regular file")).data
    assert (data["version"], data["config"], data["database"]) == (
        "0.16", "/etc/aide.conf", "/var/lib/aide/aide.db.gz")
    assert (data["database_exists"], data["database_age_days"]) == (True, 2)
    assert "cannot report its configuration" in data["database_source"]
    refused = interpret("aide", _aide_016("cii:check-rc 17"))
    assert refused.status == "error" and "refuses its configuration" in (refused.error or "")
    guarded = interpret("aide", _aide_016("cii:check-rc 0", "cii:model-complex @@ifhost db1"))
    assert guarded.status == "error" and "@@ifhost db1" in (guarded.error or "")


def test_the_aide_016_model_as_the_host_runs_it() -> None:
    """The snippet's awk over RHEL 9's aide.conf lines (the first database= wins)."""
    from scanner.probes.integrity import _MODEL_016

    def model(text: str) -> str:
        return subprocess.run(["awk", _MODEL_016], input=text, capture_output=True,
                              text=True, check=True).stdout

    assert model(RHEL9_CONF + "database=file:/elsewhere\n") == (
        "cii:model-db file:/var/lib/aide/aide.db.gz\n")
    assert model("@@ifhost db1\ndatabase=file:/a\n@@endif\n").startswith(
        "cii:model-complex @@ifhost db1")
    assert model("database=file:@@{UNDEFINED}/a\n").startswith("cii:model-complex ")


def _no_schedules() -> str:
    payload = with_section(captured("cron-daily-old"), "cron-daily", "cii:run-parts")
    return payload


def test_crontab_lines_count_only_with_a_cron_daemon_and_names_cron_reads() -> None:
    crontab = ("SHELL=/bin/sh\n# 0 5 * * * root aide --check\n"
               "0 5 * * * root /usr/bin/aide --check -c /etc/aide.conf\n")
    payload = with_file(_no_schedules(), "/etc/cron.d/aide", crontab)
    payload = with_file(payload, "/etc/cron.d/aide.conf", "1 1 * * * root aide --check\n")
    data = interpret("aide", payload).data
    assert [(s["via"], s["path"], s["line"]) for s in data["schedules"]] == [
        ("cron.d", "/etc/cron.d/aide", "0 5 * * * root /usr/bin/aide --check -c /etc/aide.conf")]
    cronie = interpret("aide", with_section(payload, "cron", "crond")).data
    assert sorted(s["path"] for s in cronie["schedules"]) == ["/etc/cron.d/aide",
                                                             "/etc/cron.d/aide.conf"]
    nothing = interpret("aide", with_section(payload, "cron", "")).data
    assert nothing["scheduled"] is False and "no cron daemon" in nothing["why"]["scheduled"]
    root = with_file(_no_schedules(), "/var/spool/cron/crontabs/root", "@daily aide -C\n")
    assert [s["via"] for s in interpret("aide", root).data["schedules"]] == ["root-crontab"]


def test_a_word_containing_aide_is_not_aide() -> None:
    payload = with_file(_no_schedules(), "/etc/crontab", "0 1 * * * root /usr/bin/raiders\n"
                        "0 2 * * * root echo aided\n")
    assert interpret("aide", payload).data["scheduled"] is False


def test_debians_cron_script_steps_aside_when_systemd_runs() -> None:
    payload = captured("cron-daily-old")
    assert interpret("aide", payload).data["scheduled"] is True
    under_systemd = with_section(payload, "init", "systemd\nsystemd")
    assert interpret("aide", under_systemd).data["scheduled"] is False


def test_timer_unit_and_drop_ins_decide_what_it_runs() -> None:
    payload = captured("timer-fresh")
    reset = with_file(payload, "/etc/systemd/system/dailyaidecheck.service.d/override.conf",
                      "[Service]\nExecStart=\nExecStart=/bin/true\n")
    assert interpret("aide", reset).data["scheduled"] is False
    aimed = with_file(reset, "/etc/systemd/system/dailyaidecheck.timer",
                      "[Timer]\nOnCalendar=daily\nUnit=aidecheck.service\n")
    aimed = with_file(aimed, "/etc/systemd/system/aidecheck.service",
                      "[Service]\nExecStart=/usr/sbin/aide --check\n")
    data = interpret("aide", aimed).data
    assert [(s["unit"], s["service"]) for s in data["schedules"]] == [
        ("dailyaidecheck.timer", "aidecheck.service")]


def test_an_aide_unit_file_over_the_cap_is_an_error_not_no_timer() -> None:
    """The snippet leaves a unit file over the cap out of systemctl's listing (systemctl
    would read it to its end): whether that timer is enabled is then not known."""
    cut = "/etc/systemd/system/dailyaidecheck.timer"
    text = captured("timer-fresh") + f"{TEST_TOKEN} F cii:unit-cut\ncii:cut {cut}\ncii:rc 0\n"
    result = interpret("aide", text)
    assert result.status == "error"
    assert cut in (result.error or "") and "systemctl was not asked" in (result.error or "")
    # a cut unit that is not aide's changes nothing
    other = captured("timer-fresh") + (f"{TEST_TOKEN} F cii:unit-cut\n"
                                      "cii:cut /etc/systemd/system/cii-huge.service\ncii:rc 0\n")
    assert interpret("aide", other).data["scheduled"] is True
