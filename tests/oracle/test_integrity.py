"""File integrity: aide itself decides whether it has a database, run-parts and systemctl
whether a check is scheduled.

Each state installs the real aide (Debian's package, ``dpkg -i`` into overlaid /usr /var
/etc, unless the machine has it) with a configuration limited to one small directory, so
``aide --init`` takes a second. The consumers, asked in the same state:

* ``aide --check -c CONF``: an exit status below 14 means aide found and read the
  database its configuration names (14 and up: write, argument, configuration or I/O
  errors, such as a missing database; aide(1));
* the database's age in whole days, from the host's clock and the file's mtime, against
  ``aide_db_max_age_days``;
* ``systemctl --root=/ is-enabled dailyaidecheck.timer`` (Debian's units, from
  aide-common), ``run-parts --test /etc/cron.daily`` (Debian's /etc/cron.daily/aide, or a
  script under a name run-parts skips) with a cron daemon on PATH (cron's own binary,
  unpacked from its package, never started), and cron's /etc/cron.d.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests._scanner import skip_or_fail
from tests.oracle._oracle import Answer, Ask, Case, Consumer, State, case_id, check_case

RULE = "integrity.aide-database-current"
DEBS_ENV = "CII_ORACLE_AIDE_DEBS"
DATA = "/var/cii-aide/data"
DEBIAN_CONF = "/etc/aide/aide.conf"
RHEL_CONF = "/etc/aide.conf"
DB = "/var/lib/aide/aide.db"


@pytest.fixture(scope="module")
def debs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """aide, aide-common and cron as Debian ships them (``apt-get download``)."""
    where = tmp_path_factory.mktemp("debs")
    done = subprocess.run(["apt-get", "download", "-q", "aide", "aide-common", "cron"],
                          cwd=where, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0 or len(list(where.glob("*.deb"))) != 3:
        skip_or_fail(f"apt-get download aide aide-common cron failed: {done.stderr[-300:]}")
    where.chmod(0o755)
    return where


@pytest.fixture(autouse=True)
def _debs_in_env(debs: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(DEBS_ENV, str(debs))
    yield


def _config(database_in: str = f"file:{DB}", extra: str = "") -> str:
    return ("@@define DBDIR /var/lib/aide\n"
            f"database_in={database_in}\n"
            "database_out=file:@@{DBDIR}/aide.db.new\n"
            f"{extra}{DATA} R\n")


COMMON = [
    # aide-common's files, for its units and cron script (not installed: its postinst
    # would start aideinit in the background)
    f'mkdir -p /var/cii-aide/common && dpkg-deb -x "${DEBS_ENV}"/aide-common_*.deb '
    "/var/cii-aide/common",
    # no cron daemon unless a state unpacks one
    "rm -f /usr/sbin/cron /usr/sbin/crond /usr/sbin/anacron",
]
INSTALL = [
    # the real aide: the machine's, or Debian's package installed here
    f'command -v aide >/dev/null 2>&1 || dpkg -i "${DEBS_ENV}"/aide_*.deb >/dev/null',
    f"mkdir -p {DATA} /var/lib/aide && echo important > {DATA}/ledger",
    *COMMON,
]
TIMER = [
    "cp /var/cii-aide/common/lib/systemd/system/dailyaidecheck.timer "
    "/var/cii-aide/common/lib/systemd/system/dailyaidecheck.service /lib/systemd/system/",
    "cp -r /var/cii-aide/common/usr/share/aide /usr/share/",
]
TIMER_ENABLED = [*TIMER, "systemctl --root=/ enable dailyaidecheck.timer >/dev/null 2>&1"]
CRON = [f'mkdir -p /var/cii-aide/cron && dpkg-deb -x "${DEBS_ENV}"/cron_*.deb /var/cii-aide/cron',
        "cp /var/cii-aide/cron/usr/sbin/cron /usr/sbin/cron",
        "cp -r /var/cii-aide/common/usr/share/aide /usr/share/"]


def _init(conf: str = DEBIAN_CONF, age: str | None = None) -> list[str]:
    steps = [f"aide -c {conf} --init >/dev/null 2>&1; test -s {DB}.new",
             f"mv {DB}.new {DB}"]
    return steps + ([f"touch -d {age!r} {DB}"] if age else [])


def _cron_daily(name: str, mode: str = "0755") -> list[str]:
    return [*CRON, f"cp /var/cii-aide/common/usr/share/aide/config/cron.daily/aide "
            f"/etc/cron.daily/{name}", f"chmod {mode} /etc/cron.daily/{name}"]


def _state(setup: Sequence[str], files: Mapping[str, str | None] | None = None,
           install: bool = True) -> State:
    return State(files=dict(files or {}), setup=[*(INSTALL if install else []), *setup],
                 overlays=["/usr", "/var", "/etc"])


def _consumer(conf: str = DEBIAN_CONF, cron_d: str | None = None) -> Consumer:
    asks = [
        Ask(["aide", "--check", "-c", conf], timeout=120),
        Ask(["sh", "-c", f"[ -e {DB} ] && echo $(( ($(date +%s) - $(stat -L -c %Y {DB})) "
             "/ 86400 ))"]),
        Ask(["systemctl", "--root=/", "is-enabled", "dailyaidecheck.timer"]),
        Ask(["run-parts", "--test", "/etc/cron.daily"]),
        Ask(["sh", "-c", "command -v cron || command -v crond || command -v anacron"]),
        Ask(["cat", cron_d or "/dev/null"]),
        # Debian's /etc/cron.daily/aide exits at once when systemd runs (its first test)
        Ask(["test", "-d", "/run/systemd/system"]),
    ]

    def decide(answers: Sequence[Answer], parameters: Mapping[str, Any]) -> bool:
        check, age, timer, daily, cron, crontab, systemd = answers
        reads_database = check.returncode < 14
        fresh = age.ok and int(age.stdout) <= int(parameters["aide_db_max_age_days"])
        scheduled = timer.stdout.strip() == "enabled" or (cron.ok and (
            ("/etc/cron.daily/aide\n" in daily.stdout + "\n" and not systemd.ok)
            or "aide --check" in crontab.stdout))
        return reads_database and fresh and scheduled

    return Consumer("aide --check; run-parts --test; systemctl is-enabled", asks, decide)


_TWO_DATABASES = {
    # aide 0.18 keeps the first database_in and ignores later ones (it says so)
    DEBIAN_CONF: _config(extra="@@include /etc/aide/aide.conf.d ^[a-z]+$\n"),
    "/etc/aide/aide.conf.d/later": "database_in=file:/var/lib/aide/other.db\n",
}
_FIRST_MISSING = {
    DEBIAN_CONF: _config("file:/var/lib/aide/other.db",
                         "@@include /etc/aide/aide.conf.d ^[a-z]+$\n"),
    "/etc/aide/aide.conf.d/later": f"database_in=file:{DB}\n",
}
RHEL_CRON_D = "/etc/cron.d/aide"

CASES = [
    Case(RULE, "timer-enabled-fresh-database", _state([*TIMER_ENABLED, *_init()],
         {DEBIAN_CONF: _config()}), _consumer(), "pass"),
    Case(RULE, "never-initialised", _state(TIMER_ENABLED, {DEBIAN_CONF: _config()}),
         _consumer(), "fail"),
    Case(RULE, "database-older-than-the-limit",
         _state([*TIMER_ENABLED, *_init(age="40 days ago")], {DEBIAN_CONF: _config()}),
         _consumer(), "fail"),
    Case(RULE, "database-within-the-limit",
         _state([*TIMER_ENABLED, *_init(age="29 days ago")], {DEBIAN_CONF: _config()}),
         _consumer(), "pass"),
    Case(RULE, "timer-installed-not-enabled", _state([*TIMER, *_init()],
         {DEBIAN_CONF: _config()}), _consumer(), "fail"),
    Case(RULE, "cron-daily-script", _state([*_cron_daily("aide"), *_init()],
         {DEBIAN_CONF: _config()}), _consumer(), "pass"),
    Case(RULE, "cron-daily-script-without-cron", _state([
        "cp /var/cii-aide/common/usr/share/aide/config/cron.daily/aide /etc/cron.daily/aide",
        "chmod 0755 /etc/cron.daily/aide", *_init()], {DEBIAN_CONF: _config()}),
         _consumer(), "fail"),
    Case(RULE, "cron-daily-dpkg-old-skipped", _state([*_cron_daily("aide.dpkg-old"), *_init()],
         {DEBIAN_CONF: _config()}), _consumer(), "fail"),
    Case(RULE, "cron-daily-not-executable", _state([*_cron_daily("aide", "0644"), *_init()],
         {DEBIAN_CONF: _config()}), _consumer(), "fail"),
    Case(RULE, "first-database-in-wins", _state([*TIMER_ENABLED, *_init()], _TWO_DATABASES),
         _consumer(), "pass"),
    Case(RULE, "first-database-in-missing", _state([*TIMER_ENABLED, *_init()], _FIRST_MISSING),
         _consumer(), "fail"),
    # aide refuses the configuration its check reads: the scanner cannot tell which
    # database a check would use, so it says error with aide's reason
    Case(RULE, "config-refused", _state([*TIMER_ENABLED, *_init(),
                                         f"echo no_such_option=yes >> {DEBIAN_CONF}"],
         {DEBIAN_CONF: _config()}), _consumer(), "fail", noncompliant_verdict="error"),
    Case(RULE, "rhel-layout-cron-d", _state(
        [*CRON, *_init(RHEL_CONF)],
        {RHEL_CONF: _config(), DEBIAN_CONF: None,
         RHEL_CRON_D: f"# as operators schedule it on RHEL\n0 5 * * * root /usr/bin/aide "
                      f"--check -c {RHEL_CONF}\n"}),
         _consumer(RHEL_CONF, RHEL_CRON_D), "pass"),
    Case(RULE, "aide-absent", _state(
        ["if command -v aide >/dev/null 2>&1; then dpkg -r --force-depends aide >/dev/null; fi",
         *COMMON, *TIMER_ENABLED], install=False), _consumer(), "fail"),
]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_consumer_decides(case: Case, tmp_path: Path) -> None:
    check_case(case, tmp_path)
