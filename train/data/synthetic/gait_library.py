"""Mean gait cycles (joint angles and GRF) as smooth periodic functions of the phase.

Sources (``train/reference_data/kinematics``, ``edge/sample_data/imu``; Apache-2.0):

* ``P01_walking``: ground truth of the lab recording (right hip, knee, ankle and GRF;
  the left side is the right side shifted by half a cycle), 1.29 m/s, 1.2135 s.
* ``Winter_walking``: D. A. Winter's normal walking (both sides), 1.325 m/s, 1.1396 s.
* ``RBDS001..003_running``: Fukuchi et al. 2017, treadmill running at 3.5 m/s. Each file
  holds ONE STEP (right heel strike to left heel strike, 50 samples): its ``_r`` columns
  are the right leg and its ``_l`` columns the left leg during that step. The stride is
  the step followed by the same step with the sides swapped (the right leg at row 49
  continues into the left leg at row 0, and vice versa).

Every pattern starts at right heel strike (phase 0). Angles are in the model's
convention (rad, ``JOINTS`` order), GRF per foot (right, left) × (x forward, y up) in
body weights. Each channel is made periodic (the small jump between the last and the
first sample of a mean cycle is spread linearly over the cycle) and reduced to a
Fourier series with a Lanczos taper, so derivatives are smooth. The ankle gets a
constant offset so that the stance foot is flat at mid-stance in the model (the sole
is parallel to the foot x axis); the offset is stored per pattern.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np

from edge.recording import bundled_recording_path, read_recording
from edge.recording.timebase import fourier_interpolate_periodic

#: Harmonics kept for joint angles and for GRF (per stride), and the low-pass cut-off of
#: the angles (harmonic at which the gain is 1/2: about 5 Hz walking, 8 Hz running).
ANGLE_HARMONICS = 12
ANGLE_CUTOFF_HARMONIC = 6.0
GRF_HARMONICS = 20
#: Vertical GRF (BW) above which a foot counts as in stance.
STANCE_THRESHOLD_BW = 0.02
#: Phase offset (fraction of the stride) at which a pattern's GRF is read relative to its
#: joint angles. Winter's force curves lead the timing his kinematics imply in the planar
#: model by about 2.5 % of the stride (found by minimising the mismatch between the
#: generated and the reference GRF); the others need none.
GRF_PHASE_OFFSET = {"Winter_walking": -0.025}
#: Fraction of the stride-length calibration applied to the hip excursion; the stance IK
#: supplies the rest (a compromise between the thigh excursion of the real IMU and the
#: stride length the planar model needs).
HIP_CALIBRATION_FRACTION = 0.9
#: Nominal trunk (pelvis_tilt) angle per movement, rad (+ = backward lean).
NOMINAL_TILT_RAD = {"walking": 0.0, "running": np.radians(-5.0)}

Movement = Literal["walking", "running"]
_SIDES = ("r", "l")
_JOINT_STEMS = ("hip_flexion", "knee_angle", "ankle_angle")


@dataclass(frozen=True)
class GaitPattern:
    """One mean stride, as truncated Fourier series over the phase (0..1, R heel strike at 0).

    Attributes:
        name: source name, e.g. ``"P01_walking"``.
        movement: ``"walking"`` or ``"running"``.
        speed_m_s: speed of the source, m/s.
        cycle_s: stride duration of the source, s.
        height_m: body height of the source, m.
        angle_coef: (K+1, 6) complex Fourier coefficients of the joint angles (rad),
            with the hip calibration and ankle offset applied.
        grf_coef: (K'+1, 4) complex coefficients of GRF (x_r, y_r, x_l, y_l), BW.
        grf_samples: (n, 2) vertical GRF per foot at the source samples (for stance).
        ankle_offset_rad: constant added to both ankles (flat foot at mid-stance).
        duty_factor: fraction of the stride each foot is in stance.
        hip_scale: factor on the hip excursion (about its stride mean) that makes the
            pattern's stance sweep match its speed in the planar model (calibration).
    """

    name: str
    movement: Movement
    speed_m_s: float
    cycle_s: float
    height_m: float
    angle_coef: np.ndarray
    grf_coef: np.ndarray
    grf_samples: np.ndarray
    ankle_offset_rad: float
    duty_factor: float
    hip_scale: float = 1.0

    def angles(self, phase: np.ndarray) -> np.ndarray:
        """(M, 6) joint angles (rad) at ``phase`` (calibrated hip, ankle offset applied)."""
        return _fourier_eval(self.angle_coef, phase, 0)

    def grf(self, phase: np.ndarray) -> np.ndarray:
        """(M, 2, 2) GRF per foot (right, left) × (x, y) in BW at ``phase``."""
        return _fourier_eval(self.grf_coef, phase, 0).reshape(-1, 2, 2)

    def stance(self, phase: np.ndarray) -> np.ndarray:
        """(M, 2) float in [0, 1]: linear interpolation of the source's stance indicator
        (vertical GRF above the threshold) per foot; free of Fourier ringing."""
        n = self.grf_samples.shape[0]
        u = np.mod(phase, 1.0) * n
        ind = (self.grf_samples > STANCE_THRESHOLD_BW).astype(np.float64)
        ext = np.concatenate([ind, ind[:1]], axis=0)
        grid = np.arange(n + 1)
        return np.stack([np.interp(u, grid, ext[:, j]) for j in range(2)], axis=1)


def _fourier_coef(values: np.ndarray, harmonics: int, cutoff: float | None = None) -> np.ndarray:
    """(harmonics+1, C) complex coefficients of one periodic cycle (n, C), made periodic
    by spreading the end-to-start jump linearly and tapered with Lanczos sigma factors;
    with ``cutoff`` also low-passed by ``1 / (1 + (k / cutoff)^6)`` (k: harmonic)."""
    n = values.shape[0]
    ramp = np.arange(n) / n
    jump = (2.0 * values[-1] - values[-2]) - values[0]
    periodic = values + jump[None, :] * ramp[:, None]
    spec = np.fft.rfft(periodic, axis=0) / n
    k = np.arange(harmonics + 1)
    sigma = np.sinc(k / (harmonics + 1))
    if cutoff is not None:
        sigma = sigma / (1.0 + (k / cutoff) ** 6)
    coef = spec[: harmonics + 1] * sigma[:, None]
    coef[1:] *= 2.0
    return coef


def _fourier_eval(coef: np.ndarray, phase: np.ndarray, nu: int) -> np.ndarray:
    """(M, C) real series sum_k Re(c_k exp(2 pi i k phase)), differentiated ``nu`` times."""
    k = np.arange(coef.shape[0])
    factor = (2j * np.pi * k) ** nu
    basis = np.exp(2j * np.pi * np.outer(np.asarray(phase, dtype=np.float64), k))
    return (basis @ (coef * factor[:, None])).real


def _kinematics_dir() -> Path:
    return Path(str(resources.files("train") / "reference_data" / "kinematics"))


def _read_csv(path: Path) -> dict[str, np.ndarray]:
    data = np.genfromtxt(path, delimiter=",", names=True)
    return {name: np.asarray(data[name], dtype=np.float64) for name in data.dtype.names}


def _stride_from_step(cols: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """RBDS files hold one step; the stride is the step, then the step with sides swapped."""
    out = {}
    for stem in (*_JOINT_STEMS, "grf_x", "grf_y"):
        r, l_ = cols[f"{stem}_r"], cols[f"{stem}_l"]
        out[f"{stem}_r"] = np.concatenate([r, l_])
        out[f"{stem}_l"] = np.concatenate([l_, r])
    return out


def _foot_angle_offset(angles: np.ndarray, stance_r: np.ndarray, tilt: float) -> float:
    """Ankle offset (rad) making the right foot's absolute angle zero (median) over the
    middle 40 % of its stance; angles (n, 6), stance_r (n,) bool."""
    foot = tilt + angles[:, 0] + angles[:, 1] + angles[:, 2]
    n = stance_r.shape[0]
    start = int(np.flatnonzero(stance_r & ~np.roll(stance_r, 1))[0])
    order = np.roll(np.arange(n), -start)
    length = int(stance_r[order].sum())
    mid = order[int(0.3 * length) : int(0.7 * length)]
    return float(-np.median(foot[mid]))


def _make_pattern(
    name: str,
    movement: Movement,
    speed: float,
    cycle: float,
    height: float,
    angles: np.ndarray,
    grf: np.ndarray,
) -> GaitPattern:
    """angles (n, 6) rad; grf (n, 4) BW as x_r, y_r, x_l, y_l."""
    n = grf.shape[0]
    offset_samples = GRF_PHASE_OFFSET.get(name, 0.0) * n
    grf = fourier_interpolate_periodic(grf, np.arange(n) + offset_samples)
    # Steady gait: mean vertical force 1 BW, mean horizontal force 0 (spread over stance).
    fy_mean = grf[:, [1, 3]].sum(axis=1).mean()
    grf /= fy_mean
    fx_mean = grf[:, [0, 2]].sum(axis=1).mean()
    grf[:, [0, 2]] -= fx_mean * grf[:, [1, 3]]
    grf[:, [1, 3]] = np.clip(grf[:, [1, 3]], 0.0, None)
    stance = grf[:, [1, 3]] > STANCE_THRESHOLD_BW
    base = GaitPattern(
        name=name,
        movement=movement,
        speed_m_s=speed,
        cycle_s=cycle,
        height_m=height,
        angle_coef=_fourier_coef(angles, ANGLE_HARMONICS, ANGLE_CUTOFF_HARMONIC),
        grf_coef=_fourier_coef(grf, GRF_HARMONICS),
        grf_samples=grf[:, [1, 3]].copy(),
        ankle_offset_rad=0.0,
        duty_factor=float(stance.mean()),
    )
    offset, scale = 0.0, 1.0
    samples = np.arange(angles.shape[0]) / angles.shape[0]
    tilt = NOMINAL_TILT_RAD[movement]
    for _ in range(3):
        shaped = _calibrated(base, scale, offset)
        offset += _foot_angle_offset(shaped.angles(samples), stance[:, 0], tilt)
        full = calibrate_hip_scale(_calibrated(base, 1.0, offset))
        scale = 1.0 + HIP_CALIBRATION_FRACTION * (full - 1.0)
    return _calibrated(base, scale, offset)


def _calibrated(base: GaitPattern, hip_scale: float, ankle_offset: float) -> GaitPattern:
    """``base`` with its hip excursion scaled and the ankle offset added."""
    coef = base.angle_coef.copy()
    coef[1:, [0, 3]] *= hip_scale
    coef[0, [2, 5]] += ankle_offset
    return replace(base, angle_coef=coef, hip_scale=hip_scale, ankle_offset_rad=ankle_offset)


def stance_sweep_m(
    pattern: GaitPattern, height_m: float, hip_scales: np.ndarray, samples: int = 200
) -> np.ndarray:
    """(len(hip_scales),) how far (m) the hip travels over the right foot's stance when
    the foot rolls without sliding (heel pivot, then toe pivot, see :mod:`.leg_ik`), for
    the pattern with its hip excursion scaled by each factor, on a body of ``height_m``."""
    from train.data.synthetic.body import Body, kinematics
    from train.data.synthetic.leg_ik import toe_share

    body = Body.of(height_m, 70.0)
    phase = np.arange(samples) / samples
    base = pattern.angles(phase)
    mean = base.mean(axis=0)
    q = np.zeros((len(hip_scales), samples, 9))
    q[..., 2] = NOMINAL_TILT_RAD[pattern.movement]
    q[..., 3:] = base
    for j in (3, 6):
        q[..., j] = mean[j - 3] + np.asarray(hip_scales)[:, None] * (base[:, j - 3] - mean[j - 3])
    zero = np.zeros_like(q)
    kin = kinematics(body, q, zero, zero)
    cp = kin.contact_pos.numpy()
    w = toe_share(kin.angle.numpy()[..., 3])
    pivot_x = (1 - w) * cp[..., 0, 0] + w * cp[..., 1, 0]
    stance = pattern.stance(phase)[:, 0] > 0.5
    start = int(np.flatnonzero(stance & ~np.roll(stance, 1))[0])
    idx = np.roll(np.arange(samples), -start)[: int(stance.sum())]
    first, last = idx[0], idx[-1]
    roll = body.sole_m * (w[:, last] - w[:, first])
    return pivot_x[:, first] - pivot_x[:, last] + roll


def calibrate_hip_scale(pattern: GaitPattern) -> float:
    """Hip-excursion factor (0.8..2.2) that makes the stance sweep equal the distance the
    body travels during stance (speed × stride × duty factor) at the pattern's own speed,
    cadence and body height. The mean cycles under-state the thigh excursion the planar
    model needs (no pelvic rotation, obliquity or toe segment): about ×1.7 for walking,
    ×1.1-1.2 for running, in line with the larger thigh gyroscope amplitude of the real
    IMU recording and with the optimal-control reference stride."""
    need = pattern.speed_m_s * pattern.cycle_s * pattern.duty_factor
    scales = np.linspace(0.8, 2.2, 29)
    sweep = stance_sweep_m(pattern, pattern.height_m, scales)
    return float(np.interp(need, np.maximum.accumulate(sweep), scales))


def _angles_of(cols: dict[str, np.ndarray]) -> np.ndarray:
    return np.stack([cols[f"{s}_{side}"] for side in _SIDES for s in _JOINT_STEMS], axis=1)


def _grf_of(cols: dict[str, np.ndarray]) -> np.ndarray:
    return np.stack([cols[f"grf_{c}_{side}"] for side in _SIDES for c in ("x", "y")], axis=1)


def _load_reference(name: str, movement: Movement) -> GaitPattern:
    import json

    folder = _kinematics_dir()
    cols = _read_csv(folder / f"{name}.csv")
    meta = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
    height = float(meta["participant"]["height_m"])
    speed = float(meta["speed_m_s"])
    if movement == "running":
        cols = _stride_from_step(cols)
        cycle = float(meta.get("cycle_duration_s") or 0.70)
    else:
        cycle = float(meta["cycle_duration_s"])
    return _make_pattern(name, movement, speed, cycle, height, _angles_of(cols), _grf_of(cols))


def _load_p01_walking() -> GaitPattern:
    rec = read_recording(bundled_recording_path("P01_walking"))
    n = rec.n_samples
    half = n // 2
    right = np.stack([rec.truth[f"{s}_r"] for s in _JOINT_STEMS], axis=1)
    angles = np.concatenate([right, np.roll(right, -half, axis=0)], axis=1)
    grf_r = np.stack([rec.truth["grf_x_r"], rec.truth["grf_y_r"]], axis=1)
    grf = np.concatenate([grf_r, np.roll(grf_r, -half, axis=0)], axis=1)
    return _make_pattern(
        "P01_walking",
        "walking",
        float(rec.meta.speed_m_s),
        float(rec.meta.cycle_duration_s),
        rec.meta.participant.height_m,
        angles,
        grf,
    )


@cache
def gait_library() -> dict[str, GaitPattern]:
    """All reference patterns by name (loaded once)."""
    patterns = [
        _load_p01_walking(),
        _load_reference("Winter_walking", "walking"),
        *[_load_reference(f"RBDS00{i}_running", "running") for i in (1, 2, 3)],
    ]
    return {p.name: p for p in patterns}


def patterns_of(movement: Movement) -> list[GaitPattern]:
    """The reference patterns of one movement, in a fixed order."""
    return [p for p in gait_library().values() if p.movement == movement]
