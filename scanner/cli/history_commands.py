"""The ``history`` commands: import findings into the scan history store and ask it
questions. Questions read through the DB-API driver alone (scanner.history.reader);
SQLAlchemy loads only for writing, verifying, or a store to create or upgrade."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from scanner.cli.files import decode_text, read_bytes
from scanner.cli.lazy import lazy
from scanner.cli.options import LANG_CHOICE, PATH, SEVERITY_CHOICE, progress, quiet_option
from scanner.history.durations import format_time, parse_duration
from scanner.history.location import STORE_ENV, StoreLocation, parse_location

if TYPE_CHECKING:
    from scanner import findings
    from scanner import output as files_out
    from scanner.history import output, queries, reader, report, store
    from scanner.render import trend
else:
    files_out = lazy("scanner.output")
    report = lazy("scanner.history.report")
    trend = lazy("scanner.render.trend")
    findings = lazy("scanner.findings")
    output = lazy("scanner.history.output")
    queries = lazy("scanner.history.queries")
    reader = lazy("scanner.history.reader")
    store = lazy("scanner.history.store")

STORE_HELP = (f"The history store: an SQLite file (default: $XDG_DATA_HOME/cii-scan/"
              f"history.sqlite) or postgresql://host/db (credentials from libpq: ~/.pgpass, "
              f"PGPASSFILE, PGSERVICE; never in the URL). Also ${STORE_ENV}.")


def _location(_ctx: click.Context, _param: click.Parameter, value: str | None
              ) -> StoreLocation:
    return parse_location(value)


def store_option(func: Any) -> Any:
    return click.option("--store", "location", metavar="URL|PATH", envvar=STORE_ENV,
                        callback=_location, help=STORE_HELP)(func)


def format_option(func: Any) -> Any:
    return click.option("--format", "fmt", type=click.Choice(["text", "json", "csv"],
                                                             case_sensitive=False),
                        default="text", show_default=True, help="Output format.")(func)


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _show(answer: output.Answer, fmt: str) -> None:
    click.echo(output.render(answer, fmt.lower()), nl=False)


@click.group("history")
def history() -> None:
    """Remember scans and ask what changed: new, fixed, reopened, how long open, which
    hosts went quiet. The store is SQLite by default, PostgreSQL for a team.

    \b
    Examples:
      cii-scan history import cii-scan-results/findings.json
      cii-scan history open --severity high --older-than 30d
      cii-scan history diff --since 2026-11-25
      cii-scan history --help    # every question
    """


@history.command("import")
@click.argument("documents", nargs=-1, required=True, type=PATH)
@store_option
@quiet_option
def import_command(documents: tuple[Path, ...], location: StoreLocation) -> None:
    """Store findings documents (oldest first; the same document twice is one scan).
    Every file is checked before any is stored."""
    loaded = []
    for path in documents:
        content = read_bytes(path)
        loaded.append((findings.load_document(decode_text(content, path), str(path)),
                       str(path), store.findings_digest(content)))
    loaded.sort(key=lambda item: item[0]["scan"]["started_at"])
    with store.open_store(location) as opened:
        for document, source, digest in loaded:
            done = opened.import_document(document, source, digest)
            if done.created:
                progress(f"{source}: stored as scan {done.scan_id} ({done.started_at}, "
                         f"{done.results} results) in {location.display}")
            else:
                progress(f"{source}: already stored as scan {done.scan_id}")


@history.command("scans")
@store_option
@format_option
def scans_command(location: StoreLocation, fmt: str) -> None:
    """Every scan kept, with its hosts and failures."""
    with reader.open_reader(location) as connection:
        _show(queries.list_scans(connection), fmt)


@history.command("host")
@click.argument("name")
@store_option
@format_option
def host_command(name: str, location: StoreLocation, fmt: str) -> None:
    """Where each rule stands on one host: open since when, fixed when, how often back."""
    with reader.open_reader(location) as connection:
        _show(queries.host_history(connection, name, _now()), fmt)


@history.command("rule")
@click.argument("rule_id")
@store_option
@format_option
def rule_command(rule_id: str, location: StoreLocation, fmt: str) -> None:
    """The fleet's pass rate for one rule, scan by scan."""
    with reader.open_reader(location) as connection:
        _show(queries.rule_history(connection, rule_id), fmt)


@history.command("open")
@click.option("--severity", type=SEVERITY_CHOICE, help="Only this severity or higher.")
@click.option("--older-than", metavar="DURATION", help="Only failures open longer (30d, 12h).")
@store_option
@format_option
def open_command(severity: str | None, older_than: str | None, location: StoreLocation,
                 fmt: str) -> None:
    """Failures open now, oldest first, with their age in days."""
    seconds = parse_duration(older_than, "--older-than") if older_than is not None else None
    with reader.open_reader(location) as connection:
        _show(queries.open_failures(connection, _now(), severity and severity.lower(),
                                    seconds), fmt)


@history.command("mttr")
@store_option
@format_option
def mttr_command(location: StoreLocation, fmt: str) -> None:
    """Mean and 90th-percentile time to resolve a failure, by severity."""
    with reader.open_reader(location) as connection:
        _show(queries.time_to_resolve(connection), fmt)


@history.command("stale")
@click.option("--days", type=click.FloatRange(min=0), default=7, show_default=True,
              help="Hosts not assessed for this many days.")
@store_option
@format_option
def stale_command(days: float, location: StoreLocation, fmt: str) -> None:
    """Hosts that stopped being scanned (or stopped answering)."""
    with reader.open_reader(location) as connection:
        _show(queries.stale_hosts(connection, _now(), days), fmt)


@history.command("diff")
@click.option("--since", metavar="SCAN_ID|DATE",
              help="Compare with this scan or day (default: the scan before the newest).")
@store_option
@format_option
def diff_command(since: str | None, location: StoreLocation, fmt: str) -> None:
    """Failures new, reopened and resolved since a scan or a day."""
    with reader.open_reader(location) as connection:
        _show(queries.changes_since(connection, queries.since_time(connection, since)), fmt)


@history.command("report")
@click.option("-o", "--output", "output_path", type=PATH, required=True, metavar="FILE",
              help="Where to write the page (e.g. trend.html).")
@click.option("--lang", type=LANG_CHOICE, default="en", show_default=True,
              help="Language of the page.")
@store_option
@quiet_option
def report_command(output_path: Path, lang: str, location: StoreLocation) -> None:
    """One self-contained HTML page of the fleet over time: score, failures by severity,
    new / resolved / reopened per scan, open high findings by age, pass rates per
    GB/T 22239 area, the hosts that regressed. No script, no network; prints on A4."""
    with reader.open_reader(location) as connection:
        data = report.trend(connection, location.display, _now())
    files_out.write_atomic(output_path, trend.render_trend(data, lang=lang))
    progress(f"{output_path}: trend of {len(data.points)} scan(s) from {location.display}")


@history.command("prune")
@click.option("--keep", metavar="DURATION", required=True,
              help="Keep scans younger than this (400d); daily roll-ups and lifecycles stay.")
@store_option
@quiet_option
def prune_command(keep: str, location: StoreLocation) -> None:
    """Remove old scans' results; the trend (daily roll-ups) and the present stay."""
    seconds = parse_duration(keep, "--keep")
    moment = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=seconds)
    with store.open_store(location) as opened:
        pruned = opened.prune(format_time(moment))
    progress(f"pruned {pruned.scans} scan(s), {pruned.results} result(s) from "
             f"{location.display}")


@history.command("verify")
@store_option
def verify_command(location: StoreLocation) -> None:
    """Check the hash chain over the scans: exit 0 intact, 1 when a row was changed or a
    scan removed in the database."""
    with store.open_store(location) as opened:
        problems = opened.verify()
        for problem in problems:
            click.echo(f"{location.display}: {problem}", err=True)
        opened.check()
    click.echo(f"{location.display}: the chain holds")


COMMANDS = (history,)
