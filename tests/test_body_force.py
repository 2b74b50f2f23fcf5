"""GRF whose sum is the body's measured mass × acceleration, shared by the network."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from daemon_helpers import SHIPPED_BUNDLE

from edge.bundle import read_bundle
from edge.inference import Estimator, body_force
from edge.inference.angle_fusion import AngleFusion
from edge.inference.body_force import BodyForce, publish_with_physics
from edge.recording import Recording, bundled_recording_path, read_recording
from train.data.synthetic import SynthSpec, synthesize
from train.data.synthetic.imu_errors import ImuErrorModel
from train.data.synthetic.placement import PlacementJitter
from train.data.synthetic.speed_profile import Segment
from train.inputs import at_model_rate, sensor_positions

SENSORS = ["pelvis", "femur_r", "tibia_r", "foot_r", "femur_l", "tibia_l", "foot_l"]
RATE = 100.0
TAU = 2.5


@cache
def _subject() -> tuple[Recording, np.ndarray, np.ndarray]:
    """Standing, walking 1.3 m/s, running 3.2 m/s (labelled), straps tilted and known;
    its IMU (N, S, 6) in ``SENSORS`` order and its mounting (S,) rad."""
    spec = SynthSpec(
        segments=[
            Segment(mode="stand", duration_s=3.0),
            Segment(mode="walk", speed_m_s=1.3, duration_s=12.0),
            Segment(mode="run", speed_m_s=3.2, duration_s=12.0),
        ],
        seed=52,
        height_m=1.70,
        mass_kg=66.0,
        mounting_deg={"pelvis": 9.0, "femur_l": -12.0, "tibia_r": 8.0, "foot_l": -10.0},
        imu_errors=ImuErrorModel(acc_bias_mg=0.0, acc_bias_walk_mg_rts=0.0, cross_axis_pct=0.0),
        placement=PlacementJitter.none(),
    )
    rec = synthesize(spec)
    rot = np.array(rec.meta.synthetic["mounting_rotation"])
    beta = np.arctan2(rot[:, 1, 0], rot[:, 0, 0])
    idx = [rec.sensors.index(s) for s in SENSORS]
    return rec, np.ascontiguousarray(rec.imu[:, idx]), beta[idx]


def _total(rec: Recording, imu: np.ndarray, beta: np.ndarray, network: np.ndarray) -> np.ndarray:
    _, grf = publish_with_physics(
        np.zeros((len(imu), 7)),
        network,
        imu,
        SENSORS,
        RATE,
        TAU,
        beta,
        rec.meta.participant.height_m,
        sensor_positions(rec, SENSORS),
    )
    return grf


def test_the_sum_is_newtons_law(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unfiltered (the published total passes a 15 Hz low-pass, ``LOWPASS_HZ``), whatever
    the network says (here: 0.5 BW on each foot throughout), the published
    forces add up to the body's mass × acceleration: against the generator's ground
    truth, total vertical and horizontal force within 2 %BW RMSE walking and 11 %BW
    running (measured 0.2–1.4 and 5.4–10.5 over 3 s windows, the worst right after the
    change of gait: the orientations' ripple tilts a 2.5 BW force), 1.00 BW standing."""
    monkeypatch.setattr(body_force, "LOWPASS_HZ", 0.0)
    rec, imu, beta = _subject()
    network = np.tile([0.0, 0.5, 0.0, 0.5], (len(imu), 1))
    grf = _total(rec, imu, beta, network)
    t = rec.time_s - rec.time_s[0]
    truth_y = rec.truth["grf_y_r"] + rec.truth["grf_y_l"]
    truth_x = rec.truth["grf_x_r"] + rec.truth["grf_x_l"]
    walking, running = (t > 6.0) & (t < 15.0), t > 18.0
    loaded = truth_y > 0.05  # the generator's truth has horizontal force in flight too
    for est, truth, where in (
        (grf[:, 1] + grf[:, 3], truth_y, np.ones_like(loaded)),
        (grf[:, 0] + grf[:, 2], truth_x, loaded),
    ):
        for part, bound in ((walking, 2.0), (running, 11.0)):
            rmse = 100 * np.sqrt(np.mean((est - truth)[part & where] ** 2))
            assert rmse < bound, (rmse, bound)
    standing = (t > 1.0) & (t < 2.5)
    assert np.abs(grf[standing, 1] + grf[standing, 3] - 1.0).max() < 0.02
    # the network's total (1 BW throughout) is far from it while running
    assert 100 * np.sqrt(np.mean((1.0 - truth_y[running]) ** 2)) > 50.0


def _step(network: list[float], total_acc: tuple[float, float]) -> np.ndarray:
    """One BodyForce step with every sensor still and upright, measuring ``total_acc``
    (m/s², world x, y) as specific force."""
    force = BodyForce(SENSORS, RATE, 1.75, np.zeros((7, 2)))
    row = np.zeros((7, 6))
    row[:, 0], row[:, 1] = total_acc
    grf = np.array(network, dtype=np.float32)
    return force.step([1.0 + 0j] * 7, [1.0 + 0j] * 7, row, grf, True)


def test_the_network_shares_it_between_the_feet() -> None:
    # standing on the right foot by the network: all of the measured 1.2 BW there
    out = _step([0.1, 1.0, 0.0, 0.0], (0.1 * 9.81, 1.2 * 9.81))
    np.testing.assert_allclose(out, [0.1, 1.2, 0.0, 0.0], atol=1e-6)
    # double support 3:1; the measured horizontal total (0.1 BW) differs from the
    # network's (−0.2 + 0.1): the difference is shared 3:1, the opposite pushes stay
    out = _step([-0.2, 0.75, 0.1, 0.25], (0.1 * 9.81, 9.81))
    np.testing.assert_allclose(out, [-0.05, 0.75, 0.15, 0.25], atol=1e-6)
    # the network says flight: what the body seems to measure is noise, no force
    out = _step([0.0, 0.0, 0.0, 0.0], (0.0, 0.1 * 9.81))
    np.testing.assert_allclose(out, [0.0, 0.0, 0.0, 0.0], atol=1e-9)
    # pulling from the ground is not published, nor friction without a normal load
    out = _step([0.1, 0.5, -0.1, 0.5], (0.3, -2.0))
    np.testing.assert_allclose(out, [0.0, 0.0, 0.0, 0.0], atol=1e-9)


def test_a_missing_sensor_leaves_the_networks_forces() -> None:
    rec, imu, beta = _subject()
    holed = imu[:800].copy()
    holed[500:520, SENSORS.index("tibia_l")] = np.nan
    network = np.tile([0.05, 0.6, -0.05, 0.4], (800, 1)).astype(np.float32)
    grf = _total(rec, holed, beta, network)
    np.testing.assert_allclose(grf[500:520], network[500:520])
    assert np.abs(grf[300:500] - network[300:500]).max() > 0.05


def test_refuses_an_incomplete_body() -> None:
    with pytest.raises(ValueError, match="foot_l"):
        BodyForce(SENSORS[:-1], RATE, 1.8, np.zeros((6, 2)))
    with pytest.raises(ValueError, match="positions"):
        BodyForce(SENSORS, RATE, 1.8, np.zeros((6, 2)))
    with pytest.raises(ValueError, match="unknown"):
        BodyForce([*SENSORS[:-1], "hand_l"], RATE, 1.8, np.zeros((7, 2)))


def test_device_and_evaluation_publish_the_same_forces() -> None:
    """The Estimator's streaming GRF equals publish_with_physics on the network's own
    outputs (what sspinn-eval and the converter's parity use), on real IMU data."""
    bundle = read_bundle(SHIPPED_BUNDLE.read_bytes())
    sensors = list(bundle.manifest.sensors)
    rec = at_model_rate(read_recording(bundled_recording_path("P01_walking")), 100.0)
    idx = [rec.sensors.index(s) for s in sensors]
    imu = np.ascontiguousarray(rec.imu[:600, idx])
    beta = np.radians([3.0, -6.0, 2.0, 1.0, 0.5, 7.0, -3.0])
    pos = sensor_positions(rec, sensors)
    args = (bundle, 1.8, 75.0, pos)
    raw = Estimator(*args, mounting_rad=beta, angle_fusion_tau_s=None).run(imu)
    published = Estimator(*args, mounting_rad=beta).run(imu)
    angles, grf = publish_with_physics(
        raw["angles_deg"], raw["grf_bw"], imu, sensors, RATE, TAU, beta, 1.8, pos
    )
    np.testing.assert_allclose(published["grf_bw"], grf, atol=1e-4)
    np.testing.assert_allclose(published["angles_deg"], angles, atol=1e-3)
    assert np.abs(published["grf_bw"] - raw["grf_bw"]).max() > 0.05
    assert AngleFusion(sensors, RATE, TAU).tau_s == TAU
