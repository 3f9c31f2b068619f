"""The one-script collector: framing, caps, timeouts, quoting, and shells other than bash."""

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
from scanner.collect import (
    build_script,
    collect,
    new_token,
    parse_output,
    parse_standalone,
    plan_parts,
    runs_in_subshell,
)
from scanner.errors import InputError
from scanner.facts import HostIdentity
from scanner.probes import ProbeCall
from scanner.probes._common import WordDump, dump_files, dump_words, quote, split_word_dump
from scanner.transport.local import LocalTransport
from tests._shells import SHELLS, run_script

OS = ProbeCall.of("os")
PASSWD = ProbeCall.of("file", {"path": "/etc/passwd"})


@pytest.fixture
def patch_probe(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Change one catalog entry (cap, timeout, snippet) for the duration of a test."""
    catalog = probes.catalog()

    def patch(name: str, **changes: object) -> None:
        monkeypatch.setitem(catalog, name, dataclasses.replace(catalog[name], **changes))

    yield patch


@pytest.mark.parametrize("shell", SHELLS)
def test_script_runs_under_each_posix_shell(shell: str) -> None:
    if shutil.which(shell) is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{shell} is missing; tests/run-all.sh installs it")
        pytest.skip(f"{shell} is not installed (tests/run-all.sh installs it)")
    token = new_token()
    calls = [OS, PASSWD, ProbeCall.of("sysctl", {"name": "kernel.randomize_va_space"})]
    parsed = parse_output(run_script(build_script(calls, token), shell), calls, token)
    assert parsed.complete
    # os, file, the shared init section, the sysctl snippet and the sysctl.d file dump
    assert parsed.frames_seen == len(plan_parts(calls).parts) == 5
    assert {r.status for r in parsed.results.values()} == {"ok"}
    assert parsed.results[PASSWD].data["mode"] == "0644"


def test_login_noise_and_forged_markers_do_not_confuse_framing() -> None:
    token = new_token()
    other = new_token()
    script = build_script([OS, PASSWD], token)
    output = run_script(script)
    noisy = (
        b"Welcome to host\n" + f"{other} B 0\nfake\n{other} E 0 0\n".encode()
        + output.replace(b"hostname=", f"{other} E 0 0\nhostname=".encode(), 1)
    )
    parsed = parse_output(noisy, [OS, PASSWD], token)
    assert parsed.results[OS].status == "ok"
    assert parsed.results[PASSWD].status == "ok"


def test_output_cut_short_marks_unfinished_probes_as_errors() -> None:
    token = new_token()
    output = run_script(build_script([OS, PASSWD], token))
    cut = output[: output.index(f"{token} E 0".encode()) - 20]
    parsed = parse_output(cut, [OS, PASSWD], token)
    assert not parsed.complete
    assert parsed.results[OS].status == "error"
    assert "ended before this probe finished" in (parsed.results[OS].error or "")
    assert parsed.results[PASSWD].status == "error"
    assert "never reached" in (parsed.results[PASSWD].error or "")


def test_probe_output_over_its_cap_is_an_error_not_a_partial_parse(
    patch_probe: Callable[..., None],
) -> None:
    patch_probe("os", cap_bytes=64)
    token = new_token()
    parsed = parse_output(run_script(build_script([OS, PASSWD], token)), [OS, PASSWD], token)
    assert parsed.results[OS].status == "error"
    assert "exceeded the 64-byte cap" in (parsed.results[OS].error or "")
    assert parsed.results[PASSWD].status == "ok"  # the next probe still runs


def test_endless_output_is_cut_at_the_cap(
    patch_probe: Callable[..., None],
) -> None:
    patch_probe("os", cap_bytes=4096, snippet=lambda args: "yes cii-noise")
    token = new_token()
    parsed = parse_output(run_script(build_script([OS, PASSWD], token)), [OS, PASSWD], token)
    assert parsed.results[OS].status == "error"
    assert parsed.results[PASSWD].status == "ok"


def test_probe_that_never_returns_is_killed_at_its_timeout(
    patch_probe: Callable[..., None],
) -> None:
    patch_probe("os", timeout_s=1, snippet=lambda args: "sleep 300")
    token = new_token()
    parsed = parse_output(run_script(build_script([OS, PASSWD], token)), [OS, PASSWD], token)
    assert parsed.results[OS].status == "error"
    assert "timed out after 1 s" in (parsed.results[OS].error or "")
    assert parsed.results[PASSWD].status == "ok"


HOSTILE_PATHS = [
    "/tmp/x'; touch /tmp/cii-pwned-1; echo '",
    '/tmp/x"; touch /tmp/cii-pwned-2; echo "',
    "/tmp/$(touch /tmp/cii-pwned-3)",
    "/tmp/`touch /tmp/cii-pwned-4`",
    "/tmp/a\ntouch /tmp/cii-pwned-5\n",
    "/tmp/*",
    "/tmp/x && touch /tmp/cii-pwned-6 || true",
    "/tmp/" + "A" * 3000,
]


def test_hostile_probe_arguments_are_data_not_code() -> None:
    for index in range(1, 7):
        Path(f"/tmp/cii-pwned-{index}").unlink(missing_ok=True)
    calls = [ProbeCall.of("file", {"path": path}) for path in HOSTILE_PATHS]
    token = new_token()
    script = build_script(calls, token)
    parsed = parse_output(run_script(script), calls, token)
    assert parsed.complete
    for index in range(1, 7):
        assert not Path(f"/tmp/cii-pwned-{index}").exists(), f"injection {index} ran"
    for call in calls:
        result = parsed.results[call]
        assert result.status in ("ok", "error"), result
        if call.args["path"] == "/tmp/*":
            assert result.data == {"exists": False}  # quoted: not a glob


def test_nul_bytes_in_arguments_cannot_reach_the_shell() -> None:
    with pytest.raises(ValueError):
        subprocess.run(["sh", "-c", build_script([ProbeCall.of("file", {"path": "/a\x00b"})],
                                                 new_token())], check=False)


def test_collect_through_local_transport_builds_facts() -> None:
    facts = collect(LocalTransport(), HostIdentity("local", "localhost"), [OS, PASSWD])
    assert facts.os is not None and facts.os["family"] == "debian"
    assert facts.results[PASSWD].status == "ok"
    assert facts.digest().startswith("sha256:")


def test_collector_output_file_can_be_evaluated_standalone(tmp_path: Path) -> None:
    token = new_token()
    output = run_script(build_script([OS, PASSWD], token))
    calls, parsed = parse_standalone(output, "out.txt")
    assert calls == [OS, PASSWD]
    assert parsed.results[PASSWD].status == "ok"
    with pytest.raises(InputError, match="no cii-scan PLAN line"):
        parse_standalone(b"hello\n", "junk.txt")


def test_non_utf8_bytes_in_probe_output_are_replaced_not_fatal() -> None:
    token = new_token()
    body = "主机".encode("gbk") + b"\xff\xfe"
    output = (f"\n{token} B 0\n".encode() + b"hostname=" + body + b"\nkernel=6.1\n"
              + f"\n{token} E 0 0\n".encode())
    parsed = parse_output(output, [OS], token)
    assert parsed.results[OS].status == "ok"
    assert "\ufffd" in parsed.results[OS].data["hostname"]


def test_script_is_deterministic_apart_from_the_token() -> None:
    first = build_script([OS, PASSWD], "CIIM" + "0" * 32)
    second = build_script([OS, PASSWD], "CIIM" + "0" * 32)
    assert first == second
    with pytest.raises(ValueError):
        build_script([OS], "not-a-token")


def test_a_part_that_hangs_inside_a_batch_is_rerun_alone_and_the_rest_carry_on(
    patch_probe: Callable[..., None],
) -> None:
    """Same time limit, so one batch: the hang stops it, the hung part gets its own full
    limit alone, and a new batch runs what came after."""
    patch_probe("file", timeout_s=2)
    patch_probe("os", timeout_s=2, snippet=lambda args: "sleep 300")
    group = ProbeCall.of("file", {"path": "/etc/group"})
    calls = [PASSWD, OS, group]
    assert len(plan_parts(calls).parts) == 3
    token = new_token()
    output = run_script(build_script(calls, token))
    parsed = parse_output(output, calls, token)
    assert parsed.complete
    assert parsed.results[PASSWD].status == "ok"
    assert "timed out after 2 s" in (parsed.results[OS].error or "")
    assert parsed.results[group].status == "ok"
    assert output.count(f"{token} B 1\n".encode()) == 2  # in the batch, then alone
    assert f"{token} X 1 124\n".encode() in output


def test_a_batch_over_its_output_bound_reruns_the_part_it_cut_without_failing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The batch bound is not a probe's cap: a part cut by it runs again alone and passes."""
    monkeypatch.setattr(collect_module, "BATCH_CAP_BYTES", 600)
    calls = [OS, PASSWD, ProbeCall.of("accounts"), ProbeCall.of("file", {"path": "/etc"})]
    token = new_token()
    output = run_script(build_script(calls, token))
    parsed = parse_output(output, calls, token)
    assert parsed.complete
    assert {call.key: result.status for call, result in parsed.results.items()} == {
        call.key: "ok" for call in calls}
    assert len(output) > 2 * 600  # so batches were cut, and the cut parts ran again
    assert f"{token} X ".encode() not in output  # no part had to be given up


def test_a_part_whose_end_frame_the_batch_bound_cut_runs_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The bound falls inside part 1's end frame after it reported its end: what the
    pipe held when head stopped reading is lost, so part 1 did not finish and runs again
    alone, though the part after it kept going."""
    calls = [OS, PASSWD, ProbeCall.of("accounts")]
    token = new_token()
    whole = run_script(build_script(calls, token))
    start = whole.index(f"\n{token} B 0".encode())
    end_frame = whole.index(f"\n{token} E 1 ".encode())
    monkeypatch.setattr(collect_module, "BATCH_CAP_BYTES", end_frame - start + 10)
    output = run_script(build_script(calls, token))
    assert output.count(f"{token} B 1\n".encode()) == 2  # cut in the batch, then alone
    parsed = parse_output(output, calls, token)
    assert {call.key: result.status for call, result in parsed.results.items()} == {
        call.key: "ok" for call in calls}


def test_files_several_probes_read_are_read_once() -> None:
    calls = [ProbeCall.of("pam"), ProbeCall.of("pwquality"), ProbeCall.of("faillock"),
             ProbeCall.of("pam_module", {"service": "login", "type": "auth",
                                         "module": "pam_unix.so"})]
    plan = plan_parts(calls)
    assert plan.words.count("/etc/pam.d/*") == 1
    pam = plan.words.index("/etc/pam.d/*")
    assert all(pam in used for used in plan.word_uses)
    assert [part.label for part in plan.parts].count("files") == 1
    token = new_token()
    script = build_script(calls, token)
    assert script.count("for f in /etc/pam.d/*;") == 1
    parsed = parse_output(run_script(script), calls, token)
    assert {result.status for result in parsed.results.values()} == {"ok"}
    # each probe still sees the same files it would read by itself
    for call in calls:
        alone = new_token()
        by_itself = parse_output(run_script(build_script([call], alone)), [call], alone)
        assert by_itself.results[call] == parsed.results[call]


def test_collector_output_of_another_framing_is_refused_offline() -> None:
    token = new_token()
    output = run_script(build_script([OS], token))
    older = output.replace(b'"framing":2', b'"framing":1', 1)
    assert older != output
    with pytest.raises(InputError, match="framing 1"):
        parse_standalone(older, "old.txt")


M = "CIIM" + "7" * 32


def _heads(*lines: str) -> bytes:
    return "".join(f"{M} {line}\n" for line in lines).encode()


def _words(*frames: bytes, cut: tuple[int, ...] = ()) -> list[WordDump]:
    return [WordDump(f, index in cut) for index, f in enumerate(frames)]


@pytest.mark.parametrize(("payload", "count", "expected"), [
    pytest.param(_heads("W 0", "N /etc/pam.d/*"), 1, _words(_heads("N /etc/pam.d/*")),
                 id="no-match"),
    pytest.param(_heads("W 0", "R /e/a", "U /e/b", "W 1", "R /e/c", "O /e/d", "S")
                 + b"3\n0\n" + _heads("C") + b"a\nb", 2,
                 _words(_heads("F /e/a") + b"a\nb\n" + _heads("U /e/b"),
                        _heads("F /e/c") + b"\n" + _heads("O /e/d")),
                 id="two-words-read-unreadable-empty-other"),
    pytest.param(_heads("W 0", "R /e/a", "S") + b"4\n" + _heads("C") + b"a\x00\xff\n", 1,
                 _words(_heads("F /e/a") + b"a\x00\xff\n\n"), id="binary-bytes-kept"),
    pytest.param(_heads("W 0", "R /e/big", "R /e/a", "S") + b"99\n1\n" + _heads("C")
                 + b"x", 1,
                 _words(_heads("CUT 10 99 /e/big", "F /e/a") + b"x\n", cut=(0,)),
                 id="longer-than-the-file-cap-is-not-read"),
    pytest.param(_heads("W 0", "R /e/big", "S") + b"99\n" + _heads("C") + b"0123456789", 1,
                 None, id="over-the-cap-but-read"),
    pytest.param(_heads("W 0", "R /e/a", "S") + b"5\n" + _heads("C") + b"abc", 1, None,
                 id="shrank-while-read"),
    pytest.param(_heads("W 0", "R /e/a", "R /e/b", "S") + b"1\n" + _heads("C") + b"a", 1,
                 None, id="vanished-before-stat"),
    pytest.param(_heads("W 0", "R /e/a"), 1, None, id="cut-before-sizes"),
    pytest.param(_heads("W 0", "R /e/a", "S") + b"1\n", 1, None, id="cut-before-content"),
    pytest.param(b"noise\n" + _heads("W 0", "N /e/*"), 1, None, id="stray-line"),
    pytest.param(_heads("R /e/a"), 1, None, id="entry-before-any-word"),
    pytest.param(_heads("W 0", "W 2"), 3, None, id="word-skipped"),
    pytest.param(_heads("W 0"), 2, None, id="word-missing"),
    pytest.param(_heads("W 0", "R /e/a", "S") + b"x\n" + _heads("C") + b"a", 1, None,
                 id="bad-size"),
])
def test_file_dump_splits_into_frames_per_word_or_refuses(
        payload: bytes, count: int, expected: list[WordDump] | None) -> None:
    assert split_word_dump(payload, M, count, file_cap=10) == expected


def test_one_file_dump_reads_as_dump_files_does_word_by_word(tmp_path: Path) -> None:
    """The real sh of both on the same odd directory, through each real shell."""
    (tmp_path / "plain").write_text("auth required pam_unix.so\n")
    (tmp_path / "no-newline").write_bytes(b"session optional pam_umask.so")
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "gbk").write_bytes("# 注释\n".encode("gbk") + b"\x00\xff\n")
    (tmp_path / "sub").mkdir()
    os.mkfifo(tmp_path / "fifo")
    locked = tmp_path / "locked"
    locked.write_text("secret\n")
    locked.chmod(0)
    os.symlink("plain", tmp_path / "link")
    words = [quote(str(tmp_path)) + "/*", quote(str(tmp_path / "plain")),
             quote(str(tmp_path)) + "/none-*", quote(str(tmp_path / "gone"))]
    env = {"CII_M": M, "PATH": "/usr/bin:/bin"}
    for shell in [s for s in SHELLS if shutil.which(s)]:
        argv = ["busybox", "sh", "-c"] if shell == "busybox" else [shell, "-c"]
        one_by_one = [subprocess.run([*argv, dump_files(word)], env=env, capture_output=True,
                                     check=True).stdout for word in words]
        together = subprocess.run([*argv, dump_words(words, 1024)], env=env,
                                  capture_output=True, check=True).stdout
        assert split_word_dump(together, M, len(words), 1024) == _words(*one_by_one), shell
        # empty, gbk, link, no-newline, plain (twice); and "locked" when root runs this
        assert together.count(b" R ") == (7 if os.geteuid() == 0 else 6)


def test_parts_run_in_the_batch_shell_set_every_variable_they_read() -> None:
    """Parts without a subshell share the batch's variables, so none may read a variable
    it did not set itself: each runs here under ``set -u`` with nothing inherited."""
    calls = load_baseline().probe_calls()
    in_shell = [part for part in plan_parts(calls).parts if not runs_in_subshell(part.text)]
    assert len(in_shell) > len(calls) // 2
    for part in in_shell:
        for shell in [s for s in SHELLS if shutil.which(s)]:
            argv = ["busybox", "sh"] if shell == "busybox" else [shell]
            done = subprocess.run([*argv, "-u", "-c", part.text], capture_output=True,
                                  env={"CII_M": M, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
                                  stdin=subprocess.DEVNULL, timeout=120, check=False)
            assert b"parameter not set" not in done.stderr, (shell, part.label, done.stderr)
            assert b"unbound variable" not in done.stderr, (shell, part.label, done.stderr)


@pytest.mark.parametrize(("text", "isolated"), [
    ("exit 3", True), ("cd /tmp; ls", True), (". /etc/os-release", True),
    ("if true; then . /x; fi", True), ("trap '' INT", True), ("export X=1", True),
    ("set -e; false", True), ("for f in a; do break; done", True), ("cii_i=9", True),
    ('set --; for f in /etc/*; do set -- "$@" "$f"; done', False),
    ("grep -q . /proc/net/ip_tables_names", False), ("cat /usr/local/lib/x", False),
    ("stat -L -c '%a' -- /etc/passwd", False),
])
def test_sh_that_could_end_or_change_the_batch_shell_gets_a_subshell(text: str,
                                                                     isolated: bool) -> None:
    assert runs_in_subshell(text) is isolated


def test_a_hung_part_costs_only_its_share_of_the_host_budget(
    patch_probe: Callable[..., None],
) -> None:
    """With a host budget, a part that hangs is killed at half of what remains (not its
    own 60 s), is not given time again, and the parts after it still run."""
    patch_probe("os", snippet=lambda args: "trap '' TERM; while :; do sleep 1; done")
    group = ProbeCall.of("file", {"path": "/etc/group"})
    calls = [PASSWD, OS, group]
    token = new_token()
    done = subprocess.run(["sh", "-s"], input=build_script(calls, token, budget_s=8).encode(),
                          capture_output=True, timeout=60, check=False)
    parsed = parse_output(done.stdout, calls, token)
    assert parsed.complete  # the END marker came, within the budget
    assert parsed.results[OS].status == "error"
    assert parsed.results[PASSWD].status == "ok"
    assert parsed.results[group].status == "ok"
    assert done.stdout.count(f"{token} B 1\n".encode()) <= 1  # no second run of the hang
    assert any("killed at its deadline" in why for why in parsed.problems), parsed.problems


def test_parts_past_a_spent_budget_are_not_collected_naming_it() -> None:
    token = new_token()
    calls = [OS, PASSWD]
    plan = plan_parts(calls)
    first = plan.own[0]
    assert first is not None
    output = run_script(build_script(calls, token))
    head = output[: output.index(f"{token} E {first} ".encode())]
    head = head[: head.rindex(b"\n") + 1] + f"{token} E {first} 0\n".encode()
    skipped = b"".join(f"\n{token} S {n}\n".encode() for n in range(len(plan.parts))
                       if n != first)
    # only os's own part ran; the host skipped the rest, its budget spent
    parsed = parse_output(head + skipped + f"\n{token} END\n".encode(), calls, token)
    assert parsed.results[PASSWD].status == "error"
    assert (parsed.results[PASSWD].error or "").startswith("not collected: ")
    assert "budget" in (parsed.results[PASSWD].error or "")
    assert parsed.problems and "budget" in parsed.problems[0]


def test_output_cut_by_the_transport_names_the_cut() -> None:
    token = new_token()
    output = run_script(build_script([OS, PASSWD], token))
    cut = output[: output.index(f"{token} B 1".encode())]
    parsed = parse_output(cut, [OS, PASSWD], token, cut="the connection dropped mid-output")
    assert not parsed.complete
    assert parsed.results[OS].status == "ok"  # its frame completed: it keeps its result
    assert "the connection dropped" in (parsed.results[PASSWD].error or "")
    assert parsed.problems[0].startswith("the connection dropped mid-output: 1 of 2")


def test_local_transport_at_its_deadline_keeps_what_arrived(
    patch_probe: Callable[..., None],
) -> None:
    """The local scan honours its timeout like a remote one: the process group is killed
    at the deadline, and the host is still scanned from the frames that completed."""
    marker = new_token()  # names the hung part's processes
    patch_probe("os", snippet=lambda args: f"trap '' TERM; while :; do sleep 1; done # {marker}")
    patch_probe("file", timeout_s=5)  # a shorter limit runs first: the file read, then os
    calls = [PASSWD, OS]
    assert LocalTransport(timeout_s=3).script_budget_s < 3

    class NoScriptBudget(LocalTransport):
        """The script's own budget left out (as on a host without date +%s): the
        transport's deadline must cut it."""

        script_budget_s = None  # type: ignore[assignment]

    facts = collect(NoScriptBudget(timeout_s=3), HostIdentity("local", "localhost"), calls)
    assert facts.results[PASSWD].status == "ok"
    assert facts.results[OS].status == "error"
    assert not facts.complete
    assert "budget of 3 s spent" in (facts.incomplete_reason or "")
    assert facts.duration_s < 15
    # nothing of the collector outlives the kill (timeout leads groups of its own)
    alive = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            alive += [cmdline] if marker.encode() in cmdline.read_bytes() else []
        except OSError:
            continue
    assert not alive


def test_local_transport_cancel_returns_partial_output() -> None:
    import threading

    transport = LocalTransport(timeout_s=60)
    threading.Timer(1.0, transport.cancel).start()
    result = transport.run("echo first; sleep 30; echo never\n")
    assert result.stdout == b"first\n"
    assert result.cut is not None and "cancelled" in result.cut
