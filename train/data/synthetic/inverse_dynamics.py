"""Inverse dynamics: contact forces and net joint moments that make the motion exact.

The Kane residual of the planar model is linear in the joint moments and the contact
forces. With both set to zero, its three pelvis rows give the external force and moment
(about the hip) the motion needs; the contact forces supply them:

    Σ_p Fx_p = R_x,   Σ_p Fy_p = R_y,   Σ_p (dx_p Fy_p − dy_p Fx_p) = R_tilt,

with ``d_p`` the contact point relative to the hip. The total is shared between the feet
in the proportion of the reference GRF (a foot that is off the ground gets nothing), which
adds four rows (each foot's Fx and Fy); the moment row then sets the centre of pressure
within the feet. Of the solutions, the one with the least weighted norm ``Σ_p |F_p|² / a_p``
is taken, where the availability ``a_p`` of a point is large when it is on the ground and
is the foot's current pivot (heel early in stance, toe late). The six joint rows of the
residual with these forces give the net joint moments, so the residual is zero up to
rounding (checked by :func:`residual`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from train.data.synthetic.body import Body
from train.data.synthetic.leg_ik import toe_share
from train.physics import Kinematics, kane_residual

#: Contact points farther above the ground than this (m) get little force.
PROXIMITY_M = 0.005
#: Availability floor (relative), keeps the least-norm problem regular.
AVAILABILITY_FLOOR = 1e-6


@dataclass(frozen=True)
class Dynamics:
    """Inverse-dynamics result, n samples.

    Attributes:
        contact_forces: (n, 4, 2) ground-on-foot forces at heel_r, toe_r, heel_l, toe_l,
            ground frame (x forward, y up), N.
        moments: (n, 6) net joint moments (``JOINTS`` order), N·m.
        grf_bw: (n, 2, 2) ground reaction force per foot (right, left) × (x, y), BW.
    """

    contact_forces: np.ndarray
    moments: np.ndarray
    grf_bw: np.ndarray


def availability(kin: Kinematics) -> tuple[np.ndarray, np.ndarray]:
    """Availability (n, 4) of each contact point and ground proximity (n, 2) of each foot.

    A point's availability is its pivot share (heel early, toe late) times its proximity
    to the ground ``exp(-(y / 5 mm)²)``; a foot's proximity is that of its lower point.
    """
    height = kin.contact_pos.numpy()[..., 1]  # (n, 4)
    w = toe_share(kin.angle.numpy()[:, [3, 6]])  # (n, 2)
    share = np.stack([1 - w[:, 0], w[:, 0], 1 - w[:, 1], w[:, 1]], axis=1)
    near = np.exp(-((np.clip(height, 0.0, None) / PROXIMITY_M) ** 2))
    foot_near = np.maximum(near[:, 0::2], near[:, 1::2])
    return (0.05 + share) * (near + AVAILABILITY_FLOOR), foot_near


def solve(body: Body, kin: Kinematics, foot_load: np.ndarray) -> Dynamics:
    """Contact forces and joint moments for the motion in ``kin`` (see module doc).

    Args:
        body: the body.
        kin: kinematics of the motion (n samples).
        foot_load: (n, 2) reference share of the load of each foot (right, left), ≥ 0.
    """
    n = kin.angle.shape[0]
    dtype = tf.float64
    zeros_m = tf.zeros((n, 6), dtype)
    zeros_f = tf.zeros((n, 4, 2), dtype)
    base = kane_residual(None, None, None, zeros_m, zeros_f, body.params, kin=kin).numpy()
    rel = kin.contact_pos.numpy() - kin.hip_pos.numpy()[:, None, :]  # (n, 4, 2)
    avail, foot_near = availability(kin)
    share = np.clip(foot_load, 0.0, None) * foot_near + AVAILABILITY_FLOOR
    share = share / share.sum(axis=1, keepdims=True)  # (n, 2)
    # f = [Fx heel_r, toe_r, heel_l, toe_l, Fy heel_r, ...]; rows: Fx_r, Fx_l, Fy_r, Fy_l,
    # moment about the hip.
    a_mat = np.zeros((n, 5, 8))
    a_mat[:, 0, 0:2] = 1.0
    a_mat[:, 1, 2:4] = 1.0
    a_mat[:, 2, 4:6] = 1.0
    a_mat[:, 3, 6:8] = 1.0
    a_mat[:, 4, :4] = -rel[..., 1]
    a_mat[:, 4, 4:] = rel[..., 0]
    rhs = np.stack(
        [
            share[:, 0] * base[:, 0],
            share[:, 1] * base[:, 0],
            share[:, 0] * base[:, 1],
            share[:, 1] * base[:, 1],
            base[:, 2],
        ],
        axis=1,
    )
    wv = np.concatenate([avail, avail], axis=1)  # (n, 8)
    awa = np.einsum("nik,nk,njk->nij", a_mat, wv, a_mat)
    lam = np.linalg.solve(awa, rhs[..., None])[..., 0]
    f = wv * np.einsum("nik,ni->nk", a_mat, lam)
    forces = np.stack([f[:, :4], f[:, 4:]], axis=-1)  # (n, 4, 2)
    with_forces = kane_residual(
        None, None, None, zeros_m, tf.constant(forces, dtype), body.params, kin=kin
    ).numpy()
    moments = with_forces[:, 3:]
    grf = np.stack([forces[:, 0] + forces[:, 1], forces[:, 2] + forces[:, 3]], axis=1)
    return Dynamics(forces, moments, grf / body.body_weight_n)


def residual(body: Body, kin: Kinematics, dyn: Dynamics) -> np.ndarray:
    """(n, 9) Kane residual (N, N·m) of the motion with the inverse-dynamics moments and
    contact forces; zero up to rounding."""
    return kane_residual(
        None,
        None,
        None,
        tf.constant(dyn.moments, tf.float64),
        tf.constant(dyn.contact_forces, tf.float64),
        body.params,
        kin=kin,
    ).numpy()
