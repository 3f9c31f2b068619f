"""Signing helpers shared by ``sign``, ``verify`` and ``--sign-key``: where a signature
goes, the file's digests, the operator's key."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from scanner.cli.files import read_bytes
from scanner.cli.lazy import lazy
from scanner.errors import InputError
from scanner.output import write_atomic

if TYPE_CHECKING:
    from scanner import sshsig
else:
    sshsig = lazy("scanner.sshsig")

# the variable the SSH identities read too (scanner.transport.ssh, not imported for one name)
PASSPHRASE_ENV = "CII_SCAN_IDENTITY_PASSPHRASE"  # noqa: S105 (a variable name)


def signature_path(path: Path) -> Path:
    return path.with_name(path.name + ".sig")


def file_digests(path: Path) -> dict[str, bytes]:
    """The file's sha512 and sha256, read once in chunks (a fleet's findings are large)."""
    digests = {"sha512": hashlib.sha512(), "sha256": hashlib.sha256()}
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                for digest in digests.values():
                    digest.update(chunk)
    except FileNotFoundError:
        raise InputError(str(path), "file not found") from None
    except OSError as exc:
        raise InputError(str(path), f"cannot read ({exc.strerror or exc})") from None
    return {name: digest.digest() for name, digest in digests.items()}


def load_sign_key(path: Path) -> sshsig.PrivateKey:
    """The operator's private key; its passphrase, if any, from the environment."""
    passphrase = os.environ.get(PASSPHRASE_ENV)
    return sshsig.load_private_key(read_bytes(path), str(path),
                                   passphrase.encode() if passphrase else None)


def sign_file(path: Path, key: sshsig.PrivateKey) -> Path:
    """Write ``path``'s signature beside it; returns where."""
    target = signature_path(path)
    write_atomic(target, sshsig.sign_digest(file_digests(path)["sha512"], key))
    return target
