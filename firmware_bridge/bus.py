"""One I2C bus behind a lock, with counters and typed errors.

``LockedBus`` wraps anything with the smbus2 ``SMBus`` methods (the real
``smbus2.SMBus(1)`` on a Pi, :class:`firmware_bridge.emulation.EmulatedSMBus` elsewhere).
The lock is re-entrant so a multiplexer switch and the read that follows can be made
atomic with ``with bus.locked():`` while each call still locks for itself.

Every ``OSError`` from the underlying bus becomes a :class:`BusError` carrying the
address, register and current multiplexer channel.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from smbus2 import i2c_msg

from firmware_bridge.errors import BusError

I2C_M_RD = 0x0001  # linux/i2c.h


class SMBusLike(Protocol):
    """The subset of ``smbus2.SMBus`` used here."""

    def write_byte(self, i2c_addr: int, value: int, force: bool | None = None) -> None: ...
    def read_byte(self, i2c_addr: int, force: bool | None = None) -> int: ...
    def write_byte_data(
        self, i2c_addr: int, register: int, value: int, force: bool | None = None
    ) -> None: ...
    def read_byte_data(self, i2c_addr: int, register: int, force: bool | None = None) -> int: ...
    def read_i2c_block_data(
        self, i2c_addr: int, register: int, length: int, force: bool | None = None
    ) -> list[int]: ...
    def i2c_rdwr(self, *i2c_msgs: i2c_msg) -> None: ...
    def close(self) -> None: ...


@dataclass(slots=True)
class BusStats:
    """Host-side counters (transactions = ioctl calls; bytes exclude address bytes)."""

    transactions: int = 0
    bytes_written: int = 0
    bytes_read: int = 0
    errors: int = 0


class LockedBus:
    """Thread-safe access to one I2C bus.

    Args:
        smbus: an ``smbus2.SMBus``-compatible object (owned: ``close`` closes it).
        name: label for logs (``"i2c-1"``, ``"emulated"``).
    """

    def __init__(self, smbus: SMBusLike, name: str = "i2c") -> None:
        self.smbus = smbus
        self.name = name
        self.stats = BusStats()
        self._lock = threading.RLock()
        #: Current multiplexer channel, set by the TCA9548A driver (for error messages).
        self.current_channel: int | None = None

    @contextmanager
    def locked(self) -> Iterator[LockedBus]:
        """Hold the bus across several transfers (mux select + burst read)."""
        with self._lock:
            yield self

    def _error(self, exc: OSError, op: str, addr: int, reg: int | None) -> BusError:
        self.stats.errors += 1
        if isinstance(exc, BusError):
            return exc
        return BusError(
            exc.errno,
            exc.strerror or str(exc),
            address=addr,
            register=reg,
            channel=self.current_channel,
            operation=op,
        )

    def write_byte(self, addr: int, value: int) -> None:
        """One byte without register (the TCA9548A control register)."""
        with self._lock:
            self.stats.transactions += 1
            try:
                self.smbus.write_byte(addr, value)
            except OSError as exc:
                raise self._error(exc, "write_byte", addr, None) from exc
            self.stats.bytes_written += 1

    def read_byte(self, addr: int) -> int:
        with self._lock:
            self.stats.transactions += 1
            try:
                value = self.smbus.read_byte(addr)
            except OSError as exc:
                raise self._error(exc, "read_byte", addr, None) from exc
            self.stats.bytes_read += 1
            return value

    def write_byte_data(self, addr: int, reg: int, value: int) -> None:
        with self._lock:
            self.stats.transactions += 1
            try:
                self.smbus.write_byte_data(addr, reg, value)
            except OSError as exc:
                raise self._error(exc, "write", addr, reg) from exc
            self.stats.bytes_written += 2

    def read_byte_data(self, addr: int, reg: int) -> int:
        with self._lock:
            self.stats.transactions += 1
            try:
                value = self.smbus.read_byte_data(addr, reg)
            except OSError as exc:
                raise self._error(exc, "read", addr, reg) from exc
            self.stats.bytes_written += 1
            self.stats.bytes_read += 1
            return value

    def read_i2c_block_data(self, addr: int, reg: int, length: int) -> list[int]:
        """Up to 32 bytes from ``reg`` on (SMBus block limit); use :meth:`read_into` beyond."""
        with self._lock:
            self.stats.transactions += 1
            try:
                data = self.smbus.read_i2c_block_data(addr, reg, length)
            except OSError as exc:
                raise self._error(exc, "block read", addr, reg) from exc
            self.stats.bytes_written += 1
            self.stats.bytes_read += length
            return data

    def i2c_rdwr(self, *msgs: Any) -> None:
        """Combined transfer (repeated START between messages, one STOP)."""
        with self._lock:
            self.stats.transactions += 1
            try:
                self.smbus.i2c_rdwr(*msgs)
            except OSError as exc:
                first = msgs[0] if msgs else None
                addr = int(first.addr) if first is not None else -1
                reg = None
                if first is not None and not first.flags & I2C_M_RD and first.len >= 1:
                    reg = ord(first.buf[0])
                raise self._error(exc, "i2c_rdwr", addr, reg) from exc
            for m in msgs:
                if m.flags & I2C_M_RD:
                    self.stats.bytes_read += m.len
                else:
                    self.stats.bytes_written += m.len

    def close(self) -> None:
        with self._lock:
            self.smbus.close()


class BurstReader:
    """A preallocated register-address write + read pair for one device.

    The same two ``i2c_msg`` objects and the same receive buffer are reused for every
    read, so the hot path allocates nothing but smbus2's ioctl struct. ``buffer`` is a
    ctypes char array (supports the buffer protocol: ``struct.unpack_from``,
    ``numpy.frombuffer``).
    """

    def __init__(self, address: int, register: int, length: int) -> None:
        import ctypes

        self.address = address
        self.register = register
        self.length = length
        self._tx = ctypes.create_string_buffer(bytes([register]), 1)
        self.buffer = ctypes.create_string_buffer(length)
        self.write_msg = i2c_msg(addr=address, flags=0, len=1, buf=self._tx)
        self.read_msg = i2c_msg(addr=address, flags=I2C_M_RD, len=length, buf=self.buffer)

    def read(self, bus: LockedBus) -> None:
        """Fill ``buffer`` with ``length`` bytes starting at ``register``."""
        bus.i2c_rdwr(self.write_msg, self.read_msg)


def read_into(bus: LockedBus, address: int, register: int, length: int) -> bytes:
    """Read ``length`` bytes (any length, one combined transfer) starting at ``register``."""
    w = i2c_msg.write(address, [register])
    r = i2c_msg.read(address, length)
    bus.i2c_rdwr(w, r)
    return bytes(r)
