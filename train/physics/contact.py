"""Ground contact: consistency penalties for predicted forces, the reference model's
contact equations, a smooth penalty model for synthetic data, and GRF per foot.

Training uses :func:`contact_consistency_terms`: the network predicts the four contact
forces and these smooth terms tie them to the foot kinematics (docs/physics.md says why).
Forces in this module are in body weights (BW) where the name says ``_bw``; positions in
m and velocities in m/s, ground frame (x forward, y up; ground is y = 0).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import tensorflow as tf

from train.physics.constants import CONTACT_POINTS, CONTACT_SEGMENT, FEET
from train.physics.passive import softpos


@dataclass(frozen=True)
class ReferenceContactParameters:
    """Constants of the reference (gait2dc) contact equations, with forces in BW.

    normal:   Fy + s·yc − sqrt(Fy² + (s·yc)² + λn) = 0
    friction: sqrt((μFy(g·ẋc − 1) − Fx)² + λf) − sqrt((μFy(g·ẋc + 1) − Fx)² + λf) − 2Fx = 0
    """

    height_gain: float = 200.0  # s, 1/m (BW per m of element height)
    normal_smoothing: float = 0.1  # λn, BW²
    friction_coefficient: float = 1.0  # μ
    velocity_gain: float = 10.0  # g, s/m
    friction_smoothing: float = 0.01  # λf, BW²

    @classmethod
    def from_sidecar(cls, meta: Mapping[str, Any]) -> ReferenceContactParameters:
        """Smoothing constants from a reference sidecar's ``contact_smoothing``."""
        sm = meta.get("contact_smoothing", {})
        return cls(
            normal_smoothing=float(sm.get("normal_lambda", cls.normal_smoothing)),
            friction_smoothing=float(sm.get("friction_lambda", cls.friction_smoothing)),
        )


def contact_equation_residual(
    contact_pos: tf.Tensor,
    contact_vel_x: tf.Tensor,
    forces_bw: tf.Tensor,
    params: ReferenceContactParameters | None = None,
) -> tf.Tensor:
    """Residual of the reference model's normal and friction equations, BW.

    Args:
        contact_pos: (..., T, 4, 2) contact element positions (x, y), ground frame, m.
        contact_vel_x: (..., T, 4) horizontal element velocities, m/s.
        forces_bw: (..., T, 4, 2) contact forces (Fx, Fy) on the feet, BW.
        params: the constants; default :class:`ReferenceContactParameters`.

    Returns:
        (..., T, 4, 2): [..., 0] normal-equation residual, [..., 1] friction residual (BW);
        ~0 on the reference stride.
    """
    p = params or ReferenceContactParameters()
    forces_bw = tf.convert_to_tensor(forces_bw)
    dtype = forces_bw.dtype
    yc = tf.convert_to_tensor(contact_pos, dtype=dtype)[..., 1]
    vx = tf.convert_to_tensor(contact_vel_x, dtype=dtype)
    fx, fy = forces_bw[..., 0], forces_bw[..., 1]
    sy = p.height_gain * yc
    normal = fy + sy - tf.sqrt(fy * fy + sy * sy + p.normal_smoothing)
    mfy = p.friction_coefficient * fy
    a = mfy * (p.velocity_gain * vx - 1.0) - fx
    b = mfy * (p.velocity_gain * vx + 1.0) - fx
    lam = p.friction_smoothing
    friction = tf.sqrt(a * a + lam) - tf.sqrt(b * b + lam) - 2.0 * fx
    return tf.stack([normal, friction], axis=-1)


@dataclass(frozen=True)
class ContactConsistencyParameters:
    """Scales of the training-time contact consistency terms (all terms dimensionless).

    Attributes:
        friction_coefficient: μ of the friction cone.
        height_scale: m; a point carrying 1 BW at this height costs 1 (force off ground).
        height_offset: m; heights below this count as "on the ground" (allows for foot
            model and sensor errors).
        velocity_scale: m/s; 1 BW sliding at this speed costs 1.
        smoothing_length: m; smoothing of max(·, 0) on heights.
        smoothing_velocity: m/s; smoothing of |vx|.
        smoothing_force: BW; smoothing of max(·, 0) and |·| on forces.
        compliance_m_per_bw: m/BW; a soft heel pad and shoe sole: a point loaded with Fy
            may sit Fy·compliance below the ground (penetration allows for it) and must
            sit at most ``touchdown_band_m − Fy·compliance`` above it (off_ground). 0 is
            the rigid ground.
        touchdown_band_m: m; a point this close above the ground may start to take load,
            so force rises as the foot settles instead of jumping at first contact.
    """

    friction_coefficient: float = 1.0
    height_scale: float = 0.01
    height_offset: float = 0.0
    velocity_scale: float = 0.1
    smoothing_length: float = 0.0005
    smoothing_velocity: float = 0.002
    smoothing_force: float = 0.005
    compliance_m_per_bw: float = 0.0
    touchdown_band_m: float = 0.0


def _smooth_abs(x: tf.Tensor, eps: float) -> tf.Tensor:
    return tf.sqrt(x * x + eps * eps)


def contact_consistency_terms(
    contact_pos: tf.Tensor,
    contact_vel: tf.Tensor,
    forces_bw: tf.Tensor,
    params: ContactConsistencyParameters | None = None,
) -> dict[str, tf.Tensor]:
    """Smooth penalties tying predicted contact forces to foot kinematics.

    Args:
        contact_pos: (..., T, 4, 2) foot-fixed contact points, ground frame, m
            (``Kinematics.contact_pos``).
        contact_vel: (..., T, 4, 2) their velocities, m/s (``Kinematics.contact_vel``).
        forces_bw: (..., T, 4, 2) predicted ground-on-foot forces (Fx, Fy), BW.
        params: scales; default :class:`ContactConsistencyParameters`.

    Returns:
        Per-frame terms (..., T), each summed over the 4 points, dimensionless, >= 0
        (F = max(Fy, 0), c = compliance, b = touchdown band; rigid ground: c = b = 0):
        ``negative_normal``: (max(−Fy, 0))², normal force must push (BW²);
        ``off_ground``: F·max(y − offset − b + c·F, 0)/height_scale, no force in the air;
        ``sliding``: max(Fy, 0)·|vx|/velocity_scale, no sliding under load;
        ``friction_cone``: (max(|Fx| − μ max(Fy, 0), 0))², |Fx| <= μ Fy;
        ``penetration``: (max(offset − c·F − y, 0)/height_scale)², points stay above
        ground (a loaded point may press c·F into it).
    """
    p = params or ContactConsistencyParameters()
    forces_bw = tf.convert_to_tensor(forces_bw)
    dtype = forces_bw.dtype
    contact_pos = tf.convert_to_tensor(contact_pos, dtype=dtype)
    contact_vel = tf.convert_to_tensor(contact_vel, dtype=dtype)
    fx, fy = forces_bw[..., 0], forces_bw[..., 1]
    height = contact_pos[..., 1] - p.height_offset
    fy_pos = softpos(fy, p.smoothing_force)
    neg = softpos(-fy, p.smoothing_force)
    cone = softpos(
        _smooth_abs(fx, p.smoothing_force) - p.friction_coefficient * fy_pos, p.smoothing_force
    )
    sink = p.compliance_m_per_bw * fy_pos
    above = softpos(height - p.touchdown_band_m + sink, p.smoothing_length) / p.height_scale
    below = softpos(-height - sink, p.smoothing_length) / p.height_scale
    slide = _smooth_abs(contact_vel[..., 0], p.smoothing_velocity) / p.velocity_scale
    return {
        "negative_normal": tf.reduce_sum(neg * neg, axis=-1),
        "off_ground": tf.reduce_sum(fy_pos * above, axis=-1),
        "sliding": tf.reduce_sum(fy_pos * slide, axis=-1),
        "friction_cone": tf.reduce_sum(cone * cone, axis=-1),
        "penetration": tf.reduce_sum(below * below, axis=-1),
    }


def gyro_no_slip_term(
    forces_bw: tf.Tensor,
    vel_x: tf.Tensor,
    params: ContactConsistencyParameters | None = None,
) -> tf.Tensor:
    """(..., T) no-slip of the loaded points with the measured segment rates: the sum over
    points of ``F · |vx| / velocity_scale`` with F = max(Fy, 0) held constant (no
    gradient), dimensionless.

    ``vel_x`` comes from :meth:`Kinematics.contact_vel_given_omega` with the gyroscopes'
    rates, so the term can only be lowered by the pose and the pelvis velocity: it pins
    the forward speed to the measured leg rotation in stance. Holding F constant closes
    the escape of carrying no load (the ``sliding`` term decides where the load goes).

    Args:
        forces_bw: (..., T, 4, 2) predicted contact forces, BW.
        vel_x: (..., T, 4) horizontal point velocities, m/s.
        params: scales; default :class:`ContactConsistencyParameters`.
    """
    p = params or ContactConsistencyParameters()
    forces_bw = tf.convert_to_tensor(forces_bw)
    load = tf.stop_gradient(softpos(forces_bw[..., 1], p.smoothing_force))
    vx = tf.cast(vel_x, forces_bw.dtype)
    return tf.reduce_sum(load * _smooth_abs(vx, p.smoothing_velocity), axis=-1) / p.velocity_scale


@dataclass(frozen=True)
class PenaltyContactParameters:
    """Smooth penalty (Hunt-Crossley-like) contact model for generating synthetic data.

    Fy = k · softpos(−y, d) · softpos(1 − c·vy, 0.01);  Fx = −μ Fy tanh(vx / v_t).
    Not part of the reference model; per contact point, SI.
    """

    stiffness: float = 1.0e5  # k, N/m
    damping: float = 1.0  # c, s/m
    penetration_smoothing: float = 1.0e-4  # d, m
    friction_coefficient: float = 1.0  # μ
    transition_velocity: float = 0.05  # v_t, m/s


def penalty_contact_forces(
    contact_pos: tf.Tensor,
    contact_vel: tf.Tensor,
    params: PenaltyContactParameters | None = None,
) -> tf.Tensor:
    """(..., T, 4, 2) ground-on-foot forces (Fx, Fy) in N from contact-point kinematics.

    Args:
        contact_pos: (..., T, 4, 2) contact points, ground frame, m (y = height).
        contact_vel: (..., T, 4, 2) their velocities, m/s.
        params: constants; default :class:`PenaltyContactParameters`.
    """
    p = params or PenaltyContactParameters()
    contact_pos = tf.convert_to_tensor(contact_pos)
    contact_vel = tf.convert_to_tensor(contact_vel, dtype=contact_pos.dtype)
    depth = softpos(-contact_pos[..., 1], p.penetration_smoothing)
    fy = p.stiffness * depth * softpos(1.0 - p.damping * contact_vel[..., 1], 0.01)
    fx = -p.friction_coefficient * fy * tf.tanh(contact_vel[..., 0] / p.transition_velocity)
    return tf.stack([fx, fy], axis=-1)


_FOOT_OF_POINT = [FEET.index(CONTACT_SEGMENT[c]) for c in CONTACT_POINTS]


def grf_per_foot(contact_forces: tf.Tensor) -> tf.Tensor:
    """(..., T, 2, 2) ground reaction force per foot (``FEET``: right, left), (x, y), in
    the unit of the input (pass BW to get BW): the sum over the foot's contact points.

    Args:
        contact_forces: (..., T, 4, 2) per contact point (``CONTACT_POINTS``).
    """
    contact_forces = tf.convert_to_tensor(contact_forces)
    right = [i for i, f in enumerate(_FOOT_OF_POINT) if f == 0]
    left = [i for i, f in enumerate(_FOOT_OF_POINT) if f == 1]
    r = tf.reduce_sum(tf.gather(contact_forces, right, axis=-2), axis=-2)
    l_ = tf.reduce_sum(tf.gather(contact_forces, left, axis=-2), axis=-2)
    return tf.stack([r, l_], axis=-2)
