"""Functional calibration from gait alone: tilt recovery (acceptance), accuracy against
the ground truth of P01_walking, continuous recordings with gaps, refusals.

Run with ``-s -o log_cli=true --log-cli-level=INFO`` to see the measured numbers
(docs/calibration.md quotes them).
"""

from __future__ import annotations

import json
import logging
import math

import numpy as np
import pytest

from edge.mounting import Mounting, from_segment_axes, to_segment_axes
from edge.mounting.functional import (
    FunctionalSettings,
    InsufficientGaitError,
    estimate_functional,
    gait_orientation,
    joint_angles,
    mounting_for,
    segment_angles,
)
from edge.recording import Recording, read_recording, tile_cycles

log = logging.getLogger(__name__)
JOINTS = ("hip_flexion_r", "knee_angle_r", "ankle_angle_r")
#: calibration-facts.md: the gravity-only estimate's constant offsets on P01_walking, deg.
NAIVE_OFFSET_DEG = {"hip_flexion_r": -5.9, "knee_angle_r": 11.7, "ankle_angle_r": 6.7}


@pytest.fixture(scope="module")
def walking(p01_walking_csv) -> Recording:
    return read_recording(p01_walking_csv)


@pytest.fixture(scope="module")
def running(p01_running_csv) -> Recording:
    return read_recording(p01_running_csv)


def _with_imu(rec: Recording, imu: np.ndarray) -> Recording:
    return Recording(rec.time_s, rec.sensors, imu, rec.meta, {}, None)


@pytest.mark.parametrize("trial", ["walking", "running"])
def test_acceptance_one_sensor_tilted_by_15_deg(trial: str, request) -> None:
    """Each sensor in turn mounted 15° further (+ and −): the added tilt is recovered,
    the other sensors do not move, and the undone planar channels agree."""
    rec = request.getfixturevalue(trial).without_truth()
    base = estimate_functional(rec)
    b0 = base.angles(rec.sensors)
    undone0 = to_segment_axes(rec.imu, b0)[:, :, [0, 1, 5]]
    worst_err, worst_other, worst_rms = 0.0, 0.0, 0.0
    for k, name in enumerate(rec.sensors):
        for deg in (15.0, -15.0):
            tilt = np.zeros(len(rec.sensors))
            tilt[k] = math.radians(deg)
            est = estimate_functional(_with_imu(rec, from_segment_axes(rec.imu, tilt)))
            b1 = est.angles(rec.sensors)
            err = np.degrees(b1 - b0 - tilt)
            undone1 = to_segment_axes(from_segment_axes(rec.imu, tilt), b1)[:, :, [0, 1, 5]]
            rms = float(np.sqrt(np.mean((undone1[:, k] - undone0[:, k]) ** 2)))
            log.info(
                "%s %s %+.0f°: recovered %+.4f° (error %.2e°), undone planar RMS %.2e",
                trial, name, deg, math.degrees(b1[k] - b0[k]), err[k], rms,
            )  # fmt: skip
            assert abs(err[k]) < 3.0, f"{name} {deg:+}°: error {err[k]:.2f}°"
            worst_err = max(worst_err, abs(float(err[k])))
            worst_other = max(worst_other, float(np.abs(np.delete(err, k)).max()))
            worst_rms = max(worst_rms, rms)
    log.info(
        "%s: worst tilt error %.2e°, worst change of an untilted sensor %.2e°, "
        "worst undone planar RMS %.2e (m/s², rad/s)", trial, worst_err, worst_other, worst_rms
    )  # fmt: skip
    assert worst_other < 3.0
    assert worst_rms < 0.05


def test_tilt_recovery_with_independent_noise(walking) -> None:
    """Tilted and untilted copies with their own sensor noise (a harder version of the
    acceptance test: the method is exactly rotation-equivariant, noise is not)."""
    tiled = tile_cycles(walking, 20).without_truth()
    rng = np.random.default_rng(7)
    tilt = np.radians([15.0, -15.0, 15.0, -15.0, 15.0, -15.0, 15.0])

    def noisy(imu: np.ndarray) -> np.ndarray:
        out = imu.copy()
        out[:, :, :3] += rng.normal(0.0, 0.1, out[:, :, :3].shape)  # m/s²
        out[:, :, 3:] += rng.normal(0.0, 0.02, out[:, :, 3:].shape)  # rad/s
        return out

    b0 = estimate_functional(_with_imu(tiled, noisy(tiled.imu))).angles(tiled.sensors)
    mounted = from_segment_axes(tiled.imu, tilt)
    b1 = estimate_functional(_with_imu(tiled, noisy(mounted))).angles(tiled.sensors)
    err = np.degrees(b1 - b0 - tilt)
    log.info("noisy tilt recovery error per sensor (deg): %s", np.round(err, 3).tolist())
    assert np.abs(err).max() < 1.0


def test_foot_flat_instants_are_in_mid_stance(walking) -> None:
    """The detected foot-flat instants of P01_walking: the truth ankle angle there, and
    their place in the cycle (right heel strike at sample 0 of each 100)."""
    go = gait_orientation(walking.without_truth())
    tiled = tile_cycles(walking, FunctionalSettings().mean_cycle_tiles)
    idx = go.foot_flat["foot_r"][:, 0]
    ankle = np.degrees(tiled.truth["ankle_angle_r"][idx])
    phase = (idx % walking.n_samples) / walking.n_samples
    log.info("foot_r flat at cycle phase %s, truth ankle there %s°", phase.tolist(),
             np.round(ankle, 2).tolist())  # fmt: skip
    assert np.all((phase > 0.08) & (phase < 0.45))  # within the right stance, after loading
    # ankle = foot − shank: with the foot flat the shank leans a little forward over it in
    # mid-stance, so a few degrees of dorsiflexion, not 0, is what foot-flat means here
    assert np.all((ankle > 0.0) & (ankle < 10.0))


def test_joint_angle_offsets_against_truth_beat_gravity_only(walking) -> None:
    """Joint angles from the estimated segment orientations vs the optical truth."""
    m = estimate_functional(walking.without_truth())
    _, theta = segment_angles(walking, m)
    est = joint_angles(theta, list(walking.sensors), "r")
    truth = tile_cycles(walking, FunctionalSettings().mean_cycle_tiles).truth
    zero = Mounting.zero(walking.sensors)
    est0 = joint_angles(segment_angles(walking, zero)[1], list(walking.sensors), "r")
    for j, name in enumerate(JOINTS):
        ok = np.isfinite(est[:, j])
        assert ok.sum() > 300
        d = np.degrees(est[ok, j] - truth[name][ok])
        d0 = np.degrees(est0[ok, j] - truth[name][ok])
        offset, rmse = float(d.mean()), float(np.sqrt(np.mean(d**2)))
        log.info(
            "%s: offset %+.2f° RMSE %.2f° SD %.2f° (no mounting: offset %+.2f° RMSE %.2f°)",
            name, offset, rmse, float(d.std()), float(d0.mean()), float(np.sqrt(np.mean(d0**2))),
        )  # fmt: skip
        # better than the gravity-only constants (-5.9, +11.7, +6.7)
        assert abs(offset) < 0.5 * abs(NAIVE_OFFSET_DEG[name]), name
        assert abs(offset) < 3.0 and rmse < 4.0, name


def test_continuous_recording_with_gap_standing_and_turning(walking) -> None:
    """Standing, a NaN gap, turning and noise: the same mountings as the clean cycle."""
    ref = estimate_functional(walking.without_truth()).angles(walking.sensors)
    t = tile_cycles(walking, 24).without_truth()
    h = t.meta.sample_period_s
    rng = np.random.default_rng(0)
    imu = t.imu.copy()
    imu[:, :, :3] += rng.normal(0.0, 0.1, imu[:, :, :3].shape)
    imu[:, :, 3:] += rng.normal(0.0, 0.02, imu[:, :, 3:].shape)
    imu[250:330] = np.nan  # 1 s of lost samples
    imu[1000:1300, :, 4] += 0.8  # turning: yaw rate about the (pelvis) vertical
    stand = np.zeros((int(3.0 / h), len(t.sensors), 6))
    stand[:, :, 1] = 9.81
    stand[:, :, 3:] = rng.normal(0.0, 0.01, stand[:, :, 3:].shape)
    imu = np.concatenate([stand, imu, stand])
    meta = t.meta.model_copy(update={"speed_m_s": None})
    rec = Recording(np.arange(imu.shape[0]) * h, t.sensors, imu, meta, {}, None)
    m = estimate_functional(rec)
    diff = np.degrees(m.angles(rec.sensors) - ref)
    log.info(
        "continuous: %d strides, rejected %s, movement %s, diff to clean (deg) %s",
        m.details["n_strides"], m.details["rejected_strides"], m.details["movement"],
        np.round(diff, 2).tolist(),
    )  # fmt: skip
    assert np.abs(diff).max() < 1.0
    assert sum("turning" in r for r in m.details["rejected_strides"]) >= 2
    assert m.details["movement"].startswith("walking")
    assert all(0.0 < v.confidence <= 1.0 for v in m.sensors.values())


def test_refuses_without_gait(walking) -> None:
    h = walking.meta.sample_period_s
    n = int(20.0 / h)
    stand = np.zeros((n, len(walking.sensors), 6))
    stand[:, :, 1] = 9.81
    meta = walking.meta.model_copy(update={"samples_per_cycle": None})
    rec = Recording(np.arange(n) * h, walking.sensors, stand, meta, {}, None)
    with pytest.raises(InsufficientGaitError, match="good strides"):
        estimate_functional(rec)
    two = tile_cycles(walking, 2).without_truth()
    with pytest.raises(InsufficientGaitError, match="need 3"):
        estimate_functional(two)
    no_feet = Recording(
        walking.time_s[:50],
        walking.sensors[:3],
        walking.imu[:50, :3],
        meta,
        {},
        None,
    )
    with pytest.raises(InsufficientGaitError, match="foot"):
        estimate_functional(no_feet)


def test_mounting_is_written_to_and_read_from_the_sidecar(walking) -> None:
    m = estimate_functional(walking.without_truth())
    cal = json.loads(json.dumps(m.to_sidecar(walking.meta.calibration)))  # plain JSON
    back = Mounting.from_sidecar(cal)
    assert back is not None
    np.testing.assert_allclose(back.angles(walking.sensors), m.angles(walking.sensors))
    assert {v.method for v in back.sensors.values()} == {"functional"}
    # the joint-centre sensors get a position close to the sidecar's nominal one
    for name in ("femur_r", "tibia_r", "foot_r"):
        p = back.sensors[name].position_m
        assert p is not None
        nominal = np.array(walking.meta.sensors[name].position_m[:2])
        assert np.hypot(*(np.array(p) - nominal)) < 0.08, name


def test_mounting_for_prefers_a_standing_capture(walking) -> None:
    rec = walking.without_truth()
    functional = estimate_functional(rec)
    assert mounting_for(rec).angles(rec.sensors) == pytest.approx(functional.angles(rec.sensors))
    still = {
        "method": "still-period gyro bias + sagittal gravity alignment",
        "sensors": {"femur_r": {"sagittal_angle_rad": 0.3}},
    }
    meta = rec.meta.model_copy(update={"calibration": still})
    with_still = Recording(rec.time_s, rec.sensors, rec.imu, meta, {}, None)
    m = mounting_for(with_still)
    assert m.sensors["femur_r"].method == "still"
    assert m.sensors["femur_r"].angle_rad == pytest.approx(0.3)
    assert m.sensors["tibia_r"].method == "functional"
    assert m.sensors["tibia_r"].angle_rad == pytest.approx(functional.sensors["tibia_r"].angle_rad)


def test_a_dead_sensor_is_left_out_not_fatal(walking) -> None:
    rec = walking.without_truth()
    ref = estimate_functional(rec)
    imu = rec.imu.copy()
    k = rec.sensors.index("tibia_l")
    imu[:, k] = np.nan
    m = estimate_functional(_with_imu(rec, imu))
    assert m.sensors["tibia_l"].confidence == 0.0
    assert any("tibia_l" in w and "missing" in w for w in m.warnings)
    others = [s for s in rec.sensors if s != "tibia_l"]
    diff = np.degrees(m.angles(others) - ref.angles(others))
    log.info("tibia_l dead: change of the other sensors (deg) %s", np.round(diff, 3).tolist())
    assert np.abs(diff).max() < 0.5
