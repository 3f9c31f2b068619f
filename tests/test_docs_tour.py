"""docs/reading-results.md's tour of the HTML report: it names every section the report
has, and its screenshot is of the current sample report, taken by headless Chromium.

After a change to the report, regenerate the screenshot with

    UPDATE_SCREENSHOT=1 python3 -m pytest -q tests/test_docs_tour.py

which rewrites docs/report-tour.png and docs/report-tour.png.source (the digest of the
report it shows: the sample scan's, as the golden tests render it).
"""

from __future__ import annotations

import hashlib
import os
import re
import struct
from pathlib import Path

from scanner.render import OutputFormat, render
from tests._chromium import chromium, chromium_or_skip, png_is_not_blank
from tests._scanner import REPO_ROOT
from tests.sample_findings import sample_document

DOC = REPO_ROOT / "docs" / "reading-results.md"
SHOT = REPO_ROOT / "docs" / "report-tour.png"
SOURCE = SHOT.with_name(SHOT.name + ".source")
GOLDEN_REPORT = REPO_ROOT / "tests" / "golden" / "report.en.html"
WIDTH, HEIGHT = 1200, 1500


def _tour() -> str:
    text = DOC.read_text(encoding="utf-8")
    return text.split("## A tour of the HTML report\n", 1)[1].split("\n## ", 1)[0]


def _report() -> bytes:
    return render(OutputFormat.HTML, sample_document(), lang="en").encode("utf-8")


def _digest() -> str:
    return "sha256:" + hashlib.sha256(_report()).hexdigest()


def test_the_tour_names_every_section_of_the_report() -> None:
    sections = re.findall(r'<section id="([a-z-]+)">', GOLDEN_REPORT.read_text("utf-8"))
    assert len(sections) >= 7
    named = re.findall(r"\(`#([a-z-]+)`\)", _tour())
    assert named == sections  # each once, in the page's order


def test_the_screenshot_shows_the_current_sample_report(tmp_path: Path) -> None:
    if os.environ.get("UPDATE_SCREENSHOT") == "1":
        chromium_or_skip()
        page = tmp_path / "report.html"
        page.write_bytes(_report())
        shot = tmp_path / "shot.png"
        done = chromium(tmp_path, f"--screenshot={shot}", f"--window-size={WIDTH},{HEIGHT}",
                        "--hide-scrollbars", page.as_uri())
        assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
        SHOT.write_bytes(shot.read_bytes())
        SOURCE.write_text(_digest() + "\n", encoding="utf-8")
    assert "](report-tour.png)" in _tour()
    assert SOURCE.read_text(encoding="utf-8").strip() == _digest(), (
        "docs/report-tour.png shows an older report; regenerate it (see this module)")
    data = SHOT.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == (WIDTH, HEIGHT)
    assert png_is_not_blank(SHOT)
