"""Forward kinematics of the planar model: exact positions, velocities, accelerations.

Every point of the model is ``hip + sum_s R(theta_s) c_s`` (a sum over the segments of
its chain of constant local vectors), so with ``U = [cos theta, sin theta]`` (14 per
frame) all 18 model points (7 segment origins, 7 centres of mass, 4 contact points)
are ``hip + U @ W`` for one constant (14, 36) matrix ``W`` built from the body
parameters; velocities and accelerations use the exact time derivatives of ``U``:
``dU/dt = [-w sin, w cos]`` and ``d2U/dt2 = [-a sin - w² cos, a cos - w² sin]``.
No finite differences anywhere.

Frames: ground X forward, Y up; angles counter-clockwise (+) about Z; a segment frame
has x anterior and y towards proximal at q = 0 (docs/physics.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from train.physics.constants import (
    CONTACT_POINTS,
    CONTACT_SEGMENT,
    JOINT_CENTRE_SEGMENT,
    JOINT_CENTRES,
    N_CONTACTS,
    N_COORDINATES,
    N_SEGMENTS,
    SEGMENT_PARENT,
    SEGMENTS,
    angle_chain_matrix,
    segment_index,
)
from train.physics.parameters import BodyParameters

#: Model points computed by :func:`forward_kinematics`, in packed order.
N_POINTS = 2 * N_SEGMENTS + N_CONTACTS  # 7 origins, 7 CoMs, 4 contact points
ORIGIN_SLICE = slice(0, N_SEGMENTS)
COM_SLICE = slice(N_SEGMENTS, 2 * N_SEGMENTS)
CONTACT_SLICE = slice(2 * N_SEGMENTS, N_POINTS)
_JOINT_CENTRE_INDEX = tuple(SEGMENTS.index(JOINT_CENTRE_SEGMENT[j]) for j in JOINT_CENTRES)


def _point_basis() -> np.ndarray:
    """(29, 14, 36) constant basis: W = params_vector @ basis (see module docstring).

    Parameter vector layout (29): segment_length (7), com x (7), com y (7), contact x (4),
    contact y (4).
    """
    n_par = 3 * N_SEGMENTS + 2 * N_CONTACTS
    cx = np.zeros((n_par, N_SEGMENTS, N_POINTS))  # local x of segment s's term for point p
    cy = np.zeros_like(cx)

    def add_origin_chain(point: int, segment: str) -> None:
        # origin(s) = origin(parent) + R_parent (0, -L_parent); the femur origin is the hip.
        parent = SEGMENT_PARENT[segment]
        while parent is not None and parent != "pelvis":
            cy[SEGMENTS.index(parent), SEGMENTS.index(parent), point] = -1.0
            parent = SEGMENT_PARENT[parent]

    for s, segment in enumerate(SEGMENTS):
        add_origin_chain(s, segment)
        add_origin_chain(N_SEGMENTS + s, segment)
        cx[N_SEGMENTS + s, s, N_SEGMENTS + s] = 1.0
        cy[2 * N_SEGMENTS + s, s, N_SEGMENTS + s] = 1.0
    for c, name in enumerate(CONTACT_POINTS):
        segment = CONTACT_SEGMENT[name]
        s = SEGMENTS.index(segment)
        point = 2 * N_SEGMENTS + c
        add_origin_chain(point, segment)
        cx[3 * N_SEGMENTS + c, s, point] = 1.0
        cy[3 * N_SEGMENTS + N_CONTACTS + c, s, point] = 1.0
    # x = cos*cx - sin*cy ; y = sin*cx + cos*cy ; U = [cos (7), sin (7)]
    w_x = np.concatenate([cx, -cy], axis=1)
    w_y = np.concatenate([cy, cx], axis=1)
    return np.concatenate([w_x, w_y], axis=2)


_POINT_BASIS = _point_basis()
_ANGLE_CHAIN = angle_chain_matrix()


def point_matrix(params: BodyParameters) -> tf.Tensor:
    """(P, 14, 36) matrix W with points-relative-to-hip = [cos theta, sin theta] @ W."""
    vec = tf.concat(
        [
            params.segment_length,
            params.segment_com[..., 0],
            params.segment_com[..., 1],
            params.contact_local[..., 0],
            params.contact_local[..., 1],
        ],
        axis=-1,
    )
    basis = tf.constant(_POINT_BASIS.reshape(_POINT_BASIS.shape[0], -1), params.dtype)
    w = tf.linalg.matmul(vec[..., None, :], basis)[..., 0, :]
    return tf.reshape(w, tf.concat([tf.shape(vec)[:-1], [2 * N_SEGMENTS, 2 * N_POINTS]], 0))


@dataclass(frozen=True, eq=False)
class Kinematics:
    """Result of :func:`forward_kinematics` (shapes with ``...`` = batch dims, T = time).

    Attributes:
        params: the body parameters, cast to the dtype of q.
        angle: (..., T, 7) absolute segment angles, rad, counter-clockwise from ground X.
        omega: (..., T, 7) absolute segment angular velocities, rad/s.
        alpha: (..., T, 7) absolute segment angular accelerations, rad/s².
        hip_pos, hip_vel, hip_acc: (..., T, 2) hip joint centre (= q[..., :2]) and its
            derivatives, ground frame, m, m/s, m/s².
        rel_pos, rel_vel, rel_acc: (..., T, 36) packed points relative to the hip:
            x of the 18 points (7 origins, 7 CoMs, 4 contacts), then their y.
            Use the properties below instead.
    """

    params: BodyParameters
    angle: tf.Tensor
    omega: tf.Tensor
    alpha: tf.Tensor
    hip_pos: tf.Tensor
    hip_vel: tf.Tensor
    hip_acc: tf.Tensor
    rel_pos: tf.Tensor
    rel_vel: tf.Tensor
    rel_acc: tf.Tensor

    def _stack(self, order: int, sl: slice, relative: bool = False) -> tf.Tensor:
        rel = (self.rel_pos, self.rel_vel, self.rel_acc)[order]
        hip = (self.hip_pos, self.hip_vel, self.hip_acc)[order]
        x = rel[..., sl]
        y = rel[..., N_POINTS + sl.start : N_POINTS + sl.stop]
        if not relative:
            x = x + hip[..., 0:1]
            y = y + hip[..., 1:2]
        return tf.stack([x, y], axis=-1)

    # Segment origins (proximal joints): hip, hip, knee_r, ankle_r, hip, knee_l, ankle_l.
    @property
    def origin_pos(self) -> tf.Tensor:
        """(..., T, 7, 2) segment origins (proximal joint centres), ground frame, m."""
        return self._stack(0, ORIGIN_SLICE)

    @property
    def origin_vel(self) -> tf.Tensor:
        """(..., T, 7, 2) m/s."""
        return self._stack(1, ORIGIN_SLICE)

    @property
    def origin_acc(self) -> tf.Tensor:
        """(..., T, 7, 2) m/s²."""
        return self._stack(2, ORIGIN_SLICE)

    @property
    def com_pos(self) -> tf.Tensor:
        """(..., T, 7, 2) segment centres of mass, ground frame, m."""
        return self._stack(0, COM_SLICE)

    @property
    def com_vel(self) -> tf.Tensor:
        """(..., T, 7, 2) m/s."""
        return self._stack(1, COM_SLICE)

    @property
    def com_acc(self) -> tf.Tensor:
        """(..., T, 7, 2) m/s²."""
        return self._stack(2, COM_SLICE)

    @property
    def contact_pos(self) -> tf.Tensor:
        """(..., T, 4, 2) foot-fixed contact points (``CONTACT_POINTS``), ground frame, m.
        y is the height above the ground (ground is Y = 0)."""
        return self._stack(0, CONTACT_SLICE)

    @property
    def contact_vel(self) -> tf.Tensor:
        """(..., T, 4, 2) m/s."""
        return self._stack(1, CONTACT_SLICE)

    @property
    def contact_acc(self) -> tf.Tensor:
        """(..., T, 4, 2) m/s²."""
        return self._stack(2, CONTACT_SLICE)

    def contact_vel_given_omega(self, omega: tf.Tensor) -> tf.Tensor:
        """(..., T, 4, 2) contact-point velocities (m/s, ground frame) with the segments'
        absolute angular velocities replaced by ``omega`` (..., T, 7), rad/s, in
        ``SEGMENTS`` order (e.g. measured by gyroscopes); positions and the pelvis
        velocity are this kinematics' own."""
        omega = tf.convert_to_tensor(omega, dtype=self.angle.dtype)
        ud = tf.concat([-omega * tf.sin(self.angle), omega * tf.cos(self.angle)], axis=-1)
        rel = tf.linalg.matmul(ud, point_matrix(self.params))
        sl = CONTACT_SLICE
        x = rel[..., sl] + self.hip_vel[..., 0:1]
        y = rel[..., N_POINTS + sl.start : N_POINTS + sl.stop] + self.hip_vel[..., 1:2]
        return tf.stack([x, y], axis=-1)

    def joint_centres(self, order: int = 0) -> tf.Tensor:
        """(..., T, 5, 2) hip, knee_r, ankle_r, knee_l, ankle_l (``JOINT_CENTRES``), ground
        frame: position (order 0, m), velocity (1, m/s) or acceleration (2, m/s²)."""
        return tf.gather(self._stack(order, ORIGIN_SLICE), _JOINT_CENTRE_INDEX, axis=-2)


def _as_state(
    q: tf.Tensor, qd: tf.Tensor, qdd: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    q = tf.convert_to_tensor(q)
    if q.dtype not in (tf.float32, tf.float64):
        q = tf.cast(q, tf.float32)
    qd = tf.convert_to_tensor(qd, dtype=q.dtype)
    qdd = tf.convert_to_tensor(qdd, dtype=q.dtype)
    if q.shape[-1] != N_COORDINATES:
        raise ValueError(f"q must have {N_COORDINATES} coordinates on its last axis, got {q.shape}")
    return q, qd, qdd


def forward_kinematics(
    q: tf.Tensor, qd: tf.Tensor, qdd: tf.Tensor, params: BodyParameters
) -> Kinematics:
    """Exact kinematics of all segments, joint centres, CoMs and contact points.

    Args:
        q: (..., T, 9) generalized coordinates (``COORDINATES``), m and rad.
        qd: (..., T, 9) their time derivatives, m/s and rad/s.
        qdd: (..., T, 9) second derivatives, m/s² and rad/s².
        params: body parameters; leading dims P (if any) broadcast with ``...``.

    Returns:
        :class:`Kinematics` in the dtype of q (float32 or float64).
    """
    q, qd, qdd = _as_state(q, qd, qdd)
    params = params.cast(q.dtype)
    chain = tf.constant(_ANGLE_CHAIN, q.dtype)
    angle = tf.linalg.matmul(q, chain)
    omega = tf.linalg.matmul(qd, chain)
    alpha = tf.linalg.matmul(qdd, chain)
    cos, sin = tf.cos(angle), tf.sin(angle)
    w2 = omega * omega
    u = tf.concat([cos, sin], axis=-1)
    ud = tf.concat([-omega * sin, omega * cos], axis=-1)
    udd = tf.concat([-alpha * sin - w2 * cos, alpha * cos - w2 * sin], axis=-1)
    w = point_matrix(params)  # (P, 14, 36): matmul broadcasts P against the batch dims
    return Kinematics(
        params=params,
        angle=angle,
        omega=omega,
        alpha=alpha,
        hip_pos=q[..., 0:2],
        hip_vel=qd[..., 0:2],
        hip_acc=qdd[..., 0:2],
        rel_pos=tf.linalg.matmul(u, w),
        rel_vel=tf.linalg.matmul(ud, w),
        rel_acc=tf.linalg.matmul(udd, w),
    )


def sensor_positions_over_time(positions: tf.Tensor, dtype: tf.DType) -> tf.Tensor:
    """Cast positions (S, 2) or (..., S, 2) and insert the time axis when batched."""
    positions = tf.convert_to_tensor(positions, dtype=dtype)
    if positions.shape.rank is None or positions.shape.rank < 2 or positions.shape[-1] != 2:
        raise ValueError(f"positions must be (S, 2) or (..., S, 2), got {positions.shape}")
    if positions.shape.rank > 2:
        positions = tf.expand_dims(positions, axis=-3)
    return positions


def point_kinematics(
    kin: Kinematics, segments: Sequence[str | int], local: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Position, velocity and acceleration of S points fixed on segments.

    Args:
        kin: result of :func:`forward_kinematics`.
        segments: S segment names (or indices) carrying the points.
        local: (S, 2) or (..., S, 2) point coordinates in the segment frame relative to
            the segment origin (proximal joint), m.

    Returns:
        pos (m), vel (m/s), acc (m/s²), each (..., T, S, 2) in the ground frame.
    """
    idx = [segment_index(s) for s in segments]
    local = sensor_positions_over_time(local, kin.angle.dtype)
    px, py = local[..., 0], local[..., 1]
    th = tf.gather(kin.angle, idx, axis=-1)
    om = tf.gather(kin.omega, idx, axis=-1)
    al = tf.gather(kin.alpha, idx, axis=-1)
    c, s = tf.cos(th), tf.sin(th)
    rx, ry = c * px - s * py, s * px + c * py  # R p
    out = []
    for order in range(3):
        origin = tf.gather(kin._stack(order, ORIGIN_SLICE), idx, axis=-2)
        if order == 0:
            dx, dy = rx, ry
        elif order == 1:
            dx, dy = -om * ry, om * rx
        else:
            dx, dy = -al * ry - om * om * rx, al * rx - om * om * ry
        out.append(origin + tf.stack([dx, dy], axis=-1))
    return out[0], out[1], out[2]
