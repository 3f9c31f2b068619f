"""Reading a rendered .docx back as its consumers do: python-docx (the visible text, in
order) and LibreOffice Writer (what a reader opening it sees, converted to plain text)."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

from docx import Document
from docx.table import Table

from tests._scanner import skip_or_fail


def visible_text(content: bytes) -> str:
    """The body's paragraphs one a line and each table row as ``| cell | cell |``, in
    document order (python-docx shows a line break in a run as a newline)."""
    lines: list[str] = []
    for block in Document(io.BytesIO(content)).iter_inner_content():
        if isinstance(block, Table):
            lines.extend("| " + " | ".join(cell.text for cell in row.cells) + " |"
                         for row in block.rows)
        else:
            lines.append(block.text)
    return "\n".join(lines) + "\n"


def tables(content: bytes) -> list[list[list[str]]]:
    """Every table of the body as rows of cell texts."""
    return [[[cell.text for cell in row.cells] for row in table.rows]
            for table in Document(io.BytesIO(content)).tables]


def soffice_text(content: bytes, workdir: Path) -> str:
    """``content`` opened and saved as plain text by LibreOffice Writer, headless, with a
    profile of its own (parallel runs would otherwise share and lock one)."""
    soffice = shutil.which("soffice")
    if soffice is None:
        skip_or_fail("LibreOffice Writer is not installed (apt-get install "
                     "libreoffice-writer-nogui; tests/packages.d/office-writer.txt)")
        raise AssertionError("unreachable")
    workdir.mkdir(parents=True, exist_ok=True)
    source = workdir / "report.docx"
    source.write_bytes(content)
    done = subprocess.run(
        [soffice, f"-env:UserInstallation={(workdir / 'lo-profile').as_uri()}", "--headless",
         "--convert-to", "txt:Text", "--outdir", str(workdir / "txt"), str(source)],
        capture_output=True, text=True, timeout=300, check=False)
    converted = workdir / "txt" / "report.txt"
    assert done.returncode == 0 and converted.is_file(), done.stdout + done.stderr
    return converted.read_text(encoding="utf-8-sig")
