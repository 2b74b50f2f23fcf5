"""Training and evaluation with the sensor mounting undone (``data.undo_mounting``): a strap
tilted by 15° gives the network the same input, estimated from the gait alone."""

from __future__ import annotations

import numpy as np
import pytest

from edge.mounting import from_segment_axes
from edge.recording import SENSOR_NAMES, Recording, bundled_recording_path, read_recording
from edge.recording.timebase import tile_cycles
from train.inputs import in_segment_axes, recording_features


def _tilted(rec: Recording, sensor: str, deg: float) -> Recording:
    beta = np.zeros(len(rec.sensors))
    beta[rec.sensors.index(sensor)] = np.radians(deg)
    imu = from_segment_axes(rec.imu, beta)
    return Recording(rec.time_s, rec.sensors, imu, rec.meta, rec.truth, rec.path)


@pytest.fixture(scope="module")
def walking() -> Recording:
    return tile_cycles(read_recording(bundled_recording_path("P01_walking")), 10, rate_hz=100.0)


@pytest.mark.parametrize("sensor", SENSOR_NAMES)
def test_a_strap_tilt_does_not_change_the_network_input(walking, sensor: str) -> None:
    base, m0 = in_segment_axes(walking)
    tilted, m1 = in_segment_axes(_tilted(walking, sensor, 15.0))
    k = SENSOR_NAMES.index(sensor)
    assert np.degrees(m1.angles(SENSOR_NAMES)[k] - m0.angles(SENSOR_NAMES)[k]) == pytest.approx(
        15.0, abs=3.0
    )
    f0 = recording_features(base, list(SENSOR_NAMES))
    f1 = recording_features(tilted, list(SENSOR_NAMES))
    raw_change = recording_features(_tilted(walking, sensor, 15.0), list(SENSOR_NAMES)) - (
        recording_features(walking, list(SENSOR_NAMES))
    )
    assert np.sqrt(np.mean(raw_change**2)) > 0.05  # the tilt does change the raw signals
    assert np.sqrt(np.mean((f1 - f0) ** 2)) < 1e-6
    assert base.truth == walking.truth  # truth travels unchanged (evaluation needs it)


@pytest.mark.slow
def test_a_checkpoint_trained_on_segment_axes_evaluates_so(tmp_path, walking) -> None:
    from converters.pipeline import convert_checkpoint
    from train.config import load_train_config
    from train.evaluation import evaluate, load_model
    from train.train_cli import bundled_config
    from train.trainer import Trainer

    cfg = load_train_config(bundled_config("quick"))
    cfg.data.undo_mounting = True
    cfg.data.real_cycles = 8
    cfg.optim.steps = 10
    ckpt = Trainer(cfg, tmp_path / "run").train(progress=False)
    model = load_model(ckpt)
    assert model.input_axes == "segment"
    plain = evaluate(model, walking)
    tilted = evaluate(model, _tilted(walking, "tibia_r", -15.0))
    assert plain.metrics["mounting"]["applied"] is True
    for ch in ("hip_flexion_r", "knee_angle_r", "ankle_angle_r"):
        rms = np.sqrt(np.mean((plain.estimate[ch] - tilted.estimate[ch]) ** 2))
        assert rms < 0.5, (ch, rms)
    # the converter takes it; the bundle undoes the same mounting on the device's path
    result = convert_checkpoint(ckpt, "float32", [bundled_recording_path("P01_walking")])
    assert result.bundle.manifest.input_axes == "segment"
    bundle_path = tmp_path / "seg.sspinn"
    bundle_path.write_bytes(result.bundle_bytes)
    as_bundle = load_model(bundle_path)
    assert as_bundle.input_axes == "segment"
    on_bundle = evaluate(as_bundle, _tilted(walking, "tibia_r", -15.0))
    for ch in ("hip_flexion_r", "knee_angle_r", "ankle_angle_r"):
        rms = np.sqrt(np.mean((on_bundle.estimate[ch] - tilted.estimate[ch]) ** 2))
        assert rms < 0.05, (ch, rms)
