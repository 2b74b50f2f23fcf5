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

import logging
import math
from collections.abc import Mapping, Sequence

import numpy as np

from edge.mounting.apply import Mounting, SensorMounting, confidence_from_uncertainty
from edge.mounting.gait import GaitOrientation, _prepare, _rot, gait_orientation
from edge.mounting.joint_centres import joint_centre
from edge.mounting.rule import completed, lacking, stored_mounting
from edge.mounting.settings import (
    CHAINS,
    LENGTH_FRACTION,
    FunctionalSettings,
    G,
    InsufficientGaitError,
    Movement,
)
from edge.recording import Recording

__all__ = [
    "CHAINS",
    "LENGTH_FRACTION",
    "FunctionalSettings",
    "G",
    "GaitOrientation",
    "InsufficientGaitError",
    "Movement",
    "estimate_functional",
    "gait_orientation",
    "joint_angles",
    "joint_centre",
    "mounting_for",
    "segment_angles",
]

log = logging.getLogger(__name__)


def _wrap(a: float) -> float:
    return float((a + math.pi) % (2 * math.pi) - math.pi)


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
    """The mounting to undo for a recording, by the one rule (:mod:`edge.mounting.rule`):
    what its sidecar's ``calibration`` leaves to undo (alignment applied: 0; a standing
    capture: its angles; a stored ``"mounting"`` entry), else the functional estimate,
    with sensors the sidecar lacks filled in by the functional estimate.

    Raises:
        InsufficientGaitError: nothing stored for some sensor and too little gait.
    """
    stored = stored_mounting(rec.meta.calibration)
    if not lacking(stored, rec.sensors):
        return stored  # type: ignore[return-value]
    est = estimate_functional(rec.without_truth(), height_m=height_m, settings=settings)
    return completed(stored, est)
