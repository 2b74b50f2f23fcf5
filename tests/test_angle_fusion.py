"""Published joint angles from the sensors' gravity-anchored orientations."""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest
from daemon_helpers import SHIPPED_BUNDLE

from edge.bundle import read_bundle
from edge.inference import Estimator
from edge.inference.angle_fusion import ANGLE_SENSORS, AngleFusion, fuse_angles
from edge.inference.segment_orientation import SegmentOrientation
from edge.mounting import from_segment_axes
from edge.output_spec import ANGLE_CHANNELS, to_published
from edge.recording import Recording, bundled_recording_path, read_recording
from train.data.synthetic import SynthSpec, synthesize
from train.data.synthetic.imu_errors import ImuErrorModel
from train.data.synthetic.placement import PlacementJitter
from train.data.synthetic.speed_profile import Segment
from train.inputs import at_model_rate, sensor_positions

SENSORS = ["pelvis", "femur_r", "tibia_r", "foot_r", "femur_l", "tibia_l", "foot_l"]
RATE = 100.0
TAU = 2.5


def _true_beta(rec: Recording) -> np.ndarray:
    """(S,) the synthetic recording's sagittal mounting (rad)."""
    rot = np.array(rec.meta.synthetic["mounting_rotation"])  # (S, 3, 3) sensor axes
    return np.arctan2(rot[:, 1, 0], rot[:, 0, 0])


@cache
def _walk_and_run() -> tuple[Recording, np.ndarray, np.ndarray]:
    """A synthetic subject standing, walking, running (labelled), its IMU in
    ``SENSORS`` order (N, S, 6) and its true joint angles (N, 7) deg."""
    spec = SynthSpec(
        segments=[
            Segment(mode="stand", duration_s=2.0),
            Segment(mode="walk", speed_m_s=1.4, duration_s=14.0),
            Segment(mode="run", speed_m_s=3.2, duration_s=14.0),
        ],
        seed=41,
        height_m=1.74,
        mass_kg=70.0,
        mounting_deg={"femur_r": 12.0, "tibia_l": -14.0, "foot_r": 9.0, "pelvis": -7.0},
        # sensor noise, gyroscope bias and its drift kept; no accelerometer bias or
        # cross-axis error and no out-of-plane placement, so that the truth's mounting
        # is exactly what the angles subtract (each of those tilts a sensor's gravity)
        imu_errors=ImuErrorModel(acc_bias_mg=0.0, acc_bias_walk_mg_rts=0.0, cross_axis_pct=0.0),
        placement=PlacementJitter.none(),
    )
    rec = synthesize(spec)
    idx = [rec.sensors.index(s) for s in SENSORS]
    truth = np.stack([to_published("angles_deg", rec.truth[c]) for c in ANGLE_CHANNELS], 1)
    return rec, np.ascontiguousarray(rec.imu[:, idx]), truth


def _rmse(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sqrt(np.mean((a - b) ** 2, axis=0))


def test_angles_follow_the_body_not_the_network() -> None:
    """Walking then running, four straps tilted 7–14°, the mounting known: every joint
    within 3° RMSE after the first 5 s, whatever the network says (here: the truth plus
    20° and a stride-rate error of 10°)."""
    rec, imu, truth = _walk_and_run()
    t = rec.time_s - rec.time_s[0]
    beta = _true_beta(rec)[[rec.sensors.index(s) for s in SENSORS]]
    net = truth + 20.0 + 10.0 * np.sin(2 * math.pi * 0.9 * t)[:, None]
    out = fuse_angles(net, imu, SENSORS, RATE, TAU, mounting_rad=beta)
    late = t > 5.0
    err = _rmse(out[late], truth[late])
    assert (err < 3.0).all(), dict(zip(ANGLE_CHANNELS, np.round(err, 2), strict=True))
    # the network's own angles would be 22° off; its offset does not pass at all
    assert np.abs((out - truth)[late].mean(axis=0)).max() < 2.0


def test_mounting_is_subtracted_exactly() -> None:
    """The same data in segment axes (mounting 0) and rotated by ±15° per sensor with that
    mounting given: the same angles (the rotation only shifts each ψ by β)."""
    _rec, imu, truth = _walk_and_run()
    seg = imu[:1500]
    tilt = np.radians([15.0, -15.0, 10.0, -12.0, 15.0, 8.0, -15.0])
    tilted = from_segment_axes(seg, tilt)
    a = fuse_angles(truth[:1500], seg, SENSORS, RATE, TAU)
    b = fuse_angles(truth[:1500], tilted, SENSORS, RATE, TAU, mounting_rad=tilt)
    np.testing.assert_allclose(a, b, atol=2e-3)
    c = fuse_angles(truth[:1500], tilted, SENSORS, RATE, TAU)  # the tilt not subtracted
    assert np.abs(c - a).max() > 9.0


def test_a_gyroscope_bias_is_learnt() -> None:
    """A 1 °/s bias on one gyroscope is learnt (within 0.1 °/s) and leaves its joints
    within 0.5° of the unbiased result once settled."""
    rec, imu, truth = _walk_and_run()
    k = SENSORS.index("tibia_r")
    biased = imu.copy()
    biased[:, k, 5] += math.radians(1.0)
    fusion = AngleFusion(SENSORS, RATE, TAU)
    out = np.array([fusion.step(truth[i].astype(np.float32), biased[i]) for i in range(len(imu))])
    ref = fuse_angles(truth, imu, SENSORS, RATE, TAU)
    learnt = fusion.bias_deg_s - _bias_learnt_from(imu)
    assert learnt[k] == pytest.approx(1.0, abs=0.1)
    late = rec.time_s - rec.time_s[0] > 15.0
    assert np.abs(out[late] - ref[late]).max() < 0.5


def _bias_learnt_from(imu: np.ndarray) -> np.ndarray:
    """(S,) the bias (deg/s) learnt from the unbiased data (the synthetic IMU errors)."""
    fusion = AngleFusion(SENSORS, RATE, TAU)
    net = np.zeros(7, dtype=np.float32)
    for row in imu:
        fusion.step(net, row)
    return fusion.bias_deg_s


def test_a_missing_sensor_turns_with_the_network_and_comes_back() -> None:
    """The right shank missing for 1 s in mid-walk: no NaN, its joints follow the
    network's motion (continuous: no step larger than the motion allows), and 5 s after
    it returns the angles are within 0.5° of the uninterrupted run."""
    _rec, imu, truth = _walk_and_run()
    k = SENSORS.index("tibia_r")
    gap = slice(800, 900)
    holed = imu.copy()
    holed[gap, k] = np.nan
    out = fuse_angles(truth, holed, SENSORS, RATE, TAU)
    ref = fuse_angles(truth, imu, SENSORS, RATE, TAU)
    assert np.isfinite(out).all()
    knee = ANGLE_CHANNELS.index("knee_angle_r")
    jumps = np.abs(np.diff(out[700:1000, knee]))
    assert jumps.max() < 1.5 * np.abs(np.diff(truth[700:1000, knee])).max() + 0.5
    assert np.abs(out[1400:] - ref[1400:]).max() < 0.5
    # joints without the shank are untouched by its gap
    for j, ch in enumerate(ANGLE_CHANNELS):
        if "tibia_r" not in ANGLE_SENSORS[ch]:
            np.testing.assert_allclose(out[:, j], ref[:, j], atol=1e-4)


def test_a_sensor_never_seen_leaves_its_joints_to_the_network() -> None:
    _rec, imu, truth = _walk_and_run()
    holed = imu[:400].copy()
    holed[:, SENSORS.index("foot_l")] = np.nan
    net = truth[:400] + 3.0
    out = fuse_angles(net, holed, SENSORS, RATE, TAU)
    ankle_l = ANGLE_CHANNELS.index("ankle_angle_l")
    np.testing.assert_allclose(out[:, ankle_l], net[:, ankle_l], atol=1e-4)
    hip_r = ANGLE_CHANNELS.index("hip_flexion_r")
    assert np.abs(out[100:, hip_r] - net[100:, hip_r]).max() > 1.0


def test_standing_still_is_exact_from_the_first_sample() -> None:
    """Still segments at known angles: the orientation is the accelerometer's at once."""
    psi = np.radians([5.0, 20.0, -10.0, 3.0, -30.0, 12.0, 0.0])
    row = np.zeros((7, 6))
    row[:, 0], row[:, 1] = 9.81 * np.sin(psi), 9.81 * np.cos(psi)
    so = SegmentOrientation(7, RATE, TAU)
    for _ in range(300):
        z = so.step(row)
    np.testing.assert_allclose(np.angle(z), psi, atol=1e-9)


def test_refuses_what_it_cannot_fuse() -> None:
    with pytest.raises(ValueError, match="foot_l"):
        AngleFusion(SENSORS[:-1], RATE, 2.0)
    with pytest.raises(ValueError, match="> 0"):
        AngleFusion(SENSORS, RATE, 0.0)
    with pytest.raises(ValueError, match="mounting"):
        AngleFusion(SENSORS, RATE, 2.0, mounting_rad=[0.0, 0.1])


def test_device_and_evaluation_fuse_the_same_way() -> None:
    """The Estimator's streaming angles equal fuse_angles on the network's own angles
    (what sspinn-eval and the converter's parity use), on real IMU data."""
    bundle = read_bundle(SHIPPED_BUNDLE.read_bytes())
    sensors = list(bundle.manifest.sensors)
    rec = at_model_rate(read_recording(bundled_recording_path("P01_walking")), 100.0)
    idx = [rec.sensors.index(s) for s in sensors]
    imu = np.ascontiguousarray(rec.imu[:600, idx])
    beta = np.radians([3.0, -6.0, 2.0, 1.0, 0.5, 7.0, -3.0])
    args = (bundle, 1.8, 75.0, sensor_positions(rec, sensors))
    raw = Estimator(*args, mounting_rad=beta, angle_fusion_tau_s=None).run(imu)["angles_deg"]
    fused = Estimator(*args, mounting_rad=beta).run(imu)["angles_deg"]
    expected = fuse_angles(raw, imu, sensors, bundle.manifest.sample_rate_hz, mounting_rad=beta)
    np.testing.assert_allclose(fused, expected, atol=1e-3)
    assert np.abs(fused - raw).max() > 1.0  # the published angles are not the network's
