"""The self-supervised loss: physics, IMU, temporal consistency, effort and realism.

Every term is a dimensionless mean over (batch, time after burn-in):

- ``imu_acc``: virtual accelerometer = measured; (error / g)².
- ``imu_gyr``: virtual gyroscope = measured; (rad/s)².
- ``eom``: Kane residual = 0 (internal and external forces balance); BW², (BW·BH)².
- ``temporal_q``: q_{t+1} − q_t = dt·(q̇_t + q̇_{t+1})/2, pelvis_tx excluded (not
  observable); (error / (dt·q̇ scale))².
- ``temporal_qd``: q̇_{t+1} − q̇_t = dt·(q̈_t + q̈_{t+1})/2; (error / (dt·q̈ scale))².
- contact terms: force only on the ground, no sliding under load, friction cone, no
  penetration (``train.physics.contact``).
- ``effort``: small joint moments; (BW·BH / 0.05)².
- ``joint_range``: angles inside gait ranges, pelvis height within body proportions;
  (excess / 0.1 rad)².
- ``gyro_no_slip``: the loaded points do not slide when the legs turn at the rates the
  gyroscopes measured (pins the forward speed; ``train.physics.contact``).
- ``speed``: speed output = mean forward pelvis velocity over the window, and steady;
  ((m/s) / 0.1)².

No term uses ground truth.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from edge.output_spec import ANGLE_SLICE, RAW, UNOBSERVED_Q
from train.config import ContactConfig, LossWeights
from train.physics import SENSORS, BodyParameters, physics_loss_terms

#: Typical magnitudes of q̇ and q̈ per coordinate (normalise temporal errors): the
#: network head's scales of those groups.
QD_SCALE = RAW["qd"].scale_array()
QDD_SCALE = RAW["qdd"].scale_array()
#: q coordinates whose position enters the temporal term (pelvis_tx is unobservable).
_OBSERVED_Q = [i for i in range(RAW["q"].size) if i not in UNOBSERVED_Q]
#: Soft limits (rad) of a plausible gait for pelvis_tilt and the six joints.
ANGLE_LIMITS = np.array(
    [
        [-0.5, 0.5],  # pelvis tilt
        [-0.6, 1.4],  # hip
        [-2.4, 0.05],  # knee (extension +, range <= 0)
        [-0.9, 0.7],  # ankle
        [-0.6, 1.4],
        [-2.4, 0.05],
        [-0.9, 0.7],
    ],
    np.float32,
)
#: Hip joint centre height as a fraction of body height (standing ≈ 0.53).
PELVIS_HEIGHT_LIMITS = (0.40, 0.60)
EFFORT_SCALE_BWBH = 0.05
SPEED_SCALE = 0.1
RANGE_SCALE = 0.1
DYNAMICS_TERMS = (
    "eom",
    "negative_normal",
    "off_ground",
    "sliding",
    "friction_cone",
    "penetration",
    "gyro_no_slip",
    "effort",
)


def _softplus_sq(x: tf.Tensor) -> tf.Tensor:
    return tf.square(tf.nn.relu(x))


@tf.autograph.experimental.do_not_convert
def loss_terms(
    outputs: dict[str, tf.Tensor],
    batch: dict[str, tf.Tensor],
    dt: float,
    burn_in: int,
    contact: ContactConfig | None = None,
    gyro_no_slip: bool = False,
) -> dict[str, tf.Tensor]:
    """All terms (scalars) for one batch.

    Args:
        outputs: network outputs, (B, T, k) each (see ``train.model.network``).
        batch: ``imu`` (B, T, S, 3) measured, ``height_m``, ``mass_kg`` (B,),
            ``positions`` (B, S, 2) m.
        dt: sample period, s.
        burn_in: initial steps excluded (the causal LSTM starts from a zero state).
        contact: how the contact terms read the foot; default :class:`ContactConfig`.
        gyro_no_slip: also compute ``gyro_no_slip`` (pass ``weights.gyro_no_slip > 0``).
    """
    contact = contact or ContactConfig()
    sl = slice(burn_in, None)
    q, qd, qdd = outputs["q"][:, sl], outputs["qd"][:, sl], outputs["qdd"][:, sl]
    height, mass = batch["height_m"], batch["mass_kg"]
    params = BodyParameters.from_height_mass(height, mass, dtype=tf.float32)
    bw = params.body_weight[:, None, None]
    bwbh = params.body_weight_height[:, None, None]
    moments_bwbh = outputs["moments_bwbh"][:, sl]
    contact_bw = outputs["contact_bw"][:, sl]
    shape = tf.concat([tf.shape(contact_bw)[:-1], [4, 2]], 0)
    contact_n = tf.reshape(contact_bw, shape) * bw[..., None]
    terms = physics_loss_terms(
        q,
        qd,
        qdd,
        moments_bwbh * bwbh,
        contact_n,
        params,
        sensor_segments=SENSORS,
        sensor_positions=batch["positions"],
        measured_imu=batch["imu"][:, sl],
        contact_params=contact.parameters(),
        gyro_no_slip=gyro_no_slip,
    )
    out = {name: tf.reduce_mean(value) for name, value in terms.items()}

    # Temporal consistency (trapezoidal rule), pelvis_tx position excluded.
    dq = (q[:, 1:] - q[:, :-1]) - 0.5 * dt * (qd[:, 1:] + qd[:, :-1])
    dqd = (qd[:, 1:] - qd[:, :-1]) - 0.5 * dt * (qdd[:, 1:] + qdd[:, :-1])
    dq_obs = tf.gather(dq, _OBSERVED_Q, axis=-1)
    out["temporal_q"] = tf.reduce_mean(tf.square(dq_obs / (dt * QD_SCALE[_OBSERVED_Q])))
    out["temporal_qd"] = tf.reduce_mean(tf.square(dqd / (dt * QDD_SCALE)))

    out["effort"] = tf.reduce_mean(tf.square(moments_bwbh / EFFORT_SCALE_BWBH))

    angles = q[..., ANGLE_SLICE]
    lo, hi = ANGLE_LIMITS[:, 0], ANGLE_LIMITS[:, 1]
    rng = _softplus_sq((angles - hi) / RANGE_SCALE) + _softplus_sq((lo - angles) / RANGE_SCALE)
    rel_height = q[..., 1] / height[:, None]
    h_lo, h_hi = PELVIS_HEIGHT_LIMITS
    rng_h = _softplus_sq((rel_height - h_hi) / 0.02) + _softplus_sq((h_lo - rel_height) / 0.02)
    out["joint_range"] = tf.reduce_mean(tf.reduce_sum(rng, -1)) + tf.reduce_mean(rng_h)

    speed = outputs["speed"][:, sl, 0]
    mean_vx = tf.reduce_mean(qd[..., 0], axis=1, keepdims=True)
    steady = speed - tf.reduce_mean(speed, axis=1, keepdims=True)
    out["speed"] = tf.reduce_mean(tf.square((speed - mean_vx) / SPEED_SCALE)) + tf.reduce_mean(
        tf.square(steady / SPEED_SCALE)
    )
    return out


@tf.autograph.experimental.do_not_convert
def total_loss(
    terms: dict[str, tf.Tensor],
    weights: LossWeights | dict[str, float],
    dynamics_ramp: tf.Tensor | float = 1.0,
) -> tf.Tensor:
    """Weighted sum; the dynamics terms are multiplied by ``dynamics_ramp`` (0..1)."""
    w = weights.model_dump() if isinstance(weights, LossWeights) else weights
    parts = []
    for name, value in terms.items():
        weight = w.get(name, 0.0)
        if not weight:
            continue
        factor = dynamics_ramp if name in DYNAMICS_TERMS else 1.0
        parts.append(weight * factor * value)
    return tf.add_n(parts)
