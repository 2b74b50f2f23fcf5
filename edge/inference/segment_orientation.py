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
x + iy, a rotation R(ψ) as a product with z. NumPy only; one step costs a few vector
operations over the S sensors and allocates nothing.

Fails when the mean acceleration is not zero for longer than the low-pass: a sustained
speed-up or slow-down of a m/s² leans every sensor by about atan(a/g) (1 m/s² for 2 s:
a few degrees, common to all segments, so it mostly cancels in joint angles), and on
out-of-plane motion (turning, side steps), which the planar model does not describe.
"""

from __future__ import annotations

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
        self._k = 0
        self._set_tau(START_FRACTION * tau_s)
        n = int(n_sensors)
        self.z = np.ones(n, dtype=np.complex128)  # e^{iψ}
        self._b_dt = np.zeros(n)  # gyroscope bias × Δt (rad per step)
        self._f1 = np.zeros(n, dtype=np.complex128)
        self._f2 = np.zeros(n, dtype=np.complex128)
        self._err = np.zeros(n)
        self._prev_w = np.zeros(n)
        self._started = np.zeros(n, dtype=bool)
        self._all_started = False
        self._after_gap = False  # some sensor missing at the last step, or refilling
        #: steps a sensor back from a gap refills its low-pass before gravity corrects it
        self.hold_steps = max(1, round(HOLD_LOWPASS_CONSTANTS * LOWPASS_FRACTION * tau_s / dt))
        self._hold = np.zeros(n, dtype=np.int64)
        # per-step scratch
        self._ph = np.zeros(n)
        self._c = np.zeros(n, dtype=np.complex128)
        self._s = np.zeros(n, dtype=np.complex128)
        self._t = np.zeros(n)

    def _set_tau(self, tau_s: float) -> None:
        dt = self.dt
        self._kp_dt = 2.0 * dt / tau_s
        self._ki_dt = dt / tau_s**2
        self._a = min(1.0, dt / (LOWPASS_FRACTION * tau_s))

    def _schedule(self) -> None:
        """One step of the start-up schedule (scalar work, only while it runs)."""
        self._k += 1
        frac = START_FRACTION + (1.0 - START_FRACTION) * min(1.0, self._k / self.start_steps)
        self._set_tau(frac * self.tau_s)

    @property
    def psi_rad(self) -> np.ndarray:
        """(S,) orientation ψ of each sensor (rad, wrapped to (−π, π])."""
        return np.angle(self.z)

    @property
    def bias_rad_s(self) -> np.ndarray:
        """(S,) the learnt gyroscope z rate bias of each sensor (rad/s)."""
        return self._b_dt / self.dt

    @property
    def started(self) -> np.ndarray:
        """(S,) whether each sensor has had a finite sample yet."""
        return self._started.copy()

    def reset(self) -> None:
        """Forget everything: the next finite sample of each sensor starts it again."""
        self._started[:] = False
        self._all_started = False
        self._k = 0
        self._set_tau(START_FRACTION * self.tau_s)
        self._after_gap = False
        self._hold[:] = 0
        self._b_dt[:] = 0.0
        self._err[:] = 0.0

    def _start(
        self,
        acc_x: np.ndarray,
        acc_y: np.ndarray,
        gyr_z: np.ndarray,
        seed_psi_rad: np.ndarray | None,
    ) -> None:
        """Seed the sensors that have not started and have a finite sample now: ψ from
        the accelerometer when the sensor is still (|f| within 5 % of g, |ω| < 0.3 rad/s:
        exact), else from the seed (another estimate of the orientation) when given, else
        from the accelerometer anyway; the low-pass at (0, g) in the world."""
        ok = ~self._started & np.isfinite(acc_x) & np.isfinite(acc_y) & np.isfinite(gyr_z)
        if not ok.any():
            return
        psi = np.arctan2(acc_x, acc_y)
        if seed_psi_rad is not None:
            still = (np.abs(np.hypot(acc_x, acc_y) - G) < 0.05 * G) & (np.abs(gyr_z) < 0.3)
            seeded = ~still & np.isfinite(seed_psi_rad)
            psi = np.where(seeded, seed_psi_rad, psi)
        self.z[ok] = np.exp(1j * psi[ok])
        self._f1[ok] = self._f2[ok] = 1j * G
        self._prev_w[ok] = gyr_z[ok]
        self._err[ok] = 0.0
        self._b_dt[ok] = 0.0
        self._started |= ok
        self._all_started = bool(self._started.all())

    def step(
        self,
        imu_row: np.ndarray,
        row_finite: bool | None = None,
        fallback_delta_rad: np.ndarray | None = None,
        seed_psi_rad: np.ndarray | None = None,
    ) -> np.ndarray:
        """Advance one sample.

        Args:
            imu_row: (S, 6) acc x, y, z (m/s²), gyr x, y, z (rad/s) in any fixed sensor
                axes (the mounting only shifts ψ by a constant).
            row_finite: whether every value of ``imu_row`` is finite, when the caller
                knows it (None: checked here).
            fallback_delta_rad: (S,) how much each segment turned since the last step by
                another estimate (rad; the network's), used for a sensor whose sample is
                missing now; None: such a sensor holds its orientation.

        Returns:
            :attr:`z`, the (S,) phasors e^{iψ} (a view, updated in place).
        """
        acc_x, acc_y, gyr_z = imu_row[:, 0], imu_row[:, 1], imu_row[:, 5]
        ok = bool(np.isfinite(imu_row).all()) if row_finite is None else row_finite
        if not self._all_started:
            self._start(acc_x, acc_y, gyr_z, seed_psi_rad)
            if not self._all_started:
                ok = False
        if self._k < self.start_steps and self._all_started:
            self._schedule()
        if ok and not self._after_gap:
            self._advance(acc_x, acc_y, gyr_z)
        else:
            self._advance_with_gaps(acc_x, acc_y, gyr_z, fallback_delta_rad)
        return self.z

    def _advance(self, acc_x: np.ndarray, acc_y: np.ndarray, gyr_z: np.ndarray) -> None:
        """The step when every sensor is started and finite (no allocation)."""
        ph, c, s, err, t = self._ph, self._c, self._s, self._err, self._t
        # the correction Δ = (2/τ)·Δt·e of the last measurement turns ψ and, so that the
        # next measurement sees it at once, the low-passed forces by −Δ (1 − iΔ: Δ ≪ 1)
        np.multiply(err, self._kp_dt, out=t)
        np.multiply(t, -1j, out=c)
        c += 1.0
        self._f1 *= c
        self._f2 *= c
        # ψ += Δt·(trapezoidal rate − bias) − Δ
        np.add(gyr_z, self._prev_w, out=ph)
        ph *= self._half_dt
        ph -= self._b_dt
        ph -= t
        np.multiply(ph, 1j, out=c)
        np.exp(c, out=c)
        self.z *= c
        self._prev_w[:] = gyr_z
        # world-frame specific force through the two low-pass stages
        np.multiply(acc_y, 1j, out=s)
        s += acc_x
        s *= self.z
        s -= self._f1
        s *= self._a
        self._f1 += s
        np.subtract(self._f1, self._f2, out=s)
        s *= self._a
        self._f2 += s
        # the low-passed force's lean is the orientation error; its integral the bias
        np.negative(self._f2.real, out=t)
        np.arctan2(t, self._f2.imag, out=err)
        np.multiply(err, self._ki_dt * self.dt, out=t)
        self._b_dt += t

    def _advance_with_gaps(
        self,
        acc_x: np.ndarray,
        acc_y: np.ndarray,
        gyr_z: np.ndarray,
        fallback_delta_rad: np.ndarray | None,
    ) -> None:
        """The step when some sensor is missing (NaN), not started, or back from a gap.

        A missing sensor turns by the fallback's delta (or holds); its low-pass and bias
        are frozen. A sensor back after a gap integrates its current rate over the whole
        step, and for the next :attr:`hold_steps` its low-pass refills with fresh
        samples while gravity corrects nothing: the frozen low-pass held the stride's
        ripple at the phase where the gap began, and correcting from it would turn that
        ripple into a lasting error.
        """
        ok = self._started & np.isfinite(acc_x) & np.isfinite(acc_y) & np.isfinite(gyr_z)
        miss = self._started & ~ok
        hold = self._hold
        hold[miss] = self.hold_steps
        live = ok & (hold == 0)  # corrected by gravity this step
        ph = np.zeros_like(self._ph)
        w = np.where(ok, gyr_z, 0.0)
        prev = np.where(np.isfinite(self._prev_w), self._prev_w, w)
        ph[ok] = self._half_dt * (w[ok] + prev[ok]) - self._b_dt[ok]
        corr = self._kp_dt * self._err[live]
        ph[live] -= corr
        self._f1[live] *= 1.0 - 1j * corr
        self._f2[live] *= 1.0 - 1j * corr
        if fallback_delta_rad is not None:
            d = np.asarray(fallback_delta_rad, dtype=np.float64)
            ph[miss] = np.where(np.isfinite(d[miss]), d[miss], 0.0)
        self.z[ok | miss] *= np.exp(1j * ph[ok | miss])
        self._prev_w[ok] = gyr_z[ok]
        self._prev_w[miss] = np.nan
        if ok.any():
            f = (acc_x[ok] + 1j * acc_y[ok]) * self.z[ok]
            self._f1[ok] += self._a * (f - self._f1[ok])
            self._f2[ok] += self._a * (self._f1[ok] - self._f2[ok])
        e = np.angle(-1j * self._f2[live])
        self._err[live] = e
        self._b_dt[live] += self._ki_dt * self.dt * e
        self._err[~live] = 0.0
        refilling = ok & (hold > 0)
        hold[refilling] -= 1
        self._after_gap = bool(miss.any() or hold.any())
