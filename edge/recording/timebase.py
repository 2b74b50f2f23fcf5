"""Tiling mean gait cycles and band-limited, zero-phase resampling.

Two interpolators, both linear-phase (no time shift) and band-limited:

* periodic (a mean gait cycle): the cycle's own Fourier series evaluated at any time,
  exact for a band-limited periodic signal;
* continuous: a Kaiser-windowed sinc kernel whose cut-off follows the lower of the two
  Nyquist frequencies, so downsampling is anti-aliased in the same step. The ends are
  extended by odd reflection, so the value and slope stay continuous there.

Samples are taken as uniformly spaced at the sidecar's ``sample_period_s``, starting at
``time_s[0]`` (the sampler schedules by absolute deadlines, so this holds for device
recordings too). A NaN (missing sample) makes every output that its kernel touches NaN.
"""

from __future__ import annotations

import math

import numpy as np

from edge.recording.recording import Recording

#: Half-width of the windowed-sinc kernel, in samples of the lower rate.
SINC_HALF_WIDTH = 16
#: Kaiser window shape parameter (≈ 80 dB side-lobe suppression).
KAISER_BETA = 8.6
#: Pass-band edge as a fraction of the lower Nyquist frequency when downsampling.
ANTIALIAS_FRACTION = 0.9
_CHUNK = 4096


def fourier_interpolate_periodic(values: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Evaluate the Fourier series of one periodic cycle at fractional sample indices.

    Args:
        values: (N, ...) one period of N uniformly spaced samples.
        u: (M,) positions in samples (any real value; taken modulo N).

    Returns:
        (M, ...) interpolated values; exact at integer ``u``.
    """
    n = values.shape[0]
    spectrum = np.fft.rfft(values, axis=0)  # (K, ...)
    k = np.arange(spectrum.shape[0])
    weight = np.full(k.shape, 2.0)
    weight[0] = 1.0
    if n % 2 == 0:
        weight[-1] = 1.0
    coeff = spectrum * (weight / n).reshape((-1,) + (1,) * (values.ndim - 1))
    out = np.empty((u.shape[0], *values.shape[1:]), dtype=np.float64)
    flat = coeff.reshape(coeff.shape[0], -1)
    for start in range(0, u.shape[0], _CHUNK):
        phase = np.exp(2j * np.pi * np.outer(np.mod(u[start : start + _CHUNK], n), k) / n)
        out[start : start + _CHUNK] = (phase @ flat).real.reshape((-1, *values.shape[1:]))
    return out


def sinc_interpolate(values: np.ndarray, u: np.ndarray, cutoff: float = 1.0) -> np.ndarray:
    """Band-limited interpolation of uniformly sampled data at fractional sample indices.

    Args:
        values: (N, ...) samples at indices 0..N-1.
        u: (M,) positions in samples, within [0, N-1].
        cutoff: pass-band as a fraction of the input Nyquist frequency (≤ 1; below 1
            low-passes, as downsampling needs).

    Returns:
        (M, ...) interpolated values.
    """
    n = values.shape[0]
    if n < 2:
        raise ValueError("need at least 2 samples to interpolate")
    half = math.ceil(SINC_HALF_WIDTH / cutoff)
    pad = min(half + 1, n - 1)
    head = 2 * values[:1] - values[pad:0:-1]
    tail = 2 * values[-1:] - values[-2 : -pad - 2 : -1]
    padded = np.concatenate([head, values, tail], axis=0)
    # Beyond the reflected margin (very short inputs) hold the end values.
    extra = half + 1 - pad
    if extra > 0:
        padded = np.concatenate(
            [np.repeat(padded[:1], extra, 0), padded, np.repeat(padded[-1:], extra, 0)], axis=0
        )
    offset = pad + max(extra, 0)
    taps = np.arange(-half, half + 1)
    out = np.empty((u.shape[0], *values.shape[1:]), dtype=np.float64)
    flat = padded.reshape(padded.shape[0], -1)
    for start in range(0, u.shape[0], _CHUNK):
        uu = u[start : start + _CHUNK]
        base = np.floor(uu).astype(np.int64)
        idx = base[:, None] + taps[None, :]  # (m, taps)
        dist = uu[:, None] - idx  # distance in input samples
        w = cutoff * np.sinc(cutoff * dist) * _kaiser(dist / (half + 1))
        w /= w.sum(axis=1, keepdims=True)  # unit DC gain
        gathered = flat[idx + offset]  # (m, taps, C)
        out[start : start + _CHUNK] = np.einsum("mt,mtc->mc", w, gathered).reshape(
            (-1, *values.shape[1:])
        )
    return out


def _kaiser(x: np.ndarray) -> np.ndarray:
    """Kaiser window as a function of x in [-1, 1] (0 outside)."""
    inside = np.abs(x) < 1.0
    arg = np.sqrt(np.clip(1.0 - x * x, 0.0, None))
    return np.where(inside, np.i0(KAISER_BETA * arg) / np.i0(KAISER_BETA), 0.0)


def _stack(rec: Recording) -> np.ndarray:
    """(N, S*6 + n_truth) all signal columns of a recording."""
    n = rec.n_samples
    return np.concatenate([rec.imu.reshape(n, -1), *[v[:, None] for v in rec.truth.values()]], 1)


def _unstack(rec: Recording, time_s: np.ndarray, data: np.ndarray, **meta_update) -> Recording:
    n, s = time_s.shape[0], len(rec.sensors)
    imu = data[:, : s * 6].reshape(n, s, 6).copy()
    truth = {name: data[:, s * 6 + j].copy() for j, name in enumerate(rec.truth)}
    meta = rec.meta.model_copy(update=meta_update)
    return Recording(time_s, rec.sensors, imu, meta, truth, None)


def tile_cycles(rec: Recording, n_cycles: int, rate_hz: float | None = None) -> Recording:
    """A continuous recording of ``n_cycles`` repetitions of a mean gait cycle.

    Args:
        rec: a mean-cycle recording (``rec.is_mean_cycle``).
        n_cycles: number of cycles (≥ 1).
        rate_hz: output sample rate; None keeps the cycle's own rate. Resampling uses the
            cycle's Fourier series (exact for the periodic, band-limited cycle).

    Returns:
        A recording starting at t = 0 whose events repeat each cycle. Its sidecar has no
        ``samples_per_cycle`` (it is no longer one cycle) but keeps ``cycle_duration_s``.
    """
    if not rec.is_mean_cycle:
        raise ValueError(
            f"{rec.meta.trial or rec.path}: tile_cycles needs a mean-cycle recording "
            "(sidecar samples_per_cycle equal to the number of rows)"
        )
    if n_cycles < 1:
        raise ValueError(f"n_cycles must be >= 1, got {n_cycles}")
    n = rec.n_samples
    h = rec.meta.sample_period_s
    period = n * h
    data = _stack(rec)
    if rate_hz is None:
        rate_hz = 1.0 / h
        time_s = np.arange(n * n_cycles) * h
        tiled = np.tile(data, (n_cycles, 1))
    else:
        if rate_hz <= 0:
            raise ValueError(f"rate_hz must be > 0, got {rate_hz}")
        m = math.floor(n_cycles * period * rate_hz + 1e-9)
        time_s = np.arange(m) / rate_hz
        tiled = fourier_interpolate_periodic(data, time_s / h)
    events = [
        (label, round((c * n + idx) * h * rate_hz))
        for c in range(n_cycles)
        for label, idx in rec.meta.events
        if idx < n
    ]
    events = [(label, i) for label, i in events if i < time_s.shape[0]]
    return _unstack(
        rec,
        time_s,
        tiled,
        samples_per_cycle=None,
        sample_period_s=1.0 / rate_hz,
        cycle_duration_s=period,
        events=events,
        columns=None,
        note=f"{n_cycles} tiled copies of the mean cycle {rec.meta.trial or ''}".strip(),
    )


def resample(rec: Recording, rate_hz: float) -> Recording:
    """Resample a continuous recording to ``rate_hz`` (band-limited, zero phase).

    Output samples lie at ``time_s[0] + k / rate_hz`` within the input's time span.
    Event indices are mapped to the nearest new sample.

    Raises:
        ValueError: for a mean-cycle recording (use :func:`tile_cycles` with ``rate_hz``).
    """
    if rec.is_mean_cycle:
        raise ValueError(
            "resample() takes continuous recordings; for a mean cycle use "
            "tile_cycles(rec, n_cycles, rate_hz=...)"
        )
    if rate_hz <= 0:
        raise ValueError(f"rate_hz must be > 0, got {rate_hz}")
    h = rec.meta.sample_period_s
    span = (rec.n_samples - 1) * h
    m = math.floor(span * rate_hz + 1e-9) + 1
    rel_t = np.arange(m) / rate_hz
    cutoff = min(1.0, ANTIALIAS_FRACTION * rate_hz * h) if rate_hz * h < 1.0 else 1.0
    data = sinc_interpolate(_stack(rec), rel_t / h, cutoff=cutoff)
    events = [(label, round(i * h * rate_hz)) for label, i in rec.meta.events]
    return _unstack(
        rec,
        rec.time_s[0] + rel_t,
        data,
        sample_period_s=1.0 / rate_hz,
        events=[(label, i) for label, i in events if i < m],
        columns=None,
    )


def interpolate_at(rec: Recording, time_s: np.ndarray) -> Recording:
    """Band-limited values of a continuous recording at arbitrary times within its span.

    Args:
        time_s: (M,) times in s, within [time_s[0], time_s[-1]].
    """
    h = rec.meta.sample_period_s
    u = (np.asarray(time_s, dtype=np.float64) - rec.time_s[0]) / h
    if u.size and (u.min() < -1e-9 or u.max() > rec.n_samples - 1 + 1e-9):
        raise ValueError("interpolate_at: times outside the recording")
    data = sinc_interpolate(_stack(rec), np.clip(u, 0, rec.n_samples - 1))
    return _unstack(rec, np.asarray(time_s, dtype=np.float64), data, columns=None)
