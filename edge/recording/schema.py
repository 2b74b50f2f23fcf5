"""Names, units and the sidecar model of the recording format (CSV + JSON sidecar).

CSV columns, in this order: ``time_s``; then, for each sensor ``S`` present,
``S_acc_x, S_acc_y, S_acc_z`` (m/s², specific force, gravity included) and
``S_gyr_x, S_gyr_y, S_gyr_z`` (rad/s), all in the segment axes of docs/body-model.md
(x anterior, y along the segment towards proximal, z to the right); then optional
ground-truth columns from :data:`TRUTH_COLUMNS` (SI units, GRF in body weights).
A missing sample (sensor fault) is written as ``nan``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

SCHEMA_VERSION = 1

#: Sensor (and segment) names in the project's canonical order.
SENSOR_NAMES: tuple[str, ...] = (
    "pelvis",
    "femur_r",
    "tibia_r",
    "foot_r",
    "femur_l",
    "tibia_l",
    "foot_l",
)
#: Segments a sensor may sit on (the planar model's seven segments).
SEGMENT_NAMES: tuple[str, ...] = SENSOR_NAMES

#: Per-sensor channels, in column order: acc m/s², gyr rad/s.
IMU_CHANNELS: tuple[str, ...] = ("acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z")
#: Indices of the channels the planar model uses (acc x, acc y, gyr z).
PLANAR_CHANNEL_INDEX: tuple[int, ...] = (0, 1, 5)

#: Generalized coordinates of the planar model (m for translations, rad for angles).
COORDINATE_NAMES: tuple[str, ...] = (
    "pelvis_tx",
    "pelvis_ty",
    "pelvis_tilt",
    "hip_flexion_r",
    "knee_angle_r",
    "ankle_angle_r",
    "hip_flexion_l",
    "knee_angle_l",
    "ankle_angle_l",
)
#: Net joint moments (N·m, sign as the angle).
MOMENT_NAMES: tuple[str, ...] = tuple(f"{q}_moment" for q in COORDINATE_NAMES[3:])
#: Ground reaction force per foot (body weights; x forward, y up).
GRF_NAMES: tuple[str, ...] = ("grf_x_r", "grf_y_r", "grf_x_l", "grf_y_l")

#: Every ground-truth column a recording may carry, with its unit.
TRUTH_COLUMNS: dict[str, str] = {
    **{q: ("m" if q in ("pelvis_tx", "pelvis_ty") else "rad") for q in COORDINATE_NAMES},
    **{
        f"{q}_vel": ("m/s" if q in ("pelvis_tx", "pelvis_ty") else "rad/s")
        for q in COORDINATE_NAMES
    },
    **{m: "N*m" for m in MOMENT_NAMES},
    **{g: "BW" for g in GRF_NAMES},
    "speed_m_s": "m/s",
    "contact_r": "1",
    "contact_l": "1",
}


def imu_column(sensor: str, channel: str) -> str:
    """CSV column name of one IMU channel, e.g. ``imu_column("foot_r", "gyr_z")``."""
    return f"{sensor}_{channel}"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Participant(BaseModel):
    """Who wore the sensors; height and mass scale the body model. Unknown keys (a note,
    a cohort) are kept, as at the sidecar's top level."""

    model_config = ConfigDict(extra="allow", validate_assignment=True)

    id: str | None = Field(default=None, description="Pseudonymous participant id")
    height_m: Annotated[float, Field(gt=0.5, lt=2.6, description="Body height (m)")]
    mass_kg: Annotated[float, Field(gt=10.0, lt=300.0, description="Body mass (kg)")]


class SensorPlacement(_Strict):
    """Where a sensor sits: its segment and its position in the segment frame.

    ``position_m`` is (x, y, z) in metres, in the segment frame, relative to the segment
    origin (the proximal joint; the hip joint centre for the pelvis).
    """

    segment: Literal[SEGMENT_NAMES]  # type: ignore[valid-type]
    position_m: tuple[float, float, float] = (0.0, 0.0, 0.0)


class Sidecar(BaseModel):
    """The JSON sidecar of a recording. Unknown keys are kept (so nothing a device or
    a collaborator wrote is lost on a read/write round trip), known keys are validated."""

    model_config = ConfigDict(extra="allow", validate_assignment=True)

    schema_version: int = SCHEMA_VERSION
    trial: str | None = None
    movement: str | None = None
    participant: Participant
    sample_period_s: Annotated[float, Field(gt=0.0, lt=1.0, description="Sample period (s)")]
    samples_per_cycle: int | None = Field(
        default=None,
        gt=1,
        description="Set only for a mean-gait-cycle file: one periodic cycle of this many samples",
    )
    cycle_duration_s: float | None = Field(default=None, gt=0.0)
    speed_m_s: float | None = Field(default=None, ge=0.0, description="Mean walking/running speed")
    events: list[tuple[str, int]] = Field(default_factory=list, description="(label, sample index)")
    sensors: dict[str, SensorPlacement]
    columns: list[str] | None = Field(default=None, description="CSV header, if given, must match")
    device: dict[str, Any] | None = Field(default=None, description="Device and firmware settings")
    calibration: dict[str, Any] | None = Field(default=None, description="Calibration applied")
    source: str | None = None
    reference: str | None = None
    note: str | None = None

    @field_validator("sensors")
    @classmethod
    def _known_sensor_names(cls, sensors: dict[str, SensorPlacement]) -> dict[str, SensorPlacement]:
        if not sensors:
            raise ValueError("at least one sensor is required")
        for name in sensors:
            if not name or not name.replace("_", "").isalnum():
                raise ValueError(f"sensor name {name!r} must be letters, digits and '_'")
        return sensors

    @property
    def sample_rate_hz(self) -> float:
        return 1.0 / self.sample_period_s
