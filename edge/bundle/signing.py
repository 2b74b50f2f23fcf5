"""Ed25519 keys and signatures for bundles (PyNaCl).

Key files hold hex text: a private key file holds the 32-byte seed (64 hex digits), a
public key file or config entry the 32-byte verify key (64 hex digits, or base64). The signature
covers the exact bytes of ``manifest.json``, which holds the model's sha256.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from edge.bundle.errors import BundleError


def _parse_hex_key(text: str, what: str) -> bytes:
    """32 key bytes from hex (64 digits) or base64 text, optionally ``ed25519:``-prefixed."""
    cleaned = text.strip()
    if cleaned.lower().startswith("ed25519:"):
        cleaned = cleaned[len("ed25519:") :]
    try:
        raw = bytes.fromhex(cleaned)
    except ValueError:
        try:
            raw = base64.b64decode(cleaned, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BundleError(f"{what} is neither hex nor base64 text") from exc
    if len(raw) != 32:
        raise BundleError(f"{what} must be 32 bytes (64 hex digits), got {len(raw)} bytes")
    return raw


def generate_keypair(private_path: str | Path) -> tuple[Path, Path]:
    """Write a new private key (mode 0600) and ``<name>.pub`` beside it; return both paths.

    Refuses to overwrite an existing key.
    """
    private_path = Path(private_path)
    public_path = private_path.with_name(private_path.name + ".pub")
    for p in (private_path, public_path):
        if p.exists():
            raise FileExistsError(f"{p} exists; refusing to overwrite a key")
    key = SigningKey.generate()
    private_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key.encode().hex() + "\n")
    public_path.write_text(key.verify_key.encode().hex() + "\n")
    return private_path, public_path


def load_signing_key(path: str | Path) -> SigningKey:
    """Read a private key file (64 hex digits)."""
    path = Path(path)
    if not path.is_file():
        raise BundleError(f"signing key {path} not found (create one with `sspinn-convert keygen`)")
    return SigningKey(_parse_hex_key(path.read_text(), f"signing key {path}"))


def public_key_hex(key: SigningKey) -> str:
    return key.verify_key.encode().hex()


def parse_public_key(text_or_path: str) -> VerifyKey:
    """A public key from hex text (optionally ``ed25519:``-prefixed) or a file holding it."""
    candidate = Path(text_or_path)
    if len(text_or_path) < 200 and candidate.is_file():
        return VerifyKey(_parse_hex_key(candidate.read_text(), f"public key {candidate}"))
    return VerifyKey(_parse_hex_key(text_or_path, "public key"))


def sign(manifest_bytes: bytes, key: SigningKey) -> bytes:
    """The 64-byte Ed25519 signature of the manifest bytes."""
    return key.sign(manifest_bytes).signature


def verify(manifest_bytes: bytes, signature: bytes, keys: list[VerifyKey]) -> int:
    """Index of the trusted key that verifies ``signature``; raises BundleError if none."""
    if len(signature) != 64:
        raise BundleError(f"signature must be 64 bytes, got {len(signature)}")
    for i, key in enumerate(keys):
        try:
            key.verify(manifest_bytes, signature)
            return i
        except BadSignatureError:
            continue
    raise BundleError("signature does not verify with any trusted key (tampered or foreign bundle)")
