"""Helpers for the system-probe parser tests: captured outputs and hand-framed sections."""

from __future__ import annotations

from tests.conftest import FIXTURES, TEST_TOKEN

CAPTURES = FIXTURES / "probes_sys"


def captured(name: str) -> bytes:
    """A probe's raw output as captured on the Debian 12 build machine (see README.md there)."""
    return (CAPTURES / f"{name}.out").read_bytes()


def sec(name: str, body: str | bytes, status: int = 0) -> bytes:
    """One framed command section, exactly as the probes' ``section()`` snippet prints it."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    return f"{TEST_TOKEN} F cii:{name}\n".encode() + data + f"\ncii:rc {status}\n".encode()


def file_frame(path: str, body: str | bytes) -> bytes:
    """One readable file as ``dump_files`` prints it."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    return f"{TEST_TOKEN} F {path}\n".encode() + data + b"\n"
