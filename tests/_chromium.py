"""Headless Chromium for the tests that check what a browser shows: one way to start it,
offline, and a check that a screenshot it took is not blank."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def chromium_or_skip() -> None:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"chromium is required in CI ({CHROMIUM} missing)")
        pytest.skip("chromium is not installed (apt-get install chromium)")


def offline() -> list[str]:
    """A prefix that gives Chromium a network namespace of its own (no interfaces up), so
    a report that tried to fetch anything would fail to; without root, name resolution is
    refused instead."""
    if os.geteuid() == 0 and shutil.which("unshare"):
        return ["unshare", "--net"]
    return []


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "chromium-profile"
    return subprocess.run(
        [*offline(), CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
         "--host-resolver-rules=MAP * ~NOTFOUND",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
         *args],
        capture_output=True, text=True, timeout=120, check=False)


def png_is_not_blank(path: Path) -> bool:
    """Decode the PNG (zlib + filters) and check it is not one flat colour."""
    import struct
    import zlib

    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, idat, width, height, colour = 8, b"", 0, 0, 0
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        chunk = data[offset + 8:offset + 8 + length]
        if kind == b"IHDR":
            width, height, _, colour = struct.unpack(">IIBB", chunk[:10])
        elif kind == b"IDAT":
            idat += chunk
        offset += 12 + length
    raw = zlib.decompress(idat)
    channels = {2: 3, 6: 4}.get(colour, 4)
    stride = width * channels + 1
    rows = [raw[i * stride + 1:(i + 1) * stride] for i in range(min(height, 400))]
    # ignoring PNG filters, distinct byte values across rows are plenty for "not blank"
    distinct = {bytes(row[j:j + channels]) for row in rows for j in range(0, len(row), channels)}
    return len(distinct) > 10
