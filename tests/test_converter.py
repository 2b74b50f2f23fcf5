"""Checkpoint → streaming TFLite bundle: parity, quantization, signing, CLI, push."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path

import keras
import numpy as np
import paho.mqtt.client as mqtt
import pytest

from converters.cli import main as convert_main
from converters.pipeline import convert_checkpoint
from converters.push import PushError, push_bundle
from edge.bundle import BundleError, read_bundle
from edge.features import feature_names
from edge.inference import Estimator
from edge.recording import SENSOR_NAMES, bundled_recording_path, read_recording
from train.checkpoint import CheckpointMeta, load_checkpoint, save_checkpoint
from train.inputs import at_model_rate, recording_features
from train.model import NetworkConfig, build_sequence_model
from train.normalisation import compute_normalisation

RECORDINGS = [bundled_recording_path("P01_walking"), bundled_recording_path("P01_running")]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """An untrained (seeded) checkpoint with real normalisation statistics."""
    keras.utils.set_random_seed(7)
    sensors = list(SENSOR_NAMES)
    names = feature_names(sensors)
    recs = [at_model_rate(p, 100.0) for p in RECORDINGS]
    mean, std = compute_normalisation([recording_features(r, sensors) for r in recs], names, 7)
    cfg = NetworkConfig(lstm_units=64, dense_units=64)
    meta = CheckpointMeta(
        network=cfg,
        sample_rate_hz=100.0,
        sensors=sensors,
        input_features=names,
        norm_mean=mean.tolist(),
        norm_std=std.tolist(),
        created_utc=datetime.now(UTC).isoformat(),
    )
    folder = tmp_path_factory.mktemp("ckpt")
    save_checkpoint(folder, build_sequence_model(cfg, len(names)), meta)
    return folder


def test_checkpoint_round_trip(checkpoint):
    model, meta = load_checkpoint(checkpoint)
    assert meta.n_features == 37 and meta.network.lstm_units == 64
    assert model.get_layer("lstm").get_weights()[0].shape == (37, 256)


def test_float32_bundle_matches_keras(checkpoint):
    """Acceptance: float32 max abs difference <= 1e-4 of each output's range."""
    result = convert_checkpoint(checkpoint, "float32", RECORDINGS)
    for trial in ("P01_walking", "P01_running"):
        for group, stats in result.report["parity"][trial].items():
            assert stats["max_rel_to_range"] <= 1e-4, (trial, group, stats)
    assert result.report["flex_or_custom_ops"] == []
    assert "FULLY_CONNECTED" in result.report["ops"]
    assert result.report["latency"]["median_us"] > 0
    assert result.bundle.manifest.quantization == "float32"


def test_int8_bundle_is_small_builtin_and_streams(checkpoint):
    result = convert_checkpoint(checkpoint, "int8", RECORDINGS)
    assert result.report["bundle_bytes"] <= 300_000
    assert result.report["flex_or_custom_ops"] == []
    assert "QUANTIZE" in result.report["ops"]  # activations really are int8
    rec = at_model_rate(RECORDINGS[0], 100.0)
    est = Estimator(
        result.bundle,
        1.73,
        73.0,
        np.array([rec.meta.sensors[s].position_m for s in SENSOR_NAMES]),
    )
    out = est.run(rec.imu[:200])
    assert all(np.isfinite(v).all() for v in out.values())
    # Streaming carries state: the same sample gives different outputs at t=0 and t=100.
    assert not np.allclose(out["angles_deg"][0], out["angles_deg"][100])


def test_cli_keygen_sign_convert_and_verify(checkpoint, tmp_path, capsys):
    key = tmp_path / "dev.key"
    assert convert_main(["keygen", "--out", str(key)]) == 0
    bundle = tmp_path / "m.sspinn"
    rc = convert_main(
        [str(checkpoint), "--quantize", "dynamic", "--out", str(bundle), "--sign", str(key)]
    )
    assert rc == 0
    report = json.loads(bundle.with_suffix(".report.json").read_text())
    assert report["quantization"] == "dynamic" and report["signed"] is True
    pub = key.with_name("dev.key.pub").read_text().strip()
    verified = read_bundle(bundle, trusted_keys=[pub], require_signature=True)
    assert verified.signed_by == 0
    assert verified.manifest.min_runtime.tflite_runtime is None  # 2.14 cannot run dynamic
    raw = bytearray(bundle.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    with pytest.raises(BundleError):
        read_bundle(bytes(raw), trusted_keys=[pub])


def test_cli_missing_checkpoint_is_a_clear_error(tmp_path, capsys):
    rc = convert_main([str(tmp_path / "nope"), "--out", str(tmp_path / "x.sspinn")])
    assert rc == 2
    assert "is not a checkpoint" in capsys.readouterr().err


def test_push_refuses_a_bad_broker_port_in_one_line(tmp_path):
    bundle = Path(__file__).resolve().parents[1] / "edge" / "models" / "default.sspinn"
    with pytest.raises(ValueError, match=r"broker port '70000' is not a number \(1-65535\)"):
        push_bundle(bundle, "h:70000", "belt-01", timeout_s=1.0)


def _device_responder(broker, device: str, replies: list) -> mqtt.Client:
    """A minimal device endpoint: verifies pushed bundles and answers on .../result."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="responder")
    ready = threading.Event()

    def on_connect(c, u, f, rc, p):
        c.subscribe(f"sspinn/{device}/cmd/model", qos=1)

    def on_message(c, u, msg):
        try:
            b = read_bundle(msg.payload)
            reply = {"ok": True, "model_id": b.manifest.model_id}
        except BundleError as exc:
            reply = {"ok": False, "error": str(exc)}
        replies.append(reply)
        c.publish(f"sspinn/{device}/cmd/model/result", json.dumps(reply), qos=1)

    client.on_connect = on_connect
    client.on_subscribe = lambda *a: ready.set()
    client.on_message = on_message
    client.connect(broker.host, broker.port)
    client.loop_start()
    assert ready.wait(5)
    return client


def test_push_round_trip_and_timeout(checkpoint, tmp_path, mosquitto):
    bundle = tmp_path / "m.sspinn"
    assert convert_main([str(checkpoint), "--quantize", "float32", "--out", str(bundle)]) == 0
    replies: list = []
    responder = _device_responder(mosquitto, "belt1", replies)
    try:
        result = push_bundle(bundle, mosquitto.address, "belt1", timeout_s=10)
        assert result == {"ok": True, "model_id": "sspinn-causal-lstm"}
        assert len(replies) == 1
    finally:
        responder.loop_stop()
        responder.disconnect()
    with pytest.raises(PushError, match="did not answer"):
        push_bundle(bundle, mosquitto.address, "nobody", timeout_s=1)


def test_push_refuses_corrupt_bundle_locally(tmp_path, mosquitto):
    bad = tmp_path / "bad.sspinn"
    bad.write_bytes(b"garbage")
    with pytest.raises(BundleError):
        push_bundle(bad, mosquitto.address, "belt1", timeout_s=1)


def test_estimator_handles_missing_sensor_samples(checkpoint):
    result = convert_checkpoint(checkpoint, "float32", RECORDINGS[:1])
    rec = read_recording(RECORDINGS[0])
    est = Estimator(result.bundle, 1.73, 73.0, np.zeros((7, 2)))
    row = rec.imu[0].copy()
    row[3] = np.nan  # foot_r vanished
    out = est.step(row)
    assert np.isfinite(out.angles_deg).all()
