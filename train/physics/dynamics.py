"""Equations-of-motion residual of the planar model (Kane's method), batched.

For each generalized coordinate k the residual is "left side minus right side" of

    M(q) q̈ + c(q, q̇) − G(q) = τ + Σ_p J_pᵀ F_p + Q_drag,

evaluated with Kane's partial velocities: the translations pick the x / y sums of
``m (a_cm + g Ŷ)`` minus the external forces; a rotational coordinate rotates every
segment distal to its joint about the joint centre ``O_k``, so its residual is

    Σ_{s distal} [ (r_s − O_k) × m_s (a_s + g Ŷ) + I_s α_s ]
      − Σ_{p distal} (r_p − O_k) × F_p − (r_d − O_k) × F_drag − τ_k

(``×`` is the planar cross product a_x b_y − a_y b_x). The distal sums are one matmul
with a constant 0/1 matrix. Units: N for pelvis_tx / pelvis_ty, N·m for the rest.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from train.physics.constants import (
    CONTACT_POINTS,
    CONTACT_SEGMENT,
    N_JOINTS,
    N_SEGMENTS,
    SEGMENTS,
    angle_chain_matrix,
)
from train.physics.kinematics import (
    COM_SLICE,
    CONTACT_SLICE,
    N_POINTS,
    ORIGIN_SLICE,
    Kinematics,
    forward_kinematics,
)
from train.physics.parameters import BodyParameters, over_time

#: Smoothing speed (m/s) in |v| = sqrt(v·v + eps²) of the drag law (keeps its gradient
#: finite at v = 0; changes the force by at most c·eps·|v|, ~1e-7 N).
_DRAG_SPEED_EPS = 1e-6


def _distal_sum_matrix(with_drag: bool) -> np.ndarray:
    """(3 n, 23) constant: [fx (n), fy (n), moment (n)] of the n force-carrying bodies
    -> [Σ fx, Σ fy, distal Σ fx (7), distal Σ fy (7), distal Σ moment (7)].

    Bodies: the 7 segments, the 4 contact points (carried by their foot) and, with drag,
    the trunk CoM again. Column j of the distal blocks belongs to rotational coordinate
    ``COORDINATES[2 + j]`` whose joint is the origin of ``SEGMENTS[j]``.
    """
    body_segment = list(range(N_SEGMENTS)) + [
        SEGMENTS.index(CONTACT_SEGMENT[p]) for p in CONTACT_POINTS
    ]
    if with_drag:
        body_segment.append(SEGMENTS.index("pelvis"))
    n = len(body_segment)
    distal = angle_chain_matrix()[2:, body_segment].T  # (n, 7)
    g = np.zeros((3 * n, 2 + 3 * N_SEGMENTS))
    g[:n, 0] = 1.0
    g[n : 2 * n, 1] = 1.0
    g[:n, 2 : 2 + N_SEGMENTS] = distal
    g[n : 2 * n, 2 + N_SEGMENTS : 2 + 2 * N_SEGMENTS] = distal
    g[2 * n :, 2 + 2 * N_SEGMENTS :] = distal
    return g


_DISTAL = {False: _distal_sum_matrix(False), True: _distal_sum_matrix(True)}


def _drag_xy(kin: Kinematics) -> tuple[tf.Tensor, tf.Tensor]:
    vx = kin.rel_vel[..., COM_SLICE.start] + kin.hip_vel[..., 0]
    vy = kin.rel_vel[..., N_POINTS + COM_SLICE.start] + kin.hip_vel[..., 1]
    speed = tf.sqrt(vx * vx + vy * vy + _DRAG_SPEED_EPS**2)
    c = kin.params.air_drag_coefficient
    return -c * speed * vx, -c * speed * vy


def air_drag_force(kin: Kinematics) -> tf.Tensor:
    """(..., T, 2) air drag force on the trunk CoM, ground frame, N: ``-c |v| v`` with v
    the trunk CoM velocity (still air)."""
    fx, fy = _drag_xy(kin)
    return tf.stack([fx, fy], axis=-1)


def generalized_drag_force(kin: Kinematics) -> tf.Tensor:
    """(..., T, 9) generalized force of the air drag, N (translations) and N·m: the drag
    force on the trunk CoM projected with its Jacobian (only pelvis_tx, pelvis_ty and
    pelvis_tilt are non-zero). Same sign as the reference's ``drag_gen_force_*``."""
    fx, fy = _drag_xy(kin)
    dx = kin.rel_pos[..., COM_SLICE.start]
    dy = kin.rel_pos[..., N_POINTS + COM_SLICE.start]
    zeros = tf.zeros_like(fx)
    return tf.stack([fx, fy, dx * fy - dy * fx] + [zeros] * N_JOINTS, axis=-1)


def kane_residual(
    q: tf.Tensor,
    qd: tf.Tensor,
    qdd: tf.Tensor,
    moments: tf.Tensor,
    contact_forces: tf.Tensor,
    params: BodyParameters,
    *,
    contact_points: tf.Tensor | None = None,
    air_drag: bool = False,
    kin: Kinematics | None = None,
) -> tf.Tensor:
    """Generalized-force residual of the equations of motion ("left minus right").

    Args:
        q, qd, qdd: (..., T, 9) coordinates and their first and second time derivatives
            (m, rad; m/s, rad/s; m/s², rad/s²), order ``COORDINATES``.
        moments: (..., T, 6) net joint moments (muscle + passive), N·m, order ``JOINTS``;
            + acts in the + direction of its angle on the child segment (and - on the parent).
        contact_forces: (..., T, 4, 2) ground-on-foot forces at ``CONTACT_POINTS``, ground
            frame (x forward, y up), N.
        params: body parameters (cast to the dtype of q).
        contact_points: optional (..., T, 4, 2) ground-frame points (m) where the forces
            act; default: the foot-fixed contact points from the kinematics. (The
            reference stride applies them at its massless contact elements.)
        air_drag: include the drag ``-c |v| v`` on the trunk CoM.
        kin: precomputed :func:`forward_kinematics` of (q, qd, qdd), to share work;
            q, qd, qdd are then not used (may be None).

    Returns:
        (..., T, 9) residual, N for pelvis_tx / pelvis_ty and N·m for the rotations, in
        ``COORDINATES`` order: ``M q̈ + c − G − τ − Σ J_pᵀ F_p − Q_drag``. Zero when the
        motion, moments and forces are consistent; e.g. a body at rest with no support
        gives ``+M g`` on pelvis_ty, and 1 N·m more moment lowers its coordinate's by 1.
    """
    if kin is None:
        kin = forward_kinematics(q, qd, qdd, params)
    p = kin.params
    dtype = kin.angle.dtype
    moments = tf.convert_to_tensor(moments, dtype=dtype)
    contact_forces = tf.convert_to_tensor(contact_forces, dtype=dtype)
    mass = over_time(p.segment_mass, p.batch_rank, 1)
    inertia = over_time(p.segment_inertia, p.batch_rank, 1)
    y0 = N_POINTS
    hip_ax, hip_ay = kin.hip_acc[..., 0:1], kin.hip_acc[..., 1:2]

    # Segments: f = m (a + g Ŷ), moment about the hip = d × f + I α (d relative to the hip).
    fx = mass * (kin.rel_acc[..., COM_SLICE] + hip_ax)
    fy = mass * (kin.rel_acc[..., y0 + COM_SLICE.start : y0 + COM_SLICE.stop] + hip_ay + p.gravity)
    dx = kin.rel_pos[..., COM_SLICE]
    dy = kin.rel_pos[..., y0 + COM_SLICE.start : y0 + COM_SLICE.stop]
    mom = dx * fy - dy * fx + inertia * kin.alpha

    # Contact: the external force enters with a minus sign.
    if contact_points is None:
        cx = kin.rel_pos[..., CONTACT_SLICE]
        cy = kin.rel_pos[..., y0 + CONTACT_SLICE.start : y0 + CONTACT_SLICE.stop]
    else:
        contact_points = tf.convert_to_tensor(contact_points, dtype=dtype)
        cx = contact_points[..., 0] - kin.hip_pos[..., 0:1]
        cy = contact_points[..., 1] - kin.hip_pos[..., 1:2]
    ffx, ffy = -contact_forces[..., 0], -contact_forces[..., 1]
    parts_x, parts_y, parts_m = [fx, ffx], [fy, ffy], [mom, cx * ffy - cy * ffx]
    if air_drag:
        drag_x, drag_y = _drag_xy(kin)
        ddx, ddy = dx[..., 0], dy[..., 0]
        parts_x.append(-drag_x[..., None])
        parts_y.append(-drag_y[..., None])
        parts_m.append((-(ddx * drag_y - ddy * drag_x))[..., None])
    bodies = tf.concat(parts_x + parts_y + parts_m, axis=-1)
    sums = tf.linalg.matmul(bodies, tf.constant(_DISTAL[air_drag], dtype))

    n = N_SEGMENTS
    sfx, sfy, smom = sums[..., 2 : 2 + n], sums[..., 2 + n : 2 + 2 * n], sums[..., 2 + 2 * n :]
    ox = kin.rel_pos[..., ORIGIN_SLICE]
    oy = kin.rel_pos[..., y0 + ORIGIN_SLICE.start : y0 + ORIGIN_SLICE.stop]
    tau = tf.concat([tf.zeros_like(moments[..., :1]), moments], axis=-1)
    rot = smom - (ox * sfy - oy * sfx) - tau
    return tf.concat([sums[..., 0:2], rot], axis=-1)


def residual_scale(params: BodyParameters, dtype: tf.DType | None = None) -> tf.Tensor:
    """(P, 9) normalisers of the residual: BW (N) for the translations, BW·BH (N·m) for
    the rotations; broadcast over time by :func:`normalise_residual`."""
    p = params if dtype is None else params.cast(dtype)
    bw = p.body_weight[..., None]
    bwbh = p.body_weight_height[..., None]
    return tf.concat([tf.repeat(bw, 2, axis=-1), tf.repeat(bwbh, 7, axis=-1)], axis=-1)


def normalise_residual(residual: tf.Tensor, params: BodyParameters) -> tf.Tensor:
    """(..., T, 9) residual in BW (pelvis_tx, pelvis_ty) and BW·BH (rotations).

    Args:
        residual: (..., T, 9) output of :func:`kane_residual`, N and N·m.
        params: the body parameters used for it.
    """
    p = params.cast(residual.dtype)
    return residual / over_time(residual_scale(p), p.batch_rank, 1)
