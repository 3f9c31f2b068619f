"""Facts kept beside the findings (``scan --keep-facts``): the evidence a bundle carries.

Each scanned host's facts go to ``OUTDIR/facts/`` as the facts JSON ``collect`` writes,
named after the host's target key, so an assessor can bundle, re-evaluate or inspect
exactly what the verdicts were reached from.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from scanner.facts import Facts
from scanner.findings import dumps
from scanner.output import write_atomic

FACTS_DIR = "facts"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def facts_file(outdir: Path, key: str) -> Path:
    """Where a host's facts are kept: a readable, file-safe name, unique per target key."""
    readable = _UNSAFE.sub("_", key).strip("._")[:80] or "host"
    unique = hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]
    return outdir / FACTS_DIR / f"{readable}-{unique}.json"


def keep(outdir: Path, key: str, facts: Facts) -> Path:
    target = facts_file(outdir, key)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, dumps(facts.to_json()))
    return target


def kept_files(outdir: Path) -> list[Path]:
    folder = outdir / FACTS_DIR
    return sorted(folder.glob("*.json")) if folder.is_dir() else []
