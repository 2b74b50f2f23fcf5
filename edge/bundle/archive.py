"""Reading, verifying and writing ``*.sspinn`` bundles (a canonical, uncompressed zip).

A bundle holds ``manifest.json``, ``model.tflite`` and optionally ``signature``, stored
uncompressed in that order with fixed timestamps and attributes. Because the layout is
canonical, verification rebuilds the archive from its members and compares every byte:
a bundle with any byte changed (data, header or directory) fails, on top of the zip
CRCs, the model's sha256 in the manifest, and the Ed25519 signature of the manifest.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from edge.bundle.errors import BundleError
from edge.bundle.manifest import Manifest
from edge.bundle.signing import SigningKey, parse_public_key, sign, verify
from edge.bundle.trust import file_sha256

MANIFEST_NAME = "manifest.json"
MODEL_NAME = "model.tflite"
SIGNATURE_NAME = "signature"
#: Largest accepted bundle (and member), bytes: guards against zip bombs and wrong uploads.
MAX_BUNDLE_BYTES = 16 * 1024 * 1024
_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Bundle:
    """A verified bundle.

    Attributes:
        manifest: the parsed manifest.
        manifest_bytes: its exact bytes (what the signature covers).
        model_bytes: the TFLite flatbuffer.
        signed_by: index of the trusted key that verified the signature, or None when
            the bundle is unsigned or no trusted keys were given.
        signature: the raw signature, or None.
        pinned: the file's sha256 is one of the pins given to :func:`read_bundle`
            (``[model] factory_sha256``): trusted as these exact bytes, signed or not.
    """

    manifest: Manifest
    manifest_bytes: bytes
    model_bytes: bytes
    signed_by: int | None
    signature: bytes | None
    pinned: bool = False

    @property
    def is_signed(self) -> bool:
        return self.signature is not None


def _canonical_zip(members: Sequence[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            zf.writestr(info, data)
    return buf.getvalue()


def manifest_to_bytes(manifest: Manifest) -> bytes:
    """Canonical JSON bytes of a manifest (sorted keys, 2-space indent, trailing newline).

    ``input_axes`` is written only when it is ``"segment"``: its absence means
    ``"sensor"``, so a sensor-axis bundle stays loadable by runtimes older than the field,
    and those refuse (unknown field) the segment-axis bundles they could not run right.
    """
    data = manifest.model_dump(mode="json")
    if data.get("input_axes") == "sensor":
        del data["input_axes"]
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()


def build_bundle(
    manifest: Manifest, model_bytes: bytes, signing_key: SigningKey | None = None
) -> bytes:
    """The bundle bytes for a manifest and model; the manifest's sha256 must match."""
    digest = hashlib.sha256(model_bytes).hexdigest()
    if manifest.model_sha256 != digest:
        raise BundleError(f"manifest model_sha256 {manifest.model_sha256} != model {digest}")
    manifest_bytes = manifest_to_bytes(manifest)
    members = [(MANIFEST_NAME, manifest_bytes), (MODEL_NAME, model_bytes)]
    if signing_key is not None:
        members.append((SIGNATURE_NAME, sign(manifest_bytes, signing_key)))
    data = _canonical_zip(members)
    if len(data) > MAX_BUNDLE_BYTES:
        raise BundleError(f"bundle is {len(data)} bytes, above the {MAX_BUNDLE_BYTES} limit")
    return data


def write_bundle(path: str | Path, data: bytes) -> Path:
    """Write bundle bytes atomically to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path


def read_bundle(
    source: str | Path | bytes,
    *,
    trusted_keys: Sequence[str] = (),
    require_signature: bool = False,
    pinned_sha256: Collection[str] = (),
) -> Bundle:
    """Read and verify a bundle from a path or bytes.

    Args:
        source: bundle path, or its bytes (e.g. an MQTT ``cmd/model`` payload).
        trusted_keys: Ed25519 public keys (hex text or key files). With keys given, a
            bundle must be signed and its signature must verify with one of them: an
            unsigned bundle is refused whatever ``require_signature`` says.
        require_signature: refuse unsigned bundles (and, without ``trusted_keys``, signed
            ones too: nothing can verify them).
        pinned_sha256: sha256 (hex) of whole bundle files trusted as they are, signed or
            not (the installed factory bundle); see :mod:`edge.bundle.trust`.

    Raises:
        BundleError: with the reason (corrupt, tampered, unsigned, malformed manifest).
    """
    if isinstance(source, bytes | bytearray | memoryview):
        data, where = bytes(source), "bundle"
    else:
        path = Path(source)
        if not path.is_file():
            raise BundleError(f"bundle {path} not found")
        if path.stat().st_size > MAX_BUNDLE_BYTES:
            raise BundleError(f"bundle {path} is larger than {MAX_BUNDLE_BYTES} bytes")
        data, where = path.read_bytes(), f"bundle {path}"
    if len(data) > MAX_BUNDLE_BYTES:
        raise BundleError(f"{where} is {len(data)} bytes, above the {MAX_BUNDLE_BYTES} limit")
    pinned = file_sha256(data) in {p.lower() for p in pinned_sha256}
    if require_signature and not trusted_keys and not pinned_sha256:
        raise BundleError("signatures are required but no trusted keys are configured")
    members: dict[str, bytes] = {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = [i.filename for i in zf.infolist()]
            for info in zf.infolist():
                if info.file_size > MAX_BUNDLE_BYTES:
                    raise BundleError(f"{where}: member {info.filename} is too large")
            for name in names:
                members[name] = zf.read(name)
    except BundleError:
        raise
    except Exception as exc:  # untrusted bytes: any failure to parse is a refusal
        raise BundleError(
            f"{where} is not a valid bundle archive (corrupt or tampered): {exc}"
        ) from exc
    allowed = [MANIFEST_NAME, MODEL_NAME, SIGNATURE_NAME]
    expected = allowed if SIGNATURE_NAME in members else allowed[:2]
    if names != expected:
        raise BundleError(f"{where}: members {names}, expected {expected}")
    if _canonical_zip([(n, members[n]) for n in names]) != data:
        raise BundleError(f"{where}: archive bytes differ from the canonical layout (tampered)")
    manifest_bytes, model_bytes = members[MANIFEST_NAME], members[MODEL_NAME]
    try:
        manifest = Manifest.model_validate_json(manifest_bytes)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise BundleError(f"{where}: manifest field {field!r}: {err['msg']}") from exc
    digest = hashlib.sha256(model_bytes).hexdigest()
    if digest != manifest.model_sha256:
        raise BundleError(f"{where}: model.tflite sha256 mismatch (corrupt or tampered)")
    signature = members.get(SIGNATURE_NAME)
    signed_by = None
    if pinned:
        pass  # these exact bytes are trusted (the pinned factory bundle)
    elif signature is None:
        if trusted_keys:
            raise BundleError(
                f"{where} is unsigned; this device requires signed bundles (it trusts "
                "signing keys, [model] trusted_keys, so unsigned bundles are refused "
                "whatever require_signature says)"
            )
        if require_signature:
            raise BundleError(f"{where} is unsigned; this device requires signed bundles")
    elif trusted_keys:
        keys = [parse_public_key(k) for k in trusted_keys]
        try:
            signed_by = verify(manifest_bytes, signature, keys)
        except BundleError as exc:
            raise BundleError(f"{where}: {exc}") from exc
    elif require_signature:
        raise BundleError(
            f"{where} is signed, but this device trusts no signing key to verify it: "
            "add the signer's public key to [model] trusted_keys"
        )
    return Bundle(manifest, manifest_bytes, model_bytes, signed_by, signature, pinned)
