"""sign, bundle and verify: OpenSSH signatures (SSHSIG) of findings and evidence bundles,
checkable without us.

A signature is ``FILE.sig`` beside the file, in the format ``ssh-keygen -Y sign -n
cii-scan`` writes, made with the operator's own OpenSSH key; anyone holding an
allowed-signers file can check it with ``ssh-keygen -Y verify`` or ``cii-scan verify``.
A bundle (``scanner.bundle``) carries its own signature of its ``SHA256SUMS``.
"""

from __future__ import annotations

import datetime
import io
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from scanner.cli.files import read_bytes, read_evidence, read_text
from scanner.cli.lazy import lazy
from scanner.cli.options import PATH, baseline_options, progress, quiet_option
from scanner.cli.signing import (
    PASSPHRASE_ENV,
    file_digests,
    load_sign_key,
    sign_file,
    signature_path,
)
from scanner.errors import EXIT_INCOMPLETE, EXIT_OK, EXIT_THRESHOLD, InputError
from scanner.output import write_atomic_bytes

if TYPE_CHECKING:
    from scanner import baseline as baseline_module
    from scanner import bundle, collect, findings, kept_facts, sshsig
else:
    baseline_module = lazy("scanner.baseline")
    bundle = lazy("scanner.bundle")
    collect = lazy("scanner.collect")
    findings = lazy("scanner.findings")
    kept_facts = lazy("scanner.kept_facts")
    sshsig = lazy("scanner.sshsig")

VERIFY_HELP = """\b
Exit codes:
  0  the signature is valid and its key an allowed signer for cii-scan
  1  not valid: the file was altered after signing, or the signer is not allowed;
     for a bundle also: a file added, removed or changed, or files that disagree
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
    """Check the signature of a findings document or an evidence bundle: valid, altered
    or unsigned (exit 0, 1, 3)."""
    signers = sshsig.parse_allowed_signers(read_text(allowed), str(allowed))
    import tarfile  # here, not at start-up: only verify reads tars

    if document.is_file() and tarfile.is_tarfile(document):
        if signature is not None:
            raise click.UsageError("a bundle carries its own signature; --signature is for "
                                   "a findings document")
        _verify_bundle(document, signers)
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


def _verify_bundle(path: Path, signers: tuple[sshsig.AllowedSigner, ...]) -> None:
    verdict = bundle.check(bundle.read_tar(path), signers,
                           datetime.datetime.now(datetime.timezone.utc), str(path))
    if verdict.status == "valid":
        click.echo(f"{path}: valid bundle signed by {', '.join(verdict.principals)} "
                   f"({verdict.fingerprint})")
        sys.exit(EXIT_OK)
    if verdict.status == "unsigned":
        click.echo(f"{path}: unsigned bundle ({verdict.problems[0]})")
        sys.exit(EXIT_INCOMPLETE)
    click.echo(f"{path}: NOT VALID: {verdict.problems[0]}")
    for problem in verdict.problems[1:]:
        click.echo(f"  also: {problem}")
    sys.exit(EXIT_THRESHOLD)


@click.command("bundle")
@click.argument("document", type=PATH)
@click.option("--facts", "facts_files", type=PATH, multiple=True, metavar="FILE",
              help="A host's facts (from collect, or raw collector output) [default: the "
                   "facts/ folder beside DOCUMENT, which scan --keep-facts writes]. "
                   "Repeatable.")
@baseline_options
@click.option("--key", "key_file", type=PATH, required=True, metavar="FILE",
              help="OpenSSH private key that signs the bundle. Passphrase: the "
                   f"{PASSPHRASE_ENV} environment variable.")
@click.option("-o", "--output", type=PATH, required=True, metavar="FILE",
              help="The bundle to write (a tar).")
@quiet_option
def bundle_command(document: Path, facts_files: tuple[Path, ...], baseline_ref: str,
                   profile: str | None, key_file: Path, output: Path) -> None:
    """Bundle a findings document with its evidence, signed as one.

    \b
    The bundle (a tar) holds DOCUMENT, each scanned host's facts, the collector
    script, the baseline's source files, manifest.json and SHA256SUMS, whose
    signature is SHA256SUMS.sig. Check it with cii-scan verify, or with no
    cii-scan at all:
      tar -xf BUNDLE -C DIR && cd DIR
      ssh-keygen -Y verify -n cii-scan -f allowed_signers -I PRINCIPAL \\
          -s SHA256SUMS.sig < SHA256SUMS && sha256sum --strict -c SHA256SUMS
    -b/--profile must name the baseline the findings were evaluated with.
    """
    key = load_sign_key(key_file)
    findings_bytes = read_bytes(document)
    facts_paths = list(facts_files) or kept_facts.kept_files(document.parent)
    facts = [read_evidence(path) for path in facts_paths]
    loaded = baseline_module.load_baseline(baseline_ref, profile)
    made_with = findings.load_document(read_text(document), str(document))["baseline"]
    if loaded.digest != made_with["digest"]:
        raise InputError(str(document), f"evaluated with baseline {made_with['id']} "
                         f"(profile {made_with['profile']}, {made_with['digest']}), not with "
                         f"{baseline_ref} ({loaded.profile}, {loaded.digest}): pass that "
                         "baseline with -b and --profile")
    sources = [(path.name, read_bytes(path)) for path in loaded.sources]
    created = collect.utc_now()
    members = bundle.build_members(
        findings_bytes, facts, sources,
        collect.build_script(loaded.probe_calls(), collect.new_token()), created)
    members[bundle.SIGNATURE_NAME] = sshsig.sign(members[bundle.SUMS_NAME], key).encode()
    buffer = io.BytesIO()
    bundle.write_tar(buffer, members, created)
    write_atomic_bytes(output, buffer.getvalue())
    progress(f"wrote {output}: {len(members)} files, {len(facts)} host(s)' facts, signed "
             f"by {sshsig.fingerprint(sshsig.public_blob(key.public_key()))}")


COMMANDS = (sign_command, bundle_command, verify_command)
