"""Functional calibration: sagittal mounting angles from walking or running alone.

No standing capture, no labels. Cues (docs/calibration.md gives the measured accuracy):

1. Sensor orientation in the world, per stride: gyro z integrated over one stride
   (mid-stance to mid-stance of one foot) with the stride-mean rate removed (every
   segment returns to the same orientation after a stride of steady straight gait);
   the constant is fixed because over a whole stride the mean world-frame specific
   force is (0, +g) (periodic motion has zero mean acceleration). This gives ψ = θ + β
   per sensor, the segment angle θ plus the unknown mounting β.
2. Joint centres (Seel, Raisch & Schauer 2014, planar form): the specific force of a
   joint centre is the same seen from both adjacent sensors,
   R(ψ₁)(a₁ + K₁ r₁) = R(ψ₂)(a₂ + K₂ r₂), K = [[−ω², −α], [α, −ω²]], linear in the joint
   centre positions r₁, r₂ (sensor frames), solved by ridge least squares over all
   good strides for hip (pelvis–thigh), knee (thigh–shank) and ankle (shank–foot).
   A joint centre at r (sensor axes) that the body model puts at r_seg (segment axes,
   from the sidecar's sensor position and the segment length) gives
   β = angle(r_seg) − angle(r); the segment's long axis (knee→hip, ankle→knee) gives
   another. Cues whose length is implausible are discarded; the rest are averaged.
3. Foot: flat in mid-stance (body model: foot angle 0 when heel and toe touch the
   ground), so β_foot = ψ_foot at the stillest stance samples.
4. Pelvis (no distal joint): a population prior on the mean trunk tilt during gait
   (the synthetic generator's nominal values: 0° walking, −5° running, SD ≈ 2-3°).

NumPy only. Every array is float64; angles in rad; time in s.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from edge.mounting.apply import Mounting, SensorMounting, confidence_from_uncertainty
from edge.recording import Recording, tile_cycles

log = logging.getLogger(__name__)

G = 9.81
#: Segment lengths as fractions of body height (docs/body-model.md, Winter-type).
LENGTH_FRACTION: dict[str, float] = {"thigh": 0.245, "shank": 0.246, "foot": 0.152}
#: Sensors of each leg, proximal to distal.
CHAINS: dict[str, tuple[str, str, str, str]] = {
    "r": ("pelvis", "femur_r", "tibia_r", "foot_r"),
    "l": ("pelvis", "femur_l", "tibia_l", "foot_l"),
}
Movement = Literal["walking", "running"]


class InsufficientGaitError(ValueError):
    """Too little usable walking/running to calibrate; the message says why."""


class FunctionalSettings(BaseModel):
    """Thresholds and priors of :func:`estimate_functional` (SI units)."""

    model_config = ConfigDict(extra="forbid")

    movement: Movement | None = Field(
        None, description="None: from the sidecar speed/movement, else from stride time"
    )
    running_speed_m_s: float = Field(2.3, description="sidecar speed at/above this: running")
    running_stride_s: float = Field(0.85, description="median stride shorter: running")
    trunk_tilt_walking_rad: float = Field(0.0, description="prior mean trunk tilt, walking")
    trunk_tilt_running_rad: float = Field(
        math.radians(-5.0), description="prior mean trunk tilt, running (forward lean)"
    )
    trunk_tilt_prior_sd_rad: float = Field(math.radians(3.0), description="its population SD")
    swing_peak_rad_s: float = Field(2.0, description="min |foot gyr_z| peak of a swing")
    min_stride_s: float = 0.45
    max_stride_s: float = 2.2
    max_yaw_rate_rad_s: float = Field(
        0.35, description="|stride-mean pelvis gyr_y| above this: turning, stride skipped"
    )
    min_strides: int = Field(3, ge=1, description="fewer good strides: refuse")
    mean_cycle_tiles: int = Field(6, ge=2, description="tiles of a mean-cycle recording")
    smooth_s: float = Field(0.025, ge=0.0, description="moving-average width before d/dt")
    ridge: float = Field(1e-4, ge=0.0, description="relative ridge of the joint-centre LS")
    centre_smooth_s: float = Field(
        0.0, ge=0.0, description="moving average before the joint-centre fit (0: none)"
    )
    still_window_s: float = Field(0.1, gt=0.0, description="averaging of the stillness score")
    max_stride_change: float = Field(
        0.15, gt=0.0, description="stride duration within this fraction of its neighbours'"
    )
    flat_instant_s: float = Field(
        0.03,
        ge=0.0,
        description="0: foot flat = the whole still stretch; > 0: the stillest "
        "instant in it (score averaged over this), ± this",
    )
    foot_still_margin: float = Field(
        0.1, gt=0.0, description="foot-flat stretch: stillness score ≤ its minimum + this"
    )
    min_length_ratio: float = Field(0.5, description="joint-centre cue: |r| / nominal ≥ this")
    max_length_ratio: float = Field(1.6, description="joint-centre cue: |r| / nominal ≤ this")
    axis_length_tolerance: float = Field(0.25, description="long-axis cue: | |d|/L − 1 | ≤")
    uncertainty_floor_rad: float = Field(math.radians(1.0), ge=0.0)
    single_cue_uncertainty_rad: float = Field(math.radians(5.0), ge=0.0)


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


def _wrap(a: float) -> float:
    return float((a + math.pi) % (2 * math.pi) - math.pi)


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


def _k_matrix(omega: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """(N, 2, 2) K with K r = α ẑ × r − ω² r."""
    k = np.empty((omega.shape[0], 2, 2))
    k[:, 0, 0] = -(omega**2)
    k[:, 0, 1] = -alpha
    k[:, 1, 0] = alpha
    k[:, 1, 1] = -(omega**2)
    return k


def joint_centre(
    go: GaitOrientation, i: int, j: int, ridge: float = 1e-4, smooth: int = 1
) -> tuple[np.ndarray, np.ndarray, float]:
    """Joint centre between sensors i and j in each sensor's frame (linear LS).

    ``smooth`` (odd, samples) is a moving average applied to acc, ω and α of both
    sensors before the fit (1: none).

    Returns:
        r_i: (2,) joint centre relative to sensor i, sensor-i axes, m.
        r_j: (2,) the same for sensor j.
        rms: residual RMS of the specific-force mismatch, m/s².
    """
    rows_a, rows_b = [], []
    om = _moving_average(go.omega[:, [i, j]], smooth)
    al = _moving_average(go.alpha[:, [i, j]], smooth)
    ac = _moving_average(go.acc[:, [i, j]], smooth)
    for i0, i1 in go.strides:
        sl = slice(i0, i1)
        ki = _k_matrix(om[sl, 0], al[sl, 0])
        kj = _k_matrix(om[sl, 1], al[sl, 1])
        pi, pj = go.psi[sl, i], go.psi[sl, j]
        # R(ψ) K columns, by rotating each column
        ai = np.stack([_rot(pi, ki[:, :, q]) for q in range(2)], -1)  # (m, 2, 2)
        aj = np.stack([_rot(pj, kj[:, :, q]) for q in range(2)], -1)
        rows_a.append(np.concatenate([ai, -aj], -1).reshape(-1, 4))
        rows_b.append((_rot(pj, ac[sl, 1]) - _rot(pi, ac[sl, 0])).reshape(-1))
    a = np.concatenate(rows_a)
    b = np.concatenate(rows_b)
    ata = a.T @ a
    lam = ridge * np.trace(ata) / 4.0
    x = np.linalg.solve(ata + lam * np.eye(4), a.T @ b)
    rms = float(np.sqrt(np.mean((a @ x - b) ** 2)))
    return x[:2], x[2:], rms


def _angle(v: np.ndarray) -> float:
    return math.atan2(float(v[1]), float(v[0]))


def _movement(rec: Recording, go: GaitOrientation, cfg: FunctionalSettings) -> tuple[str, str]:
    if cfg.movement is not None:
        return cfg.movement, "settings"
    if rec.meta.speed_m_s is not None:
        mv = "running" if rec.meta.speed_m_s >= cfg.running_speed_m_s else "walking"
        return mv, f"sidecar speed {rec.meta.speed_m_s:.2f} m/s"
    stride = float(np.median(np.diff(go.strides, axis=1))) * rec.meta.sample_period_s
    mv = "running" if stride < cfg.running_stride_s else "walking"
    return mv, f"median stride {stride:.2f} s"


def estimate_functional(
    rec: Recording,
    *,
    height_m: float | None = None,
    segment_lengths: Mapping[str, float] | None = None,
    settings: FunctionalSettings | None = None,
) -> Mounting:
    """Sagittal mounting angle of every sensor from walking or running alone.

    Args:
        rec: a continuous recording (NaN gaps, standing and turning are skipped) or a
            mean-cycle recording (tiled internally). Ground truth is never read.
        height_m: body height for the segment lengths (default: the sidecar's).
        segment_lengths: {"thigh", "shank", "foot"} lengths in m (overrides height).
        settings: thresholds and priors.

    Returns:
        A :class:`Mounting` with method 'functional', per-sensor uncertainty/confidence,
        positions where the joint centres are plausible, diagnostics in ``details``.

    Raises:
        InsufficientGaitError: too little usable gait (see :func:`gait_orientation`).
    """
    cfg = settings or FunctionalSettings()
    go = gait_orientation(rec, cfg)
    names = list(rec.sensors)
    h_m = height_m if height_m is not None else rec.meta.participant.height_m
    lengths = {k: f * h_m for k, f in LENGTH_FRACTION.items()}
    lengths.update(dict(segment_lengths or {}))
    pos = {s: np.array(rec.meta.sensors[s].position_m[:2]) for s in names}
    warnings: list[str] = []
    details: dict[str, object] = {
        "n_strides": len(go.strides),
        "rejected_strides": go.rejected[:20],
        "joint_centres": {},
        "cues_deg": {},
    }
    cues: dict[str, list[tuple[str, float, float]]] = {s: [] for s in names}  # (cue, β, weight)
    prox_centre: dict[str, np.ndarray] = {}

    def add_centre(sensor: str, r: np.ndarray, r_seg: np.ndarray, label: str) -> None:
        nominal = float(np.hypot(*r_seg))
        ratio = float(np.hypot(*r)) / max(nominal, 1e-9)
        ok = nominal > 0.05 and cfg.min_length_ratio <= ratio <= cfg.max_length_ratio
        beta = _wrap(_angle(r_seg) - _angle(r))
        details["cues_deg"][f"{sensor}:{label}"] = {  # type: ignore[index]
            "beta_deg": round(math.degrees(beta), 2),
            "length_ratio": round(ratio, 3),
            "used": ok,
        }
        if ok:
            cues[sensor].append((label, beta, nominal**2))

    usable = set(go.usable)
    h_s = rec.meta.sample_period_s
    smooth = max(1, round(cfg.centre_smooth_s / h_s) | 1) if cfg.centre_smooth_s > 0 else 1
    lt, ls = lengths["thigh"], lengths["shank"]
    for side, (p, t, s, f) in CHAINS.items():
        fits: dict[str, dict[str, object]] = {}

        def fit(
            a: str, b: str, label: str, fits: dict[str, dict[str, object]] = fits
        ) -> tuple[np.ndarray, np.ndarray] | None:
            if a not in usable or b not in usable:
                return None
            ra, rb, rms = joint_centre(go, names.index(a), names.index(b), cfg.ridge, smooth)
            fits[label] = {
                f"in_{a}_m": ra.round(4).tolist(),
                f"in_{b}_m": rb.round(4).tolist(),
                "residual_rms_m_s2": round(rms, 3),
            }
            return ra, rb

        hip = fit(p, t, "hip")
        knee = fit(t, s, "knee")
        ankle = fit(s, f, "ankle")
        details["joint_centres"][side] = fits  # type: ignore[index]
        # segment-frame joint-centre vectors from the sidecar positions (relative to sensor)
        if hip is not None:
            add_centre(t, hip[1], -pos[t], "hip")
            prox_centre[t] = hip[1]
        if knee is not None:
            add_centre(t, knee[0], np.array([0.0, -lt]) - pos[t], "knee")
            add_centre(s, knee[1], -pos[s], "knee")
            prox_centre[s] = knee[1]
        if ankle is not None:
            add_centre(s, ankle[0], np.array([0.0, -ls]) - pos[s], "ankle")
            add_centre(f, ankle[1], -pos[f], "ankle")
            prox_centre[f] = ankle[1]
        axes = []
        if hip is not None and knee is not None:
            axes.append((t, hip[1], knee[0], lt))
        if knee is not None and ankle is not None:
            axes.append((s, knee[1], ankle[0], ls))
        for seg, top, bottom, length in axes:
            d = top - bottom
            ratio = float(np.hypot(*d)) / length
            beta = _wrap(math.atan2(float(d[0]), float(d[1])))
            ok = abs(ratio - 1.0) <= cfg.axis_length_tolerance
            details["cues_deg"][f"{seg}:long_axis"] = {  # type: ignore[index]
                "beta_deg": round(math.degrees(beta), 2),
                "length_ratio": round(ratio, 3),
                "used": ok,
            }
            if ok:
                cues[seg].append(("long_axis", beta, length**2))

    mv, mv_why = _movement(rec, go, cfg)
    details["movement"] = f"{mv} ({mv_why})"
    out: dict[str, SensorMounting] = {}
    for k, name in enumerate(names):
        psi = go.psi[:, k]
        if name not in usable:
            warnings.append(f"{name}: mostly missing samples; mounting not estimated")
            out[name] = SensorMounting(angle_rad=0.0, cue="no estimate: sensor missing")
            continue
        if name.startswith("foot"):
            rows = go.foot_flat.get(name, np.zeros((0, 3), dtype=np.int64))
            vals = []
            for _, lo, hi in rows:
                w = psi[lo:hi]
                if w.size and np.isfinite(w).all():
                    vals.append(float(w.mean()))
            if not vals:
                warnings.append(f"{name}: no foot-flat instant inside a good stride")
                out[name] = SensorMounting(angle_rad=0.0, cue="no estimate")
                continue
            beta = float(np.median(vals))
            sd = float(np.std(vals)) / math.sqrt(len(vals)) if len(vals) > 1 else 0.0
            sigma = math.hypot(sd, cfg.uncertainty_floor_rad)
            cue = f"foot flat at mid-stance ({len(vals)} instants)"
            for label, b, _ in cues[name]:
                gap = abs(_wrap(b - beta))
                if gap > math.radians(10.0):
                    # the ankle-centre direction depends on the sensor's nominal position
                    # (a 2 cm error is ~10° on the foot), so it only lowers the confidence
                    sigma = max(sigma, gap / 4.0)
                    warnings.append(
                        f"{name}: {label} centre disagrees with foot flat by "
                        f"{math.degrees(_wrap(b - beta)):.0f}°"
                    )
        elif name == "pelvis":
            prior = cfg.trunk_tilt_running_rad if mv == "running" else cfg.trunk_tilt_walking_rad
            beta = float(np.nanmean(psi)) - prior
            sigma = cfg.trunk_tilt_prior_sd_rad
            cue = f"mean trunk tilt prior {math.degrees(prior):.1f}° ({mv})"
        else:
            cs = cues.get(name, [])
            if not cs:
                warnings.append(f"{name}: no plausible joint centre; mounting set to 0")
                out[name] = SensorMounting(angle_rad=0.0, cue="no estimate")
                continue
            wts = np.array([c[2] for c in cs])
            bs = np.array([c[1] for c in cs])
            ref_b = bs[np.argmax(wts)]
            dev = np.array([_wrap(b - ref_b) for b in bs])
            beta = _wrap(float(ref_b + np.sum(wts * dev) / np.sum(wts)))
            spread = float(np.sqrt(np.sum(wts * (dev - dev @ wts / wts.sum()) ** 2) / wts.sum()))
            sigma = (
                math.hypot(spread, cfg.uncertainty_floor_rad)
                if len(cs) > 1
                else cfg.single_cue_uncertainty_rad
            )
            cue = "joint centres: " + ", ".join(c[0] for c in cs)
        position = None
        if name in prox_centre:
            r = prox_centre[name]
            p_est = -_rot(np.array(beta), r)
            nominal = float(np.hypot(*pos[name]))
            if nominal > 0.05 and 0.5 <= float(np.hypot(*p_est)) / nominal <= 1.6:
                position = (float(p_est[0]), float(p_est[1]))
        out[name] = SensorMounting(
            angle_rad=beta,
            position_m=position,
            method="functional",
            uncertainty_rad=sigma,
            confidence=confidence_from_uncertainty(sigma),
            cue=cue,
        )
        if sigma > math.radians(5.0):
            warnings.append(f"{name}: uncertain mounting (±{math.degrees(sigma):.1f}°)")
    if rec.is_mean_cycle:
        details["note"] = "mean-cycle recording: tiled, every stride identical"
    elif len(go.strides) < 5:
        warnings.append(f"only {len(go.strides)} good strides")
    for w in warnings:
        log.warning("functional calibration: %s", w)
    return Mounting(sensors=out, details=details, warnings=warnings)


def segment_angles(
    rec: Recording, mounting: Mounting, settings: FunctionalSettings | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Absolute segment angles θ = ψ − β over the good strides.

    Args:
        rec: the recording (a mean-cycle one is tiled as in :func:`estimate_functional`).
        mounting: the mounting to remove.

    Returns:
        time_s: (N,) times of the (possibly tiled) recording, s.
        theta: (N, S) segment angles in ``rec.sensors`` order, rad; NaN outside good strides.
    """
    cfg = settings or FunctionalSettings()
    go = gait_orientation(rec, cfg)
    prepared, _ = _prepare(rec, cfg)
    return prepared.time_s, go.psi - mounting.angles(rec.sensors)[None, :]


def joint_angles(theta: np.ndarray, sensors: Sequence[str], side: str = "r") -> np.ndarray:
    """(N, 3) hip, knee, ankle angles of one side from (N, S) segment angles, rad
    (hip = thigh − pelvis, knee = shank − thigh, ankle = foot − shank)."""
    p, t, s, f = (sensors.index(x) for x in CHAINS[side])
    return np.stack(
        [theta[:, t] - theta[:, p], theta[:, s] - theta[:, t], theta[:, f] - theta[:, s]], 1
    )


def mounting_for(
    rec: Recording,
    *,
    height_m: float | None = None,
    settings: FunctionalSettings | None = None,
) -> Mounting:
    """The mounting to undo for a recording: what its sidecar's ``calibration`` holds
    (a standing capture first, see :meth:`Mounting.from_sidecar`), else the functional
    estimate, with sensors the sidecar lacks filled in by the functional estimate.

    Raises:
        InsufficientGaitError: nothing stored for some sensor and too little gait.
    """
    stored = Mounting.from_sidecar(rec.meta.calibration)
    if stored is not None and all(s in stored.sensors for s in rec.sensors):
        return stored
    est = estimate_functional(rec.without_truth(), height_m=height_m, settings=settings)
    if stored is None:
        return est
    merged = dict(est.sensors)
    merged.update(stored.sensors)
    return Mounting(sensors=merged, details=est.details, warnings=stored.warnings + est.warnings)
