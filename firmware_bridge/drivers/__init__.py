"""IMU chip drivers behind one protocol (:class:`ImuDriver`)."""

from __future__ import annotations

from firmware_bridge.drivers.base import (
    BaseImuDriver,
    ImuConfig,
    ImuDriver,
    ImuSample,
    SelfTestResult,
)
from firmware_bridge.drivers.lsm6dsox import Lsm6dsox
from firmware_bridge.drivers.mpu6050 import Mpu6050

#: chip name (as in the sensor map) → driver class
DRIVERS: dict[str, type[BaseImuDriver]] = {"mpu6050": Mpu6050, "lsm6dsox": Lsm6dsox}

__all__ = [
    "DRIVERS",
    "BaseImuDriver",
    "ImuConfig",
    "ImuDriver",
    "ImuSample",
    "Lsm6dsox",
    "Mpu6050",
    "SelfTestResult",
]
