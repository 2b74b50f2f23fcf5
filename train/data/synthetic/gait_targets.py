"""Time-domain gait targets: phase, joint-angle pattern, trunk tilt, reference GRF, stance.

From a speed program (:mod:`.speed_profile`) and a body height, this builds on a time
grid what the rest of the generator tracks:

* the stride phase ``phase(t) = ∫ f dt`` with f = 1 / T(v, H) blended between walking
  and running cadence, times a smooth stride-to-stride jitter (``timing_jitter``);
* per movement a mixture of the reference patterns (random weights per recording),
  evaluated at a warped phase ``φ + a sin 4πφ`` that moves toe-off to the duty factor
  expected at the current speed (stance shortens with speed) plus jitter;
* joint angles = standing posture + amplitude × (blended pattern − standing posture);
  the hip excursion (and half as much the knee's) is scaled so that the stance sweep
  follows the distance covered per stance (speed × stride × duty factor, per body
  height), with a smooth random amplitude jitter per joint;
* reference GRF per foot (BW): standing 0.5 BW per foot; gait patterns normalised to a
  stride mean of 1 BW; the walking pattern's deviation from 1 BW scaled with speed
  (vertical force peaks grow with walking speed, e.g. Nilsson & Thorstensson 1989);
* stance flags per foot from the pattern's stance intervals (GRF above 0.02 BW).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from train.data.synthetic.gait_library import NOMINAL_TILT_RAD, GaitPattern, patterns_of
from train.data.synthetic.posture import (
    SHANK_LENGTH,
    THIGH_LENGTH,
    PostureOffsets,
    apply_posture,
)
from train.data.synthetic.speed_profile import (
    ProgramSignals,
    running_stride_s,
    walking_stride_s,
)


@dataclass(frozen=True)
class Variability:
    """Random variation of one recording (all dimensionless unless named otherwise).

    Attributes:
        walk_weights: (2,) mixture weights of the walking patterns (sum 1).
        run_weights: (3,) mixture weights of the running patterns (sum 1).
        timing_jitter: std of the smooth relative stride-frequency variation.
        amplitude_jitter: std of the smooth relative joint-amplitude variation.
        duty_jitter: std of the smooth duty-factor variation (fraction of the stride).
        cadence_scale: constant factor on the stride frequency (personal cadence).
        tilt_offset_rad: constant added to the nominal trunk tilt, rad.
        stand_hip_rad, stand_knee_rad: standing posture, rad.
    """

    walk_weights: np.ndarray
    run_weights: np.ndarray
    timing_jitter: float = 0.02
    amplitude_jitter: float = 0.04
    duty_jitter: float = 0.008
    cadence_scale: float = 1.0
    tilt_offset_rad: float = 0.0
    stand_hip_rad: float = np.radians(2.0)
    stand_knee_rad: float = np.radians(-4.0)

    @classmethod
    def sample(cls, rng: np.random.Generator, scale: float = 1.0) -> Variability:
        """Random variability; ``scale`` multiplies every jitter (0 = none)."""
        return cls(
            walk_weights=rng.dirichlet([2.0, 2.0]),
            run_weights=rng.dirichlet([2.0, 2.0, 2.0]),
            timing_jitter=0.02 * scale,
            amplitude_jitter=0.04 * scale,
            duty_jitter=0.008 * scale,
            cadence_scale=float(1.0 + 0.04 * scale * rng.standard_normal()),
            tilt_offset_rad=float(np.radians(2.0) * scale * rng.standard_normal()),
            stand_hip_rad=float(np.radians(rng.uniform(0.0, 5.0))),
            stand_knee_rad=float(np.radians(rng.uniform(-8.0, -2.0))),
        )

    @classmethod
    def none(cls, walk: str | None = None, run: str | None = None) -> Variability:
        """No jitter; optionally a single named pattern per movement."""
        walks = [p.name for p in patterns_of("walking")]
        runs = [p.name for p in patterns_of("running")]
        ww = np.array([1.0 if n == walk else 0.0 for n in walks]) if walk else np.full(2, 0.5)
        rw = np.array([1.0 if n == run else 0.0 for n in runs]) if run else np.full(3, 1 / 3)
        return cls(
            walk_weights=ww,
            run_weights=rw,
            timing_jitter=0.0,
            amplitude_jitter=0.0,
            duty_jitter=0.0,
        )


@dataclass(frozen=True)
class GaitTargets:
    """Targets on the time grid (n samples).

    Attributes:
        time_s: (n,) s.
        phase: (n,) stride phase, unwrapped (cycles; 0 = right heel strike).
        angles: (n, 6) joint-angle pattern, rad (``JOINTS`` order).
        tilt: (n,) nominal trunk tilt (pelvis_tilt), rad.
        grf_bw: (n, 2, 2) reference GRF per foot (right, left) × (x, y), BW.
        stance: (n, 2) bool, foot in stance (right, left).
        flight: (n,) float in [0, 1], 1 when no foot is loaded in the reference.
        program: the evaluated speed program.
    """

    time_s: np.ndarray
    phase: np.ndarray
    angles: np.ndarray
    tilt: np.ndarray
    grf_bw: np.ndarray
    stance: np.ndarray
    flight: np.ndarray
    program: ProgramSignals


def smooth_noise(rng: np.random.Generator, n: int, dt: float, corr_s: float) -> np.ndarray:
    """(n,) zero-mean, unit-std Gaussian noise smoothed over about ``corr_s`` seconds."""
    sigma = max(corr_s / dt, 1.0)
    pad = int(4 * sigma)
    x = gaussian_filter1d(rng.standard_normal(n + 2 * pad), sigma)[pad : pad + n]
    # A Gaussian kernel of width sigma (samples) leaves white noise with this std:
    return x * np.sqrt(2.0 * np.sqrt(np.pi) * sigma)


def _mixture(patterns: list[GaitPattern], weights: np.ndarray) -> GaitPattern:
    """Pattern whose coefficients and stance are the weighted mean of ``patterns``."""
    w = np.asarray(weights, dtype=np.float64) / np.sum(weights)
    n = max(p.grf_samples.shape[0] for p in patterns)

    def resample(g: np.ndarray) -> np.ndarray:
        u = np.arange(n) / n * g.shape[0]
        ext = np.concatenate([g, g[:1]])
        return np.stack([np.interp(u, np.arange(g.shape[0] + 1), ext[:, j]) for j in (0, 1)], 1)

    first = patterns[0]
    return GaitPattern(
        name="+".join(p.name for p, wi in zip(patterns, w, strict=True) if wi > 0),
        movement=first.movement,
        speed_m_s=float(sum(wi * p.speed_m_s for p, wi in zip(patterns, w, strict=True))),
        cycle_s=float(sum(wi * p.cycle_s for p, wi in zip(patterns, w, strict=True))),
        height_m=float(sum(wi * p.height_m for p, wi in zip(patterns, w, strict=True))),
        angle_coef=sum(wi * p.angle_coef for p, wi in zip(patterns, w, strict=True)),
        grf_coef=sum(wi * p.grf_coef for p, wi in zip(patterns, w, strict=True)),
        grf_samples=sum(wi * resample(p.grf_samples) for p, wi in zip(patterns, w, strict=True)),
        ankle_offset_rad=float(
            sum(wi * p.ankle_offset_rad for p, wi in zip(patterns, w, strict=True))
        ),
        duty_factor=float(sum(wi * p.duty_factor for p, wi in zip(patterns, w, strict=True))),
    )


def _duty_target(pattern: GaitPattern, speed: np.ndarray) -> np.ndarray:
    """Duty factor at ``speed``: stance shortens with speed (walking ≈ −0.045 per m/s,
    running ≈ −0.025 per m/s), kept within human ranges."""
    if pattern.movement == "walking":
        return np.clip(pattern.duty_factor - 0.045 * (speed - pattern.speed_m_s), 0.55, 0.70)
    return np.clip(pattern.duty_factor - 0.025 * (speed - pattern.speed_m_s), 0.24, 0.42)


def _warp_amplitude(pattern: GaitPattern, duty: np.ndarray) -> np.ndarray:
    """Amplitude a of the phase warp φ + a sin(4πφ) that maps the desired toe-off
    (``duty``) onto the pattern's toe-off (|a| ≤ 0.07 keeps the warp monotonic)."""
    s = np.sin(4 * np.pi * duty)
    safe = np.where(np.abs(s) > 0.2, s, 1.0)
    a = np.where(np.abs(s) > 0.2, (pattern.duty_factor - duty) / safe, 0.0)
    return np.clip(a, -0.07, 0.07)


def _hip_scale(
    pattern: GaitPattern,
    speed: np.ndarray,
    stride_s: np.ndarray,
    duty: np.ndarray,
    height_m: float,
) -> np.ndarray:
    """(n,) factor on the pattern's hip excursion so that its stance sweep grows with the
    distance the body covers during a stance (speed × stride × duty factor, per body
    height) relative to the pattern's own; the stance IK absorbs what remains."""
    need = speed * stride_s * duty / height_m
    own = pattern.speed_m_s * pattern.cycle_s * pattern.duty_factor / pattern.height_m
    return np.clip(need / own, 0.6, 1.5)


def _mean_vertical_force(pattern: GaitPattern, warp: np.ndarray) -> np.ndarray:
    """(n,) stride mean of the warped, stance-gated total vertical force (BW) for each
    warp amplitude (tabulated and interpolated)."""
    grid = np.linspace(-0.07, 0.07, 29)
    phi = np.linspace(0.0, 1.0, 256, endpoint=False)
    means = []
    for a in grid:
        wp = phi + a * np.sin(4 * np.pi * phi)
        fy = np.clip(pattern.grf(wp)[..., 1], 0.0, None) * np.clip(pattern.stance(wp) * 4, 0, 1)
        means.append(fy.sum(axis=1).mean())
    return np.interp(warp, grid, np.asarray(means))


def _movement_targets(
    pattern: GaitPattern,
    phase: np.ndarray,
    speed: np.ndarray,
    stride_s: np.ndarray,
    height_m: float,
    duty_noise: np.ndarray,
    amp_noise: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Targets of one movement's pattern on the grid.

    Args:
        pattern: the (mixed) pattern.
        phase: (n,) stride phase (cycles).
        speed: (n,) pattern speed, m/s.
        stride_s: (n,) stride duration, s.
        height_m: body height, m.
        duty_noise: (n,) duty-factor jitter (fraction of the stride).
        amp_noise: (n, 6) relative amplitude jitter per joint.

    Returns:
        angles (n, 6) rad, grf (n, 2, 2) BW, stance weight (n, 2) in [0, 1].
    """
    duty = _duty_target(pattern, speed) + duty_noise
    warp = _warp_amplitude(pattern, duty)
    wphase = phase + warp * np.sin(4 * np.pi * phase)
    raw = pattern.angles(wphase)
    mean = pattern.angles(np.linspace(0, 1, 64, endpoint=False)).mean(axis=0)
    hip = _hip_scale(pattern, speed, stride_s, duty, height_m)
    knee = 1.0 + 0.5 * (hip - 1.0)
    one = np.ones_like(hip)
    scale = np.stack([hip, knee, one, hip, knee, one], axis=1) * (1.0 + amp_noise)
    angles = mean + scale * (raw - mean)
    stance = pattern.stance(wphase)
    gate = np.clip(stance * 4.0, 0.0, 1.0)
    grf = pattern.grf(wphase)
    grf[..., 1] = np.clip(grf[..., 1], 0.0, None) * gate
    grf[..., 0] *= gate
    grf /= _mean_vertical_force(pattern, warp)[:, None, None]
    if pattern.movement == "walking":
        k = np.clip((speed / pattern.speed_m_s) ** 1.2, 0.5, 2.0)
        total = grf[..., 1].sum(axis=1)
        share = grf[..., 1] / np.maximum(total, 1e-9)[:, None]
        grf[..., 1] = share * (1.0 + k * (total - 1.0))[:, None]
        grf[..., 0] *= (speed / pattern.speed_m_s)[:, None]
    return angles, grf, stance


#: Gait amplitude (0 standing .. 1 full gait) below which no foot leaves the ground.
STEP_AMPLITUDE = 0.3


def build_targets(
    program: ProgramSignals,
    height_m: float,
    variability: Variability,
    rng: np.random.Generator,
    posture: PostureOffsets | None = None,
) -> GaitTargets:
    """Gait targets on ``program.time_s`` for a body of ``height_m``; with ``posture``,
    the subject's constant joint-angle offsets (:mod:`.posture`) on top of the pattern
    (no random draws: the same rng sequence with or without posture)."""
    t = program.time_s
    n = t.shape[0]
    dt = float(t[1] - t[0])
    v_gait = program.gait_speed_m_s
    run = program.run_blend
    amp = program.amplitude
    stride_walk = walking_stride_s(v_gait, height_m)
    stride_run = running_stride_s(v_gait, height_m)
    freq = (1.0 - run) / stride_walk + run / stride_run
    freq = (
        freq
        * variability.cadence_scale
        * (1.0 + variability.timing_jitter * smooth_noise(rng, n, dt, 0.8))
    )
    phase = np.concatenate([[0.0], np.cumsum(0.5 * (freq[1:] + freq[:-1]) * dt)])
    phase += rng.uniform(0.0, 1.0)

    walk = _mixture(patterns_of("walking"), variability.walk_weights)
    runp = _mixture(patterns_of("running"), variability.run_weights)
    duty_noise = variability.duty_jitter * smooth_noise(rng, n, dt, 2.0)
    amp_noise = variability.amplitude_jitter * np.stack(
        [smooth_noise(rng, n, dt, 1.0) for _ in range(6)], axis=1
    )
    stride = 1.0 / freq
    ang_w, grf_w, st_w = _movement_targets(
        walk, phase, v_gait, stride, height_m, duty_noise, amp_noise
    )
    ang_r, grf_r, st_r = _movement_targets(
        runp, phase, v_gait, stride, height_m, duty_noise, amp_noise
    )

    tilt_gait = (1.0 - run) * NOMINAL_TILT_RAD["walking"] + run * NOMINAL_TILT_RAD["running"]
    stand_tilt = np.radians(-1.0)
    nominal_tilt = stand_tilt + amp * (tilt_gait - stand_tilt)
    tilt = variability.tilt_offset_rad + nominal_tilt
    tilt = tilt + np.radians(0.5) * smooth_noise(rng, n, dt, 2.0)

    stand = np.zeros((n, 6))
    for side in (0, 3):
        stand[:, side] = variability.stand_hip_rad
        stand[:, side + 1] = variability.stand_knee_rad
        stand[:, side + 2] = -(
            nominal_tilt + variability.stand_hip_rad + variability.stand_knee_rad
        )
    gait = (1.0 - run)[:, None] * ang_w + run[:, None] * ang_r
    angles = stand + amp[:, None] * (gait - stand)
    # A personal lean and the trunk's sway turn the trunk, not the legs: the hip angles
    # (thigh relative to pelvis) take the difference, the thighs keep the pattern's
    # absolute angles (and the feet their placement).
    angles[:, 0] -= tilt - nominal_tilt
    angles[:, 3] -= tilt - nominal_tilt
    if posture is not None and not posture.is_zero:
        thigh_m, shank_m = THIGH_LENGTH * height_m, SHANK_LENGTH * height_m
        stance_now = (1.0 - run)[:, None] * st_w + run[:, None] * st_r > 0.5
        angles, tilt = apply_posture(angles, tilt, amp, stance_now, run, posture, thigh_m, shank_m)

    st_gait = (1.0 - run)[:, None] * st_w + run[:, None] * st_r
    # Below STEP_AMPLITUDE a step would be a shuffle: both feet stay down (the stance IK
    # keeps them planted while the pattern sways).
    stance = np.where((amp > STEP_AMPLITUDE)[:, None], st_gait > 0.5, True)

    grf_gait = (1.0 - run)[:, None, None] * grf_w + run[:, None, None] * grf_r
    # The standing share of the body weight rests on the feet that are down.
    down = stance.astype(np.float64)
    grf_stand = np.zeros((n, 2, 2))
    grf_stand[..., 1] = down / np.maximum(down.sum(axis=1, keepdims=True), 1.0)
    grf = grf_stand + amp[:, None, None] * (grf_gait - grf_stand)
    loaded = np.clip(grf[..., 1].sum(axis=1) / 0.1, 0.0, 1.0)
    flight = np.where(stance.any(axis=1), 0.0, 1.0 - loaded)
    return GaitTargets(t, phase, angles, tilt, grf, stance, flight, program)
