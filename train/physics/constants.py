"""Names and fixed index tables of the planar 9-DOF body model (gait2dc).

Everything else in :mod:`train.physics` addresses coordinates, joints, segments, contact
points and sensors by these names; the integer tables below are derived from them.
Frames and signs: see ``docs/physics.md`` and ``docs/body-model.md``.
"""

from __future__ import annotations

import numpy as np

from edge.recording.schema import COORDINATE_NAMES, SEGMENT_NAMES

#: Generalized coordinates q (9): metres for the two translations, radians otherwise.
#: (pelvis_tx, pelvis_ty) is the hip joint centre in the ground frame.
COORDINATES: tuple[str, ...] = COORDINATE_NAMES
#: Joints carrying a net moment (6), in the order of the moment vector: hip, knee, ankle
#: right, then left. Each moment is the generalized force of the coordinate of the same name.
JOINTS: tuple[str, ...] = COORDINATES[3:]
#: Rigid segments (7), also the sensor names used across the project. "pelvis" is the
#: trunk (head-arms-trunk) segment whose origin is the hip joint centre.
SEGMENTS: tuple[str, ...] = SEGMENT_NAMES
#: Sensors carry the name of the segment they sit on.
SENSORS: tuple[str, ...] = SEGMENTS
#: Foot-fixed ground contact points (4), in the order of the contact-force arrays.
CONTACT_POINTS: tuple[str, ...] = ("heel_r", "toe_r", "heel_l", "toe_l")
#: Feet, in the order of per-foot arrays (GRF).
FEET: tuple[str, ...] = ("foot_r", "foot_l")
#: Segment that carries each contact point.
CONTACT_SEGMENT: dict[str, str] = {
    "heel_r": "foot_r",
    "toe_r": "foot_r",
    "heel_l": "foot_l",
    "toe_l": "foot_l",
}
#: Joint centres, each the origin of the named segment (``JOINT_CENTRE_SEGMENT``).
JOINT_CENTRES: tuple[str, ...] = ("hip", "knee_r", "ankle_r", "knee_l", "ankle_l")
JOINT_CENTRE_SEGMENT: dict[str, str] = {
    "hip": "pelvis",
    "knee_r": "tibia_r",
    "ankle_r": "foot_r",
    "knee_l": "tibia_l",
    "ankle_l": "foot_l",
}
#: Components of every planar vector output (ground frame or segment frame).
XY: tuple[str, str] = ("x", "y")
#: Channels of the virtual IMU output, in order (m/s², m/s², rad/s).
IMU_OUTPUTS: tuple[str, str, str] = ("acc_x", "acc_y", "gyr_z")

#: Standard gravity used by the reference model (m/s²).
GRAVITY: float = 9.81

N_COORDINATES = len(COORDINATES)
N_JOINTS = len(JOINTS)
N_SEGMENTS = len(SEGMENTS)
N_CONTACTS = len(CONTACT_POINTS)

#: Coordinates whose angle adds up along the chain to each segment's absolute angle.
SEGMENT_CHAIN_COORDINATES: dict[str, tuple[str, ...]] = {
    "pelvis": ("pelvis_tilt",),
    "femur_r": ("pelvis_tilt", "hip_flexion_r"),
    "tibia_r": ("pelvis_tilt", "hip_flexion_r", "knee_angle_r"),
    "foot_r": ("pelvis_tilt", "hip_flexion_r", "knee_angle_r", "ankle_angle_r"),
    "femur_l": ("pelvis_tilt", "hip_flexion_l"),
    "tibia_l": ("pelvis_tilt", "hip_flexion_l", "knee_angle_l"),
    "foot_l": ("pelvis_tilt", "hip_flexion_l", "knee_angle_l", "ankle_angle_l"),
}
#: Parent of each segment (the segment whose distal joint is this segment's origin).
SEGMENT_PARENT: dict[str, str | None] = {
    "pelvis": None,
    "femur_r": "pelvis",
    "tibia_r": "femur_r",
    "foot_r": "tibia_r",
    "femur_l": "pelvis",
    "tibia_l": "femur_l",
    "foot_l": "tibia_l",
}
#: Each rotational coordinate rotates this segment (and everything distal) about its origin.
ROTATIONAL_COORDINATE_SEGMENT: dict[str, str] = {
    "pelvis_tilt": "pelvis",
    "hip_flexion_r": "femur_r",
    "knee_angle_r": "tibia_r",
    "ankle_angle_r": "foot_r",
    "hip_flexion_l": "femur_l",
    "knee_angle_l": "tibia_l",
    "ankle_angle_l": "foot_l",
}


def segment_index(segment: str | int) -> int:
    """Index of a segment given by name (or an index, checked)."""
    if isinstance(segment, str):
        if segment not in SEGMENTS:
            raise ValueError(f"unknown segment {segment!r}; expected one of {SEGMENTS}")
        return SEGMENTS.index(segment)
    index = int(segment)
    if not 0 <= index < N_SEGMENTS:
        raise ValueError(f"segment index {index} out of range 0..{N_SEGMENTS - 1}")
    return index


def angle_chain_matrix() -> np.ndarray:
    """(9, 7) 0/1 matrix C with segment angle = q @ C (the same for q-dot and q-ddot)."""
    chain = np.zeros((N_COORDINATES, N_SEGMENTS))
    for s, segment in enumerate(SEGMENTS):
        for name in SEGMENT_CHAIN_COORDINATES[segment]:
            chain[COORDINATES.index(name), s] = 1.0
    return chain


# Self-consistency of the tables above (cheap; fails loudly on an edit that breaks them).
assert COORDINATES[:3] == ("pelvis_tx", "pelvis_ty", "pelvis_tilt")
assert tuple(ROTATIONAL_COORDINATE_SEGMENT) == COORDINATES[2:]
assert tuple(ROTATIONAL_COORDINATE_SEGMENT.values()) == SEGMENTS
