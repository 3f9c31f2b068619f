"""Evidence bundles: a findings document with everything it was decided from, signed as one.

A bundle is a plain tar of ``findings.json``, each scanned host's facts, the collector
script, the baseline's source files (the whole extends chain), ``manifest.json`` saying
which file is which, and ``SHA256SUMS`` listing the digest of every one of them in
``sha256sum``'s own format. Only ``SHA256SUMS`` is signed (``SHA256SUMS.sig``, SSHSIG,
namespace ``cii-scan``), so a reader with nothing but OpenSSH and coreutils can check it::

    tar -xf bundle.tar -C bundle && cd bundle
    ssh-keygen -Y verify -n cii-scan -f allowed_signers -I PRINCIPAL -s SHA256SUMS.sig \\
        < SHA256SUMS && sha256sum --strict -c SHA256SUMS

``cii-scan verify`` checks the same and also how the files belong together: that each
host's facts have the digest its findings name, that the baseline sources give the
baseline digest the findings were evaluated with, and that nothing was added or left out.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import re
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from scanner import __version__, sshsig
from scanner.baseline import digest_of_sources
from scanner.errors import InputError
from scanner.facts import Facts
from scanner.findings import dumps, load_document
from scanner.lines import split_lines
from scanner.resources import schema_path

if TYPE_CHECKING:
    import jsonschema

BUNDLE_KIND = "cii-scan-bundle"
BUNDLE_SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"
FINDINGS_NAME = "findings.json"
COLLECTOR_NAME = "collector.sh"
SUMS_NAME = "SHA256SUMS"
SIGNATURE_NAME = "SHA256SUMS.sig"
MAX_MEMBER_BYTES = 1 << 30
_SUMS_LINE = re.compile(r"([0-9a-f]{64})  (\S(?:.*\S)?)")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
OFFLINE_CHECK = ("ssh-keygen -Y verify -n cii-scan -f allowed_signers -I PRINCIPAL "
                 f"-s {SIGNATURE_NAME} < {SUMS_NAME} && sha256sum --strict -c {SUMS_NAME}")


@dataclass(frozen=True)
class BundleVerdict:
    """What a bundle's check found: ``valid``, ``altered`` (its files do not agree with
    their sums or with each other), ``not_valid`` (the signature does not hold) or
    ``unsigned``."""

    status: str
    problems: tuple[str, ...] = ()
    principals: tuple[str, ...] = ()
    fingerprint: str | None = None


def _safe(text: str) -> str:
    return _SAFE_NAME.sub("_", text).strip("._")[:60] or "host"


def sums_text(members: Mapping[str, bytes]) -> str:
    """``sha256sum``'s output for these files, in name order."""
    return "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n"
                   for name, data in sorted(members.items()))


def build_members(findings_bytes: bytes, facts: Sequence[Facts],
                  baseline_sources: Sequence[tuple[str, bytes]], collector: str,
                  created_at: str) -> dict[str, bytes]:
    """Every file of an unsigned bundle, ``SHA256SUMS`` included, checked as a reader
    will check it: a bundle whose parts do not belong together is refused, never signed.

    ``baseline_sources`` are ``(file name, bytes)`` of the extends chain, parent first."""
    document = load_document(findings_bytes.decode("utf-8"), FINDINGS_NAME)
    by_digest = {item.digest(): item for item in facts}
    members: dict[str, bytes] = {FINDINGS_NAME: findings_bytes,
                                 COLLECTOR_NAME: collector.encode("utf-8")}
    facts_entries = []
    for number, host in enumerate(document["hosts"], 1):
        digest = host.get("facts_digest")
        if digest is None:
            continue  # not collected (unreachable, refused, not started): nothing to carry
        found = by_digest.get(digest)
        if found is None:
            raise InputError(host["name"], f"its facts ({digest}) are not among the "
                             "facts given: scan with --keep-facts, or pass the facts files "
                             "it was evaluated from")
        name = f"facts/{number:04d}-{_safe(host['name'])}.json"
        members[name] = dumps(found.to_json()).encode("utf-8")
        facts_entries.append({"file": name, "host": host["name"], "digest": digest})
    source_names = []
    for number, (name, data) in enumerate(baseline_sources, 1):
        member = f"baseline/{number:02d}-{_safe(name)}"
        members[member] = data
        source_names.append(member)
    baseline = document["baseline"]
    manifest = {
        "kind": BUNDLE_KIND,
        "schema_version": BUNDLE_SCHEMA_VERSION,
        "tool": {"name": "cii-scan", "version": __version__},
        "created_at": created_at,
        "findings": FINDINGS_NAME,
        "collector": COLLECTOR_NAME,
        "baseline": {"id": baseline["id"], "digest": baseline["digest"],
                     "profile": baseline["profile"], "sources": source_names},
        "facts": facts_entries,
        "offline_check": OFFLINE_CHECK,
    }
    members[MANIFEST_NAME] = dumps(manifest).encode("utf-8")
    members[SUMS_NAME] = sums_text(members).encode("utf-8")
    problems = content_problems(members)
    if problems:
        raise InputError(FINDINGS_NAME, f"the bundle would not verify: {problems[0]}")
    return members


def write_tar(target: BinaryIO, members: Mapping[str, bytes],
              created_at: str) -> None:
    """A plain tar, the manifest first and the sums last, every member a 0644 file owned
    by nobody in particular, stamped with the bundle's creation time."""
    stamp = int(datetime.datetime.fromisoformat(created_at.replace("Z", "+00:00")).timestamp())
    first = [MANIFEST_NAME, FINDINGS_NAME]
    last = [SUMS_NAME, SIGNATURE_NAME]
    order = [*first, *sorted(n for n in members if n not in first + last),
             *(n for n in last if n in members)]
    with tarfile.open(fileobj=target, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name in order:
            info = tarfile.TarInfo(name)
            info.size = len(members[name])
            info.mtime = stamp
            info.mode = 0o644
            info.uname = info.gname = "cii-scan"
            archive.addfile(info, io.BytesIO(members[name]))


def read_tar(path: Path) -> dict[str, bytes]:
    """A bundle's files, read without extracting anything: only regular files with
    relative names, each once, none larger than :data:`MAX_MEMBER_BYTES`."""
    source = str(path)
    try:
        archive = tarfile.open(path, mode="r:*")  # noqa: SIM115 (closed by the with below)
    except FileNotFoundError:
        raise InputError(source, "file not found") from None
    except (tarfile.TarError, OSError) as exc:
        raise InputError(source, f"not a readable bundle (tar): {exc}") from None
    members: dict[str, bytes] = {}
    with archive:
        try:
            for info in archive:
                name = info.name
                parts = name.split("/")
                if not info.isfile():
                    raise InputError(source, f"member {name!r} is not a regular file")
                if name.startswith("/") or ".." in parts or "" in parts:
                    raise InputError(source, f"member {name!r} has an unsafe name")
                if name in members:
                    raise InputError(source, f"member {name!r} appears twice")
                if info.size > MAX_MEMBER_BYTES:
                    raise InputError(source, f"member {name!r} is {info.size} bytes; the "
                                     f"limit is {MAX_MEMBER_BYTES}")
                handle = archive.extractfile(info)
                members[name] = handle.read() if handle is not None else b""
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise InputError(source, f"not a readable bundle (tar): {exc}") from None
    if SUMS_NAME not in members:
        raise InputError(source, f"not a cii-scan bundle: it has no {SUMS_NAME}")
    return members


def _listed(members: Mapping[str, bytes]) -> tuple[dict[str, str], list[str]]:
    problems = []
    listed: dict[str, str] = {}
    for number, line in enumerate(split_lines(members[SUMS_NAME].decode("utf-8",
                                                                        "replace")), 1):
        matched = _SUMS_LINE.fullmatch(line)
        if matched is None:
            problems.append(f"{SUMS_NAME} line {number} is not 'SHA256  NAME'")
            continue
        digest, name = matched.groups()
        if name in listed:
            problems.append(f"{SUMS_NAME} lists {name} twice")
        listed[name] = digest
    return listed, problems


def _manifest_validator() -> jsonschema.protocols.Validator:
    import jsonschema

    schema = json.loads(schema_path("bundle-manifest.schema.json").read_text("utf-8"))
    return jsonschema.Draft202012Validator(schema)


def content_problems(members: Mapping[str, bytes]) -> list[str]:
    """Why these files are not one intact bundle (empty: they are). The signature is
    not looked at here."""
    listed, problems = _listed(members)
    for name, digest in sorted(listed.items()):
        if name not in members:
            problems.append(f"{name} is listed in {SUMS_NAME} but missing")
        elif hashlib.sha256(members[name]).hexdigest() != digest:
            problems.append(f"{name} does not match its digest in {SUMS_NAME}: it was altered")
    problems += [f"{name} is not listed in {SUMS_NAME}: it was added"
                 for name in sorted(members) if name not in listed
                 and name not in (SUMS_NAME, SIGNATURE_NAME)]
    if problems:
        return problems
    try:
        manifest = json.loads(members[MANIFEST_NAME].decode("utf-8"))
    except KeyError:
        return [f"{MANIFEST_NAME} is missing"]
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return [f"{MANIFEST_NAME} is not JSON ({exc})"]
    wrong = sorted(_manifest_validator().iter_errors(manifest), key=str)
    if wrong:
        return [f"{MANIFEST_NAME} is not a bundle manifest: {wrong[0].message}"]
    return _relation_problems(members, manifest)


def _relation_problems(members: Mapping[str, bytes], manifest: Mapping[str, Any]
                       ) -> list[str]:
    """Whether the files say the same: findings consistent, each host's facts the ones its
    verdicts name, the baseline sources the baseline the findings were evaluated with."""
    problems: list[str] = []
    named = [manifest["findings"], manifest["collector"], *manifest["baseline"]["sources"],
             *(entry["file"] for entry in manifest["facts"])]
    problems += [f"{MANIFEST_NAME} names {name}, which is not in the bundle"
                 for name in named if name not in members]
    problems += [f"{name} is not named in {MANIFEST_NAME}" for name in sorted(members)
                 if name not in (*named, MANIFEST_NAME, SUMS_NAME, SIGNATURE_NAME)]
    if problems:
        return problems
    try:
        document = load_document(members[manifest["findings"]].decode("utf-8"),
                                 manifest["findings"])
    except (InputError, UnicodeDecodeError) as exc:
        return [f"{manifest['findings']}: {exc}"]
    kept: dict[str, str] = {}
    for entry in manifest["facts"]:
        try:
            facts = Facts.from_json(json.loads(members[entry["file"]].decode("utf-8")),
                                    entry["file"])
        except (InputError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            problems.append(f"{entry['file']}: not a facts document ({exc})")
            continue
        if facts.digest() != entry["digest"]:
            problems.append(f"{entry['file']}: its observations digest to {facts.digest()}, "
                            f"not the {entry['digest']} the manifest names")
        kept[entry["digest"]] = entry["file"]
    wanted = {host["facts_digest"]: host["name"] for host in document["hosts"]
              if host.get("facts_digest")}
    problems += [f"host {name}: its facts ({digest}) are not in the bundle"
                 for digest, name in sorted(wanted.items()) if digest not in kept]
    problems += [f"{name}: these facts belong to no host of {manifest['findings']}"
                 for digest, name in sorted(kept.items()) if digest not in wanted]
    baseline = document["baseline"]
    try:
        texts = [(name, members[name].decode("utf-8"))
                 for name in manifest["baseline"]["sources"]]
        recomputed = digest_of_sources(texts, baseline["profile"])
    except (InputError, UnicodeDecodeError) as exc:
        return [*problems, f"baseline sources: {exc}"]
    if recomputed != baseline["digest"]:
        problems.append(f"the baseline sources digest to {recomputed}, but the findings were "
                        f"evaluated with {baseline['digest']}")
    if manifest["baseline"]["digest"] != baseline["digest"]:
        problems.append(f"{MANIFEST_NAME} names baseline {manifest['baseline']['digest']}, "
                        f"the findings {baseline['digest']}")
    return problems


def signature_digests(members: Mapping[str, bytes]) -> dict[str, bytes]:
    data = members[SUMS_NAME]
    return {"sha512": hashlib.sha512(data).digest(), "sha256": hashlib.sha256(data).digest()}


def check(members: Mapping[str, bytes], signers: Sequence[sshsig.AllowedSigner],
          now: datetime.datetime, source: str) -> BundleVerdict:
    """The verdict on a bundle read by :func:`read_tar`: its contents first, then its
    signature. An unreadable signature file is an :class:`InputError`."""
    problems = content_problems(members)
    if problems:
        return BundleVerdict("altered", tuple(problems))
    if SIGNATURE_NAME not in members:
        return BundleVerdict("unsigned", (f"it has no {SIGNATURE_NAME}",))
    try:
        text = members[SIGNATURE_NAME].decode("ascii")
    except UnicodeDecodeError:
        raise InputError(f"{source}:{SIGNATURE_NAME}", "not an SSH signature") from None
    verdict = sshsig.verify_digests(signature_digests(members), text, signers, now,
                                    f"{source}:{SIGNATURE_NAME}")
    if not verdict.valid:
        return BundleVerdict("not_valid", (verdict.reason,), fingerprint=verdict.fingerprint)
    return BundleVerdict("valid", (), verdict.principals, verdict.fingerprint)
