"""The typed specification of one synthetic recording."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from edge.recording import SENSOR_NAMES
from train.data.synthetic.gait_library import gait_library
from train.data.synthetic.imu_errors import ImuErrorModel
from train.data.synthetic.placement import PlacementJitter
from train.data.synthetic.posture import PostureOffsets
from train.data.synthetic.speed_profile import Segment


class SynthSpec(BaseModel):
    """Everything that defines one synthetic recording; the same spec (seed included)
    always gives the same recording."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field("synthetic", description="trial name (sidecar ``trial``)")
    height_m: float = Field(1.75, ge=1.3, le=2.2, description="body height, m")
    mass_kg: float = Field(70.0, ge=35.0, le=140.0, description="body mass, kg")
    segments: list[Segment] = Field(min_length=1, description="speed program")
    seed: int = Field(0, ge=0, description="random seed of every random choice")
    rate_hz: float = Field(100.0, ge=20.0, le=1000.0, description="output sample rate, Hz")
    ramp_s: float = Field(1.5, gt=0.0, le=5.0, description="transition between segments, s")
    variability: float = Field(
        1.0, ge=0.0, le=3.0, description="scale of the stride-to-stride variability (0 = none)"
    )
    walk_pattern: str | None = Field(None, description="use only this walking pattern")
    run_pattern: str | None = Field(None, description="use only this running pattern")
    cadence_scale: float | None = Field(
        None, gt=0.5, lt=2.0, description="stride-frequency factor (None = random personal)"
    )
    imu_errors: ImuErrorModel = Field(default_factory=ImuErrorModel)
    placement: PlacementJitter = Field(default_factory=PlacementJitter)
    posture: PostureOffsets = Field(
        default_factory=PostureOffsets, description="constant joint-angle offsets (posture)"
    )
    mounting_deg: dict[str, float] = Field(
        default_factory=dict,
        description="sagittal mounting angle β per sensor (about z, + counter-clockwise), "
        "deg; missing sensors 0",
    )

    @field_validator("mounting_deg")
    @classmethod
    def _known_sensors(cls, mounting: dict[str, float]) -> dict[str, float]:
        for name, angle in mounting.items():
            if name not in SENSOR_NAMES:
                raise ValueError(f"unknown sensor {name!r}; known: {list(SENSOR_NAMES)}")
            if not -45.0 <= angle <= 45.0:
                raise ValueError(f"mounting angle of {name} must be within ±45°, got {angle}")
        return mounting

    def mounting_rad(self) -> list[float]:
        """(7,) β per sensor in ``SENSOR_NAMES`` order, rad."""
        import math

        return [math.radians(self.mounting_deg.get(s, 0.0)) for s in SENSOR_NAMES]

    @field_validator("walk_pattern", "run_pattern")
    @classmethod
    def _known_pattern(cls, name: str | None) -> str | None:
        if name is not None and name not in gait_library():
            raise ValueError(f"unknown gait pattern {name!r}; known: {sorted(gait_library())}")
        return name

    @property
    def duration_s(self) -> float:
        return float(sum(s.duration_s for s in self.segments))
