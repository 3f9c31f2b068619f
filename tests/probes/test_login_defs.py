"""login.defs numbers and lines as shadow-utils 4.13's getdef.c reads them (the oracle
states in tests/oracle/test_login_defs.py ask useradd itself)."""

from __future__ import annotations

import pytest

from scanner.probes.login_defs import fgets_lines, login_defs_number, read_login_defs
from tests.conftest import frame_files, interpret


@pytest.mark.parametrize(("value", "number"), [
    ("60", 60), ("+60", 60), ("-1", -1), ("0x3c", 60), ("0X3C", 60), ("010", 8), ("0", 0),
    ("\x0b60", 60), ("090", None), ("08", None), ("0x", None), ("60 ", None), ("", None),
    ("6 0", None), ("2147483647", 2**31 - 1), ("2147483648", None), ("-2147483648", -(2**31)),
    ("9999999999", None), ("+-1", None), ("٦٠", None),
])
def test_numbers_as_getlong_and_getdef_num_read_them(value: str, number: int | None) -> None:
    assert login_defs_number(value) == number


def test_lines_end_at_newline_only_and_trailing_isspace_is_trimmed() -> None:
    values = read_login_defs("PASS_MAX_DAYS 99999\n#\x0bPASS_MAX_DAYS 60\n#\rPASS_MIN_DAYS 5\n"
                             "PASS_WARN_AGE 7\x0b\r\n\x0bUMASK 027\n")
    assert values == {"PASS_MAX_DAYS": "99999", "PASS_WARN_AGE": "7", "\x0bUMASK": "027"}


def test_fgets_reads_a_long_line_in_pieces() -> None:
    text = "#" + "x" * 1022 + "PASS_MAX_DAYS 60\n"
    assert fgets_lines(text)[1] == "PASS_MAX_DAYS 60"
    assert read_login_defs(text) == {"PASS_MAX_DAYS": "60"}
    assert read_login_defs("#" + "x" * 1021 + "PASS_MAX_DAYS 60\n") == {"ASS_MAX_DAYS": "60"}


def test_probe_reports_invalid_numbers_and_uses_the_default() -> None:
    result = interpret("login_defs", frame_files({"/etc/login.defs": "PASS_MAX_DAYS 090\n"
                                                  "PASS_MIN_DAYS 0x1\n"}))
    assert result.data["settings"]["PASS_MAX_DAYS"] == 99999
    assert result.data["invalid"] == {"PASS_MAX_DAYS": "090"}
    assert result.data["settings"]["PASS_MIN_DAYS"] == 1
