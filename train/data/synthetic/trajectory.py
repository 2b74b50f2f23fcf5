"""Physically consistent coordinate trajectories from gait targets.

Each outer iteration:

1. Trunk tilt (running): the nominal tilt, except in flight, where the trunk turns so that
   the whole-body angular momentum is conserved (:func:`_solve_tilt`).
2. Hip (pelvis_tx, pelvis_ty): a least-squares spline that balances
   * centre-of-mass (COM) accelerations from the reference GRF (within-stride shape; the
     programmed speed change is added; ballistic in flight),
   * the pattern's stance pivots on the ground (height rows weighted by how cheaply the
     knee can absorb a height error, :func:`knee_sensitivity`; in running 10× at the
     edges of a stance, so the foot meets the ground on time) and not sliding,
   * the programmed distance (so the mean speed is the program's).
3. Stance legs by inverse kinematics (:mod:`.leg_ik`): the stance foot rolls without
   sliding, exactly. The kinematic stance is the reference stance trimmed where the foot
   cannot reach the ground with a plausible knee (:func:`kinematic_stance`); a running
   foot lands no farther ahead than the leg reaches; a swing foot that meets the ground
   just before its touchdown lands there (:func:`land_early`).
4. Joint angles = pattern + a correction spline equal to (IK − pattern) in stance that
   fades out in swing (:func:`_correction_coef`). The fit is deliberately loose (tighter
   fits make accelerations at the stance edges that the real IMU does not show).

Then, with the final joint angles: a swing foot that would scuff gets knee flexion
(:func:`_swing_clearance`); the hip x is re-solved so the loaded feet of these actual
legs do not slide (:func:`_pin_feet`); and the hip is raised where a stance foot would
sink more than 3 mm (:func:`_lift_sinking_feet`).

Every coordinate is a quintic spline (:mod:`.splines`), so q̇ and q̈ are exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.ndimage import gaussian_filter1d, maximum_filter1d

from train.data.synthetic.body import Body, angular_momentum_terms, centre_of_mass, kinematics
from train.data.synthetic.gait_targets import GaitTargets
from train.data.synthetic.leg_ik import (
    MIN_KNEE_FLEXION_RAD,
    flat_foot,
    leg_length,
    solve_stance_leg,
    stance_runs,
    toe_share,
)
from train.data.synthetic.splines import Rows, UniformSpline, solve
from train.physics import Kinematics

#: Knot spacing of every trajectory spline, s.
KNOT_SPACING_S = 0.01
#: Third-derivative penalty of the joint-angle pattern fit (per (rad/s³)²): tiny, the
#: pattern is already smooth (:data:`.gait_library.ANGLE_CUTOFF_HARMONIC`).
PATTERN_SMOOTHING = 1e-14
#: Hip least squares: COM acceleration rows weigh ACC_WEIGHT per (m/s²)²; a pivot-height
#: error costs as much as a knee correction of KNEE_TOLERANCE_RAD per 1 m/s² (with the
#: knee sensitivity floored at SENSITIVITY_FLOOR_M, m/rad); sliding rows weigh
#: SLIDE_WEIGHT × load per (m/s)²; the distance anchor takes over below
#: SPEED_ANCHOR_RAD_S (rad/s).
ACC_WEIGHT = 1.0
KNEE_TOLERANCE_RAD = 0.1
SENSITIVITY_FLOOR_M = 0.06
SLIDE_WEIGHT = 100.0
SPEED_ANCHOR_RAD_S = 1.0
#: Largest knee extension beyond the pattern the IK may use to keep a foot down at
#: push-off and at touchdown, rad.
KNEE_BUDGET_RAD = np.radians(12.0)
TOUCHDOWN_BUDGET_RAD = np.radians(10.0)
#: Running: the pattern-pivot height rows of the first and last EDGE_FRACTION of a stance
#: weigh EDGE_HEIGHT_GAIN times more (a running foot must meet the ground on time).
EDGE_FRACTION = 0.1
EDGE_HEIGHT_GAIN = 10.0
#: A swing foot whose pattern pivot is deeper than this below the ground before the
#: force onset lands early (m).
EARLY_CONTACT_DEPTH_M = 0.004
#: Weight of the correction rows in stance and of "no correction" rows in swing, and the
#: third-derivative penalty of the correction spline: they set how closely the stance
#: follows the IK and how fast a correction fades in swing.
STANCE_CORRECTION_WEIGHT = 40.0
SWING_CORRECTION_WEIGHT = 10.0
CORRECTION_SMOOTHING = 5e-8
SWING_RAMP_S = 0.1
SMOOTH_EXPONENT = 6
#: Running stances are short: their correction rows weigh RUN_STANCE_GAIN times more.
RUN_STANCE_GAIN = 25.0
#: Stride duration at which the correction smoothing and ramp have their nominal values.
REFERENCE_STRIDE_S = 1.2
#: Trunk tilt: weight of the flight rows (per (N·m)², angular momentum kept) and of the
#: nominal tilt prior (per rad²).
FLIGHT_MOMENT_WEIGHT = 1.0
TILT_PRIOR_WEIGHT = 1.0e3
#: A swing foot deeper than LAND_DEPTH_M below the ground within LAND_WINDOW (fraction
#: of the stride) before its touchdown lands there instead (:func:`land_early`).
LAND_DEPTH_M = 0.002
LAND_WINDOW = 0.12
#: Final hip-x pass (:func:`_pin_feet`): weight of the loaded feet's sliding rows, per
#: (m/s)² at full load, walking and running (geometric blend in between). Walking keeps
#: it lower: in double support the two feet cannot both be pinned, and the braking and
#: propulsive forces of the reference would suffer.
PIN_SLIDE_WEIGHT_WALK = 3e3
PIN_SLIDE_WEIGHT_RUN = 1e4
#: Clearance a swing foot is given when its pattern would dip below the ground, m.
SWING_CLEARANCE_M = 0.005
CLEARANCE_ITERATIONS = 6
#: A stance foot may sink this far into the ground before the hip is raised (in
#: SINK_ITERATIONS passes, the lift smoothed over SINK_SMOOTHING_S), m.
SINK_TOLERANCE_M = 0.003
SINK_ITERATIONS = 2
SINK_SMOOTHING_S = 0.01
#: Outer iterations of hip <-> stance IK, and how many of the first ones re-decide the
#: kinematic stance (all but the last when there is flight: the trunk tilt moves the hip).
IK_ITERATIONS = 3
TRIM_ITERATIONS = 1


@dataclass(frozen=True)
class Trajectory:
    """Coordinate splines of one recording.

    Attributes:
        grid: the knot grid.
        coef: (n_coef, 9) spline coefficients of q (``COORDINATES`` order).
        ik_deficit_m: (n, 2) per row sample and leg, how far the stance leg could not
            reach the ground in the last iteration (m).
        stance: (n, 2) bool, the kinematic stance per row sample and leg.
    """

    grid: UniformSpline
    coef: np.ndarray
    ik_deficit_m: np.ndarray
    stance: np.ndarray

    def state(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """q (m, rad), q̇, q̈ at times ``t`` (s), each (len(t), 9)."""
        return tuple(self.grid.evaluate(self.coef, t, nu) for nu in range(3))  # type: ignore[return-value]


def fit_samples(
    grid: UniformSpline, t: np.ndarray, values: np.ndarray, smooth_weight: float = 1e-14
) -> np.ndarray:
    """Coefficients (n_coef, ...) of a near-interpolating spline through (t, values)."""
    b = grid.basis(t)
    flat = values.reshape(t.shape[0], -1)
    coef = solve(grid, [Rows(b, flat, np.ones(t.shape[0]))], smooth_weight=smooth_weight)
    return coef.reshape((grid.n_coef, *values.shape[1:]))


@dataclass(frozen=True)
class PatternContact:
    """Where the pattern's stance feet are, relative to the hip (from the pattern angles).

    Attributes:
        pivot_x, pivot_y: (n, 2) pivot point (heel-to-toe by foot angle) per leg, m.
        pivot_vx: (n, 2) horizontal velocity of the pivot's material point, m/s.
        load: (n, 2) weight of each leg's sliding rows (load share while in stance).
        height_weight: (n, 2) weight of each leg's pivot-height rows, 1/m².
    """

    pivot_x: np.ndarray
    pivot_y: np.ndarray
    pivot_vx: np.ndarray
    load: np.ndarray
    height_weight: np.ndarray


def knee_sensitivity(body: Body, knee: np.ndarray) -> np.ndarray:
    """|d(hip-ankle distance)/d(knee angle)| (m/rad) at knee angles ``knee`` (rad): small
    for a straight knee, so a height mismatch there costs a large knee correction."""
    l1, l2 = body.thigh_m, body.shank_m
    length = np.sqrt(l1 * l1 + l2 * l2 + 2 * l1 * l2 * np.cos(knee))
    return l1 * l2 * np.abs(np.sin(knee)) / length


def pattern_contact(
    kin: Kinematics, targets: GaitTargets, stance: np.ndarray, body: Body
) -> PatternContact:
    """Pivot kinematics of the pattern (hip at the origin) and the contact weights of
    the feet in ``stance`` (n, 2).

    The height rows are weighted by ``1 / (sensitivity² + s0²)`` so that the least-squares
    hip trades pivot-height errors against the knee correction the IK will need
    (``KNEE_TOLERANCE_RAD`` per unit of COM acceleration error)."""
    cp, cv = kin.contact_pos.numpy(), kin.contact_vel.numpy()
    w = toe_share(kin.angle.numpy()[:, [3, 6]])

    def pick(a: np.ndarray, k: int) -> np.ndarray:
        heel, toe = a[:, 0::2, k], a[:, 1::2, k]
        return (1 - w) * heel + w * toe

    fy = np.clip(targets.grf_bw[:, :, 1], 0.0, None)
    share = fy / np.maximum(fy.sum(axis=1, keepdims=True), 0.05)
    load = np.where(stance, np.clip(share, 0.1, 1.0), 0.0)
    sens = knee_sensitivity(body, kin.angle.numpy()[:, [2, 5]] - kin.angle.numpy()[:, [1, 4]])
    height_w = np.where(stance, 1.0, 0.0) / (
        KNEE_TOLERANCE_RAD**2 * (sens**2 + SENSITIVITY_FLOOR_M**2)
    )
    # The edges of a stance are where the foot must meet the ground on time.
    edge = np.zeros(stance.shape)
    for j in (0, 1):
        run_id, n_runs = stance_runs(stance[:, j])
        for r in range(n_runs):
            idx = np.flatnonzero(run_id == r)
            k = max(1, int(EDGE_FRACTION * idx.size))
            edge[idx[:k], j] = 1.0
            edge[idx[-k:], j] = 1.0
    running = (targets.program.run_blend >= 0.5)[:, None]
    height_w = height_w * (1.0 + (EDGE_HEIGHT_GAIN - 1.0) * edge * running)
    return PatternContact(pick(cp, 0), pick(cp, 1), pick(cv, 0), load, height_w)


def kinematic_stance(
    stance: np.ndarray,
    ik_knee: np.ndarray,
    pattern_knee: np.ndarray,
    deficit: np.ndarray,
    budget_rad: float = np.radians(30.0),
    touchdown_budget_rad: float = np.radians(6.0),
    pivot_height: np.ndarray | None = None,
    max_early_s: float = 0.1,
    dt: float = 0.005,
) -> np.ndarray:
    """(n, 2) stance trimmed to where the IK can keep the foot on the ground without
    straightening the knee more than ``budget_rad`` beyond the pattern.

    The reference GRF keeps a foot loaded a little longer than the planar model's foot can
    stay on the ground (its toe point is the metatarsal heads; there is no toe segment),
    and a heel may touch down slightly after the force onset. Within each stance interval
    infeasible samples are trimmed from either end (up to the first feasible one); at
    touchdown the foot must arrive on its own (``touchdown_budget_rad``),
    at push-off the knee may straighten more (``budget_rad``). If the pattern's pivot
    (``pivot_height``, m above the ground with the current hip) is already below the
    ground before the force onset, the stance starts that much earlier (at most
    ``max_early_s``) while it is more than ``EARLY_CONTACT_DEPTH_M`` deep: the foot
    lands where it meets the ground. Arrays (n, 2):
    ``ik_knee``, ``pattern_knee`` rad, ``deficit`` m; ``dt`` is the sample period, s.
    """
    out = stance.copy()
    extension = ik_knee - pattern_knee
    bad = (extension > budget_rad) | (deficit > 1e-4)
    bad_head = (extension > touchdown_budget_rad) | (deficit > 1e-4)
    for j in (0, 1):
        run_id, n_runs = stance_runs(stance[:, j])
        for r in range(n_runs):
            idx = np.flatnonzero(run_id == r)
            half = idx.size // 2
            head, tail = idx[:half], idx[half:]
            # Trim only edge blocks: up to the first good sample from the touchdown side,
            # from the last good sample on the push-off side.
            good_head = np.flatnonzero(~bad_head[head, j])
            cut_head = good_head[0] if good_head.size else head.size
            hb = head[:cut_head]
            if hb.size:
                out[hb, j] = False
            good_tail = np.flatnonzero(~bad[tail, j])
            cut_tail = good_tail[-1] + 1 if good_tail.size else 0
            if cut_tail < tail.size:
                out[tail[cut_tail:], j] = False
            if pivot_height is not None and not hb.size:
                start = idx[0]
                early = 0
                limit = int(max_early_s / dt)
                while (
                    early < limit
                    and start - early - 1 >= 0
                    and not stance[start - early - 1, j]
                    and pivot_height[start - early - 1, j] < -EARLY_CONTACT_DEPTH_M
                ):
                    early += 1
                out[start - early : start, j] = True
    return out


def _solve_hip(
    grid: UniformSpline,
    targets: GaitTargets,
    body: Body,
    contact: PatternContact,
    com_rel: tuple[np.ndarray, np.ndarray, np.ndarray],
    slide_weight: float | np.ndarray = SLIDE_WEIGHT,
    axes: tuple[int, ...] = (0, 1),
) -> np.ndarray:
    """(n_coef, len(axes)) hip spline (x, y; or the ``axes`` asked for) balancing the
    pattern's foot contact (stance pivots at y = 0, not sliding; sliding rows weigh
    ``slide_weight`` (scalar or (n,)) × load) against COM accelerations from the reference GRF;
    ballistic in the reference flight. ``com_rel``: COM position, velocity, acceleration
    relative to the hip, each (n, 2)."""
    t = targets.time_s
    g = body.gravity
    grf = targets.grf_bw
    prog = targets.program
    pos_rel, _, acc_rel = com_rel
    b0, b1, b2 = grid.basis(t, 0), grid.basis(t, 1), grid.basis(t, 2)
    flight = targets.flight > 0.5
    acc_w = ACC_WEIGHT * (1.0 + 9.0 * targets.flight)
    # The reference forces only shape the accelerations within strides: their local mean
    # (over ~1 s) is removed, and the programmed speed change is added back.
    dt = float(t[1] - t[0])
    out = []
    if 0 in axes:
        fx = grf[:, :, 0].sum(axis=1)
        fx = fx - gaussian_filter1d(fx, 1.0 / dt, mode="nearest")
        ax = np.where(flight, 0.0, g * fx + prog.accel_m_s2) - acc_rel[:, 0]
        # Position anchor to the programmed distance: the mean speed is the program's.
        distance = np.concatenate(
            [[0.0], np.cumsum(0.5 * (prog.speed_m_s[1:] + prog.speed_m_s[:-1]) * np.diff(t))]
        )
        anchor_w = SPEED_ANCHOR_RAD_S**2 * slide_weight * np.ones(t.shape[0])
        rows_x = [
            Rows(b2, ax, acc_w),
            Rows(b0, distance - pos_rel[:, 0] + pos_rel[0, 0], anchor_w),
        ]
        for j in (0, 1):
            rows_x.append(Rows(b1, -contact.pivot_vx[:, j], slide_weight * contact.load[:, j]))
        out.append(solve(grid, rows_x, smooth_weight=1e-8))
    if 1 in axes:
        fy = grf[:, :, 1].sum(axis=1)
        fy = fy - gaussian_filter1d(fy, 1.0 / dt, mode="nearest")
        ay = np.where(flight, -g, g * fy) - acc_rel[:, 1]
        rows_y = [Rows(b2, ay, acc_w)]
        for j in (0, 1):
            rows_y.append(Rows(b0, -contact.pivot_y[:, j], contact.height_weight[:, j]))
        out.append(solve(grid, rows_y, smooth_weight=1e-8))
    return np.stack(out, axis=1)


def _relative(body: Body, grid: UniformSpline, t: np.ndarray, rel_coef: np.ndarray):
    """Kinematics with the hip held at the origin: (kin, (COM pos, vel, acc) each (n, 2))."""
    q, qd, qdd = (grid.evaluate(rel_coef, t, nu) for nu in range(3))
    kin = kinematics(body, q, qd, qdd)
    return kin, centre_of_mass(body, kin)


def _distance_to(mask: np.ndarray, dt: float) -> np.ndarray:
    """(n,) time (s) from each sample to the nearest True sample of ``mask`` (inf if none)."""
    n = mask.shape[0]
    idx = np.arange(n, dtype=np.float64)
    last = np.where(mask, idx, -np.inf)
    last = np.maximum.accumulate(last)
    nxt = np.where(mask, idx, np.inf)
    nxt = np.minimum.accumulate(nxt[::-1])[::-1]
    return np.minimum(idx - last, nxt - idx) * dt


def _correction_coef(
    grid: UniformSpline,
    t: np.ndarray,
    delta: np.ndarray,
    stance: np.ndarray,
    stride_s: np.ndarray,
    run_blend: np.ndarray,
) -> np.ndarray:
    """(n_coef,) spline of a joint-angle correction: ``delta`` (rad) on stance samples,
    smoothly blended to zero in swing. Smoothing and the swing ramp scale with the local
    stride duration ``stride_s`` (n,) s, so a short running stance is followed as closely
    as a walking one."""
    b = grid.basis(t)
    target = np.where(stance, np.nan_to_num(delta), 0.0)
    rel = np.clip(stride_s / REFERENCE_STRIDE_S, 0.3, 2.0)
    # Swing rows fade in with the distance from the stance, so the spline can follow the
    # IK up to the stance edges and relax over the next SWING_RAMP_S (per stride).
    ramp = np.clip(_distance_to(stance, float(t[1] - t[0])) / (SWING_RAMP_S * rel), 0.0, 1.0)
    stance_w = STANCE_CORRECTION_WEIGHT * (RUN_STANCE_GAIN ** np.clip(run_blend, 0.0, 1.0))
    weight = np.where(stance, stance_w, SWING_CORRECTION_WEIGHT * ramp**2)
    smooth = CORRECTION_SMOOTHING * np.interp(grid.difference_times(3), t, rel) ** SMOOTH_EXPONENT
    return solve(grid, [Rows(b, target, weight)], smooth_order=3, smooth_weight=smooth)


def _solve_tilt(
    grid: UniformSpline, targets: GaitTargets, body: Body, legs_coef: np.ndarray
) -> np.ndarray:
    """(n_coef,) trunk-tilt spline: the nominal tilt, except in flight, where the trunk
    turns so that the whole-body angular momentum about the CoM stays constant
    (``d/dt (I θ̇ + h) = 0``, see :func:`.body.angular_momentum_terms`): with no arms, the
    trunk alone balances the legs' swing."""
    t = targets.time_s
    rel = np.zeros((grid.n_coef, 9))
    rel[:, 3:] = legs_coef
    q, qd, qdd = (grid.evaluate(rel, t, nu) for nu in range(3))
    inertia, inertia_rate, _, h_rate = angular_momentum_terms(body, kinematics(body, q, qd, qdd))
    b0 = grid.basis(t, 0)
    dyn = grid.basis(t, 2).multiply(inertia[:, None]) + grid.basis(t, 1).multiply(
        inertia_rate[:, None]
    )
    return solve(
        grid,
        [
            Rows(sp.csr_matrix(dyn), -h_rate, FLIGHT_MOMENT_WEIGHT * targets.flight),
            Rows(b0, targets.tilt, TILT_PRIOR_WEIGHT * np.ones(t.shape[0])),
        ],
        smooth_weight=1e-6,
    )


def build_trajectory(body: Body, targets: GaitTargets) -> Trajectory:
    """Coordinate splines for ``targets`` (see module docstring)."""
    t = targets.time_s
    n = t.shape[0]
    grid = UniformSpline.covering(float(t[0]), float(t[-1]), KNOT_SPACING_S)
    tilt_coef = fit_samples(grid, t, targets.tilt)
    pattern_coef = fit_samples(grid, t, targets.angles, smooth_weight=PATTERN_SMOOTHING)
    pattern_angles = grid.evaluate(pattern_coef, t)
    has_flight = bool(targets.flight.max() > 0.5)
    stride = 1.0 / np.maximum(np.gradient(targets.phase, t), 0.2)
    legs = pattern_coef
    stance = targets.stance.copy()
    deficit = np.zeros((n, 2))
    ik_knee = np.zeros((n, 2))
    coef = np.zeros((grid.n_coef, 9))
    # A running foot lands no farther ahead than the leg reaches with the knee at most
    # the touchdown budget straighter than the pattern's (a walking foot lands where the
    # pattern puts it).
    running = (targets.program.run_blend >= 0.5)[:, None]
    touchdown_reach = np.where(
        running,
        leg_length(
            body,
            np.minimum(
                pattern_angles[:, [1, 4]] + TOUCHDOWN_BUDGET_RAD,
                -MIN_KNEE_FLEXION_RAD - np.radians(1.0),
            ),
        ),
        np.inf,
    )
    n_iter = IK_ITERATIONS + 1 + (1 if has_flight else 0)
    for it in range(n_iter):
        if has_flight:
            tilt_coef = _solve_tilt(grid, targets, body, legs)
        tilt = grid.evaluate(tilt_coef, t)
        pattern = np.zeros((grid.n_coef, 9))
        pattern[:, 2] = tilt_coef
        pattern[:, 3:] = pattern_coef
        kin, _ = _relative(body, grid, t, pattern)
        current = pattern.copy()
        current[:, 3:] = legs
        _, com_rel = _relative(body, grid, t, current)
        # the stance foot lies flat in mid-stance (the IK keeps this angle)
        foot_angle = flat_foot(kin.angle.numpy()[:, [3, 6]])
        contact = pattern_contact(kin, targets, stance, body)
        hip_coef = _solve_hip(grid, targets, body, contact, com_rel)
        hip = grid.evaluate(hip_coef, t)
        if it < TRIM_ITERATIONS + (IK_ITERATIONS if has_flight else 0):
            # Decide the kinematic stance from the IK over the whole reference stance.
            for j in (0, 1):
                sol = solve_stance_leg(
                    body,
                    hip,
                    tilt,
                    foot_angle[:, j],
                    contact.pivot_x[:, j],
                    targets.stance[:, j],
                    touchdown_reach[:, j],
                )
                deficit[:, j] = sol.deficit_m
                ik_knee[:, j] = sol.angles[:, 1]
            stance = kinematic_stance(
                targets.stance,
                ik_knee,
                pattern_angles[:, [1, 4]],
                deficit,
                KNEE_BUDGET_RAD,
                TOUCHDOWN_BUDGET_RAD,
                pivot_height=hip[:, 1:2] + contact.pivot_y,
                dt=float(t[1] - t[0]),
            )
            # Standing (and the slow steps around it): both feet stay planted.
            still = targets.program.amplitude < 0.5
            stance[still] = targets.stance[still]
        legs = pattern_coef.copy()
        for j in (0, 1):
            sol = solve_stance_leg(
                body,
                hip,
                tilt,
                foot_angle[:, j],
                contact.pivot_x[:, j],
                stance[:, j],
                touchdown_reach[:, j],
            )
            deficit[:, j] = sol.deficit_m
            delta = sol.angles - pattern_angles[:, 3 * j : 3 * j + 3]
            for k in range(3):
                legs[:, 3 * j + k] += _correction_coef(
                    grid, t, delta[:, k], stance[:, j], stride, targets.program.run_blend
                )
        if it < n_iter - 1:
            current = np.concatenate([hip_coef, tilt_coef[:, None], legs], axis=1)
            stance = land_early(body, grid, t, current, stance, stride)
    coef[:, :2] = hip_coef
    coef[:, 2] = tilt_coef
    coef[:, 3:] = legs
    coef = _swing_clearance(body, grid, t, coef, stance)
    coef[:, 0] = _pin_feet(grid, targets, body, coef, stance)
    coef = _lift_sinking_feet(body, grid, t, coef, stance)
    return Trajectory(grid, coef, deficit, stance)


def _pin_feet(
    grid: UniformSpline,
    targets: GaitTargets,
    body: Body,
    coef: np.ndarray,
    stance: np.ndarray,
) -> np.ndarray:
    """(n_coef,) hip-x spline for the final joint angles of ``coef`` (n_coef, 9): the
    least squares of :func:`_solve_hip` with the contact rows of the actual legs (not
    the pattern), the load shared by the feet actually in ``stance`` (n, 2), and
    ``PIN_SLIDE_WEIGHT``: a loaded foot does not slide, whatever the smoothing of the
    joint angles left (in single support exactly; in double support as a compromise).
    Contact heights do not depend on hip x."""
    t = targets.time_s
    rel = coef.copy()
    rel[:, :2] = 0.0
    kin, com_rel = _relative(body, grid, t, rel)
    contact = pattern_contact(kin, targets, stance, body)
    fy = (np.clip(targets.grf_bw[:, :, 1], 0.0, None) + 1e-3) * stance
    load = fy / np.maximum(fy.sum(axis=1, keepdims=True), 1e-9)
    contact = PatternContact(
        contact.pivot_x, contact.pivot_y, contact.pivot_vx, load, contact.height_weight
    )
    blend = np.clip(targets.program.run_blend, 0.0, 1.0)
    weight = PIN_SLIDE_WEIGHT_WALK * (PIN_SLIDE_WEIGHT_RUN / PIN_SLIDE_WEIGHT_WALK) ** blend
    return _solve_hip(grid, targets, body, contact, com_rel, slide_weight=weight, axes=(0,))[:, 0]


def foot_heights(body: Body, q: np.ndarray) -> np.ndarray:
    """(n, 2) height (m) of the lowest contact point of each foot (right, left) for
    coordinates ``q`` (n, 9)."""
    zero = np.zeros_like(q)
    low = kinematics(body, q, zero, zero).contact_pos.numpy()[..., 1]
    return np.stack([low[:, 0:2].min(axis=1), low[:, 2:4].min(axis=1)], axis=1)


def land_early(
    body: Body,
    grid: UniformSpline,
    t: np.ndarray,
    coef: np.ndarray,
    stance: np.ndarray,
    stride_s: np.ndarray,
) -> np.ndarray:
    """(n, 2) ``stance`` (n, 2) started earlier wherever the swing foot of the motion
    ``coef`` (n_coef, 9) meets the ground (lowest point more than ``LAND_DEPTH_M`` below)
    in the last ``LAND_WINDOW`` of the stride (``stride_s`` (n,) s) before a touchdown:
    the foot lands where it reaches the ground instead of sinking into it."""
    feet = foot_heights(body, grid.evaluate(coef, t))
    dt = float(t[1] - t[0])
    out = stance.copy()
    for j in (0, 1):
        foot = feet[:, j]
        starts = np.flatnonzero(stance[1:, j] & ~stance[:-1, j]) + 1
        for s0 in starts:
            window = int(LAND_WINDOW * stride_s[s0] / dt)
            lo = s0 - 1
            while lo > 0 and s0 - lo < window and not stance[lo - 1, j]:
                lo -= 1
            deep = np.flatnonzero(foot[lo:s0] < -LAND_DEPTH_M)
            if deep.size:
                out[lo + deep[0] : s0, j] = True
    return out


def _lift_sinking_feet(
    body: Body, grid: UniformSpline, t: np.ndarray, coef: np.ndarray, stance: np.ndarray
) -> np.ndarray:
    """Raise the hip (``coef`` (n_coef, 9), column pelvis_ty) smoothly wherever a foot in
    ``stance`` (n, 2) sinks more than ``SINK_TOLERANCE_M`` into the ground (the joint
    angle splines follow the stance IK only approximately)."""
    dt = float(t[1] - t[0])
    for _ in range(SINK_ITERATIONS):
        foot = foot_heights(body, grid.evaluate(coef, t))
        sink = np.where(stance, np.clip(-foot - SINK_TOLERANCE_M, 0.0, None), 0.0).max(axis=1)
        if sink.max() <= 0.0:
            break
        sigma = SINK_SMOOTHING_S / dt
        lift = gaussian_filter1d(maximum_filter1d(sink, int(4 * sigma) + 1), sigma)
        coef[:, 1] += fit_samples(grid, t, lift)
    return coef


def _swing_clearance(
    body: Body, grid: UniformSpline, t: np.ndarray, coef: np.ndarray, stance: np.ndarray
) -> np.ndarray:
    """Flex the knee of a swing leg wherever its foot would dip below the ground (a scaled
    pattern in gait initiation or termination can scuff): a smooth extra knee flexion,
    from the numerical sensitivity of the foot's lowest point, until it clears by
    ``SWING_CLEARANCE_M``."""
    dt = float(t[1] - t[0])
    for _ in range(CLEARANCE_ITERATIONS):
        q = grid.evaluate(coef, t)
        bent = q.copy()
        bent[:, [4, 7]] -= 0.05
        feet, feet_bent = foot_heights(body, q), foot_heights(body, bent)
        changed = False
        for j in (0, 1):
            foot, foot_bent = feet[:, j], feet_bent[:, j]
            below = np.where(~stance[:, j], np.clip(-foot, 0.0, None), 0.0)
            if below.max() < 1e-3:
                continue
            gain = np.clip((foot_bent - foot) / 0.05, 0.05, None)  # m per rad of flexion
            extra = np.where(below > 0, below + SWING_CLEARANCE_M, 0.0) / gain
            extra = gaussian_filter1d(maximum_filter1d(extra, int(0.06 / dt) + 1), 0.02 / dt)
            coef[:, 4 + 3 * j] -= fit_samples(grid, t, extra)
            changed = True
        if not changed:
            break
    return coef
