"""Sensor-to-segment mounting: its one definition, how it is undone, and how it is
estimated from a standing capture or functionally from walking/running alone.

NumPy only (runs on the Raspberry Pi). See docs/calibration.md.
"""

from edge.mounting.apply import (
    SIDECAR_KEY,
    AxisRotator,
    Mounting,
    SensorMounting,
    from_segment_axes,
    rotation_matrices,
    to_segment_axes,
)
from edge.mounting.functional import (
    FunctionalSettings,
    InsufficientGaitError,
    estimate_functional,
    joint_angles,
    mounting_for,
    segment_angles,
)

__all__ = [
    "SIDECAR_KEY",
    "AxisRotator",
    "FunctionalSettings",
    "InsufficientGaitError",
    "Mounting",
    "SensorMounting",
    "estimate_functional",
    "from_segment_axes",
    "joint_angles",
    "mounting_for",
    "rotation_matrices",
    "segment_angles",
    "to_segment_axes",
]
