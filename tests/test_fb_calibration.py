"""Gyroscope bias and sagittal alignment from a still period."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from edge.cli import main
from edge.recording import bundled_recording_path, read_recording
from edge.simulated_hardware import standing_arrays
from firmware_bridge.acquisition import Acquisition
from firmware_bridge.bus import LockedBus
from firmware_bridge.calibration import (
    CalibrationResult,
    NotStillError,
    calibrate_still,
)
from firmware_bridge.clock import SimulatedClock
from firmware_bridge.emulation import ImuNoise, build_emulated_bus
from firmware_bridge.sampler import FixedRateSampler

G = 9.80665


def _still(n: int = 300, tilt_deg: float = 0.0, bias=(0.0, 0.0, 0.0), sd: float = 0.01):
    rng = np.random.default_rng(1)
    phi = math.radians(tilt_deg)
    imu = np.zeros((n, 2, 6))
    imu[:, 0, 0] = -G * math.sin(phi)
    imu[:, 0, 1] = G * math.cos(phi)
    imu[:, 1, 1] = G
    imu[:, 0, 3:] = bias
    return imu + rng.normal(0, sd, imu.shape)


def test_bias_and_angle_from_synthetic_standing() -> None:
    imu = _still(tilt_deg=9.0, bias=(0.012, -0.021, 0.033))
    result = calibrate_still(imu, ["femur_r", "tibia_r"], 100.0)
    cal = result.sensors["femur_r"]
    assert math.degrees(cal.sagittal_angle_rad) == pytest.approx(-9.0, abs=0.1)
    assert cal.gyro_bias_rad_s == pytest.approx((0.012, -0.021, 0.033), abs=0.002)
    assert abs(result.sensors["tibia_r"].sagittal_angle_rad) < math.radians(0.2)
    corrected = result.applier(["femur_r", "tibia_r"]).apply(imu.copy())
    mean = corrected.mean(axis=0)
    assert mean[0, :3] == pytest.approx((0.0, G, 0.0), abs=0.01)
    assert mean[0, 3:] == pytest.approx((0.0, 0.0, 0.0), abs=0.002)
    assert result.window_s == 3.0 and result.warnings == []


def test_walking_is_not_still() -> None:
    rec = read_recording(bundled_recording_path("P01_walking"))
    with pytest.raises(NotStillError, match="pelvis: moving"):
        calibrate_still(rec.imu, rec.sensors, rec.sample_rate_hz)


def test_missing_samples_and_short_windows_are_refused() -> None:
    imu = _still()
    imu[10, 1, 4] = np.nan
    with pytest.raises(NotStillError, match="tibia_r: missing samples"):
        calibrate_still(imu, ["femur_r", "tibia_r"], 100.0)
    with pytest.raises(NotStillError, match="need at least 50"):
        calibrate_still(_still(n=20), ["femur_r", "tibia_r"], 100.0)


def test_wrong_scale_is_refused() -> None:
    imu = _still()
    imu[:, :, :3] *= 0.5  # a ±g range mix-up halves the gravity
    with pytest.raises(NotStillError, match="is not gravity"):
        calibrate_still(imu, ["femur_r", "tibia_r"], 100.0)


def test_out_of_plane_tilt_warns() -> None:
    imu = _still()
    phi = math.radians(30)
    imu[:, 1, 1] = G * math.cos(phi)
    imu[:, 1, 2] = G * math.sin(phi)
    result = calibrate_still(imu, ["femur_r", "tibia_r"], 100.0)
    assert any("tibia_r" in w and "out of the sagittal plane" in w for w in result.warnings)


def test_sidecar_round_trip() -> None:
    result = calibrate_still(_still(bias=(0.01, 0, 0)), ["a", "b"], 100.0)
    side = json.loads(json.dumps(result.to_sidecar()))
    again = CalibrationResult.model_validate(side)
    assert again.sensors["a"].gyro_bias_rad_s == result.sensors["a"].gyro_bias_rad_s


def test_end_to_end_through_emulated_chips() -> None:
    """Quiet standing, femur_r strapped 7° forward, gyro bias and noise added inside the
    emulated chips; calibration through the real drivers finds both."""
    bias = (0.01, -0.02, 0.015)
    imu, names, rate = standing_arrays(4.0, 100.0, {"femur_r": 7.0})
    clock = SimulatedClock()
    hw = build_emulated_bus(
        imu, names, rate, advance="clock", clock=clock, noise=ImuNoise.typical(bias)
    )
    acq = Acquisition(LockedBus(hw.smbus), hw.sensor_map, clock=clock)
    assert acq.start() == {}
    data = np.empty((300, 7, 6))
    FixedRateSampler(100.0, clock).run(
        lambda t: data.__setitem__(t.index, acq.read().data), n_ticks=300
    )
    result = calibrate_still(data, names, 100.0)
    assert math.degrees(result.sensors["femur_r"].sagittal_angle_rad) == pytest.approx(-7, abs=0.1)
    for name in names:
        assert result.sensors[name].gyro_bias_rad_s == pytest.approx(bias, abs=1e-3)


def test_cli_calibrate(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calibrate", "--simulate", "standing", "--seconds", "1"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["sensors"]) == {
        "pelvis", "femur_r", "tibia_r", "foot_r", "femur_l", "tibia_l", "foot_l"
    }  # fmt: skip
    assert main(["calibrate", "--simulate", "P01_walking", "--seconds", "1"]) == 1
    assert "not still" in capsys.readouterr().err
