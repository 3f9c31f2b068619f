"""The end of a run: decisions applied, files written, the story told, the exit code."""

from __future__ import annotations

import datetime
import getpass
import os
import socket
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from scanner.cli.lazy import lazy
from scanner.cli.options import (
    JUDGEMENTS_META,
    SIGN_KEY_META,
    STORE_META,
    WAIVERS_META,
    progress,
    quiet,
    render_options,
)
from scanner.cli.signing import sign_file, signature_path
from scanner.output import remove_stale, write_content
from scanner.render import OutputFormat, render_pieces
from scanner.render._text import printable

if TYPE_CHECKING:
    from scanner import findings, gate, terminal
    from scanner import judgements as judgements_module
    from scanner import waivers as waivers_module
    from scanner.baseline import Baseline
else:
    findings = lazy("scanner.findings")
    gate = lazy("scanner.gate")
    judgements_module = lazy("scanner.judgements")
    terminal = lazy("scanner.terminal")
    waivers_module = lazy("scanner.waivers")


def invocation(command: str, fail_on: str | None) -> dict[str, Any]:
    try:
        operator = getpass.getuser()
    except (KeyError, OSError):
        operator = "unknown"
    return {"command": command, "operator": operator, "scanner_host": socket.gethostname(),
            "fail_on": fail_on}


def finish(document: Mapping[str, Any], outdir: Path, formats: Sequence[str], lang: str,
            fail_on: str | None, fail_on_incomplete: bool) -> NoReturn:
    document = apply_decisions(document)
    wanted = [OutputFormat.JSON] + [OutputFormat(f) for f in formats if f != "json"]
    findings_path = outdir / OutputFormat.JSON.filename
    key = click.get_current_context().meta.get(SIGN_KEY_META)
    signature = signature_path(findings_path)
    # the outputs of one run only: no report or signature of an earlier run stays beside
    # this findings.json (an old signature would be read as this run's)
    for stale in remove_stale(outdir, [*(f.filename for f in OutputFormat), signature.name],
                              [f.filename for f in wanted]):
        progress(f"removed {stale} (an earlier run's output)")
    for fmt in dict.fromkeys(wanted):
        target = outdir / fmt.filename
        write_content(target, render_pieces(fmt, document, lang=lang, **render_options(fmt)))
        progress(f"wrote {target}")
    if key is not None:
        progress(f"wrote {sign_file(findings_path, key)}")
    location = click.get_current_context().meta.get(STORE_META)
    if location is not None:
        _record(findings_path, location)
    if not quiet():
        colour = sys.stderr.isatty() and not os.environ.get("NO_COLOR")
        for line in terminal.story(document, lang, colour):
            click.echo(line, err=True, color=colour)
        progress(terminal.summary_line(document["summary"]))
        report = outdir / OutputFormat.HTML.filename if OutputFormat.HTML in wanted else None
        progress(terminal.next_step(outdir / OutputFormat.JSON.filename, report))
    sys.exit(gate.exit_code(document, fail_on, fail_on_incomplete))


def _record(findings_path: Path, location: Any) -> None:
    """Store the findings just written, read back from the file: the store reads the
    contract, as ``history import`` does, never the scanner's memory."""
    from scanner.history.store import findings_digest, open_store

    content = findings_path.read_bytes()
    document = findings.load_document(content.decode("utf-8"), str(findings_path))
    with open_store(location) as store:
        done = store.import_document(document, str(findings_path), findings_digest(content))
    progress(f"recorded scan {done.scan_id} in {location.display}")


def check_decision_rules(baseline: Baseline) -> None:
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
            [rule.id for rule in baseline.rules if not rule.manual], utc_today())


def apply_decisions(document: Mapping[str, Any]) -> Mapping[str, Any]:
    """Apply --judgements, then --waivers (if given), as of today's UTC date; warn about
    those that did not apply."""
    meta = click.get_current_context().meta
    if JUDGEMENTS_META in meta:
        source, judgements = meta[JUDGEMENTS_META]
        judged = judgements_module.apply_judgements(document, judgements, utc_today(),
                                                    source=source)
        for warning in judged.warnings:
            progress(f"warning: {printable(warning)}")
        progress(f"{judged.applied} result(s) judged by {source}; "
                  f"{judged.awaiting} still await judgement")
        document = judged.document
    if WAIVERS_META in meta:
        source, waivers = meta[WAIVERS_META]
        waived = waivers_module.apply_waivers(document, waivers, utc_today(), source=source)
        for warning in waived.warnings:
            progress(f"warning: {printable(warning)}")
        if waived.applied:
            progress(f"{waived.applied} failure(s) waived by {source}")
        document = waived.document
    return document


def utc_today() -> datetime.date:
    return datetime.datetime.now(datetime.timezone.utc).date()


