"""TCA9548A 8-channel I2C multiplexer (TI datasheet SCPS207, §8.5 "Control register").

The control register is the device's only register and has no register address: a
single-byte write sets the channel mask (bit n connects downstream channel n), a
single-byte read returns it. Power-on and the active-low RESET pin clear it (no channel
connected). Address 0x70 + A2..A0 (0x70..0x77).
"""

from __future__ import annotations

import logging

from firmware_bridge.bus import LockedBus
from firmware_bridge.errors import WIRING_HINT, BusError, WiringError

log = logging.getLogger(__name__)

DEFAULT_ADDRESS = 0x70
ADDRESSES = tuple(range(0x70, 0x78))
N_CHANNELS = 8


class TCA9548A:
    """Select one downstream channel at a time.

    The last written mask is cached so consecutive accesses to the same channel cost no
    extra write; any bus error invalidates the cache (the state is then unknown).
    """

    def __init__(self, bus: LockedBus, address: int = DEFAULT_ADDRESS) -> None:
        if address not in ADDRESSES:
            raise ValueError(f"TCA9548A address must be 0x70..0x77, got 0x{address:02X}")
        self.bus = bus
        self.address = address
        self._mask: int | None = None  # None = unknown

    def select(self, channel: int) -> None:
        """Connect only ``channel`` (0..7). Call while holding ``bus.locked()``."""
        mask = 1 << channel
        if self._mask == mask:
            self.bus.current_channel = channel
            return
        if not 0 <= channel < N_CHANNELS:
            raise ValueError(f"TCA9548A channel must be 0..7, got {channel}")
        try:
            self.bus.write_byte(self.address, mask)
        except BusError:
            self._mask = None
            self.bus.current_channel = None
            raise
        self._mask = mask
        self.bus.current_channel = channel

    def disable_all(self) -> None:
        """Disconnect every channel."""
        try:
            self.bus.write_byte(self.address, 0)
        except BusError:
            self.invalidate()
            raise
        self._mask = 0
        self.bus.current_channel = None

    def read_mask(self) -> int:
        """Read the control register back (bit n = channel n connected)."""
        return self.bus.read_byte(self.address)

    def invalidate(self) -> None:
        """Forget the cached mask (after a reset pulse or a bus error)."""
        self._mask = None
        self.bus.current_channel = None

    def probe(self) -> None:
        """Check the multiplexer answers and keeps a written mask; raise ``WiringError``."""
        try:
            with self.bus.locked():
                self.bus.write_byte(self.address, 0)
                back = self.bus.read_byte(self.address)
        except BusError as exc:
            self.invalidate()
            raise WiringError(
                f"no TCA9548A multiplexer answers at 0x{self.address:02X} ({exc}); "
                f"{WIRING_HINT}; A0..A2 set the address 0x70..0x77"
            ) from exc
        self._mask = 0
        if back != 0:
            raise WiringError(
                f"device at 0x{self.address:02X} does not behave like a TCA9548A "
                f"(wrote 0x00, read 0x{back:02X}); {WIRING_HINT}"
            )
