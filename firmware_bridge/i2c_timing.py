"""Bit-level cost of I2C transfers, for the bench and for emulated bus time.

Model (NXP UM10204, I2C-bus specification, §3.1): every byte on the wire is 8 data bits
plus 1 ACK/NACK bit = 9 clock periods; every message starts with a START (or a repeated
START, Sr) and its 7-bit address byte + R/W bit (9 periods); a transfer ends with one
STOP. START, Sr and STOP are counted as one clock period each: at 400 kHz (Fast-mode)
t_HD;STA + t_SU;STA = 1.2 µs and t_SU;STO + t_BUF = 1.9 µs, i.e. about 0.5 to 0.8 of a
2.5 µs period, so one period each is slightly conservative.

Not modelled: clock stretching by the slave, and the host's gap between ioctl calls
(Linux i2c-dev + driver latency), which only a measurement on the Pi can give.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

BITS_PER_BYTE = 9  # 8 data + ACK
START_BITS = 1  # START or repeated START
STOP_BITS = 1
FAST_MODE_HZ = 400_000


def transfer_bits(messages: Iterable[tuple[bool, int]]) -> int:
    """Clock periods for one combined transfer.

    Args:
        messages: ``(is_read, n_data_bytes)`` per message, in order; a single SMBus
            "read block" is ``[(False, 1), (True, n)]`` (register write, Sr, read).
    """
    bits = 0
    for _is_read, n in messages:
        bits += START_BITS + BITS_PER_BYTE * (1 + n)
    return bits + STOP_BITS


def nack_bits() -> int:
    """Clock periods of an address that nobody acknowledged (START, address, STOP)."""
    return START_BITS + BITS_PER_BYTE + STOP_BITS


@dataclass(slots=True)
class WireTraffic:
    """Counters of what went over the wire (kept by the emulated bus)."""

    transfers: int = 0
    messages: int = 0
    address_bytes: int = 0
    data_bytes: int = 0
    bits: int = 0
    nacks: int = 0
    timeouts: int = 0

    def reset(self) -> None:
        self.transfers = self.messages = self.address_bytes = 0
        self.data_bytes = self.bits = self.nacks = self.timeouts = 0

    def snapshot(self) -> WireTraffic:
        return WireTraffic(
            self.transfers,
            self.messages,
            self.address_bytes,
            self.data_bytes,
            self.bits,
            self.nacks,
            self.timeouts,
        )

    def minus(self, earlier: WireTraffic) -> WireTraffic:
        return WireTraffic(
            self.transfers - earlier.transfers,
            self.messages - earlier.messages,
            self.address_bytes - earlier.address_bytes,
            self.data_bytes - earlier.data_bytes,
            self.bits - earlier.bits,
            self.nacks - earlier.nacks,
            self.timeouts - earlier.timeouts,
        )

    @property
    def wire_bytes(self) -> int:
        """Bytes on the wire including address bytes (each costs 9 clock periods)."""
        return self.address_bytes + self.data_bytes

    def seconds_at(self, bus_hz: float = FAST_MODE_HZ) -> float:
        """Bus time of these transfers at SCL frequency ``bus_hz``."""
        return self.bits / bus_hz
