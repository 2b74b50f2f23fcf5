"""Virtual IMU: planar accelerometer (specific force) and gyroscope of sensors on segments.

For a sensor at ``p = (px, py)`` in the frame of a segment with angle θ, angular velocity
ω and angular acceleration α, whose origin accelerates with ``a_O`` (ground frame):

    acc = R(θ)ᵀ (a_O + g Ŷ) + (−ω² px − α py,  α px − ω² py)      (segment axes, m/s²)
    gyr_z = ω                                                    (rad/s)

Specific force includes gravity: an upright sensor at rest reads acc_y = +g.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from train.physics.constants import segment_index
from train.physics.kinematics import (
    N_POINTS,
    Kinematics,
    forward_kinematics,
    sensor_positions_over_time,
)
from train.physics.parameters import BodyParameters


def virtual_imu(
    q: tf.Tensor,
    qd: tf.Tensor,
    qdd: tf.Tensor,
    params: BodyParameters,
    segments: Sequence[str | int],
    positions: tf.Tensor,
    *,
    kin: Kinematics | None = None,
) -> tf.Tensor:
    """Accelerometer x, y and gyroscope z of S sensors.

    Args:
        q, qd, qdd: (..., T, 9) coordinates and time derivatives (SI).
        params: body parameters (cast to the dtype of q).
        segments: S segment names (or indices) the sensors sit on, e.g. ``SENSORS``.
        positions: (S, 2) or (..., S, 2) sensor positions in their segment frames
            relative to the segment origin (proximal joint), m; may be a trainable
            variable (gradients flow).
        kin: precomputed :func:`forward_kinematics` of (q, qd, qdd); q, qd, qdd are then
            not used (may be None).

    Returns:
        (..., T, S, 3): acc_x, acc_y (m/s², specific force incl. gravity, segment axes:
        x anterior, y towards proximal) and gyr_z (rad/s, + counter-clockwise about
        the ground Z axis, i.e. + with increasing segment angle).
    """
    if kin is None:
        kin = forward_kinematics(q, qd, qdd, params)
    idx = [segment_index(s) for s in segments]
    pos = sensor_positions_over_time(positions, kin.angle.dtype)
    px, py = pos[..., 0], pos[..., 1]
    th = tf.gather(kin.angle, idx, axis=-1)
    om = tf.gather(kin.omega, idx, axis=-1)
    al = tf.gather(kin.alpha, idx, axis=-1)
    # Segment origins are the first 7 packed points.
    ax = tf.gather(kin.rel_acc, idx, axis=-1) + kin.hip_acc[..., 0:1]
    ay = tf.gather(kin.rel_acc, [N_POINTS + i for i in idx], axis=-1) + kin.hip_acc[..., 1:2]
    ay = ay + kin.params.gravity
    c, s = tf.cos(th), tf.sin(th)
    w2 = om * om
    acc_x = c * ax + s * ay - w2 * px - al * py
    acc_y = -s * ax + c * ay + al * px - w2 * py
    return tf.stack([acc_x, acc_y, om], axis=-1)
