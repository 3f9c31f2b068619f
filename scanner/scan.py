"""Assess hosts: collect facts through a transport, evaluate them, and build host reports."""

from __future__ import annotations

from dataclasses import replace

from scanner.baseline import Baseline
from scanner.collect import collect, utc_now
from scanner.evaluate import evaluate
from scanner.facts import Facts, HostIdentity
from scanner.findings import HostReport
from scanner.transport import Transport, TransportError


def report_from_facts(baseline: Baseline, facts: Facts) -> HostReport:
    """Evaluate one host's facts; the host report carries the evidence digest and OS facts."""
    os_data = facts.os
    host = facts.host
    if os_data and os_data.get("hostname") and host.name in ("", "local"):
        host = replace(host, name=str(os_data["hostname"]))
    probe_errors = {
        call.key: result.error or "probe failed"
        for call, result in sorted(facts.results.items())
        if result.status == "error"
    }
    return HostReport(
        host=host,
        status="scanned",
        os=_os_summary(os_data),
        facts_digest=facts.digest(),
        started_at=facts.collected_at,
        duration_s=facts.duration_s,
        results=tuple(evaluate(baseline, facts)),
        probe_errors=probe_errors,
        complete=facts.complete,
        incomplete_reason=facts.incomplete_reason,
        host_clock=facts.host_clock_json() if facts.host_clock_start or facts.host_clock_end
        else None,
    )


def _os_summary(os_data: object) -> dict[str, object] | None:
    if not isinstance(os_data, dict):
        return None
    keys = ("family", "id", "version_id", "pretty_name", "kernel", "arch", "hostname", "uid")
    return {key: os_data.get(key) for key in keys}


def assess(transport: Transport, host: HostIdentity, baseline: Baseline) -> tuple[
        HostReport, Facts | None]:
    """Collect and evaluate one host; a host that can't be used is a report, not an exception."""
    started = utc_now()
    try:
        facts = collect(transport, host, baseline.probe_calls())
    except TransportError as exc:
        return HostReport(host=host, status=exc.status, reason=exc.reason,
                          started_at=started), None
    return report_from_facts(baseline, facts), facts
