"""The commands that reach hosts or evidence: scan, collect, evaluate, collector-script."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from scanner.cli.files import read_evidence
from scanner.cli.lazy import lazy
from scanner.cli.options import (
    EXIT_CODES_HELP,
    PATH,
    baseline_options,
    connection_options,
    progress,
    quiet,
    quiet_option,
    report_options,
)
from scanner.cli.outcome import (
    check_decision_rules,
    finish,
    invocation,
)
from scanner.errors import EXIT_INCOMPLETE, OutputError
from scanner.output import ensure_writable_dir, write_atomic
from scanner.transport import Transport, TransportError

if TYPE_CHECKING:
    from scanner import baseline as baseline_module
    from scanner import collect, findings, fleet, kept_facts
    from scanner import facts as facts_module
    from scanner import inventory as inventory_module
    from scanner import scan as scan_module
    from scanner.baseline import Baseline
    from scanner.facts import HostIdentity
    from scanner.transport import local as local_transport
    from scanner.transport.ssh import SshSettings
else:
    baseline_module = lazy("scanner.baseline")
    collect = lazy("scanner.collect")
    findings = lazy("scanner.findings")
    fleet = lazy("scanner.fleet")
    facts_module = lazy("scanner.facts")
    inventory_module = lazy("scanner.inventory")
    kept_facts = lazy("scanner.kept_facts")
    scan_module = lazy("scanner.scan")
    local_transport = lazy("scanner.transport.local")


@click.command(epilog=EXIT_CODES_HELP)
@click.argument("targets", nargs=-1, metavar="[TARGET...]")
@click.option("-i", "--inventory", type=PATH,
              help="YAML or Ansible INI inventory of hosts to scan.")
@click.option("--limit", metavar="PATTERN",
              help="Only hosts whose name, address or group matches (fnmatch; comma-separated; "
                   "!PATTERN excludes).")
@click.option("-j", "--concurrency", type=click.IntRange(1, 512), default=10, show_default=True,
              help="Hosts scanned at the same time.")
@click.option("--resume", is_flag=True,
              help="Skip hosts already in OUTDIR/journal.jsonl from an interrupted run.")
@click.option("--local", "local", is_flag=True, help="Scan this machine (the default with no "
              "targets).")
@click.option("--keep-facts", is_flag=True,
              help="Also write each host's facts (the evidence) to OUTDIR/facts/, for "
                   "cii-scan bundle or a later evaluate.")
@connection_options
@baseline_options
@report_options
def scan(targets: tuple[str, ...], inventory: Path | None, limit: str | None, concurrency: int,
         resume: bool, local: bool, keep_facts: bool, user: str | None, port: int | None,
         identities: tuple[Path, ...], known_hosts: Path | None, accept_new_hostkeys: bool,
         sudo: bool, jump: str | None, timeout_s: float, baseline_ref: str,
         profile: str | None, outdir: Path, formats: tuple[str, ...], lang: str,
         fail_on: str | None, fail_on_incomplete: bool) -> None:
    """Scan hosts and write OUTDIR/findings.json (and any -f reports).

    TARGET is [user@]host[:port] (IPv6 in brackets). With no TARGET and no
    --inventory this machine is scanned through the local transport. Hosts are
    journaled to OUTDIR/journal.jsonl as they finish; --resume continues a run
    that was interrupted.
    """
    baseline = baseline_module.load_baseline(baseline_ref, profile)
    check_decision_rules(baseline)
    if local and (targets or inventory):
        raise click.UsageError("--local scans this machine; do not combine it with targets "
                               "or --inventory")
    if not targets and inventory is None:
        ensure_writable_dir(outdir)
        started = collect.utc_now()
        host = facts_module.HostIdentity(name="local", address="localhost", transport="local")
        report, facts = scan_module.assess(local_transport.LocalTransport(timeout_s), host,
                                           baseline)
        if keep_facts:
            _clear_kept_facts(outdir)
            if facts is not None:
                kept_facts.keep(outdir, "local", facts)
        document = findings.build_document(
            baseline=baseline, hosts=[report], started_at=started,
            finished_at=collect.utc_now(), invocation=invocation("scan", fail_on),
        )
        finish(document, outdir, formats, lang, fail_on, fail_on_incomplete)
    chosen = inventory_module.targets_from_cli(targets)
    if inventory is not None:
        chosen += inventory_module.load_inventory(inventory)
    chosen = inventory_module.apply_limit(chosen, limit)
    chosen = inventory_module.with_defaults(chosen, user, port, jump, sudo)
    settings = _ssh_settings(baseline, identities, known_hosts, accept_new_hostkeys, timeout_s)
    ensure_writable_dir(outdir)
    started = collect.utc_now()
    keeper = None
    if keep_facts:
        if not resume:  # a resumed run keeps the facts of the hosts it takes from the journal
            _clear_kept_facts(outdir)
        keeper = _FactsKeeper(outdir)
    outcome = fleet.scan_fleet(chosen, baseline, _ssh_factory(settings), outdir=outdir,
                               concurrency=concurrency, timeout_s=timeout_s, resume=resume,
                               progress=not quiet(), keep_facts=keeper)
    if keeper is not None and keeper.lost:
        click.echo(f"cii-scan: the facts of {len(keeper.lost)} host(s) could not be kept; "
                   f"first: {keeper.lost[0]}", err=True)
    if outcome.resumed:
        progress(f"{outcome.resumed} host(s) taken from {fleet.journal_path(outdir)}")
    if outcome.interrupted:
        progress("interrupted: findings list every planned host, those that did not "
                  "finish as interrupted or not_started; run again with --resume to "
                  "scan them")
    # lazy: each host's report is read back from the journal as it is written out
    document = findings.build_document(
        baseline=baseline, hosts=outcome.reports, started_at=started,
        finished_at=collect.utc_now(), invocation=invocation("scan", fail_on),
        complete=not outcome.interrupted, lazy=True,
    )
    # a stopped run did not cover its scope: never exit 0, whatever --no-fail-on-incomplete
    finish(document, outdir, formats, lang, fail_on,
            fail_on_incomplete or outcome.interrupted)


def _clear_kept_facts(outdir: Path) -> None:
    """No facts of an earlier run stay beside this run's findings."""
    for path in kept_facts.kept_files(outdir):
        path.unlink(missing_ok=True)


class _FactsKeeper:
    """Keeps each host's facts as its collection ends (called from the fleet's workers);
    a file that cannot be written costs that file, never the host's verdicts."""

    def __init__(self, outdir: Path) -> None:
        self.outdir = outdir
        self.lost: list[str] = []

    def __call__(self, key: str, facts: facts_module.Facts) -> None:
        try:
            kept_facts.keep(self.outdir, key, facts)
        except OutputError as exc:
            self.lost.append(str(exc))  # list.append is atomic under the GIL


@click.command("collect")
@click.argument("target", required=False)
@connection_options
@baseline_options
@click.option("-o", "--output", type=PATH, required=True,
              help="Facts file to write (JSON).")
@quiet_option
def collect_command(target: str | None, user: str | None, port: int | None,
                    identities: tuple[Path, ...], known_hosts: Path | None,
                    accept_new_hostkeys: bool, sudo: bool, jump: str | None, timeout_s: float,
                    baseline_ref: str, profile: str | None, output: Path) -> None:
    """Collect a host's facts (evidence) for later offline `evaluate`.

    TARGET is [user@]host[:port] reached over SSH; without it (or with "local")
    this machine is collected. The probes collected are those the baseline's
    enabled rules need. Exit 3 if the host could not be reached.
    """
    baseline = baseline_module.load_baseline(baseline_ref, profile)
    if target in (None, "local", "localhost"):
        host = facts_module.HostIdentity(name="local", address="localhost", transport="local")
        facts = collect.collect(local_transport.LocalTransport(timeout_s), host,
                                baseline.probe_calls())
        os_data = facts.os
        if os_data and os_data.get("hostname"):
            facts = facts_module.Facts(
                facts_module.HostIdentity(str(os_data["hostname"]), "localhost"), facts.results,
                facts.collected_at, facts.duration_s)
    else:
        chosen = inventory_module.with_defaults(
            [inventory_module.parse_target(target, f"target {target!r}")], user, port, jump,
            sudo)[0]
        settings = _ssh_settings(baseline, identities, known_hosts, accept_new_hostkeys,
                                 timeout_s)
        transport, identity = _ssh_factory(settings)(chosen)
        try:
            facts = collect.collect(transport, identity, baseline.probe_calls())
        except TransportError as exc:
            click.echo(f"cii-scan: {identity.name}: {exc.status}: {exc.reason}", err=True)
            sys.exit(EXIT_INCOMPLETE)
    write_atomic(output, findings.dumps(facts.to_json()))
    progress(f"{facts.host.name}: {len(facts.results)} probes collected -> {output}")


def _ssh_settings(baseline: Baseline, identities: Sequence[Path], known_hosts: Path | None,
                  accept_new: bool, timeout_s: float) -> SshSettings:
    """Settings shared by every host; output is bounded by what the collector can print."""
    from scanner.transport.ssh import make_settings

    cap = collect.output_bound(baseline.probe_calls())
    return make_settings(known_hosts=known_hosts, accept_new=accept_new,
                         identity_files=list(identities), timeout_s=timeout_s,
                         max_output_bytes=cap)


def _ssh_factory(settings: SshSettings) -> fleet.TransportFactory:
    from scanner.transport.ssh import SshTransport

    def factory(target: inventory_module.Target) -> tuple[Transport, HostIdentity]:
        transport = SshTransport(target, settings)
        endpoint = transport.endpoint
        return transport, target.identity(port=endpoint.port, address=endpoint.address)

    return factory


@click.command("evaluate", epilog=EXIT_CODES_HELP)
@click.argument("evidence", nargs=-1, required=True,
                type=PATH)
@baseline_options
@report_options
def evaluate_command(evidence: tuple[Path, ...], baseline_ref: str, profile: str | None,
                     outdir: Path, formats: tuple[str, ...], lang: str, fail_on: str | None,
                     fail_on_incomplete: bool) -> None:
    """Evaluate stored evidence offline: facts JSON from `collect`, or the raw output
    of `collector-script` run by hand on a host."""
    baseline = baseline_module.load_baseline(baseline_ref, profile)
    check_decision_rules(baseline)
    ensure_writable_dir(outdir)
    started = collect.utc_now()
    reports = [scan_module.report_from_facts(baseline, read_evidence(path)) for path in evidence]
    document = findings.build_document(
        baseline=baseline, hosts=reports, started_at=started, finished_at=collect.utc_now(),
        invocation=invocation("evaluate", fail_on),
    )
    finish(document, outdir, formats, lang, fail_on, fail_on_incomplete)


@click.command("collector-script")
@baseline_options
def collector_script(baseline_ref: str, profile: str | None) -> None:
    """Print the collector script for hosts without network access.

    \b
    On the host:   sh collector.sh > collector-output.txt
    Back here:     cii-scan evaluate collector-output.txt -b BASELINE
    """
    baseline = baseline_module.load_baseline(baseline_ref, profile)
    click.echo(collect.build_script(baseline.probe_calls(), collect.new_token()), nl=False)


COMMANDS = (scan, collect_command, evaluate_command, collector_script)
