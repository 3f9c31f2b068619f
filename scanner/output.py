"""Writing results: atomically (temp file + rename), so a reader never sees half a file."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from scanner.errors import OutputError


def _creation_mode() -> int:
    """The mode open() would give a new file under the current umask (mkstemp uses 0600)."""
    umask = os.umask(0o077)
    os.umask(umask)
    return 0o666 & ~umask


def ensure_writable_dir(directory: Path) -> None:
    """Create ``directory`` if needed and prove a file can be written there, before any scan."""
    if not directory.is_dir() and (directory.exists() or directory.is_symlink()):
        raise OutputError(f"{directory}: not a directory (the output directory is where "
                          "findings.json and the reports are written, e.g. -o results)")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".cii-scan-probe-"):
            pass
    except OSError as exc:
        raise OutputError(f"{directory}: output directory is not writable "
                          f"({exc.strerror or exc})") from None


def write_atomic(path: Path, text: str | Iterable[str]) -> None:
    """Replace ``path`` with ``text`` (or its pieces, written as they come) in one rename;
    the old file stays whole until then, and a piece that fails to come (an exception)
    leaves no file behind."""
    pieces = [text] if isinstance(text, str) else text
    _replace(path, (piece.encode("utf-8") for piece in pieces))


def write_atomic_bytes(path: Path, data: bytes) -> None:
    """:func:`write_atomic` for bytes (a bundle's tar, an office document)."""
    _replace(path, [data])


def write_content(path: Path, content: str | bytes | Iterable[str]) -> None:
    """:func:`write_atomic` of a renderer's content, text or bytes."""
    if isinstance(content, bytes):
        write_atomic_bytes(path, content)
    else:
        write_atomic(path, content)


def _replace(path: Path, chunks: Iterable[bytes]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            os.fchmod(fd, _creation_mode())
            with os.fdopen(fd, "wb") as handle:
                for chunk in chunks:
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp_name, path)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from None


def remove_stale(directory: Path, owned: Iterable[str], written: Iterable[str]) -> list[Path]:
    """Remove the files named in ``owned`` that this run does not write (``written``).

    A report left by an earlier run into the same directory would sit beside the new
    findings.json and be read as part of it. Only names this project writes are
    touched (a directory or anything else under such a name is left alone, and so is
    every other file); a symlink of that name is removed, never followed. Returns the
    paths removed so the caller can say so.
    """
    keep = set(written)
    removed: list[Path] = []
    for name in owned:
        if name in keep:
            continue
        path = directory / name
        try:
            if not (path.is_symlink() or path.is_file()):
                continue
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise OutputError(f"{path}: cannot remove the report of an earlier run "
                              f"({exc.strerror or exc})") from None
        removed.append(path)
    return removed
