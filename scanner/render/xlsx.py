"""xlsx: the clause-keyed 等保 workbook an assessor files (差距分析表, 整改清单).

Four sheets, built only from the findings document, in the report's language:

1. gap analysis: one row per scanned host × GB/T 22239-2019 8.1.4 item, with the
   results that feed it and a 符合情况 drop-down pre-filled only when the rules decide
   it (scanner/render/gap.py); items with a major-risk failure first for each host;
2. remediation list: one row per failed (not waived) host × rule, with empty owner,
   due-date and status columns for the operator;
3. summary: items by verdict per area, per host and in total;
4. hosts: the inventory and the scan's metadata.

Host output can say anything: every cell is written as a string or a number, never
with XlsxWriter's type guessing, and the workbook's options turn formula, URL and
number conversion off, so ``=cmd|...`` from a host stays text. Control characters are
shown as visible escapes (as in every format). The workbook's creation date is the
scan's finish, so the same document renders to the same bytes with one library version.
"""

from __future__ import annotations

import datetime
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from scanner import major_risks
from scanner.clauses import AREAS, Area, Clause
from scanner.render import gap, i18n
from scanner.render._text import host_label, os_family, pick, printable, remediation_for
from scanner.render.wording import result_expected, result_message
from scanner.render.xlsx_labels import labels

CELL_LIMIT = 32767  # characters a cell holds (Excel's limit)
CUT_MARK = "\n…"
OPTIONS = {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
           "strings_to_numbers": False}
VERDICT_KEYS = {gap.Verdict.COMPLIANT: "v_compliant", gap.Verdict.PARTLY: "v_partly",
                gap.Verdict.NON_COMPLIANT: "v_non_compliant",
                gap.Verdict.NOT_APPLICABLE: "v_not_applicable"}
TASK_KEYS = ("t_not_started", "t_in_progress", "t_done")

# (label key, column width)
GAP_COLUMNS = (("layer", 16), ("area", 14), ("item", 40), ("target", 24), ("method", 16),
               ("record", 64), ("verdict", 14), ("risk", 10), ("major_risk", 22),
               ("remediation", 50), ("waiver", 40), ("judgement", 40))
REMEDIATION_COLUMNS = (("host", 24), ("rule", 28), ("title", 32), ("severity", 10),
                       ("major_risk", 22), ("item", 36), ("found", 48), ("remediation", 50),
                       ("owner", 14), ("due", 14), ("status", 12))
SUMMARY_COLUMNS = (("target", 24), ("layer", 16), ("area", 20), ("v_compliant", 12),
                   ("v_partly", 12), ("v_non_compliant", 12), ("v_not_applicable", 12),
                   ("v_pending", 12), ("total", 10))
HOST_COLUMNS = (("name", 24), ("address", 18), ("port", 8), ("status", 16), ("reason", 48),
                ("os", 30), ("collected_at", 22), ("facts_digest", 74))

Cell = str | int | float


def cell_text(value: object) -> str:
    """``value`` as a cell's text: printable, and within a cell's limit (cut visibly)."""
    text = printable("" if value is None else value)
    if len(text) > CELL_LIMIT:
        text = text[:CELL_LIMIT - len(CUT_MARK)] + CUT_MARK
    return text


class _Sheet:
    """A worksheet written row by row, strings as strings: the only writer of cells."""

    def __init__(self, workbook: Any, name: str, columns: Sequence[tuple[str, int]],
                 text: Mapping[str, str], formats: Mapping[str, Any]) -> None:
        self.sheet = workbook.add_worksheet(name)
        self.formats = formats
        self.width = len(columns)
        self.row = 0
        for index, (_key, width) in enumerate(columns):
            self.sheet.set_column(index, index, width)
        self.write([text[key] for key, _ in columns], "header")
        self.sheet.freeze_panes(1, 0)

    def write(self, values: Iterable[Cell], style: str = "cell") -> int:
        """One row; returns its index."""
        fmt = self.formats[style]
        for column, value in enumerate(values):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self.sheet.write_number(self.row, column, value, fmt)
            elif value == "":
                self.sheet.write_blank(self.row, column, None, fmt)  # empty: left to fill
            else:
                self.sheet.write_string(self.row, column, cell_text(value), fmt)
        self.row += 1
        return self.row - 1

    def drop_down(self, column: int, choices: Sequence[str]) -> None:
        """A list validation on ``column`` of every row written below the header."""
        if self.row > 1:
            self.sheet.data_validation(1, column, self.row - 1, column,
                                       {"validate": "list", "source": list(choices)})

    def filter(self) -> None:
        self.sheet.autofilter(0, 0, max(self.row - 1, 0), self.width - 1)


def _formats(workbook: Any) -> dict[str, Any]:
    base = {"text_wrap": True, "valign": "top", "border": 1, "font_size": 10}
    return {
        "header": workbook.add_format({**base, "bold": True, "bg_color": "#D9E1F2"}),
        "cell": workbook.add_format(base),
        "major": workbook.add_format({**base, "bg_color": "#FFC7CE", "font_color": "#9C0006"}),
        "total": workbook.add_format({**base, "bold": True, "bg_color": "#F2F2F2"}),
    }


class _Text:
    """The report's words: fixed labels, statuses, severities, risk titles."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.label = labels(lang)
        self.catalog = i18n.catalog(lang)

    def status(self, status: str) -> str:
        return self.catalog.get(f"s_{status}", status)

    def severity(self, severity: str | None) -> str:
        return self.catalog.get(f"sev_{severity}", severity or "") if severity else ""

    def host_status(self, status: str) -> str:
        return self.catalog.get(f"h_{status}", status)

    def risk(self, risk_id: str) -> str:
        return major_risks.title(risk_id, self.lang) if risk_id in major_risks.BY_ID \
            else risk_id

    def verdict(self, verdict: gap.Verdict | None) -> str:
        return self.label[VERDICT_KEYS[verdict]] if verdict else ""

    def verdicts(self) -> list[str]:
        return [self.label[key] for key in VERDICT_KEYS.values()]

    def item(self, clause: Clause) -> str:
        return f"{clause.id} {clause.zh if self.lang == 'zh' else clause.en}"

    def area(self, area: Area) -> str:
        return str(area.zh if self.lang == "zh" else area.en)


def _record(row: gap.ClauseRow, text: _Text) -> str:
    """结果记录: each feeding rule's status and message, why the verdict is left to the
    assessor, and the evidence digest the results came from."""
    label = text.label
    lines: list[str] = []
    for feed in row.feeds:
        if feed.result is None:
            lines.append(label["r_missing"].format(rule=feed.rule_id))
            continue
        line = label["r_line"].format(rule=feed.rule_id, status=text.status(str(feed.status)))
        message = result_message(feed.result, text.lang)
        lines.append(line + label["r_message"].format(message=message) if message else line)
        expected = result_expected(feed.result, text.lang)
        if expected and feed.status != "pass":
            lines.append("  " + label["r_expected"].format(expected=expected))
    if row.pending is not None:
        lines.append(label[f"p_{row.pending.value}"].format(rules=", ".join(_pending_rules(row))))
    if row.host.get("facts_digest"):
        lines.append(label["digest"].format(digest=row.host["facts_digest"]))
    return "\n".join(lines)


def _pending_rules(row: gap.ClauseRow) -> list[str]:
    """The rules that leave the item to the assessor."""
    if row.pending is gap.Pending.MISSING:
        return [feed.rule_id for feed in row.feeds if feed.result is None]
    if row.pending in (gap.Pending.ERROR, gap.Pending.MANUAL):
        wanted = row.pending.value
        return [feed.rule_id for feed in row.feeds if feed.status == wanted]
    return [feed.rule_id for feed in row.feeds if feed.status not in gap.DECIDED]


def _waivers(feeds: Iterable[gap.Feed], text: _Text) -> str:
    lines = []
    for feed in feeds:
        waiver = (feed.result or {}).get("waiver")
        if waiver:
            lines.append(text.label["waiver_line"].format(
                rule=feed.rule_id, approved_by=waiver.get("approved_by", ""),
                expires=waiver.get("expires", ""), justification=waiver.get("justification", "")))
    return "\n".join(lines)


def _judgements(feeds: Iterable[gap.Feed], text: _Text) -> str:
    lines = []
    for feed in feeds:
        judgement = (feed.result or {}).get("judgement")
        if judgement:
            line = text.label["judgement_line"].format(
                rule=feed.rule_id, verdict=text.status(str(judgement.get("verdict", ""))),
                assessor=judgement.get("assessor", ""), date=judgement.get("date", ""),
                note=judgement.get("note", ""))
            if judgement.get("attachment"):
                line += "\n  " + text.label["judgement_record"].format(
                    attachment=judgement["attachment"])
            lines.append(line)
    return "\n".join(lines)


def _remediation(host: Mapping[str, Any], rules: Iterable[Mapping[str, Any]],
                 text: _Text) -> str:
    family = os_family(host)
    lines = []
    for rule in rules:
        fix = remediation_for(rule, family, text.lang)
        if fix:
            lines.append(f"{rule['id']}: {fix}")
    return "\n".join(lines)


def _gap_sheet(sheet: _Sheet, document: Mapping[str, Any],
               text: _Text) -> list[tuple[str, dict[str, gap.Counts]]]:
    """Writes the rows host by host; returns each host's verdict counts per area."""
    label = text.label
    by_clause = gap.rules_of_clauses(document)
    counted = []
    for host in gap.scanned_hosts(document):
        rows = gap.host_clause_rows(host, by_clause)
        for row in rows:
            failed = [feed.rule for feed in row.feeds if feed.status == "fail"]
            sheet.write([
                label["layer_computing"], text.area(row.area), text.item(row.clause),
                host_label(host), label[f"m_{row.method.value}"], _record(row, text),
                text.verdict(row.verdict), text.severity(row.severity),
                "\n".join(text.risk(risk) for risk in row.major_risks),
                _remediation(host, failed, text), _waivers(row.feeds, text),
                _judgements(row.feeds, text),
            ], "major" if row.major_risks else "cell")
        counted.append((host_label(host), gap.area_counts(rows)))
    sheet.drop_down([key for key, _ in GAP_COLUMNS].index("verdict"), text.verdicts())
    sheet.filter()
    return counted


def _remediation_sheet(sheet: _Sheet, rows: Sequence[gap.RemediationRow], text: _Text) -> None:
    for row in rows:
        result = row.result
        found = result_message(result, text.lang)
        expected = result_expected(result, text.lang)
        if expected:
            found = (found + "\n" if found else "") + text.label["r_expected"].format(
                expected=expected)
        sheet.write([
            host_label(row.host), row.rule["id"], pick(row.rule.get("title"), text.lang),
            text.severity(str(result["severity"])),
            text.risk(row.major_risk) if row.major_risk else "",
            "\n".join(text.item(clause) for clause in row.clauses), found,
            _remediation(row.host, [row.rule], text).removeprefix(f"{row.rule['id']}: "),
            "", "", "",
        ], "major" if row.major_risk else "cell")
    sheet.drop_down([key for key, _ in REMEDIATION_COLUMNS].index("status"),
                    [text.label[key] for key in TASK_KEYS])
    sheet.filter()


def _summary_block(sheet: _Sheet, target: str, counts: Mapping[str, gap.Counts],
                   text: _Text) -> None:
    order = [*gap.Verdict, None]
    for area in AREAS:
        numbers = [counts[area.id][verdict] for verdict in order]
        sheet.write([target, text.label["layer_computing"], text.area(area), *numbers,
                     sum(numbers)])
    totals = [sum(counts[area.id][verdict] for area in AREAS) for verdict in order]
    sheet.write([target, text.label["layer_computing"], text.label["total"], *totals,
                 sum(totals)], "total")


def _summary_sheet(sheet: _Sheet, counted: Sequence[tuple[str, Mapping[str, gap.Counts]]],
                   text: _Text) -> None:
    """Per host, then all hosts: items by verdict in each area."""
    total = gap.empty_counts()
    for target, counts in counted:
        _summary_block(sheet, target, counts, text)
        gap.add_counts(total, counts)
    _summary_block(sheet, text.label["all_hosts"], total, text)


def _hosts_sheet(sheet: _Sheet, document: Mapping[str, Any], text: _Text) -> None:
    for host in document["hosts"]:
        port = host.get("port")
        sheet.write([host["name"], host.get("address") or "",
                     port if isinstance(port, int) else str(port or ""),
                     text.host_status(host["status"]), host.get("reason") or "",
                     (host.get("os") or {}).get("pretty_name") or "",
                     host.get("collected_at") or "", host.get("facts_digest") or ""])
    sheet.filter()
    label, baseline, scan = text.label, document["baseline"], document["scan"]
    sheet.row += 1
    sheet.write([label["scan"], ""], "header")
    for key, value in (
            ("baseline", f"{baseline['id']} {pick(baseline.get('title'), text.lang)}".strip()),
            ("baseline_version", baseline.get("version", "")),
            ("baseline_digest", baseline.get("digest", "")),
            ("profile", baseline.get("profile") or label["none"]),
            ("tool", f"{document['tool']['name']} {document['tool']['version']}"),
            ("started", scan.get("started_at", "")), ("finished", scan.get("finished_at", "")),
            ("complete", label["yes"] if scan.get("complete") else label["no"])):
        sheet.write([label[key], str(value)])


def _created(document: Mapping[str, Any]) -> datetime.datetime:
    """The workbook's creation date: when the scan finished (UTC), not when it rendered."""
    stamp = str(document["scan"].get("finished_at") or "")
    try:
        parsed = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return datetime.datetime(1980, 1, 1)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return parsed


def render(document: Mapping[str, Any], *, lang: str = "en") -> bytes:
    """The workbook's bytes (Office Open XML)."""
    import xlsxwriter  # only here: `cii-scan --help` and other formats never load it

    text = _Text(lang)
    label = text.label
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, OPTIONS)
    workbook.set_properties({
        "title": cell_text(pick(document["baseline"].get("title"), lang)),
        "subject": "GB/T 22239-2019 8.1.4", "created": _created(document),
        "comments": f"{document['tool']['name']} {document['tool']['version']}"})
    formats = _formats(workbook)
    counted = _gap_sheet(_Sheet(workbook, label["sheet_gap"], GAP_COLUMNS, label, formats),
                         document, text)
    _remediation_sheet(
        _Sheet(workbook, label["sheet_remediation"], REMEDIATION_COLUMNS, label, formats),
        gap.remediation_rows(document), text)
    _summary_sheet(_Sheet(workbook, label["sheet_summary"], SUMMARY_COLUMNS, label, formats),
                   counted, text)
    _hosts_sheet(_Sheet(workbook, label["sheet_hosts"], HOST_COLUMNS, label, formats),
                 document, text)
    workbook.close()
    return buffer.getvalue()
