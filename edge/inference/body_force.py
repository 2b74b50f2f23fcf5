"""Ground reaction force from the whole body's measured acceleration (Newton's second law).

The ground is the only external force on a walker or runner apart from gravity (air drag
is negligible, ``body-model.md``), so the total ground reaction force is the mass-weighted
specific force of the segments' centres of mass::

    F_ground = Σ m_i (r̈_Ci + g·Ŷ)   (world frame, N)

Each IMU measures its own point's specific force s (sensor axes); turned into the world
by its orientation ψ (:mod:`edge.inference.segment_orientation`) it is r̈_P + g·Ŷ, and
the segment's centre of mass C differs from P by the rigid-body terms of the segment
(R(θ)·(−ω²·r − α·r⊥), r = C − P in the segment frame, θ = ψ − β, α the backward
difference of ω). Masses and centres of mass are the body model's (Winter-type
proportions of height and mass: trunk 0.678, thigh 0.100, shank 0.0465, foot 0.0145).

The sum is what the IMUs measure; how it is shared between the feet is not: the network
says which foot carries the load. Published per foot (in BW):

- vertical: the total's vertical part split in the ratio of the network's two
  (clamped ≥ 0) vertical forces; none when the network says both feet are off the
  ground (flight: the network decides when a foot is loaded);
- horizontal: the network's own horizontal force of each foot plus the same share of the
  difference between the measured total and the network's total (in double support the
  two feet push in opposite directions, which a split of the total could not keep).

The measured total passes a two-stage 15 Hz low-pass (:data:`LOWPASS_HZ`). On P01's real
recordings this takes walking's GRF from the network's 10.5 to about 9 %BW and running's
peaks from the network's 3.4 BW to 2.7–2.9 (force plates: 2.65); unfiltered, the
pelvis sensor's impact transients gave 5.3 BW. It assumes a rigid trunk (arm swing and a
bending spine are not measured: the pelvis sensor stands for 68 % of the mass) and
inherits the network's timing of the load transfer between the feet and of touchdown.
A step with a sensor missing, or before every orientation has
started, publishes the network's forces.

Plain Python scalars over the S sensors (as the orientation loop).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from edge.inference.segment_orientation import G

#: Per segment kind (the sensor name's prefix): mass fraction and length / height
#: (``body-model.md``); the centre of mass is :func:`_centre_of_mass`.
_SEGMENTS: dict[str, tuple[float, float]] = {
    "pelvis": (0.678, 0.28),
    "femur": (0.100, 0.245),
    "tibia": (0.0465, 0.246),
    "foot": (0.0145, 0.152),
}


def _centre_of_mass(kind: str, length_m: float) -> tuple[float, float]:
    if kind == "pelvis":
        return 0.0, 0.626 * length_m
    if kind == "foot":
        return 0.5 * length_m - 0.06, -0.0351
    return 0.0, -0.433 * length_m


#: Corner (Hz) of the two-stage low-pass on the measured total: on real data the pelvis
#: sensor (standing for the rigid trunk's 68 % of the mass) carries impact and soft-tissue
#: transients its trunk does not have (P01 running: 5.3 BW peaks unfiltered, 2.9 BW at
#: 15 Hz, 2.65 measured by the force plates); its lag (about 21 ms) costs sharp synthetic
#: stance edges some accuracy.
LOWPASS_HZ = 15.0
#: Below this sum (BW) of the network's vertical forces it says flight: no force is
#: published (the measured total is then the IMUs' noise, not a load).
_FLIGHT_BW = 1e-3


class BodyForce:
    """Streaming total ground reaction force from the IMUs, shared by the network.

    Args:
        sensors: the (S,) sensor names (each starts with its segment kind: pelvis, femur,
            tibia, foot; all four kinds of both legs are needed).
        sample_rate_hz: the step rate (Hz).
        height_m: the wearer's height (m).
        sensor_positions_m: (S, 2|3) sensor positions in their segment frames (m).

    Raises:
        ValueError: a segment kind is unknown or missing, or positions do not match.
    """

    def __init__(
        self,
        sensors: Sequence[str],
        sample_rate_hz: float,
        height_m: float,
        sensor_positions_m: np.ndarray,
    ) -> None:
        sensors = list(sensors)
        pos = np.asarray(sensor_positions_m, dtype=np.float64)
        if pos.ndim != 2 or pos.shape[0] != len(sensors) or pos.shape[1] < 2:
            raise ValueError(f"sensor positions must be ({len(sensors)}, 2|3), got {pos.shape}")
        kinds = [s.split("_")[0] for s in sensors]
        unknown = sorted(set(kinds) - set(_SEGMENTS))
        if unknown:
            raise ValueError(f"body force: unknown segment kinds {unknown}")
        need = ["pelvis", "femur_r", "tibia_r", "foot_r", "femur_l", "tibia_l", "foot_l"]
        missing = [s for s in need if s not in sensors]
        if missing:
            raise ValueError(f"body force needs the sensors {missing}")
        total = sum(_SEGMENTS[k][0] for k in kinds)
        self._mass = [_SEGMENTS[k][0] / total / G for k in kinds]  # per BW, per m/s²
        self._r = []  # centre of mass − sensor, segment frame (complex, m)
        for k, p in zip(kinds, pos, strict=True):
            cx, cy = _centre_of_mass(k, _SEGMENTS[k][1] * float(height_m))
            self._r.append(complex(cx - p[0], cy - p[1]))
        self._rate = float(sample_rate_hz)
        # LOWPASS_HZ 0: no filter (the exact sum, for tests)
        self._a = 1.0 - math.exp(-2.0 * math.pi * LOWPASS_HZ / self._rate) if LOWPASS_HZ else 1.0
        self._n = len(sensors)
        self._prev_w: list[float] | None = None
        self._t1 = self._t2 = 0j

    def reset(self) -> None:
        self._prev_w = None

    def step(
        self,
        z: Sequence[complex],
        eb: Sequence[complex],
        imu_row: np.ndarray,
        grf_bw: np.ndarray,
        usable: bool,
    ) -> np.ndarray:
        """Publish one step's GRF in place.

        Args:
            z: (S,) sensor orientation phasors e^{iψ}.
            eb: (S,) e^{−iβ} of the sensors' mountings (segment θ = ψ − β).
            imu_row: (S, 6) acc (m/s²) and gyro (rad/s), the rows ``z`` was computed from.
            grf_bw: (4,) the network's GRF x_r, y_r, x_l, y_l (BW), vertical ≥ 0;
                overwritten.
            usable: every sensor finite and every orientation started; False: the
                network's forces stay (and the angular acceleration restarts).

        Returns:
            ``grf_bw``.
        """
        if not usable:
            self._prev_w = None
            return grf_bw
        rows = imu_row.tolist()
        prev = self._prev_w
        rate = self._rate
        total = 0j
        for k in range(self._n):
            r = rows[k]
            w = r[5]
            alpha = 0.0 if prev is None else (w - prev[k]) * rate
            rel = self._r[k] * complex(-w * w, alpha)  # (−ω² + iα)·r: rigid-body terms
            total += self._mass[k] * (z[k] * complex(r[0], r[1]) + z[k] * eb[k] * rel)
        if prev is None:  # (re)start: the low-pass at the first total
            self._t1 = self._t2 = total
        self._prev_w = [r[5] for r in rows]
        a = self._a
        self._t1 += a * (total - self._t1)
        self._t2 += a * (self._t1 - self._t2)
        total = self._t2
        fy = max(total.imag, 0.0)
        g = grf_bw.tolist()
        yr, yl = g[1], g[3]
        if yr + yl < _FLIGHT_BW:  # flight by the network: its zeros stand
            return grf_bw
        share = yr / (yr + yl)
        dx = total.real - (g[0] + g[2])
        y_r, y_l = share * fy, (1.0 - share) * fy
        grf_bw[1], grf_bw[3] = y_r, y_l
        # no normal load, no friction: a foot without vertical force has no horizontal one
        grf_bw[0] = g[0] + share * dx if y_r > 0.0 else 0.0
        grf_bw[2] = g[2] + (1.0 - share) * dx if y_l > 0.0 else 0.0
        return grf_bw


def publish_with_physics(
    angles_deg: np.ndarray,
    grf_bw: np.ndarray,
    imu: np.ndarray,
    sensors: Sequence[str],
    sample_rate_hz: float,
    tau_s: float,
    mounting_rad: np.ndarray | Sequence[float] | None,
    height_m: float,
    sensor_positions_m: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """A whole sequence's published angles and GRF, streamed as the device's
    :class:`edge.inference.Estimator` does (:class:`.AngleFusion` then :class:`BodyForce`).

    Args:
        angles_deg: (N, 7) the network's angles (deg). grf_bw: (N, 4) its GRF (BW),
            vertical clamped ≥ 0 (``make_grf_admissible``).
        imu: (N, S, 6) IMU rows (m/s², rad/s), ``sensors`` order.
        mounting_rad: (S,) the mounting in ``imu`` (rad); None: segment axes.

    Returns:
        (N, 7) angles and (N, 4) GRF, new float32 arrays.
    """
    from edge.inference.angle_fusion import AngleFusion

    angles = np.array(angles_deg, dtype=np.float32, copy=True)
    grf = np.array(grf_bw, dtype=np.float32, copy=True)
    fusion = AngleFusion(sensors, sample_rate_hz, tau_s, mounting_rad)
    force = BodyForce(sensors, sample_rate_hz, height_m, sensor_positions_m)
    rows = np.asarray(imu, dtype=np.float64)
    orient = fusion.orientation
    for i in range(angles.shape[0]):
        fusion.step(angles[i], rows[i])
        usable = orient.all_started and bool(np.isfinite(rows[i]).all())
        force.step(orient.z, fusion.mounting_phasors, rows[i], grf[i], usable)
    return angles, grf
