"""OpenSSH's file signatures (SSHSIG), so anyone can check a findings file without cii-scan.

``cii-scan sign`` writes ``FILE.sig`` exactly as ``ssh-keygen -Y sign -n cii-scan`` would
(OpenSSH's PROTOCOL.sshsig): the armoured blob holds the signer's public key, the
namespace, the hash algorithm (sha512) and an SSH signature over a preamble and the
file's hash. ``ssh-keygen -Y verify -n cii-scan -f allowed_signers -I PRINCIPAL -s
FILE.sig < FILE`` checks it, and so does :func:`verify` here, against the same
allowed-signers file (ssh-keygen(1), "ALLOWED SIGNERS"). Keys are the operator's own
OpenSSH keys: Ed25519, ECDSA (P-256/384/521) or RSA (signed with rsa-sha2-512; SHA-1
RSA signatures are refused, as OpenSSH refuses them).

Pure functions over bytes; reading the files is the caller's job.
"""

from __future__ import annotations

import base64
import datetime
import fnmatch
import hashlib
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from scanner.errors import InputError
from scanner.lines import split_lines

NAMESPACE = "cii-scan"
MAGIC = b"SSHSIG"
VERSION = 1
HASH_ALGORITHM = "sha512"
BEGIN = "-----BEGIN SSH SIGNATURE-----"
END = "-----END SSH SIGNATURE-----"
_CURVES = {"nistp256": (ec.SECP256R1, hashes.SHA256), "nistp384": (ec.SECP384R1, hashes.SHA384),
           "nistp521": (ec.SECP521R1, hashes.SHA512)}
KEY_TYPES = ("ssh-ed25519", "ssh-rsa", *(f"ecdsa-sha2-{curve}" for curve in _CURVES))

PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey


class SignatureError(InputError):
    """A signature file that is not an SSHSIG signature at all (exit 2)."""


@dataclass(frozen=True)
class Verdict:
    """What checking a signature found: ``valid`` with the principals allowed to sign
    with its key, or not, with the reason (altered content, a signer not allowed …)."""

    valid: bool
    reason: str
    principals: tuple[str, ...] = ()
    fingerprint: str = ""


# ------------------------------------------------------------------ SSH wire encoding


def _string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _mpint(value: int) -> bytes:
    raw = value.to_bytes((value.bit_length() + 8) // 8, "big") if value else b""
    return _string(raw)


class _Reader:
    def __init__(self, data: bytes, what: str) -> None:
        self.data, self.offset, self.what = data, 0, what

    def take(self, count: int) -> bytes:
        if self.offset + count > len(self.data):
            raise ValueError(f"{self.what} is truncated")
        chunk = self.data[self.offset:self.offset + count]
        self.offset += count
        return chunk

    def uint32(self) -> int:
        value: int = struct.unpack(">I", self.take(4))[0]
        return value

    def string(self) -> bytes:
        return self.take(self.uint32())

    def mpint(self) -> int:
        return int.from_bytes(self.string(), "big", signed=True)

    def done(self) -> bool:
        return self.offset == len(self.data)


def public_blob(key: PublicKey) -> bytes:
    """The key in SSH wire format (what authorized_keys base64-encodes)."""
    line = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return base64.b64decode(line.split()[1])


def fingerprint(blob: bytes) -> str:
    """``SHA256:…`` as ssh-keygen -l prints it."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def _load_public(blob: bytes) -> PublicKey:
    key_type = _Reader(blob, "public key").string().decode("ascii", "replace")
    if key_type not in KEY_TYPES:
        raise ValueError(f"unsupported key type {key_type!r}")
    line = key_type.encode() + b" " + base64.b64encode(blob)
    key = serialization.load_ssh_public_key(line)
    if not isinstance(key, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey |
                      rsa.RSAPublicKey):
        raise ValueError(f"unsupported key type {key_type!r}")
    return key


# ------------------------------------------------------------------ signing


def _signed_data(namespace: str, message_hash: bytes) -> bytes:
    return (MAGIC + _string(namespace.encode()) + _string(b"")
            + _string(HASH_ALGORITHM.encode()) + _string(message_hash))


def load_private_key(data: bytes, source: str, passphrase: bytes | None) -> PrivateKey:
    """An OpenSSH (or PEM) private key; a wrong or missing passphrase is an InputError."""
    loader = (serialization.load_ssh_private_key
              if data.lstrip().startswith(b"-----BEGIN OPENSSH PRIVATE KEY-----")
              else serialization.load_pem_private_key)
    try:
        key = loader(data, passphrase)
    except (TypeError, ValueError) as exc:  # wrong/missing passphrase, or not a key
        raise InputError(source, f"cannot load the private key: {exc} (a passphrase comes "
                         "from CII_SCAN_IDENTITY_PASSPHRASE)") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey |
                      rsa.RSAPrivateKey):
        raise InputError(source, f"a {type(key).__name__} cannot make an SSH signature "
                         "here; use an Ed25519, ECDSA or RSA key")
    return key


def _ssh_signature(key: PrivateKey, data: bytes) -> bytes:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return _string(b"ssh-ed25519") + _string(key.sign(data))
    if isinstance(key, ec.EllipticCurvePrivateKey):
        curve = {256: "nistp256", 384: "nistp384", 521: "nistp521"}[key.curve.key_size]
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(_CURVES[curve][1]())))
        return _string(f"ecdsa-sha2-{curve}".encode()) + _string(_mpint(r) + _mpint(s))
    signature = key.sign(data, padding.PKCS1v15(), hashes.SHA512())
    return _string(b"rsa-sha2-512") + _string(signature)


def sign(message: bytes, key: PrivateKey, namespace: str = NAMESPACE) -> str:
    """The armoured SSHSIG signature of ``message`` (the text of FILE.sig)."""
    return sign_digest(hashlib.sha512(message).digest(), key, namespace)


def sign_digest(digest: bytes, key: PrivateKey, namespace: str = NAMESPACE) -> str:
    """:func:`sign` for a message known by its SHA-512 digest (a large file, hashed as it
    is read)."""
    blob = (MAGIC + struct.pack(">I", VERSION) + _string(public_blob(key.public_key()))
            + _string(namespace.encode()) + _string(b"") + _string(HASH_ALGORITHM.encode())
            + _string(_ssh_signature(key, _signed_data(namespace, digest))))
    body = base64.b64encode(blob).decode()
    lines = [body[i:i + 76] for i in range(0, len(body), 76)]
    return "\n".join([BEGIN, *lines, END]) + "\n"


# ------------------------------------------------------------------ verifying


@dataclass(frozen=True)
class _Parsed:
    public_key: bytes
    namespace: str
    hash_algorithm: str
    signature: bytes


def _parse_armour(text: str, source: str) -> _Parsed:
    lines = [line.strip() for line in split_lines(text.strip())]
    if len(lines) < 3 or lines[0] != BEGIN or lines[-1] != END:
        raise SignatureError(source, f"not an SSH signature (expected {BEGIN} … {END})")
    try:
        blob = base64.b64decode("".join(lines[1:-1]), validate=True)
        reader = _Reader(blob, "signature")
        if reader.take(6) != MAGIC:
            raise ValueError("no SSHSIG preamble")
        version = reader.uint32()
        if version != VERSION:
            raise ValueError(f"signature version {version}; only {VERSION} is known")
        public_key = reader.string()
        signed_namespace = reader.string().decode("utf-8")
        reader.string()  # reserved
        hash_algorithm = reader.string().decode("ascii")
        parsed = _Parsed(public_key, signed_namespace, hash_algorithm, reader.string())
        if not reader.done():
            raise ValueError("trailing data after the signature")
    except (ValueError, UnicodeDecodeError) as exc:
        raise SignatureError(source, f"malformed SSH signature: {exc}") from None
    return parsed


def _check_signature(key: PublicKey, signature: bytes, data: bytes) -> None:
    """Raises InvalidSignature (or ValueError for a malformed blob) unless it verifies."""
    reader = _Reader(signature, "signature blob")
    algorithm = reader.string().decode("ascii", "replace")
    raw = reader.string()
    if isinstance(key, ed25519.Ed25519PublicKey) and algorithm == "ssh-ed25519":
        key.verify(raw, data)
    elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm.startswith("ecdsa-sha2-"):
        curve = algorithm.removeprefix("ecdsa-sha2-")
        if curve not in _CURVES or _CURVES[curve][0]().key_size != key.curve.key_size:
            raise InvalidSignature
        numbers = _Reader(raw, "ECDSA signature")
        der = encode_dss_signature(numbers.mpint(), numbers.mpint())
        key.verify(der, data, ec.ECDSA(_CURVES[curve][1]()))
    elif isinstance(key, rsa.RSAPublicKey) and algorithm in ("rsa-sha2-512", "rsa-sha2-256"):
        digest = hashes.SHA512() if algorithm == "rsa-sha2-512" else hashes.SHA256()
        key.verify(raw, data, padding.PKCS1v15(), digest)
    else:  # includes ssh-rsa (SHA-1), which OpenSSH refuses for SSHSIG
        raise InvalidSignature
    if not reader.done():
        raise InvalidSignature


@dataclass(frozen=True)
class AllowedSigner:
    principals: tuple[str, ...]
    key_blob: bytes
    namespaces: tuple[str, ...] | None
    valid_after: datetime.datetime | None
    valid_before: datetime.datetime | None
    cert_authority: bool
    line: int


def _split_options(text: str) -> list[str]:
    """Comma-separated options, commas inside double quotes kept (as sshd reads them)."""
    options, current, quoted = [], "", False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            options.append(current)
            current = ""
        else:
            current += char
    if quoted:
        raise ValueError("unterminated quote in options")
    return [*options, current]


def _option_time(value: str) -> datetime.datetime:
    """YYYYMMDD[HHMM[SS]] with an optional trailing Z (UTC); local time otherwise."""
    utc = value.endswith(("Z", "z"))
    digits = value.rstrip("Zz")
    formats = {8: "%Y%m%d", 12: "%Y%m%d%H%M", 14: "%Y%m%d%H%M%S"}
    if len(digits) not in formats or not digits.isdigit():
        raise ValueError(f"invalid time {value!r}")
    moment = datetime.datetime.strptime(digits, formats[len(digits)])
    return moment.replace(tzinfo=datetime.timezone.utc) if utc else moment.astimezone()


def _tokens(line: str) -> list[str]:
    """Whitespace-separated fields (OpenSSH's WHITESPACE: space, tab, CR, LF); a
    double-quoted run (in options) stays one field."""
    fields, current, quoted = [], "", False
    for char in line:
        if char == '"':
            quoted = not quoted
        if char in " \t\r\n" and not quoted:
            if current:
                fields.append(current)
            current = ""
        else:
            current += char
    if current:
        fields.append(current)
    return fields


def parse_allowed_signers(text: str, source: str) -> tuple[AllowedSigner, ...]:
    """ssh-keygen's allowed-signers file: ``principals [options] keytype base64 [comment]``;
    '#' comments and blank lines ignored. A line that cannot be read is an InputError."""
    signers = []
    for number, raw in enumerate(split_lines(text), 1):  # getline(3): lines end at \n
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = _tokens(line)
        try:
            if len(fields) < 3:
                raise ValueError("expected: principals [options] keytype key")
            principals, rest = fields[0], fields[1:]
            options: list[str] = []
            if rest[0] not in KEY_TYPES:
                options, rest = _split_options(rest[0]), rest[1:]
            if len(rest) < 2 or rest[0] not in KEY_TYPES:
                raise ValueError(f"unknown key type {rest[0] if rest else ''!r}")
            blob = base64.b64decode(rest[1], validate=True)
            _load_public(blob)
            namespaces = None
            after = before = None
            authority = False
            for option in options:
                name, _, value = option.partition("=")
                value = value.strip('"')
                if name.lower() == "namespaces":
                    namespaces = tuple(value.split(","))
                elif name.lower() == "valid-after":
                    after = _option_time(value)
                elif name.lower() == "valid-before":
                    before = _option_time(value)
                elif name.lower() == "cert-authority":
                    authority = True
                else:
                    raise ValueError(f"unknown option {name!r}")
        except ValueError as exc:
            raise InputError(source, f"allowed signers: {exc}", number) from None
        signers.append(AllowedSigner(tuple(principals.split(",")), blob, namespaces, after,
                                     before, authority, number))
    return tuple(signers)


def verify(message: bytes, signature_text: str, signers: Sequence[AllowedSigner],
           now: datetime.datetime, source: str, namespace: str = NAMESPACE) -> Verdict:
    """Check FILE.sig against the file's bytes and the allowed signers (as of ``now``)."""
    return verify_digests({name: hashlib.new(name, message).digest()
                           for name in ("sha512", "sha256")},
                          signature_text, signers, now, source, namespace)


def verify_digests(digests: Mapping[str, bytes], signature_text: str,
                   signers: Sequence[AllowedSigner], now: datetime.datetime, source: str,
                   namespace: str = NAMESPACE) -> Verdict:
    """:func:`verify` for a message known by its sha512 and sha256 digests."""
    parsed = _parse_armour(signature_text, source)
    printed = fingerprint(parsed.public_key)
    if parsed.namespace != namespace:
        return Verdict(False, f"signed for namespace {parsed.namespace!r}, not {namespace!r}",
                       fingerprint=printed)
    if parsed.hash_algorithm not in ("sha512", "sha256"):
        return Verdict(False, f"unsupported hash algorithm {parsed.hash_algorithm!r}",
                       fingerprint=printed)
    digest = digests[parsed.hash_algorithm]
    data = (MAGIC + _string(parsed.namespace.encode()) + _string(b"")
            + _string(parsed.hash_algorithm.encode()) + _string(digest))
    try:
        _check_signature(_load_public(parsed.public_key), parsed.signature, data)
    except (InvalidSignature, ValueError):
        return Verdict(False, "the signature does not match the file: it was altered after "
                       "signing (or signed with another key)", fingerprint=printed)
    allowed = [signer for signer in signers
               if not signer.cert_authority and signer.key_blob == parsed.public_key
               and (signer.namespaces is None or any(
                   fnmatch.fnmatchcase(namespace, pattern) for pattern in signer.namespaces))
               and (signer.valid_after is None or now >= signer.valid_after)
               and (signer.valid_before is None or now < signer.valid_before)]
    if not allowed:
        return Verdict(False, f"the signature is intact, but its key {printed} is not an "
                       f"allowed signer for {namespace!r} now", fingerprint=printed)
    principals = tuple(p for signer in allowed for p in signer.principals)
    return Verdict(True, "valid", principals, printed)
