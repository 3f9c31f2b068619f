"""Command line: parse, call, write, map errors to exit codes. No scanning logic lives here."""

from __future__ import annotations

import datetime
import getpass
import importlib.util
import json
import os
import socket
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from scanner import __version__
from scanner.errors import EXIT_INCOMPLETE, EXIT_INPUT, EXIT_THRESHOLD, CiiScanError, InputError
from scanner.output import ensure_writable_dir, remove_stale, write_atomic
from scanner.render import OutputFormat, render, render_pieces
from scanner.render._text import printable
from scanner.transport import Transport, TransportError

if TYPE_CHECKING:
    from scanner import baseline as baseline_module
    from scanner import clauses, collect, findings, fleet, gate, terminal
    from scanner import diff as diff_module
    from scanner import facts as facts_module
    from scanner import inventory as inventory_module
    from scanner import judgements as judgements_module
    from scanner import scan as scan_module
    from scanner import waivers as waivers_module
    from scanner.baseline import Baseline
    from scanner.facts import Facts, HostIdentity
    from scanner.transport import local as local_transport
    from scanner.transport.ssh import SshSettings
else:
    # Each command imports only what it uses, when it runs: `--help` and `baselines list`
    # need neither the collector, the fleet nor the SSH layer (importing all of it took
    # most of --help's time). The modules load on first attribute access.
    def _lazy(name: str) -> Any:
        if name in sys.modules:
            return sys.modules[name]
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.loader is not None
        spec.loader = importlib.util.LazyLoader(spec.loader)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        parent, _, child = name.rpartition(".")
        setattr(sys.modules[parent], child, module)  # as an import binds it in its package
        return module

    baseline_module = _lazy("scanner.baseline")
    clauses = _lazy("scanner.clauses")
    collect = _lazy("scanner.collect")
    findings = _lazy("scanner.findings")
    fleet = _lazy("scanner.fleet")
    gate = _lazy("scanner.gate")
    diff_module = _lazy("scanner.diff")
    facts_module = _lazy("scanner.facts")
    inventory_module = _lazy("scanner.inventory")
    judgements_module = _lazy("scanner.judgements")
    scan_module = _lazy("scanner.scan")
    terminal = _lazy("scanner.terminal")
    waivers_module = _lazy("scanner.waivers")
    local_transport = _lazy("scanner.transport.local")

# scanner.baseline.DEFAULT_BASELINE (tests/test_startup.py holds the two equal): importing
# scanner.baseline for one string would cost every command the YAML and regex engines
DEFAULT_BASELINE = "cii-art9-linux"

EXIT_CODES_HELP = """\b
Exit codes:
  0  complete; nothing at or above --fail-on failed
  1  a failure at or above --fail-on
  2  bad usage or invalid input; nothing scanned
  3  incomplete: a host or probe could not be assessed (no threshold failure)
"""
# Choices are read in any case (--fail-on HIGH, -f HTML) and passed on in the listed one.
SEVERITY_CHOICE = click.Choice(["critical", "high", "medium", "low", "info"],
                               case_sensitive=False)
FORMAT_CHOICE = click.Choice([f.value for f in OutputFormat], case_sensitive=False)
LANG_CHOICE = click.Choice(["en", "zh"], case_sensitive=False)
DEFAULT_OUTDIR = Path("cii-scan-results")
WAIVERS_META = "cii_scan.waivers"
JUDGEMENTS_META = "cii_scan.judgements"
QUIET_META = "cii_scan.quiet"
# Paths are checked by the code that reads or writes them, so a problem is one line
# naming the file (click's own checks print a usage block instead).
PATH = click.Path(path_type=Path, readable=False)  # framing, markers and the PLAN line


def baseline_options(func: Any) -> Any:
    func = click.option("--profile", metavar="NAME",
                        help="Baseline profile (e.g. mlps-l3, cii).")(func)
    func = click.option("-b", "--baseline", "baseline_ref", default=DEFAULT_BASELINE,
                        show_default=True, metavar="ID|FILE",
                        help="Shipped baseline id or path to a baseline/tailoring YAML.")(func)
    return func


def _load_waivers_option(ctx: click.Context, _param: click.Parameter,
                         value: Path | None) -> None:
    """Validate --waivers before any scan (a malformed file is exit 2) and keep it for _finish."""
    if value is not None:
        ctx.meta[WAIVERS_META] = (str(value), waivers_module.load_waivers(value))


def _load_judgements_option(ctx: click.Context, _param: click.Parameter,
                            value: Path | None) -> None:
    """Validate --judgements before any scan (a malformed file is exit 2)."""
    if value is not None:
        ctx.meta[JUDGEMENTS_META] = (str(value), judgements_module.load_judgements(value))


def judgements_option(func: Any) -> Any:
    return click.option("--judgements", type=PATH, metavar="FILE", expose_value=False,
                        is_eager=True, callback=_load_judgements_option,
                        help="YAML judgements: an assessor's verdicts on manual rules, shown "
                             "as the assessor's.")(func)


def _quiet_option(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta[QUIET_META] = True


def _quiet() -> bool:
    context = click.get_current_context(silent=True)
    return bool(context is not None and context.meta.get(QUIET_META))


def quiet_option(func: Any) -> Any:
    """-q, the same on every command that writes files: nothing but errors on stderr."""
    return click.option("-q", "--quiet", is_flag=True, expose_value=False,
                        callback=_quiet_option,
                        help="Print nothing but errors: no progress, per-host notes, list of "
                             "files written or summary.")(func)


def report_options(func: Any) -> Any:
    func = quiet_option(func)
    func = judgements_option(func)
    func = click.option("--waivers", type=PATH,
                        metavar="FILE", expose_value=False, is_eager=True,
                        callback=_load_waivers_option,
                        help="YAML waivers: matching, unexpired waivers turn a failure into "
                             "'waived' (never a pass).")(func)
    func = click.option("--fail-on-incomplete/--no-fail-on-incomplete", default=True,
                        show_default=True,
                        help="Exit 3 when a host or rule could not be assessed.")(func)
    func = click.option("--fail-on", type=SEVERITY_CHOICE, metavar="SEVERITY",
                        help="Exit 1 if a rule of this severity or higher failed.")(func)
    func = click.option("--lang", type=LANG_CHOICE, default="en",
                        show_default=True, help="Language of human-readable reports.")(func)
    func = click.option("-f", "--format", "formats", type=FORMAT_CHOICE, multiple=True,
                        help="Extra output format (repeatable); findings.json is always written.")(
        func)
    func = click.option("-o", "--outdir", type=PATH,
                        default=DEFAULT_OUTDIR, show_default=True,
                        help="Directory for findings.json and reports.")(func)
    return func


@click.group(epilog=EXIT_CODES_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cii-scan")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Agentless audit scanner for critical information infrastructure (CII) hosts.

    Pulls host configuration (locally or over SSH, one round trip per host),
    checks it against a YAML baseline (Article 9(3) safeguards via GB/T
    22239-2019 level 3, GB/T 39204-2022 and CIS) and writes schema-validated
    findings plus reports.

    \b
    Examples:
      cii-scan scan                              # this machine, default baseline
      cii-scan scan --profile mlps-l3 --fail-on high
      cii-scan scan -i hosts.yaml --sudo -j 20 -f html --lang zh
      cii-scan scan admin@10.0.0.5 --jump ops@bastion --known-hosts kh
      cii-scan collector-script > collector.sh   # for a host without network
      cii-scan evaluate collector-output.txt -o results/
    """
    ctx.obj = {"debug": debug}


def connection_options(func: Any) -> Any:
    """SSH options shared by `scan` and `collect`."""
    func = click.option("--timeout", "timeout_s", type=click.FloatRange(min=1.0), default=120.0,
                        show_default=True, metavar="SECONDS",
                        help="Per-host budget for connect, authentication and collection.")(
        func)
    func = click.option("--jump", metavar="[USER@]HOST[:PORT]",
                        help="Reach hosts through this SSH jump host (its key is verified "
                             "too).")(func)
    func = click.option("--sudo", is_flag=True,
                        help="Run the collector with `sudo -n` (NOPASSWD; never prompts).")(func)
    func = click.option("--accept-new-hostkeys", is_flag=True,
                        help="Trust on first use: record unknown host keys. A changed key is "
                             "always refused.")(func)
    func = click.option("--known-hosts", type=PATH,
                        metavar="FILE", help="known_hosts file [default: ~/.ssh/known_hosts].")(
        func)
    func = click.option("--identity", "identities", type=PATH, multiple=True, metavar="FILE",
                        help="Private key (repeatable). Passphrase: ssh-agent, or the "
                             "CII_SCAN_IDENTITY_PASSPHRASE environment variable.")(func)
    func = click.option("-p", "--port", type=click.IntRange(1, 65535),
                        help="SSH port for targets that do not give one.")(func)
    func = click.option("-u", "--user", metavar="USER",
                        help="SSH user for targets that do not give one.")(func)
    return func


@cli.command(epilog=EXIT_CODES_HELP)
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
@connection_options
@baseline_options
@report_options
def scan(targets: tuple[str, ...], inventory: Path | None, limit: str | None, concurrency: int,
         resume: bool, local: bool, user: str | None, port: int | None,
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
    _check_decision_rules(baseline)
    if local and (targets or inventory):
        raise click.UsageError("--local scans this machine; do not combine it with targets "
                               "or --inventory")
    if not targets and inventory is None:
        ensure_writable_dir(outdir)
        started = collect.utc_now()
        host = facts_module.HostIdentity(name="local", address="localhost", transport="local")
        report, _ = scan_module.assess(local_transport.LocalTransport(timeout_s), host, baseline)
        document = findings.build_document(
            baseline=baseline, hosts=[report], started_at=started,
            finished_at=collect.utc_now(), invocation=_invocation("scan", fail_on),
        )
        _finish(document, outdir, formats, lang, fail_on, fail_on_incomplete)
    chosen = inventory_module.targets_from_cli(targets)
    if inventory is not None:
        chosen += inventory_module.load_inventory(inventory)
    chosen = inventory_module.apply_limit(chosen, limit)
    chosen = inventory_module.with_defaults(chosen, user, port, jump, sudo)
    settings = _ssh_settings(baseline, identities, known_hosts, accept_new_hostkeys, timeout_s)
    ensure_writable_dir(outdir)
    started = collect.utc_now()
    outcome = fleet.scan_fleet(chosen, baseline, _ssh_factory(settings), outdir=outdir,
                               concurrency=concurrency, timeout_s=timeout_s, resume=resume,
                               progress=not _quiet())
    if outcome.resumed:
        _progress(f"{outcome.resumed} host(s) taken from {fleet.journal_path(outdir)}")
    if outcome.interrupted:
        _progress("interrupted: findings list every planned host, those that did not "
                  "finish as interrupted or not_started; run again with --resume to "
                  "scan them")
    # lazy: each host's report is read back from the journal as it is written out
    document = findings.build_document(
        baseline=baseline, hosts=outcome.reports, started_at=started,
        finished_at=collect.utc_now(), invocation=_invocation("scan", fail_on),
        complete=not outcome.interrupted, lazy=True,
    )
    # a stopped run did not cover its scope: never exit 0, whatever --no-fail-on-incomplete
    _finish(document, outdir, formats, lang, fail_on,
            fail_on_incomplete or outcome.interrupted)


@cli.command("collect")
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
    _progress(f"{facts.host.name}: {len(facts.results)} probes collected -> {output}")


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


@cli.command("evaluate", epilog=EXIT_CODES_HELP)
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
    _check_decision_rules(baseline)
    ensure_writable_dir(outdir)
    started = collect.utc_now()
    reports = [scan_module.report_from_facts(baseline, _read_evidence(path)) for path in evidence]
    document = findings.build_document(
        baseline=baseline, hosts=reports, started_at=started, finished_at=collect.utc_now(),
        invocation=_invocation("evaluate", fail_on),
    )
    _finish(document, outdir, formats, lang, fail_on, fail_on_incomplete)


@cli.command("collector-script")
@baseline_options
def collector_script(baseline_ref: str, profile: str | None) -> None:
    """Print the collector script for hosts without network access.

    \b
    On the host:   sh collector.sh > collector-output.txt
    Back here:     cii-scan evaluate collector-output.txt -b BASELINE
    """
    baseline = baseline_module.load_baseline(baseline_ref, profile)
    click.echo(collect.build_script(baseline.probe_calls(), collect.new_token()), nl=False)


@cli.group("probes")
def probes_group() -> None:
    """The probe catalogue: what a rule's check can ask a host to show."""


def _probe_entries() -> list[Any]:
    from scanner import probe_catalogue, probes, resources

    shipped = resources.baselines_dir() / f"{DEFAULT_BASELINE}.yaml"
    return probe_catalogue.entries(probes.catalog(), shipped.read_text(encoding="utf-8"))


@probes_group.command("list")
@click.option("--markdown", is_flag=True, help="The whole catalogue as docs/probes.md has it.")
def probes_list(markdown: bool) -> None:
    """Every probe with its one-line summary."""
    from scanner import probe_catalogue

    items = _probe_entries()
    render_items = probe_catalogue.render_markdown if markdown else probe_catalogue.render_list
    click.echo(render_items(items), nl=False)


@probes_group.command("show")
@click.argument("name")
def probes_show(name: str) -> None:
    """One probe: its arguments, what key and expect look at, whose semantics it follows,
    the shipped rules using it and an example check."""
    from scanner import probe_catalogue

    items = {item.name: item for item in _probe_entries()}
    if name not in items:
        raise InputError(name, "no such probe (cii-scan probes list names them all)")
    click.echo(probe_catalogue.render_show(items[name]), nl=False)


@cli.group()
def baselines() -> None:
    """List, show and validate baselines."""


@baselines.command("list")
def baselines_list() -> None:
    """List the shipped baselines."""
    for baseline_id in baseline_module.shipped_baselines():
        loaded = baseline_module.load_baseline(baseline_id)
        profiles = ", ".join(loaded.profiles) or "-"
        click.echo(f"{loaded.id}\t{loaded.version}\t{len(loaded.rules)} rules\t"
                   f"profiles: {profiles}\t{loaded.title['en']}")


@baselines.command("show")
@click.argument("reference", metavar="ID|FILE")
@click.option("--profile", metavar="NAME", help="Show the rules this profile enables.")
@click.option("--lang", type=LANG_CHOICE, default="en", show_default=True)
@click.option("--matrix", is_flag=True,
              help="Show GB/T 22239-2019 8.1.4 coverage: item -> automated / manual rules.")
def baselines_show(reference: str, profile: str | None, lang: str, matrix: bool) -> None:
    """Show a baseline's rules, severities and references (or its clause coverage)."""
    loaded = baseline_module.load_baseline(reference, profile)
    if matrix:
        click.echo(f"{loaded.id} {loaded.version} — GB/T 22239-2019 8.1.4")
        click.echo(clauses.format_matrix(clauses.coverage_matrix(loaded), lang), nl=False)
        return
    click.echo(f"{loaded.id} {loaded.version}: {_text(loaded.title, lang)}")
    click.echo(f"digest {loaded.digest}; profile {loaded.profile or '-'}; "
               f"{len(loaded.rules)} rules enabled, {len(loaded.disabled)} disabled")
    for name, value in loaded.parameters.items():
        click.echo(f"  ${name} = {value}")
    for rule in loaded.rules:
        refs = "; ".join(f"{k} {', '.join(v)}" for k, v in rule.references.items())
        kind = " [manual]" if rule.manual else ""
        click.echo(f"{rule.id:<45} {rule.severity:<8} {_text(rule.title, lang)}{kind}"
                   + (f"  ({refs})" if refs else ""))
    for rule_id, reason in loaded.disabled.items():
        click.echo(f"{rule_id:<45} disabled  {reason}")


EXAMPLE_KINDS = ("tailoring", "waivers", "judgements", "inventory")


@baselines.command("example")
@click.argument("kind", type=click.Choice(EXAMPLE_KINDS, case_sensitive=False))
def baselines_example(kind: str) -> None:
    """Print a commented, valid example file: a tailoring, waivers, judgements or an inventory
    (the installed copy of baselines/examples/, the files README shows)."""
    from scanner import resources

    path = resources.baselines_dir() / "examples" / f"{kind}-example.yaml"
    click.echo(path.read_text(encoding="utf-8"), nl=False)


@baselines.command("validate")
@click.argument("files", nargs=-1, required=True, type=PATH)
@click.option("--profile", metavar="NAME", help="Also resolve this profile.")
def baselines_validate(files: tuple[Path, ...], profile: str | None) -> None:
    """Validate baseline or tailoring files (exit 0 valid, 2 invalid)."""
    for path in files:
        loaded = baseline_module.load_baseline(str(path), profile)
        click.echo(f"{path}: ok ({loaded.id} {loaded.version}, {len(loaded.rules)} rules)")


@cli.command("report")
@click.argument("document", type=PATH)
@click.option("-f", "--format", "fmt", type=FORMAT_CHOICE, default="html", show_default=True,
              help="Output format.")
@click.option("-o", "--output", type=PATH,
              help="File to write (default: standard output).")
@click.option("--lang", type=LANG_CHOICE, default="en", show_default=True,
              help="Language of human-readable reports.")
@click.option("--waivers", type=PATH, metavar="FILE", expose_value=False, is_eager=True,
              callback=_load_waivers_option,
              help="Apply these waivers (as of today, UTC) before rendering.")
@judgements_option
@quiet_option
def report_command(document: Path, fmt: str, output: Path | None, lang: str) -> None:
    """Render a findings document (from any past scan) as html, sarif, junit, csv or json."""
    loaded = _apply_decisions(findings.load_document(_read_text(document), str(document)))
    text = render(OutputFormat(fmt), loaded, lang=lang)
    if output is None:
        click.echo(text, nl=False)
    else:
        write_atomic(output, text)
        _progress(f"wrote {output}")


@cli.command("diff")
@click.argument("old", type=PATH)
@click.argument("new", type=PATH)
@click.option("-f", "--format", "fmt",
              type=click.Choice(["text", "json", "html"], case_sensitive=False),
              default="text", show_default=True, help="Output format.")
@click.option("-o", "--output", type=PATH,
              help="File to write (default: standard output).")
@click.option("--lang", type=LANG_CHOICE, default="en", show_default=True,
              help="Language of the html output.")
@quiet_option
@click.option("--fail-on", type=SEVERITY_CHOICE, metavar="SEVERITY",
              help="Exit 1 if a NEW failure of this severity or higher appeared.")
def diff_command(old: Path, new: Path, fmt: str, output: Path | None, lang: str,
                 fail_on: str | None) -> None:
    """Compare two findings documents: new failures, fixed, still failing, hosts added/removed.

    Exit 1 when --fail-on is given and a new failure at or above it appeared.
    """
    before = findings.load_document(_read_text(old), str(old))
    after = findings.load_document(_read_text(new), str(new))
    result = diff_module.compare(before, after)
    if fmt == "json":
        text = diff_module.render_json(result)
    elif fmt == "html":
        from scanner.render.html import render_diff
        text = render_diff(result, lang=lang)
    else:
        text = diff_module.render_text(result)
    if output is None:
        click.echo(text, nl=False)
    else:
        write_atomic(output, text)
        _progress(f"wrote {output}")
    if result["baseline_changed"]:
        _progress("note: the two scans used different baselines (id, version, digest or "
                  "profile)")
    if fail_on is not None and diff_module.new_failures_at_or_above(result, fail_on):
        sys.exit(EXIT_THRESHOLD)


@cli.command("validate")
@click.argument("document", type=PATH)
def validate_command(document: Path) -> None:
    """Check a findings document against the published schema (exit 0 valid, 2 invalid)."""
    findings.load_document(_read_text(document), str(document))
    click.echo(f"{document}: valid findings document (schema {findings.FINDINGS_SCHEMA_VERSION})")


# --------------------------------------------------------------------------- helpers


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(str(path), "file not found") from None
    except IsADirectoryError:
        raise InputError(str(path), "is a directory, not a file") from None
    except OSError as exc:
        raise InputError(str(path), f"cannot read ({exc.strerror or exc})") from None


def _read_text(path: Path) -> str:
    raw = _read_bytes(path)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(str(path), "not valid UTF-8") from None


def _read_evidence(path: Path) -> Facts:
    """Facts JSON, or the raw output of the collector script."""
    raw = _read_bytes(path)
    if raw.lstrip()[:1] == b"{":
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(str(path), f"not valid JSON facts ({exc})") from None
        return facts_module.Facts.from_json(data, str(path))
    _, parsed = collect.parse_standalone(raw, str(path))
    host = facts_module.HostIdentity(path.stem, "offline", transport="offline")
    facts = facts_module.Facts(host, parsed.results, collect.utc_now(), 0.0)
    os_data = facts.os
    name = str(os_data["hostname"]) if os_data and os_data.get("hostname") else path.stem
    return facts_module.Facts(facts_module.HostIdentity(name, "offline", transport="offline"),
                              parsed.results, facts.collected_at, 0.0,
                              complete=not parsed.problems,
                              incomplete_reason=parsed.problems[0] if parsed.problems else None)


def _invocation(command: str, fail_on: str | None) -> dict[str, Any]:
    try:
        operator = getpass.getuser()
    except (KeyError, OSError):
        operator = "unknown"
    return {"command": command, "operator": operator, "scanner_host": socket.gethostname(),
            "fail_on": fail_on}


def _finish(document: Mapping[str, Any], outdir: Path, formats: Sequence[str], lang: str,
            fail_on: str | None, fail_on_incomplete: bool) -> NoReturn:
    document = _apply_decisions(document)
    wanted = [OutputFormat.JSON] + [OutputFormat(f) for f in formats if f != "json"]
    # the outputs of one run only: no report of an earlier run stays beside this findings.json
    for stale in remove_stale(outdir, [f.filename for f in OutputFormat],
                              [f.filename for f in wanted]):
        _progress(f"removed {stale} (an earlier run's report)")
    for fmt in dict.fromkeys(wanted):
        target = outdir / fmt.filename
        write_atomic(target, render_pieces(fmt, document, lang=lang))
        _progress(f"wrote {target}")
    if not _quiet():
        colour = sys.stderr.isatty() and not os.environ.get("NO_COLOR")
        for line in terminal.story(document, lang, colour):
            click.echo(line, err=True, color=colour)
        _progress(terminal.summary_line(document["summary"]))
        report = outdir / OutputFormat.HTML.filename if OutputFormat.HTML in wanted else None
        _progress(terminal.next_step(outdir / OutputFormat.JSON.filename, report))
    sys.exit(gate.exit_code(document, fail_on, fail_on_incomplete))


def _check_decision_rules(baseline: Baseline) -> None:
    """Fail before scanning when --waivers or --judgements names a rule the baseline does
    not have, or a judgement cannot apply (see scanner.judgements.check_judgeable)."""
    meta = click.get_current_context().meta
    if WAIVERS_META in meta:
        waivers_module.check_rules_known(
            meta[WAIVERS_META][1], [*(rule.id for rule in baseline.rules), *baseline.disabled])
    if JUDGEMENTS_META in meta:
        judgements_module.check_judgeable(
            meta[JUDGEMENTS_META][1],
            [*(rule.id for rule in baseline.rules if rule.manual), *baseline.disabled],
            [rule.id for rule in baseline.rules if not rule.manual], _utc_today())


def _apply_decisions(document: Mapping[str, Any]) -> Mapping[str, Any]:
    """Apply --judgements, then --waivers (if given), as of today's UTC date; warn about
    those that did not apply."""
    meta = click.get_current_context().meta
    if JUDGEMENTS_META in meta:
        source, judgements = meta[JUDGEMENTS_META]
        judged = judgements_module.apply_judgements(document, judgements, _utc_today(),
                                                    source=source)
        for warning in judged.warnings:
            _progress(f"warning: {printable(warning)}")
        _progress(f"{judged.applied} result(s) judged by {source}; "
                  f"{judged.awaiting} still await judgement")
        document = judged.document
    if WAIVERS_META in meta:
        source, waivers = meta[WAIVERS_META]
        waived = waivers_module.apply_waivers(document, waivers, _utc_today(), source=source)
        for warning in waived.warnings:
            _progress(f"warning: {printable(warning)}")
        if waived.applied:
            _progress(f"{waived.applied} failure(s) waived by {source}")
        document = waived.document
    return document


def _utc_today() -> datetime.date:
    return datetime.datetime.now(datetime.timezone.utc).date()


def _text(text: Mapping[str, str], lang: str) -> str:
    return text.get(lang) or text.get("en", "")


def _progress(message: str) -> None:
    """A note for the person at the terminal (stderr); none with -q."""
    if not _quiet():
        click.echo(message, err=True)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Entry point: run the CLI; report CiiScanError as one line with its exit code."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="cii-scan",
                 standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_INPUT)
    except click.exceptions.Abort:
        click.echo("cii-scan: aborted", err=True)
        sys.exit(130)
    except CiiScanError as exc:
        if debug:
            raise
        click.echo(f"cii-scan: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    sys.exit(0)
