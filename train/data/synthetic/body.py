"""The body model's numbers as NumPy, and its kinematics on NumPy trajectories.

Thin wrappers over :mod:`train.physics` (float64) so the generator can work with plain
arrays: (n, 9) coordinates and their exact derivatives in, NumPy arrays out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from train.physics import BodyParameters, Kinematics, forward_kinematics


@dataclass(frozen=True)
class Body:
    """One body (height, mass) and the numbers the generator needs.

    Attributes:
        height_m, mass_kg: body height (m) and mass (kg).
        params: float64 :class:`BodyParameters`.
        thigh_m, shank_m: segment lengths (hip-knee, knee-ankle), m.
        heel, toe: (2,) contact points in the foot frame relative to the ankle, m.
        segment_mass: (7,) kg.
        segment_inertia: (7,) moment of inertia about each segment's CoM, kg·m².
    """

    height_m: float
    mass_kg: float
    params: BodyParameters
    thigh_m: float
    shank_m: float
    heel: np.ndarray
    toe: np.ndarray
    segment_mass: np.ndarray
    segment_inertia: np.ndarray

    @classmethod
    def of(cls, height_m: float, mass_kg: float) -> Body:
        p = BodyParameters.from_height_mass(height_m, mass_kg, dtype=tf.float64)
        length = p.segment_length.numpy()
        contact = p.contact_local.numpy()
        return cls(
            height_m=float(height_m),
            mass_kg=float(mass_kg),
            params=p,
            thigh_m=float(length[1]),
            shank_m=float(length[2]),
            heel=contact[0].copy(),
            toe=contact[1].copy(),
            segment_mass=p.segment_mass.numpy().copy(),
            segment_inertia=p.segment_inertia.numpy().copy(),
        )

    @property
    def gravity(self) -> float:
        return float(self.params.gravity.numpy())

    @property
    def body_weight_n(self) -> float:
        return self.mass_kg * self.gravity

    @property
    def sole_m(self) -> float:
        """Heel-to-toe distance along the sole, m."""
        return float(self.toe[0] - self.heel[0])


def kinematics(body: Body, q: np.ndarray, qd: np.ndarray, qdd: np.ndarray) -> Kinematics:
    """Forward kinematics of (n, 9) trajectories (SI) in float64."""
    return forward_kinematics(
        tf.constant(q, tf.float64),
        tf.constant(qd, tf.float64),
        tf.constant(qdd, tf.float64),
        body.params,
    )


def centre_of_mass(body: Body, kin: Kinematics) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Whole-body centre of mass: position (m), velocity (m/s), acceleration (m/s²), each
    (n, 2) in the ground frame."""
    w = body.segment_mass / body.segment_mass.sum()
    return tuple(  # type: ignore[return-value]
        np.einsum("nsk,s->nk", x.numpy(), w) for x in (kin.com_pos, kin.com_vel, kin.com_acc)
    )


def angular_momentum_terms(body: Body, kin: Kinematics) -> tuple[np.ndarray, ...]:
    """Whole-body angular momentum about the CoM for kinematics with the trunk angle,
    rate and acceleration held at zero (so only the legs move relative to the trunk).

    Turning the whole body by the trunk angle does not change these terms, so the true
    angular momentum is ``H = I θ̇ + h`` with θ the trunk angle (pelvis_tilt).

    Returns:
        I (n,) kg·m², dI/dt (n,) kg·m²/s, h (n,) kg·m²/s, dh/dt (n,) N·m.
    """
    m = body.segment_mass
    com, vcom, acom = centre_of_mass(body, kin)
    r = kin.com_pos.numpy() - com[:, None, :]
    v = kin.com_vel.numpy() - vcom[:, None, :]
    a = kin.com_acc.numpy() - acom[:, None, :]
    inertia = body.segment_inertia.sum() + np.einsum("s,nsk,nsk->n", m, r, r)
    inertia_rate = 2.0 * np.einsum("s,nsk,nsk->n", m, r, v)
    cross_v = r[..., 0] * v[..., 1] - r[..., 1] * v[..., 0]
    cross_a = r[..., 0] * a[..., 1] - r[..., 1] * a[..., 0]
    h = kin.omega.numpy() @ body.segment_inertia + cross_v @ m
    h_rate = kin.alpha.numpy() @ body.segment_inertia + cross_a @ m
    return inertia, inertia_rate, h, h_rate
