"""The one definition of a mounting: rotate and undo, hot path, sidecar, still calibration."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from edge.mounting import (
    AxisRotator,
    Mounting,
    SensorMounting,
    from_segment_axes,
    rotation_matrices,
    to_segment_axes,
)
from firmware_bridge.calibration import calibrate_still

NAMES = ("pelvis", "femur_r", "tibia_r", "foot_r", "femur_l", "tibia_l", "foot_l")
BETA = np.radians([5.0, -12.0, 20.0, -3.0, 45.0, -60.0, 170.0])


def _random_imu(n: int = 200, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    imu = rng.normal(0.0, 3.0, (n, len(NAMES), 6))
    imu[:, :, 1] += 9.81
    return imu


def test_round_trip_and_nan_pass_through() -> None:
    imu = _random_imu()
    imu[10, 2, 0] = np.nan
    mounted = from_segment_axes(imu, BETA)
    back = to_segment_axes(mounted, BETA)
    finite = np.isfinite(imu)
    finite[10, 2, 1] = False  # the rotation partner of the NaN
    assert np.abs(back[finite] - imu[finite]).max() < 1e-12
    # the NaN spreads to the rotated partner (acc_y of that sample), nowhere else
    assert np.isnan(back[10, 2, 0]) and np.isnan(back[10, 2, 1])
    assert np.isfinite(np.delete(back.reshape(-1, 6), 10 * len(NAMES) + 2, axis=0)).all()
    # z channels are the rotation axis: untouched
    np.testing.assert_array_equal(mounted[:, :, [2, 5]], imu[:, :, [2, 5]])
    # norms of the (x, y) pairs are preserved
    np.testing.assert_allclose(
        np.hypot(mounted[:, :, 3], mounted[:, :, 4]), np.hypot(imu[:, :, 3], imu[:, :, 4])
    )


def test_sign_convention_is_the_body_model_one() -> None:
    """A sensor turned by +β counter-clockwise on an upright segment at rest reads gravity
    at (g sin β, g cos β): its x axis now points a little down."""
    seg = np.zeros((1, 1, 6))
    seg[0, 0, 1] = 9.81
    beta = math.radians(10.0)
    meas = from_segment_axes(seg, [beta])
    assert meas[0, 0, 0] == pytest.approx(9.81 * math.sin(beta))
    assert meas[0, 0, 1] == pytest.approx(9.81 * math.cos(beta))
    np.testing.assert_allclose(to_segment_axes(meas, [beta]), seg, atol=1e-12)


def test_axis_rotator_matches_and_works_in_place() -> None:
    imu = _random_imu(5)
    expected = to_segment_axes(imu, BETA)
    rot = AxisRotator(BETA)
    for k in range(imu.shape[0]):
        frame = imu[k].copy()
        out = rot.apply(frame)
        assert out is frame
        np.testing.assert_allclose(frame, expected[k], atol=1e-12)
    mats = rotation_matrices(BETA)
    np.testing.assert_allclose(
        np.einsum("sij,nsj->nsi", mats, imu[:, :, :2]), expected[:, :, :2], atol=1e-12
    )


def _standing_capture(beta: np.ndarray, n: int = 300, seed: int = 1) -> np.ndarray:
    """(n, 7, 6) a quiet standing capture, segment frames upright, sensors mounted at β."""
    rng = np.random.default_rng(seed)
    seg = np.zeros((n, len(NAMES), 6))
    seg[:, :, 1] = 9.81
    seg[:, :, :3] += rng.normal(0.0, 0.01, (n, len(NAMES), 3))
    seg[:, :, 3:] += rng.normal(0.0, 0.002, (n, len(NAMES), 3))
    return from_segment_axes(seg, beta)


def test_a_device_applied_alignment_leaves_nothing_to_undo() -> None:
    """The daemon records data after applying ``cmd/calibrate`` alignment and writes
    ``{"kind": ..., **result}`` into the sidecar: only a gyro-bias calibration leaves the
    mounting in the data."""
    beta = np.radians([3.0, -12.0, 20.0, -7.0, 9.0, -15.0, 25.0])
    cal = calibrate_still(_standing_capture(beta), NAMES, 100.0).to_sidecar()
    aligned = Mounting.from_sidecar({"kind": "alignment", **cal})
    bias_only = Mounting.from_sidecar({"kind": "gyro_bias", **cal})
    assert aligned is not None and bias_only is not None
    np.testing.assert_allclose(aligned.angles(NAMES), 0.0)
    assert all(v.method == "still" for v in aligned.sensors.values())
    np.testing.assert_allclose(np.degrees(bias_only.angles(NAMES)), np.degrees(beta), atol=0.05)


def test_still_calibration_sign_matches_and_sidecar_reads_it() -> None:
    beta = np.radians([3.0, -12.0, 20.0, -7.0, 9.0, -15.0, 25.0])
    cal = calibrate_still(_standing_capture(beta), NAMES, 100.0)
    still = np.array([cal.sensors[s].sagittal_angle_rad for s in NAMES])
    assert np.abs(np.degrees(still - beta)).max() < 0.05  # same sign, same value
    m = Mounting.from_sidecar(cal.to_sidecar())
    assert m is not None
    assert all(v.method == "still" for v in m.sensors.values())
    np.testing.assert_allclose(m.angles(NAMES), still)
    # undoing with the read mounting gives the upright gravity, as CalibrationApplier does
    capture = _standing_capture(beta, n=50, seed=2)
    undone = to_segment_axes(capture, m.angles(NAMES))
    applier = cal.applier(NAMES).apply(capture.copy())
    np.testing.assert_allclose(undone[:, :, :3], applier[:, :, :3], atol=1e-12)
    assert np.abs(undone[:, :, 0]).mean() < 0.02
    assert np.abs(undone[:, :, 1] - 9.81).mean() < 0.02


def test_sidecar_round_trip_and_precedence() -> None:
    m = Mounting(
        sensors={
            "femur_r": SensorMounting(
                angle_rad=0.1, position_m=(0.0, -0.2), method="functional", confidence=0.7
            ),
            "foot_r": SensorMounting(angle_rad=-0.05, method="functional"),
        },
        warnings=["x"],
    )
    existing = {"method": "something else", "note": 1}
    cal = m.to_sidecar(existing)
    assert existing == {"method": "something else", "note": 1}  # not modified
    assert cal["note"] == 1
    back = Mounting.from_sidecar(cal)
    assert back == m
    np.testing.assert_allclose(m.angles(["femur_r", "pelvis", "foot_r"]), [0.1, 0.0, -0.05])
    pos = m.positions(["femur_r", "foot_r"])
    assert pos[0].tolist() == [0.0, -0.2] and np.isnan(pos[1]).all()
    # a standing capture wins where present; the functional entry fills the rest
    still = calibrate_still(_standing_capture(np.radians([2.0] * 7)), NAMES, 100.0)
    both = m.to_sidecar({**still.to_sidecar()})
    got = Mounting.from_sidecar(both)
    assert got is not None
    assert got.sensors["femur_r"].method == "still"
    assert got.sensors["femur_r"].angle_rad == pytest.approx(math.radians(2.0), abs=1e-3)
    assert Mounting.from_sidecar(None) is None
    assert Mounting.from_sidecar({"method": "x"}) is None
    with pytest.raises(ValidationError):
        SensorMounting(angle_rad=0.0, colour="red")  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        SensorMounting(angle_rad=0.0, method="guess")  # type: ignore[arg-type]
