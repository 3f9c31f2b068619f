"""The probe catalog: the only things a baseline can ask a host to show.

A probe is a name, a JSON Schema for its arguments, a read-only POSIX ``sh``
snippet (every argument passed through :func:`shlex.quote`) and a parser that
turns the snippet's output into JSON-able facts. Baseline authors pick probes
and give arguments; they never write shell.

Parsers are total: whatever bytes a host sends back, they return a
:class:`ProbeResult` (``ok``, ``error`` with a reason, or ``absent`` when the
thing the probe looks at is not installed at all). They never raise for bad
input; :func:`interpret` turns any escape into an ``error`` result anyway.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

ProbeStatus = Literal["ok", "error", "absent"]

DEFAULT_CAP_BYTES = 1024 * 1024
DEFAULT_TIMEOUT_S = 60

# Modules that define probes. Imported lazily, in this order, by catalog().
_PROBE_MODULES = (
    "scanner.probes.system",
    "scanner.probes.files",
    "scanner.probes.ssh",
    "scanner.probes.login_defs",
    "scanner.probes.pam.stack",
    "scanner.probes.pam.pwquality",
    "scanner.probes.pam.faillock",
    "scanner.probes.pam.pwhistory",
    "scanner.probes.pam.questions",
    "scanner.probes.shell",
    "scanner.probes.accounts",
    "scanner.probes.kernel",
    "scanner.probes.network",
    "scanner.probes.services",
    "scanner.probes.integrity",
    "scanner.probes.logging",
    "scanner.probes.auditd",
    "scanner.probes.auditd_conf",
    "scanner.probes.access",
    "scanner.probes.hardening",
    "scanner.probes.package_sources",
    "scanner.probes.patches",
)


@dataclass(frozen=True)
class RawOutput:
    """What the collector framing recovered for one probe call."""

    payload: bytes
    exit_status: int | None  # None: the frame never closed (output cut short)
    truncated: bool = False
    token: str = ""  # the run's marker, for probes that frame several files


@dataclass(frozen=True)
class ProbeResult:
    status: ProbeStatus
    data: Any = None
    error: str | None = None

    @staticmethod
    def ok(data: Any) -> ProbeResult:
        return ProbeResult("ok", data)

    @staticmethod
    def failed(reason: str) -> ProbeResult:
        return ProbeResult("error", None, reason)

    @staticmethod
    def absent(reason: str) -> ProbeResult:
        return ProbeResult("absent", None, reason)


@dataclass(frozen=True)
class Probe:
    name: str
    summary: str
    snippet: Callable[[Mapping[str, Any]], str]
    parse: Callable[[RawOutput, Mapping[str, Any]], ProbeResult]
    args_schema: Mapping[str, Any] = field(
        default_factory=lambda: {"type": "object", "additionalProperties": False}
    )
    # Name of the member of the parsed data that a check's ``key`` indexes
    # (e.g. sshd_effective keys index ``settings``). None: ``key`` indexes data.
    keyed: str | None = None
    # Member of the parsed data a check without ``key`` looks at (e.g. a sysctl's
    # ``value``). None: such a check looks at the whole data.
    subject: str | None = None
    cap_bytes: int = DEFAULT_CAP_BYTES
    timeout_s: int = DEFAULT_TIMEOUT_S
    # Shell words (catalog globs such as ``/etc/pam.d/*``, or arguments already passed
    # through ``quote``) naming files the probe reads whole. The collector dumps each
    # word once per host, framed as ``_common.dump_files`` frames them, and appends the
    # dumps to the output of every probe that names the word, so eight PAM probes read
    # /etc/pam.d once. A probe whose ``snippet`` returns "" is made of files alone.
    files: Callable[[Mapping[str, Any]], tuple[str, ...]] | None = None
    # Sections of sh that several probes print (the process list, the collector's uid):
    # each runs once per host, its output put before that of every probe naming it.
    shared: tuple[str, ...] = ()
    # The probe's own snippet waits on a slow consumer (a package manager's Python,
    # systemctl, sshd -T): the collector runs it in a lane of its own, beside the other
    # parts, instead of after them (see scanner.collect). Its shared sections and files
    # still run once, with the rest.
    slow: bool = False


@dataclass(frozen=True, order=True)
class ProbeCall:
    """One probe with its arguments: the unit the collector runs and caches."""

    probe: str
    args_json: str  # canonical JSON of the arguments; hashable and sortable

    @staticmethod
    def of(probe: str, args: Mapping[str, Any] | None = None) -> ProbeCall:
        return ProbeCall(probe, canonical_json(dict(args or {})))

    @property
    def args(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.args_json)
        return loaded

    @property
    def key(self) -> str:
        return self.probe if self.args_json == "{}" else f"{self.probe} {self.args_json}"


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


_CATALOG: dict[str, Probe] | None = None


def catalog() -> dict[str, Probe]:
    """All probes by name (imports the probe modules on first use)."""
    global _CATALOG
    if _CATALOG is None:
        found: dict[str, Probe] = {}
        for module_name in _PROBE_MODULES:
            module = importlib.import_module(module_name)
            for probe in module.PROBES:
                if probe.name in found:
                    raise RuntimeError(f"probe {probe.name!r} is defined twice")
                found[probe.name] = probe
        _CATALOG = found
    return _CATALOG


def get(name: str) -> Probe:
    try:
        return catalog()[name]
    except KeyError:
        raise KeyError(f"unknown probe {name!r}") from None


def interpret(call: ProbeCall, raw: RawOutput) -> ProbeResult:
    """Turn one probe's framed output into a result; never raises."""
    probe = get(call.probe)
    if raw.exit_status is None:
        return ProbeResult.failed("collector output ended before this probe finished")
    cut = _cut_file(raw)
    if cut is not None:
        return ProbeResult.failed(cut)
    if raw.truncated:
        return ProbeResult.failed(
            f"output exceeded the {probe.cap_bytes}-byte cap for this probe; not evaluated"
        )
    if raw.exit_status == 124:
        return ProbeResult.failed(f"probe timed out after {probe.timeout_s} s on the host")
    try:
        return probe.parse(raw, call.args)
    except Exception as exc:  # a parser bug must not lose the host's other results
        return ProbeResult.failed(f"could not parse probe output ({type(exc).__name__}: {exc})")


def _cut_file(raw: RawOutput) -> str | None:
    """Why the probe cannot be judged when a file it needs was over its cap (a CUT line
    of this run's marker in its output: ``_common.cut_line``, ``_common.cut_check``)."""
    if not raw.token or b" CUT " not in raw.payload:
        return None
    from scanner.probes._common import CUT_LINE, decode  # _common imports this module

    ours = raw.token.encode()
    for match in CUT_LINE.finditer(raw.payload):
        if match.group(1) == ours:
            path = decode(match.group(4))[:300]
            return (f"{path} is {int(match.group(3))} bytes: cut at {int(match.group(2))} "
                    "bytes, the cap for one file, so it was not evaluated")
    return None
