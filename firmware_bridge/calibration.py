"""Calibration from a still period: gyroscope bias and sagittal-plane alignment.

Both use data already mapped to segment axes (driver → mounting), before any
calibration. During quiet standing every segment is close to the model's zero pose
(body-model.md: at q = 0 every segment frame is aligned with ground, y up), so each
sensor should measure specific force (0, +g, 0) and zero angular rate.

- Gyroscope bias b = mean of the gyroscope over the still window (3,) rad/s.
- Sagittal alignment: the rotation about the segment z axis (the sagittal-plane normal)
  that turns the measured gravity direction onto +y: φ = atan2(a_x, a_y). Applying
  R_z(φ) to acc (x, y) and to the bias-corrected gyro (x, y) removes the strap's tilt in
  the sagittal plane. The out-of-plane tilt atan2(a_z, |(a_x, a_y)|) is reported, not
  corrected: it means the sensor sits rotated on the segment's side (check the strap).

Results go into the recording sidecar's ``calibration`` field
(:meth:`CalibrationResult.to_sidecar`).
"""

from __future__ import annotations

import datetime as _dt
import math

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from firmware_bridge.registers import STANDARD_GRAVITY


class NotStillError(ValueError):
    """The calibration window contains movement; the message says which sensor and why."""


class StillnessCriteria(BaseModel):
    """Thresholds for "the subject stood still" (per sensor, over the window)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_gyro_sd_rad_s: float = Field(0.02, description="per-axis standard deviation")
    max_gyro_mean_rad_s: float = Field(0.15, description="|mean| per axis (bias bound)")
    max_acc_norm_sd_m_s2: float = Field(0.15, description="sd of |acc|")
    gravity_tolerance_m_s2: float = Field(0.8, description="| mean |acc| − g |")
    min_samples: int = Field(50, description="at least this many samples (0.5 s at 100 Hz)")


class SensorCalibration(BaseModel):
    """Calibration of one sensor (segment axes, after the mounting permutation)."""

    model_config = ConfigDict(extra="forbid")

    gyro_bias_rad_s: tuple[float, float, float]
    gyro_sd_rad_s: tuple[float, float, float]
    sagittal_angle_rad: float = Field(description="rotation about z applied to x, y")
    out_of_plane_deg: float = Field(description="tilt about the sagittal axes, not corrected")
    gravity_m_s2: float = Field(description="mean |acc| during the still window")


class CalibrationResult(BaseModel):
    """All sensors; ``to_sidecar`` gives the recording sidecar's ``calibration`` value."""

    model_config = ConfigDict(extra="forbid")

    method: str = "still-period gyro bias + sagittal gravity alignment"
    created_utc: str = Field(
        default_factory=lambda: _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    )
    window_s: float
    n_samples: int
    sensors: dict[str, SensorCalibration]
    warnings: list[str] = Field(default_factory=list)

    def to_sidecar(self) -> dict[str, object]:
        return self.model_dump(mode="json")

    def applier(self, names: tuple[str, ...] | list[str]) -> CalibrationApplier:
        return CalibrationApplier(self, names)


def check_still(
    acc: np.ndarray, gyr: np.ndarray, criteria: StillnessCriteria, name: str = "sensor"
) -> None:
    """Raise :class:`NotStillError` when (N, 3) acc / gyr do not look like standing still."""
    n = len(acc)
    if n < criteria.min_samples:
        raise NotStillError(f"{name}: {n} samples, need at least {criteria.min_samples}")
    if not (np.isfinite(acc).all() and np.isfinite(gyr).all()):
        raise NotStillError(f"{name}: missing samples (NaN) in the window")
    gyr_sd = gyr.std(axis=0)
    if (gyr_sd > criteria.max_gyro_sd_rad_s).any():
        raise NotStillError(
            f"{name}: moving (gyro sd {np.round(gyr_sd, 3).tolist()} rad/s > "
            f"{criteria.max_gyro_sd_rad_s}); stand still and repeat"
        )
    gyr_mean = gyr.mean(axis=0)
    if (np.abs(gyr_mean) > criteria.max_gyro_mean_rad_s).any():
        raise NotStillError(
            f"{name}: gyro mean {np.round(gyr_mean, 3).tolist()} rad/s is too large for a "
            "bias: turning slowly, or a faulty gyroscope"
        )
    norm = np.linalg.norm(acc, axis=1)
    if norm.std() > criteria.max_acc_norm_sd_m_s2:
        raise NotStillError(f"{name}: acceleration varies (sd of |acc| {norm.std():.3f} m/s²)")
    if abs(norm.mean() - STANDARD_GRAVITY) > criteria.gravity_tolerance_m_s2:
        raise NotStillError(
            f"{name}: mean |acc| {norm.mean():.2f} m/s² is not gravity "
            f"({STANDARD_GRAVITY} m/s²): wrong range or scale"
        )


def calibrate_still(
    imu: np.ndarray,
    names: tuple[str, ...] | list[str],
    sample_rate_hz: float,
    criteria: StillnessCriteria | None = None,
    max_out_of_plane_deg: float = 20.0,
) -> CalibrationResult:
    """Calibrate from a quiet-standing window.

    Args:
        imu: (N, S, 6) segment-axis data (acc m/s², gyr rad/s), uncalibrated.
        names: S sensor names.
        sample_rate_hz: for the window length in the result.
    Raises:
        NotStillError: a sensor moved or has missing samples.
    """
    criteria = criteria or StillnessCriteria()
    imu = np.asarray(imu, dtype=np.float64)
    if imu.ndim != 3 or imu.shape[2] != 6 or imu.shape[1] != len(names):
        raise ValueError(f"imu must be (N, {len(names)}, 6), got {imu.shape}")
    sensors: dict[str, SensorCalibration] = {}
    warnings: list[str] = []
    for s, name in enumerate(names):
        acc = imu[:, s, :3]
        gyr = imu[:, s, 3:]
        check_still(acc, gyr, criteria, name)
        a = acc.mean(axis=0)
        angle = math.atan2(a[0], a[1])
        oop = math.degrees(math.atan2(a[2], math.hypot(a[0], a[1])))
        if abs(oop) > max_out_of_plane_deg:
            warnings.append(
                f"{name}: sensor tilted {oop:.1f}° out of the sagittal plane; check the strap "
                "and the mounting axes"
            )
        if abs(math.degrees(angle)) > 45:
            warnings.append(
                f"{name}: sagittal misalignment {math.degrees(angle):.0f}° is large; check the "
                "mounting axes in the sensor map"
            )
        sensors[name] = SensorCalibration(
            gyro_bias_rad_s=tuple(float(v) for v in gyr.mean(axis=0)),  # type: ignore[arg-type]
            gyro_sd_rad_s=tuple(float(v) for v in gyr.std(axis=0)),  # type: ignore[arg-type]
            sagittal_angle_rad=angle,
            out_of_plane_deg=oop,
            gravity_m_s2=float(np.linalg.norm(acc, axis=1).mean()),
        )
    return CalibrationResult(
        window_s=imu.shape[0] / sample_rate_hz,
        n_samples=imu.shape[0],
        sensors=sensors,
        warnings=warnings,
    )


class CalibrationApplier:
    """Applies a :class:`CalibrationResult` in place to (S, 6) frames or (N, S, 6) arrays:
    ``acc' = R φ acc``, ``gyr' = R φ (gyr − b)`` with ``R φ`` the rotation about z."""

    def __init__(self, result: CalibrationResult, names: tuple[str, ...] | list[str]) -> None:
        s = len(names)
        self.bias = np.zeros((s, 3))
        self.cos = np.ones(s)
        self.sin = np.zeros(s)
        for i, name in enumerate(names):
            cal = result.sensors.get(name)
            if cal is None:
                continue
            self.bias[i] = cal.gyro_bias_rad_s
            self.cos[i] = math.cos(cal.sagittal_angle_rad)
            self.sin[i] = math.sin(cal.sagittal_angle_rad)
        self._tmp = np.empty(s)

    def apply(self, data: np.ndarray) -> np.ndarray:
        """Correct ``data`` (…, S, 6) in place and return it."""
        data[..., 3:] -= self.bias
        c, s = self.cos, self.sin
        for off in (0, 3):
            x = data[..., off].copy()
            y = data[..., off + 1]
            data[..., off] = c * x - s * y
            data[..., off + 1] = s * x + c * y
        return data
