"""Reading a rendered workbook back as its consumers do: openpyxl, and LibreOffice headless.

The xlsx golden file is :func:`dump` of the workbook: every sheet and every cell as text,
with the drop-downs and frozen panes, because the zip itself is not byte-stable across
XlsxWriter versions.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import openpyxl

from tests._scanner import skip_or_fail

# CSV export: comma, double quote, UTF-8 (76), every sheet to its own file (token 12: -1)
CSV_FILTER = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1"


def workbook(content: bytes) -> Any:
    return openpyxl.load_workbook(io.BytesIO(content))


def rows(sheet: Any) -> list[tuple[Any, ...]]:
    return list(sheet.iter_rows(values_only=True))


def drop_downs(sheet: Any) -> list[tuple[str, str, str]]:
    """(range, type, list) of each data validation on ``sheet``."""
    return [(str(dv.sqref), str(dv.type), str(dv.formula1))
            for dv in sheet.data_validations.dataValidation]


def dump(content: bytes) -> str:
    """Every sheet and cell of the workbook as text: ``A1 <json value>`` per non-empty cell,
    with each cell's type (s: string, n: number) so a string turned formula shows."""
    book = workbook(content)
    lines: list[str] = []
    for sheet in book.worksheets:
        lines.append(f"== {sheet.title}")
        lines.append(f"freeze {sheet.freeze_panes}")
        for where, kind, choices in drop_downs(sheet):
            lines.append(f"validation {where} {kind} {choices}")
        for row in sheet.iter_rows():
            for cell in row:
                if cell.value is not None:
                    lines.append(f"{cell.coordinate} {cell.data_type} "
                                 f"{json.dumps(cell.value, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def soffice_csv(content: bytes, workdir: Path) -> dict[str, list[list[str]]]:
    """The workbook converted by LibreOffice headless to CSV, one file per sheet:
    {sheet name: rows}. A throwaway profile keeps parallel runs apart."""
    soffice = shutil.which("soffice")
    if soffice is None:
        skip_or_fail("LibreOffice (soffice, Debian package libreoffice-calc-nogui) is not "
                     "installed")
    assert soffice is not None
    source = workdir / "findings.xlsx"
    source.write_bytes(content)
    out = workdir / "csv"
    done = subprocess.run(
        [soffice, f"-env:UserInstallation={(workdir / 'profile').as_uri()}", "--headless",
         "--convert-to", CSV_FILTER, "--outdir", str(out), str(source)],
        capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    sheets = {}
    for path in sorted(out.glob("findings-*.csv")):
        text = path.read_text(encoding="utf-8")
        sheets[path.stem.removeprefix("findings-")] = list(csv.reader(io.StringIO(text)))
    assert sheets, f"LibreOffice wrote no CSV: {done.stdout} {done.stderr}"
    return sheets
