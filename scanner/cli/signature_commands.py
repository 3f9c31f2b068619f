"""sign and verify: OpenSSH signatures (SSHSIG) of findings files, checkable without us.

A signature is ``FILE.sig`` beside the file, in the format ``ssh-keygen -Y sign -n
cii-scan`` writes, made with the operator's own OpenSSH key; anyone holding an
allowed-signers file can check it with ``ssh-keygen -Y verify`` or ``cii-scan verify``.
"""

from __future__ import annotations

import datetime
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from scanner.cli.files import read_text
from scanner.cli.lazy import lazy
from scanner.cli.options import PATH, progress, quiet_option
from scanner.cli.signing import (
    PASSPHRASE_ENV,
    file_digests,
    load_sign_key,
    sign_file,
    signature_path,
)
from scanner.errors import EXIT_INCOMPLETE, EXIT_OK, EXIT_THRESHOLD

if TYPE_CHECKING:
    from scanner import findings, sshsig
else:
    findings = lazy("scanner.findings")
    sshsig = lazy("scanner.sshsig")

VERIFY_HELP = """\b
Exit codes:
  0  the signature is valid and its key an allowed signer for cii-scan
  1  not valid: the file was altered after signing, or the signer is not allowed
  2  bad input (a file missing or malformed)
  3  unsigned: there is no signature file
"""


@click.command("sign")
@click.argument("document", type=PATH)
@click.option("--key", "key_file", type=PATH, required=True, metavar="FILE",
              help="OpenSSH private key (e.g. from ssh-keygen -t ed25519). Passphrase: the "
                   f"{PASSPHRASE_ENV} environment variable.")
@quiet_option
def sign_command(document: Path, key_file: Path) -> None:
    """Sign a findings document: write DOCUMENT.sig in OpenSSH's SSHSIG format.

    \b
    Anyone can check it without cii-scan:
      ssh-keygen -Y verify -n cii-scan -f allowed_signers -I PRINCIPAL \\
          -s DOCUMENT.sig < DOCUMENT
    Only a valid, self-consistent findings document is signed.
    """
    key = load_sign_key(key_file)
    findings.load_document(read_text(document), str(document))
    target = sign_file(document, key)
    progress(f"wrote {target} (namespace cii-scan, key "
             f"{sshsig.fingerprint(sshsig.public_blob(key.public_key()))})")


@click.command("verify", epilog=VERIFY_HELP)
@click.argument("document", type=PATH)
@click.option("--allowed-signers", "allowed", type=PATH, required=True, metavar="FILE",
              help="ssh-keygen's allowed-signers file: PRINCIPALS [OPTIONS] KEYTYPE KEY.")
@click.option("-s", "--signature", type=PATH, metavar="FILE",
              help="The signature [default: DOCUMENT.sig].")
def verify_command(document: Path, allowed: Path, signature: Path | None) -> None:
    """Check a findings document's signature: valid, altered or unsigned (exit 0, 1, 3)."""
    signers = sshsig.parse_allowed_signers(read_text(allowed), str(allowed))
    sig_path = signature or signature_path(document)
    digests = file_digests(document)
    if not sig_path.exists():
        click.echo(f"{document}: unsigned (no {sig_path})")
        sys.exit(EXIT_INCOMPLETE)
    verdict = sshsig.verify_digests(digests, read_text(sig_path), signers,
                                    datetime.datetime.now(datetime.timezone.utc),
                                    str(sig_path))
    if verdict.valid:
        click.echo(f"{document}: valid signature by {', '.join(verdict.principals)} "
                   f"({verdict.fingerprint})")
        sys.exit(EXIT_OK)
    click.echo(f"{document}: NOT VALID: {verdict.reason}")
    sys.exit(EXIT_THRESHOLD)


COMMANDS = (sign_command, verify_command)
