"""Build the ONE collector script for a host and parse its framed output into facts.

The script is POSIX ``sh``: it runs unchanged under dash, bash and busybox ash,
locally, over SSH (optionally under ``sudo -n``), or by hand on an air-gapped host.

The probe calls are cut into *parts*: each call's own snippet, each section that
several probes share (``Probe.shared``), and ONE part that reads every file the
calls name (``Probe.files``: one ``stat`` and one ``head`` for all of them, so eight
PAM probes read /etc/pam.d once). Identical parts run once. Each part runs with
stdin from /dev/null (in a subshell when its sh could end or change the shell
running it), and its output is framed by a marker that is random per run::

    \n<M> B <part>\n<payload>\n<M> E <part> <exit status>\n

so nothing a host prints (login banners, file contents, forged markers from an
earlier run) can be mistaken for a frame, and a part cut off mid-way is seen as
unfinished rather than as short output.

Parts run in *batches*: one ``sh`` under one ``timeout`` (where the host has it)
with one ``head -c`` bounding the batch's output, instead of three processes per
part. A batch that does not finish (a part hangs past the time limit, or the
batch's output passes its bound) is cut where it stopped; the part that was
running is run again alone, within its own time limit and output cap, and a new
batch carries on after it. So one hung or flooding part costs only itself, and
the common case costs one ``timeout``, one ``sh`` and one ``head`` per host.

Parts run in *lanes*, at once: each slow probe's own snippet (``Probe.slow``: a package
manager's Python, systemctl, ``sshd -T``) in a lane of its own, everything else in the
first. The first lane's output streams; each other lane's is held in memory by a
``tail -c`` on the host until the lanes before it are through, so the output is still
whole frames, one lane after another, and nothing is written on the host. A host's
collection then takes about its slowest lane instead of the sum. Without ``tail`` the
lanes run one after another.

Each batch's bounded output then passes through one ``sed`` that masks secret shapes
byte for byte (:mod:`scanner.redact`) before it leaves the host. It sits after
``head``, so the bound still cuts the shell's own writes and a part's end is reported
only once its output is through.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from scanner import __version__, probes
from scanner.collect_sh import _DRIVER, _INNER, _LANES, _PRELUDE
from scanner.errors import InputError
from scanner.facts import Facts, HostClock, HostIdentity
from scanner.probes import ProbeCall, ProbeResult, RawOutput
from scanner.probes._common import (
    CUT_LINE,
    decode,
    dump_files,
    dump_words,
    first_line,
    quote,
    split_word_dump,
)
from scanner.redact import SED_PROGRAM, redact
from scanner.transport import Transport, TransportError

TOKEN_PATTERN = re.compile(r"CIIM[0-9a-f]{32}")
_PLAN_LINE = re.compile(rb"(?m)^(CIIM[0-9a-f]{32}) PLAN ([^\n]*)$")
# Framing version in the PLAN line; output of another framing is refused offline.
FRAMING = 2
# What one batch may print before it is cut and its running part rerun alone. Well
# above a whole host's usual output (about 300 KiB for the shipped baseline).
BATCH_CAP_BYTES = 2 * 1024 * 1024
# Room for a part's own frame lines inside its solo output bound.
_FRAME_SLACK_BYTES = 256
# One argument of the inner ``sh -c`` holds at most this much part text: Linux
# refuses any single argument over 128 KiB (MAX_ARG_STRLEN).
_CHUNK_BYTES = 96 * 1024
# Batches cut short before the host's output bound is reached: beyond this many,
# the rest of the script's output can be cut by the transport (and reads as error).
_FLOODS_BUDGETED = 8
# Lanes of parts run at once on a host: the rest, and a lane for each slow probe's own
# snippet (Probe.slow) up to this many in all. Slow consumers are few and mostly wait on
# one CPU each (a package manager's Python, systemctl, sshd -T), so a few lanes take the
# host's time from their sum to about the longest of them.
MAX_LANES = 5

def new_token() -> str:
    return "CIIM" + secrets.token_hex(16)


@dataclass(frozen=True)
class Part:
    """One piece of sh the collector runs once, whichever calls need its output."""

    text: str
    label: str  # for the script's comments: the first call that needs it, or "files"
    cap_bytes: int
    timeout_s: int


@dataclass(frozen=True)
class Plan:
    parts: tuple[Part, ...]
    # for each call, the parts whose outputs begin its output, in order
    uses: tuple[tuple[int, ...], ...]
    # for each call, the part running its own snippet (None: it has none)
    own: tuple[int | None, ...]
    # the file words any call names, read by ONE part; for each call, its words' indexes
    words: tuple[str, ...]
    word_uses: tuple[tuple[int, ...], ...]
    files_part: int | None
    file_cap: int  # bytes read of any one file
    # the parts each lane runs, as [first, end) ranges of part numbers; the lanes run at
    # once (see build_script), the first one's output streaming, the others' held
    lanes: tuple[tuple[int, int], ...] = ((0, 0),)


def _shared_label(text: str) -> str:
    named = re.search(r"cii:([A-Za-z0-9_.-]+)", text)
    return "shared " + (named.group(1) if named else text[:40])


@dataclass(frozen=True)
class _Compiled:
    probes: tuple[probes.Probe, ...]  # the catalog entries it was built from
    plan: Plan
    body: str  # the script after its token: the PLAN line, the parts, the limits
    chunks: int  # variables the part functions are defined in


_COMPILED: dict[tuple[ProbeCall, ...], _Compiled] = {}
_COMPILED_KEPT = 16


def _compiled(calls: Sequence[ProbeCall]) -> _Compiled:
    """Plan and script body for these calls, built once for a whole fleet of hosts."""
    key = tuple(calls)
    used = tuple(probes.get(call.probe) for call in key)
    known = _COMPILED.get(key)
    if known is not None and all(a is b for a, b in zip(known.probes, used, strict=True)):
        return known
    plan = _plan_parts(key)
    listed = json.dumps({"tool": __version__, "framing": FRAMING,
                         "calls": [[c.probe, c.args] for c in key]},
                        sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    chunks = _part_chunks(plan.parts)
    lines = [f"printf '%s PLAN %s\\n' \"$CII_M\" {quote(listed)}", f"cii_inner={quote(_INNER)}"]
    lines += [f"cii_p{n}={quote(chunk)}" for n, chunk in enumerate(chunks)]
    lines.append(_limits_function(plan.parts, plan.lanes))
    built = _Compiled(used, plan, "\n".join(lines), len(chunks))
    if len(_COMPILED) >= _COMPILED_KEPT:
        _COMPILED.clear()
    _COMPILED[key] = built
    return built


def plan_parts(calls: Sequence[ProbeCall]) -> Plan:
    """Cut the calls into parts: identical sh runs once, and one part reads every file."""
    return _compiled(calls).plan


def _plan_parts(calls: Sequence[ProbeCall]) -> Plan:
    found: dict[str, Part] = {}  # text -> part, in first-use order
    uses: list[list[str]] = []
    own: list[str | None] = []
    word_caps: dict[str, int] = {}  # word -> the largest cap of a call naming it
    word_uses: list[list[str]] = []
    word_timeout = 0

    def use(text: str, label: str, cap: int, timeout: int) -> str:
        known = found.get(text)
        found[text] = Part(text, label, cap, timeout) if known is None else replace(
            known, cap_bytes=max(known.cap_bytes, cap), timeout_s=max(known.timeout_s, timeout))
        return text

    for call in calls:
        probe = probes.get(call.probe)
        cap, timeout = probe.cap_bytes, probe.timeout_s
        mine = [use(text, _shared_label(text), cap, timeout) for text in probe.shared]
        snippet = probe.snippet(call.args)
        own.append(use(snippet, call.key, cap, timeout) if snippet else None)
        mine += [snippet] if snippet else []
        words = list(probe.files(call.args)) if probe.files else []
        for word in words:
            word_caps[word] = max(word_caps.get(word, 0), cap)
            word_timeout = max(word_timeout, timeout)
        if not mine and not words:
            raise ValueError(f"probe {call.probe!r} runs nothing: no snippet, files or shared")
        uses.append(mine)
        word_uses.append(words)
    all_words = tuple(word_caps)
    file_cap = max(word_caps.values(), default=0)
    files_text = None
    if all_words:
        files_text = use(dump_words(all_words, file_cap), "files",
                         sum(word_caps.values()) + len(all_words) * _FRAME_SLACK_BYTES,
                         word_timeout)
    lane_of = _lanes_of(calls, own, found)
    # Each lane's parts side by side, and in a lane, parts with the same time limit side
    # by side, so they share one batch.
    parts = tuple(sorted(found.values(), key=lambda part: (lane_of.get(part.text, 0),
                                                           part.timeout_s)))
    index = {part.text: number for number, part in enumerate(parts)}
    word_index = {word: number for number, word in enumerate(all_words)}
    lanes: list[tuple[int, int]] = []
    for number, part in enumerate(parts):
        if lanes and lane_of.get(part.text, 0) == lane_of.get(parts[lanes[-1][0]].text, 0):
            lanes[-1] = (lanes[-1][0], number + 1)
        else:
            lanes.append((number, number + 1))
    return Plan(parts, tuple(tuple(index[text] for text in used) for used in uses),
                tuple(None if text is None else index[text] for text in own),
                all_words, tuple(tuple(word_index[w] for w in used) for used in word_uses),
                None if files_text is None else index[files_text], file_cap,
                tuple(lanes) or ((0, 0),))


def _lanes_of(calls: Sequence[ProbeCall], own: Sequence[str | None],
              found: Mapping[str, Part]) -> dict[str, int]:
    """The lane of each slow probe's own snippet (1, 2, ...: at most MAX_LANES - 1 of
    them, the slowest limits first); every other part runs in lane 0."""
    side = MAX_LANES - 1
    slow = [text for call, text in zip(calls, own, strict=True)
            if text is not None and side > 0 and probes.get(call.probe).slow]
    distinct = sorted(dict.fromkeys(slow), key=lambda text: -found[text].timeout_s)
    return {text: 1 + number % side for number, text in enumerate(distinct)}


def standalone_snippet(call: ProbeCall) -> str:
    """One call's sh by itself, its file reads included (for capture tools and tests)."""
    probe = probes.get(call.probe)
    pieces = [*probe.shared, probe.snippet(call.args)]
    pieces += [dump_files(word) for word in (probe.files(call.args) if probe.files else ())]
    return "; ".join(piece for piece in pieces if piece)


def output_bound(calls: Sequence[ProbeCall]) -> int:
    """Bytes a host may send back for these calls before the transport stops reading.

    Room for every call's full cap, frames, the script's own echo and a few batches cut
    by a flood. A host that sends more has its output cut there; whatever had not
    arrived is then ``error``, never ``pass``.
    """
    caps = sum(probes.get(call.probe).cap_bytes for call in calls)
    frames = len(plan_parts(calls).parts) * 2 * _FRAME_SLACK_BYTES
    return (caps + frames + _FLOODS_BUDGETED * BATCH_CAP_BYTES
            + len(build_script(calls, new_token())))


def _limits_function(parts: Sequence[Part], lanes: Sequence[tuple[int, int]]) -> str:
    """sh: cii_limits N sets part N's solo output bound, time limit and batch end.

    A batch runs consecutive parts of one lane with the same time limit, so a part with a
    short limit is never held to a longer one, nor cut short by its neighbours' work.
    """
    cases = []
    lane_end = {index: end for first, end in lanes for index in range(first, end)}
    for index, part in enumerate(parts):
        end = index + 1
        while end < lane_end[index] and parts[end].timeout_s == part.timeout_s:
            end += 1
        cases.append(f"  {index}) cii_c={part.cap_bytes + 1 + _FRAME_SLACK_BYTES}; "
                     f"cii_to={part.timeout_s}; cii_e={end} ;;")
    return "cii_limits() {\n  case $1 in\n" + "\n".join(cases) + "\n  esac\n}\n"


# sh that can end or change the shell running it (exit, a sourced file, traps, the
# working directory, variables other parts could see) runs in a subshell of its own;
# the rest runs in the batch's shell, saving a fork per part. Matches inside quoted
# text (an awk program's "exit") only cost that fork.
_NEEDS_SUBSHELL = re.compile(
    r"\b(?:exit|exec|cd|shift|trap|readonly|export|unset|eval|return|ulimit|umask|alias"
    r"|getopts|wait|break|continue|cii_\w*)\b"
    r"|\bset\b(?! --[; ])"  # set -- (a function's own arguments) is harmless
    r"|(?:^|[;&|(){}]|\bthen|\bdo|\belse)\s*\.\s",
    re.MULTILINE)


def runs_in_subshell(text: str) -> bool:
    return _NEEDS_SUBSHELL.search(text) is not None


def _part_chunks(parts: Sequence[Part]) -> list[str]:
    """The part functions' definitions, in arguments small enough for execve."""
    chunks: list[str] = []
    current = ""
    for index, part in enumerate(parts):
        label = part.label.replace("\n", " ")
        body = f"(\n{part.text}\n)" if runs_in_subshell(part.text) else f"{{\n{part.text}\n}}"
        definition = f"# {label}\ncii_p{index}() {body}\n"
        if len(definition.encode()) > _CHUNK_BYTES:
            raise ValueError(f"probe sh for {label[:80]!r} is too long for one argument")
        if current and len((current + definition).encode()) > _CHUNK_BYTES:
            chunks.append(current)
            current = ""
        current += definition
    if current:
        chunks.append(current)
    return chunks


def build_script(calls: Sequence[ProbeCall], token: str, budget_s: float | None = None) -> str:
    """The collector script for these probe calls, framed with ``token``.

    ``budget_s`` is the time the script may take on the host (the per-host --timeout less
    a margin for connect and transfer): each batch's time limit is then at most half of
    what remains, and once it is spent the parts not yet run are skipped (an ``S`` frame
    each), so a hung part costs its share and the rest still run."""
    if not TOKEN_PATTERN.fullmatch(token):
        raise ValueError("collector token must come from new_token()")
    compiled = _compiled(calls)
    budget = "" if budget_s is None else str(max(1, int(budget_s)))
    return "\n".join([
        _PRELUDE.format(version=__version__, token=token, sed_program=quote(SED_PROGRAM)),
        compiled.body,
        _DRIVER.format(chunks=" ".join(f'"$cii_p{n}"' for n in range(compiled.chunks)),
                       batch_cap=BATCH_CAP_BYTES, budget=budget,
                       lanes=_lanes_sh(compiled.plan))])


def _lanes_sh(plan: Plan) -> str:
    """sh running the plan's lanes: at once where the host has ``tail`` (see _LANES)."""
    runs = [f"cii_run {first} {end}" for first, end in plan.lanes]
    if len(runs) == 1:
        return runs[0]
    pipeline = f"{runs[0]} </dev/null"
    for (first, end), run in zip(plan.lanes[1:], runs[1:], strict=True):
        pipeline = (f"{{ {run} </dev/null | tail -c {_lane_bound(plan.parts[first:end])}; }}"
                    f" | {{ {pipeline}; cat; }}")
    return _LANES.format(pipeline=pipeline, sequence="; ".join(runs))


def _lane_bound(parts: Sequence[Part]) -> int:
    """Bytes a lane can print: for each part, a batch cut at its bound, then the part alone
    within its own cap."""
    return sum(BATCH_CAP_BYTES + part.cap_bytes + 4 * _FRAME_SLACK_BYTES for part in parts)


@dataclass(frozen=True)
class ParsedOutput:
    results: dict[ProbeCall, ProbeResult]
    complete: bool  # the END marker was seen
    frames_seen: int  # parts whose output began; 0 means the script never ran
    # Why the evidence is incomplete, main reason first: parts never run (budget spent,
    # output cut), killed at their deadline or cut at their cap. Empty: nothing missing.
    problems: tuple[str, ...] = ()
    # the host's clock lines (cii_clock) at the start and the end of the run
    clock_start: HostClock | None = None
    clock_end: HostClock | None = None


def host_clocks(output: bytes, token: str) -> tuple[HostClock | None, HostClock | None]:
    """The host's first ``start`` and last ``end`` clock lines of this run's marker."""
    found: dict[str, HostClock] = {}
    line = re.compile(rb"\n" + re.escape(token.encode())
                      + rb" CLOCK (start|end) (\S+) (\S+) (\S+) ([^\n]+)\n")
    for match in line.finditer(output):
        when = match.group(1).decode()
        if when == "start" and "start" in found:
            continue
        fields = [part.decode("utf-8", "replace") for part in match.groups()[1:]]
        found[when] = HostClock.of(dict(zip(("utc", "local", "boot_id", "hostname"), fields,
                                            strict=True)))
    return found.get("start"), found.get("end")


@dataclass(frozen=True)
class _PartOutput:
    payload: bytes
    exit_status: int | None  # None: neither an end frame nor a recorded exit status
    truncated: bool
    problem: str | None = None  # the output cannot be trusted, and why


def _part_outputs(output: bytes, parts: Sequence[Part], token: str,
                  skipped: set[int] | None = None) -> dict[int, _PartOutput]:
    """Each begun part's output, from its last attempt (a rerun follows a cut batch).

    Parts the host skipped because its budget was spent are added to ``skipped``."""
    if skipped is None:
        skipped = set()
    mark = re.escape(token.encode())
    # A frame starts after a newline of its own, or after the one that ended the previous
    # frame: a batch cut right after "E N S" (before its newline) is followed by the
    # rerun's "\nTOKEN B", whose newline the E frame then consumed.
    frame = re.compile(rb"(?:\n|(?<=\n))" + mark + rb" (B|E|X|S) (\d{1,6})(?: (\d{0,3}))?\n|\n"
                       + mark + rb" END\n")
    found: dict[int, _PartOutput] = {}
    open_part: tuple[int, int] | None = None  # (part, where its payload starts)
    ended: set[int] = set()  # parts whose last attempt has had its E line

    def close(stop: int, status: int | None, stopped: bool = False) -> None:
        """End the open part's payload at ``stop``; a None status: it never finished;
        ``stopped``: it was stopped before its own end (its payload is cut anywhere)."""
        nonlocal open_part
        if open_part is not None:
            index, start = open_part
            payload = output[start:stop]
            cut = len(payload) > parts[index].cap_bytes
            why = (f"the collector stopped this part before it finished (status {status})"
                   if stopped and status != 124 and not cut else None)
            found[index] = _PartOutput(payload, status, cut, why)
            open_part = None

    for match in frame.finditer(output):
        kind = match.group(1)
        index = int(match.group(2)) if kind is not None else -1
        if not 0 <= index < len(parts):  # END, or a part number this plan does not have
            close(match.start(), None)
        elif kind == b"S":  # skipped: the host budget was spent before it started
            close(match.start(), None)
            skipped.add(index)
        elif kind == b"B":
            close(match.start(), None)
            open_part = (index, match.end())
            ended.discard(index)
        elif kind == b"E" and index in ended and not (open_part and open_part[0] == index):
            # a second end for one attempt: the collector prints one, so one of them is not
            # its own (a line in the payload), and where the payload ends is not known
            found[index] = replace(found[index], problem="its output holds a second end "
                                   "marker: where it ends is not known")
        elif open_part is not None and open_part[0] == index:
            if kind == b"E":
                ended.add(index)
            # E: the part finished with this status (none: killed by a signal);
            # X: the batch running it alone stopped with this status before the E
            # Either way a shared part's status is not its readers' own, so a stopped one
            # is marked here: its cut payload must not read as a whole one.
            close(match.start(), int(match.group(3)) if match.group(3) else 137,
                  kind == b"X" or not match.group(3))
    close(len(output), None)
    return found


def _word_outputs(plan: Plan, outputs: dict[int, _PartOutput],
                  token: str) -> dict[int, _PartOutput]:
    """Each file word's share of the one part that read the files."""
    read = outputs.get(plan.files_part) if plan.files_part is not None else None
    if read is None:
        return {}
    words = range(len(plan.words))
    status = read.exit_status
    if status is None or status == 124 or read.truncated:
        return {word: replace(read, payload=b"") for word in words}  # callers fail on these
    if status != 0:
        why = f"reading the files failed (exit status {status})"
        return {word: replace(read, problem=why) for word in words}
    dumps = split_word_dump(read.payload, token, len(plan.words), plan.file_cap)
    if dumps is None:
        why = "files changed or vanished while they were read (sizes do not add up)"
        return {word: replace(read, problem=why) for word in words}
    return {word: _PartOutput(dump.frames, 0, dump.cut)
            for word, dump in zip(words, dumps, strict=True)}


def _assemble(call: ProbeCall, pieces: Sequence[_PartOutput | None], own: _PartOutput | None,
              token: str, missing_why: str) -> ProbeResult:
    if any(piece is None for piece in pieces):
        return ProbeResult.failed(f"not collected: {missing_why}")
    done = [piece for piece in pieces if piece is not None]
    problems = [piece.problem for piece in done if piece.problem]
    if problems:
        return ProbeResult.failed(problems[0])
    statuses = [piece.exit_status for piece in done]
    status: int | None
    if None in statuses:
        status = None
    elif 124 in statuses:
        status = 124
    elif own is not None:
        status = own.exit_status
    else:  # shared sections and file reads alone: their frames tell what went wrong
        status = 0
    payload = b"".join(piece.payload for piece in done)
    cap = probes.get(call.probe).cap_bytes
    truncated = any(piece.truncated for piece in done) or len(payload) > cap
    return probes.interpret(call, RawOutput(payload[:cap], status, truncated=truncated,
                                            token=token))


_NEVER_REACHED = "the collector never reached this probe (output ended early)"
_BUDGET_SPENT = "the per-host budget was spent on the host before this probe's part started"


def parse_output(output: bytes, calls: Sequence[ProbeCall], token: str, *,
                 cut: str | None = None) -> ParsedOutput:
    """Recover each call's output from the collector's stdout and interpret it.

    ``cut`` is the transport's reason the output stopped early (budget spent, connection
    dropped); probes whose parts never arrived are errors naming it. Only frames that
    completed give results. Secret shapes are masked again first (:mod:`scanner.redact`),
    byte for byte, for output from a host without ``sed`` or captured by hand."""
    output = redact(output)
    plan = plan_parts(calls)
    skipped: set[int] = set()
    outputs = _part_outputs(output, plan.parts, token, skipped)
    words = _word_outputs(plan, outputs, token)
    complete = re.search(rb"\n" + re.escape(token.encode()) + rb" END\n", output) is not None
    results = {}
    for index, call in enumerate(calls):
        used = list(plan.uses[index])
        pieces = [outputs.get(part) for part in used]
        if plan.word_uses[index] and plan.files_part is not None:
            used.append(plan.files_part)
        pieces += [words.get(word) for word in plan.word_uses[index]]
        own = plan.own[index]
        if any(part in skipped and part not in outputs for part in used):
            why = _BUDGET_SPENT
        else:
            why = f"{cut} (the collector never reached this probe)" if cut else _NEVER_REACHED
        results[call] = _assemble(call, pieces, None if own is None else outputs.get(own),
                                  token, why)
    problems = _problems(plan, outputs, skipped, complete, cut)
    problems += _files_over_their_cap(output, token)
    return ParsedOutput(results, complete, len(outputs), problems, *host_clocks(output, token))


def _files_over_their_cap(output: bytes, token: str) -> tuple[str, ...]:
    """One line per file the host did not read because it was over its cap (the CUT
    lines of this run's marker, from the files part or from a probe's own guard)."""
    found: dict[bytes, str] = {}
    for match in CUT_LINE.finditer(output):
        if match.group(1).decode() == token and match.group(4) not in found:
            found[match.group(4)] = (f"{decode(match.group(4))} is {int(match.group(3))} "
                                     f"bytes, over the cap of {int(match.group(2))}: not read")
    return tuple(found.values())


def _problems(plan: Plan, outputs: dict[int, _PartOutput], skipped: set[int],
              complete: bool, cut: str | None) -> tuple[str, ...]:
    """One line per reason the evidence is incomplete, the main reason first."""
    found: list[str] = []
    missing = [n for n in range(len(plan.parts)) if n not in outputs]
    total = len(plan.parts)
    if missing or not complete:
        base = cut or ("per-host budget spent on the host" if skipped
                       else "collector output ended before its END marker")
        found.append(f"{base}: {len(missing)} of {total} parts never ran" if missing else base)
    for number, part in enumerate(plan.parts):
        got = outputs.get(number)
        if got is None:
            continue
        if got.exit_status is None:
            found.append(f"part {part.label!r} was cut off mid-output")
        elif got.exit_status in (124, 137):
            found.append(f"part {part.label!r} was killed at its deadline")
        elif got.truncated:
            found.append(f"part {part.label!r} output was cut at its cap of "
                         f"{part.cap_bytes} bytes")
    return tuple(found)


def parse_standalone(output: bytes, source: str) -> tuple[list[ProbeCall], ParsedOutput]:
    """Parse a collector-script output file by itself (offline evaluation)."""
    match = _PLAN_LINE.search(output)
    if match is None:
        raise InputError(source, "not collector output: no cii-scan PLAN line found")
    try:
        plan = json.loads(match.group(2))
        calls = [ProbeCall.of(str(name), dict(args)) for name, args in plan["calls"]]
        framing = plan.get("framing", 1)
    except (ValueError, KeyError, TypeError, AttributeError):
        raise InputError(source, "collector output has a damaged PLAN line") from None
    if framing != FRAMING:
        raise InputError(source, f"collector output uses framing {framing!r}; this cii-scan "
                         f"reads framing {FRAMING} (collect again with this version's "
                         "collector-script)")
    unknown = [c.probe for c in calls if c.probe not in probes.catalog()]
    if unknown:
        raise InputError(source, f"collector output uses unknown probe {unknown[0]!r} "
                         "(written by a newer cii-scan?)")
    return calls, parse_output(output, calls, match.group(1).decode())


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def collect(transport: Transport, host: HostIdentity, calls: Sequence[ProbeCall]) -> Facts:
    """Run the collector once through ``transport``; raise TransportError if it never ran."""
    token = new_token()
    budget = getattr(transport, "script_budget_s", None)
    script = build_script(calls, token, budget if isinstance(budget, (int, float)) else None)
    collected_at = utc_now()
    started = time.monotonic()
    result = transport.run(script)
    parsed = parse_output(result.stdout, calls, token, cut=result.cut)
    if parsed.frames_seen == 0:
        if result.cut:
            raise TransportError(result.cut_status, result.cut)
        why = first_line(result.stderr_tail) or f"exit status {result.exit_status}"
        raise TransportError("error", f"the collector script did not run: {why}")
    problems = parsed.problems
    if not problems and result.cut:
        problems = (result.cut,)
    return Facts(
        host=replace(host, hostkey_fingerprint=result.hostkey_fingerprint
                     or host.hostkey_fingerprint),
        results=parsed.results,
        collected_at=collected_at,
        duration_s=time.monotonic() - started,
        complete=not problems,
        incomplete_reason=_one_reason(problems),
        host_clock_start=parsed.clock_start,
        host_clock_end=parsed.clock_end,
    )


def _one_reason(problems: Sequence[str]) -> str | None:
    """The main reason, and how many more there are, as one line."""
    if not problems:
        return None
    more = len(problems) - 1
    return problems[0] + (f" (and {more} more)" if more else "")
