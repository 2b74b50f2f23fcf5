"""Joint angles: the network's posture, the gyroscopes' shape (a complementary filter).

The network reads posture (the slow part of each joint angle) from the whole body; a
gyroscope measures its segment's angular velocity directly. In the planar model every
joint angle is the difference of two absolute segment angles (``body-model.md``: thigh =
pelvis + hip, shank = thigh + knee, foot = shank + ankle), so its rate is the difference
of two gyroscope z readings, whatever the sensors' sagittal mounting::

    d(hip_r)/dt = ω(femur_r) − ω(pelvis),   d(pelvis_tilt)/dt = ω(pelvis).

A second-order complementary filter (the proportional-integral form, a double pole at
1/τ) keeps the network's angle below the corner frequency 1/(2πτ) and the integrated
gyroscope above it, and learns each joint's gyroscope rate bias b on the way::

    e = net_k − x_{k−1}
    x_k = x_{k−1} + Δt · (rate_k − b_{k−1} + (2/τ) · e)     (rate: trapezoidal)
    b_k = b_{k−1} − Δt · e / τ²

Its transfer functions are x = (2τs + 1)/(τs + 1)² · net + τ²s²/(τs + 1)² · angle: the
network's offset passes (DC gain 1), a constant gyroscope bias is rejected in steady state
(a first-order filter would turn it into an offset b·τ), the network's shape error at a
stride's 0.7–1.5 Hz is attenuated 6–16 times (τ = 3 s). Bias matters on real data: the
bundled P01 mean cycles do not close (joint rates average −3.4 to +4.8 °/s), which a
first-order filter turns into offsets of up to 10°. A missing gyroscope (NaN) hands that
joint back to the network for the step.

One definition, used by the device (:class:`edge.inference.Estimator`), the evaluation
and the converter's parity check (:func:`fuse_angles`). NumPy only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from edge.output_spec import ANGLE_CHANNELS

#: Default time constant (s); 0 or None switches the fusion off. The bias state settles in
#: about 5τ of gait.
DEFAULT_TAU_S = 3.0

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
        # rate (deg/s) = D @ gyro_z (rad/s): +1 distal, −1 proximal, in degrees
        d = np.zeros((n_a, n_s))
        for j, ch in enumerate(ANGLE_CHANNELS):
            distal, proximal = ANGLE_SENSORS[ch]
            d[j, sensors.index(distal)] = 1.0
            if proximal is not None:
                d[j, sensors.index(proximal)] = -1.0
        # one float32 product M @ v per step over v = [x (A), b (A), gyro_z in slot 0 or 1
        # (S each), net (A)]; the two slots hold this and the last sample (trapezoidal
        # rate) and share one gain, so a new sample overwrites the older slot only
        kp, ki = 2.0 / tau_s, 1.0 / tau_s**2
        half_rate = (0.5 * dt * 180.0 / math.pi) * d  # deg per step from rad/s, halved
        eye, zero = np.eye(n_a), np.zeros((n_a, n_s))
        m = np.block(
            [
                [(1.0 - dt * kp) * eye, -dt * eye, half_rate, half_rate, dt * kp * eye],
                [ki * dt * eye, eye, zero, zero, -ki * dt * eye],
            ]
        )
        self._m = m.astype(np.float32)
        self._m64 = m
        self._uses = d != 0.0  # (A, S): the gyroscopes each angle needs
        self._n_a, self._n_s = n_a, n_s
        self._v = np.zeros(3 * n_a + 2 * n_s, dtype=np.float32)
        self._state = self._v[: 2 * n_a]  # x, b
        self._slots = (self._v[2 * n_a : 2 * n_a + n_s], self._v[2 * n_a + n_s : 2 * n_a + 2 * n_s])
        self._net = self._v[2 * n_a + 2 * n_s :]
        self._slot = 0
        self._new = np.zeros(2 * n_a, dtype=np.float32)
        self.tau_s = float(tau_s)
        self._prev_ok = False
        self._started = False

    @property
    def bias_deg_s(self) -> np.ndarray:
        """(7,) the learnt gyroscope rate bias per joint (deg/s)."""
        return self._state[self._n_a :].astype(np.float64)

    def reset(self) -> None:
        """Forget the state: the next step returns the network's angles, bias 0."""
        self._started = False

    def step(
        self, angles_deg: np.ndarray, gyro_z_rad_s: np.ndarray, gyro_finite: bool | None = None
    ) -> np.ndarray:
        """Fuse one step in place.

        Args:
            angles_deg: (7,) network angles (deg); overwritten with the fused ones.
            gyro_z_rad_s: (S,) gyroscope z of each sensor (rad/s, NaN when missing).
            gyro_finite: whether every value of ``gyro_z_rad_s`` is finite, when the
                caller knows it already (the feature assembler's check); None: checked.

        Returns:
            ``angles_deg``.
        """
        ok = bool(np.isfinite(gyro_z_rad_s).all()) if gyro_finite is None else gyro_finite
        n_a = self._n_a
        self._slot ^= 1
        self._slots[self._slot][:] = gyro_z_rad_s
        if not self._started:
            self._state[:n_a] = angles_deg
            self._state[n_a:] = 0.0
            self._started = math.isfinite(float(self._state.sum()))
        else:
            self._net[:] = angles_deg
            new = self._new
            if ok and self._prev_ok:
                np.dot(self._m, self._v, out=new)
                if not math.isfinite(float(new.sum())):  # the network gave NaN
                    self._step_with_gaps(new)
            else:  # a gyroscope missing now or at the last step (0·inf must not enter M @ v)
                self._step_with_gaps(new)
            self._state[:] = new
            angles_deg[:] = new[:n_a]
        self._prev_ok = ok
        return angles_deg

    def _step_with_gaps(self, out: np.ndarray) -> None:
        """The exact step when a gyroscope (now or at the last step) or the network is
        not finite: a joint whose gyroscope is missing now follows the network (its bias
        kept); a sensor back after a gap integrates its current rate over the whole step."""
        n_a = self._n_a
        now, prev = self._slots[self._slot], self._slots[self._slot ^ 1]
        ok_now = np.isfinite(now)
        now_0 = np.where(ok_now, now, 0.0)
        prev_0 = np.where(np.isfinite(prev), prev, now_0)  # a returning sensor: 2·now
        v = np.concatenate([self._state, now_0, prev_0, self._net]).astype(np.float64)
        new = self._m64 @ v
        x, b = new[:n_a], new[n_a:]
        old_b, net = self._state[n_a:].astype(np.float64), self._net.astype(np.float64)
        missing = self._uses[:, ~ok_now].any(axis=1)
        x[missing], b[missing] = net[missing], old_b[missing]
        bad = ~np.isfinite(new[:n_a])  # the network itself gave NaN: restart from it
        x[bad], b[bad] = net[bad], np.where(np.isfinite(old_b[bad]), old_b[bad], 0.0)
        out[:] = new


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
        (N, 7) fused angles (deg), a new float32 array (the device's precision).
    """
    out = np.array(angles_deg, dtype=np.float32, copy=True)
    if not tau_s:
        return out
    fusion = AngleFusion(sensors, sample_rate_hz, tau_s)
    gyro = np.asarray(gyro_z_rad_s, dtype=np.float64)
    for i in range(out.shape[0]):
        fusion.step(out[i], gyro[i])
    return out
