"""Differentiable planar body model (gait2dc) in TensorFlow, batched over (..., T).

Coordinates q (9), joint moments (6), segments/sensors (7) and contact points (4) are
addressed by the name tuples below. Everything is SI unless a name ends in ``_bw``
(body weights) or ``_bwbh`` (body weight x body height). Frames and signs:
``docs/physics.md``.
"""

from train.physics.constants import (
    CONTACT_POINTS,
    CONTACT_SEGMENT,
    COORDINATES,
    FEET,
    GRAVITY,
    IMU_OUTPUTS,
    JOINT_CENTRES,
    JOINTS,
    SEGMENTS,
    SENSORS,
    segment_index,
)
from train.physics.contact import (
    ContactConsistencyParameters,
    PenaltyContactParameters,
    ReferenceContactParameters,
    contact_consistency_terms,
    contact_equation_residual,
    grf_per_foot,
    penalty_contact_forces,
)
from train.physics.dynamics import (
    air_drag_force,
    generalized_drag_force,
    kane_residual,
    normalise_residual,
    residual_scale,
)
from train.physics.kinematics import Kinematics, forward_kinematics, point_kinematics
from train.physics.parameters import BodyParameters
from train.physics.passive import PassiveParameters, passive_moments
from train.physics.reference import (
    ReferenceFormatError,
    ReferenceStride,
    bundled_reference_path,
    load_reference,
)
from train.physics.terms import (
    eom_loss,
    imu_loss_terms,
    physics_loss_terms,
    unit_weight_total,
)
from train.physics.verify import TOLERANCES, Tolerance, VerifyReport, verify_reference
from train.physics.virtual_imu import virtual_imu

__all__ = [
    "CONTACT_POINTS",
    "CONTACT_SEGMENT",
    "COORDINATES",
    "FEET",
    "GRAVITY",
    "IMU_OUTPUTS",
    "JOINTS",
    "JOINT_CENTRES",
    "SEGMENTS",
    "SENSORS",
    "TOLERANCES",
    "BodyParameters",
    "ContactConsistencyParameters",
    "Kinematics",
    "PassiveParameters",
    "PenaltyContactParameters",
    "ReferenceContactParameters",
    "ReferenceFormatError",
    "ReferenceStride",
    "Tolerance",
    "VerifyReport",
    "air_drag_force",
    "bundled_reference_path",
    "contact_consistency_terms",
    "contact_equation_residual",
    "eom_loss",
    "forward_kinematics",
    "generalized_drag_force",
    "grf_per_foot",
    "imu_loss_terms",
    "kane_residual",
    "load_reference",
    "normalise_residual",
    "passive_moments",
    "penalty_contact_forces",
    "physics_loss_terms",
    "point_kinematics",
    "residual_scale",
    "segment_index",
    "unit_weight_total",
    "verify_reference",
    "virtual_imu",
]
