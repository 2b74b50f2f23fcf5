"""Model bundles: canonical layout, hashes, signatures, runtime guard."""

from __future__ import annotations

import hashlib
import json
import zipfile

import pytest

from edge.bundle import (
    BundleError,
    Manifest,
    build_bundle,
    generate_keypair,
    load_signing_key,
    read_bundle,
    select_runtime,
    write_bundle,
)
from edge.bundle.archive import MANIFEST_NAME

MODEL = bytes(range(256)) * 40  # stand-in flatbuffer bytes; the archive does not parse them


def _manifest(model: bytes = MODEL, **update) -> Manifest:
    features = [f"{s}_{c}" for s in ("femur_r", "tibia_r") for c in ("acc_x", "acc_y", "gyr_z")]
    data = {
        "model_id": "test-model",
        "version": "0.1.0",
        "created_utc": "2026-11-24T00:00:00Z",
        "sample_rate_hz": 100.0,
        "sensors": ["femur_r", "tibia_r"],
        "input_tensor": {"name": "imu", "shape": [1, len(features)]},
        "input_features": features,
        "normalisation": {"mean": [0.0] * len(features), "std": [1.0] * len(features)},
        "states": [{"input": "h0", "output": "h0_out", "shape": [1, 8]}],
        "outputs": {
            "angles_deg": {"tensor": "angles", "channels": ["hip_flexion_r"], "unit": "deg"}
        },
        "quantization": "int8",
        "model_sha256": hashlib.sha256(model).hexdigest(),
    }
    data.update(update)
    return Manifest.model_validate(data)


@pytest.fixture
def keypair(tmp_path):
    private, public = generate_keypair(tmp_path / "keys" / "dev.key")
    return private, public


def test_unsigned_round_trip(tmp_path):
    path = write_bundle(tmp_path / "m.sspinn", build_bundle(_manifest(), MODEL))
    bundle = read_bundle(path)
    assert bundle.model_bytes == MODEL
    assert bundle.manifest.model_id == "test-model"
    assert not bundle.is_signed and bundle.signed_by is None
    with zipfile.ZipFile(path) as zf:
        assert [i.filename for i in zf.infolist()] == ["manifest.json", "model.tflite"]
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())


def test_build_is_deterministic(keypair):
    key = load_signing_key(keypair[0])
    assert build_bundle(_manifest(), MODEL, key) == build_bundle(_manifest(), MODEL, key)


def test_signed_bundle_verifies_with_trusted_key(keypair):
    private, public = keypair
    data = build_bundle(_manifest(), MODEL, load_signing_key(private))
    bundle = read_bundle(data, trusted_keys=[public.read_text().strip()], require_signature=True)
    assert bundle.signed_by == 0
    # A key file path is accepted too, and the matching key's index is reported.
    other = generate_keypair(public.parent / "other.key")[1]
    assert read_bundle(data, trusted_keys=[str(other), str(public)]).signed_by == 1


def test_every_single_byte_change_fails(keypair):
    """Acceptance: a bundle with one byte changed fails verification, wherever the byte is."""
    private, public = keypair
    data = build_bundle(_manifest(), MODEL, load_signing_key(private))
    step = max(1, len(data) // 600)
    positions = sorted(set(range(0, len(data), step)) | set(range(len(data) - 120, len(data))))
    for pos in positions:
        tampered = bytearray(data)
        tampered[pos] ^= 0x01
        with pytest.raises(BundleError):
            read_bundle(bytes(tampered), trusted_keys=[str(public)])
    # Unsigned bundles are protected by the canonical layout, CRCs and the sha256 too.
    unsigned = build_bundle(_manifest(), MODEL)
    for pos in range(0, len(unsigned), step):
        tampered = bytearray(unsigned)
        tampered[pos] ^= 0x80
        with pytest.raises(BundleError):
            read_bundle(bytes(tampered))


def test_resigned_manifest_with_swapped_model_is_refused(keypair, tmp_path):
    """A foreign key cannot stand in for the trusted one."""
    _, public = keypair
    other_private, _ = generate_keypair(tmp_path / "attacker.key")
    evil = b"\x00" * 1000
    data = build_bundle(_manifest(evil), evil, load_signing_key(other_private))
    with pytest.raises(BundleError, match="does not verify with any trusted key"):
        read_bundle(data, trusted_keys=[str(public)], require_signature=True)


def test_unsigned_refused_when_signatures_required(keypair):
    _, public = keypair
    with pytest.raises(BundleError, match="unsigned; this device requires signed bundles"):
        read_bundle(
            build_bundle(_manifest(), MODEL), trusted_keys=[str(public)], require_signature=True
        )
    with pytest.raises(BundleError, match="no trusted keys"):
        read_bundle(build_bundle(_manifest(), MODEL), require_signature=True)


def test_hash_mismatch_refused_even_when_rezipped():
    """A re-zipped bundle with a different model but the old manifest fails on sha256."""
    good = build_bundle(_manifest(), MODEL)
    with zipfile.ZipFile(__import__("io").BytesIO(good)) as zf:
        manifest_bytes = zf.read(MANIFEST_NAME)
    from edge.bundle.archive import _canonical_zip

    forged = _canonical_zip(
        [("manifest.json", manifest_bytes), ("model.tflite", MODEL[:-1] + b"x")]
    )
    with pytest.raises(BundleError, match="sha256 mismatch"):
        read_bundle(forged)


@pytest.mark.parametrize(
    "payload",
    [b"", b"not a zip at all", b"PK\x03\x04" + b"\x00" * 50, b"\xff" * 5000],
)
def test_garbage_is_refused_with_reason(payload):
    with pytest.raises(BundleError, match=r"not a valid bundle archive|members"):
        read_bundle(payload)


def test_malformed_manifest_names_field():
    from edge.bundle.archive import _canonical_zip

    raw = json.loads(_manifest().model_dump_json())
    raw["sample_rate_hz"] = -5
    forged = _canonical_zip([("manifest.json", json.dumps(raw).encode()), ("model.tflite", MODEL)])
    with pytest.raises(BundleError, match="sample_rate_hz"):
        read_bundle(forged)


def test_manifest_consistency_checks():
    with pytest.raises(ValueError, match=r"input_tensor.shape"):
        _manifest(input_tensor={"name": "imu", "shape": [1, 5]})
    with pytest.raises(ValueError, match="not semantic"):
        _manifest(version="1.0")


def test_runtime_guard_names_what_to_install():
    dyn = _manifest(
        quantization="dynamic", min_runtime={"ai_edge_litert": "2.3.0", "tflite_runtime": None}
    )
    assert select_runtime(dyn, {"ai_edge_litert": "2.3.0"}) == "ai_edge_litert"
    with pytest.raises(BundleError) as err:
        select_runtime(dyn, {"tflite_runtime": "2.14.0"})
    msg = str(err.value)
    assert "ai-edge-litert>=2.3.0" in msg and "tflite-runtime 2.14.0" in msg
    assert "pip install" in msg
    with pytest.raises(BundleError, match=r"ai-edge-litert>=2\.3\.0"):
        select_runtime(dyn, {"ai_edge_litert": "2.2.9"})
    f32 = _manifest(
        quantization="float32", min_runtime={"ai_edge_litert": "2.3.0", "tflite_runtime": "2.14.0"}
    )
    assert select_runtime(f32, {"tflite_runtime": "2.14.0"}) == "tflite_runtime"
    # This machine has ai-edge-litert installed.
    assert select_runtime(f32) == "ai_edge_litert"


def test_keygen_refuses_overwrite(keypair):
    with pytest.raises(FileExistsError):
        generate_keypair(keypair[0])
    assert oct(keypair[0].stat().st_mode & 0o777) == "0o600"


def test_public_key_accepts_hex_base64_and_prefix(keypair):
    import base64

    _, public = keypair
    hex_key = public.read_text().strip()
    b64 = base64.b64encode(bytes.fromhex(hex_key)).decode()
    from edge.bundle import parse_public_key

    assert (
        parse_public_key(hex_key) == parse_public_key(b64) == parse_public_key("ed25519:" + hex_key)
    )
    with pytest.raises(BundleError, match="neither hex nor base64"):
        parse_public_key("not a key!")
