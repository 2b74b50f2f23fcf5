"""The complementary filter that gives the joint angles the gyroscopes' shape."""

from __future__ import annotations

import math

import numpy as np
import pytest
from daemon_helpers import SHIPPED_BUNDLE

from edge.bundle import read_bundle
from edge.inference import Estimator
from edge.inference.angle_fusion import ANGLE_SENSORS, AngleFusion, fuse_angles
from edge.output_spec import ANGLE_CHANNELS
from edge.recording import bundled_recording_path, read_recording
from train.inputs import at_model_rate, sensor_positions

SENSORS = ["pelvis", "femur_r", "tibia_r", "foot_r", "femur_l", "tibia_l", "foot_l"]
RATE = 100.0


def _gait(seconds: float = 30.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True joint angles (N, 7) deg, the gyroscopes they imply (N, 7) rad/s, time (N,) s."""
    t = np.arange(0.0, seconds, 1.0 / RATE)
    w = 2 * math.pi * 0.9  # a 1.1 s stride
    angles = np.stack(
        [
            -3 + 2 * np.sin(2 * w * t),  # pelvis tilt
            15 + 25 * np.sin(w * t),  # hip r
            -30 - 30 * np.sin(w * t + 1.0) ** 2,  # knee r
            5 + 12 * np.sin(w * t - 0.5),  # ankle r
            15 + 25 * np.sin(w * t + math.pi),  # hip l
            -30 - 30 * np.sin(w * t + 1.0 + math.pi) ** 2,  # knee l
            5 + 12 * np.sin(w * t - 0.5 + math.pi),  # ankle l
        ],
        axis=1,
    )
    seg = {"pelvis": angles[:, 0]}
    for side, (h, k, a) in {"r": (1, 2, 3), "l": (4, 5, 6)}.items():
        seg[f"femur_{side}"] = seg["pelvis"] + angles[:, h]
        seg[f"tibia_{side}"] = seg[f"femur_{side}"] + angles[:, k]
        seg[f"foot_{side}"] = seg[f"tibia_{side}"] + angles[:, a]
    gyro = np.stack([np.radians(np.gradient(seg[s], t)) for s in SENSORS], axis=1)
    return angles, gyro, t


def test_shape_from_the_gyroscopes_offset_from_the_network() -> None:
    truth, gyro, t = _gait(40.0)
    rng = np.random.default_rng(3)
    offset = rng.uniform(-4, 4, 7)
    # a network with the right posture plus an offset, and a stride-rate shape error
    shape_error = 8.0 * np.sin(2 * math.pi * 0.9 * t + 0.7)[:, None] * rng.uniform(0.5, 1, 7)
    net = truth + offset + shape_error
    fused = fuse_angles(net, gyro, SENSORS, RATE, tau_s=3.0)
    late = t > 20.0
    err = (fused - truth)[late]
    # the offset stays (the network's posture); the shape error (up to 8°) is attenuated
    # at least 5x (second order at 0.9 Hz, tau 3 s: 8.5x)
    np.testing.assert_allclose(err.mean(axis=0), offset, atol=0.3)
    residual = np.abs(err - err.mean(axis=0)).max(axis=0)
    assert (residual < 0.2 * np.abs(shape_error[late]).max(axis=0)).all()


def test_a_gyroscope_bias_is_learnt_not_integrated() -> None:
    """A constant rate bias (a first-order filter would turn 0.5 °/s into a 1.5° offset
    at tau 3 s) is learnt by the bias state and leaves no offset once settled."""
    truth, gyro, t = _gait(90.0)
    bias_deg_s = 0.5
    biased = gyro.copy()
    biased[:, SENSORS.index("pelvis")] += math.radians(bias_deg_s)
    fusion = AngleFusion(SENSORS, RATE, 3.0)
    fused = np.array([fusion.step(truth[i].copy(), biased[i]) for i in range(len(t))])
    expected = np.zeros(7)
    expected[ANGLE_CHANNELS.index("pelvis_tilt")] = bias_deg_s
    expected[ANGLE_CHANNELS.index("hip_flexion_r")] = -bias_deg_s
    expected[ANGLE_CHANNELS.index("hip_flexion_l")] = -bias_deg_s
    np.testing.assert_allclose(fusion.bias_deg_s, expected, atol=0.02)
    early, late = (t > 2.0) & (t < 6.0), t > 60.0
    assert np.abs((fused - truth)[early]).max() > 0.3  # the bias shows before it is learnt
    assert np.abs((fused - truth)[late]).max() < 0.25  # discretisation; first order: 1.5


def test_missing_gyroscope_hands_its_joints_to_the_network() -> None:
    truth, gyro, t = _gait(5.0)
    net = truth + 5.0 + 6.0 * np.sin(2 * math.pi * 0.9 * t)[:, None]
    fusion = AngleFusion(SENSORS, RATE, 3.0)
    for i in range(200):
        fusion.step(net[i].copy(), gyro[i])
    row = gyro[200].copy()
    row[SENSORS.index("tibia_r")] = np.nan
    out = fusion.step(net[200].copy(), row)
    for j, ch in enumerate(ANGLE_CHANNELS):
        uses_tibia = "tibia_r" in ANGLE_SENSORS[ch]
        if uses_tibia:  # knee r and ankle r
            assert out[j] == pytest.approx(net[200, j])
        else:
            assert np.isfinite(out[j]) and out[j] != pytest.approx(net[200, j], abs=1e-3)
    # the next good step carries on from the network's value
    assert np.isfinite(fusion.step(net[201].copy(), gyro[201])).all()


def test_refuses_what_it_cannot_fuse() -> None:
    with pytest.raises(ValueError, match="foot_l"):
        AngleFusion(SENSORS[:-1], RATE, 2.0)
    with pytest.raises(ValueError, match="> 0"):
        AngleFusion(SENSORS, RATE, 0.0)


def test_device_and_evaluation_fuse_the_same_way() -> None:
    """The Estimator's streaming fusion equals fuse_angles on the network's own angles
    (what sspinn-eval and the converter's parity use), on real IMU data."""
    bundle = read_bundle(SHIPPED_BUNDLE.read_bytes())
    sensors = list(bundle.manifest.sensors)
    rec = at_model_rate(read_recording(bundled_recording_path("P01_walking")), 100.0)
    idx = [rec.sensors.index(s) for s in sensors]
    imu = np.ascontiguousarray(rec.imu[:600, idx])
    args = (bundle, 1.8, 75.0, sensor_positions(rec, sensors))
    raw = Estimator(*args, angle_fusion_tau_s=None).run(imu)["angles_deg"]
    fused = Estimator(*args).run(imu)["angles_deg"]
    expected = fuse_angles(raw, imu[:, :, 5], sensors, bundle.manifest.sample_rate_hz)
    np.testing.assert_allclose(fused, expected, atol=1e-3)
    assert np.abs(fused - raw).max() > 1.0  # the fusion does change the angles
