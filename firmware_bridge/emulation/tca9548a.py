"""Emulated TCA9548A: one control register, no register address (TI SCPS207 §8.5)."""

from __future__ import annotations

from firmware_bridge.emulation.device import I2CDevice
from firmware_bridge.tca9548a import DEFAULT_ADDRESS


class EmulatedTCA9548A(I2CDevice):
    """Channel mask written by a 1-byte write (the last byte wins), read back by a read."""

    def __init__(self, address: int = DEFAULT_ADDRESS) -> None:
        super().__init__(address)
        self.mask = 0
        self.writes = 0

    def write(self, data: bytes) -> None:
        if data:
            self.mask = data[-1]
            self.writes += 1

    def read(self, n: int) -> bytes:
        return bytes([self.mask]) * n

    def power_on_reset(self) -> None:
        self.mask = 0

    def hardware_reset(self) -> None:
        """A low pulse on the RESET pin: every channel disconnected."""
        self.mask = 0
