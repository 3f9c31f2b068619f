"""A host's facts snapshot: what the collector saw, parsed, and nothing else.

Facts are the hand-off between collection and evaluation. They serialise to a
JSON document (``cii-scan collect``) that ``cii-scan evaluate`` reads back, on
another day or another machine, against any baseline version.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jsonschema

from scanner import __version__
from scanner.errors import InputError
from scanner.probes import ProbeCall, ProbeResult, canonical_json
from scanner.resources import schema_path

FACTS_SCHEMA_VERSION = "1.0"
FACTS_KIND = "cii-scan-facts"


@dataclass(frozen=True)
class HostIdentity:
    name: str
    address: str
    port: int | None = None
    transport: str = "local"
    hostkey_fingerprint: str | None = None
    groups: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "address": self.address,
            "port": self.port,
            "transport": self.transport,
            "hostkey_fingerprint": self.hostkey_fingerprint,
            "groups": list(self.groups),
        }

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> HostIdentity:
        return HostIdentity(
            name=data["name"],
            address=data["address"],
            port=data.get("port"),
            transport=data.get("transport", "local"),
            hostkey_fingerprint=data.get("hostkey_fingerprint"),
            groups=tuple(data.get("groups", ())),
        )


_HOST_CLOCK_FIELDS = {
    "utc": re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"),
    "local": re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}"),
    "boot_id": re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
    "hostname": re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,252}"),  # a host name, not prose
}


@dataclass(frozen=True)
class HostClock:
    """What the host said about when and where, at one moment of the collection: its
    clock in UTC and in local time, its boot id and its name. Each is None when the
    host could not tell (or told something that is not one)."""

    utc: str | None = None
    local: str | None = None
    boot_id: str | None = None
    hostname: str | None = None

    @staticmethod
    def of(values: Mapping[str, str]) -> HostClock:
        """From the collector's fields; any that does not have its shape is dropped."""
        shaped = {name: values.get(name, "") for name in _HOST_CLOCK_FIELDS}
        return HostClock(**{name: value if _HOST_CLOCK_FIELDS[name].fullmatch(value) else None
                            for name, value in shaped.items()})

    def to_json(self) -> dict[str, str | None]:
        return {"utc": self.utc, "local": self.local, "boot_id": self.boot_id,
                "hostname": self.hostname}


@dataclass(frozen=True)
class Facts:
    host: HostIdentity
    results: Mapping[ProbeCall, ProbeResult]
    collected_at: str
    duration_s: float
    tool_version: str = __version__
    # False when the collector's output stopped early or a part was killed or cut (the
    # probes it fed are errors naming why); ``incomplete_reason`` is the one-line why.
    complete: bool = True
    incomplete_reason: str | None = None
    # the host's own clock at the collector's start and end (None: not reported)
    host_clock_start: HostClock | None = None
    host_clock_end: HostClock | None = None

    def host_clock_json(self) -> dict[str, dict[str, str | None] | None]:
        """The host's clock lines as facts and findings hold them (None: not reported)."""
        start, end = self.host_clock_start, self.host_clock_end
        return {"start": start.to_json() if start else None,
                "end": end.to_json() if end else None}

    def result(self, call: ProbeCall) -> ProbeResult | None:
        return self.results.get(call)

    @property
    def os(self) -> Mapping[str, Any] | None:
        found = self.results.get(ProbeCall.of("os"))
        if found is None or found.status != "ok" or not isinstance(found.data, dict):
            return None
        return found.data

    def probes_json(self) -> list[dict[str, Any]]:
        out = []
        for call in sorted(self.results):
            result = self.results[call]
            entry: dict[str, Any] = {"probe": call.probe, "args": call.args,
                                     "status": result.status}
            if result.status == "ok":
                entry["data"] = result.data
            else:
                entry["reason"] = result.error or ""
            out.append(entry)
        return out

    def digest(self) -> str:
        """A digest of what was observed (not when): same evidence, same digest."""
        payload = canonical_json(self.probes_json()).encode("utf-8")
        return "sha256:" + hashlib.sha256(payload).hexdigest()

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": FACTS_SCHEMA_VERSION,
            "kind": FACTS_KIND,
            "tool": {"name": "cii-scan", "version": self.tool_version},
            "host": self.host.to_json(),
            "collected_at": self.collected_at,
            "host_clock": self.host_clock_json(),
            "duration_s": round(self.duration_s, 3),
            "digest": self.digest(),
            "probes": self.probes_json(),
        }

    @staticmethod
    def from_json(data: Any, source: str) -> Facts:
        errors = list(_validator().iter_errors(data))
        if errors:
            import jsonschema  # only to word an error

            best = jsonschema.exceptions.best_match(errors)
            where = "/".join(str(p) for p in best.absolute_path) or "(top)"
            raise InputError(source, f"not a valid facts document at {where}: {best.message}")
        results = {}
        for entry in data["probes"]:
            call = ProbeCall.of(entry["probe"], entry.get("args", {}))
            if entry["status"] == "ok":
                results[call] = ProbeResult.ok(entry.get("data"))
            else:
                results[call] = ProbeResult(entry["status"], None, entry.get("reason", ""))
        # The document keeps no completeness field of its own: a probe whose part never
        # arrived says so in its reason, and that is enough to tell.
        lost = sorted(r.error for r in results.values()
                      if r.error and r.error.startswith("not collected:"))
        return Facts(
            host=HostIdentity.from_json(data["host"]),
            results=results,
            collected_at=data["collected_at"],
            duration_s=float(data.get("duration_s", 0.0)),
            tool_version=data["tool"]["version"],
            complete=not lost,
            incomplete_reason=f"{len(lost)} probe(s) {lost[0]}" if lost else None,
            host_clock_start=_clock_from_json(data.get("host_clock", {}).get("start")),
            host_clock_end=_clock_from_json(data.get("host_clock", {}).get("end")),
        )


def _clock_from_json(data: Mapping[str, Any] | None) -> HostClock | None:
    return None if data is None else HostClock.of(
        {name: value for name, value in data.items() if isinstance(value, str)})


@cache
def _validator() -> jsonschema.protocols.Validator:
    import jsonschema  # imported when a document is validated, not by every command

    schema = json.loads(schema_path("facts.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)
