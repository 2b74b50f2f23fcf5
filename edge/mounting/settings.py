"""Settings, constants and the error of the functional calibration (SI units).

See :mod:`edge.mounting.functional` for the method and docs/calibration.md.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

G = 9.81
#: Segment lengths as fractions of body height (docs/body-model.md, Winter-type).
LENGTH_FRACTION: dict[str, float] = {"thigh": 0.245, "shank": 0.246, "foot": 0.152}
#: Sensors of each leg, proximal to distal.
CHAINS: dict[str, tuple[str, str, str, str]] = {
    "r": ("pelvis", "femur_r", "tibia_r", "foot_r"),
    "l": ("pelvis", "femur_l", "tibia_l", "foot_l"),
}
Movement = Literal["walking", "running"]


class InsufficientGaitError(ValueError):
    """Too little usable walking/running to calibrate; the message says why."""


class FunctionalSettings(BaseModel):
    """Thresholds and priors of :func:`estimate_functional` (SI units)."""

    model_config = ConfigDict(extra="forbid")

    movement: Movement | None = Field(
        None, description="None: from the sidecar speed/movement, else from stride time"
    )
    running_speed_m_s: float = Field(2.3, description="sidecar speed at/above this: running")
    running_stride_s: float = Field(0.85, description="median stride shorter: running")
    trunk_tilt_walking_rad: float = Field(0.0, description="prior mean trunk tilt, walking")
    trunk_tilt_running_rad: float = Field(
        math.radians(-5.0), description="prior mean trunk tilt, running (forward lean)"
    )
    trunk_tilt_prior_sd_rad: float = Field(math.radians(3.0), description="its population SD")
    swing_peak_rad_s: float = Field(2.0, description="min |foot gyr_z| peak of a swing")
    min_stride_s: float = 0.45
    max_stride_s: float = 2.2
    max_yaw_rate_rad_s: float = Field(
        0.35, description="|stride-mean pelvis gyr_y| above this: turning, stride skipped"
    )
    min_strides: int = Field(3, ge=1, description="fewer good strides: refuse")
    mean_cycle_tiles: int = Field(6, ge=2, description="tiles of a mean-cycle recording")
    smooth_s: float = Field(0.025, ge=0.0, description="moving-average width before d/dt")
    ridge: float = Field(1e-4, ge=0.0, description="relative ridge of the joint-centre LS")
    centre_smooth_s: float = Field(
        0.0, ge=0.0, description="moving average before the joint-centre fit (0: none)"
    )
    still_window_s: float = Field(0.1, gt=0.0, description="averaging of the stillness score")
    max_stride_change: float = Field(
        0.15, gt=0.0, description="stride duration within this fraction of its neighbours'"
    )
    flat_instant_s: float = Field(
        0.03,
        ge=0.0,
        description="0: foot flat = the whole still stretch; > 0: the stillest "
        "instant in it (score averaged over this), ± this",
    )
    foot_still_margin: float = Field(
        0.1, gt=0.0, description="foot-flat stretch: stillness score ≤ its minimum + this"
    )
    min_length_ratio: float = Field(0.5, description="joint-centre cue: |r| / nominal ≥ this")
    max_length_ratio: float = Field(1.6, description="joint-centre cue: |r| / nominal ≤ this")
    axis_length_tolerance: float = Field(0.25, description="long-axis cue: | |d|/L − 1 | ≤")
    uncertainty_floor_rad: float = Field(math.radians(1.0), ge=0.0)
    single_cue_uncertainty_rad: float = Field(math.radians(5.0), ge=0.0)
