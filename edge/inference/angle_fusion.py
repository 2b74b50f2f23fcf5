"""Joint angles: the network's posture, the gyroscopes' shape (a complementary filter).

The network reads posture (the slow part of each joint angle) from the whole body; a
gyroscope measures its segment's angular velocity directly. In the planar model every
joint angle is the difference of two absolute segment angles (``body-model.md``: thigh =
pelvis + hip, shank = thigh + knee, foot = shank + ankle), so its rate is the difference
of two gyroscope z readings, whatever the sensors' sagittal mounting::

    d(hip_r)/dt = ω(femur_r) − ω(pelvis),   d(pelvis_tilt)/dt = ω(pelvis).

A first-order complementary filter with time constant τ keeps the network's angle below
the corner frequency 1/(2πτ) and the integrated gyroscope above it::

    x_k = a · (x_{k−1} + Δt · rate_k) + (1 − a) · net_k,   a = τ / (τ + Δt).

With τ = 2 s (corner 0.08 Hz, well below a stride's 0.7–1.5 Hz) the within-stride shape
comes from the gyroscopes (their shape error is about 2°, docs/calibration.md) and the
offset from the network; a constant gyroscope bias b shifts the angle by b·τ (0.5 °/s →
1°). A missing gyroscope (NaN) hands that joint back to the network for the step.

One definition, used by the device (:class:`edge.inference.Estimator`), the evaluation
and the converter's parity check (:func:`fuse_angles`). NumPy only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from edge.output_spec import ANGLE_CHANNELS

#: Default time constant (s); 0 or None switches the fusion off.
DEFAULT_TAU_S = 2.0

#: For each published angle channel: (distal sensor, proximal sensor or None).
ANGLE_SENSORS: dict[str, tuple[str, str | None]] = {
    "pelvis_tilt": ("pelvis", None),
    "hip_flexion_r": ("femur_r", "pelvis"),
    "knee_angle_r": ("tibia_r", "femur_r"),
    "ankle_angle_r": ("foot_r", "tibia_r"),
    "hip_flexion_l": ("femur_l", "pelvis"),
    "knee_angle_l": ("tibia_l", "femur_l"),
    "ankle_angle_l": ("foot_l", "tibia_l"),
}


class AngleFusion:
    """Streaming complementary filter over the published joint angles.

    Args:
        sensors: the (S,) sensor names of the IMU rows given to :meth:`step`.
        sample_rate_hz: the step rate (Hz).
        tau_s: time constant (s); must be > 0.

    Raises:
        ValueError: a sensor an angle needs is not in ``sensors``, or ``tau_s`` ≤ 0.
    """

    def __init__(self, sensors: Sequence[str], sample_rate_hz: float, tau_s: float) -> None:
        if not tau_s > 0 or not math.isfinite(tau_s):
            raise ValueError(f"angle fusion time constant must be > 0 s, got {tau_s}")
        sensors = list(sensors)
        missing = sorted(
            {s for pair in ANGLE_SENSORS.values() for s in pair if s and s not in sensors}
        )
        if missing:
            raise ValueError(f"angle fusion needs the sensors {missing}")
        n_s, n_a = len(sensors), len(ANGLE_CHANNELS)
        dt = 1.0 / float(sample_rate_hz)
        a = tau_s / (tau_s + dt)
        # rate (deg/s) = D @ gyro_z (rad/s): +1 distal, −1 proximal, in degrees
        d = np.zeros((n_a, n_s))
        for j, ch in enumerate(ANGLE_CHANNELS):
            distal, proximal = ANGLE_SENSORS[ch]
            d[j, sensors.index(distal)] = 1.0
            if proximal is not None:
                d[j, sensors.index(proximal)] = -1.0
        #: x_new = a·x + gyro_gain @ (gyro_z + previous gyro_z) + (1 − a)·net
        #: (trapezoidal integration: a sample's rate holds at its instant, not over the step)
        self._a = a
        self._gyro_gain = (0.5 * a * dt * 180.0 / math.pi) * d
        self._net_gain = 1.0 - a
        self._uses = d != 0.0  # (A, S): the gyroscopes each angle needs
        self.tau_s = float(tau_s)
        self._x = np.zeros(n_a)
        self._rate = np.zeros(n_a)
        self._gyro_prev = np.zeros(n_s)
        self._gyro_sum = np.zeros(n_s)
        self._started = False

    def reset(self) -> None:
        """Forget the state: the next step returns the network's angles."""
        self._started = False

    def step(self, angles_deg: np.ndarray, gyro_z_rad_s: np.ndarray) -> np.ndarray:
        """Fuse one step in place.

        Args:
            angles_deg: (7,) the network's published angles (deg); overwritten with the
                fused angles.
            gyro_z_rad_s: (S,) gyroscope z of each sensor (rad/s, NaN when missing).

        Returns:
            ``angles_deg``.
        """
        if not self._started:
            self._x[:] = angles_deg
            self._gyro_prev[:] = gyro_z_rad_s
            self._started = bool(np.isfinite(self._x).all())
            return angles_deg
        gsum = self._gyro_sum
        np.add(gyro_z_rad_s, self._gyro_prev, out=gsum)
        missing = None
        if not np.isfinite(gsum).all():  # a gyroscope missing now or at the last step
            now = np.isfinite(gyro_z_rad_s)
            doubled = 2.0 * np.where(now, gyro_z_rad_s, 0.0)  # rate of a returning sensor
            gsum[:] = np.where(np.isfinite(gsum), gsum, doubled)
            missing = self._uses[:, ~now].any(axis=1) if not now.all() else None
        self._gyro_prev[:] = gyro_z_rad_s
        np.dot(self._gyro_gain, gsum, out=self._rate)
        x = self._x
        x *= self._a
        x += self._rate
        x += self._net_gain * angles_deg
        if missing is not None:  # that joint follows the network for this step
            x[missing] = angles_deg[missing]
        if not np.isfinite(x).all():  # the network itself gave NaN: restart from it
            bad = ~np.isfinite(x)
            x[bad] = angles_deg[bad]
        angles_deg[:] = x
        return angles_deg


def fuse_angles(
    angles_deg: np.ndarray,
    gyro_z_rad_s: np.ndarray,
    sensors: Sequence[str],
    sample_rate_hz: float,
    tau_s: float | None = DEFAULT_TAU_S,
) -> np.ndarray:
    """The fused angles of a whole sequence, streamed from a reset state.

    Args:
        angles_deg: (N, 7) the network's published angles (deg).
        gyro_z_rad_s: (N, S) gyroscope z per sensor (rad/s), ``sensors`` order.
        tau_s: time constant (s); None or 0 returns a copy of ``angles_deg``.

    Returns:
        (N, 7) fused angles (deg), a new array.
    """
    out = np.array(angles_deg, dtype=np.float64, copy=True)
    if not tau_s:
        return out.astype(angles_deg.dtype)
    fusion = AngleFusion(sensors, sample_rate_hz, tau_s)
    gyro = np.asarray(gyro_z_rad_s, dtype=np.float64)
    for i in range(out.shape[0]):
        fusion.step(out[i], gyro[i])
    return out.astype(angles_deg.dtype)
