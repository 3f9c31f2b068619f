"""The catalogue commands: baselines (list, show, example, validate) and probes."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from scanner.cli.lazy import lazy
from scanner.cli.options import (
    DEFAULT_BASELINE,
    LANG_CHOICE,
    PATH,
)
from scanner.errors import InputError

if TYPE_CHECKING:
    from scanner import baseline as baseline_module
    from scanner import clauses
else:
    baseline_module = lazy("scanner.baseline")
    clauses = lazy("scanner.clauses")


@click.group("probes")
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


@click.group()
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


COMMANDS = (probes_group, baselines)


def _text(text: Mapping[str, str], lang: str) -> str:
    return text.get(lang) or text.get("en", "")
