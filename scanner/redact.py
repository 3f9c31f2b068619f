"""Secrets reduced by shape, on the host, before any output leaves it.

Configuration files that probes read can carry credentials no rule needs: a mirror
URI with ``user:password@`` (apt sources, proxies), ``password=``-style values
(client configs, service files) and private keys pasted into a file. The collector
pipes every batch of output through one ``sed`` program (:data:`SED_PROGRAM`) that
overwrites those bytes with ``*`` (keys: ``x``) *one for one*, so file sizes the
framing records still add up and every parser sees the same structure: a URI stays a
URI, a key line stays a line. The scanner applies the same shapes again on arrival
(:func:`redact`), for a host whose ``sed`` is missing or misbehaves and for output
captured by hand.

Shapes (ASCII, case-insensitive keys):

* URI userinfo: ``scheme://USERINFO@`` (USERINFO has no ``/``, ``@`` or blank);
* ``KEY = VALUE`` or ``KEY: VALUE`` where KEY ends in ``password``, ``passwd``,
  ``passphrase``, ``secret``, ``token`` or ``api_key``/``apikey``: the value (quoted:
  up to the closing quote; else up to a blank, quote, ``;`` or ``,``);
* the base64 body lines of ``-----BEGIN … PRIVATE KEY-----`` blocks.

Tools that quote a config line they refuse (libkmod, sudo, visudo) keep those quotes on
the host (their probes drop them), since a quoted key line has lost its BEGIN line.

This module is a leaf: it imports nothing of the project.
"""

from __future__ import annotations

import re

MASK = b"*"
_KEY_WORDS = ("password", "passwd", "passphrase", "secret", "token", "api_key", "apikey")


def _ci(word: str) -> str:
    """A POSIX ERE that matches ``word`` in any letter case (sed has no portable I flag)."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in word)


_ERE_KEY = "(" + "|".join(_ci(word) for word in _KEY_WORDS) + ")"
_ERE_ASSIGN = _ERE_KEY + "[ \t]*[=:][ \t]*"

# Each loop masks one more byte per pass until nothing is left to mask; ``t`` branches
# back while the substitution keeps succeeding. Every replacement is one byte for one.
SED_PROGRAM = "\n".join([
    # private key blocks: every byte of a base64 body line becomes x. The block ends at
    # its END line or at the first line that is not base64, so a key cut short (or a
    # hostile BEGIN line) cannot blank the files read after it.
    r"/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/,/-----END [A-Z0-9 ]*PRIVATE KEY-----|"
    r"[^A-Za-z0-9+\/=]/{",
    r"/^[A-Za-z0-9+\/=]+$/s/./x/g",
    "}",
    ":u",
    r"s#([A-Za-z][A-Za-z0-9+.-]*://\**)[^*/@ \t\"'<>]([^/@ \t\"'<>]*@)#\1*\2#",
    "tu",
    ":q",
    f's/({_ERE_ASSIGN}"\\**)[^*"]/\\1*/',
    "tq",
    ":v",
    f"s/({_ERE_ASSIGN}\\**)[^*\" \t';,]/\\1*/",
    "tv",
])

_URI_USERINFO = re.compile(rb"([A-Za-z][A-Za-z0-9+.-]*://)([^/@ \t\"'<>\n]+)(?=@)")
_PY_ASSIGN = (rb"(?i:" + b"|".join(w.encode() for w in _KEY_WORDS) + rb")[ \t]*[=:][ \t]*")
_QUOTED_VALUE = re.compile(rb"(" + _PY_ASSIGN + rb'")([^"\n]+)')
_BARE_VALUE = re.compile(rb"(" + _PY_ASSIGN + rb")([^\"\s';,]+)")
_KEY_BLOCK = re.compile(rb"(-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[^\n]*\n)"
                        rb"((?:[A-Za-z0-9+/=]*\n)*(?:[A-Za-z0-9+/=]+\Z)?)")


def _mask(match: re.Match[bytes]) -> bytes:
    return match.group(1) + MASK * len(match.group(2))


def _mask_key_body(match: re.Match[bytes]) -> bytes:
    body = re.sub(rb"[^\n]", b"x", match.group(2))
    return match.group(1) + body


_WORDS = tuple(word.encode() for word in _KEY_WORDS)


def _key_word_starts(data: bytes) -> list[int]:
    """Every offset where a key word begins, in any ASCII letter case (as ``(?i:...)``
    matches in a bytes pattern), found by ``bytes.find`` in a lowered copy."""
    lowered = data.lower()
    starts: set[int] = set()
    for word in _WORDS:
        at = lowered.find(word)
        while at != -1:
            starts.add(at)
            at = lowered.find(word, at + 1)
    return sorted(starts)


def _masked_at(pattern: re.Pattern[bytes], data: bytes, starts: list[int]) -> bytes:
    """``pattern.sub(_mask, data)`` for a pattern that can only match where a key word
    begins: tried at those offsets alone, left to right, none inside the previous match.
    A case-insensitive alternation tried at every offset of a whole collector output
    was most of the scanner's time spent masking it."""
    pieces: list[bytes] = []
    done = 0
    for start in starts:
        if start < done:
            continue
        match = pattern.match(data, start)
        if match is None:
            continue
        pieces += (data[done:start], _mask(match))
        done = match.end()
    if not pieces:
        return data
    pieces.append(data[done:])
    return b"".join(pieces)


def redact(data: bytes) -> bytes:
    """The same shapes as :data:`SED_PROGRAM`, masked byte for byte (idempotent)."""
    if b"://" in data:
        data = _URI_USERINFO.sub(_mask, data)
    # masking makes '*' of bytes, never a letter: a key word of the masked data begins
    # where one began before
    starts = _key_word_starts(data)
    if starts:
        data = _masked_at(_QUOTED_VALUE, data, starts)
        data = _masked_at(_BARE_VALUE, data, starts)
    if b"PRIVATE KEY-----" in data:
        data = _KEY_BLOCK.sub(_mask_key_body, data)
    return data
