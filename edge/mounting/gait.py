"""Stride segmentation and per-stride sensor orientation ψ = θ + β (cue 1 of
:mod:`edge.mounting.functional`): foot mid-stances, good strides, and gyr_z integrated
over each stride with the constant fixed by the stride-mean specific force (0, +g).

NumPy only. Every array is float64; angles in rad; time in s.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from edge.mounting.settings import FunctionalSettings, G, InsufficientGaitError
from edge.recording import Recording, tile_cycles


@dataclass(frozen=True)
class GaitOrientation:
    """Per-stride world orientation of each sensor (the intermediate of the method).

    Attributes:
        psi: (N, S) sensor orientation ψ = θ + β in the world, rad; NaN outside the
            good strides.
        strides: (K, 2) [start, stop) sample indices of the good strides.
        foot_flat: sensor name -> (M, 3) that foot's mid-stances: stillest sample,
            still-stretch start and stop (exclusive).
        omega: (N, S) gyr_z, rad/s. alpha: (N, S) its time derivative, rad/s².
        acc: (N, S, 2) acc_x, acc_y in sensor axes, m/s².
        rejected: reasons of the strides left out.
        usable: sensors with at least half of their samples present (the others are
            ignored: their ψ is NaN).
    """

    psi: np.ndarray
    strides: np.ndarray
    foot_flat: dict[str, np.ndarray]
    omega: np.ndarray
    alpha: np.ndarray
    acc: np.ndarray
    rejected: list[str]
    usable: tuple[str, ...]


def _moving_average(x: np.ndarray, width: int) -> np.ndarray:
    """(N, ...) centred moving average over ``width`` samples (odd); an output whose
    window touches a NaN is NaN (and only those)."""
    if width <= 1:
        return x.copy()
    k = width // 2
    bad = ~np.isfinite(x)
    x0 = np.where(bad, 0.0, x)

    def window_sum(v: np.ndarray) -> np.ndarray:
        pad = np.concatenate([np.repeat(v[:1], k, 0), v, np.repeat(v[-1:], k, 0)], 0)
        c = np.cumsum(np.concatenate([np.zeros_like(v[:1]), pad], 0), axis=0)
        return c[width:] - c[:-width]

    out = window_sum(x0) / width
    out[window_sum(bad.astype(np.float64)) > 0.5] = np.nan
    return out


def _rot(angle: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(..., 2) v rotated by R(angle) (angle broadcast over v's leading dims)."""
    c, s = np.cos(angle), np.sin(angle)
    return np.stack([c * v[..., 0] - s * v[..., 1], s * v[..., 0] + c * v[..., 1]], -1)


def _local_maxima(x: np.ndarray, threshold: float, min_gap: int) -> np.ndarray:
    """Indices of local maxima of (N,) x above ``threshold``, greedily ≥ min_gap apart."""
    finite = np.isfinite(x)
    xf = np.where(finite, x, -np.inf)
    cand = np.flatnonzero((xf[1:-1] >= xf[:-2]) & (xf[1:-1] > xf[2:]) & (xf[1:-1] > threshold))
    cand = cand + 1
    keep: list[int] = []
    for i in cand[np.argsort(-xf[cand])]:
        if all(abs(i - j) >= min_gap for j in keep):
            keep.append(int(i))
    return np.array(sorted(keep), dtype=np.int64)


def _stride_period(gyr_z: np.ndarray, h: float, cfg: FunctionalSettings) -> float | None:
    """Stride period (s) of (N,) foot gyr_z from its autocorrelation (NaN as 0), or None."""
    x = np.where(np.isfinite(gyr_z), gyr_z, 0.0)
    x = x - x.mean()
    n = x.shape[0]
    lo, hi = int(cfg.min_stride_s / h), min(int(cfg.max_stride_s / h), n // 2)
    if hi <= lo + 1:
        return None
    spec = np.fft.rfft(x, 2 * n)
    ac = np.fft.irfft(spec * np.conj(spec), 2 * n)[:n]
    ac = ac / np.maximum(n - np.arange(n), 1)  # unbiased
    lag = lo + int(np.argmax(ac[lo:hi]))
    if ac[lag] <= 0.3 * ac[0]:
        return None
    return lag * h


def _mid_stances(
    gyr_z: np.ndarray, acc: np.ndarray, h: float, cfg: FunctionalSettings
) -> np.ndarray:
    """Mid-stance of one foot between swings: the stillest sample and the still stretch
    around it (stillness score within ``foot_still_margin`` of its minimum).

    Args:
        gyr_z: (N,) foot gyr_z, rad/s. acc: (N, 3) foot acc, m/s².
    Returns:
        (M, 3) int rows (stillest index, stretch start, stretch stop exclusive);
        stretches with NaN are skipped.
    """
    w = _moving_average(np.abs(gyr_z), max(1, round(0.05 / h) | 1))
    period = _stride_period(gyr_z, h, cfg)
    if period is None:
        return np.zeros((0, 3), dtype=np.int64)
    peaks = _local_maxima(w, cfg.swing_peak_rad_s, max(1, int(0.6 * period / h)))
    # sustained stillness: |ω| and the deviation of |acc| from g, averaged over ~0.1 s
    # (a swing turnaround is still only for an instant)
    raw = np.abs(gyr_z) + 2.0 * np.abs(np.linalg.norm(acc, axis=1) - G) / G
    score = _moving_average(raw, max(1, round(cfg.still_window_s / h) | 1))
    fine = _moving_average(raw, max(1, round(cfg.flat_instant_s / h) | 1))
    out = []
    for p0, p1 in itertools.pairwise(peaks):
        seg = score[p0:p1]
        if (p1 - p0) * h > cfg.max_stride_s or not np.isfinite(seg).all():
            continue
        k = int(np.argmin(seg))
        still = seg <= seg[k] + cfg.foot_still_margin
        lo = k
        while lo > 0 and still[lo - 1]:
            lo -= 1
        hi = k + 1
        while hi < seg.shape[0] and still[hi]:
            hi += 1
        if cfg.flat_instant_s > 0:
            # the stillest instant inside the sustained-still stretch, ± half a window
            k = lo + int(np.argmin(fine[p0 + lo : p0 + hi]))
            half = max(1, round(cfg.flat_instant_s / h))
            lo, hi = max(0, k - half), min(seg.shape[0], k + half + 1)
        out.append((p0 + k, p0 + lo, p0 + hi))
    return np.array(out, dtype=np.int64).reshape(-1, 3)


def _prepare(rec: Recording, cfg: FunctionalSettings) -> tuple[Recording, bool]:
    if rec.is_mean_cycle:
        return tile_cycles(rec, cfg.mean_cycle_tiles), True
    return rec, False


def gait_orientation(rec: Recording, settings: FunctionalSettings | None = None) -> GaitOrientation:
    """World orientation of every sensor over the good strides of a recording.

    A mean-cycle recording is tiled first (``settings.mean_cycle_tiles``).

    Raises:
        InsufficientGaitError: no foot sensor, or fewer than ``min_strides`` good strides.
    """
    cfg = settings or FunctionalSettings()
    rec, _ = _prepare(rec, cfg)
    h = rec.meta.sample_period_s
    names = list(rec.sensors)
    imu = rec.imu
    n = rec.n_samples
    present = np.isfinite(imu[:, :, [0, 1, 5]]).all(axis=2).mean(axis=0)  # (S,)
    usable = tuple(name for name, frac in zip(names, present, strict=True) if frac >= 0.5)
    cols = np.array([names.index(u) for u in usable], dtype=np.int64)
    feet = [f for f in ("foot_r", "foot_l") if f in usable]
    if not feet:
        raise InsufficientGaitError(
            "functional calibration needs a foot sensor with at least half its samples"
        )
    flats = {
        f: _mid_stances(imu[:, names.index(f), 5], imu[:, names.index(f), :3], h, cfg) for f in feet
    }
    ref = max(feet, key=lambda f: len(flats[f]))
    ms = flats[ref][:, 0]
    omega = imu[:, :, 5].copy()
    sm = _moving_average(omega, max(1, round(cfg.smooth_s / h) | 1))
    alpha = np.gradient(sm, h, axis=0)
    acc = imu[:, :, :2].copy()
    psi = np.full((n, len(names)), np.nan)
    strides, rejected = [], []
    planar = imu[:, cols][:, :, [0, 1, 5]]
    pel = names.index("pelvis") if "pelvis" in usable else None
    durations = np.diff(ms) * h
    for k, (i0, i1) in enumerate(itertools.pairwise(ms)):
        dur = durations[k]
        local = float(np.median(durations[max(0, k - 2) : k + 3]))
        if not cfg.min_stride_s <= dur <= cfg.max_stride_s:
            rejected.append(f"stride at {i0 * h:.2f} s: {dur:.2f} s long")
            continue
        if abs(dur / local - 1.0) > cfg.max_stride_change:
            rejected.append(f"stride at {i0 * h:.2f} s: {dur:.2f} s, neighbours {local:.2f} s")
            continue
        if not np.isfinite(planar[i0 : i1 + 1]).all():
            rejected.append(f"stride at {i0 * h:.2f} s: missing samples")
            continue
        if pel is not None:
            yaw = float(np.mean(imu[i0:i1, pel, 4]))
            if abs(yaw) > cfg.max_yaw_rate_rad_s:
                rejected.append(f"stride at {i0 * h:.2f} s: turning ({yaw:.2f} rad/s)")
                continue
        w = omega[i0:i1]
        w0 = w - w.mean(0)
        # trapezoidal integral (no half-sample lag)
        rel = np.concatenate([np.zeros((1, w.shape[1])), np.cumsum(0.5 * (w0[1:] + w0[:-1]), 0)])
        rel *= h
        m = _rot(rel, acc[i0:i1]).mean(0)  # (S, 2) world mean specific force, up to R(c)
        if np.any(np.abs(np.hypot(m[cols, 0], m[cols, 1]) - G) > 0.12 * G):
            rejected.append(f"stride at {i0 * h:.2f} s: mean specific force is not g")
            continue
        c = np.arctan2(m[:, 0], m[:, 1])
        psi[i0:i1, cols] = (rel + c)[:, cols]
        strides.append((i0, i1))
    if len(strides) < cfg.min_strides:
        raise InsufficientGaitError(
            f"{len(strides)} good strides (need {cfg.min_strides}); "
            f"{len(ms)} mid-stances of {ref} found"
            + (f"; rejected: {'; '.join(rejected[:5])}" if rejected else "")
        )
    return GaitOrientation(
        psi, np.array(strides, dtype=np.int64), flats, omega, alpha, acc, rejected, usable
    )
