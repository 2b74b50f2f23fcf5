"""The one definition of a sensor's sagittal mounting angle, and how it is undone.

Definition (same sign as the body-model angles, docs/body-model.md):

    A sensor's mounting angle β (rad, + counter-clockwise about the segment z axis)
    means the sensor frame is the segment frame rotated by β. A sensor on a segment at
    absolute angle θ therefore has the absolute orientation ψ = θ + β, and a vector with
    components v_seg in segment axes reads v_sensor = R(β)ᵀ v_seg = R(−β) v_seg.

Undoing it (:func:`to_segment_axes`) turns the measured axes back by −β, i.e. it
multiplies the measured (x, y) components by R(+β): ``v_seg = R(β) v_sensor``, for the
accelerometer (acc_x, acc_y) and the gyroscope (gyr_x, gyr_y); the z channels are the
rotation axis and stay as they are. This is the same operation, with the same sign, as
``firmware_bridge.calibration.CalibrationApplier`` with β = ``sagittal_angle_rad`` (a
standing capture measures gravity (g sin β, g cos β), so ``atan2(a_x, a_y)`` = β).

:func:`from_segment_axes` is the inverse (what a strap tilted by β does to segment-axis
data); tests and simulations use it to add a known mounting.

Also here: :class:`Mounting`, the per-sensor result (angles, optional positions, method,
confidence, warnings) and its place in the recording sidecar
(``calibration["mounting"]``).
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

log = logging.getLogger(__name__)

#: Key of the mounting entry inside the sidecar's ``calibration`` dict.
SIDECAR_KEY = "mounting"

Method = Literal["still", "functional", "none"]


def rotation_matrices(beta: np.ndarray | Sequence[float]) -> np.ndarray:
    """(S, 2, 2) float64: R(β) per sensor, the matrix that maps sensor-axis (x, y)
    components to segment-axis components (``v_seg = R @ v_sensor``).

    For a per-sample hot path use :class:`AxisRotator` (same matrices, no allocation).

    Args:
        beta: (S,) mounting angles, rad.
    """
    b = np.asarray(beta, dtype=np.float64).reshape(-1)
    c, s = np.cos(b), np.sin(b)
    out = np.empty((b.shape[0], 2, 2))
    out[:, 0, 0] = c
    out[:, 0, 1] = -s
    out[:, 1, 0] = s
    out[:, 1, 1] = c
    return out


class AxisRotator:
    """Precomputed per-sensor R(β) for a per-sample hot path (no allocation per call).

    Args:
        beta: (S,) mounting angles, rad.
    """

    def __init__(self, beta: np.ndarray | Sequence[float]) -> None:
        b = np.asarray(beta, dtype=np.float64).reshape(-1)
        self.cos = np.cos(b)
        self.sin = np.sin(b)
        self._x = np.empty_like(b)
        self._t = np.empty_like(b)

    def rotate_xy(self, x: np.ndarray, y: np.ndarray) -> None:
        """Rotate one (x, y) pair of channels in place: (x, y) ← R(β) (x, y) per sensor.

        Args:
            x, y: (S,) views (any float dtype, e.g. columns of a feature buffer) of one
                vector's x and y components in sensor axes; segment axes on return.
        """
        c, s, x0, t = self.cos, self.sin, self._x, self._t
        np.copyto(x0, x)
        np.multiply(c, x, out=x)  # x' = c x − s y
        np.multiply(s, y, out=t)
        np.subtract(x, t, out=x)
        np.multiply(c, y, out=y)  # y' = s x + c y
        np.multiply(s, x0, out=t)
        np.add(y, t, out=y)

    def apply(self, frame: np.ndarray) -> np.ndarray:
        """Rotate one sample in place to segment axes and return it.

        Args:
            frame: (S, 6) float64 acc_x, acc_y, acc_z (m/s²), gyr_x, gyr_y, gyr_z (rad/s)
                in sensor axes on entry, segment axes on return; NaN stays NaN.
        """
        for off in (0, 3):
            self.rotate_xy(frame[:, off], frame[:, off + 1])
        return frame


def _rotate_xy(imu: np.ndarray, angle: np.ndarray) -> np.ndarray:
    imu = np.asarray(imu, dtype=np.float64)
    if imu.ndim != 3 or imu.shape[2] != 6:
        raise ValueError(f"imu must be (N, S, 6), got {imu.shape}")
    a = np.asarray(angle, dtype=np.float64).reshape(-1)
    if a.shape[0] != imu.shape[1]:
        raise ValueError(f"need {imu.shape[1]} angles, got {a.shape[0]}")
    c, s = np.cos(a), np.sin(a)
    out = imu.copy()
    for off in (0, 3):
        x = imu[:, :, off]
        y = imu[:, :, off + 1]
        out[:, :, off] = c * x - s * y
        out[:, :, off + 1] = s * x + c * y
    return out


def to_segment_axes(imu: np.ndarray, beta: np.ndarray | Sequence[float]) -> np.ndarray:
    """Undo the mounting: sensor-axis data → segment-axis data (a new array).

    Args:
        imu: (N, S, 6) acc_x, acc_y, acc_z (m/s²) and gyr_x, gyr_y, gyr_z (rad/s) in the
            sensor axes. NaN passes through.
        beta: (S,) mounting angles, rad (:meth:`Mounting.angles`).

    Returns:
        (N, S, 6) the same channels in segment axes: (x, y) of acc and gyr multiplied by
        R(β) (the axes turned back by −β); z channels unchanged.
    """
    return _rotate_xy(imu, np.asarray(beta, dtype=np.float64))


def from_segment_axes(imu: np.ndarray, beta: np.ndarray | Sequence[float]) -> np.ndarray:
    """Apply a mounting: segment-axis data → what sensors mounted at β measure.

    Args:
        imu: (N, S, 6) segment-axis channels (as :func:`to_segment_axes`).
        beta: (S,) mounting angles, rad.

    Returns:
        (N, S, 6): (x, y) of acc and gyr multiplied by R(−β).
    """
    return _rotate_xy(imu, -np.asarray(beta, dtype=np.float64))


class SensorMounting(BaseModel):
    """Mounting of one sensor on its segment (sagittal plane)."""

    model_config = ConfigDict(extra="forbid")

    angle_rad: float = Field(description="β: sensor frame = segment frame rotated by β, rad")
    position_m: tuple[float, float] | None = Field(
        default=None,
        description="(x, y) of the sensor in the segment frame relative to the segment "
        "origin (proximal joint; hip centre for the pelvis), m; None = not estimated",
    )
    method: Method = "none"
    uncertainty_rad: float | None = Field(
        default=None, ge=0.0, description="estimated 1-sigma uncertainty of angle_rad, rad"
    )
    confidence: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="1 / (1 + (uncertainty / 3°)²); 0 when not estimated, 1 for 'still'",
    )
    cue: str = Field(default="", description="what fixed the angle (human-readable)")


class Mounting(BaseModel):
    """Sagittal mounting angles (and optionally positions) of a recording's sensors."""

    model_config = ConfigDict(extra="forbid")

    sensors: dict[str, SensorMounting]
    created_utc: str = Field(
        default_factory=lambda: _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    )
    details: dict[str, Any] = Field(default_factory=dict, description="diagnostics (JSON)")
    warnings: list[str] = Field(default_factory=list)

    def angles(self, sensors: Sequence[str]) -> np.ndarray:
        """(S,) mounting angles in ``sensors`` order, rad; 0 for a sensor not listed."""
        return np.array(
            [self.sensors[s].angle_rad if s in self.sensors else 0.0 for s in sensors],
            dtype=np.float64,
        )

    def positions(self, sensors: Sequence[str]) -> np.ndarray:
        """(S, 2) estimated positions (m, segment frame); NaN where not estimated."""
        out = np.full((len(sensors), 2), np.nan)
        for i, s in enumerate(sensors):
            m = self.sensors.get(s)
            if m is not None and m.position_m is not None:
                out[i] = m.position_m
        return out

    def to_segment_axes(self, imu: np.ndarray, sensors: Sequence[str]) -> np.ndarray:
        """:func:`to_segment_axes` with this mounting; ``imu`` is (N, S, 6)."""
        return to_segment_axes(imu, self.angles(sensors))

    @classmethod
    def zero(cls, sensors: Sequence[str]) -> Mounting:
        """Every sensor at β = 0, method 'none'."""
        return cls(sensors={s: SensorMounting(angle_rad=0.0) for s in sensors})

    # ------------------------------------------------------------------ sidecar
    def to_sidecar(self, calibration: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The sidecar's ``calibration`` dict with this mounting under ``"mounting"``.

        Args:
            calibration: the existing ``calibration`` value (kept, not modified), or None.
        """
        out = dict(calibration or {})
        out[SIDECAR_KEY] = self.model_dump(mode="json")
        return out

    @classmethod
    def from_still(cls, calibration: Mapping[str, Any]) -> Mounting:
        """From a ``calibrate_still`` result (``CalibrationResult.to_sidecar()``): each
        ``sensors[name].sagittal_angle_rad`` is β with this module's sign.

        A recording made by the daemon after ``cmd/calibrate`` with ``kind = "alignment"``
        holds data the device has already turned into segment axes (the sidecar's
        ``calibration`` says what was applied): the mounting left to undo is then 0.
        With ``kind = "gyro_bias"`` (or no ``kind``: a standing capture stored beside the
        data) the rotation was not applied, and β is what remains to undo."""
        applied = calibration.get("kind") == "alignment"
        sensors = {}
        for name, cal in dict(calibration.get("sensors", {})).items():
            if "sagittal_angle_rad" not in cal:
                continue
            sensors[name] = SensorMounting(
                angle_rad=0.0 if applied else float(cal["sagittal_angle_rad"]),
                method="still",
                uncertainty_rad=0.0,
                confidence=1.0,
                cue="standing capture, already applied on the device"
                if applied
                else "standing capture: gravity direction (calibrate_still)",
            )
        return cls(sensors=sensors, warnings=list(calibration.get("warnings", [])))

    @classmethod
    def from_sidecar(cls, calibration: Mapping[str, Any] | None) -> Mounting | None:
        """Read the mounting from a sidecar's ``calibration`` dict.

        Precedence: a standing capture (``calibrate_still`` fields ``sensors`` with
        ``sagittal_angle_rad``) when present, completed by an explicit ``"mounting"``
        entry for the sensors the standing capture lacks; else the ``"mounting"`` entry;
        None when neither is there.
        """
        if not calibration:
            return None
        stored = calibration.get(SIDECAR_KEY)
        explicit = cls.model_validate(stored) if stored is not None else None
        has_still = any(
            isinstance(v, Mapping) and "sagittal_angle_rad" in v
            for v in dict(calibration.get("sensors", {})).values()
        )
        if not has_still:
            return explicit
        still = cls.from_still(calibration)
        if explicit is not None:
            for name, m in explicit.sensors.items():
                still.sensors.setdefault(name, m)
            still.warnings += explicit.warnings
        return still


def confidence_from_uncertainty(sigma_rad: float) -> float:
    """1 / (1 + (σ / 3°)²): 1 for a perfect estimate, 0.5 at σ = 3°."""
    return float(1.0 / (1.0 + (sigma_rad / math.radians(3.0)) ** 2))
