"""What the terminal shows at the end of a run: the story of the findings, in a few lines.

A user who ran a scan should not have to open findings.json to learn what failed: each
host's most severe failures (titles in ``--lang``), the hosts that could not be
assessed and why, and the next step. Bounded whatever the fleet: a run of more than
:data:`MAX_HOSTS_LISTED` hosts is told rule by rule across the fleet instead. Pure:
lines in, no I/O; the CLI prints them (to stderr, nothing with -q) and decides on colour
(a terminal, and no ``NO_COLOR``). Every text that came from a host or a file is passed
through :func:`printable`, so no escape sequence of theirs reaches the terminal.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from scanner.render._text import pick, printable
from scanner.render.wording import result_message
from scanner.vocabulary import HOST_STATUSES, RULE_STATUSES, SEVERITIES

MAX_RULES_PER_HOST = 5
MAX_HOSTS_LISTED = 10
MAX_RULES_ACROSS_FLEET = 10
MAX_WHY = 160  # characters of a failure's reason on the story's line
JUDGED = " (assessor's judgement)"
_SEVERITY_STYLE: Mapping[str, Mapping[str, Any]] = {
    "critical": {"fg": "red", "bold": True},
    "high": {"fg": "red"},
    "medium": {"fg": "yellow"},
    "low": {"fg": "cyan"},
    "info": {},
}


def story(document: Mapping[str, Any], lang: str, colour: bool) -> list[str]:
    """Per host (or, for a large fleet, per rule) what failed, most severe first, and
    which hosts were not assessed."""
    titles = {rule["id"]: printable(pick(rule["title"], lang)) for rule in document["rules"]}
    hosts: Sequence[Mapping[str, Any]] = document["hosts"]
    if len(hosts) <= MAX_HOSTS_LISTED:
        return [line for host in hosts for line in _host_story(host, titles, colour, lang)]
    return _fleet_story(hosts, titles, colour)


def _host_story(host: Mapping[str, Any], titles: Mapping[str, str],
                colour: bool, lang: str) -> list[str]:
    lines = [f"{printable(host['name'])}: {host_line(host)}"]
    failed = _most_severe_first(r for r in host["results"] if r["status"] == "fail")
    for result in failed[:MAX_RULES_PER_HOST]:
        lines.append("  " + _rule_line(result["severity"], result["rule_id"], titles, colour)
                     + (JUDGED if "judgement" in result else ""))
        why = printable(result_message(result, lang))
        if why:  # why it failed, in the story's language: the line under the rule
            lines.append("      " + (why if len(why) <= MAX_WHY else why[:MAX_WHY - 1] + "…"))
    if len(failed) > MAX_RULES_PER_HOST:
        lines.append(f"  … and {len(failed) - MAX_RULES_PER_HOST} more failed")
    awaiting = sorted(r["rule_id"] for r in host["results"] if r["status"] == "manual")
    if awaiting:
        lines.append(f"  awaiting an assessor's judgement: {len(awaiting)}: "
                     + _bounded(printable(rule) for rule in awaiting))
    return lines


def _bounded(names: Iterable[str]) -> str:
    listed = list(names)
    shown = ", ".join(listed[:MAX_RULES_PER_HOST])
    return shown + (f", … {len(listed) - MAX_RULES_PER_HOST} more"
                    if len(listed) > MAX_RULES_PER_HOST else "")


def _fleet_story(hosts: Iterable[Mapping[str, Any]], titles: Mapping[str, str],
                 colour: bool) -> list[str]:
    failing: Counter[str] = Counter()
    awaiting: Counter[str] = Counter()
    severity: dict[str, str] = {}
    unassessed, incomplete = _Listed("not assessed"), _Listed("assessed, incomplete")
    for host in hosts:  # one pass: a fleet's hosts may be read back one at a time
        if host["status"] != "scanned":
            unassessed.add(host)
        elif not host.get("complete", True):
            incomplete.add(host)
        for result in host["results"]:
            if result["status"] == "fail":
                failing[result["rule_id"]] += 1
                severity[result["rule_id"]] = result["severity"]
            elif result["status"] == "manual":
                awaiting[result["rule_id"]] += 1
    ranked = sorted(failing, key=lambda rule: (SEVERITIES.index(severity[rule]),
                                               -failing[rule], rule))
    lines = []
    if ranked:
        lines.append("failed across the fleet, most severe first:")
    for rule in ranked[:MAX_RULES_ACROSS_FLEET]:
        count = failing[rule]
        lines.append("  " + _rule_line(severity[rule], rule, titles, colour)
                     + f" ({count} host{'s' if count != 1 else ''})")
    if len(ranked) > MAX_RULES_ACROSS_FLEET:
        lines.append(f"  … and {len(ranked) - MAX_RULES_ACROSS_FLEET} more rules failed")
    if awaiting:
        lines.append(f"awaiting an assessor's judgement: {sum(awaiting.values())} results: "
                     + _bounded(f"{printable(rule)} ({awaiting[rule]})"
                                for rule in sorted(awaiting)))
    return lines + unassessed.lines() + incomplete.lines()


@dataclass
class _Listed:
    """Hosts of one kind in a large fleet: how many, and the first few by name."""

    what: str
    count: int = 0
    first: list[str] = field(default_factory=list)

    def add(self, host: Mapping[str, Any]) -> None:
        self.count += 1
        if len(self.first) < MAX_HOSTS_LISTED:
            self.first.append(f"  {printable(host['name'])}: {host_line(host)}")

    def lines(self) -> list[str]:
        if not self.count:
            return []
        more = [f"  … and {self.count - len(self.first)} more"] if self.count > len(
            self.first) else []
        return [f"{self.what}: {self.count} host{'s' if self.count != 1 else ''}",
                *self.first, *more]


def _most_severe_first(results: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(results, key=lambda r: (SEVERITIES.index(r["severity"]), r["rule_id"]))


def _rule_line(severity: str, rule_id: str, titles: Mapping[str, str], colour: bool) -> str:
    label = f"{severity:<8}"
    if colour:
        label = click.style(label, **_SEVERITY_STYLE[severity])
    return f"{label} {printable(rule_id)}  {titles.get(rule_id, '')}".rstrip()


def host_line(host: Mapping[str, Any]) -> str:
    """One host's outcome: its counts (and why incomplete), or why it was not assessed."""
    if host["status"] != "scanned":
        return f"{host['status']}: {printable(host['reason'])}"
    counts = host["summary"]["by_status"]
    line = ", ".join(f"{counts[s]} {s.replace('_', '-')}" for s in RULE_STATUSES
                     if counts[s])
    if not host.get("complete", True):
        line += f" (incomplete: {printable(host.get('incomplete_reason') or 'unknown reason')})"
    return line


def summary_line(summary: Mapping[str, Any]) -> str:
    """E.g. '7 hosts in scope: 3 scanned, 4 not started; 40 pass, 2 fail; score 90'."""
    counts = summary["by_status"]
    parts = [f"{counts[s]} {s.replace('_', '-')}" for s in RULE_STATUSES if counts[s]]
    score = summary["score"]
    hosts = summary["hosts"]
    scope = [f"{hosts.get(s, 0)} {s.replace('_', ' ')}" for s in HOST_STATUSES
             if s == "scanned" or hosts.get(s, 0)]
    text = (f"{hosts['total']} host{'s' if hosts['total'] != 1 else ''} in scope: "
            + ", ".join(scope) + "; " + (", ".join(parts) or "no results"))
    if score is not None:
        text += f"; score {score:g}"
    return text


def next_step(findings_path: Path, report_path: Path | None) -> str:
    """Where to read on: the report, or how to get one when none was asked for."""
    if report_path is not None:
        return f"next: read {printable(report_path)}"
    return (f"next: cii-scan report {printable(findings_path)} -f html -o report.html "
            "for a readable report (or scan with -f html)")
