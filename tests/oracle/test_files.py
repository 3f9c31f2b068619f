"""Account files: the kernel's permission check, asked by a read attempt as another user
and, for the world-readable files, a write attempt.

The other user is ``nobody`` (in no group that owns an account file); for a
group-writable file the writer is ``cii-member``, a member of the file's group that is
not root. POSIX ACLs are built with ``setfacl`` (Debian package ``acl``): ``stat %a``
shows an ACL's mask as the group bits, so a mode check alone passes a file a named
user may read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.oracle._oracle import Answer, Ask, Case, Consumer, State, case_id, check_case

_MEMBER = ("groupadd -f cii-writers && useradd -M -N -g cii-writers -s /bin/sh cii-member",)


def _no_other_reads(path: str) -> Consumer:
    def decide(answers: Sequence[Answer], parameters: Mapping[str, Any]) -> bool:
        return not answers[0].ok
    return Consumer("read attempt as another user (kernel DAC)",
                    [Ask(["cat", "--", path], user="nobody")], decide)


def _no_other_writes(path: str, writer: str = "nobody") -> Consumer:
    """Readable by all is by design (passwd, group); writable by anyone but root is not."""
    def decide(answers: Sequence[Answer], parameters: Mapping[str, Any]) -> bool:
        return not answers[0].ok and not answers[1].ok
    # "test -w" asks access(2), the kernel's own permission check; nothing is written
    return Consumer("write attempt as another user (kernel DAC, access(2) W_OK)",
                    [Ask(["sh", "-c", 'test -w "$0"', path], user="nobody"),
                     Ask(["sh", "-c", 'test -w "$0"', path], user=writer)], decide)


def _state(*setup: str) -> State:
    return State(setup=list(setup), overlays=["/etc", "/var"])  # useradd logs in /var


CASES = [
    # files.shadow-permissions
    Case("files.shadow-permissions", "stock", _state("chmod 0640 /etc/shadow"),
         _no_other_reads("/etc/shadow"), "pass"),
    Case("files.shadow-permissions", "rhel-0000", _state("chmod 0000 /etc/shadow"),
         _no_other_reads("/etc/shadow"), "pass"),
    Case("files.shadow-permissions", "world-readable", _state("chmod 0644 /etc/shadow"),
         _no_other_reads("/etc/shadow"), "fail"),
    Case("files.shadow-permissions", "owned-by-nobody",
         _state("chown nobody /etc/shadow", "chmod 0600 /etc/shadow"),
         _no_other_reads("/etc/shadow"), "fail"),
    # 0640 to stat, but the ACL lets nobody read: %a shows the mask, not the named entry
    Case("files.shadow-permissions", "acl-named-user",
         _state("chmod 0640 /etc/shadow", "setfacl -m u:nobody:r /etc/shadow"),
         _no_other_reads("/etc/shadow"), "fail"),
    Case("files.shadow-permissions", "acl-group-nogroup",
         _state("chmod 0600 /etc/shadow", "setfacl -m g:nogroup:r /etc/shadow"),
         _no_other_reads("/etc/shadow"), "fail"),
    # files.gshadow-permissions
    Case("files.gshadow-permissions", "stock", _state(), _no_other_reads("/etc/gshadow"),
         "pass"),
    Case("files.gshadow-permissions", "world-readable", _state("chmod 0644 /etc/gshadow"),
         _no_other_reads("/etc/gshadow"), "fail"),
    Case("files.gshadow-permissions", "acl-named-user",
         _state("setfacl -m u:nobody:r /etc/gshadow"), _no_other_reads("/etc/gshadow"),
         "fail"),
    # files.passwd-permissions
    Case("files.passwd-permissions", "stock", _state(*_MEMBER),
         _no_other_writes("/etc/passwd", "cii-member"), "pass"),
    Case("files.passwd-permissions", "world-writable", _state("chmod 0666 /etc/passwd"),
         _no_other_writes("/etc/passwd"), "fail"),
    Case("files.passwd-permissions", "group-writable-member",
         _state(*_MEMBER, "chgrp cii-writers /etc/passwd", "chmod 0664 /etc/passwd"),
         _no_other_writes("/etc/passwd", "cii-member"), "fail"),
    Case("files.passwd-permissions", "owned-by-nobody", _state("chown nobody /etc/passwd"),
         _no_other_writes("/etc/passwd"), "fail"),
    Case("files.passwd-permissions", "acl-writer",
         _state("setfacl -m u:nobody:rw /etc/passwd"),
         _no_other_writes("/etc/passwd"), "fail"),
    # files.group-permissions
    Case("files.group-permissions", "stock", _state(*_MEMBER),
         _no_other_writes("/etc/group", "cii-member"), "pass"),
    Case("files.group-permissions", "world-writable", _state("chmod 0666 /etc/group"),
         _no_other_writes("/etc/group"), "fail"),
    Case("files.group-permissions", "group-writable-member",
         _state(*_MEMBER, "chgrp cii-writers /etc/group", "chmod 0664 /etc/group"),
         _no_other_writes("/etc/group", "cii-member"), "fail"),
    Case("files.group-permissions", "acl-writer", _state("setfacl -m u:nobody:rw /etc/group"),
         _no_other_writes("/etc/group"), "fail"),
]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_consumer_decides(case: Case, tmp_path: Path) -> None:
    check_case(case, tmp_path)
