"""HTML report: one self-contained file (inline CSS, SVG and a small filter script).

Everything shown comes from the findings document, so any past scan re-renders.
Templates live in ``reports/`` and are rendered with autoescaping on; every value
also passes through :func:`printable`, so host output is always inert text.
The page works without JavaScript (the filter box simply stays hidden) and
prints to A4 as a document to hand over: for up to PRINT_BLOCK_MAX_HOSTS hosts each
host prints from a print-only table (every failure with the evidence that bears on its
verdict, see :mod:`scanner.render.evidence`; every pass a row), so the print needs
no script.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from scanner.clauses import SUPPORTING_KEY
from scanner.render._jinja import asset, environment
from scanner.render._text import (
    clause_groups,
    clause_items,
    evidence_text,
    host_label,
    os_family,
    pick,
    printable,
    remediation_for,
    rules_by_id,
)
from scanner.render.evidence import bearing_evidence
from scanner.render.html_sections import (
    checked_major_risks,
    expired_waiver_rows,
    major_risk_name,
    major_risk_rows,
    tailoring_view,
)
from scanner.render.i18n import AREAS, catalog
from scanner.render.wording import (
    Segment,
    as_html,
    expected_segments,
    message_segments,
    result_expected,
    result_message,
)
from scanner.vocabulary import RULE_STATUSES, SEVERITIES

CHART_MAX_HOSTS = 40
MATRIX_MAX_HOSTS = 25
OPEN_DETAILS_MAX_HOSTS = 20
# Up to this many hosts the page carries a print-only copy of each host's results (every
# failure's bearing evidence, every pass a row), so what prints needs no script; a larger
# fleet prints its host sections as opened by filter.js's beforeprint handler.
PRINT_BLOCK_MAX_HOSTS = 20
# Worst first: the status a matrix cell shows when several rules map to one item.
STATUS_RANK = ("fail", "error", "manual", "waived", "pass", "not_applicable")
CHART_STATUSES = ("pass", "fail", "error", "waived", "manual", "not_applicable")
BAR_WIDTH = 420
BAR_HEIGHT = 16
LABEL_WIDTH = 300


def item_sort_key(item: str) -> tuple[Any, ...]:
    """Natural order for clause items: 8.1.4.2 b < 8.1.4.10 a."""
    return tuple(int(part) if part.isdigit() else part
                 for part in re.split(r"(\d+)", item))


@dataclass
class Bar:
    label: str
    score: float | None
    counts: Mapping[str, int]
    segments: list[tuple[float, float, str, int]] = field(default_factory=list)


def _bar(label: str, counts: Mapping[str, int], score: float | None) -> Bar:
    """A stacked horizontal bar: (x, width, status, count) per non-empty status."""
    total = sum(counts.get(s, 0) for s in CHART_STATUSES)
    bar = Bar(label=label, score=score, counts=counts)
    x = 0.0
    for status in CHART_STATUSES:
        n = counts.get(status, 0)
        if n and total:
            width = BAR_WIDTH * n / total
            bar.segments.append((round(x, 2), round(width, 2), status, n))
            x += width
    return bar


def _host_bars(hosts: list[Mapping[str, Any]]) -> list[Bar]:
    scanned = [h for h in hosts if h["status"] == "scanned"]
    worst = sorted(scanned, key=lambda h: (h["summary"]["score"] is not None,
                                           h["summary"]["score"] or 0.0, h["name"]))
    return [_bar(host_label(h), h["summary"]["by_status"], h["summary"]["score"])
            for h in worst[:CHART_MAX_HOSTS]]


def _area_bars(hosts: Iterable[Mapping[str, Any]], rules: Mapping[str, Mapping[str, Any]],
               texts: Mapping[str, str]) -> list[Bar]:
    per_area: dict[str, Counter[str]] = {area: Counter() for area in AREAS}
    for host in hosts:
        for result in host["results"]:
            for area in clause_groups(rules.get(result["rule_id"])):
                per_area.setdefault(area, Counter())[result["status"]] += 1
    return [_bar(f"{area} {texts.get('area_' + area, '')}".strip(), counts, None)
            for area, counts in sorted(per_area.items(), key=lambda kv: item_sort_key(kv[0]))
            if sum(counts.values())]


def _matrix(hosts: list[Mapping[str, Any]], rules: Mapping[str, Mapping[str, Any]],
            texts: Mapping[str, str]) -> dict[str, Any]:
    scanned = [h for h in hosts if h["status"] == "scanned"]
    items_of = {rule_id: clause_items(rule) for rule_id, rule in rules.items()}
    items = sorted({item for found in items_of.values() for item in found}, key=item_sort_key)
    # worst status per (host, item), computed in one pass over each host's results
    worst_by_host: list[dict[str, str]] = []
    for host in scanned:
        worst: dict[str, str] = {}
        for result in host["results"]:
            for item in items_of.get(result["rule_id"], ()):
                current = worst.get(item)
                if current is None or (STATUS_RANK.index(result["status"])
                                       < STATUS_RANK.index(current)):
                    worst[item] = result["status"]
        worst_by_host.append(worst)
    rows = []
    for item in items:
        cells = [worst.get(item, "") for worst in worst_by_host]
        tally = Counter(cells)
        group = item.split(" ")[0]
        rule_ids = sorted(rid for rid, found in items_of.items() if item in found)
        supporting = sorted(rid for rid, rule in rules.items()
                            if item in rule.get("references", {}).get(SUPPORTING_KEY, ()))
        rows.append({"item": item, "area": texts.get("area_" + group, ""),
                     "rules": rule_ids, "supporting": supporting,
                     "cells": cells[:MATRIX_MAX_HOSTS], "tally": tally})
    unmapped = sorted(rid for rid, rule in rules.items() if not clause_items(rule))
    return {"hosts": [host_label(h) for h in scanned[:MATRIX_MAX_HOSTS]],
            "total_hosts": len(scanned), "rows": rows, "unmapped": unmapped}


def _result_view(result: Mapping[str, Any], rule: Mapping[str, Any] | None,
                 family: str | None, lang: str) -> dict[str, Any]:
    message, expected = result_message(result, lang), result_expected(result, lang)
    bearing = (bearing_evidence(result, message, expected)
               if result["status"] in ("fail", "error", "waived") else [])
    return {
        "rule_id": result["rule_id"],
        "title": pick(rule.get("title") if rule else None, lang) or result["rule_id"],
        "severity": result["severity"],
        "status": result["status"],
        "expected": _worded(expected_segments(result, lang)),
        "observed": evidence_text(result["observed"]),
        "bearing": [str(line) for line in bearing],
        "message": _worded(message_segments(result, lang)),
        "major_risk": major_risk_name(rule, lang),
        "expired_waivers": result.get("expired_waivers", []),
        "remediation": _with_code(remediation_for(rule, family, lang)),
        "rationale": _with_code(pick(rule.get("rationale") if rule else None, lang)),
        "manual": _with_code(pick(rule.get("manual") if rule else None, lang)),
        "references": "; ".join(f"{k}: {', '.join(v)}" for k, v in
                                sorted((rule or {}).get("references", {}).items())),
        "waiver": result.get("waiver"),
        "judgement": result.get("judgement"),
    }


def _worded(segments: Iterable[Segment]) -> Markup:
    """Wording as markup: its literals (values, names, patterns) in ``<code>``."""
    # as_html escapes every piece (printable first): nothing from a host becomes markup
    return Markup(as_html([(printable(text), literal)  # noqa: S704
                           for text, literal in segments]))


def _with_code(text: str | None) -> Markup | None:
    """A rule text with its backticked spans (commands, settings) shown as code."""
    if not text:
        return None
    pieces = printable(text).split("`")
    if len(pieces) % 2 == 0:  # an unpaired backtick: the text as it is
        return Markup(as_html([(printable(text), False)]))  # noqa: S704 (escaped)
    return Markup(as_html([(piece, i % 2 == 1)  # noqa: S704 (as_html escapes each piece)
                           for i, piece in enumerate(pieces) if piece]))


def _host_view(index: int, host: Mapping[str, Any], rules: Mapping[str, Mapping[str, Any]],
               lang: str) -> dict[str, Any]:
    family = os_family(host)
    by_status: dict[str, list[dict[str, Any]]] = {s: [] for s in RULE_STATUSES}
    ordered = sorted(host["results"],
                     key=lambda r: (SEVERITIES.index(r["severity"]), r["rule_id"]))
    for result in ordered:
        by_status[result["status"]].append(
            _result_view(result, rules.get(result["rule_id"]), family, lang))
    os_data = host.get("os") or {}
    search = " ".join([host["name"], host.get("address") or "", host["status"],
                       *host.get("groups", [])]).lower()
    return {
        "anchor": f"host-{index + 1}",
        "label": host_label(host),
        "search": search,
        "status": host["status"],
        "reason": host["reason"],
        "complete": host.get("complete", host["status"] == "scanned"),
        "incomplete_reason": host.get("incomplete_reason") or "",
        "os": os_data.get("pretty_name") or os_data.get("id") or "",
        "facts_digest": host.get("facts_digest") or "",
        **_clock_view(host),
        "duration_s": host.get("duration_s", 0),
        "summary": host["summary"],
        "results": by_status,
        "probe_errors": sorted((host.get("probe_errors") or {}).items()),
    }


def _clock_view(host: Mapping[str, Any]) -> dict[str, str]:
    """When and where the host said the evidence was collected (its own clock)."""
    clock = host.get("host_clock") or {}
    start, end = clock.get("start") or {}, clock.get("end") or {}
    return {"collected_at": host.get("collected_at") or "",
            "collected_local": start.get("local") or "",
            "collection_ended": end.get("utc") or "",
            "boot_id": start.get("boot_id") or "",
            "reported_hostname": start.get("hostname") or ""}


def _severity_table(hosts: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    table: dict[str, Counter[str]] = {s: Counter() for s in SEVERITIES}
    for host in hosts:
        for result in host["results"]:
            table[result["severity"]][result["status"]] += 1
    return [{"severity": s, "counts": table[s], "total": sum(table[s].values())}
            for s in SEVERITIES]


def build_view(document: Mapping[str, Any], lang: str) -> dict[str, Any]:
    """Everything the template shows, computed here so the template stays simple."""
    texts = catalog(lang)
    rules = rules_by_id(document)
    hosts = list(document["hosts"])
    host_views = [_host_view(i, h, rules, lang) for i, h in enumerate(hosts)]
    def listed(wanted: Callable[[Mapping[str, Any]], bool]) -> list[dict[str, Any]]:
        return [{"host": host_label(h),
                 **_result_view(r, rules.get(r["rule_id"]), os_family(h), lang)}
                for h in hosts for r in h["results"] if wanted(r)]

    waived = listed(lambda r: r["status"] == "waived")
    judged = listed(lambda r: "judgement" in r)
    awaiting = listed(lambda r: r["status"] == "manual")
    baseline = document["baseline"]
    scanned = [h for h in hosts if h["status"] == "scanned"]
    return {
        "t": texts,
        "lang": lang,
        "css": asset("report.css"),
        "script": asset("filter.js"),
        "doc": document,
        "baseline_title": pick(baseline["title"], lang),
        "summary": document["summary"],
        "statuses": RULE_STATUSES,
        "chart_statuses": CHART_STATUSES,
        "severities": SEVERITIES,
        "severity_table": _severity_table(hosts),
        "host_bars": _host_bars(hosts),
        "scanned_count": sum(1 for h in hosts if h["status"] == "scanned"),
        "area_bars": _area_bars(hosts, rules, texts),
        "matrix": _matrix(hosts, rules, texts),
        "hosts": host_views,
        "open_details": len(hosts) <= OPEN_DETAILS_MAX_HOSTS,
        "print_blocks": len(hosts) <= PRINT_BLOCK_MAX_HOSTS,
        "major_risks": major_risk_rows(scanned, rules, lang),
        "checked_major_risks": checked_major_risks(rules, lang),
        "tailoring": tailoring_view(baseline, rules, lang),
        "expired_waivers": expired_waiver_rows(scanned, rules, lang),
        "waived": waived,
        "judged": judged,
        "awaiting": awaiting,
        "unassessed": [h for h in host_views if h["status"] != "scanned"],
        "geometry": {"bar_width": BAR_WIDTH, "bar_height": BAR_HEIGHT,
                     "label_width": LABEL_WIDTH},
    }


def render(document: Mapping[str, Any], *, lang: str = "en") -> str:
    """The HTML report for ``document`` in ``lang`` (en or zh)."""
    template = environment().get_template("report.html.j2")
    return template.render(build_view(document, lang))


def render_diff(diff: Mapping[str, Any], *, lang: str = "en") -> str:
    """The HTML page for a comparison of two scans (see :mod:`scanner.diff`)."""
    template = environment().get_template("diff.html.j2")
    return template.render(t=catalog(lang), diff=diff, css=asset("report.css"))
