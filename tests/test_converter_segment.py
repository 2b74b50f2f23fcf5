"""A checkpoint trained on segment-axis input (``data.undo_mounting``) converts: the
manifest says ``input_axes = "segment"``, the Keras reference is fed the segment-axis
features it was trained on, and the bundle, given the recording as measured, undoes the
same mounting on the device's code path (parity, signature, tilt invariance)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import keras
import numpy as np
import pytest

from converters.cli import main as convert_main
from converters.pipeline import convert_checkpoint
from edge.bundle import read_bundle
from edge.features import feature_names
from edge.inference import Estimator
from edge.mounting import from_segment_axes, mounting_for
from edge.recording import SENSOR_NAMES, Recording, bundled_recording_path
from train.checkpoint import CheckpointMeta, save_checkpoint
from train.inputs import at_model_rate, in_segment_axes, recording_features
from train.model import NetworkConfig, build_sequence_model
from train.normalisation import compute_normalisation

WALKING = bundled_recording_path("P01_walking")


@pytest.fixture(scope="module")
def segment_checkpoint(tmp_path_factory) -> Path:
    """An untrained (seeded) segment-axis checkpoint, normalised on undone recordings."""
    keras.utils.set_random_seed(11)
    sensors = list(SENSOR_NAMES)
    names = feature_names(sensors)
    recs = [in_segment_axes(at_model_rate(WALKING, 100.0))[0]]
    mean, std = compute_normalisation([recording_features(r, sensors) for r in recs], names, 7)
    cfg = NetworkConfig(lstm_units=16, dense_units=16)
    meta = CheckpointMeta(
        network=cfg,
        sample_rate_hz=100.0,
        sensors=sensors,
        input_features=names,
        norm_mean=mean.tolist(),
        norm_std=std.tolist(),
        created_utc=datetime.now(UTC).isoformat(),
        input_axes="segment",
    )
    folder = tmp_path_factory.mktemp("seg-ckpt")
    save_checkpoint(folder, build_sequence_model(cfg, len(names)), meta)
    return folder


def test_segment_checkpoint_converts_signed_with_parity(segment_checkpoint, tmp_path):
    key = tmp_path / "dev.key"
    assert convert_main(["keygen", "--out", str(key)]) == 0
    out = tmp_path / "seg.sspinn"
    rc = convert_main(
        [
            str(segment_checkpoint),
            "--quantize",
            "float32",
            "--out",
            str(out),
            "--sign",
            str(key),
            "--data",
            str(WALKING),
        ]
    )
    assert rc == 0
    pub = key.with_name("dev.key.pub").read_text().strip()
    bundle = read_bundle(out, trusted_keys=[pub], require_signature=True)
    assert bundle.signed_by == 0
    assert bundle.manifest.input_axes == "segment"
    assert json.loads(bundle.manifest_bytes)["input_axes"] == "segment"
    report = json.loads(out.with_suffix(".report.json").read_text())
    assert report["input_axes"] == "segment"
    # the mounting the verification undid: P01 has no calibration, so the functional one
    assert {v["method"] for v in report["mounting"]["P01_walking"].values()} == {"functional"}
    for group, stats in report["parity"]["P01_walking"].items():
        assert stats["max_rel_to_range"] <= 1e-4, (group, stats)
    # bundle and checkpoint scored the same way (the same undone input): no accuracy loss
    for key_, loss in report["accuracy"]["P01_walking"]["loss"].items():
        assert abs(loss) < 0.05, (key_, loss)


def test_segment_bundle_is_invariant_to_a_strap_tilt(segment_checkpoint):
    """Estimator + the rule on a recording whose straps are all tilted by ±15°: the same
    joint angles as untilted (the functional estimate is exactly equivariant)."""
    result = convert_checkpoint(segment_checkpoint, "float32", [WALKING])
    rec = at_model_rate(WALKING, 100.0)
    tilt = np.radians([15.0, -15.0] * 3 + [15.0])
    tilted = Recording(
        rec.time_s, rec.sensors, from_segment_axes(rec.imu, tilt), rec.meta, rec.truth
    )
    angles = []
    for r in (rec, tilted):
        est = Estimator(
            result.bundle,
            r.meta.participant.height_m,
            r.meta.participant.mass_kg,
            np.array([r.meta.sensors[s].position_m for s in SENSOR_NAMES]),
            mounting_rad=mounting_for(r).angles(list(SENSOR_NAMES)),
        )
        angles.append(est.run(np.ascontiguousarray(r.imu))["angles_deg"])
    rms = np.sqrt(np.mean((angles[0] - angles[1]) ** 2, axis=0))
    assert rms.max() < 1e-3, rms
