"""Start-up imports only what the command needs (as whole processes, like a user's shell).

`--help` and `baselines list` are answered without the YAML, regex and schema engines
the scan path needs, and without paramiko; the schema validator loads only when a document
is validated, and jsonschema only when a document is wrong (to word the problem).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from scanner import baseline, cli
from tests._scanner import CII_SCAN, REPO_ROOT

# (scanner's own modules load lazily, outside -X importtime's view: what they import shows)
HEAVY = ("jsonschema", "paramiko", "yaml", "re2", "scanner.yamlio", "scanner.expect",
         "scanner.probes", "scanner.collect_sh", "scanner.inventory", "docxtpl", "docx",
         "sqlalchemy", "alembic", "psycopg")


def _imported(*args: str) -> set[str]:
    proc = subprocess.run([CII_SCAN[0], "-X", "importtime", *CII_SCAN[1:], *args],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines()
            if line.startswith("import time:") and "|" in line}


def test_help_imports_none_of_the_engines() -> None:
    imported = _imported("--help")
    assert "click" in imported  # the probe sees imports at all
    assert not [name for name in HEAVY if name in imported]


def test_a_valid_baseline_loads_without_jsonschema() -> None:
    imported = _imported("baselines", "list")
    assert "yaml" in imported and "scanner.yamlio" in imported
    assert "jsonschema" not in imported and "paramiko" not in imported


def test_the_cli_default_baseline_is_the_baseline_modules() -> None:
    assert cli.DEFAULT_BASELINE == baseline.DEFAULT_BASELINE


def test_a_question_to_a_current_store_loads_no_sqlalchemy(tmp_path: Path) -> None:
    """Questions read through the DB-API driver: SQLAlchemy (most of a question's start-up)
    loads only for the store's creation, never to read a current one."""
    store = str(tmp_path / "history.sqlite")
    created = _imported("history", "scans", "--store", store)
    assert "sqlalchemy" in created  # the probe would see it: a new store is made by it
    for question in (["scans"], ["open", "--severity", "high"], ["mttr"], ["stale"],
                     ["report", "-o", str(tmp_path / "trend.html")]):
        imported = _imported("history", *question, "--store", store)
        assert "sqlite3" in imported
        assert not [name for name in ("sqlalchemy", "alembic") if name in imported], question


def test_every_command_is_loaded_from_the_module_that_defines_it() -> None:
    import importlib

    defined = {command.name: name for name in set(cli.COMMAND_MODULES.values())
               for command in importlib.import_module(f"scanner.cli.{name}").COMMANDS}
    assert defined == cli.COMMAND_MODULES


def test_a_command_loads_no_other_commands_module(tmp_path: Path) -> None:
    # importlib's imports are not in -X importtime's report: ask sys.modules after the run
    program = ("import sys\nfrom scanner.cli import cli\n"
               "cli.main(args=sys.argv[1:], standalone_mode=False)\n"
               "print('loaded:' + ','.join(sorted(m for m in sys.modules\n"
               "                                  if m.endswith('_commands'))))")
    done = subprocess.run([CII_SCAN[0], "-c", program, "history", "scans", "--store",
                           str(tmp_path / "history.sqlite")], capture_output=True, text=True,
                          timeout=60, check=True, cwd=REPO_ROOT)
    assert done.stdout.splitlines()[-1] == "loaded:scanner.cli.history_commands"
