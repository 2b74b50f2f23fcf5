"""Stance-leg inverse kinematics: the stance foot rolls on the ground without sliding.

During a stance interval the foot keeps the absolute angle of the gait pattern (with a
foot-flat phase where that angle passes 0, :func:`flat_foot`) and rolls over a pivot on
its sole: the heel while the toes are up (foot angle > 0), the toe
once the heel has lifted (foot angle < 0), and a point moving from heel to toe in between
(``w = 1 / (1 + exp(angle / 2°))``, the toe's share). The pivot's ground position is
``anchor + w · sole`` (rolling without slip), so the ankle position follows from the foot
angle, and the hip and knee angles from the two-link (thigh, shank) triangle between hip
and ankle. The anchor of each stance interval is chosen so that the stance thigh angle
matches the pattern's on average.

All angles rad, positions m in the ground frame (x forward, y up, ground y = 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from train.data.synthetic.body import Body

#: Softness of the heel-to-toe pivot transition (foot angle), rad.
PIVOT_SOFTNESS_RAD = np.radians(2.0)
#: Least knee flexion the solver allows (a knee never quite locks), rad.
MIN_KNEE_FLEXION_RAD = np.radians(0.5)
#: Half-width of the foot-flat phase in the pattern's foot angle, rad (:func:`flat_foot`;
#: 0: none, the generator before it).
FOOT_FLAT_RAD = np.radians(6.0)


def toe_share(foot_angle: np.ndarray) -> np.ndarray:
    """(n,) weight of the toe in the pivot (0 heel, 1 toe) for foot angles (n,) rad."""
    return 1.0 / (1.0 + np.exp(np.clip(foot_angle / PIVOT_SOFTNESS_RAD, -50, 50)))


def flat_foot(foot_angle: np.ndarray) -> np.ndarray:
    """Stance foot angle (rad, any shape) with a foot-flat phase, from the pattern's
    absolute foot angle ``a``: ``a · (1 − exp(−(a / FOOT_FLAT_RAD)⁴))``.

    The pattern's foot is not flat in mid-stance: the hip excursion the planar model
    needs (no pelvic rotation; ×1.6-1.9 for walking) turns the foot with the thigh, so on
    its own it rolls heel to toe right through mid-stance (P01 pattern: within 1° of flat
    in 12 % of the stance, 0.15 rad/s at its stillest, +2.3° there; Winter's: 5 %,
    0.8 rad/s, +8.5°). With this the foot lies flat and still (within 0.2° while
    |a| < 3°) while the pattern's angle passes 0, and follows the pattern again from
    |a| ≈ 8° on (heel strike and push-off unchanged); the ankle takes the difference, at
    most 0.55 · FOOT_FLAT_RAD (at |a| ≈ 0.7 · FOOT_FLAT_RAD). Figures:
    ``python -m train.data.synthetic.acceptance``."""
    a = np.asarray(foot_angle, dtype=np.float64)
    if FOOT_FLAT_RAD <= 0.0:
        return a
    return a * -np.expm1(-((a / FOOT_FLAT_RAD) ** 4))


def stance_runs(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Label contiguous True runs of a (n,) mask: (n,) run index (-1 outside), count."""
    mask = np.asarray(mask, dtype=bool)
    starts = mask & ~np.r_[False, mask[:-1]]
    ids = np.cumsum(starts) - 1
    return np.where(mask, ids, -1), int(starts.sum())


@dataclass(frozen=True)
class LegSolution:
    """IK result of one leg on the frames of its stance mask.

    Attributes:
        angles: (n, 3) hip flexion, knee, ankle (rad); NaN outside stance.
        deficit_m: (n,) how far the leg could not reach the ground (m, 0 if it could).
        anchor_x: (runs,) ground x of the heel pivot per stance interval, m.
    """

    angles: np.ndarray
    deficit_m: np.ndarray
    anchor_x: np.ndarray


def stance_ankle(body: Body, foot: np.ndarray, anchor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ankle position (x, y), each (m,) m, of a foot of absolute angle ``foot`` (m,) rad
    rolling without slip on the ground from heel-pivot anchor ``anchor`` (m,) m."""
    w = toe_share(foot)
    local = body.heel[None, :] + w[:, None] * (body.toe - body.heel)[None, :]
    c, s = np.cos(foot), np.sin(foot)
    ankle_x = anchor + w * body.sole_m - (c * local[:, 0] - s * local[:, 1])
    ankle_y = -(s * local[:, 0] + c * local[:, 1])
    return ankle_x, ankle_y


def leg_length(body: Body, knee: np.ndarray) -> np.ndarray:
    """Hip-to-ankle distance (m) at knee angles ``knee`` (rad, flexion negative)."""
    l1, l2 = body.thigh_m, body.shank_m
    return np.sqrt(l1 * l1 + l2 * l2 + 2 * l1 * l2 * np.cos(knee))


def _run_starts(run_id: np.ndarray) -> np.ndarray:
    """(runs,) index of the first sample of each run of ``run_id`` (n,) (-1 outside)."""
    idx = np.flatnonzero(run_id >= 0)
    return idx[np.r_[0, np.flatnonzero(np.diff(run_id[idx])) + 1]]


def stance_anchors(
    body: Body, hip_x: np.ndarray, foot_angle: np.ndarray, pivot_rel_x: np.ndarray, mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Heel-pivot ground anchor of each stance interval of ``mask`` (n,): where the
    pattern puts the foot at touchdown (hip x ``hip_x`` (n,) m plus the pattern pivot's x
    relative to the hip ``pivot_rel_x`` (n,) m). Returns (n,) run index (-1 outside
    stance) and (runs,) anchors, m."""
    run_id, n_runs = stance_runs(mask)
    if n_runs == 0:
        return run_id, np.zeros(0)
    first = _run_starts(run_id)
    anchor = hip_x[first] + pivot_rel_x[first] - toe_share(foot_angle[first]) * body.sole_m
    return run_id, anchor


def clamp_anchors(
    body: Body,
    anchor: np.ndarray,
    run_id: np.ndarray,
    hip: np.ndarray,
    foot_angle: np.ndarray,
    reach_m: np.ndarray,
) -> np.ndarray:
    """(runs,) ``anchor`` (runs,) m moved back where the foot at its touchdown (first
    sample of each run of ``run_id`` (n,)) is farther ahead of the hip (``hip`` (n, 2) m)
    than a hip-ankle distance of ``reach_m`` (n,) m allows."""
    if anchor.size == 0:
        return anchor
    first = _run_starts(run_id)
    ax, ay = stance_ankle(body, foot_angle[first], anchor)
    dx = ax - hip[first, 0]
    dy = hip[first, 1] - ay
    reach = reach_m[first]
    room = np.sqrt(np.clip(reach * reach - dy * dy, 0.0, None))
    return anchor - np.where((dx > room) & (dy < reach), dx - room, 0.0)


def _two_link(
    body: Body,
    hip: np.ndarray,
    tilt: np.ndarray,
    foot: np.ndarray,
    anchor: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Thigh absolute angle, knee, ankle angle and reach deficit (all (m,)) for a foot of
    absolute angle ``foot`` pivoting on the ground at heel-pivot anchor ``anchor``."""
    ankle_x, ankle_y = stance_ankle(body, foot, anchor)
    dx, dy = ankle_x - hip[:, 0], ankle_y - hip[:, 1]
    dist = np.hypot(dx, dy)
    l1, l2 = body.thigh_m, body.shank_m
    cos_max = np.cos(MIN_KNEE_FLEXION_RAD)
    reach = leg_length(body, np.array(MIN_KNEE_FLEXION_RAD))
    cos_k = np.clip((dist * dist - l1 * l1 - l2 * l2) / (2 * l1 * l2), -1.0, cos_max)
    knee = -np.arccos(cos_k)
    psi = np.arctan2(dx, -dy)
    beta = np.arctan2(l2 * np.sin(-knee), l1 + l2 * np.cos(knee))
    thigh = psi + beta
    return thigh, knee, foot - (thigh + knee), np.clip(dist - reach, 0.0, None)


def solve_stance_leg(
    body: Body,
    hip: np.ndarray,
    tilt: np.ndarray,
    foot_angle: np.ndarray,
    pivot_rel_x: np.ndarray,
    mask: np.ndarray,
    touchdown_reach_m: np.ndarray | None = None,
) -> LegSolution:
    """IK of one leg over all its stance intervals.

    Each interval's anchor puts the foot where the pattern puts it at touchdown (the
    first stance sample): hip x plus the pattern's pivot position relative to the hip;
    with ``touchdown_reach_m`` (n,) m, no farther ahead of the hip than a hip-ankle
    distance of ``touchdown_reach_m`` at that sample allows (the foot lands where the
    leg reaches, a little behind a pattern foot thrown farther forward).

    Args:
        body: the body.
        hip: (n, 2) hip joint centre, m.
        tilt: (n,) trunk angle (pelvis_tilt), rad.
        foot_angle: (n,) absolute foot angle to keep, rad.
        pivot_rel_x: (n,) x of the pattern's pivot point relative to the hip, m.
        mask: (n,) bool stance frames.
    """
    n = hip.shape[0]
    run_id, anchor = stance_anchors(body, hip[:, 0], foot_angle, pivot_rel_x, mask)
    angles = np.full((n, 3), np.nan)
    deficit = np.zeros(n)
    if anchor.size == 0:
        return LegSolution(angles, deficit, anchor)
    idx = np.flatnonzero(mask)
    rid = run_id[idx]
    if touchdown_reach_m is not None:
        anchor = clamp_anchors(body, anchor, run_id, hip, foot_angle, touchdown_reach_m)
    h, tl, ft = hip[idx], tilt[idx], foot_angle[idx]
    thigh, knee, ankle, short = _two_link(body, h, tl, ft, anchor[rid])
    angles[idx, 0] = thigh - tl
    angles[idx, 1] = knee
    angles[idx, 2] = ankle
    deficit[idx] = short
    return LegSolution(angles, deficit, anchor)
