"""`pip install .` (not editable) into a fresh venv carries the baselines, schemas and templates."""

from __future__ import annotations

import os
import shutil
import subprocess
import venv
import zipfile
from pathlib import Path

import pytest

from tests._scanner import copy_source_tree


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with cii-scan installed from a copy of the source tree."""
    root = tmp_path_factory.mktemp("packaging")
    source = copy_source_tree(root / "src")
    env_dir = root / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(source)],
        capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        pytest.fail(f"pip install . failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    shutil.rmtree(source)  # the installed command must not lean on the source tree
    return env_dir


def _without_checkout() -> dict[str, str]:
    """The environment without tests/conftest.py's PYTHONPATH: the venv's own code runs."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def run_installed(env_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(env_dir / "bin" / "cii-scan"), *args], capture_output=True,
                          text=True, cwd=cwd, env=_without_checkout(), timeout=300, check=False)


def test_installed_command_lists_shipped_baselines(installed: Path, tmp_path: Path) -> None:
    done = run_installed(installed, "baselines", "list", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("cii-art9-linux\t")


def test_installed_command_prints_the_shipped_examples(installed: Path, tmp_path: Path) -> None:
    done = run_installed(installed, "baselines", "example", "inventory", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("# Hosts to scan")


def test_installed_command_scans_and_validates(installed: Path, tmp_path: Path) -> None:
    done = run_installed(installed, "scan", "-o", "out", "-f", "html", "-f", "docx",
                         cwd=tmp_path)
    assert done.returncode in (0, 3), done.stderr
    findings = tmp_path / "out" / "findings.json"
    assert findings.is_file()
    assert "<html" in (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    # the Word template travels in the package (scanner/reports/report-template.docx)
    with zipfile.ZipFile(tmp_path / "out" / "report.docx") as report:
        assert "8.1.4.1 a" in report.read("word/document.xml").decode("utf-8")
    assert run_installed(installed, "validate", str(findings), cwd=tmp_path).returncode == 0


def test_installed_package_does_not_import_from_the_repository(installed: Path,
                                                                tmp_path: Path) -> None:
    done = subprocess.run(
        [str(installed / "bin" / "python"), "-c",
         "import scanner, scanner.resources as r; print(scanner.__file__); "
         "print(r.baselines_dir()); print(r.reports_dir())"],
        capture_output=True, text=True, cwd=tmp_path, env=_without_checkout(), check=True)
    lines = done.stdout.splitlines()
    assert len(lines) == 3
    for line in lines:
        assert line.startswith(str(installed)), done.stdout
