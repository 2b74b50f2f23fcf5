"""Checks of synthetic data: realism against the real IMU, contact and force consistency.

Used by the tests and by ``docs/synthetic-data.md``. Every function takes a
:class:`~.generator.Synthesis` (a recording plus its internals).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

import numpy as np
import tensorflow as tf

from edge.recording import MOMENT_NAMES, PLANAR_CHANNEL_INDEX, Recording
from train.data.synthetic.body import centre_of_mass, kinematics
from train.data.synthetic.generator import Synthesis
from train.data.synthetic.trajectory import foot_heights
from train.physics import kane_residual, normalise_residual

#: The 18 channels of the acceptance check: thigh, shank and foot sensors of both legs.
LEG_SENSORS: tuple[str, ...] = ("femur_r", "tibia_r", "foot_r", "femur_l", "tibia_l", "foot_l")
#: A contact point this close to the ground (m) counts as on the ground.
ON_GROUND_M = 0.005


def mean_cycle(syn: Synthesis, samples: int = 100, skip_s: float = 3.0) -> np.ndarray:
    """(samples, S, 6) mean stride of the recorded (with errors) IMU, folded by the stride
    phase over the whole strides at least ``skip_s`` from either end."""
    rec = syn.recording
    t = rec.time_s
    keep = (t >= t[0] + skip_s) & (t <= t[-1] - skip_s)
    cycle = np.floor(syn.phase).astype(np.int64)
    grid = np.arange(samples) / samples
    flat = rec.imu.reshape(rec.n_samples, -1)
    strides = []
    for c in range(int(cycle[keep].min()) + 1, int(cycle[keep].max())):
        m = cycle == c
        frac = syn.phase[m] - c
        strides.append(
            np.stack([np.interp(grid, frac, flat[m, k]) for k in range(flat.shape[1])], 1)
        )
    if not strides:
        raise ValueError("recording too short for a whole stride away from its ends")
    return np.mean(strides, axis=0).reshape(samples, *rec.imu.shape[1:])


def imu_correlation(
    syn: Synthesis, real: Recording, sensors: Sequence[str] = LEG_SENSORS
) -> tuple[float, dict[str, float], int]:
    """Pearson correlation of the synthetic mean stride with a real mean-cycle recording,
    per planar channel (acc_x, acc_y, gyr_z) of ``sensors``, after one circular shift
    (phase alignment) that maximises the mean.

    Returns:
        mean correlation, per-channel correlations ``{"femur_r.acc_x": r, ...}``, shift in
        samples of the real cycle.
    """
    n = real.n_samples
    synth = mean_cycle(syn, n)
    sidx = [syn.recording.sensors.index(s) for s in sensors]
    ridx = [real.sensors.index(s) for s in sensors]
    a = synth[:, sidx][:, :, list(PLANAR_CHANNEL_INDEX)].reshape(n, -1)
    b = real.imu[:, ridx][:, :, list(PLANAR_CHANNEL_INDEX)].reshape(n, -1)
    b = (b - b.mean(0)) / b.std(0)
    best: tuple[float, np.ndarray, int] | None = None
    for shift in range(n):
        x = np.roll(a, shift, axis=0)
        x = (x - x.mean(0)) / x.std(0)
        r = (x * b).mean(0)
        if best is None or r.mean() > best[0]:
            best = (float(r.mean()), r, shift)
    assert best is not None
    names = [f"{s}.{c}" for s in sensors for c in ("acc_x", "acc_y", "gyr_z")]
    return best[0], dict(zip(names, best[1].tolist(), strict=True)), best[2]


def _kin(syn: Synthesis):
    return kinematics(syn.body, syn.q, syn.qd, syn.qdd)


def stance_slip(syn: Synthesis, skip_s: float = 2.0) -> dict[str, float]:
    """Horizontal speed of the stance feet's contact points that are on the ground (m/s).

    ``load_weighted``: the mean over samples of each foot's on-ground points' speed,
    weighted by the foot's vertical GRF (the acceptance metric: a loaded foot must not
    slide); ``contact_mean``: the plain mean over samples with the foot's contact flag.
    """
    rec = syn.recording
    kin = _kin(syn)
    height = kin.contact_pos.numpy()[..., 1]
    speed = np.abs(kin.contact_vel.numpy()[..., 0])
    t = rec.time_s
    keep = (t >= t[0] + skip_s) & (t <= t[-1] - skip_s)
    load = np.stack([rec.truth["grf_y_r"], rec.truth["grf_y_l"]], 1).clip(0.0, None)
    flag = np.stack([rec.truth["contact_r"], rec.truth["contact_l"]], 1) > 0.5
    num = den = 0.0
    flagged = []
    for j in (0, 1):
        on = height[:, 2 * j : 2 * j + 2] < ON_GROUND_M
        count = on.sum(axis=1)
        foot = np.where(
            count > 0, (speed[:, 2 * j : 2 * j + 2] * on).sum(1) / np.maximum(count, 1), 0
        )
        w = load[:, j] * (count > 0) * keep
        num += float((foot * w).sum())
        den += float(w.sum())
        flagged.append(foot[flag[:, j] & (count > 0) & keep])
    both = np.concatenate(flagged)
    return {
        "load_weighted": num / max(den, 1e-12),
        "contact_mean": float(both.mean()) if both.size else 0.0,
    }


def penetration_m(syn: Synthesis) -> float:
    """Deepest contact point below the ground over the recording, m (≥ 0)."""
    return float(max(0.0, -_kin(syn).contact_pos.numpy()[..., 1].min()))


def airborne_load_share(syn: Synthesis, clearance_m: float = 0.01) -> float:
    """Share of the vertical ground-force impulse (both feet) that acts on a foot whose
    lowest contact point is more than ``clearance_m`` (m) above the ground: 0 when every
    force has a foot on the ground to act through."""
    truth = syn.recording.truth
    lowest = foot_heights(syn.body, syn.q)
    load = np.abs(np.stack([truth["grf_y_r"], truth["grf_y_l"]], axis=1))
    return float((load * (lowest > clearance_m)).sum() / max(load.sum(), 1e-12))


def grf_balance_rms_bw(syn: Synthesis) -> float:
    """RMS (BW) of the summed GRF minus ``m a_com + BW`` (x and y together)."""
    kin = _kin(syn)
    _, _, acc = centre_of_mass(syn.body, kin)
    body = syn.body
    truth = syn.recording.truth
    total = np.stack([truth["grf_x_r"] + truth["grf_x_l"], truth["grf_y_r"] + truth["grf_y_l"]], 1)
    expected = np.stack([acc[:, 0], acc[:, 1] + body.gravity], 1) * body.mass_kg
    return float(np.sqrt(np.mean((total - expected / body.body_weight_n) ** 2)))


def kane_residual_max(syn: Synthesis) -> tuple[float, float]:
    """Largest |Kane residual| with the truth moments and contact forces: in N / N·m, and
    normalised (BW, BW·BH). The truth moments are the recording's ``*_moment`` columns."""
    truth = syn.recording.truth
    moments = np.stack([truth[k] for k in MOMENT_NAMES], axis=1)
    kin = _kin(syn)
    res = kane_residual(
        None,
        None,
        None,
        tf.constant(moments),
        tf.constant(syn.contact_forces),
        syn.body.params,
        kin=kin,
    )
    norm = normalise_residual(res, syn.body.params)
    return float(np.abs(res.numpy()).max()), float(np.abs(norm.numpy()).max())


def grf_rms_vs_cycle_bw(syn: Synthesis, grf_cycle_bw: np.ndarray, skip_s: float = 3.0) -> float:
    """RMS (BW) between the generated GRF and a reference cycle ``grf_cycle_bw`` (n, 4)
    (x_r, y_r, x_l, y_l over one stride from right heel strike), read at each sample's
    stride phase; all four channels together."""
    rec = syn.recording
    t = rec.time_s
    keep = (t >= t[0] + skip_s) & (t <= t[-1] - skip_s)
    n = grf_cycle_bw.shape[0]
    u = np.mod(syn.phase, 1.0) * n
    ext = np.concatenate([grf_cycle_bw, grf_cycle_bw[:1]], axis=0)
    ref = np.stack([np.interp(u, np.arange(n + 1), ext[:, k]) for k in range(4)], 1)
    gen = np.stack([rec.truth[k] for k in ("grf_x_r", "grf_y_r", "grf_x_l", "grf_y_l")], 1)
    return float(np.sqrt(np.mean((gen - ref)[keep] ** 2)))


def _foot_stances(
    syn: Synthesis, skip_s: float
) -> Iterator[tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]]:
    """Per foot: (absolute foot angle (n,) rad, |gyr_z| (n,) rad/s of the error-free
    virtual IMU, [start, stop) of its whole stances at least ``skip_s`` from either end)."""
    rec = syn.recording
    t = rec.time_s
    keep = (t >= t[0] + skip_s) & (t <= t[-1] - skip_s)
    for side in ("r", "l"):
        joints = ("pelvis_tilt", f"hip_flexion_{side}", f"knee_angle_{side}", f"ankle_angle_{side}")
        foot = np.sum([rec.truth[c] for c in joints], axis=0)
        rate = np.abs(syn.ideal_imu[:, rec.sensors.index(f"foot_{side}"), 2])
        stance = rec.truth[f"contact_{side}"] > 0.5
        edges = np.flatnonzero(np.diff(stance.astype(np.int8))) + 1
        runs = [(a, b) for a, b in itertools.pairwise(edges) if stance[a]]
        yield foot, rate, [(a, b) for a, b in runs if keep[a:b].all()]


def stance_foot_flatness(syn: Synthesis, skip_s: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """The stillest instant of each stance (both feet, whole stances at least ``skip_s``
    from either end): the truth foot angle there (deg; 0 = sole level, heel and toe on the
    ground) and the foot's |gyr_z| there (rad/s, error-free virtual IMU).

    Returns:
        angle_deg: (M,) foot angle at the stillest instant of each stance, deg.
        rate_rad_s: (M,) |gyr_z| of the foot there, rad/s.
    """
    angles, rates = [], []
    for foot, rate, runs in _foot_stances(syn, skip_s):
        for a, b in runs:
            k = a + int(np.argmin(rate[a:b]))
            angles.append(np.degrees(foot[k]))
            rates.append(rate[k])
    return np.array(angles), np.array(rates)


def flat_share_of_stance(syn: Synthesis, tol_deg: float = 1.0, skip_s: float = 2.0) -> float:
    """Share of the stance samples (both feet, as :func:`stance_foot_flatness`) in which
    the foot is within ``tol_deg`` of flat (sole level)."""
    flat = total = 0
    for foot, _, runs in _foot_stances(syn, skip_s):
        for a, b in runs:
            flat += int((np.abs(np.degrees(foot[a:b])) <= tol_deg).sum())
            total += b - a
    return flat / max(total, 1)
