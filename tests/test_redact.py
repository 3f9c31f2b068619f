"""The scanner's own masking on arrival equals its shapes' regular expressions applied to
the whole output, on generated text dense in every key word, case, separator and quote
(scanner.redact tries the key-value shapes only where a key word begins)."""

from __future__ import annotations

import random

import pytest

from scanner import redact as masking


def _reference(data: bytes) -> bytes:
    """The shapes applied as plain ``re.sub`` over the whole text, the definition."""
    if b"://" in data:
        data = masking._URI_USERINFO.sub(masking._mask, data)
    data = masking._QUOTED_VALUE.sub(masking._mask, data)
    data = masking._BARE_VALUE.sub(masking._mask, data)
    if b"PRIVATE KEY-----" in data:
        data = masking._KEY_BLOCK.sub(masking._mask_key_body, data)
    return data


_PIECES = [*(w.encode() for w in ("password", "passwd", "passphrase", "secret", "token",
                                  "api_key", "apikey", "PassWord", "TOKEN", "Api_Key",
                                  "pass", "word", "sec")),
           b"=", b":", b" ", b"\t", b'"', b"'", b";", b",", b"\n", b"*", b"x", b"abc",
           b"https://user:pw@host/", b"://", b"@", b"/", b"pass=word", b"token=secret"]


def _texts(seed: int, count: int) -> list[bytes]:
    rng = random.Random(seed)
    return [b"".join(rng.choice(_PIECES) for _ in range(rng.randrange(1, 60)))
            for _ in range(count)]


@pytest.mark.parametrize("seed", range(8))
def test_masking_at_key_words_equals_the_shapes_over_the_whole_text(seed: int) -> None:
    for text in _texts(seed, 500):
        assert masking.redact(text) == _reference(text), text


def test_key_words_inside_a_masked_value_are_not_masked_again() -> None:
    text = b'password="token=abc secret=def" token=ghi\n'
    assert masking.redact(text) == _reference(text)
    assert masking.redact(text) == b'password="' + b'*' * 20 + b'" token=***\n'
