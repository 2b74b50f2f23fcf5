"""The trust policy for bundles: no signature downgrade, the pinned factory bundle, no
version downgrade without the explicit flag (read_bundle, ModelSlot, cmd/model parsing)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest

from edge.bundle import BundleError, build_bundle, generate_keypair, load_signing_key, read_bundle
from edge.bundle.trust import check_not_older, version_key
from edge.daemon import ModelSlot
from edge.mqtt.commands import CommandDispatcher, CommandError, ModelUpload, parse_command

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "edge" / "models" / "default.sspinn"
SENSORS = ["pelvis", "femur_r", "tibia_r", "foot_r", "femur_l", "tibia_l", "foot_l"]


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keys")
    own, own_pub = generate_keypair(folder / "own.key")
    other, _ = generate_keypair(folder / "other.key")
    return load_signing_key(own), own_pub.read_text().strip(), load_signing_key(other)


@pytest.fixture(scope="module")
def shipped():
    return read_bundle(SHIPPED)


def _bundle(shipped, key=None, version: str | None = None) -> bytes:
    manifest = shipped.manifest
    if version is not None:
        manifest = manifest.model_copy(update={"version": version})
    return build_bundle(manifest, shipped.model_bytes, key)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_unsigned_is_refused_whenever_a_key_is_trusted(keys, shipped):
    own, pub, other = keys
    unsigned = _bundle(shipped)
    for require in (False, True):
        with pytest.raises(BundleError) as info:
            read_bundle(unsigned, trusted_keys=[pub], require_signature=require)
        assert "unsigned" in str(info.value)
        assert "trusted_keys" in str(info.value)
    # Signed with the trusted key: accepted under both settings; foreign: refused.
    for require in (False, True):
        ok = read_bundle(_bundle(shipped, own), trusted_keys=[pub], require_signature=require)
        assert ok.signed_by == 0 and not ok.pinned
        with pytest.raises(BundleError, match="does not verify with any trusted key"):
            read_bundle(_bundle(shipped, other), trusted_keys=[pub], require_signature=require)


def test_a_pinned_bundle_is_trusted_as_those_exact_bytes(keys, shipped):
    _, pub, _ = keys
    factory = SHIPPED.read_bytes()
    pin = [_sha(factory)]
    for policy in (
        {"trusted_keys": [pub]},
        {"trusted_keys": [pub], "require_signature": True},
        {"require_signature": True},
    ):
        bundle = read_bundle(SHIPPED, pinned_sha256=pin, **policy)
        assert bundle.pinned and not bundle.is_signed
        # Any other unsigned bundle still follows the signature rules.
        other_unsigned = _bundle(shipped, version="0.1.1")
        with pytest.raises(BundleError, match="unsigned"):
            read_bundle(other_unsigned, pinned_sha256=pin, **policy)
    # One changed byte is another file: no longer pinned.
    changed = bytearray(factory)
    changed[-30] ^= 1
    with pytest.raises(BundleError):
        read_bundle(bytes(changed), trusted_keys=[pub], pinned_sha256=pin)
    # Upper-case pins match too (sha256sum prints lower case; people paste either).
    assert read_bundle(factory, trusted_keys=[pub], pinned_sha256=[pin[0].upper()]).pinned


def test_signed_but_nothing_to_verify_it_is_refused_under_require_signature(keys, shipped):
    own, _, _ = keys
    pin = [_sha(SHIPPED.read_bytes())]
    with pytest.raises(BundleError, match="trusts no signing key"):
        read_bundle(_bundle(shipped, own), require_signature=True, pinned_sha256=pin)
    with pytest.raises(BundleError, match="no trusted keys are configured"):
        read_bundle(_bundle(shipped, own), require_signature=True)
    # No policy at all (a development device): anything well-formed is accepted.
    assert read_bundle(_bundle(shipped)).signed_by is None


@pytest.mark.parametrize(
    ("older", "newer"),
    [
        ("0.1.0", "0.1.1"),
        ("0.9.9", "0.10.0"),
        ("1.2.0-rc.1", "1.2.0"),
        ("1.2.0-alpha", "1.2.0-alpha.1"),
        ("1.2.0-alpha.2", "1.2.0-alpha.10"),
        ("1.2.0-2", "1.2.0-beta"),
        ("1.9.0", "2.0.0"),
    ],
)
def test_semantic_version_order(older, newer):
    assert version_key(older) < version_key(newer)
    with pytest.raises(BundleError, match=re.escape(f"{older} is older than the running {newer}")):
        check_not_older(newer, older, allow_downgrade=False)
    check_not_older(newer, older, allow_downgrade=True)
    check_not_older(older, newer, allow_downgrade=False)
    check_not_older(newer, newer, allow_downgrade=False)  # same version: a re-push
    assert version_key("1.2.0+build.7") == version_key("1.2.0")


def test_model_slot_refuses_an_older_version_unless_allowed(tmp_path, keys, shipped):
    own, pub, _ = keys
    slot = ModelSlot(
        tmp_path,
        sensors=SENSORS,
        sample_rate_hz=100.0,
        height_m=1.75,
        mass_kg=70.0,
        positions_m=np.zeros((7, 2)),
        trusted_keys=[pub],
    )
    v2 = tmp_path / "start.sspinn"
    v2.write_bytes(_bundle(shipped, own, "2.0.0"))
    slot.load(v2)
    live = slot.estimator
    with pytest.raises(BundleError, match=re.escape("1.0.0 is older than the running 2.0.0")):
        slot.replace(_bundle(shipped, own, "1.0.0"))
    assert slot.estimator is live and slot.bundle.manifest.version == "2.0.0"
    assert not slot.current_path.exists()  # nothing persisted
    with pytest.raises(BundleError, match="unsigned"):
        slot.replace(_bundle(shipped, None, "3.0.0"))
    assert slot.replace(_bundle(shipped, own, "2.0.0"))["version"] == "2.0.0"
    result = slot.replace(_bundle(shipped, own, "1.0.0"), allow_downgrade=True)
    assert result["version"] == "1.0.0" and slot.bundle.manifest.version == "1.0.0"
    assert slot.swaps == 2


def test_start_up_load_follows_the_policy(tmp_path, keys):
    _, pub, _ = keys

    def slot(**policy) -> ModelSlot:
        return ModelSlot(
            tmp_path,
            sensors=SENSORS,
            sample_rate_hz=100.0,
            height_m=1.75,
            mass_kg=70.0,
            positions_m=np.zeros((7, 2)),
            **policy,
        )

    with pytest.raises(BundleError, match="unsigned"):
        slot(trusted_keys=[pub]).load(SHIPPED)  # the unsigned factory bundle, not pinned
    pinned = slot(trusted_keys=[pub], pinned_sha256=[_sha(SHIPPED.read_bytes())])
    pinned.load(SHIPPED)
    assert pinned.bundle.pinned


def test_cmd_model_json_form_carries_the_downgrade_flag(shipped):
    data = _bundle(shipped)
    raw = parse_command("model", data)
    assert isinstance(raw, ModelUpload) and raw.allow_downgrade is False
    payload = {"bundle": base64.b64encode(data).decode(), "allow_downgrade": True, "id": "r1"}
    upload = parse_command("model", json.dumps(payload).encode())
    assert isinstance(upload, ModelUpload)
    assert (upload.data, upload.allow_downgrade, upload.id) == (data, True, "r1")
    assert upload.sha256 == _sha(data)
    assert parse_command("model", json.dumps({"bundle": payload["bundle"]}).encode()).data == data
    for bad, reason in [
        ({"bundle": "!!"}, "not base64"),
        ({"bundle": base64.b64encode(b"hello").decode()}, "not a model bundle"),
        ({"allow_downgrade": True}, "bundle: Field required"),
        ({**payload, "force": 1}, "force: not a known key"),
    ]:
        with pytest.raises(CommandError, match=reason):
            parse_command("model", json.dumps(bad).encode())

    seen: list[bool] = []
    dispatcher = CommandDispatcher(link=None)
    dispatcher.register("model", lambda up: seen.append(up.allow_downgrade) or {"v": 1})
    reply = dispatcher.handle("model", json.dumps(payload).encode())
    assert reply["ok"] and reply["id"] == "r1" and seen == [True]
    reply = dispatcher.handle("model", json.dumps({"bundle": "!!", "id": 9}).encode())
    assert not reply["ok"] and reply["id"] == 9


def test_keygen_prints_the_exact_config_line(tmp_path, capsys):
    from converters.cli import main as convert_main
    from edge.config import validate_config_text

    assert convert_main(["keygen", "--out", str(tmp_path / "dev.key")]) == 0
    out = capsys.readouterr().out.splitlines()
    line = out[
        out.index("add this line to the [model] section of the device config (edge.toml):") + 1
    ]
    pub = (tmp_path / "dev.key.pub").read_text().strip()
    assert line == f'trusted_keys = ["{pub}"]'
    text = '[device]\nid = "a"\n[participant]\nheight_m = 1.8\nmass_kg = 75\n[model]\n' + line
    assert validate_config_text(text).model.trusted_keys == [pub]
    # The [commands] lines it prints for an operator key are a valid section as they are.
    commands = "\n".join(out[out.index(line) + 2 :])
    cfg = validate_config_text(text + "\n[commands]\n" + commands)
    assert cfg.commands.require_signed and cfg.commands.trusted_keys == [pub]
