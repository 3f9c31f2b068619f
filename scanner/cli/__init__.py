"""Command line: parse, call, write, map errors to exit codes. No scanning logic lives here.

One module per kind of command (:mod:`scan_commands`, :mod:`document_commands`,
:mod:`signature_commands`, :mod:`catalogue_commands`), the options they share in
:mod:`options`, the reading of input files in :mod:`files` and the end of a run in
:mod:`outcome`. Each loads the scanner's modules it uses lazily, so a command pays only
for what it runs.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

import click

from scanner import __version__
from scanner.cli.options import DEFAULT_BASELINE, EXIT_CODES_HELP
from scanner.errors import EXIT_INPUT, CiiScanError

__all__ = ["COMMAND_MODULES", "DEFAULT_BASELINE", "cli", "main"]

# Each command and the module defining it (in its COMMANDS): a run imports only the
# module of the command it runs (the others were a third of a history question's start).
COMMAND_MODULES = {
    "scan": "scan_commands", "collect": "scan_commands", "evaluate": "scan_commands",
    "collector-script": "scan_commands",
    "report": "document_commands", "diff": "document_commands",
    "validate": "document_commands",
    "sign": "signature_commands", "verify": "signature_commands",
    "bundle": "signature_commands",
    "probes": "catalogue_commands", "baselines": "catalogue_commands",
    "history": "history_commands",
}


class _Commands(click.Group):
    """The top-level group: each command is loaded from its module when it is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMAND_MODULES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMAND_MODULES.get(cmd_name)
        if module is None:
            return None
        loaded = importlib.import_module(f"scanner.cli.{module}")
        found: dict[str, click.Command] = {command.name or "": command
                                           for command in loaded.COMMANDS}
        return found[cmd_name]


@click.group(cls=_Commands, epilog=EXIT_CODES_HELP,
             context_settings={"help_option_names": ["-h", "--help"]})
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

