"""Build the shipped Word template, reports/report-template.docx, from code.

A .docx is a binary file; this script is its source. After a change, rebuild and commit
both (tests/test_render_docx.py holds the committed file's document.xml equal to what
this script builds):

    python3 reports/build_docx_template.py reports/report-template.docx

The template uses docxtpl's tags: ``{{ value }}`` in a run, ``{%p ... %}`` in a
paragraph of its own (the paragraph is replaced by the tag) and ``{%tr ... %}`` in a
table row of its own (one row per item). The variables are documented in
docs/docx-template.md. Styles print on A4 and name CJK-capable fonts, as the HTML
report does.
"""

from __future__ import annotations

import datetime
import sys
from pathlib import Path

from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.style import WD_STYLE_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor
from docx.styles.style import BaseStyle
from docx.table import Table

LATIN_FONT = "Noto Sans"
CJK_FONT = "Noto Sans CJK SC"
CJK_FALLBACK = "WenQuanYi Micro Hei"
MONO_FONT = "DejaVu Sans Mono"
FIXED_TIME = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


def _fonts(style: BaseStyle, latin: str) -> None:
    """Latin text in ``latin``, Chinese in the CJK font (Word picks per script)."""
    rpr = style.element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for attribute in ("w:ascii", "w:hAnsi", "w:cs"):
        fonts.set(qn(attribute), latin)
    fonts.set(qn("w:eastAsia"), CJK_FONT)
    for theme in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(theme), None)


def _styles(document: DocumentObject) -> None:
    styles = document.styles
    normal = styles["Normal"]
    _fonts(normal, LATIN_FONT)
    normal.font.size = Pt(10)
    for name in ("Title", "Heading 1", "Heading 2"):
        _fonts(styles[name], LATIN_FONT)
        styles[name].font.color.rgb = RGBColor(0x1F, 0x3A, 0x5F)
    evidence = styles.add_style("Evidence", WD_STYLE_TYPE.PARAGRAPH)
    evidence.base_style = normal
    _fonts(evidence, MONO_FONT)
    evidence.font.size = Pt(8)
    small = styles.add_style("Note", WD_STYLE_TYPE.PARAGRAPH)
    small.base_style = normal
    small.font.size = Pt(8.5)
    small.font.italic = True


def _page(document: DocumentObject) -> None:
    section = document.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Mm(18))
    section.footer.paragraphs[0].text = "{{ generated_by }}"
    section.footer.paragraphs[0].style = document.styles["Note"]


def _repeat_header(table: Table) -> None:
    """The header row repeats on each printed page."""
    trpr = table.rows[0]._tr.get_or_add_trPr()
    header = OxmlElement("w:tblHeader")
    header.set(qn("w:val"), "true")
    trpr.append(header)


def _table(document: DocumentObject, headers: list[str], cells: list[str],
           loop: str) -> None:
    """A header row, then one row per item of ``loop`` (``row in rows``)."""
    table = document.add_table(rows=4, cols=len(headers))
    table.style = document.styles["Table Grid"]
    for cell, text in zip(table.rows[0].cells, headers, strict=True):
        cell.text = ""
        cell.paragraphs[0].add_run(text).bold = True
    table.rows[1].cells[0].text = "{%tr for " + loop + " %}"
    for cell, text in zip(table.rows[2].cells, cells, strict=True):
        cell.text = text
    table.rows[3].cells[0].text = "{%tr endfor %}"
    _repeat_header(table)


def _key_values(document: DocumentObject, rows: list[tuple[str, str]]) -> None:
    table = document.add_table(rows=len(rows), cols=2)
    table.style = document.styles["Table Grid"]
    for row, (label, value) in zip(table.rows, rows, strict=True):
        row.cells[0].text = ""
        row.cells[0].paragraphs[0].add_run(label).bold = True
        row.cells[1].text = value


def _section(document: DocumentObject, heading: str, items: str) -> None:
    """A heading, then the caller's paragraphs for ``items``, then :func:`_otherwise`."""
    document.add_heading("{{ t." + heading + " }}", level=1)
    document.add_paragraph("{%p if " + items + " %}")


def _otherwise(document: DocumentObject, empty: str) -> None:
    document.add_paragraph("{%p else %}")
    document.add_paragraph("{{ t." + empty + " }}")
    document.add_paragraph("{%p endif %}")


def build() -> DocumentObject:
    document = Document()
    _styles(document)
    _page(document)
    properties = document.core_properties
    properties.title, properties.author = "cii-scan report", "cii-scan"
    properties.created = properties.modified = FIXED_TIME
    properties.last_modified_by, properties.revision = "cii-scan", 1

    document.add_heading("{{ title }}", level=0)
    document.add_paragraph("{{ baseline.title }}")

    document.add_heading("{{ t.metadata }}", level=1)
    _key_values(document, [
        ("{{ t.baseline }}", "{{ baseline.id }}"),
        ("{{ t.baseline_version }}", "{{ baseline.version }}"),
        ("{{ t.profile }}", "{{ baseline.profile }}"),
        ("{{ t.baseline_digest }}", "{{ baseline.digest }}"),
        ("{{ t.tool_version }}", "{{ tool.name }} {{ tool.version }}"),
        ("{{ t.operator }}", "{{ scan.operator }}"),
        ("{{ t.scanner_host }}", "{{ scan.scanner_host }}"),
        ("{{ t.started }}", "{{ scan.started_at }}"),
        ("{{ t.finished }}", "{{ scan.finished_at }}"),
        ("{{ t.collected }}", "{{ scan.collected }}"),
        ("{{ t.evaluated }}", "{{ scan.evaluated_at }}"),
        ("{{ t.complete }}", "{{ scan.complete }}"),
        ("{{ t.waivers_file }}", "{{ scan.waivers }}"),
        ("{{ t.judgements_file }}", "{{ scan.judgements }}"),
        ("{{ t.hosts_total }}", "{{ summary.hosts_total }}"),
        ("{{ t.hosts_scanned }}", "{{ summary.hosts_scanned }}"),
        ("{{ t.score }}", "{{ summary.score }}"),
    ])

    _section(document, "major_risks", "major_risks")
    document.add_paragraph("{{ t.risk_triggers_help }}")
    _table(document, ["{{ t.risk_trigger }}", "{{ t.host }}", "{{ t.rule }}", "{{ t.status }}",
                      "{{ t.message }}"],
           ["{{ r.risk }}", "{{ r.host }}", "{{ r.rule_id }} {{ r.title }}",
            "{{ r.status_text }}", "{{ r.message }}"], "r in major_risks")
    _otherwise(document, "no_risk_triggers")

    document.add_heading("{{ t.host_summary }}", level=1)
    _table(document, ["{{ t.host }}", "{{ t.status }}", "{{ t.os }}", "{{ t.collected }}",
                      "{{ t.score }}", "{{ t.results }}"],
           ["{{ h.name }}", "{{ h.status_text }}", "{{ h.os }}{{ h.reason }}",
            "{{ h.collected_at }}", "{{ h.score }}", "{{ h.counts }}"], "h in hosts")

    document.add_heading("{{ t.clause_table }}", level=1)
    document.add_paragraph("{{ t.clause_table_help }}", style="Note")
    _table(document, ["{{ t.host }}", "{{ t.area }}", "{{ t.item }}", "{{ t.feeding_rules }}",
                      "{{ t.result }}"],
           ["{{ c.host }}", "{{ c.area }}", "{{ c.clause_id }} {{ c.clause_title }}",
            "{{ c.rules_text }}", "{{ c.result_text }}"], "c in clause_rows")

    _section(document, "failed_rules", "failures")
    document.add_paragraph("{%p for f in failures %}")
    document.add_heading("{{ f.host }}: {{ f.rule_id }} {{ f.title }}", level=2)
    for label, value in (("severity", "f.severity_text"), ("expected", "f.expected"),
                         ("message", "f.message"), ("remediation", "f.remediation")):
        paragraph = document.add_paragraph()
        paragraph.add_run("{{ t." + label + " }}: ").bold = True
        paragraph.add_run("{{ " + value + " }}")
    document.add_paragraph().add_run("{{ t.evidence }}:").bold = True
    document.add_paragraph("{{ f.evidence }}", style="Evidence")
    document.add_paragraph("{%p endfor %}")
    _otherwise(document, "no_failed")

    _section(document, "waivers", "waivers")
    _table(document, ["{{ t.host }}", "{{ t.rule }}", "{{ t.justification }}",
                      "{{ t.approved_by }}", "{{ t.expires }}"],
           ["{{ w.host }}", "{{ w.rule_id }} {{ w.title }}", "{{ w.justification }}",
            "{{ w.approved_by }}", "{{ w.expires }}"], "w in waivers")
    _otherwise(document, "no_waivers")

    _section(document, "judgements", "judgements")
    document.add_paragraph("{{ t.judgements_help }}", style="Note")
    _table(document, ["{{ t.host }}", "{{ t.rule }}", "{{ t.verdict }}", "{{ t.assessor }}",
                      "{{ t.judged_on }}", "{{ t.note }}"],
           ["{{ j.host }}", "{{ j.rule_id }} {{ j.title }}", "{{ j.verdict_text }}",
            "{{ j.assessor }}", "{{ j.date }}", "{{ j.note }} {{ j.attachment }}"],
           "j in judgements")
    _otherwise(document, "no_judgements")

    _section(document, "awaiting", "awaiting")
    _table(document, ["{{ t.host }}", "{{ t.rule }}", "{{ t.instruction }}"],
           ["{{ a.host }}", "{{ a.rule_id }} {{ a.title }}", "{{ a.instruction }}"],
           "a in awaiting")
    _otherwise(document, "no_awaiting")

    document.add_heading("{{ t.tailoring }}", level=1)
    paragraph = document.add_paragraph()
    paragraph.add_run("{{ t.profile }}: ").bold = True
    paragraph.add_run("{{ tailoring.profile }}")
    document.add_heading("{{ t.parameters }}", level=2)
    document.add_paragraph("{%p if tailoring.parameters %}")
    _table(document, ["{{ t.parameter }}", "{{ t.value }}"], ["{{ p.name }}", "{{ p.value }}"],
           "p in tailoring.parameters")
    _otherwise(document, "no_parameters")
    document.add_heading("{{ t.disabled_rules }}", level=2)
    document.add_paragraph("{%p if tailoring.disabled %}")
    _table(document, ["{{ t.rule }}", "{{ t.reason }}"], ["{{ d.rule_id }}", "{{ d.reason }}"],
           "d in tailoring.disabled")
    _otherwise(document, "no_disabled")
    _font_fallback(document)
    return document


def _font_fallback(document: DocumentObject) -> None:
    """Name the CJK font's fallback in the font table (``altName``: used where the CJK
    font is not installed)."""
    for part in document.part.package.iter_parts():
        if str(part.partname) == "/word/fontTable.xml":
            entry = (f'<w:font w:name="{CJK_FONT}"><w:altName w:val="{CJK_FALLBACK}"/>'
                     '<w:charset w:val="86"/><w:family w:val="swiss"/>'
                     '<w:pitch w:val="variable"/></w:font>')
            part._blob = part.blob.replace(b"</w:fonts>", entry.encode("utf-8") + b"</w:fonts>")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(f"usage: {argv[0]} OUTPUT.docx", file=sys.stderr)
        return 2
    build().save(str(Path(argv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
