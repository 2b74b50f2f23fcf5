"""Sensor placement: nominal positions, placement jitter and mounting-angle offsets.

The nominal positions are those of the lab study (``P01`` sidecars, 1.73 m), with the
along-segment and foot coordinates scaled to the body height. A recording's sidecar
stores the nominal positions (what a user would enter); the signals are generated at the
jittered positions and in the sensor's actual (slightly rotated) frame, as with a real
strap that sits a few centimetres off and a little twisted.

Mounting (sagittal) angle β per sensor: the sensor frame is the (jittered) strap frame
turned by β about its z axis (+ counter-clockwise, as the body model's angles), so the
sensor reads ``R(β)ᵀ`` times the strap-frame (acc x, y) and (gyr x, y); gyr z and acc z
are unchanged. Rotating a recording's (acc x, y) and (gyr x, y) by +β (i.e. applying
``R(β)``) undoes it. The true sagittal mounting angle of a sensor is β plus the in-plane
jitter (exact when the out-of-plane jitter is zero, else to first order).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from edge.recording import SENSOR_NAMES

#: Nominal (x, y, z) positions in the segment frames at 1.73 m (P01 sidecar), m.
NOMINAL_POSITIONS_M: dict[str, tuple[float, float, float]] = {
    "pelvis": (-0.10, 0.05, 0.0),
    "femur_r": (0.0, -0.21, 0.07),
    "tibia_r": (0.0, -0.20, 0.055),
    "foot_r": (0.12, 0.0, 0.0),
    "femur_l": (0.0, -0.20, -0.07),
    "tibia_l": (0.0, -0.18, -0.055),
    "foot_l": (0.12, 0.0, 0.0),
}
_REFERENCE_HEIGHT_M = 1.73


class PlacementJitter(BaseModel):
    """Standard deviations of the placement errors (each sensor draws its own)."""

    model_config = ConfigDict(extra="forbid")

    along_segment_m: float = Field(
        0.02, ge=0.0, description="along the segment (y; x for feet with foot_along_x), m"
    )
    across_segment_m: float = Field(
        0.005, ge=0.0, description="across the segment (x; y for feet with foot_along_x), m"
    )
    in_plane_deg: float = Field(3.0, ge=0.0, description="rotation about the sensor z axis")
    foot_along_x: bool = Field(
        False,
        description="a foot sensor's along-segment jitter is in x (the foot's long axis) "
        "and its across jitter in y; False keeps the fixed presets of before (y, x)",
    )
    out_of_plane_deg: float = Field(3.0, ge=0.0, description="rotations about x and y")

    @classmethod
    def none(cls) -> PlacementJitter:
        return cls(
            along_segment_m=0.0, across_segment_m=0.0, in_plane_deg=0.0, out_of_plane_deg=0.0
        )

    @classmethod
    def strap(cls) -> PlacementJitter:
        """Realistic strap placement of the random training population: std 3 cm along
        the segment (a thigh or shank strap lands anywhere within about ±6 cm of the
        nominal spot; along the foot's long axis for the feet), 1 cm across it, 3° out of
        plane; no in-plane jitter (the sagittal
        mounting is drawn explicitly, ``SynthSpec.mounting_deg``, and is the truth)."""
        return cls(
            along_segment_m=0.03,
            across_segment_m=0.01,
            in_plane_deg=0.0,
            out_of_plane_deg=3.0,
            foot_along_x=True,
        )


def nominal_positions(height_m: float) -> np.ndarray:
    """(7, 3) nominal sensor positions (``SENSOR_NAMES`` order) for a body height, m."""
    scale = height_m / _REFERENCE_HEIGHT_M
    pos = np.array([NOMINAL_POSITIONS_M[s] for s in SENSOR_NAMES], dtype=np.float64)
    pos[:, :2] *= scale
    return pos


@dataclass(frozen=True)
class Placement:
    """Actual sensor placement of one recording.

    Attributes:
        nominal: (7, 3) positions written to the sidecar, m.
        actual: (7, 3) positions where the signals are generated, m.
        rotation: (7, 3, 3) sensor-frame axes in segment coordinates (columns), so a
            segment-frame vector v reads ``rotation.T @ v`` in the sensor.
        mounting_rad: (7,) true sagittal mounting angle (about z, + counter-clockwise)
            of each sensor: β plus the in-plane jitter, rad.
    """

    nominal: np.ndarray
    actual: np.ndarray
    rotation: np.ndarray
    mounting_rad: np.ndarray


def _rot(axis: int, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    r = np.eye(3)
    r[i, i], r[i, j], r[j, i], r[j, j] = c, -s, s, c
    return r


#: Sensors whose segment runs along x (the feet): their "along" jitter is in x.
_ALONG_X = tuple(i for i, s in enumerate(SENSOR_NAMES) if s.startswith("foot"))


def sample_placement(
    height_m: float,
    jitter: PlacementJitter,
    rng: np.random.Generator,
    mounting_rad: np.ndarray | None = None,
) -> Placement:
    """Nominal positions for ``height_m`` and a random actual placement around them.

    Args:
        height_m: body height, m.
        jitter: placement error spreads.
        rng: random generator (the same draws whatever ``mounting_rad``).
        mounting_rad: (7,) sagittal mounting angles β (``SENSOR_NAMES`` order), rad;
            None = 0. Applied last, in the strap frame (see the module docstring).
    """
    nominal = nominal_positions(height_m)
    actual = nominal.copy()
    n = nominal.shape[0]
    along = rng.normal(0.0, jitter.along_segment_m, n)
    across = rng.normal(0.0, jitter.across_segment_m, n)
    foot = np.isin(np.arange(n), _ALONG_X) & jitter.foot_along_x
    actual[:, 1] += np.where(foot, across, along)
    actual[:, 0] += np.where(foot, along, across)
    beta = np.zeros(n) if mounting_rad is None else np.asarray(mounting_rad, np.float64)
    rots = []
    in_plane = np.zeros(n)
    for i in range(n):
        ax, ay = np.radians(rng.normal(0.0, jitter.out_of_plane_deg, 2))
        az = np.radians(rng.normal(0.0, jitter.in_plane_deg))
        in_plane[i] = az
        rots.append(_rot(2, az) @ _rot(1, ay) @ _rot(0, ax) @ _rot(2, float(beta[i])))
    return Placement(nominal, actual, np.stack(rots), in_plane + beta)


def undo_mounting(imu: np.ndarray, mounting_rad: np.ndarray) -> np.ndarray:
    """(N, S, 6) signals (acc x, y, z, gyr x, y, z in the sensor frames) with the sagittal
    mounting (S,) rad undone: (acc x, y) and (gyr x, y) rotated by R(β) (back into the
    strap frame)."""
    c, s = np.cos(mounting_rad), np.sin(mounting_rad)
    out = np.array(imu, dtype=np.float64, copy=True)
    for k in (0, 3):
        x, y = imu[..., k], imu[..., k + 1]
        out[..., k] = c * x - s * y
        out[..., k + 1] = s * x + c * y
    return out


def to_sensor_frame(planar: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """(N, S, 6) acc x, y, z and gyr x, y, z in each sensor frame from the planar model's
    (N, S, 3) acc x, acc y (m/s²), gyr z (rad/s) in the segment frames (out-of-plane
    components of the planar motion are zero)."""
    n, s, _ = planar.shape
    acc = np.zeros((n, s, 3))
    acc[..., :2] = planar[..., :2]
    gyr = np.zeros((n, s, 3))
    gyr[..., 2] = planar[..., 2]
    acc_s = np.einsum("sji,nsj->nsi", rotation, acc)
    gyr_s = np.einsum("sji,nsj->nsi", rotation, gyr)
    return np.concatenate([acc_s, gyr_s], axis=-1)
