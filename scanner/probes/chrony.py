"""chronyd's sources as chronyd itself reads its configuration (chrony 4.3).

The host's chronyd is asked for its configuration (``chronyd -p``: parse, print, exit),
which resolves ``confdir`` and ``include`` in chronyd's own order and leaves out every
file it does not read (a conf.d without a ``confdir`` line, /etc/chrony.conf on Debian).
``sourcedir`` directories are read by the running daemon, not by ``-p``: per
chrony.conf(5) only their files ending in ``.sources``, holding server, pool and peer
lines, count.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from scanner.lines import fields, split_lines

SOURCE_DIRECTIVES = ("server", "pool", "peer")


def chrony_servers(printed: str, files: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """(sources, sourcedir directories) from ``chronyd -p`` output and the files read."""
    servers: list[str] = []
    directories: list[str] = []
    for line in split_lines(printed):
        words = fields(line)
        if len(words) >= 2 and words[0].lower() in SOURCE_DIRECTIVES:
            servers.append(words[1])
        elif len(words) >= 2 and words[0].lower() == "sourcedir":
            directories.append(words[1].rstrip("/"))
    for directory in directories:
        for path in sorted(files):
            if path.startswith(directory + "/") and path.endswith(".sources") \
                    and "/" not in path[len(directory) + 1:]:
                for line in split_lines(files[path]):
                    words = fields(re.sub(r"[#!;%].*", "", line))
                    if len(words) >= 2 and words[0].lower() in SOURCE_DIRECTIVES:
                        servers.append(words[1])
    return servers, directories
