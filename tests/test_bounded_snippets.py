"""Every probe snippet reads host files through a bound (issue #11, item 1).

A static check over the sh of every probe of the catalog, as tests/test_lines.py checks
the scanner for ``splitlines``: a reading tool (cat, awk, grep, sed, sort, wc, tr, the
shell's ``read`` loop) given a path under /etc, /boot or a home directory reads it
whole, so a gigabyte line without a newline costs the host gigabytes and the time of
every other part. Such files reach tools as ``head -c CAP -- PATH | tool``; their
content reaches parsers through ``Probe.files`` (one ``head -c`` for all of them).

The allow-list holds reads that are bounded by what they read: files the kernel
makes (/proc, /sys: their size is the kernel's, not a file owner's), ``grep -q``/``-l``
that stop at the first match, and tools asked on purpose for their own view of their
own configuration (sshd -T, visudo -c, nft -f, iptables-restore, apt-get, chronyd,
rsyslogd, useradd -D, getent): the collector must ask them, and bounds their output
(each part's ``head -c``) and their time (each part's ``timeout``), not their reads.
"""

from __future__ import annotations

import re

from scanner.baseline import load_baseline
from scanner.collect import plan_parts
from scanner.probes import ProbeCall, catalog
from scanner.probes._common import TOOL_READ_CAP, capped, cut_check, dump_files

# A reading tool, then (on the same simple command) a path argument it reads.
_READER = re.compile(
    # the tool in command position (not a word inside an awk program or an echo)
    r"(?:^|[|;({&`]|\bthen\b|\bdo\b|\belse\b)\s*"
    r"(?P<tool>cat|awk|grep|sed|sort|wc|tr|cut|uniq|tail)\b"
    r"(?P<args>(?:'[^']*'|\\\n|[^|;&()`\n'])*?)"
    r"(?P<path>(?<![\w.-])(?:/etc|/boot|/home|/root|/usr|/lib|/var|/run)/[^\s;|&)'\"]*"
    r"|\"\$(?:f|d|p|m|c|cii_f)\"(?:/[\w.]+)?)", re.MULTILINE)
# The shell's read loop fed by redirection from a path (rather than from head -c).
_READ_LOOP = re.compile(r"done\s*<\s*(?P<path>\"?(?:/etc|/boot|/home|/root|/usr|\$f)[^\s;]*)")

# Why each remaining unbounded read is fine: (call key prefix, start of the matched
# text) -> reason. "" matches every call.
ALLOWED: dict[tuple[str, str], str] = {
    ("", "grep -q -a -F /etc/security/pwhistory.conf"):
        "the path is grep's pattern; the file read is \"$m\", a PAM module under "
        "/lib/security (a system binary), and grep -q stops at its first match",
    ("mac", "grep -c '("):
        "$f is /sys/kernel/security/apparmor/profiles: the kernel's list of profiles",
    ("sysctl", 'done < "$f"'):
        "$f is the /proc/sys entry, read by the shell only when it is a regular file of "
        "size 0 (procfs); anything else bound over it goes through head -c",
}


def _all_snippets() -> dict[str, str]:
    """The sh of every call of the shipped baseline, and of each catalog probe's own
    snippet with the baseline's arguments, keyed by call."""
    texts: dict[str, str] = {}
    calls = load_baseline().probe_calls()
    plan = plan_parts(calls)
    for index, call in enumerate(calls):
        texts[call.key] = "\n".join(plan.parts[number].text for number in plan.uses[index])
    named = {call.probe for call in calls}
    for name in catalog():
        if name not in named:
            texts[name] = _probe_text(ProbeCall.of(name))
    return texts


def _probe_text(call: ProbeCall) -> str:
    probe = catalog()[call.probe]
    try:
        return "\n".join([*probe.shared, probe.snippet(call.args)])
    except (KeyError, TypeError, ValueError):
        return "\n".join(probe.shared)  # needs arguments: the baseline's calls cover it


def _unbounded(text: str) -> list[str]:
    found = []
    for match in _READER.finditer(text):
        path = match.group("path")
        if path.startswith(("/proc", "/sys")):
            continue
        before = text[max(0, match.start("tool") - 80):match.start("tool")]
        if re.search(r"head -c \d+ -- [^|]*\|\s*$", before):
            continue  # head -c CAP -- PATH | tool: the tool reads the bounded copy
        found.append(text[match.start("tool"):match.end()].strip())
    found += [m.group(0) for m in _READ_LOOP.finditer(text)]
    return found


def _allowed(key: str, hit: str) -> bool:
    return any(key.startswith(probe) and hit.startswith(text) for probe, text in ALLOWED)


def test_no_snippet_gives_a_reading_tool_a_file_path() -> None:
    offenders = sorted({f"{key}: {hit}" for key, text in _all_snippets().items()
                        for hit in _unbounded(text) if not _allowed(key, hit)})
    assert offenders == []


def test_the_static_check_sees_an_unbounded_read() -> None:
    """The check itself: it finds each shape it is there to find, and lets the bounded
    copy through (a check that cannot fail proves nothing)."""
    assert _unbounded("awk -F: '$3 == 0 { print $1 }' /etc/passwd")
    assert _unbounded("sed -n 's/^/x=/p' /etc/selinux/config")
    assert _unbounded('grep -c -E \'TMOUT|umask\' -- "$f"')
    assert _unbounded('while IFS= read -r l; do echo "$l"; done < "$f"')
    assert _unbounded("cat /etc/passwd | wc -l")
    assert _unbounded("x=$(awk -F: '$3 == 0 { print $1 }' \\\n  /etc/passwd 2>/dev/null)")
    assert not _unbounded(f"{capped('/etc/passwd', TOOL_READ_CAP)} | awk -F: '{{ print }}'")
    assert not _unbounded("cat /proc/self/mounts")
    assert not _unbounded(dump_files("/etc/pam.d/*"))
    assert not _unbounded(cut_check('"$f"', 10))
