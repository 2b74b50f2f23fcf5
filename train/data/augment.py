"""Continuous, varied sequences from one real mean gait cycle.

Real mean-cycle files hold one periodic cycle. Tiling it gives a perfectly periodic
sequence; real strides vary. ``varied_tiling`` evaluates the cycle's Fourier series at a
phase that advances at a smoothly varying cadence (stride-to-stride duration jitter) and
scales each stride's deviation from the cycle mean (amplitude jitter). Gyroscope signals
scale with cadence (angular velocity ∝ 1/duration); the accelerometers' dynamic part
would scale with its square, which is not modelled: keep the jitter small (a few %).
"""

from __future__ import annotations

import numpy as np

from edge.recording import Recording
from edge.recording.timebase import fourier_interpolate_periodic


def _smooth_jitter(
    rng: np.random.Generator, n_knots: int, amplitude: float, t: np.ndarray, period: float
) -> np.ndarray:
    """Piecewise-linear random factor in [-amplitude, amplitude], one knot per period."""
    knots = rng.uniform(-amplitude, amplitude, n_knots + 2)
    return np.interp(t / period, np.arange(n_knots + 2), knots)


def varied_tiling(
    rec: Recording,
    n_cycles: int,
    rate_hz: float,
    rng: np.random.Generator,
    *,
    time_warp: float = 0.02,
    amplitude_jitter: float = 0.02,
) -> Recording:
    """``n_cycles`` varied repetitions of a mean cycle at ``rate_hz`` (truth dropped).

    Args:
        rec: a mean-cycle recording.
        time_warp: ± fraction of stride-duration variation.
        amplitude_jitter: ± fraction of per-stride amplitude variation.
    """
    if not rec.is_mean_cycle:
        raise ValueError("varied_tiling needs a mean-cycle recording")
    n = rec.n_samples
    period = n * rec.meta.sample_period_s
    duration = n_cycles * period
    t = np.arange(int(duration * rate_hz)) / rate_hz
    warp = _smooth_jitter(rng, n_cycles, time_warp, t, period)
    amp = _smooth_jitter(rng, n_cycles, amplitude_jitter, t, period)
    phase_rate = (1.0 + warp) / period  # cycles per second
    phase = np.concatenate([[0.0], np.cumsum(0.5 * (phase_rate[1:] + phase_rate[:-1]) / rate_hz)])
    imu = rec.imu.reshape(n, -1)
    values = fourier_interpolate_periodic(imu, phase * n)
    mean = imu.mean(axis=0)
    values = mean + (values - mean) * (1.0 + amp[:, None])
    values = values.reshape(len(t), len(rec.sensors), 6)
    values[:, :, 3:] *= (1.0 + warp)[:, None, None]
    meta = rec.meta.model_copy(
        update={
            "samples_per_cycle": None,
            "sample_period_s": 1.0 / rate_hz,
            "events": [],
            "columns": None,
            "note": f"{n_cycles} varied cycles of {rec.meta.trial}",
        }
    )
    return Recording(t, rec.sensors, values, meta, {}, None)
