"""Options and choices shared by the commands, and the terminal notes -q silences."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from scanner.cli.lazy import lazy
from scanner.errors import InputError
from scanner.render import OutputFormat

if TYPE_CHECKING:
    from scanner import judgements as judgements_module
    from scanner import waivers as waivers_module
    from scanner.cli import signing
    from scanner.render import docx as docx_module
else:
    signing = lazy("scanner.cli.signing")  # hashlib and the writer: for --sign-key alone
    docx_module = lazy("scanner.render.docx")
    judgements_module = lazy("scanner.judgements")
    waivers_module = lazy("scanner.waivers")

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
SIGN_KEY_META = "cii_scan.sign_key"
DOCX_TEMPLATE_META = "cii_scan.docx_template"
STORE_META = "cii_scan.store"
# Paths are checked by the code that reads or writes them, so a problem is one line
# naming the file (click's own checks print a usage block instead).
PATH = click.Path(path_type=Path, readable=False)


def baseline_options(func: Any) -> Any:
    func = click.option("--profile", metavar="NAME",
                        help="Baseline profile (e.g. mlps-l3, cii).")(func)
    func = click.option("-b", "--baseline", "baseline_ref", default=DEFAULT_BASELINE,
                        show_default=True, metavar="ID|FILE",
                        help="Shipped baseline id or path to a baseline/tailoring YAML.")(func)
    return func


def _load_waivers_option(ctx: click.Context, _param: click.Parameter,
                         value: Path | None) -> None:
    """Validate --waivers before any scan (a malformed file is exit 2) and keep it for finish."""
    if value is not None:
        ctx.meta[WAIVERS_META] = (str(value), waivers_module.load_waivers(value))


def _load_judgements_option(ctx: click.Context, _param: click.Parameter,
                            value: Path | None) -> None:
    """Validate --judgements before any scan (a malformed file is exit 2)."""
    if value is not None:
        ctx.meta[JUDGEMENTS_META] = (str(value), judgements_module.load_judgements(value))


def _load_sign_key_option(ctx: click.Context, _param: click.Parameter,
                          value: Path | None) -> None:
    """Load --sign-key before any scan: a key that cannot sign is exit 2, not a lost run."""
    if value is not None:
        ctx.meta[SIGN_KEY_META] = signing.load_sign_key(value)


def _load_docx_template_option(ctx: click.Context, _param: click.Parameter,
                               value: Path | None) -> None:
    """Read and check --docx-template before any scan: a template that is not a .docx or
    whose Jinja does not compile is exit 2 before a host is touched, not a lost run."""
    if value is not None:
        ctx.meta[DOCX_TEMPLATE_META] = docx_module.load_template(value)


def check_docx_wanted(ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
    """-f's callback: --docx-template (eager, so already read) without -f docx is a
    mistake to report before scanning, not a template silently unused."""
    chosen = (value,) if isinstance(value, str) else tuple(value or ())
    if DOCX_TEMPLATE_META in ctx.meta and OutputFormat.DOCX.value not in chosen:
        raise InputError("--docx-template", "is used by -f docx only; add -f docx")
    return value


def docx_template_option(func: Any) -> Any:
    return click.option("--docx-template", type=PATH, metavar="FILE", expose_value=False,
                        is_eager=True, callback=_load_docx_template_option,
                        help="Lay out -f docx with this Word template instead of the "
                             "shipped one (variables: docs/docx-template.md).")(func)


def render_options(fmt: OutputFormat) -> dict[str, Any]:
    """The keywords a format's renderer gets beyond ``lang``: only docx has one (its
    --docx-template), so every other renderer keeps ``render(document, *, lang)``."""
    context = click.get_current_context(silent=True)
    if fmt is OutputFormat.DOCX and context is not None and DOCX_TEMPLATE_META in context.meta:
        return {"template": context.meta[DOCX_TEMPLATE_META]}
    return {}


def waivers_option(func: Any) -> Any:
    return click.option("--waivers", type=PATH, metavar="FILE", expose_value=False,
                        is_eager=True, callback=_load_waivers_option,
                        help="YAML waivers: matching, unexpired waivers (as of today, UTC) "
                             "turn a failure into 'waived' (never a pass).")(func)


def judgements_option(func: Any) -> Any:
    return click.option("--judgements", type=PATH, metavar="FILE", expose_value=False,
                        is_eager=True, callback=_load_judgements_option,
                        help="YAML judgements: an assessor's verdicts on manual rules, shown "
                             "as the assessor's.")(func)


def _quiet_option(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta[QUIET_META] = True


def quiet() -> bool:
    context = click.get_current_context(silent=True)
    return bool(context is not None and context.meta.get(QUIET_META))


def quiet_option(func: Any) -> Any:
    """-q, the same on every command that writes files: nothing but errors on stderr."""
    return click.option("-q", "--quiet", is_flag=True, expose_value=False,
                        callback=_quiet_option,
                        help="Print nothing but errors: no progress, per-host notes, list of "
                             "files written or summary.")(func)


def _store_option(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    """Opened now, so a bad location, an unreachable server or a store newer than this
    cii-scan is refused before anything is scanned, not after an hour of scanning."""
    if value is not None and not ctx.resilient_parsing:
        from scanner.history.location import parse_location
        from scanner.history.store import open_store

        location = parse_location(value)
        open_store(location).close()
        ctx.meta[STORE_META] = location


def report_options(func: Any) -> Any:
    func = quiet_option(func)
    func = click.option("--store", metavar="URL|PATH", is_flag=False, flag_value="",
                        expose_value=False, is_eager=True, callback=_store_option,
                        help="Also record the findings in the scan history store (bare "
                             "--store: the default file; see cii-scan history --help). An "
                             "interrupted run is recorded as incomplete.")(func)
    func = click.option("--sign-key", type=PATH, metavar="FILE", expose_value=False,
                        is_eager=True, callback=_load_sign_key_option,
                        help="Sign findings.json with this OpenSSH private key: writes "
                             "findings.json.sig (SSHSIG; check with cii-scan verify or "
                             "ssh-keygen -Y verify).")(func)
    func = docx_template_option(func)
    func = judgements_option(func)
    func = waivers_option(func)
    func = click.option("--fail-on-incomplete/--no-fail-on-incomplete", default=True,
                        show_default=True,
                        help="Exit 3 when a host or rule could not be assessed.")(func)
    func = click.option("--fail-on", type=SEVERITY_CHOICE, metavar="SEVERITY",
                        help="Exit 1 if a rule of this severity or higher failed.")(func)
    func = click.option("--lang", type=LANG_CHOICE, default="en",
                        show_default=True, help="Language of human-readable reports.")(func)
    func = click.option("-f", "--format", "formats", type=FORMAT_CHOICE, multiple=True,
                        callback=check_docx_wanted,
                        help="Extra output format (repeatable); findings.json is always "
                             "written.")(func)
    func = click.option("-o", "--outdir", type=PATH,
                        default=DEFAULT_OUTDIR, show_default=True,
                        help="Directory for findings.json and reports.")(func)
    return func


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


def progress(message: str) -> None:
    """A note for the person at the terminal (stderr); none with -q."""
    if not quiet():
        click.echo(message, err=True)

