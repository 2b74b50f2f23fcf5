"""Emulated hardware built from a recording: the glue between ``edge.recording`` and
``firmware_bridge.emulation`` (which only takes arrays).

``build_simulated_hardware("P01_walking")`` gives an emulated I2C bus on which the real
drivers read the recording back, sensor by sensor, through the TCA9548A.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np

from edge.recording import Recording, read_recording, resolve_recording
from firmware_bridge.clock import Clock
from firmware_bridge.emulation import EmulatedHardware, ImuNoise, build_emulated_bus
from firmware_bridge.emulation.imu import Advance
from firmware_bridge.registers import STANDARD_GRAVITY
from firmware_bridge.sensor_map import CHIP_ADDRESSES, SEGMENTS, SensorConfig, SensorMap

log = logging.getLogger(__name__)


def load_recording(spec: str | Path) -> Recording:
    """A recording from a CSV path, a bundled name (``"P01_walking"``) or
    ``"bundled:P01_walking"`` (:func:`edge.recording.resolve_recording`)."""
    return read_recording(resolve_recording(spec))


def sensor_map_for(
    rec: Recording, chip: str = "mpu6050", chips: dict[str, str] | None = None
) -> SensorMap:
    """The wiring a recording implies: sensor i on TCA9548A channel i, segment and
    position from the sidecar, each chip at its default address, chip axes = segment axes.
    """
    chips = chips or {}
    sensors = []
    for i, name in enumerate(rec.sensors):
        placement = rec.meta.sensors[name]
        c = chips.get(name, chip)
        sensors.append(
            SensorConfig(
                segment=placement.segment,  # type: ignore[arg-type]
                name=None if name == placement.segment else name,
                chip=c,  # type: ignore[arg-type]
                channel=i,
                address=CHIP_ADDRESSES[c][0],
                position_m=tuple(placement.position_m) if placement.position_m else None,  # type: ignore[arg-type]
            )
        )
    return SensorMap(sensors=sensors, allow_partial=len(sensors) < len(SEGMENTS))


def _fill_missing(imu: np.ndarray) -> np.ndarray:
    """Hold the last value over NaN samples (an emulated chip always outputs a number)."""
    if np.isfinite(imu).all():
        return imu
    log.warning("recording has missing samples; the emulated chips hold the last value")
    out = imu.copy()
    for idx in np.argwhere(~np.isfinite(out)):
        n, s, c = idx
        out[n, s, c] = out[n - 1, s, c] if n > 0 else 0.0
    return out


def build_simulated_hardware(
    recording: Recording | str | Path,
    sensor_map: SensorMap | None = None,
    *,
    chip: str = "mpu6050",
    advance: Advance = "per_read",
    clock: Clock | None = None,
    advance_clock: bool = False,
    noise: ImuNoise | dict[str, ImuNoise] | None = None,
    seed: int = 0,
) -> EmulatedHardware:
    """Emulated TCA9548A + IMUs replaying ``recording`` (object, CSV path or bundled stem)."""
    rec = recording if isinstance(recording, Recording) else load_recording(recording)
    smap = sensor_map or sensor_map_for(rec, chip=chip)
    return build_emulated_bus(
        _fill_missing(rec.imu),
        rec.sensors,
        rec.sample_rate_hz,
        smap,
        advance=advance,
        clock=clock,
        advance_clock=advance_clock,
        noise=noise,
        seed=seed,
    )


def standing_arrays(
    seconds: float = 5.0,
    rate_hz: float = 100.0,
    tilt_deg: dict[str, float] | None = None,
    names: tuple[str, ...] = SEGMENTS,
) -> tuple[np.ndarray, tuple[str, ...], float]:
    """Quiet standing: each sensor sees gravity along +y, rotated by its strap's
    sagittal tilt (deg, about z), and no rotation. Returns (imu (N, S, 6), names, rate)."""
    tilt_deg = tilt_deg or {}
    n = max(1, round(seconds * rate_hz))
    imu = np.zeros((n, len(names), 6))
    for s, name in enumerate(names):
        phi = math.radians(tilt_deg.get(name, 0.0))
        imu[:, s, 0] = -STANDARD_GRAVITY * math.sin(phi)
        imu[:, s, 1] = STANDARD_GRAVITY * math.cos(phi)
    return imu, names, rate_hz
