"""Physics loss terms for self-supervised training, over (..., T) tensors.

Each term is a non-negative per-frame tensor of shape (..., T) (dimensionless: residuals
in BW and BW·BH, accelerations in g, contact terms as documented in
:func:`train.physics.contact.contact_consistency_terms`). The training objective
(``train/losses.py``) averages and weighs them; this module only defines them.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from train.physics.constants import N_SEGMENTS, segment_index
from train.physics.contact import (
    ContactConsistencyParameters,
    contact_consistency_terms,
    gyro_no_slip_term,
)
from train.physics.dynamics import kane_residual, normalise_residual
from train.physics.kinematics import forward_kinematics
from train.physics.parameters import BodyParameters
from train.physics.virtual_imu import virtual_imu


def eom_loss(residual_normalised: tf.Tensor) -> tf.Tensor:
    """(..., T) mean square of the normalised residual (BW², (BW·BH)²) over the 9
    coordinates.

    Args:
        residual_normalised: (..., T, 9) from :func:`normalise_residual`.
    """
    return tf.reduce_mean(tf.square(residual_normalised), axis=-1)


def imu_loss_terms(
    virtual: tf.Tensor, measured: tf.Tensor, gravity: float | tf.Tensor = 9.81
) -> dict[str, tf.Tensor]:
    """Squared virtual-vs-measured IMU errors per frame; NaN in ``measured`` is ignored.

    Args:
        virtual: (..., T, S, 3) from :func:`virtual_imu` (acc_x, acc_y m/s²; gyr_z rad/s).
        measured: (..., T, S, 3) recorded, same channels and units.
        gravity: m/s², scale of the accelerometer error.

    Returns:
        ``imu_acc``: (..., T) mean over sensors and x/y of (error / g)²;
        ``imu_gyr``: (..., T) mean over sensors of error² in (rad/s)².
    """
    measured = tf.convert_to_tensor(measured, dtype=virtual.dtype)
    valid = tf.math.is_finite(measured)
    clean = tf.where(valid, measured, tf.zeros_like(measured))
    err = tf.where(valid, virtual - clean, tf.zeros_like(virtual))
    weight = tf.cast(valid, virtual.dtype)
    acc_sq = tf.square(err[..., :2] / gravity)
    acc_n = tf.reduce_sum(weight[..., :2], axis=[-2, -1])
    gyr_n = tf.reduce_sum(weight[..., 2], axis=-1)
    return {
        "imu_acc": tf.math.divide_no_nan(tf.reduce_sum(acc_sq, axis=[-2, -1]), acc_n),
        "imu_gyr": tf.math.divide_no_nan(tf.reduce_sum(tf.square(err[..., 2]), axis=-1), gyr_n),
    }


def _per_body(x: tf.Tensor, params: BodyParameters, trailing: int) -> tf.Tensor:
    """A (P,) parameter reshaped to broadcast against (..., T, *trailing)."""
    if params.batch_rank == 0:
        return x
    return tf.reshape(x, tf.concat([tf.shape(x), tf.ones([trailing + 1], tf.int32)], 0))


def physics_loss_terms(
    q: tf.Tensor,
    qd: tf.Tensor,
    qdd: tf.Tensor,
    moments: tf.Tensor,
    contact_forces: tf.Tensor,
    params: BodyParameters,
    *,
    sensor_segments: Sequence[str | int] | None = None,
    sensor_positions: tf.Tensor | None = None,
    measured_imu: tf.Tensor | None = None,
    contact_params: ContactConsistencyParameters | None = None,
    air_drag: bool = False,
    gyro_no_slip: bool = False,
) -> dict[str, tf.Tensor]:
    """All per-frame physics terms, each (..., T), sharing one forward kinematics.

    Args:
        q, qd, qdd: (..., T, 9) coordinates and derivatives (SI), ``COORDINATES`` order.
        moments: (..., T, 6) net joint moments, N·m, ``JOINTS`` order.
        contact_forces: (..., T, 4, 2) ground-on-foot forces at ``CONTACT_POINTS``, N,
            applied at the foot-fixed contact points.
        params: body parameters.
        sensor_segments, sensor_positions, measured_imu: S segment names, (S, 2) or
            (..., S, 2) positions (m, segment frame) and (..., T, S, 3) recorded acc_x,
            acc_y, gyr_z; the IMU terms are computed when all three are given.
        contact_params: scales of the contact terms.
        air_drag: include air drag in the residual.
        gyro_no_slip: add ``gyro_no_slip`` (:func:`gyro_no_slip_term`): the loaded
            points' velocities with the segments' angular velocities as the gyroscopes
            measured them (``measured_imu`` gyr_z of each segment's sensor; the model's
            own where one is missing) instead of the model's q̇.

    Returns:
        ``eom`` (see :func:`eom_loss`), the five contact terms of
        :func:`contact_consistency_terms`, and ``imu_acc`` / ``imu_gyr`` when requested.
    """
    kin = forward_kinematics(q, qd, qdd, params)
    p = kin.params
    res = kane_residual(q, qd, qdd, moments, contact_forces, p, air_drag=air_drag, kin=kin)
    terms = {"eom": eom_loss(normalise_residual(res, p))}
    forces_bw = tf.convert_to_tensor(contact_forces, dtype=res.dtype) / _per_body(
        p.body_weight, p, 2
    )
    terms.update(
        contact_consistency_terms(kin.contact_pos, kin.contact_vel, forces_bw, contact_params)
    )
    if gyro_no_slip and measured_imu is not None and sensor_segments is not None:
        gyr = tf.convert_to_tensor(measured_imu, dtype=res.dtype)[..., 2]
        column = {segment_index(s): i for i, s in enumerate(sensor_segments)}
        per_segment = []
        for j in range(N_SEGMENTS):
            own = kin.omega[..., j]
            if j in column:
                g = gyr[..., column[j]]
                own = tf.where(tf.math.is_finite(g), g, own)
            per_segment.append(own)
        vx = kin.contact_vel_given_omega(tf.stack(per_segment, axis=-1))[..., 0]
        terms["gyro_no_slip"] = gyro_no_slip_term(forces_bw, vx, contact_params)
    if sensor_segments is not None and sensor_positions is not None and measured_imu is not None:
        imu = virtual_imu(q, qd, qdd, p, sensor_segments, sensor_positions, kin=kin)
        terms.update(imu_loss_terms(imu, measured_imu, p.gravity))
    return terms


def unit_weight_total(terms: dict[str, tf.Tensor]) -> tf.Tensor:
    """() sum of the means of per-frame terms with unit weights (tests and benchmarks;
    training weighs them with ``train.losses.total_loss``)."""
    return tf.add_n([tf.reduce_mean(v) for v in terms.values()])
