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

__all__ = [
    "SIDECAR_KEY",
    "AxisRotator",
    "Mounting",
    "SensorMounting",
    "from_segment_axes",
    "rotation_matrices",
    "to_segment_axes",
]
