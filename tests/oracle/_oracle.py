"""Oracle tests: the real consumer of a setting decides the expected verdict.

A :class:`Case` is a host state built for real (files laid over /etc with overlayfs,
setup commands, optionally a network namespace of its own), a question put to the
program that acts on the setting in that same state (``sshd -T -C``, a real
``pam_authenticate``, ``getent``, ``bash -l``, a packet through the firewall, a read
attempt as another user), and the verdict that answer implies. The scanner's own
collector runs in the same namespace, and its verdict must equal the consumer's:
a test where they disagree fails, whichever way.

``intent`` is what the author built the state to be. The consumer's answer is
checked against it first, so a state whose consumer disagrees with its author is
reported as a wrongly built state (the author's belief was wrong), never as a
scanner verdict; and the coverage test can tell that every rule has a state the
consumer accepts and one it refuses.

Everything runs in ``unshare --mount`` (plus ``--net`` when asked): the machine and
the other tests see nothing of a state. Needs root; with ``CI=true`` a missing
capability fails the test instead of skipping it.
"""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest

from tests.hostile._namespace import REPO_ROOT, require_namespace

Verdict = Literal["pass", "fail"]


@dataclass(frozen=True)
class Ask:
    """One question to a consumer: a command run in the case's namespace."""

    argv: Sequence[str]
    stdin: bytes = b""
    user: str | None = None  # run as this account (runuser), else as root
    timeout: float = 60.0
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Answer:
    returncode: int
    stdout: str
    stderr: str
    # the question outlived its Ask.timeout and was killed: no answer at all (never read as
    # a refusal, a failure or anything else the consumer might have said)
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0


@dataclass(frozen=True)
class Consumer:
    """The program that acts on the setting, the questions put to it, and how its
    answers decide compliance (``decide(answers, parameters) -> compliant``)."""

    name: str  # as listed in README, e.g. "sshd -T -C"
    asks: Sequence[Ask]
    decide: Callable[[Sequence[Answer], Mapping[str, Any]], bool]


@dataclass(frozen=True)
class State:
    """A host state. ``files`` maps an absolute path to its content (None hides the
    file with an overlay whiteout); each file's top directory (``/etc``, ``/var``…) is
    overlaid with a private upper layer. ``modes`` sets a file's mode (and ``owners``
    its ``user:group``) in that layer. ``setup`` is sh run as root after the mounts,
    before anything is asked; what it writes lands in the upper layers, never on the
    machine. ``net``: a network namespace of its own (only ``lo``, down until setup
    brings it up)."""

    files: Mapping[str, str | bytes | None] = field(default_factory=dict)
    modes: Mapping[str, int] = field(default_factory=dict)
    owners: Mapping[str, str] = field(default_factory=dict)
    setup: Sequence[str] = ()
    overlays: Sequence[str] = ()  # more directories to overlay, files or not
    net: bool = False
    pid: bool = False


@dataclass(frozen=True)
class Case:
    rule: str
    name: str
    state: State
    consumer: Consumer
    intent: Verdict
    # What the scanner must say when the consumer finds the state non-compliant:
    # ``fail``, or ``error`` where the scanner cannot know more than "not as asked"
    # (a running daemon whose files changed after it started).
    noncompliant_verdict: Literal["fail", "error"] = "fail"
    profile: str | None = None
    baseline: str = "cii-art9-linux"

    @property
    def id(self) -> str:
        return f"{self.rule}:{self.name}"


# Runs inside the namespace: every ask, then the real collector through the real
# LocalTransport for the probe calls the case's rule needs, then evaluation.
_DRIVER = r"""
import json, subprocess, sys
request = json.load(sys.stdin)
answers = []
for ask in request["asks"]:
    argv = ask["argv"]
    if ask["user"]:
        argv = ["runuser", "-u", ask["user"], "--"] + argv
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           "LC_ALL": "C", "HOME": "/root"}
    env.update(ask["env"])
    try:
        done = subprocess.run(argv, input=ask["stdin"].encode("latin-1"), capture_output=True,
                              timeout=ask["timeout"], env=env, check=False)
        answers.append([done.returncode, done.stdout.decode("utf-8", "replace"),
                        done.stderr.decode("utf-8", "replace"), False])
    except subprocess.TimeoutExpired:
        answers.append([124, "", "timed out", True])
    except OSError as exc:
        answers.append([127, "", str(exc), False])
from scanner.baseline import iter_probe_checks, load_baseline
from scanner.collect import collect
from scanner.evaluate import evaluate_rule
from scanner.facts import HostIdentity
from scanner.probes import ProbeCall
from scanner.transport.local import LocalTransport
baseline = load_baseline(request["baseline"], request["profile"])
rule = next(r for r in baseline.rules if r.id == request["rule"])
calls = sorted({ProbeCall.of("os"), *iter_probe_checks(rule.check)})
facts = collect(LocalTransport(), HostIdentity("oracle", "localhost"), calls)
os_data = facts.os or {}
result = evaluate_rule(rule, facts, os_data.get("family"))
json.dump({"answers": answers, "status": result.status, "message": result.message,
           "parameters": dict(baseline.parameters),
           "evidence": list(result.observed)[:10]}, sys.stdout, default=str)
"""


@dataclass(frozen=True)
class Outcome:
    answers: tuple[Answer, ...]
    scanner_status: str
    scanner_message: str
    parameters: Mapping[str, Any]
    evidence: Sequence[Any]


def _lay_files(state: State, root: Path) -> dict[str, Path]:
    """Write the state's files into one upper layer per overlaid directory."""
    tops = {"/" + Path(path).parts[1] for path in state.files} | set(state.overlays)
    uppers: dict[str, Path] = {}
    for top in sorted(tops):
        upper = root / ("upper" + top.replace("/", "_"))
        upper.mkdir(parents=True)
        (root / ("work" + top.replace("/", "_"))).mkdir()
        uppers[top] = upper
    for path, content in state.files.items():
        top = "/" + Path(path).parts[1]
        target = uppers[top] / Path(path).relative_to(top)
        target.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            os.mknod(target, stat.S_IFCHR | 0o600, os.makedev(0, 0))  # overlay whiteout
            continue
        target.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        target.chmod(state.modes.get(path, 0o644))
    return uppers


def namespace_command(state: State, root: Path, argv: Sequence[str]) -> list[str]:
    uppers = _lay_files(state, root)
    lines = ["set -e"]
    for top, upper in uppers.items():
        work = root / ("work" + top.replace("/", "_"))
        options = f"lowerdir={top},upperdir={upper},workdir={work}"
        lines.append(f"mount -t overlay cii-oracle -o {shlex.quote(options)} {shlex.quote(top)}")
    for path, owner in state.owners.items():
        lines.append(f"chown {shlex.quote(owner)} {shlex.quote(path)}")
    if state.net:
        lines.append("ip link set lo up")
    lines.extend(state.setup)
    lines.append("exec " + " ".join(shlex.quote(word) for word in argv))
    flags = ["--mount", "--propagation", "private", "--fork"]
    if state.net:
        flags.append("--net")
    if state.pid:
        flags += ["--pid", "--mount-proc"]
    return ["unshare", *flags, "sh", "-c", "\n".join(lines)]


def run_case(case: Case, root: Path) -> Outcome:
    """Build the case's state, ask the consumer, run the scanner: all in one namespace."""
    require_namespace()
    request = {
        "asks": [{"argv": list(a.argv), "stdin": a.stdin.decode("latin-1"), "user": a.user,
                  "timeout": a.timeout, "env": dict(a.env)} for a in case.consumer.asks],
        "rule": case.rule, "baseline": case.baseline, "profile": case.profile,
    }
    done = subprocess.run(namespace_command(case.state, root, [sys.executable, "-c", _DRIVER]),
                          input=json.dumps(request).encode(), capture_output=True,
                          timeout=600, check=False, cwd=REPO_ROOT,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert done.returncode == 0, (
        f"{case.id}: the namespace run failed (exit {done.returncode}): "
        + done.stderr.decode(errors="replace")[-3000:])
    report = json.loads(done.stdout)
    return Outcome(tuple(Answer(*a) for a in report["answers"]), report["status"],
                   report["message"], report["parameters"], report["evidence"])


# The test item running now (set by conftest): each agreed state is recorded in its
# user_properties, which reach the controller's terminal summary under pytest-xdist too.
CURRENT_ITEM: list[Any] = []


def check_case(case: Case, root: Path) -> None:
    """The consumer's answer must match the state's intent, and the scanner the consumer.

    A question that timed out is no answer (read as one, a login that never completed
    would pass for a refused one): the case is built and asked once more, and a second
    timeout fails the test naming the question."""
    outcome = run_case(case, root)
    if any(answer.timed_out for answer in outcome.answers):
        again = root / "again"
        again.mkdir()
        outcome = run_case(case, again)
    unasked = [(number, ask) for number, (ask, answer) in enumerate(
        zip(case.consumer.asks, outcome.answers, strict=True)) if answer.timed_out]
    if unasked:
        number, ask = unasked[0]
        pytest.fail(f"{case.id}: {case.consumer.name} could not be asked: question {number} "
                    f"({shlex.join(ask.argv)}) timed out after {ask.timeout:g} s, twice")
    compliant = case.consumer.decide(outcome.answers, outcome.parameters)
    consumer_says: Verdict = "pass" if compliant else "fail"
    shown = "\n".join(f"  ask {i}: exit {a.returncode}; stdout {a.stdout[-800:]!r}; "
                      f"stderr {a.stderr[-400:]!r}" for i, a in enumerate(outcome.answers))
    assert consumer_says == case.intent, (
        f"{case.id}: the state was built to {case.intent}, but {case.consumer.name} finds it "
        f"{'compliant' if compliant else 'non-compliant'}:\n{shown}")
    expected = "pass" if compliant else case.noncompliant_verdict
    assert outcome.scanner_status == expected, (
        f"{case.id}: {case.consumer.name} finds the state "
        f"{'compliant' if compliant else 'non-compliant'}, so the verdict must be {expected}; "
        f"the scanner said {outcome.scanner_status}: {outcome.scanner_message}\n"
        f"evidence: {json.dumps(outcome.evidence, default=str)[:1500]}\n{shown}")
    if CURRENT_ITEM:
        CURRENT_ITEM[-1].user_properties.append(
            ("oracle", (case.rule, case.consumer.name, outcome.scanner_status)))


def case_id(case: Case) -> str:
    return case.id
