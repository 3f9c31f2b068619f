"""The commands on findings documents: report, diff, validate."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from scanner.cli.files import read_text
from scanner.cli.lazy import lazy
from scanner.cli.options import (
    FORMAT_CHOICE,
    LANG_CHOICE,
    PATH,
    SEVERITY_CHOICE,
    check_docx_wanted,
    docx_template_option,
    judgements_option,
    progress,
    quiet_option,
    render_options,
    waivers_option,
)
from scanner.cli.outcome import apply_decisions
from scanner.errors import EXIT_THRESHOLD
from scanner.output import write_atomic, write_content
from scanner.render import OutputFormat, render

if TYPE_CHECKING:
    from scanner import diff as diff_module
    from scanner import findings
else:
    findings = lazy("scanner.findings")
    diff_module = lazy("scanner.diff")


@click.command("report")
@click.argument("document", type=PATH)
@click.option("-f", "--format", "fmt", type=FORMAT_CHOICE, default="html", show_default=True,
              callback=check_docx_wanted, help="Output format.")
@click.option("-o", "--output", type=PATH,
              help="File to write (default: standard output).")
@click.option("--lang", type=LANG_CHOICE, default="en", show_default=True,
              help="Language of human-readable reports.")
@waivers_option
@judgements_option
@docx_template_option
@quiet_option
def report_command(document: Path, fmt: str, output: Path | None, lang: str) -> None:
    """Render a findings document (from any past scan) as html, sarif, junit, csv, xlsx,
    docx or json."""
    chosen = OutputFormat(fmt)
    if output is None and chosen.binary and sys.stdout.isatty():
        raise click.UsageError(f"-f {chosen.value} is a binary format: give -o FILE (or "
                               "redirect standard output)")
    loaded = apply_decisions(findings.load_document(read_text(document), str(document)))
    content = render(chosen, loaded, lang=lang, **render_options(chosen))
    if output is None:
        if isinstance(content, bytes):
            sys.stdout.buffer.write(content)
            sys.stdout.buffer.flush()
        else:
            click.echo(content, nl=False)
    else:
        write_content(output, content)
        progress(f"wrote {output}")


@click.command("diff")
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
    before = findings.load_document(read_text(old), str(old))
    after = findings.load_document(read_text(new), str(new))
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
        progress(f"wrote {output}")
    if result["baseline_changed"]:
        progress("note: the two scans used different baselines (id, version, digest or "
                  "profile)")
    if fail_on is not None and diff_module.new_failures_at_or_above(result, fail_on):
        sys.exit(EXIT_THRESHOLD)


@click.command("validate")
@click.argument("document", type=PATH)
def validate_command(document: Path) -> None:
    """Check a findings document against the published schema and against itself: its
    summaries must count its results (exit 0 valid, 2 invalid). A signature is checked
    by `verify`."""
    findings.load_document(read_text(document), str(document))
    click.echo(f"{document}: valid findings document (schema {findings.FINDINGS_SCHEMA_VERSION})")


COMMANDS = (report_command, diff_command, validate_command)
