"""Register-level emulated hardware: TCA9548A + IMU chips on an smbus2-compatible bus.

The real drivers run unchanged against it. Build one from arrays with
:func:`build_emulated_bus`; ``edge.simulated_hardware`` builds one from a recording.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from firmware_bridge.clock import Clock
from firmware_bridge.emulation.bus import EmulatedSMBus
from firmware_bridge.emulation.device import I2CDevice, RegisterDevice
from firmware_bridge.emulation.imu import Advance, EmulatedImu
from firmware_bridge.emulation.lsm6dsox import EmulatedLsm6dsox
from firmware_bridge.emulation.mpu6050 import EmulatedMpu6050
from firmware_bridge.emulation.replay import ImuNoise, ReplaySource
from firmware_bridge.emulation.tca9548a import EmulatedTCA9548A
from firmware_bridge.i2c_timing import FAST_MODE_HZ
from firmware_bridge.sensor_map import SensorMap, default_sensor_map

EMULATED_CHIPS: dict[str, type[EmulatedImu]] = {
    "mpu6050": EmulatedMpu6050,
    "lsm6dsox": EmulatedLsm6dsox,
}


@dataclass
class EmulatedHardware:
    """An emulated bus with its devices, ready for ``LockedBus(hw.smbus)``."""

    smbus: EmulatedSMBus
    mux: EmulatedTCA9548A | None
    imus: dict[str, EmulatedImu]
    source: ReplaySource
    sensor_map: SensorMap

    def device(self, name: str) -> EmulatedImu:
        """The emulated chip of sensor ``name`` (for fault injection)."""
        return self.imus[name]


def build_emulated_bus(
    imu: np.ndarray,
    names: Sequence[str],
    rate_hz: float,
    sensor_map: SensorMap | None = None,
    *,
    chip: str = "mpu6050",
    advance: Advance = "per_read",
    clock: Clock | None = None,
    bus_hz: float = FAST_MODE_HZ,
    advance_clock: bool = False,
    noise: ImuNoise | dict[str, ImuNoise] | None = None,
    seed: int = 0,
    temp_c: float = 31.0,
    hold_row: int = 0,
    loop: bool = True,
    clock_ppm: dict[str, float] | None = None,
) -> EmulatedHardware:
    """Emulated chips replaying ``imu`` (N, S, 6), segment axes, wired as ``sensor_map``.

    Each chip applies the inverse of its sensor's mounting so that driver output mapped
    through the same sensor map gives the replayed values back. Without a map, the
    default one (:func:`default_sensor_map` with ``chip``, names from ``names``) is used.
    ``clock_ppm`` gives chips an oscillator error (ppm, + fast) by sensor name.
    """
    source = ReplaySource(imu, names, rate_hz, loop=loop)
    if sensor_map is None:
        if len(names) != 7:
            raise ValueError(
                f"the default sensor map has 7 sensors, the data has {len(names)}: "
                "pass a sensor_map"
            )
        sensor_map = default_sensor_map(chip=chip, names=tuple(names))
    bus = EmulatedSMBus(bus_hz=bus_hz, clock=clock, advance_clock=advance_clock)
    mux = None
    if sensor_map.mux_address is not None:
        mux = bus.add_mux(EmulatedTCA9548A(sensor_map.mux_address))
    imus: dict[str, EmulatedImu] = {}
    for i, sensor in enumerate(sensor_map.sensors):
        n = noise.get(sensor.label) if isinstance(noise, dict) else noise
        dev = EMULATED_CHIPS[sensor.chip](
            sensor.address,
            source,
            sensor.label,
            sensor.mounting,
            advance=advance,
            clock=clock,
            temp_c=temp_c + 0.5 * i,
            noise=n,
            seed=seed + i,
            hold_row=hold_row,
            clock_ppm=(clock_ppm or {}).get(sensor.label, 0.0),
        )
        bus.attach(dev, sensor.channel)
        imus[sensor.label] = dev
    return EmulatedHardware(bus, mux, imus, source, sensor_map)


__all__ = [
    "EMULATED_CHIPS",
    "EmulatedHardware",
    "EmulatedImu",
    "EmulatedLsm6dsox",
    "EmulatedMpu6050",
    "EmulatedSMBus",
    "EmulatedTCA9548A",
    "I2CDevice",
    "ImuNoise",
    "RegisterDevice",
    "ReplaySource",
    "build_emulated_bus",
]
