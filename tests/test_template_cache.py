"""The compiled templates kept between runs: used only from a private directory of the
user's, recompiled when damaged, and never the reason a report fails."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from scanner.render import _jinja
from tests._scanner import REPO_ROOT

# a program that renders the diff page's template and says whether a kept entry was used
_RENDER = """
from scanner.render import _jinja
_jinja.environment().get_template("diff.html.j2")
print("cached" if _jinja.environment().bytecode_cache is not None else "uncached")
"""


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    _jinja.environment.cache_clear()
    yield tmp_path / "cache"
    _jinja.environment.cache_clear()


def _entries(home: Path) -> list[Path]:
    return sorted((home / "cii-scan" / "templates").glob("cii-scan-*.cache"))


def test_a_template_is_compiled_once_and_later_runs_load_it(cache_home: Path) -> None:
    _jinja.environment().get_template("diff.html.j2")
    entries = _entries(cache_home)
    assert len(entries) == 1
    directory = entries[0].parent
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    kept = entries[0].read_bytes()
    mtime = entries[0].stat().st_mtime_ns
    # a new process, as the next run: it loads the entry (the template's own code)
    done = subprocess.run([sys.executable, "-c", _RENDER], capture_output=True, text=True,
                          timeout=120, check=True, cwd=REPO_ROOT,
                          env={**os.environ, "XDG_CACHE_HOME": str(cache_home)})
    assert done.stdout.strip() == "cached"
    assert entries[0].read_bytes() == kept  # loaded, not compiled and written again
    assert entries[0].stat().st_mtime_ns == mtime


def test_the_kept_code_renders_what_a_fresh_compile_renders(cache_home: Path) -> None:
    from scanner.render.trend import Trend, render_trend

    trend = Trend(store="x", generated_at="2026-12-01T00:00:00Z", points=())
    fresh = render_trend(trend)  # compiles and keeps the code
    _jinja.environment.cache_clear()
    assert _entries(cache_home)
    assert render_trend(trend) == fresh  # from the kept code


def test_a_damaged_entry_is_compiled_again(cache_home: Path) -> None:
    _jinja.environment().get_template("diff.html.j2")
    (entry,) = _entries(cache_home)
    good = entry.read_bytes()
    entry.write_bytes(good[:40] + b"\x00garbage" * 10)
    _jinja.environment.cache_clear()
    _jinja.environment().get_template("diff.html.j2")
    assert entry.read_bytes() == good  # compiled again and kept again


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o757])
def test_a_directory_others_may_write_into_is_not_used(cache_home: Path, mode: int) -> None:
    directory = cache_home / "cii-scan" / "templates"
    directory.mkdir(parents=True)
    directory.chmod(mode)
    assert _jinja.environment().bytecode_cache is None
    _jinja.environment().get_template("diff.html.j2")
    assert _entries(cache_home) == []


def test_a_cache_home_that_cannot_be_made_leaves_templates_compiled_each_run(
        cache_home: Path) -> None:
    cache_home.write_text("a file where the cache directory would go")
    assert _jinja.environment().bytecode_cache is None
    assert _jinja.environment().get_template("diff.html.j2") is not None


def test_a_link_in_place_of_the_directory_is_not_followed(cache_home: Path,
                                                          tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (cache_home / "cii-scan").mkdir(parents=True)
    (cache_home / "cii-scan" / "templates").symlink_to(elsewhere)
    assert _jinja.environment().bytecode_cache is None
    _jinja.environment().get_template("diff.html.j2")
    assert list(elsewhere.iterdir()) == []
