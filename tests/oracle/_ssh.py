"""Consumers and states for the SSH oracle: the real sshd decides.

Two consumers: ``sshd -T -C`` (OpenSSH's own evaluation of its files, Include and Match
for one connection, with a daemon's own options), and a real public-key login as root
over loopback to a daemon started in the state's own network namespace, which proves
what the *running* daemon allows whatever its files now say.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tests.oracle._oracle import Answer, Ask, Consumer, State

SSHD = "/usr/sbin/sshd"
CONFIG = "/etc/ssh/sshd_config"
PORT = "2222"
PEER = "host=cii-oracle.invalid,addr=203.0.113.9,laddr=127.0.0.1,lport=22"
ROOT = f"user=root,{PEER}"
ALICE = f"user=alice,{PEER}"
KEY = "/root/.ssh/cii_oracle"

Settings = Mapping[str, Sequence[str]]
Check = Callable[[Settings, Mapping[str, Any]], bool]


def settings_of(stdout: str) -> dict[str, list[str]]:
    """``sshd -T`` output: keyword (lower-case) -> every value printed for it."""
    found: dict[str, list[str]] = {}
    for line in stdout.split("\n"):
        keyword, _, value = line.partition(" ")
        if keyword:
            found.setdefault(keyword.lower(), []).append(value)
    return found


def one(settings: Settings, keyword: str) -> str:
    values = settings.get(keyword, [])
    return values[0] if values else ""


def _number(text: str) -> int | None:
    return int(text) if re.fullmatch(r"\d+", text) else None


# What each rule asks of one connection's settings (the intent of the rule, applied to
# sshd's own answer).
def root_no(s: Settings, p: Mapping[str, Any]) -> bool:
    return one(s, "permitrootlogin") == "no"


def empty_no(s: Settings, p: Mapping[str, Any]) -> bool:
    return one(s, "permitemptypasswords") == "no"


def x11_no(s: Settings, p: Mapping[str, Any]) -> bool:
    return one(s, "x11forwarding") == "no"


def banner_set(s: Settings, p: Mapping[str, Any]) -> bool:
    return one(s, "banner") not in ("none", "")


def max_tries(s: Settings, p: Mapping[str, Any]) -> bool:
    tries = _number(one(s, "maxauthtries"))
    return tries is not None and tries <= int(p["ssh_max_auth_tries"])


def idle(s: Settings, p: Mapping[str, Any]) -> bool:
    interval = _number(one(s, "clientaliveinterval"))
    count = _number(one(s, "clientalivecountmax"))
    return (interval is not None and 1 <= interval <= int(p["ssh_client_alive_max"])
            and count is not None and count <= int(p["ssh_client_alive_count_max"]))


def two_factors(s: Settings, p: Mapping[str, Any]) -> bool:
    chains = " ".join(s.get("authenticationmethods", [])).split()
    return bool(chains) and all("," in chain for chain in chains)


def strong_crypto(s: Settings, p: Mapping[str, Any]) -> bool:
    ciphers = one(s, "ciphers").split(",")
    macs = one(s, "macs").split(",")
    kex = one(s, "kexalgorithms").split(",")
    return (bool(ciphers[0]) and not any(c.endswith("-cbc") or "arcfour" in c or "3des" in c
                                         for c in ciphers)
            and not any("md5" in m or "-96" in m for m in macs)
            and not any("sha1" in k for k in kex))


def sshd_t(check: Check, specs: Sequence[str] = (ROOT, ALICE),
           options: Sequence[str] = ()) -> Consumer:
    """``sshd -T -C`` for each spec (with a daemon's options); compliant when every
    answer succeeds and satisfies ``check``."""
    asks = [Ask([SSHD, *options, "-T", "-C", spec]) for spec in specs]

    def decide(answers: Sequence[Answer], parameters: Mapping[str, Any]) -> bool:
        return all(a.ok and check(settings_of(a.stdout), parameters) for a in answers)
    return Consumer("sshd -T -C", asks, decide)


def config(text: str | bytes, **files: str | bytes | None) -> State:
    """A state whose sshd_config is ``text`` (drop-ins keyed by file name)."""
    laid: dict[str, str | bytes | None] = {CONFIG: text}
    for name, content in files.items():
        laid[f"/etc/ssh/sshd_config.d/{name.replace('_', '-')}.conf"] = content
    return State(files=laid, pid=True)


# ---------------------------------------------------------------- running daemons

_KEY_SETUP = (
    "mkdir -p /run/sshd /root/.ssh && chmod 700 /root/.ssh",
    f"ssh-keygen -q -t ed25519 -N '' -f {KEY}",
    f"cp {KEY}.pub /root/.ssh/authorized_keys && chmod 600 /root/.ssh/authorized_keys",
    # the files predate the daemon by more than the probe's start-time slack
    "sleep 1",
)


def daemon(files: Mapping[str, str | bytes | None], start: str, after: Sequence[str] = (),
           modes: Mapping[str, int] | None = None) -> State:
    """A state with a real sshd started by ``start`` (sh) in the state's own network and
    pid namespace, then ``after`` run (e.g. the file changed without a reload)."""
    return State(files=files, modes=modes or {}, overlays=["/root", "/run"], net=True, pid=True,
                 setup=(*_KEY_SETUP, start, "sleep 0.5", *after))


def login_as_root(then: Sequence[Ask] = (), check: Check | None = None,
                  user: str = "root") -> Consumer:
    """A real public-key login as root (or another account of uid 0: ``user``) to the
    daemon on 127.0.0.1; compliant when it is refused, and (after restart) when
    ``sshd -T -C`` on the files passes ``check``."""
    login = Ask(["ssh", "-i", KEY, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                 "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10",
                 "-p", PORT, f"{user}@127.0.0.1", "true"], timeout=30)

    def decide(answers: Sequence[Answer], parameters: Mapping[str, Any]) -> bool:
        refused = not answers[0].ok
        restart = all(a.ok and (check is None or check(settings_of(a.stdout), parameters))
                      for a in answers[1:])
        return refused and restart
    name = f"ssh login as {user}" + (" + sshd -T -C (next start)" if then else "")
    return Consumer(name, [login, *then], decide)


def next_start(spec: str = ROOT) -> list[Ask]:
    """The question a restart answers: sshd with no options, on the files on disk."""
    return [Ask([SSHD, "-T", "-C", spec])]


# ---------------------------------------------------------------- files sshd keeps

MEMBER = "cii-member"


def nobody_member_owner_locked_out(path: str, exempt_group: str | None = None) -> Consumer:
    """Read and write attempts on ``path`` as nobody, as a member of the file's group
    (unless it is ``exempt_group``, whose members the rule lets read) and as its owner
    when that is not root (the kernel's DAC decides); compliant when every one is
    refused."""
    quoted = path.replace("'", "'\\''")
    attempt = f"cat -- '{quoted}' >/dev/null 2>&1 || : 2>/dev/null >> '{quoted}'"
    asks = [Ask(["sh", "-c", attempt], user="nobody"),
            Ask(["sh", "-c", f"g=$(stat -L -c %G -- '{quoted}'); "
                 f"[ \"$g\" = '{exempt_group or ''}' ] && exit 1; "
                 f"runuser -u {MEMBER} -g \"$g\" -- sh -c \"$0\"", attempt]),
            Ask(["sh", "-c", f"o=$(stat -L -c %U -- '{quoted}'); [ \"$o\" = root ] && exit 1; "
                 "runuser -u \"$o\" -- sh -c \"$0\"", attempt])]

    def decide(answers: Sequence[Answer], parameters: Mapping[str, Any]) -> bool:
        return not any(answer.ok for answer in answers)
    return Consumer("read/write attempt as another user (kernel DAC)", asks, decide)


def file_state(path: str, mode: int, owner: str = "root:root",
               setup: Sequence[str] = ()) -> State:
    """``path`` (which exists on the machine) with this mode and owner, and the account
    the group-member attempt uses."""
    return State(setup=[f"useradd -M -N -s /bin/sh {MEMBER}", *setup,
                        f"chown {owner} {path}", f"chmod {mode:o} {path}"],
                 overlays=["/etc"])
