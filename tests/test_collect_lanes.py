"""Lanes: the collector runs each slow probe's own snippet beside the other parts, at once,
and the output still reads part by part as a one-lane run's does.

Concurrency is shown without a clock: two parts in different lanes meet at a FIFO (one
writes, the other reads; opening either end waits for the other). Run one after another
the first waits until its time limit kills it; run at once both finish.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from scanner import collect as collect_module
from scanner import probes
from scanner.baseline import load_baseline
from scanner.collect import build_script, new_token, parse_output, plan_parts
from scanner.probes import ProbeCall, ProbeResult, RawOutput
from scanner.probes._common import decode, quote
from tests._shells import SHELLS, run_script
from tests.hostile._namespace import require_namespace, run_in_namespace

OS = ProbeCall.of("os")
LISTENING = ProbeCall.of("listening")
PASSWD = ProbeCall.of("file", {"path": "/etc/passwd"})


def _payload(raw: RawOutput, _args: object) -> ProbeResult:
    return ProbeResult.ok(decode(raw.payload).strip())


@pytest.fixture
def rendezvous(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Callable[[], None]]:
    """Make ``os`` and ``listening`` slow probes that meet at a FIFO: ``os`` writes a word
    into it, ``listening`` reads it; each has a 3 s limit."""
    fifo = tmp_path / "meet"
    os.mkfifo(fifo)
    catalog = probes.catalog()
    monkeypatch.setattr(collect_module, "_COMPILED", {})

    def make() -> None:
        monkeypatch.setitem(catalog, "os", dataclasses.replace(
            catalog["os"], slow=True, timeout_s=3, parse=_payload,
            snippet=lambda args: f"printf 'met\\n' > {quote(str(fifo))}; echo wrote"))
        monkeypatch.setitem(catalog, "listening", dataclasses.replace(
            catalog["listening"], slow=True, timeout_s=3, parse=_payload, shared=(),
            snippet=lambda args: f"read -r word < {quote(str(fifo))}; echo \"read $word\""))

    yield make


def test_each_slow_probe_runs_in_a_lane_of_its_own_and_shared_parts_run_once() -> None:
    calls = load_baseline().probe_calls()
    plan = plan_parts(calls)
    lane_of = {index: lane for lane, (first, end) in enumerate(plan.lanes)
               for index in range(first, end)}
    # the lanes cover every part once, in order
    assert [index for first, end in plan.lanes for index in range(first, end)] == list(
        range(len(plan.parts)))
    slow_own = {plan.own[number] for number, call in enumerate(calls)
                if probes.get(call.probe).slow}
    assert len(slow_own) == 4 == len(plan.lanes) - 1  # pending updates, sources, units, sshd
    assert {lane_of[part] for part in slow_own if part is not None} == {1, 2, 3, 4}
    # shared sections and the files part, and every other probe's own part, run in lane 0
    others = set(range(len(plan.parts))) - slow_own
    assert plan.files_part in others
    assert {lane_of[part] for part in others} == {0}
    assert len({part.text for part in plan.parts}) == len(plan.parts)


@pytest.mark.parametrize("shell", SHELLS)
def test_parts_in_different_lanes_run_at_once(
        shell: str, rendezvous: Callable[[], None]) -> None:
    if shutil.which(shell) is None:
        pytest.fail(f"{shell} is missing; tests/run-all.sh installs it")
    rendezvous()
    calls = [PASSWD, OS, LISTENING]
    assert len(plan_parts(calls).lanes) == 3
    token = new_token()
    parsed = parse_output(run_script(build_script(calls, token), shell), calls, token)
    assert parsed.complete
    assert parsed.results[OS] == ProbeResult.ok("wrote")
    assert parsed.results[LISTENING] == ProbeResult.ok("read met")
    assert parsed.results[PASSWD].status == "ok"


def test_in_one_lane_the_same_parts_wait_for_each_other_until_killed(
        monkeypatch: pytest.MonkeyPatch, rendezvous: Callable[[], None]) -> None:
    """The control for the test above: one after another, the rendezvous cannot happen."""
    monkeypatch.setattr(collect_module, "MAX_LANES", 1)
    rendezvous()
    calls = [PASSWD, OS, LISTENING]
    assert len(plan_parts(calls).lanes) == 1
    token = new_token()
    parsed = parse_output(run_script(build_script(calls, token)), calls, token)
    assert parsed.complete
    assert "timed out after 3 s" in (parsed.results[OS].error or "")
    assert "timed out after 3 s" in (parsed.results[LISTENING].error or "")
    assert parsed.results[PASSWD].status == "ok"


def test_without_tail_on_the_host_the_lanes_run_one_after_another(
        rendezvous: Callable[[], None]) -> None:
    """No ``tail`` to hold a lane's output: the lanes run in turn, every frame still whole."""
    rendezvous()
    calls = [PASSWD, OS, LISTENING]
    token = new_token()
    done = run_in_namespace({"/usr/bin/tail": "/dev/null"}, ["sh", "-s"],
                            stdin=build_script(calls, token).encode(), timeout=120)
    parsed = parse_output(done.stdout, calls, token)
    assert parsed.complete
    assert "timed out after 3 s" in (parsed.results[OS].error or "")
    assert "timed out after 3 s" in (parsed.results[LISTENING].error or "")
    assert parsed.results[PASSWD].status == "ok"


def test_lanes_give_the_results_one_lane_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped baseline on this machine, run both ways: the same result for every call.
    Each run is in new PID and network namespaces, so what other tests start meanwhile
    (their processes, their sockets) is in neither."""
    require_namespace()
    calls = load_baseline().probe_calls()

    def results(lanes: int) -> dict[str, tuple[object, ...]]:
        monkeypatch.setattr(collect_module, "MAX_LANES", lanes)
        monkeypatch.setattr(collect_module, "_COMPILED", {})
        token = new_token()
        done = subprocess.run(["unshare", "--pid", "--net", "--mount-proc", "--fork",
                               "sh", "-s"], input=build_script(calls, token).encode(),
                              capture_output=True, timeout=300, check=False)
        parsed = parse_output(done.stdout, calls, token)
        assert parsed.complete and not parsed.problems
        return {call.key: (result.status, result.data, result.error)
                for call, result in parsed.results.items()}

    assert len(plan_parts(calls).lanes) > 1
    assert results(collect_module.MAX_LANES) == results(1)
