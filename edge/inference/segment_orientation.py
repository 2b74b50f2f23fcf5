"""Sagittal orientation of every IMU from its gyroscope, anchored by gravity over strides.

A sensor's world orientation ψ (rad, + counter-clockwise about Z, ``body-model.md``) is
the integral of its gyroscope z. What fixes the integral's constant, and keeps it from
drifting, is the world-frame specific force of the sensor point,

    f = R(ψ) s = r̈_P + g·Ŷ,

whose linear-acceleration part r̈_P averages to zero over any stretch in which the
point's velocity returns to where it was (steady walking or running, standing still):
low-passed, f points straight up. If ψ is off by e, the low-passed f leans by e, so

    e = atan2(−f̄_x, f̄_y)

is a measurement of the orientation error free of the sensor's mounting and of the
segment's posture. A proportional-integral loop (gain 2/τ, integral 1/τ²: a double pole
at 1/τ) turns it into a correction and learns the gyroscope's rate bias. The low-pass is
two cascaded first-order stages of τ/4 each (at τ = 2.5 s they take a 1 Hz stride's
horizontal acceleration down about 16 times). Each correction also turns the low-passed
force by the same angle, so the next measurement sees it at once: the low-pass lag is
not in the correction loop. At start the loop runs faster (0.3 τ, slowing to τ over 4 τ
seconds); a sensor back from a gap refills its low-pass before it is corrected again.

Computed in complex numbers: ψ as the unit phasor z = e^{iψ}, a specific force (x, y) as
x + iy, a rotation R(ψ) as a product with z. Plain Python scalars in one loop over the S
sensors: for S = 7 that is faster than NumPy's per-call overhead, and a missing sample,
a start or a gap is a branch of the same loop, not a second code path.

Fails when the mean acceleration is not zero for longer than the low-pass: a sustained
speed-up or slow-down of a m/s² leans every sensor by about atan(a/g) (1 m/s² for 2 s:
a few degrees, common to all segments, so it mostly cancels in joint angles), and on
out-of-plane motion (turning, side steps), which the planar model does not describe.
"""

from __future__ import annotations

import cmath
import math

import numpy as np

#: Standard gravity (m/s²): the expected length of the low-passed specific force.
G = 9.81
#: Low-pass time constant of each of the two stages, as a fraction of the loop's τ.
LOWPASS_FRACTION = 0.25
#: At start the loop runs at START_FRACTION·τ and slows to τ over START_SECONDS_PER_TAU·τ
#: seconds, so that a wrong start and the gyroscopes' bias are caught up quickly.
START_FRACTION = 0.3
START_SECONDS_PER_TAU = 4.0
#: A sensor back from a gap refills its low-pass for this many low-pass time constants
#: before gravity corrects it again.
HOLD_LOWPASS_CONSTANTS = 3.0


class SegmentOrientation:
    """Streaming sagittal orientation ψ of S sensors.

    Args:
        n_sensors: S.
        sample_rate_hz: the step rate (Hz).
        tau_s: loop time constant (s), > 0: how fast gravity corrects the integral.

    Raises:
        ValueError: ``tau_s`` ≤ 0 or not finite, or the rate is not > 0.
    """

    def __init__(self, n_sensors: int, sample_rate_hz: float, tau_s: float) -> None:
        if not (tau_s > 0 and math.isfinite(tau_s)):
            raise ValueError(f"orientation time constant must be > 0 s, got {tau_s}")
        if not sample_rate_hz > 0:
            raise ValueError(f"sample rate must be > 0 Hz, got {sample_rate_hz}")
        dt = 1.0 / float(sample_rate_hz)
        self.dt = dt
        self.tau_s = float(tau_s)
        self._half_dt = 0.5 * dt
        #: steps over which the loop's time constant grows from START_FRACTION·τ to τ
        self.start_steps = max(1, round(START_SECONDS_PER_TAU * tau_s / dt))
        #: steps a sensor back from a gap refills its low-pass before gravity corrects it
        self.hold_steps = max(1, round(HOLD_LOWPASS_CONSTANTS * LOWPASS_FRACTION * tau_s / dt))
        self.n_sensors = n = int(n_sensors)
        #: (S,) phasors e^{iψ} (Python complex), updated in place by :meth:`step`
        self.z: list[complex] = [1.0 + 0.0j] * n
        self.reset()

    def reset(self) -> None:
        """Forget everything: the next finite sample of each sensor starts it again."""
        n = self.n_sensors
        self.z[:] = [1.0 + 0.0j] * n
        self._f1 = [1j * G] * n  # low-passed world-frame specific force, stage 1 and 2
        self._f2 = [1j * G] * n
        self._err = [0.0] * n  # last measured orientation error (rad)
        self._b_dt = [0.0] * n  # gyroscope bias × Δt (rad per step)
        self._prev_w = [math.nan] * n  # last gyr_z (rad/s); NaN: missing
        self._hold = [0] * n
        self._started = [False] * n
        self.all_started = False
        self._k = 0
        self._set_tau(START_FRACTION * self.tau_s)

    def _set_tau(self, tau_s: float) -> None:
        dt = self.dt
        self._kp_dt = 2.0 * dt / tau_s
        self._ki_dt2 = dt * dt / tau_s**2  # bias × Δt gains Δt · Δt/τ² · e per step
        self._a = min(1.0, dt / (LOWPASS_FRACTION * tau_s))

    @property
    def bias_rad_s(self) -> np.ndarray:
        """(S,) the learnt gyroscope z rate bias of each sensor (rad/s)."""
        return np.array(self._b_dt) / self.dt

    def step(
        self,
        imu_row: np.ndarray,
        row_finite: bool | None = None,
        fallback_delta_rad: np.ndarray | None = None,
        seed_psi_rad: np.ndarray | None = None,
    ) -> list[complex]:
        """Advance one sample.

        Args:
            imu_row: (S, 6) acc x, y, z (m/s²), gyr x, y, z (rad/s) in any fixed sensor
                axes (the mounting only shifts ψ by a constant).
            row_finite: True when every value of ``imu_row`` is known to be finite (the
                caller's check); otherwise each sensor is checked here.
            fallback_delta_rad: (S,) how much each segment turned since the last step by
                another estimate (rad; the network's), used for a sensor whose sample is
                missing now; None: such a sensor holds its orientation.
            seed_psi_rad: (S,) another estimate of each ψ (rad), the start of a sensor
                that is not still at its first sample; None: the accelerometer's.

        Returns:
            :attr:`z`, the (S,) phasors e^{iψ} (the same list, updated in place).

        A sensor starts at its first finite sample: ψ from the accelerometer when it is
        still (|f| within 5 % of g, |ω| < 0.3 rad/s: exact), else from ``seed_psi_rad``
        when given, else from the accelerometer anyway; its low-pass at (0, g). A missing
        sensor turns by the fallback's delta (or holds), its low-pass and bias frozen. A
        sensor back after a gap integrates its current rate over the whole step and for
        :attr:`hold_steps` refills its low-pass with fresh samples while gravity corrects
        nothing: the frozen low-pass held the stride's ripple at the phase where the gap
        began, and correcting from it would turn that ripple into a lasting error.
        """
        if self._k < self.start_steps and self.all_started:
            self._k += 1
            frac = START_FRACTION + (1.0 - START_FRACTION) * self._k / self.start_steps
            self._set_tau(frac * self.tau_s)
        checked = row_finite is True
        z, f1, f2, err, b_dt, prev_w, hold = (
            self.z, self._f1, self._f2, self._err, self._b_dt, self._prev_w, self._hold
        )  # fmt: skip
        a, kp_dt, ki_dt2, half_dt = self._a, self._kp_dt, self._ki_dt2, self._half_dt
        isfinite, exp, atan2 = math.isfinite, cmath.exp, math.atan2
        for k, r in enumerate(imu_row.tolist()):
            ax, ay, w = r[0], r[1], r[5]
            if not checked and not (isfinite(ax) and isfinite(ay) and isfinite(w)):
                if self._started[k]:  # missing: turn with the fallback, freeze the rest
                    if fallback_delta_rad is not None and isfinite(fallback_delta_rad[k]):
                        z[k] *= exp(1j * float(fallback_delta_rad[k]))
                    prev_w[k] = math.nan
                    err[k] = 0.0
                    hold[k] = self.hold_steps
                continue
            if not self._started[k]:
                self._start(k, ax, ay, w, seed_psi_rad)
                continue
            pw = prev_w[k]
            if pw != pw:  # back from a gap: the current rate over the whole step
                pw = w
            turn = half_dt * (w + pw) - b_dt[k]
            if hold[k] == 0:
                d = kp_dt * err[k]  # the last measurement's correction
                turn -= d
                c = 1.0 - 1j * d  # turns the low-passed force with ψ (d ≪ 1)
                F1 = f1[k] * c
                F2 = f2[k] * c
            else:
                F1, F2 = f1[k], f2[k]
            zk = z[k] * exp(1j * turn)
            z[k] = zk
            prev_w[k] = w
            F1 += a * (complex(ax, ay) * zk - F1)
            F2 += a * (F1 - F2)
            f1[k], f2[k] = F1, F2
            if hold[k] == 0:
                e = atan2(-F2.real, F2.imag)  # the low-passed force's lean = ψ's error
                err[k] = e
                b_dt[k] += ki_dt2 * e
            else:
                hold[k] -= 1
        return z

    def _start(
        self, k: int, ax: float, ay: float, w: float, seed_psi_rad: np.ndarray | None
    ) -> None:
        psi = math.atan2(ax, ay)
        if seed_psi_rad is not None and math.isfinite(seed_psi_rad[k]):
            still = abs(math.hypot(ax, ay) - G) < 0.05 * G and abs(w) < 0.3
            if not still:
                psi = float(seed_psi_rad[k])
        self.z[k] = cmath.exp(1j * psi)
        self._f1[k] = self._f2[k] = 1j * G
        self._prev_w[k] = w
        self._err[k] = 0.0
        self._b_dt[k] = 0.0
        self._hold[k] = 0
        self._started[k] = True
        self.all_started = all(self._started)
