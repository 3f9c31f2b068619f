"""Shared test helpers: build facts from captured probe output, exactly as the collector would."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scanner import probes
from scanner.facts import Facts, HostIdentity
from scanner.probes import ProbeCall, ProbeResult, RawOutput

FIXTURES = Path(__file__).parent / "fixtures"

# Every subprocess a test starts (python -m scanner, namespace drivers) imports the
# scanner of this checkout, whatever is installed.
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(Path(__file__).resolve().parents[1]), *filter(None, [os.environ.get("PYTHONPATH")])])
TEST_TOKEN = "CIIM" + "5a" * 16


def frame_files(files: Mapping[str, str | None], unreadable: tuple[str, ...] = ()) -> bytes:
    """The bytes a ``dump_files`` snippet prints for these files (None: missing)."""
    out = b""
    for path, content in files.items():
        if path in unreadable:
            out += f"{TEST_TOKEN} U {path}\n".encode()
        elif content is None:
            out += f"{TEST_TOKEN} N {path}\n".encode()
        else:
            data = content.encode("utf-8") if isinstance(content, str) else content
            out += f"{TEST_TOKEN} F {path}\n".encode() + data + b"\n"
    return out


def raw(payload: str | bytes, exit_status: int | None = 0, truncated: bool = False) -> RawOutput:
    data = payload.encode("utf-8") if isinstance(payload, str) else payload
    return RawOutput(data, exit_status, truncated=truncated, token=TEST_TOKEN)


def interpret(probe: str, payload: str | bytes, args: Mapping[str, Any] | None = None,
              exit_status: int | None = 0) -> ProbeResult:
    """Run a probe's real parser on captured output."""
    return probes.interpret(ProbeCall.of(probe, args), raw(payload, exit_status))


def os_output(name: str) -> str:
    return (FIXTURES / "os" / f"{name}.txt").read_text(encoding="utf-8")


def facts_from_outputs(os_name: str, outputs: list[Mapping[str, Any]],
                       host: str = "fixture-host") -> Facts:
    """Facts built by running each captured output through its probe's parser.

    Each output is {probe, args?, exit?, stdout? | files? (+ unreadable?)}.
    """
    results: dict[ProbeCall, ProbeResult] = {
        ProbeCall.of("os"): interpret("os", os_output(os_name)),
    }
    for output in outputs:
        call = ProbeCall.of(output["probe"], output.get("args", {}))
        if "files" in output:
            payload = frame_files(output["files"], tuple(output.get("unreadable", ())))
            payload += output.get("stdout", "").encode("utf-8")
        else:
            payload = output.get("stdout", "").encode("utf-8")
        results[call] = probes.interpret(call, raw(payload, output.get("exit", 0)))
    return Facts(HostIdentity(host, "192.0.2.10"), results, "2026-01-01T00:00:00Z", 0.0)


# the throwaway PostgreSQL server the history store's tests share (one per session)
from tests._postgres import postgres_cluster  # noqa: E402, F401
